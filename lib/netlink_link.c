/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Link configuration over the session's request socket: what the dataplane
 * does to its TAP twins (up, MTU, the policy's interface addresses).  Each
 * call is synchronous: the kernel has acknowledged every request before it
 * returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "netlink_internal.h"

int
sl_nl_link_index(const char *ifname)
{
	unsigned int idx = if_nametoindex(ifname);

	if (idx == 0)
		return errno != 0 ? -errno : -ENODEV;
	return (int)idx;
}

int
sl_nl_link_up(struct sl_nl *nl, int ifindex, uint32_t mtu)
{
	char buf[256], what[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	snprintf(what, sizeof(what), "set ifindex %d up", ifindex);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_request(nl, nlh, NULL, NULL, what);
}

/* The addresses an interface has. */
struct nl_addr_list {
	int ifindex;
	size_t n;
	size_t cap;
	struct sl_prefix *v;
};

static int
addr_dump_cb(struct sl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nl_addr_list *l = data;
	const struct nlattr *attr, *local = NULL, *address = NULL;
	const struct nlattr *a;
	struct sl_prefix *p;
	size_t alen;

	(void)nl;
	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)) ||
	    (int)ifa->ifa_index != l->ifindex ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	/* IFA_LOCAL is ours; IFA_ADDRESS is the peer on point-to-point
	 * links, and the only one IPv6 sends otherwise. */
	a = local != NULL ? local : address;
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (a == NULL || mnl_attr_get_payload_len(a) != alen)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 16;
		struct sl_prefix *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	p = &l->v[l->n++];
	memset(p, 0, sizeof(*p));
	p->family = ifa->ifa_family == AF_INET ? SL_FAMILY_IPV4 :
		SL_FAMILY_IPV6;
	p->len = ifa->ifa_prefixlen;
	memcpy(p->addr, mnl_attr_get_payload(a), alen);
	return 0;
}

static int
addr_dump(struct sl_nl *nl, int ifindex, struct nl_addr_list *l)
{
	char buf[128], what[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	l->n = 0;
	l->ifindex = ifindex;
	snprintf(what, sizeof(what), "dump addresses of ifindex %d", ifindex);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	ifa->ifa_index = ifindex;	/* filtered by the kernel when strict */
	return nl_request(nl, nlh, addr_dump_cb, l, what);
}

static size_t
addr_len(const struct sl_prefix *p)
{
	return p->family == SL_FAMILY_IPV4 ? 4 : 16;
}

static bool
addr_equal(const struct sl_prefix *a, const struct sl_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
		memcmp(a->addr, b->addr, addr_len(a)) == 0;
}

static bool
addr_in(const struct sl_prefix *a, const struct sl_prefix *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_equal(a, &v[i]))
			return true;
	return false;
}

static bool
addr_is_v6_link_local(const struct sl_prefix *a)
{
	return a->family == SL_FAMILY_IPV6 && a->addr[0] == 0xfe &&
		(a->addr[1] & 0xc0) == 0x80;
}

/* The scope `ip address add` gives an address. */
static uint8_t
addr_scope(const struct sl_prefix *a)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (a->family == SL_FAMILY_IPV4)
		return a->addr[0] == 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
	if (memcmp(a->addr, v6_loopback, 16) == 0)
		return RT_SCOPE_HOST;
	return addr_is_v6_link_local(a) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
}

static int
addr_request(struct sl_nl *nl, uint16_t type, int ifindex,
	     const struct sl_prefix *a)
{
	char buf[256], what[96], s[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	snprintf(what, sizeof(what), "%s %s on ifindex %d",
		 type == RTM_NEWADDR ? "add address" : "remove address",
		 nl_prefix_str(a, s, sizeof(s)), ifindex);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_ACK;
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a->family == SL_FAMILY_IPV4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = a->len;
	ifa->ifa_index = ifindex;
	if (type == RTM_NEWADDR)
		ifa->ifa_scope = addr_scope(a);
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(a), a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(a), a->addr);
	return nl_request(nl, nlh, NULL, NULL, what);
}

int
sl_nl_addrs_sync(struct sl_nl *nl, int ifindex, const struct sl_prefix *addrs,
		 size_t n)
{
	struct nl_addr_list cur = { 0 };
	char err[NL_ERRMSG_MAX] = "";
	bool removed = false;
	int first = 0, rc;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct sl_prefix *a = &addrs[i];

		if ((a->family != SL_FAMILY_IPV4 || a->len > 32) &&
		    (a->family != SL_FAMILY_IPV6 || a->len > 128))
			return nl_fail(nl, -EINVAL, "addresses of ifindex %d: "
				       "entry %zu is not an IPv4 or IPv6 "
				       "address", ifindex, i);
	}
	rc = addr_dump(nl, ifindex, &cur);
	if (rc < 0)
		goto out;

	/* Extras first: removing an IPv4 primary address takes its
	 * secondaries along, so the list is read again before adding. */
	for (i = 0; i < cur.n; i++) {
		const struct sl_prefix *a = &cur.v[i];

		if (addr_in(a, addrs, n) || addr_is_v6_link_local(a))
			continue;
		rc = addr_request(nl, RTM_DELADDR, ifindex, a);
		removed = true;
		if (rc < 0 && rc != -EADDRNOTAVAIL && first == 0) {
			first = rc;
			memcpy(err, nl->errmsg, sizeof(err));
		}
	}
	if (removed) {
		rc = addr_dump(nl, ifindex, &cur);
		if (rc < 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (addr_in(&addrs[i], cur.v, cur.n))
			continue;
		rc = addr_request(nl, RTM_NEWADDR, ifindex, &addrs[i]);
		if (rc < 0 && rc != -EEXIST && first == 0) {
			first = rc;
			memcpy(err, nl->errmsg, sizeof(err));
		}
	}
	rc = first;
	if (rc < 0)
		memcpy(nl->errmsg, err, sizeof(err));
out:
	free(cur.v);
	return rc;
}
