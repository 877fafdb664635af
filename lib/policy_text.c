/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text forms of policy values: prefixes and addresses, TCP flag sets, names;
 * and the small value checks the decoder and the validator share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy_internal.h"

static unsigned int
family_bits(uint8_t family)
{
	return family == SL_FAMILY_IPV4 ? 32 : 128;
}

int
sl_prefix_from_string(const char *s, struct sl_prefix *out, char *msg,
		      size_t msg_size)
{
	char buf[SL_POLICY_MSG_MAX];

	return sl_prefix_parse(s, SL_PREFIX_NETWORK, out,
			       msg != NULL ? msg : buf,
			       msg != NULL ? msg_size : sizeof(buf));
}

int
sl_prefix_parse(const char *s, enum sl_prefix_mode mode, struct sl_prefix *out,
		char *msg, size_t msg_size)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	struct sl_prefix p = { 0 };
	unsigned int max, len;

	if (alen == 0 || alen >= sizeof(addr))
		goto bad_addr;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	p.family = strchr(addr, ':') != NULL ? SL_FAMILY_IPV6 : SL_FAMILY_IPV4;
	if (inet_pton(p.family == SL_FAMILY_IPV4 ? AF_INET : AF_INET6, addr,
		      p.addr) != 1)
		goto bad_addr;
	max = family_bits(p.family);

	if (slash != NULL) {
		const char *d = slash + 1;

		if (mode == SL_PREFIX_HOST) {
			snprintf(msg, msg_size,
				 "\"%.60s\": expected an address without a prefix length",
				 s);
			return -EINVAL;
		}
		len = 0;
		if (*d == '\0' || strlen(d) > 3)
			goto bad_len;
		for (; *d != '\0'; d++) {
			if (*d < '0' || *d > '9')
				goto bad_len;
			len = len * 10 + (unsigned int)(*d - '0');
		}
		if (len > max)
			goto bad_len;
		if (mode == SL_PREFIX_INTERFACE && len == 0) {
			snprintf(msg, msg_size,
				 "\"%.60s\": an interface address needs a prefix length of at least 1",
				 s);
			return -EINVAL;
		}
	} else {
		if (mode == SL_PREFIX_INTERFACE) {
			snprintf(msg, msg_size,
				 "\"%.60s\": an interface address needs a prefix length (\"%s/%u\")",
				 s, addr, max == 32 ? 24u : 64u);
			return -EINVAL;
		}
		len = max;
	}
	p.len = (uint8_t)len;

	if (mode == SL_PREFIX_NETWORK && sl_prefix_host_bits(&p)) {
		struct sl_prefix net;
		char nbuf[SL_PREFIX_STRLEN];

		sl_prefix_network(&p, &net);
		snprintf(msg, msg_size,
			 "host bits set in %.60s (the network is %s)", s,
			 sl_prefix_format(&net, true, nbuf));
		return -EINVAL;
	}
	*out = p;
	return 0;

bad_addr:
	snprintf(msg, msg_size, "\"%.60s\" is not an IPv4 or IPv6 address%s", s,
		 mode == SL_PREFIX_HOST ? "" : " or prefix");
	return -EINVAL;
bad_len:
	snprintf(msg, msg_size, "\"%.60s\": prefix length must be 0-%u", s, max);
	return -EINVAL;
}

bool
sl_prefix_host_bits(const struct sl_prefix *p)
{
	struct sl_prefix net;

	sl_prefix_network(p, &net);
	return memcmp(net.addr, p->addr, sizeof(p->addr)) != 0;
}

void
sl_prefix_network(const struct sl_prefix *p, struct sl_prefix *out)
{
	unsigned int max = family_bits(p->family);
	unsigned int len = p->len < max ? p->len : max;

	*out = *p;
	for (unsigned int i = 0; i < sizeof(out->addr); i++) {
		unsigned int bit = i * 8;

		if (bit >= len)
			out->addr[i] = 0;
		else if (bit + 8 > len)
			out->addr[i] &= (uint8_t)(0xff << (8 - (len - bit)));
	}
}

bool
sl_prefix_equal(const struct sl_prefix *a, const struct sl_prefix *b)
{
	return sl_prefix_cmp(a, b) == 0;
}

int
sl_prefix_cmp(const struct sl_prefix *a, const struct sl_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->family == SL_FAMILY_NONE)
		return 0;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	return c < 0 ? -1 : c > 0;
}

char *
sl_prefix_format(const struct sl_prefix *p, bool with_len, char *buf)
{
	char addr[INET6_ADDRSTRLEN];

	if (p->family != SL_FAMILY_IPV4 && p->family != SL_FAMILY_IPV6) {
		snprintf(buf, SL_PREFIX_STRLEN, "none");
		return buf;
	}
	inet_ntop(p->family == SL_FAMILY_IPV4 ? AF_INET : AF_INET6, p->addr,
		  addr, sizeof(addr));
	if (with_len)
		snprintf(buf, SL_PREFIX_STRLEN, "%s/%u", addr, p->len);
	else
		snprintf(buf, SL_PREFIX_STRLEN, "%s", addr);
	return buf;
}

static size_t
flag_list(uint8_t bits, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct sl_name_value *e = sl_tcp_flag_names; e->name != NULL;
	     e++) {
		if ((bits & e->value) == 0 || n >= size)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? "," : "",
				      e->name);
	}
	return n < size ? n : size - 1;
}

void
sl_tcp_flags_format(uint8_t flags, uint8_t mask, char *buf, size_t size)
{
	size_t n = flag_list(flags, buf, size);

	if (n + 1 < size) {
		buf[n] = '/';
		flag_list(mask, buf + n + 1, size - n - 1);
	}
}

bool
sl_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; d <= n / d; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

bool
sl_name_valid(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

bool
sl_utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u != '\0') {
		unsigned int c = *u, n, cp;

		if (c < 0x80) {
			u++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned int i = 1; i <= n; i++) {
			if ((u[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (u[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		u += n + 1;
	}
	return true;
}
