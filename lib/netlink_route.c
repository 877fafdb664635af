/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mirror of the kernel's tables that a session follows: routes of one
 * table, nexthop objects, neighbours, and the up/down state of links.
 *
 * Routes are kept per prefix as the kernel holds them - every metric, every
 * IPv4 alias, every next hop with its dead flag - so that a change can be
 * applied the way the kernel applied it and the prefix's *whole* best route
 * computed again (nl_pfx_best).  What was last reported for a prefix is kept
 * as a 64-bit XXH3 fingerprint, 8 bytes instead of a copy: a change is
 * reported when the best route's fingerprint moves.  The same fingerprints
 * let a re-read (nl_mirror_sync) build a fresh mirror from dumps and report
 * only the differences with the old one.
 *
 * How the kernel announces changes, and how each is applied here:
 *
 *   IPv4  NLM_F_REPLACE replaces the first alias of that metric; NLM_F_APPEND
 *         adds an alias after them; a plain add goes before them (prepend);
 *         a delete names one alias whole.  Repeats of what is already there
 *         change nothing, so replaying events that a dump already holds is
 *         harmless.
 *   IPv6  one route per metric; NLM_F_APPEND merges next hops into it (old
 *         kernels announce a multipath route one next hop at a time, new
 *         ones the whole route); a delete that names next hops removes those
 *         (`ip -6 route del P via G` takes one sibling away); other adds
 *         replace.
 *   Silent changes: a link going down flushes IPv4 routes and marks next
 *   hops dead (IPv4 and IPv6 siblings) with no event, and removes nexthop
 *   objects without one; a link coming up clears the dead flags.  So an
 *   up/down change of a link that a route, nexthop object or neighbour uses
 *   makes the session re-read everything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <xxhash.h>

#include "netlink_internal.h"

/* Dumps interrupted by concurrent changes are redone this many times; the
 * last one is kept anyway, the events queued meanwhile put it right. */
#define NL_DUMP_RETRIES		4

#define NL_NUD_USABLE	(NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | \
			 NUD_PERMANENT | NUD_NOARP)

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------
 * A chained hash table of intrusive nodes, keyed by a 64-bit hash; the
 * caller compares keys.
 */

struct nl_hnode {
	struct nl_hnode *next;
	uint64_t hash;
};

struct nl_htab {
	struct nl_hnode **b;
	size_t mask;
	size_t count;
};

#define NL_HTAB_MIN	64

static int
htab_init(struct nl_htab *t)
{
	t->b = calloc(NL_HTAB_MIN, sizeof(*t->b));
	t->mask = NL_HTAB_MIN - 1;
	t->count = 0;
	return t->b == NULL ? -ENOMEM : 0;
}

/* Doubling fails quietly: chains get longer, nothing breaks. */
static void
htab_grow(struct nl_htab *t)
{
	size_t n = (t->mask + 1) * 2, i;
	struct nl_hnode **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;
	for (i = 0; i <= t->mask; i++) {
		struct nl_hnode *h, *next;

		for (h = t->b[i]; h != NULL; h = next) {
			next = h->next;
			h->next = b[h->hash & (n - 1)];
			b[h->hash & (n - 1)] = h;
		}
	}
	free(t->b);
	t->b = b;
	t->mask = n - 1;
}

static void
htab_insert(struct nl_htab *t, struct nl_hnode *h)
{
	if (t->count > t->mask)
		htab_grow(t);
	h->next = t->b[h->hash & t->mask];
	t->b[h->hash & t->mask] = h;
	t->count++;
}

static void
htab_remove(struct nl_htab *t, struct nl_hnode *h)
{
	struct nl_hnode **pp = &t->b[h->hash & t->mask];

	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	t->count--;
}

/* Every node; the body may remove n. */
#define HTAB_FOREACH(t, i, n, nn)					\
	for ((i) = 0; (i) <= (t)->mask; (i)++)				\
		for ((n) = (t)->b[i]; (n) != NULL && ((nn) = (n)->next, 1); \
		     (n) = (nn))

/* Nodes of hash h (keys still to compare). */
#define HTAB_CHAIN(t, h, n)						\
	for ((n) = (t)->b[(h) & (t)->mask]; (n) != NULL; (n) = (n)->next) \
		if ((n)->hash == (h))

/* ------------------------------------------------------------------------
 * The mirror
 */

struct nl_nh {
	int32_t ifindex;
	uint16_t weight;	/* 1..256 */
	uint8_t family;		/* the gateway's; NONE: on-link */
	uint8_t dead;		/* RTNH_F_DEAD: the kernel skips it */
	uint8_t gw[16];
};

/* One kernel route of a prefix (one metric; IPv4: one alias). */
struct nl_rt {
	struct nl_rt *next;	/* by metric, then the kernel's order */
	uint32_t metric;
	uint32_t nh_id;		/* nexthop object; 0: nh[] */
	uint8_t type;
	uint8_t protocol;
	uint8_t n_nh;
	struct nl_nh nh[];
};

struct nl_pfx {
	struct nl_hnode hn;
	struct nl_rt *rts;
	uint64_t reported;	/* fingerprint of the route last reported as
				 * added (never 0); 0: none */
	struct sl_prefix key;
};

struct nl_nbr {
	struct nl_hnode hn;
	struct sl_nl_neigh cur;	/* the kernel's entry; key: ifindex, addr */
	struct sl_nl_neigh rep;	/* as last reported usable */
	bool reported;
	bool gone;
};

struct nl_nho_member {
	uint32_t id;
	uint32_t weight;	/* 1..65536 */
};

/* A nexthop object: one next hop, a blackhole, or a group of them. */
struct nl_nho {
	struct nl_hnode hn;
	uint32_t id;
	bool blackhole;
	bool dead;
	bool unsupported;	/* encap: the dataplane cannot follow it */
	uint8_t family;		/* the gateway's; NONE: on-link */
	int32_t ifindex;
	uint8_t gw[16];
	unsigned int n_grp;
	struct nl_nho_member grp[];
};

/* struct nexthop_grp, as kernels 6.12+ fill it (weight_high); older ones
 * leave that byte 0, and older headers call it resvd1. */
struct nl_nh_grp {
	uint32_t id;
	uint8_t weight;
	uint8_t weight_high;
	uint16_t resvd;
};

struct nl_link {
	struct nl_hnode hn;
	int32_t ifindex;
	uint32_t flags;		/* IFF_* */
};

struct nl_mirror {
	struct nl_htab pfx;
	struct nl_htab nbr;
	struct nl_htab nho;
	struct nl_htab link;
	size_t nh_routes;	/* struct nl_rt naming a nexthop object */
	bool nho_known;		/* the kernel listed its nexthop objects */
};

struct nl_mirror *
nl_mirror_new(void)
{
	struct nl_mirror *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (htab_init(&m->pfx) < 0 || htab_init(&m->nbr) < 0 ||
	    htab_init(&m->nho) < 0 || htab_init(&m->link) < 0) {
		nl_mirror_free(m);
		return NULL;
	}
	return m;
}

void
nl_mirror_free(struct nl_mirror *m)
{
	struct nl_hnode *h, *hn;
	size_t i;

	if (m == NULL)
		return;
	if (m->pfx.b != NULL) {
		HTAB_FOREACH(&m->pfx, i, h, hn) {
			struct nl_pfx *p = container_of(h, struct nl_pfx, hn);
			struct nl_rt *rt, *next;

			for (rt = p->rts; rt != NULL; rt = next) {
				next = rt->next;
				free(rt);
			}
			free(p);
		}
	}
	if (m->nbr.b != NULL) {
		HTAB_FOREACH(&m->nbr, i, h, hn)
			free(container_of(h, struct nl_nbr, hn));
	}
	if (m->nho.b != NULL) {
		HTAB_FOREACH(&m->nho, i, h, hn)
			free(container_of(h, struct nl_nho, hn));
	}
	if (m->link.b != NULL) {
		HTAB_FOREACH(&m->link, i, h, hn)
			free(container_of(h, struct nl_link, hn));
	}
	free(m->pfx.b);
	free(m->nbr.b);
	free(m->nho.b);
	free(m->link.b);
	free(m);
}

static uint64_t
pfx_hash(const struct sl_prefix *key)
{
	return XXH3_64bits(key, sizeof(*key));
}

static struct nl_pfx *
pfx_find(const struct nl_mirror *m, const struct sl_prefix *key)
{
	uint64_t hash = pfx_hash(key);
	struct nl_hnode *h;

	HTAB_CHAIN(&m->pfx, hash, h) {
		struct nl_pfx *p = container_of(h, struct nl_pfx, hn);

		if (memcmp(&p->key, key, sizeof(*key)) == 0)
			return p;
	}
	return NULL;
}

static uint64_t
nho_hash(uint32_t id)
{
	return XXH3_64bits(&id, sizeof(id));
}

static struct nl_nho *
nho_find(const struct nl_mirror *m, uint32_t id)
{
	uint64_t hash = nho_hash(id);
	struct nl_hnode *h;

	HTAB_CHAIN(&m->nho, hash, h) {
		struct nl_nho *o = container_of(h, struct nl_nho, hn);

		if (o->id == id)
			return o;
	}
	return NULL;
}

static uint64_t
nbr_hash(int ifindex, const struct sl_prefix *addr)
{
	struct {
		int32_t ifindex;
		struct sl_prefix addr;
	} k;

	memset(&k, 0, sizeof(k));
	k.ifindex = ifindex;
	k.addr = *addr;
	return XXH3_64bits(&k, sizeof(k));
}

static struct nl_nbr *
nbr_find(const struct nl_mirror *m, int ifindex, const struct sl_prefix *addr)
{
	uint64_t hash = nbr_hash(ifindex, addr);
	struct nl_hnode *h;

	HTAB_CHAIN(&m->nbr, hash, h) {
		struct nl_nbr *b = container_of(h, struct nl_nbr, hn);

		if (b->cur.ifindex == ifindex &&
		    memcmp(&b->cur.addr, addr, sizeof(*addr)) == 0)
			return b;
	}
	return NULL;
}

static uint64_t
link_hash(int ifindex)
{
	return XXH3_64bits(&ifindex, sizeof(ifindex));
}

static struct nl_link *
link_find(const struct nl_mirror *m, int ifindex)
{
	uint64_t hash = link_hash(ifindex);
	struct nl_hnode *h;

	HTAB_CHAIN(&m->link, hash, h) {
		struct nl_link *l = container_of(h, struct nl_link, hn);

		if (l->ifindex == ifindex)
			return l;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Attributes
 */

/* tb[type] for each attribute after hdrlen bytes of payload; later ones of
 * a type win, unknown types are skipped. */
static void
nl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb,
	 unsigned int max)
{
	const struct nlattr *attr;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_for_each(attr, nlh, hdrlen) {
		unsigned int type = mnl_attr_get_type(attr);

		if (type <= max)
			tb[type] = attr;
	}
}

static void
nl_nested_attrs(const void *payload, size_t len, const struct nlattr **tb,
		unsigned int max)
{
	const struct nlattr *attr;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_for_each_payload(payload, len) {
		unsigned int type = mnl_attr_get_type(attr);

		if (type <= max)
			tb[type] = attr;
	}
}

static uint32_t
attr_u32(const struct nlattr *a, uint32_t dflt)
{
	if (a == NULL || mnl_attr_get_payload_len(a) < sizeof(uint32_t))
		return dflt;
	return mnl_attr_get_u32(a);
}

/* An address attribute of 4 or 16 bytes into family and addr. */
static bool
attr_addr(const struct nlattr *a, uint8_t *family, uint8_t *addr)
{
	uint16_t len = mnl_attr_get_payload_len(a);

	if (len != 4 && len != 16)
		return false;
	memset(addr, 0, 16);
	memcpy(addr, mnl_attr_get_payload(a), len);
	*family = len == 4 ? SL_FAMILY_IPV4 : SL_FAMILY_IPV6;
	return true;
}

static void
prefix_mask(struct sl_prefix *p)
{
	unsigned int i, bits = p->len;

	for (i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		p->addr[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

/* ------------------------------------------------------------------------
 * Routes: parsing
 */

struct nl_rt_msg {
	struct sl_prefix key;
	uint32_t metric;
	uint32_t nh_id;
	uint8_t type;
	uint8_t protocol;
	unsigned int n_nh;
	struct nl_nh nh[SL_POLICY_NEXTHOPS_MAX];
};

static void
nl_unsupported(struct sl_nl *nl, uint32_t kind, const struct nl_rt_msg *r,
	       const char *why)
{
	char p[64];

	nl->stats.routes_unsupported++;
	nl_log_once(nl, kind, "netlink: route %s in table %u ignored: %s "
		    "(further ones counted in routes_unsupported)",
		    nl_prefix_str(&r->key, p, sizeof(p)), nl->table, why);
}

/* The gateway of a next hop: RTA_VIA (any family, RFC 5549) or RTA_GATEWAY
 * (the route's family). */
static bool
nl_nh_gateway(struct nl_nh *nh, const struct nlattr *gw,
	      const struct nlattr *via)
{
	nh->family = SL_FAMILY_NONE;
	memset(nh->gw, 0, sizeof(nh->gw));
	if (via != NULL) {
		const struct rtvia *v = mnl_attr_get_payload(via);
		size_t len = mnl_attr_get_payload_len(via);
		size_t alen = v->rtvia_family == AF_INET ? 4 :
			v->rtvia_family == AF_INET6 ? 16 : 0;

		if (len < sizeof(*v) || alen == 0 || len < sizeof(*v) + alen)
			return false;
		memcpy(nh->gw, v->rtvia_addr, alen);
		nh->family = alen == 4 ? SL_FAMILY_IPV4 : SL_FAMILY_IPV6;
		return true;
	}
	if (gw != NULL)
		return attr_addr(gw, &nh->family, nh->gw);
	return true;
}

static bool
nl_nh_add(struct sl_nl *nl, struct nl_rt_msg *r, const struct nl_nh *nh)
{
	if (r->n_nh == SL_POLICY_NEXTHOPS_MAX) {
		char p[64];

		nl->stats.nexthops_truncated++;
		nl_log_once(nl, NL_LOG_TRUNC, "netlink: route %s has more "
			    "than %u next hops; the rest are left out",
			    nl_prefix_str(&r->key, p, sizeof(p)),
			    SL_POLICY_NEXTHOPS_MAX);
		return false;
	}
	r->nh[r->n_nh++] = *nh;
	return true;
}

/* RTA_MULTIPATH: struct rtnexthop entries, each with its attributes.
 * Returns false when a next hop is one the dataplane cannot follow. */
static bool
nl_parse_multipath(struct sl_nl *nl, struct nl_rt_msg *r,
		   const struct nlattr *mp)
{
	const struct rtnexthop *rtnh = mnl_attr_get_payload(mp);
	int len = mnl_attr_get_payload_len(mp);

	while (len >= (int)sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
	       rtnh->rtnh_len <= len) {
		const struct nlattr *tb[RTA_MAX + 1];
		struct nl_nh nh = {
			.ifindex = rtnh->rtnh_ifindex,
			.weight = (uint16_t)(rtnh->rtnh_hops + 1),
			.dead = !!(rtnh->rtnh_flags & RTNH_F_DEAD),
		};

		nl_nested_attrs(RTNH_DATA(rtnh),
				rtnh->rtnh_len - RTNH_LENGTH(0), tb, RTA_MAX);
		if (tb[RTA_ENCAP] != NULL) {
			nl_unsupported(nl, NL_LOG_ENCAP, r,
				       "a next hop has an encapsulation");
			return false;
		}
		if (!nl_nh_gateway(&nh, tb[RTA_GATEWAY], tb[RTA_VIA])) {
			nl_unsupported(nl, NL_LOG_ENCAP, r,
				       "a gateway that is not IPv4 or IPv6");
			return false;
		}
		if (!nl_nh_add(nl, r, &nh))
			break;
		len -= RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
	return true;
}

/* A route message of the mirrored table, as r; false: not one to mirror. */
static bool
nl_route_parse(struct sl_nl *nl, const struct nlmsghdr *nlh,
	       struct nl_rt_msg *r)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1];
	unsigned int alen;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)))
		return false;
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return false;
	nl_attrs(nlh, sizeof(*rtm), tb, RTA_MAX);
	/* rtm_table is 8 bits: tables from 256 up are only in RTA_TABLE. */
	if (attr_u32(tb[RTA_TABLE], rtm->rtm_table) != nl->table)
		return false;
	if (rtm->rtm_flags & RTM_F_CLONED)
		return false;	/* a cache entry (PMTU, redirect) */
	switch (rtm->rtm_type) {
	case RTN_UNICAST:
	case RTN_BLACKHOLE:
	case RTN_UNREACHABLE:
	case RTN_PROHIBIT:
	case RTN_THROW:
		break;
	default:
		return false;	/* local, broadcast, anycast, multicast, nat */
	}
	alen = rtm->rtm_family == AF_INET ? 4 : 16;
	if (rtm->rtm_dst_len > alen * 8)
		return false;

	memset(r, 0, offsetof(struct nl_rt_msg, nh));
	r->key.family = rtm->rtm_family == AF_INET ? SL_FAMILY_IPV4 :
		SL_FAMILY_IPV6;
	r->key.len = rtm->rtm_dst_len;
	if (tb[RTA_DST] != NULL && mnl_attr_get_payload_len(tb[RTA_DST]) == alen)
		memcpy(r->key.addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	prefix_mask(&r->key);
	r->metric = attr_u32(tb[RTA_PRIORITY], 0);
	r->nh_id = attr_u32(tb[RTA_NH_ID], 0);
	r->type = rtm->rtm_type;
	r->protocol = rtm->rtm_protocol;

	if (rtm->rtm_tos != 0) {
		nl_unsupported(nl, NL_LOG_TOS, r, "it selects by TOS");
		return false;
	}
	if (rtm->rtm_src_len != 0) {
		nl_unsupported(nl, NL_LOG_SRC, r, "it selects by source");
		return false;
	}
	if (tb[RTA_ENCAP] != NULL) {
		nl_unsupported(nl, NL_LOG_ENCAP, r, "it has an encapsulation");
		return false;
	}
	if (r->type != RTN_UNICAST)
		return true;	/* blackhole & co: their "dev lo" means nothing */
	if (tb[RTA_MULTIPATH] != NULL)
		return nl_parse_multipath(nl, r, tb[RTA_MULTIPATH]);
	if (tb[RTA_OIF] != NULL || tb[RTA_GATEWAY] != NULL ||
	    tb[RTA_VIA] != NULL) {
		struct nl_nh nh = {
			.ifindex = (int32_t)attr_u32(tb[RTA_OIF], 0),
			.weight = 1,
			.dead = !!(rtm->rtm_flags & RTNH_F_DEAD),
		};

		if (!nl_nh_gateway(&nh, tb[RTA_GATEWAY], tb[RTA_VIA])) {
			nl_unsupported(nl, NL_LOG_ENCAP, r,
				       "a gateway that is not IPv4 or IPv6");
			return false;
		}
		nl_nh_add(nl, r, &nh);
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Routes: what is reported
 */

static int
nexthop_cmp(const void *a, const void *b)
{
	const struct sl_nl_nexthop *x = a, *y = b;
	int c;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	if (x->gateway.family != y->gateway.family)
		return x->gateway.family < y->gateway.family ? -1 : 1;
	c = memcmp(x->gateway.addr, y->gateway.addr, 16);
	if (c != 0)
		return c;
	return (int)x->weight - (int)y->weight;
}

static void
out_nh_add(struct sl_nl *nl, struct sl_nl_route *out, int ifindex,
	   uint8_t family, const uint8_t *gw, uint16_t weight)
{
	struct sl_nl_nexthop *nh;

	if (out->n_nexthops == SL_POLICY_NEXTHOPS_MAX) {
		nl->stats.nexthops_truncated++;
		return;
	}
	nh = &out->nexthops[out->n_nexthops++];
	nh->ifindex = ifindex;
	nh->weight = weight;
	if (family != SL_FAMILY_NONE) {
		nh->gateway.family = family;
		nh->gateway.len = family == SL_FAMILY_IPV4 ? 32 : 128;
		memcpy(nh->gateway.addr, gw, 16);
	}
}

/* A route through nexthop object o (a next hop, a blackhole, a group). */
static void
out_from_nho(struct sl_nl *nl, const struct nl_mirror *m,
	     const struct nl_nho *o, struct sl_nl_route *out)
{
	uint32_t max = 0;
	unsigned int i;

	if (o->blackhole) {
		out->type = RTN_BLACKHOLE;
		return;
	}
	if (o->n_grp == 0) {
		if (!o->dead && !o->unsupported)
			out_nh_add(nl, out, o->ifindex, o->family, o->gw, 1);
		return;
	}
	for (i = 0; i < o->n_grp; i++)
		if (o->grp[i].weight > max)
			max = o->grp[i].weight;
	if (max > SL_POLICY_NEXTHOP_WEIGHT_MAX) {
		nl->stats.nh_weights_scaled++;
		nl_log_once(nl, NL_LOG_NH_WEIGHT, "netlink: nexthop group %u "
			    "has weights over %u; scaled down", o->id,
			    SL_POLICY_NEXTHOP_WEIGHT_MAX);
	}
	for (i = 0; i < o->n_grp; i++) {
		const struct nl_nho *mo = nho_find(m, o->grp[i].id);
		uint32_t w = o->grp[i].weight;

		if (mo == NULL || mo->dead || mo->unsupported ||
		    mo->blackhole || mo->n_grp != 0)
			continue;
		if (max > SL_POLICY_NEXTHOP_WEIGHT_MAX) {
			w = (uint32_t)((uint64_t)w * SL_POLICY_NEXTHOP_WEIGHT_MAX /
				       max);
			if (w == 0)
				w = 1;
		}
		out_nh_add(nl, out, mo->ifindex, mo->family, mo->gw,
			   (uint16_t)w);
	}
}

/* rt as reported; false when it cannot carry packets (no live next hop),
 * and the kernel would fall back to the next metric. */
static bool
nl_rt_fill(struct sl_nl *nl, const struct nl_mirror *m, const struct nl_pfx *p,
	   const struct nl_rt *rt, struct sl_nl_route *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->prefix = p->key;
	out->table = nl->table;
	out->type = rt->type;
	out->protocol = rt->protocol;
	out->priority = rt->metric;
	out->nh_id = rt->nh_id;
	if (rt->type != RTN_UNICAST)
		return true;
	if (rt->nh_id != 0 && m->nho_known) {
		const struct nl_nho *o = nho_find(m, rt->nh_id);

		if (o == NULL)
			return false;
		out_from_nho(nl, m, o, out);
		if (out->type != RTN_UNICAST)
			return true;
	} else {
		/* Without the objects (kernel < 5.3, or a dump refused) the
		 * kernel's compatibility copy of the next hops is used. */
		for (i = 0; i < rt->n_nh; i++) {
			const struct nl_nh *nh = &rt->nh[i];

			if (!nh->dead)
				out_nh_add(nl, out, nh->ifindex, nh->family,
					   nh->gw, nh->weight);
		}
	}
	if (out->n_nexthops == 0)
		return false;
	if (out->n_nexthops == 1)
		out->nexthops[0].weight = 1;	/* all of it, whatever it was */
	qsort(out->nexthops, out->n_nexthops, sizeof(out->nexthops[0]),
	      nexthop_cmp);
	return true;
}

/* The prefix's route as the kernel uses it: the first usable one by
 * metric. */
static bool
nl_pfx_best(struct sl_nl *nl, const struct nl_mirror *m, const struct nl_pfx *p,
	    struct sl_nl_route *out)
{
	const struct nl_rt *rt;

	for (rt = p->rts; rt != NULL; rt = rt->next)
		if (nl_rt_fill(nl, m, p, rt, out))
			return true;
	return false;
}

static void
report_route(struct sl_nl *nl, bool add, const struct sl_nl_route *r)
{
	nl->stats.route_reports++;
	if (nl->h.route != NULL)
		nl->h.route(nl->h.arg, add, r);
}

static void
report_route_del(struct sl_nl *nl, const struct sl_prefix *key)
{
	struct sl_nl_route r;

	memset(&r, 0, sizeof(r));
	r.prefix = *key;
	r.table = nl->table;
	report_route(nl, false, &r);
}

/* Report p if its best route changed since the last report; free it when
 * it holds no route.  Returns 1 when something was reported. */
static unsigned int
nl_pfx_eval(struct sl_nl *nl, struct nl_mirror *m, struct nl_pfx *p)
{
	struct sl_nl_route out;
	unsigned int changed = 0;

	if (nl_pfx_best(nl, m, p, &out)) {
		uint64_t fp = XXH3_64bits(&out, sizeof(out)) | 1;

		if (fp == p->reported)
			return 0;
		p->reported = fp;
		report_route(nl, true, &out);
		return 1;
	}
	if (p->reported != 0) {
		p->reported = 0;
		report_route_del(nl, &p->key);
		changed = 1;
	}
	if (p->rts == NULL) {
		htab_remove(&m->pfx, &p->hn);
		free(p);
	}
	return changed;
}

/* ------------------------------------------------------------------------
 * Routes: applying a message
 */

static bool
nl_nh_same(const struct nl_nh *a, const struct nl_nh *b)
{
	return a->ifindex == b->ifindex && a->family == b->family &&
		memcmp(a->gw, b->gw, sizeof(a->gw)) == 0;
}

static int
nl_nh_find(const struct nl_nh *nh, unsigned int n, const struct nl_nh *x)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (nl_nh_same(&nh[i], x))
			return (int)i;
	return -1;
}

/* The same route, dead flags aside (they change without events). */
static bool
nl_rt_same(const struct nl_rt *rt, const struct nl_rt_msg *r)
{
	unsigned int i;

	if (rt->type != r->type || rt->protocol != r->protocol ||
	    rt->nh_id != r->nh_id || rt->n_nh != r->n_nh)
		return false;
	for (i = 0; i < r->n_nh; i++) {
		int j = nl_nh_find(rt->nh, rt->n_nh, &r->nh[i]);

		if (j < 0 || rt->nh[j].weight != r->nh[i].weight)
			return false;
	}
	return true;
}

static struct nl_rt *
nl_rt_new(const struct nl_rt_msg *r)
{
	struct nl_rt *rt = malloc(sizeof(*rt) + r->n_nh * sizeof(rt->nh[0]));

	if (rt == NULL)
		return NULL;
	rt->next = NULL;
	rt->metric = r->metric;
	rt->nh_id = r->nh_id;
	rt->type = r->type;
	rt->protocol = r->protocol;
	rt->n_nh = (uint8_t)r->n_nh;
	memcpy(rt->nh, r->nh, r->n_nh * sizeof(rt->nh[0]));
	return rt;
}

/* Put rt at *pp, in place of *pp's route when replace. */
static void
nl_rt_link(struct nl_mirror *m, struct nl_rt **pp, struct nl_rt *rt,
	   bool replace)
{
	struct nl_rt *old = replace ? *pp : NULL;

	rt->next = replace ? old->next : *pp;
	*pp = rt;
	if (rt->nh_id != 0)
		m->nh_routes++;
	if (old != NULL) {
		if (old->nh_id != 0)
			m->nh_routes--;
		free(old);
	}
}

static void
nl_rt_unlink(struct nl_mirror *m, struct nl_rt **pp)
{
	struct nl_rt *rt = *pp;

	*pp = rt->next;
	if (rt->nh_id != 0)
		m->nh_routes--;
	free(rt);
}

/* The slot of the first route of that metric, or where it would go. */
static struct nl_rt **
nl_rt_slot(struct nl_pfx *p, uint32_t metric)
{
	struct nl_rt **pp = &p->rts;

	while (*pp != NULL && (*pp)->metric < metric)
		pp = &(*pp)->next;
	return pp;
}

/* IPv6: merge r's next hops into rt (NLM_F_APPEND, dumps of old kernels). */
static int
nl_rt_merge(struct sl_nl *nl, struct nl_rt **pp, const struct nl_rt_msg *r)
{
	struct nl_rt *rt = *pp, *bigger;
	unsigned int i, n = rt->n_nh;

	bigger = realloc(rt, sizeof(*rt) +
			 (n + r->n_nh) * sizeof(rt->nh[0]));
	if (bigger == NULL)
		return -ENOMEM;
	*pp = rt = bigger;
	for (i = 0; i < r->n_nh; i++) {
		int j = nl_nh_find(rt->nh, n, &r->nh[i]);

		if (j >= 0) {
			rt->nh[j] = r->nh[i];
		} else if (n == SL_POLICY_NEXTHOPS_MAX) {
			nl->stats.nexthops_truncated++;
		} else {
			rt->nh[n++] = r->nh[i];
		}
	}
	/* Each IPv6 sibling has its own protocol; the kernel shows the
	 * first's, and so does the mirror. */
	rt->n_nh = (uint8_t)n;
	return 0;
}

static int
nl_route_new(struct sl_nl *nl, struct nl_mirror *m, struct nl_pfx *p,
	     const struct nl_rt_msg *r, uint16_t flags, bool dump)
{
	struct nl_rt **slot = nl_rt_slot(p, r->metric), **pp;
	bool same_metric = *slot != NULL && (*slot)->metric == r->metric;
	struct nl_rt *rt;

	if (r->key.family == SL_FAMILY_IPV6) {
		struct nl_rt *cur = same_metric ? *slot : NULL;

		if (cur != NULL && (dump || (flags & NLM_F_APPEND)) &&
		    cur->type == RTN_UNICAST && r->type == RTN_UNICAST &&
		    cur->nh_id == 0 && r->nh_id == 0 && r->n_nh != 0)
			return nl_rt_merge(nl, slot, r);
		rt = nl_rt_new(r);
		if (rt == NULL)
			return -ENOMEM;
		nl_rt_link(m, slot, rt, cur != NULL);
		return 0;
	}

	/* IPv4: aliases of one metric are kept in the kernel's order. */
	for (pp = slot; *pp != NULL && (*pp)->metric == r->metric;
	     pp = &(*pp)->next) {
		if (nl_rt_same(*pp, r)) {
			/* Already there (a replayed event or a repeat):
			 * only the dead flags may be news. */
			memcpy((*pp)->nh, r->nh, r->n_nh * sizeof(r->nh[0]));
			return 0;
		}
	}
	rt = nl_rt_new(r);
	if (rt == NULL)
		return -ENOMEM;
	if ((flags & NLM_F_REPLACE) && same_metric)
		nl_rt_link(m, slot, rt, true);
	else if (dump || (flags & NLM_F_APPEND))
		nl_rt_link(m, pp, rt, false);	/* after that metric's */
	else
		nl_rt_link(m, slot, rt, false);	/* before them: prepend */
	return 0;
}

static void
nl_route_del(struct nl_mirror *m, struct nl_pfx *p, const struct nl_rt_msg *r)
{
	struct nl_rt **slot = nl_rt_slot(p, r->metric), **pp, *rt;
	unsigned int i;

	if (*slot == NULL || (*slot)->metric != r->metric)
		return;
	if (r->key.family == SL_FAMILY_IPV4) {
		for (pp = slot; *pp != NULL && (*pp)->metric == r->metric;
		     pp = &(*pp)->next) {
			if (nl_rt_same(*pp, r)) {
				nl_rt_unlink(m, pp);
				return;
			}
		}
		return;
	}
	rt = *slot;
	if (r->nh_id != 0 || rt->nh_id != 0 || r->n_nh == 0 ||
	    rt->type != RTN_UNICAST || r->type != RTN_UNICAST) {
		nl_rt_unlink(m, slot);
		return;
	}
	/* IPv6: the next hops named go; the route goes with the last. */
	for (i = 0; i < r->n_nh; i++) {
		int j = nl_nh_find(rt->nh, rt->n_nh, &r->nh[i]);

		if (j < 0)
			continue;
		rt->nh[j] = rt->nh[rt->n_nh - 1];
		rt->n_nh--;
	}
	if (rt->n_nh == 0)
		nl_rt_unlink(m, slot);
}

static void
nl_route_msg(struct sl_nl *nl, struct nl_mirror *m, const struct nlmsghdr *nlh,
	     bool dump)
{
	struct nl_rt_msg r;
	struct nl_pfx *p;

	if (!nl_route_parse(nl, nlh, &r))
		return;
	if (r.nh_id != 0 && nlh->nlmsg_type == RTM_NEWROUTE && m->nho_known &&
	    nho_find(m, r.nh_id) == NULL) {
		char s[64];

		nl->stats.nh_unresolved++;
		nl_log_once(nl, NL_LOG_NH_UNKNOWN, "netlink: route %s uses "
			    "nexthop object %u, unknown here (counted in "
			    "nh_unresolved)",
			    nl_prefix_str(&r.key, s, sizeof(s)), r.nh_id);
	}
	p = pfx_find(m, &r.key);
	if (nlh->nlmsg_type == RTM_DELROUTE) {
		if (p == NULL)
			return;
		nl_route_del(m, p, &r);
	} else {
		if (p == NULL) {
			p = calloc(1, sizeof(*p));
			if (p == NULL)
				return;
			p->key = r.key;
			p->hn.hash = pfx_hash(&r.key);
			htab_insert(&m->pfx, &p->hn);
		}
		nl_route_new(nl, m, p, &r, nlh->nlmsg_flags, dump);
	}
	if (!dump)
		nl_pfx_eval(nl, m, p);
	else if (p->rts == NULL) {
		htab_remove(&m->pfx, &p->hn);
		free(p);
	}
}

/* ------------------------------------------------------------------------
 * Nexthop objects
 */

static struct nl_nho *
nl_nho_parse(struct sl_nl *nl, const struct nlmsghdr *nlh, uint32_t *id)
{
	const struct nhmsg *nhm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NHA_MAX + 1];
	const struct nl_nh_grp *g = NULL;
	unsigned int n_grp = 0, i;
	struct nl_nho *o;

	*id = 0;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nhm)))
		return NULL;
	nl_attrs(nlh, sizeof(*nhm), tb, NHA_MAX);
	*id = attr_u32(tb[NHA_ID], 0);
	if (*id == 0 || tb[NHA_FDB] != NULL)
		return NULL;	/* FDB next hops serve bridges, not routes */
	if (tb[NHA_GROUP] != NULL) {
		g = mnl_attr_get_payload(tb[NHA_GROUP]);
		n_grp = mnl_attr_get_payload_len(tb[NHA_GROUP]) / sizeof(*g);
	}
	o = calloc(1, sizeof(*o) + n_grp * sizeof(o->grp[0]));
	if (o == NULL)
		return NULL;
	o->id = *id;
	o->hn.hash = nho_hash(*id);
	o->blackhole = tb[NHA_BLACKHOLE] != NULL;
	o->dead = !!(nhm->nh_flags & RTNH_F_DEAD);
	o->unsupported = tb[NHA_ENCAP] != NULL;
	o->ifindex = (int32_t)attr_u32(tb[NHA_OIF], 0);
	if (tb[NHA_GATEWAY] != NULL &&
	    !attr_addr(tb[NHA_GATEWAY], &o->family, o->gw))
		o->unsupported = true;
	if (o->unsupported)
		nl_log_once(nl, NL_LOG_ENCAP, "netlink: nexthop object %u "
			    "has an encapsulation; routes through it are "
			    "left out", o->id);
	o->n_grp = n_grp;
	for (i = 0; i < n_grp; i++) {
		o->grp[i].id = g[i].id;
		o->grp[i].weight = ((uint32_t)g[i].weight_high << 8 |
				    g[i].weight) + 1;
	}
	return o;
}

static void
ids_add(uint32_t **ids, size_t *n_ids, uint32_t id)
{
	uint32_t *more = realloc(*ids, (*n_ids + 1) * sizeof(**ids));

	if (more == NULL)
		return;	/* a route or two not re-reported: the next change */
	*ids = more;
	(*ids)[(*n_ids)++] = id;
}

/* Drop id from every group; groups left empty go too, as in the kernel.
 * The ids touched are appended to ids. */
static void
nl_nho_forget(struct nl_mirror *m, uint32_t id, uint32_t **ids, size_t *n_ids)
{
	struct nl_hnode *h, *hn;
	size_t i;

	HTAB_FOREACH(&m->nho, i, h, hn) {
		struct nl_nho *g = container_of(h, struct nl_nho, hn);
		unsigned int j, k = 0;
		bool member = false;

		for (j = 0; j < g->n_grp; j++) {
			if (g->grp[j].id == id)
				member = true;
			else
				g->grp[k++] = g->grp[j];
		}
		if (!member)
			continue;
		g->n_grp = k;
		ids_add(ids, n_ids, g->id);
		if (k == 0) {
			htab_remove(&m->nho, &g->hn);
			free(g);
		}
	}
}

/* The groups that hold id, appended to ids. */
static void
nl_nho_groups_of(struct nl_mirror *m, uint32_t id, uint32_t **ids,
		 size_t *n_ids)
{
	struct nl_hnode *h, *hn;
	size_t i;

	HTAB_FOREACH(&m->nho, i, h, hn) {
		struct nl_nho *g = container_of(h, struct nl_nho, hn);
		unsigned int j;

		for (j = 0; j < g->n_grp; j++) {
			if (g->grp[j].id == id) {
				ids_add(ids, n_ids, g->id);
				break;
			}
		}
	}
}

/* Routes through the objects ids changed: evaluate them again; those whose
 * object is gone went with it in the kernel (silently). */
static void
nl_nho_routes_changed(struct sl_nl *nl, struct nl_mirror *m,
		      const uint32_t *ids, size_t n_ids)
{
	struct nl_hnode *h, *hn;
	size_t i, k;

	if (m->nh_routes == 0)
		return;
	HTAB_FOREACH(&m->pfx, i, h, hn) {
		struct nl_pfx *p = container_of(h, struct nl_pfx, hn);
		struct nl_rt **pp = &p->rts;
		bool touched = false;

		while (*pp != NULL) {
			uint32_t id = (*pp)->nh_id;
			bool hit = false;

			for (k = 0; id != 0 && k < n_ids; k++)
				hit |= ids[k] == id;
			if (hit) {
				touched = true;
				if (nho_find(m, id) == NULL) {
					nl_rt_unlink(m, pp);
					continue;
				}
			}
			pp = &(*pp)->next;
		}
		if (touched)
			nl_pfx_eval(nl, m, p);
	}
}

static void
nl_nho_msg(struct sl_nl *nl, struct nl_mirror *m, const struct nlmsghdr *nlh,
	   bool dump)
{
	uint32_t id, *ids = NULL;
	size_t n_ids = 0;
	struct nl_nho *o = nl_nho_parse(nl, nlh, &id), *old;

	if (id == 0)
		return;
	old = nho_find(m, id);
	if (old != NULL) {
		htab_remove(&m->nho, &old->hn);
		free(old);
	}
	if (nlh->nlmsg_type == RTM_DELNEXTHOP) {
		free(o);
		o = NULL;
		nl_nho_forget(m, id, &ids, &n_ids);
	} else if (o != NULL) {
		htab_insert(&m->nho, &o->hn);
		nl_nho_groups_of(m, id, &ids, &n_ids);
	}
	nl->stats.nh_objects = m->nho.count;
	if (!dump) {
		ids_add(&ids, &n_ids, id);
		nl_nho_routes_changed(nl, m, ids, n_ids);
	}
	free(ids);
}

/* ------------------------------------------------------------------------
 * Neighbours
 */

static void
report_neigh(struct sl_nl *nl, bool add, const struct sl_nl_neigh *n)
{
	nl->stats.neigh_reports++;
	if (nl->h.neigh != NULL)
		nl->h.neigh(nl->h.arg, add, n);
}

/* Report b if its usable state changed; free it when gone.  events: a
 * failed resolution is reported too.  Returns 1 when reported. */
static unsigned int
nl_nbr_eval(struct sl_nl *nl, struct nl_mirror *m, struct nl_nbr *b,
	    uint16_t prev_state, bool events)
{
	bool usable = !b->gone && b->cur.has_lladdr &&
		(b->cur.state & NL_NUD_USABLE);
	unsigned int changed = 0;

	if (usable) {
		if (!b->reported || memcmp(&b->rep, &b->cur, sizeof(b->cur))) {
			b->rep = b->cur;
			b->reported = true;
			report_neigh(nl, true, &b->cur);
			changed = 1;
		}
	} else if (b->reported ||
		   (events && !b->gone && b->cur.state == NUD_FAILED &&
		    prev_state != NUD_FAILED)) {
		b->reported = false;
		report_neigh(nl, false, &b->cur);
		changed = 1;
	}
	if (b->gone) {
		htab_remove(&m->nbr, &b->hn);
		free(b);
	}
	return changed;
}

static void
nl_neigh_msg(struct sl_nl *nl, struct nl_mirror *m, const struct nlmsghdr *nlh,
	     bool dump)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1];
	struct sl_nl_neigh n;
	struct nl_nbr *b;
	uint16_t prev;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ndm)))
		return;
	if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6)
		return;
	if ((ndm->ndm_flags & NTF_PROXY) || ndm->ndm_type != RTN_UNICAST)
		return;
	nl_attrs(nlh, sizeof(*ndm), tb, NDA_MAX);
	memset(&n, 0, sizeof(n));
	if (tb[NDA_DST] == NULL ||
	    !attr_addr(tb[NDA_DST], &n.addr.family, n.addr.addr))
		return;
	n.addr.len = n.addr.family == SL_FAMILY_IPV4 ? 32 : 128;
	n.ifindex = ndm->ndm_ifindex;
	n.state = ndm->ndm_state;
	n.flags = ndm->ndm_flags;
	if (tb[NDA_LLADDR] != NULL &&
	    mnl_attr_get_payload_len(tb[NDA_LLADDR]) == sizeof(n.lladdr)) {
		n.has_lladdr = true;
		memcpy(n.lladdr, mnl_attr_get_payload(tb[NDA_LLADDR]),
		       sizeof(n.lladdr));
	}

	b = nbr_find(m, n.ifindex, &n.addr);
	if (nlh->nlmsg_type == RTM_DELNEIGH) {
		if (b == NULL)
			return;
		b->gone = true;
		nl_nbr_eval(nl, m, b, b->cur.state, !dump);
		return;
	}
	if (b == NULL) {
		b = calloc(1, sizeof(*b));
		if (b == NULL)
			return;
		b->hn.hash = nbr_hash(n.ifindex, &n.addr);
		htab_insert(&m->nbr, &b->hn);
		prev = NUD_NONE;
	} else {
		prev = b->cur.state;
	}
	b->cur = n;
	if (!dump)
		nl_nbr_eval(nl, m, b, prev, true);
}

/* ------------------------------------------------------------------------
 * Links: an up/down change under routes or neighbours calls for a re-read
 */

static bool
nl_ifindex_used(const struct nl_mirror *m, int ifindex)
{
	struct nl_hnode *h, *hn;
	size_t i;
	unsigned int k;

	HTAB_FOREACH(&m->nbr, i, h, hn)
		if (container_of(h, struct nl_nbr, hn)->cur.ifindex == ifindex)
			return true;
	HTAB_FOREACH(&m->nho, i, h, hn)
		if (container_of(h, struct nl_nho, hn)->ifindex == ifindex)
			return true;
	HTAB_FOREACH(&m->pfx, i, h, hn) {
		const struct nl_pfx *p = container_of(h, struct nl_pfx, hn);
		const struct nl_rt *rt;

		for (rt = p->rts; rt != NULL; rt = rt->next)
			for (k = 0; k < rt->n_nh; k++)
				if (rt->nh[k].ifindex == ifindex)
					return true;
	}
	return false;
}

static bool
nl_link_msg(struct nl_mirror *m, const struct nlmsghdr *nlh, bool dump)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nl_link *l;
	bool changed;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return false;
	l = link_find(m, ifi->ifi_index);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (l == NULL)
			return false;
		htab_remove(&m->link, &l->hn);
		free(l);
		return !dump && nl_ifindex_used(m, ifi->ifi_index);
	}
	if (l == NULL) {
		l = calloc(1, sizeof(*l));
		if (l == NULL)
			return false;
		l->ifindex = ifi->ifi_index;
		l->flags = ifi->ifi_flags;
		l->hn.hash = link_hash(l->ifindex);
		htab_insert(&m->link, &l->hn);
		return false;
	}
	changed = (l->flags ^ ifi->ifi_flags) & IFF_UP;
	l->flags = ifi->ifi_flags;
	return changed && !dump && nl_ifindex_used(m, ifi->ifi_index);
}

/* ------------------------------------------------------------------------
 * Events and dumps
 */

static bool
nl_mirror_apply(struct sl_nl *nl, struct nl_mirror *m,
		const struct nlmsghdr *nlh, bool dump)
{
	bool routes = nl->table != 0 && nl->h.route != NULL;

	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (routes)
			nl_route_msg(nl, m, nlh, dump);
		break;
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		if (routes)
			nl_nho_msg(nl, m, nlh, dump);
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		if (nl->h.neigh != NULL)
			nl_neigh_msg(nl, m, nlh, dump);
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return nl_link_msg(m, nlh, dump);
	}
	return false;
}

bool
nl_mirror_event(struct sl_nl *nl, const struct nlmsghdr *nlh)
{
	bool resync = nl_mirror_apply(nl, nl->m, nlh, false);

	nl->stats.nh_routes = nl->m->nh_routes;
	return resync;
}

static int
nl_dump_cb(struct sl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	nl_mirror_apply(nl, data, nlh, true);
	return 0;
}

/* One dump request: type, family, and for routes the table (the kernel
 * filters by it when strict checking is on, 4.20+). */
static int
nl_dump(struct sl_nl *nl, struct nl_mirror *m, uint16_t type, uint8_t family,
	size_t hdrlen, const char *what)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	uint8_t *hdr;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	hdr[0] = family;	/* every rtnetlink header starts so */
	if (type == RTM_GETROUTE) {
		struct rtmsg *rtm = (struct rtmsg *)hdr;

		rtm->rtm_table = nl->table < 256 ? (uint8_t)nl->table :
			RT_TABLE_UNSPEC;
		mnl_attr_put_u32(nlh, RTA_TABLE, nl->table);
	}
	return nl_request(nl, nlh, nl_dump_cb, m, what);
}

static int
nl_mirror_read(struct sl_nl *nl, struct nl_mirror *m)
{
	bool routes = nl->table != 0 && nl->h.route != NULL;
	bool neigh = nl->h.neigh != NULL;
	int rc = 0;

	if (routes || neigh)
		rc = nl_dump(nl, m, RTM_GETLINK, AF_UNSPEC,
			     sizeof(struct ifinfomsg), "dump links");
	if (rc == 0 && routes) {
		rc = nl_dump(nl, m, RTM_GETNEXTHOP, AF_UNSPEC,
			     sizeof(struct nhmsg), "dump nexthop objects");
		if (rc == 0) {
			m->nho_known = true;
		} else if (rc != -EINTR) {
			/* Kernels before 5.3: no objects, routes carry their
			 * next hops themselves. */
			nl_log_once(nl, NL_LOG_NO_NH_OBJ, "netlink: no "
				    "nexthop objects (%s)", nl->errmsg);
			rc = 0;
		}
	}
	/* A table nobody wrote to does not exist yet: -ENOENT, empty. */
	if (rc == 0 && routes) {
		rc = nl_dump(nl, m, RTM_GETROUTE, AF_INET,
			     sizeof(struct rtmsg), "dump IPv4 routes");
		rc = rc == -ENOENT ? 0 : rc;
	}
	if (rc == 0 && routes) {
		rc = nl_dump(nl, m, RTM_GETROUTE, AF_INET6,
			     sizeof(struct rtmsg), "dump IPv6 routes");
		rc = rc == -ENOENT ? 0 : rc;
	}
	if (rc == 0 && neigh)
		rc = nl_dump(nl, m, RTM_GETNEIGH, AF_INET,
			     sizeof(struct ndmsg), "dump IPv4 neighbours");
	if (rc == 0 && neigh)
		rc = nl_dump(nl, m, RTM_GETNEIGH, AF_INET6,
			     sizeof(struct ndmsg), "dump IPv6 neighbours");
	return rc;
}

/* Report what differs between the mirror reported so far (old) and a fresh
 * one (nm); afterwards nm holds what was reported. */
static unsigned int
nl_mirror_diff(struct sl_nl *nl, struct nl_mirror *old, struct nl_mirror *nm)
{
	struct nl_hnode *h, *hn;
	unsigned int changes = 0;
	size_t i;

	HTAB_FOREACH(&nm->pfx, i, h, hn) {
		struct nl_pfx *p = container_of(h, struct nl_pfx, hn);
		struct nl_pfx *o = pfx_find(old, &p->key);

		p->reported = o != NULL ? o->reported : 0;
		changes += nl_pfx_eval(nl, nm, p);
	}
	HTAB_FOREACH(&old->pfx, i, h, hn) {
		struct nl_pfx *o = container_of(h, struct nl_pfx, hn);

		if (o->reported != 0 && pfx_find(nm, &o->key) == NULL) {
			report_route_del(nl, &o->key);
			changes++;
		}
	}
	HTAB_FOREACH(&nm->nbr, i, h, hn) {
		struct nl_nbr *b = container_of(h, struct nl_nbr, hn);
		struct nl_nbr *o = nbr_find(old, b->cur.ifindex, &b->cur.addr);

		if (o != NULL) {
			b->reported = o->reported;
			b->rep = o->rep;
		}
		changes += nl_nbr_eval(nl, nm, b, NUD_NONE, false);
	}
	HTAB_FOREACH(&old->nbr, i, h, hn) {
		struct nl_nbr *o = container_of(h, struct nl_nbr, hn);

		if (o->reported &&
		    nbr_find(nm, o->cur.ifindex, &o->cur.addr) == NULL) {
			report_neigh(nl, false, &o->cur);
			changes++;
		}
	}
	return changes;
}

int
nl_mirror_sync(struct sl_nl *nl, unsigned int *changes)
{
	struct nl_mirror *nm;
	unsigned int attempt;
	int rc;

	*changes = 0;
	for (attempt = 0;; attempt++) {
		nm = nl_mirror_new();
		if (nm == NULL)
			return nl_fail(nl, -ENOMEM, "netlink dump: out of memory");
		rc = nl_mirror_read(nl, nm);
		if (rc != -EINTR)
			break;
		nl->stats.dump_retries++;
		if (attempt + 1 == NL_DUMP_RETRIES) {
			rc = 0;	/* the events queued meanwhile mend it */
			break;
		}
		nl_mirror_free(nm);
	}
	if (rc < 0) {
		nl_mirror_free(nm);
		return rc;
	}
	*changes = nl_mirror_diff(nl, nl->m, nm);
	nl_mirror_free(nl->m);
	nl->m = nm;
	nl->stats.nh_objects = nm->nho.count;
	nl->stats.nh_routes = nm->nh_routes;
	return 0;
}

/* ------------------------------------------------------------------------
 * Resolution
 */

int
sl_nl_resolve(struct sl_nl *nl, int ifindex, const struct sl_prefix *addr)
{
	char buf[256], what[96], a[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	if (addr == NULL || (addr->family != SL_FAMILY_IPV4 &&
			     addr->family != SL_FAMILY_IPV6) || ifindex <= 0)
		return nl_fail(nl, -EINVAL, "resolve: needs an IPv4 or IPv6 "
			       "address and an interface");
	snprintf(what, sizeof(what), "resolve %s on ifindex %d",
		 nl_prefix_str(addr, a, sizeof(a)), ifindex);
	/* NTF_USE: neigh_event_send(), what a packet waiting for the
	 * neighbour does - it solicits when the entry is new, incomplete or
	 * failed, re-probes a stale one, and sends nothing itself. */
	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_ACK | NLM_F_CREATE;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = addr->family == SL_FAMILY_IPV4 ? AF_INET : AF_INET6;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = NUD_NONE;
	ndm->ndm_flags = NTF_USE;
	mnl_attr_put(nlh, NDA_DST, addr->family == SL_FAMILY_IPV4 ? 4 : 16,
		     addr->addr);
	return nl_request(nl, nlh, NULL, NULL, what);
}
