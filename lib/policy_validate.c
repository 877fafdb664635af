/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Whole-model checks: every invariant of a policy, including those the
 * decoder already enforces on each value (a model built in code has been
 * through no decoder), references between sections, duplicates, and fields
 * that exclude or need each other.  docs/policy.md lists each rule.
 *
 * Errors carry a path and no position; the loader finds the position of
 * the path in the source document.  Duplicates are found by sorting, so a
 * policy of 100k rules is checked in O(n log n).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define NONE SIZE_MAX

struct val {
	const struct sl_policy *p;
	struct sl_policy_errors *errs;
	struct sl_path path;
	unsigned int skip;	/* SL_BROKEN_*: skip references into those */
	int rc;
};

static void
verr(struct val *v, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An error at the current path, or at ".field" below it. */
static void
verr(struct val *v, const char *field, const char *fmt, ...)
{
	size_t old = v->path.len;
	va_list ap;

	if (field != NULL)
		sl_path_push_key(&v->path, field);
	va_start(ap, fmt);
	sl_err_vadd(v->errs, v->path.buf, 0, 0, fmt, ap);
	va_end(ap);
	sl_path_pop(&v->path, old);
}

/* ------------------------------------------------------------------------
 * Duplicates: first[i] is the index of the first item with the same key as
 * item i, or NONE.
 */

struct dup_sort {
	const char *keys;
	size_t size;
	int (*cmp)(const void *a, const void *b);
};

static int
dup_cmp(const void *a, const void *b, void *arg)
{
	const struct dup_sort *ds = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = ds->cmp(ds->keys + ia * ds->size, ds->keys + ib * ds->size);

	if (c != 0)
		return c;
	return ia < ib ? -1 : ia > ib;
}

/* absent(key) true: the key takes no part.  Returns NULL on ENOMEM. */
static size_t *
find_dups(const void *keys, size_t n, size_t size,
	  int (*cmp)(const void *, const void *), bool (*absent)(const void *))
{
	struct dup_sort ds = { keys, size, cmp };
	size_t *order = malloc((n != 0 ? n : 1) * sizeof(size_t));
	size_t *first = malloc((n != 0 ? n : 1) * sizeof(size_t));

	if (order == NULL || first == NULL) {
		free(order);
		free(first);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		first[i] = NONE;
	}
	qsort_r(order, n, sizeof(size_t), dup_cmp, &ds);
	for (size_t i = 1; i < n; i++) {
		const char *a = ds.keys + order[i - 1] * size;
		const char *b = ds.keys + order[i] * size;

		if (absent(b) || cmp(a, b) != 0)
			continue;
		first[order[i]] = first[order[i - 1]] != NONE ?
			first[order[i - 1]] : order[i - 1];
	}
	free(order);
	return first;
}

static int
str_key_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	if (x == NULL || y == NULL)
		return (y == NULL) - (x == NULL);
	return strcmp(x, y);
}

static bool
str_key_absent(const void *k)
{
	return *(const char *const *)k == NULL;
}

/* Duplicates among a string member of each item (NULL strings ignored). */
static size_t *
find_dup_strings(struct val *v, const void *items, size_t n, size_t size,
		 size_t offset)
{
	const char **keys = malloc((n != 0 ? n : 1) * sizeof(char *));
	size_t *first;

	if (keys == NULL) {
		v->rc = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		keys[i] = *(char *const *)((const char *)items + i * size + offset);
	first = find_dups(keys, n, sizeof(char *), str_key_cmp, str_key_absent);
	free(keys);
	if (first == NULL)
		v->rc = -ENOMEM;
	return first;
}

static int
prefix_key_cmp(const void *a, const void *b)
{
	return sl_prefix_cmp(a, b);
}

static bool
prefix_key_absent(const void *k)
{
	return ((const struct sl_prefix *)k)->family == SL_FAMILY_NONE;
}

/* ------------------------------------------------------------------------
 * Values
 */

static const char *
family_name(uint8_t family)
{
	return family == SL_FAMILY_IPV4 ? "IPv4" : "IPv6";
}

/* A prefix of a known family with a length in range. */
static bool
check_prefix_shape(struct val *v, const char *field, const struct sl_prefix *p)
{
	unsigned int max = p->family == SL_FAMILY_IPV4 ? 32 : 128;

	if (p->family != SL_FAMILY_IPV4 && p->family != SL_FAMILY_IPV6) {
		verr(v, field, "address family %u is neither IPv4 nor IPv6",
		     p->family);
		return false;
	}
	if (p->len > max) {
		verr(v, field, "prefix length %u is out of range 0-%u", p->len,
		     max);
		return false;
	}
	if (p->family == SL_FAMILY_IPV4 &&
	    memcmp(p->addr + 4, (const uint8_t[12]){ 0 }, 12) != 0) {
		verr(v, field, "an IPv4 address uses bytes 0-3 only");
		return false;
	}
	return true;
}

static void
check_network(struct val *v, const char *field, const struct sl_prefix *p)
{
	char buf[SL_PREFIX_STRLEN], net_buf[SL_PREFIX_STRLEN];
	struct sl_prefix net;

	if (!check_prefix_shape(v, field, p))
		return;
	if (sl_prefix_host_bits(p)) {
		sl_prefix_network(p, &net);
		verr(v, field, "host bits set in %s (the network is %s)",
		     sl_prefix_format(p, true, buf),
		     sl_prefix_format(&net, true, net_buf));
	}
}

static void
check_host(struct val *v, const char *field, const struct sl_prefix *p)
{
	if (!check_prefix_shape(v, field, p))
		return;
	if (p->len != (p->family == SL_FAMILY_IPV4 ? 32 : 128))
		verr(v, field, "expected a host address, not a /%u prefix",
		     p->len);
}

static void
check_text(struct val *v, const char *field, const char *s, size_t max,
	   const char *what)
{
	if (strlen(s) > max)
		verr(v, field, "%s is longer than %zu bytes", what, max);
	else if (!sl_utf8_valid(s))
		verr(v, field, "%s is not valid UTF-8", what);
}

static void
check_name(struct val *v, const char *field, const char *name, size_t max,
	   const char *what)
{
	if (!sl_name_valid(name, max))
		verr(v, field,
		     "\"%.70s\" is not a valid %s (1-%zu letters, digits, '_', '.' or '-', starting with a letter or digit)",
		     name, what, max);
}

/* ------------------------------------------------------------------------
 * Sections
 */

static void
check_settings(struct val *v)
{
	const struct sl_settings *s = &v->p->settings;
	size_t old = sl_path_push_key(&v->path, "settings.conntrack");

	if (s->ct_size < SL_POLICY_CT_SIZE_MIN || s->ct_size > SL_POLICY_CT_SIZE_MAX)
		verr(v, "size", "%u is out of range %u-%u", s->ct_size,
		     SL_POLICY_CT_SIZE_MIN, SL_POLICY_CT_SIZE_MAX);
	sl_path_push_key(&v->path, "timeouts");
#define SL_CT_TIMEOUT_CHECK_(name, dflt)                                       \
	if (s->ct_timeouts.name < 1 ||                                         \
	    s->ct_timeouts.name > SL_POLICY_TIMEOUT_MAX)                       \
		verr(v, #name, "%u is out of range 1-%u", s->ct_timeouts.name, \
		     SL_POLICY_TIMEOUT_MAX);
	SL_CT_TIMEOUTS(SL_CT_TIMEOUT_CHECK_)
#undef SL_CT_TIMEOUT_CHECK_
	sl_path_pop(&v->path, old);

	old = sl_path_push_key(&v->path, "settings.routing");
	if (s->rt_icmp_errors > SL_POLICY_ICMP_ERRORS_MAX)
		verr(v, "icmp_errors", "%u is out of range 0-%u",
		     s->rt_icmp_errors, SL_POLICY_ICMP_ERRORS_MAX);
	if (s->rt_max_routes_ipv4 < SL_POLICY_ROUTES_MIN ||
	    s->rt_max_routes_ipv4 > SL_POLICY_ROUTES_V4_MAX)
		verr(v, "max_routes_ipv4", "%u is out of range %u-%u",
		     s->rt_max_routes_ipv4, SL_POLICY_ROUTES_MIN,
		     SL_POLICY_ROUTES_V4_MAX);
	if (s->rt_max_routes_ipv6 < SL_POLICY_ROUTES_MIN ||
	    s->rt_max_routes_ipv6 > SL_POLICY_ROUTES_V6_MAX)
		verr(v, "max_routes_ipv6", "%u is out of range %u-%u",
		     s->rt_max_routes_ipv6, SL_POLICY_ROUTES_MIN,
		     SL_POLICY_ROUTES_V6_MAX);
	sl_path_pop(&v->path, old);
}

struct addr_key {
	uint8_t family;
	uint8_t addr[16];
	size_t port, index;
};

static int
addr_key_cmp(const void *a, const void *b)
{
	const struct addr_key *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static bool
addr_key_absent(const void *k)
{
	return ((const struct addr_key *)k)->family == SL_FAMILY_NONE;
}

static bool
dpdk_key_absent(const void *k)
{
	return *(const uint32_t *)k == UINT32_MAX;
}

static int
u32_key_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* An interface address may sit on one port only. */
static void
check_port_addresses(struct val *v)
{
	const struct sl_policy *p = v->p;
	struct addr_key *keys;
	size_t n = 0, *first;

	for (size_t i = 0; i < p->n_ports; i++)
		n += p->ports[i].n_addrs;
	keys = calloc(n != 0 ? n : 1, sizeof(*keys));
	if (keys == NULL) {
		v->rc = -ENOMEM;
		return;
	}
	n = 0;
	for (size_t i = 0; i < p->n_ports; i++) {
		for (size_t j = 0; j < p->ports[i].n_addrs; j++, n++) {
			const struct sl_prefix *a = &p->ports[i].addrs[j];

			if (a->family == SL_FAMILY_IPV4 ||
			    a->family == SL_FAMILY_IPV6) {
				keys[n].family = a->family;
				memcpy(keys[n].addr, a->addr, sizeof(a->addr));
			}
			keys[n].port = i;
			keys[n].index = j;
		}
	}
	first = find_dups(keys, n, sizeof(*keys), addr_key_cmp, addr_key_absent);
	if (first == NULL) {
		v->rc = -ENOMEM;
		free(keys);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		char buf[SL_PREFIX_STRLEN];
		size_t old;

		if (first[k] == NONE)
			continue;
		old = sl_path_push_key(&v->path, "ports");
		sl_path_push_index(&v->path, keys[k].port);
		sl_path_push_key(&v->path, "addresses");
		sl_path_push_index(&v->path, keys[k].index);
		verr(v, NULL, "address %s is also at ports[%zu].addresses[%zu]",
		     sl_prefix_format(&p->ports[keys[k].port].addrs[keys[k].index],
				      false, buf),
		     keys[first[k]].port, keys[first[k]].index);
		sl_path_pop(&v->path, old);
	}
	free(first);
	free(keys);
}

static void
check_ports(struct val *v)
{
	const struct sl_policy *p = v->p;
	size_t *name_first, *dev_first = NULL, *id_first = NULL;
	uint32_t *ids;

	name_first = find_dup_strings(v, p->ports, p->n_ports, sizeof(*p->ports),
				      offsetof(struct sl_port, name));
	if (name_first != NULL)
		dev_first = find_dup_strings(v, p->ports, p->n_ports,
					     sizeof(*p->ports),
					     offsetof(struct sl_port, devargs));
	ids = malloc((p->n_ports != 0 ? p->n_ports : 1) * sizeof(*ids));
	if (ids != NULL) {
		for (size_t i = 0; i < p->n_ports; i++)
			ids[i] = p->ports[i].has_dpdk_port ? p->ports[i].dpdk_port :
							     UINT32_MAX;
		id_first = find_dups(ids, p->n_ports, sizeof(*ids), u32_key_cmp,
				     dpdk_key_absent);
		free(ids);
	}
	if (name_first == NULL || dev_first == NULL || id_first == NULL) {
		v->rc = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < p->n_ports; i++) {
		const struct sl_port *port = &p->ports[i];
		size_t old = sl_path_push_key(&v->path, "ports");

		sl_path_push_index(&v->path, i);
		if (port->name == NULL)
			verr(v, "name", "a port needs a name");
		else
			check_name(v, "name", port->name, SL_POLICY_PORT_NAME_MAX,
				   "port name");
		if (name_first[i] != NONE)
			verr(v, "name", "port name \"%s\" is also used by ports[%zu]",
			     port->name, name_first[i]);
		if (port->has_dpdk_port && port->dpdk_port > SL_POLICY_DPDK_PORT_MAX)
			verr(v, "dpdk_port", "%u is out of range 0-%u",
			     port->dpdk_port, SL_POLICY_DPDK_PORT_MAX);
		if (id_first[i] != NONE)
			verr(v, "dpdk_port",
			     "DPDK port %u is also used by ports[%zu]",
			     port->dpdk_port, id_first[i]);
		if (port->devargs != NULL) {
			if (port->devargs[0] == '\0')
				verr(v, "devargs", "devargs is empty");
			check_text(v, "devargs", port->devargs,
				   SL_POLICY_DEVARGS_MAX, "devargs");
			if (port->has_dpdk_port)
				verr(v, "devargs",
				     "a port takes dpdk_port or devargs, not both");
			if (dev_first[i] != NONE)
				verr(v, "devargs",
				     "devargs \"%.60s\" are also used by ports[%zu]",
				     port->devargs, dev_first[i]);
		}
		switch (port->mode) {
		case SL_PORT_MODE_ROUTE:
			if (port->peer != NULL)
				verr(v, "peer",
				     "peer applies only to mode xconnect");
			break;
		case SL_PORT_MODE_XCONNECT:
			if (port->peer == NULL) {
				verr(v, "peer",
				     "mode xconnect needs a peer port");
			} else if (port->name != NULL &&
				   strcmp(port->peer, port->name) == 0) {
				verr(v, "peer", "a port cannot be its own peer");
			} else if (!(v->skip & SL_BROKEN_PORTS) &&
				   sl_policy_find_port(p, port->peer) < 0) {
				verr(v, "peer", "unknown port \"%.60s\"",
				     port->peer);
			}
			if (port->n_addrs > 0)
				verr(v, "addresses",
				     "an xconnect port takes no addresses (it does not route)");
			break;
		default:
			verr(v, "mode", "unknown port mode %u", port->mode);
			break;
		}
		if (port->n_addrs > SL_POLICY_ADDRS_MAX)
			verr(v, "addresses", "more than %d addresses",
			     SL_POLICY_ADDRS_MAX);
		for (size_t j = 0; j < port->n_addrs; j++) {
			const struct sl_prefix *a = &port->addrs[j];
			size_t o2 = sl_path_push_key(&v->path, "addresses");

			sl_path_push_index(&v->path, j);
			if (check_prefix_shape(v, NULL, a) && a->len == 0)
				verr(v, NULL,
				     "an interface address needs a prefix length of at least 1");
			sl_path_pop(&v->path, o2);
		}
		sl_path_pop(&v->path, old);
	}
	check_port_addresses(v);
out:
	free(name_first);
	free(dev_first);
	free(id_first);
}

static void
check_action(struct val *v, const struct sl_action *a)
{
	const char *kind;
	size_t old;
	int g;

	switch (a->type) {
	case SL_ACTION_ACCEPT:
	case SL_ACTION_DROP:
		return;
	case SL_ACTION_REPLICATE:
	case SL_ACTION_STEER:
		break;
	case SL_ACTION_NONE:
		verr(v, NULL, "an action is required");
		return;
	default:
		verr(v, NULL, "unknown action %u", a->type);
		return;
	}
	kind = sl_action_name(a->type);
	old = sl_path_push_key(&v->path, kind);
	if (a->group == NULL) {
		verr(v, "group", "%s needs a group", kind);
	} else {
		g = sl_policy_find_group(v->p, a->group);
		if (g < 0 && !(v->skip & SL_BROKEN_GROUPS)) {
			verr(v, "group", "unknown group \"%.60s\"", a->group);
		} else if (g >= 0 && a->type == SL_ACTION_REPLICATE &&
			   a->copies > v->p->groups[g].n_targets &&
			   v->p->groups[g].n_targets > 0 &&
			   !v->p->groups[g].cluster) {
			verr(v, "copies",
			     "%u copies but group \"%s\" has %zu target%s",
			     a->copies, a->group, v->p->groups[g].n_targets,
			     v->p->groups[g].n_targets == 1 ? "" : "s");
		}
	}
	if (a->type == SL_ACTION_REPLICATE &&
	    (a->copies < 1 || a->copies > SL_POLICY_COPIES_MAX))
		verr(v, "copies", "%u is out of range 1-%u", a->copies,
		     SL_POLICY_COPIES_MAX);
	sl_path_pop(&v->path, old);
}

static bool
proto_has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

static void
check_ports_field(struct val *v, const struct sl_match *m, const char *field,
		  const struct sl_port_range *r)
{
	if (r->lo > r->hi)
		verr(v, field,
		     "port range %u-%u is upside down (from must not exceed to)",
		     r->lo, r->hi);
	if (!(m->fields & SL_MATCH_PROTO)) {
		verr(v, field, "%s needs proto tcp, udp or sctp", field);
	} else if (!proto_has_ports(m->proto)) {
		const char *name = sl_proto_name(m->proto);

		if (name != NULL)
			verr(v, field,
			     "%s needs proto tcp, udp or sctp (proto is %s)",
			     field, name);
		else
			verr(v, field,
			     "%s needs proto tcp, udp or sctp (proto is %u)",
			     field, m->proto);
	}
}

static void
check_payload(struct val *v, const struct sl_payload *pl)
{
	const char *kind = pl->kind == SL_PAYLOAD_REGEX ? "regex" : "literal";
	size_t old = sl_path_push_key(&v->path, "payload");

	if (pl->kind != SL_PAYLOAD_LITERAL && pl->kind != SL_PAYLOAD_REGEX) {
		verr(v, NULL, "payload needs literal or regex");
		goto out;
	}
	if (pl->pattern == NULL || pl->pattern[0] == '\0')
		verr(v, kind, "the payload %s is empty", kind);
	else
		check_text(v, kind, pl->pattern, SL_POLICY_PAYLOAD_MAX,
			   "the pattern");
	if (pl->flags & ~(SL_PAYLOAD_CASELESS | SL_PAYLOAD_DOTALL |
			  SL_PAYLOAD_MULTILINE | SL_PAYLOAD_UTF8 |
			  SL_PAYLOAD_UCP))
		verr(v, "flags", "unknown payload flag bits 0x%x", pl->flags);
	if (pl->kind == SL_PAYLOAD_LITERAL) {
		for (uint8_t bit = SL_PAYLOAD_DOTALL; bit <= SL_PAYLOAD_UCP;
		     bit <<= 1)
			if (pl->flags & bit)
				verr(v, "flags",
				     "flag %s applies to regex only (a literal takes caseless)",
				     sl_payload_flag_name(bit));
	} else if ((pl->flags & SL_PAYLOAD_UCP) &&
		   !(pl->flags & SL_PAYLOAD_UTF8)) {
		verr(v, "flags", "flag ucp needs utf8");
	}
out:
	sl_path_pop(&v->path, old);
}

static void
check_match(struct val *v, const struct sl_match *m)
{
	const struct sl_settings *s = &v->p->settings;
	uint8_t family = SL_FAMILY_NONE;
	const char *family_field = NULL;

	if (m->fields & SL_MATCH_SRC) {
		check_network(v, "src", &m->src);
		family = m->src.family;
		family_field = "src";
	}
	if (m->fields & SL_MATCH_DST) {
		check_network(v, "dst", &m->dst);
		if (family != SL_FAMILY_NONE && m->dst.family != family &&
		    (m->dst.family == SL_FAMILY_IPV4 ||
		     m->dst.family == SL_FAMILY_IPV6))
			verr(v, "dst", "dst is %s but src is %s",
			     family_name(m->dst.family), family_name(family));
		if (family == SL_FAMILY_NONE) {
			family = m->dst.family;
			family_field = "dst";
		}
	}
	if ((m->fields & SL_MATCH_PROTO) && family_field != NULL) {
		if (m->proto == 1 && family == SL_FAMILY_IPV6)
			verr(v, "proto",
			     "proto icmp is IPv4 only, but %s is IPv6 (use icmpv6)",
			     family_field);
		else if (m->proto == 58 && family == SL_FAMILY_IPV4)
			verr(v, "proto",
			     "proto icmpv6 is IPv6 only, but %s is IPv4 (use icmp)",
			     family_field);
	}
	if (m->fields & SL_MATCH_SPORT)
		check_ports_field(v, m, "sport", &m->sport);
	if (m->fields & SL_MATCH_DPORT)
		check_ports_field(v, m, "dport", &m->dport);
	if (m->fields & SL_MATCH_IN_PORT) {
		if (m->in_port == NULL)
			verr(v, "in_port", "in_port names no port");
		else if (!(v->skip & SL_BROKEN_PORTS) &&
			 sl_policy_find_port(v->p, m->in_port) < 0)
			verr(v, "in_port", "unknown port \"%.60s\"", m->in_port);
	}
	if ((m->fields & SL_MATCH_VLAN) && m->vlan > 4095)
		verr(v, "vlan", "%u is out of range 0-4095", m->vlan);
	if (m->fields & SL_MATCH_TCP_FLAGS) {
		uint8_t extra = m->tcp_flags & (uint8_t)~m->tcp_flags_mask;

		if (!(m->fields & SL_MATCH_PROTO) || m->proto != 6)
			verr(v, "tcp_flags", "tcp_flags needs proto tcp");
		if (m->tcp_flags_mask == 0) {
			verr(v, "tcp_flags", "the mask of tcp_flags is empty");
		} else if (extra != 0) {
			char buf[64];

			sl_tcp_flags_format(extra, 0, buf, sizeof(buf));
			buf[strcspn(buf, "/")] = '\0';
			verr(v, "tcp_flags",
			     "%s must be set but is not in the mask", buf);
		}
	}
	if (m->fields & SL_MATCH_CT) {
		if (m->ct == 0 || (m->ct & ~SL_CT_ALL))
			verr(v, "ct", "ct must list one or more of new, established, related, invalid");
		else if (!s->ct_enabled)
			verr(v, "ct",
			     "ct needs connection tracking (settings.conntrack.enabled)");
	}
	if (m->fields & SL_MATCH_PAYLOAD)
		check_payload(v, &m->payload);
}

static void
check_rules(struct val *v)
{
	const struct sl_policy *p = v->p;
	size_t *id_first = find_dup_strings(v, p->rules, p->n_rules,
					    sizeof(*p->rules),
					    offsetof(struct sl_rule, id));

	if (id_first == NULL)
		return;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct sl_rule *r = &p->rules[i];
		size_t old = sl_path_push_key(&v->path, "rules");

		sl_path_push_index(&v->path, i);
		if (r->id == NULL)
			verr(v, "id", "a rule needs an id");
		else
			check_name(v, "id", r->id, SL_POLICY_NAME_MAX, "rule id");
		if (id_first[i] != NONE) {
			if (strncmp(r->id, SL_POLICY_AUTO_ID_PREFIX,
				    strlen(SL_POLICY_AUTO_ID_PREFIX)) == 0)
				verr(v, "id",
				     "same match and action as rules[%zu], so the same automatic id \"%s\": remove one or give it an id",
				     id_first[i], r->id);
			else
				verr(v, "id", "id \"%s\" is also used by rules[%zu]",
				     r->id, id_first[i]);
		}
		if (r->comment != NULL)
			check_text(v, "comment", r->comment,
				   SL_POLICY_COMMENT_MAX, "the comment");
		check_match(v, &r->match);
		sl_path_push_key(&v->path, "action");
		check_action(v, &r->action);
		sl_path_pop(&v->path, old);
	}
	free(id_first);
}

static void
check_routes(struct val *v)
{
	const struct sl_policy *p = v->p;
	struct sl_prefix *keys = malloc((p->n_routes != 0 ? p->n_routes : 1) *
					sizeof(*keys));
	size_t *first;

	if (keys == NULL) {
		v->rc = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < p->n_routes; i++)
		keys[i] = p->routes[i].prefix;
	first = find_dups(keys, p->n_routes, sizeof(*keys), prefix_key_cmp,
			  prefix_key_absent);
	free(keys);
	if (first == NULL) {
		v->rc = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct sl_route *r = &p->routes[i];
		bool has_prefix = r->prefix.family != SL_FAMILY_NONE;
		size_t old = sl_path_push_key(&v->path, "routes");

		sl_path_push_index(&v->path, i);
		if (!has_prefix)
			verr(v, "prefix", "a route needs a prefix");
		else
			check_network(v, "prefix", &r->prefix);
		if (first[i] != NONE)
			verr(v, "prefix", "the same prefix as routes[%zu]",
			     first[i]);
		if (r->n_nexthops == 0)
			verr(v, "nexthops", "a route needs at least one next hop");
		else if (r->n_nexthops > SL_POLICY_NEXTHOPS_MAX)
			verr(v, "nexthops", "more than %d next hops",
			     SL_POLICY_NEXTHOPS_MAX);
		for (size_t j = 0; j < r->n_nexthops &&
				   j <= SL_POLICY_NEXTHOPS_MAX; j++) {
			const struct sl_nexthop *nh = &r->nexthops[j];
			size_t o2 = sl_path_push_key(&v->path, "nexthops");
			int port;

			sl_path_push_index(&v->path, j);
			if (nh->gateway.family != SL_FAMILY_NONE) {
				check_host(v, "gateway", &nh->gateway);
				if (has_prefix &&
				    nh->gateway.family != r->prefix.family)
					verr(v, "gateway",
					     "gateway is %s but the prefix is %s",
					     family_name(nh->gateway.family),
					     family_name(r->prefix.family));
			}
			if (nh->port == NULL) {
				verr(v, "port", "a next hop needs a port");
			} else {
				port = sl_policy_find_port(p, nh->port);
				if (port < 0 && !(v->skip & SL_BROKEN_PORTS))
					verr(v, "port", "unknown port \"%.60s\"",
					     nh->port);
				else if (port >= 0 && p->ports[port].mode ==
							      SL_PORT_MODE_XCONNECT)
					verr(v, "port",
					     "port \"%s\" is in xconnect mode and does not route",
					     nh->port);
			}
			if (nh->weight < 1 ||
			    nh->weight > SL_POLICY_NEXTHOP_WEIGHT_MAX)
				verr(v, "weight", "%u is out of range 1-%u",
				     nh->weight, SL_POLICY_NEXTHOP_WEIGHT_MAX);
			for (size_t k = 0; k < j; k++) {
				const struct sl_nexthop *o = &r->nexthops[k];

				if (sl_prefix_equal(&o->gateway, &nh->gateway) &&
				    o->port != NULL && nh->port != NULL &&
				    strcmp(o->port, nh->port) == 0) {
					verr(v, NULL,
					     "the same gateway and port as nexthops[%zu]",
					     k);
					break;
				}
			}
			sl_path_pop(&v->path, o2);
		}
		sl_path_pop(&v->path, old);
	}
	free(first);
}

static bool
target_same(const struct sl_target *a, const struct sl_target *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == SL_TARGET_PORT)
		return a->port != NULL && b->port != NULL &&
		       strcmp(a->port, b->port) == 0;
	return sl_prefix_equal(&a->remote, &b->remote) && a->vni == b->vni &&
	       a->udp_port == b->udp_port && a->has_key == b->has_key &&
	       a->key == b->key;
}

static void
check_target(struct val *v, const struct sl_target *t)
{
	bool tunnel = false;

	switch (t->kind) {
	case SL_TARGET_PORT:
		if (t->port == NULL)
			verr(v, "port", "a port target needs a port");
		else if (sl_policy_find_port(v->p, t->port) < 0 &&
			 !(v->skip & SL_BROKEN_PORTS))
			verr(v, "port", "unknown port \"%.60s\"", t->port);
		break;
	case SL_TARGET_VXLAN:
	case SL_TARGET_GENEVE:
		if (t->vni > SL_POLICY_VNI_MAX)
			verr(v, "vni", "%u is out of range 0-%u", t->vni,
			     SL_POLICY_VNI_MAX);
		if (t->udp_port == 0)
			verr(v, "udp_port", "0 is out of range 1-65535");
		tunnel = true;
		break;
	case SL_TARGET_GRE:
		tunnel = true;
		break;
	case SL_TARGET_NONE:
		verr(v, "kind", "a target needs a kind (port, vxlan, geneve, gre)");
		break;
	default:
		verr(v, "kind", "unknown target kind %u", t->kind);
		break;
	}
	if (tunnel) {
		if (t->remote.family == SL_FAMILY_NONE)
			verr(v, "remote", "a %s target needs a remote address",
			     sl_target_kind_name(t->kind));
		else
			check_host(v, "remote", &t->remote);
		if (t->local.family != SL_FAMILY_NONE) {
			check_host(v, "local", &t->local);
			if (t->remote.family != SL_FAMILY_NONE &&
			    t->local.family != t->remote.family)
				verr(v, "local", "local is %s but remote is %s",
				     family_name(t->local.family),
				     family_name(t->remote.family));
		}
	}
	if (t->weight < 1)
		verr(v, "weight", "0 is out of range 1-%u",
		     SL_POLICY_TARGET_WEIGHT_MAX);
	if (sl_target_state_name(t->state) == NULL)
		verr(v, "state", "unknown target state %u", t->state);
}

static void
check_groups(struct val *v)
{
	const struct sl_policy *p = v->p;
	size_t *name_first = find_dup_strings(v, p->groups, p->n_groups,
					      sizeof(*p->groups),
					      offsetof(struct sl_group, name));

	if (name_first == NULL)
		return;
	for (size_t i = 0; i < p->n_groups; i++) {
		const struct sl_group *g = &p->groups[i];
		size_t old = sl_path_push_key(&v->path, "groups");

		sl_path_push_index(&v->path, i);
		if (g->name == NULL)
			verr(v, "name", "a group needs a name");
		else
			check_name(v, "name", g->name, SL_POLICY_NAME_MAX,
				   "group name");
		if (name_first[i] != NONE)
			verr(v, "name", "group name \"%s\" is also used by groups[%zu]",
			     g->name, name_first[i]);
		if (g->table_size < SL_POLICY_MAGLEV_MIN ||
		    g->table_size > SL_POLICY_MAGLEV_MAX)
			verr(v, "table_size", "%u is out of range %u-%u",
			     g->table_size, SL_POLICY_MAGLEV_MIN,
			     SL_POLICY_MAGLEV_MAX);
		else if (!sl_is_prime(g->table_size))
			verr(v, "table_size",
			     "%u is not prime (Maglev needs a prime table size, such as 65537)",
			     g->table_size);
		/* A cluster group's targets are the live members: none, or
		 * those sluiced derived (sl_group.cluster). */
		if (g->n_targets == 0 && !g->cluster)
			verr(v, "targets", "a group needs at least one target");
		else if (g->n_targets > SL_POLICY_TARGETS_MAX)
			verr(v, "targets", "more than %d targets",
			     SL_POLICY_TARGETS_MAX);
		for (size_t j = 0; j < g->n_targets && j <= SL_POLICY_TARGETS_MAX;
		     j++) {
			size_t o2 = sl_path_push_key(&v->path, "targets");

			sl_path_push_index(&v->path, j);
			check_target(v, &g->targets[j]);
			for (size_t k = 0; k < j; k++) {
				if (target_same(&g->targets[k], &g->targets[j])) {
					verr(v, NULL, "the same target as targets[%zu]",
					     k);
					break;
				}
			}
			sl_path_pop(&v->path, o2);
		}
		sl_path_pop(&v->path, old);
	}
	free(name_first);
}

int
sl_policy_validate_skip(const struct sl_policy *p,
			struct sl_policy_errors *errs, unsigned int skip)
{
	struct val v = { .p = p, .errs = errs, .skip = skip };

	sl_errors_clear(errs);
	sl_path_init(&v.path);
	check_settings(&v);
	check_ports(&v);
	check_rules(&v);
	sl_path_push_key(&v.path, "default");
	check_action(&v, &p->default_action);
	sl_path_pop(&v.path, 0);
	check_routes(&v);
	check_groups(&v);
	if (v.rc < 0)
		return v.rc;
	return sl_errors_any(errs) ? -EINVAL : 0;
}

int
sl_policy_validate(const struct sl_policy *p, struct sl_policy_errors *errs)
{
	struct sl_policy_errors local;

	/* The verdict must not depend on whether the caller wants details. */
	return sl_policy_validate_skip(p, errs != NULL ? errs : &local, 0);
}
