/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The route table through the calls the control thread and the workers
 * make: longest-prefix match against a naive oracle (a list of prefixes
 * scanned linearly) on random overlapping tables under random changes,
 * source precedence, path and next-hop sharing, ECMP spread and flow
 * stickiness, full tables, neighbours, local addresses, resolution
 * requests, and a reader running while the writer changes routes.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "route.h"
#include "test_eal.h"
#include "test_util.h"

#define SEED 0x5eedULL

static unsigned int table_seq;

/* xorshift64*: reproducible randomness. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	return test_rng(&rng_state);
}

static struct rt_table *
new_table_p(struct rt_params *p)
{
	char name[16];
	struct rt_table *t;

	snprintf(name, sizeof(name), "rt%u", table_seq++);
	p->name = name;
	if (p->max_routes_ipv4 == 0)
		p->max_routes_ipv4 = 1024;
	if (p->max_routes_ipv6 == 0)
		p->max_routes_ipv6 = 1024;
	t = rt_create(p);
	assert_non_null(t);
	return t;
}

static struct rt_table *
new_table(void)
{
	struct rt_params p = { .nb_workers = 1 };

	return new_table_p(&p);
}

static struct sl_prefix
pfx4(uint32_t a, uint8_t len)
{
	struct sl_prefix p = { .family = SL_FAMILY_IPV4, .len = len };
	uint32_t be;

	if (len < 32)
		a &= len == 0 ? 0 : ~(UINT32_MAX >> len);
	be = rte_cpu_to_be_32(a);
	memcpy(p.addr, &be, 4);
	return p;
}

/* Pointers to temporaries, for calls. */
#define P4(...) ((struct sl_prefix[1]){ pfx4(__VA_ARGS__) })
#define P6(...) ((struct sl_prefix[1]){ pfx6(__VA_ARGS__) })

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* IPv6 from two host-order halves. */
static struct sl_prefix
pfx6(uint64_t hi, uint64_t lo, uint8_t len)
{
	struct sl_prefix p = { .family = SL_FAMILY_IPV6, .len = len };

	if (len < 64) {
		hi &= len == 0 ? 0 : ~(UINT64_MAX >> len);
		lo = 0;
	} else if (len < 128) {
		lo &= len == 64 ? 0 : ~(UINT64_MAX >> (len - 64));
	}
	hi = rte_cpu_to_be_64(hi);
	lo = rte_cpu_to_be_64(lo);
	memcpy(p.addr, &hi, 8);
	memcpy(p.addr + 8, &lo, 8);
	return p;
}

/* An interface address: host bits kept. */
static struct sl_prefix
ifaddr(struct sl_prefix host, uint8_t len)
{
	host.len = len;
	return host;
}

static struct rt_nexthop_spec
gw4(uint16_t port, uint32_t a, uint16_t weight)
{
	struct rt_nexthop_spec n = { .family = SL_FAMILY_IPV4,
				     .has_gateway = true, .port = port,
				     .weight = weight };
	uint32_t be = rte_cpu_to_be_32(a);

	memcpy(n.gateway, &be, 4);
	return n;
}

static struct rt_nexthop_spec
gw6(uint16_t port, uint64_t lo, uint16_t weight)
{
	struct sl_prefix p = pfx6(0x20010db8ffff0000ULL, lo, 128);
	struct rt_nexthop_spec n = { .family = SL_FAMILY_IPV6,
				     .has_gateway = true, .port = port,
				     .weight = weight };

	memcpy(n.gateway, p.addr, 16);
	return n;
}

static struct rt_nexthop_spec
onlink(uint16_t port)
{
	return (struct rt_nexthop_spec){ .port = port, .weight = 1 };
}

static struct rte_ether_addr
mac_of(uint32_t x)
{
	struct rte_ether_addr m = {
		{ 0x02, 0x00, (uint8_t)(x >> 24), (uint8_t)(x >> 16),
		  (uint8_t)(x >> 8), (uint8_t)x } };

	return m;
}

/* A parsed packet from src to dst (addresses of a prefix, len ignored). */
static struct sl_pkt_meta
pkt(const struct sl_prefix *src, const struct sl_prefix *dst, uint16_t sport,
    uint16_t dport)
{
	struct sl_pkt_meta m;
	unsigned int alen = dst->family == SL_FAMILY_IPV4 ? 4 : 16;

	memset(&m, 0, sizeof(m));
	m.l3 = dst->family == SL_FAMILY_IPV4 ? SL_L3_IPV4 : SL_L3_IPV6;
	m.l4_proto = 17;
	m.ttl = 64;
	m.sport = sport;
	m.dport = dport;
	m.key_swapped = sl_flow_key_make(&m.key, dst->family, 17, src->addr,
					 dst->addr, alen, sport, dport);
	return m;
}

static const struct sl_prefix *
src_for(uint8_t family)
{
	static struct sl_prefix s4, s6;

	s4 = pfx4(IP4(198, 51, 100, 1), 32);
	s6 = pfx6(0x20010db8eeee0000ULL, 1, 128);
	return family == SL_FAMILY_IPV4 ? &s4 : &s6;
}

static struct rt_result
lookup(struct rt_table *t, const struct sl_prefix *dst)
{
	struct sl_pkt_meta m = pkt(src_for(dst->family), dst, 1000, 53);
	const struct sl_pkt_meta *v[1] = { &m };
	struct rt_result r;

	assert_int_equal(rt_lookup_burst(t, v, NULL, SEED, 1, &r), 1);
	return r;
}

static bool
gw_is(const struct rt_result *r, const struct rt_nexthop_spec *n)
{
	return r->nh != NULL && (r->nh->flags & RT_NH_GATEWAY) &&
	       r->nh->port == n->port &&
	       memcmp(r->nh->gateway, n->gateway, 16) == 0;
}

/* ------------------------------------------------------------------------
 * The oracle: every route in a list, longest match by linear scan.
 */

#define GWS 48			/* distinct gateways per family */
#define ORACLE_MAX 20000

struct oroute {
	uint64_t net[2];	/* host order, masked */
	uint64_t mask[2];
	uint8_t len;
	uint8_t n;		/* next hops (indexes into the gateway pool) */
	uint8_t gw[3];
	bool onlink;
	uint16_t onlink_port;
};

struct oracle {
	uint8_t family;
	struct oroute r[ORACLE_MAX];
	unsigned int n;
	struct rt_nexthop_spec gws[GWS];
};

static void
addr_words(const struct sl_prefix *p, uint64_t w[2])
{
	if (p->family == SL_FAMILY_IPV4) {
		uint32_t a;

		memcpy(&a, p->addr, 4);
		w[0] = rte_be_to_cpu_32(a);
		w[1] = 0;
	} else {
		memcpy(&w[0], p->addr, 8);
		memcpy(&w[1], p->addr + 8, 8);
		w[0] = rte_be_to_cpu_64(w[0]);
		w[1] = rte_be_to_cpu_64(w[1]);
	}
}

static void
len_mask(uint8_t family, uint8_t len, uint64_t m[2])
{
	if (family == SL_FAMILY_IPV4) {
		m[0] = len == 0 ? 0 : (UINT32_MAX << (32 - len)) & UINT32_MAX;
		m[1] = 0;
		return;
	}
	m[0] = len == 0 ? 0 : len >= 64 ? UINT64_MAX : UINT64_MAX << (64 - len);
	m[1] = len <= 64 ? 0 : len == 128 ? UINT64_MAX :
		UINT64_MAX << (128 - len);
}

static int
oracle_find(const struct oracle *o, const struct sl_prefix *p)
{
	uint64_t w[2];

	addr_words(p, w);
	for (unsigned int i = 0; i < o->n; i++)
		if (o->r[i].len == p->len && o->r[i].net[0] == w[0] &&
		    o->r[i].net[1] == w[1])
			return (int)i;
	return -1;
}

static const struct oroute *
oracle_match(const struct oracle *o, const struct sl_prefix *dst)
{
	const struct oroute *best = NULL;
	uint64_t w[2];

	addr_words(dst, w);
	for (unsigned int i = 0; i < o->n; i++) {
		const struct oroute *r = &o->r[i];

		if ((w[0] & r->mask[0]) == r->net[0] &&
		    (w[1] & r->mask[1]) == r->net[1] &&
		    (best == NULL || r->len > best->len))
			best = r;
	}
	return best;
}

static struct sl_prefix
oroute_prefix(const struct oracle *o, const struct oroute *r)
{
	return o->family == SL_FAMILY_IPV4 ?
		pfx4((uint32_t)r->net[0], r->len) :
		pfx6(r->net[0], r->net[1], r->len);
}

/* A random prefix close to one of a few bases, so prefixes nest. */
static struct sl_prefix
random_prefix(uint8_t family)
{
	static const uint32_t base4[4] = {
		IP4(10, 0, 0, 0), IP4(172, 16, 0, 0), IP4(192, 168, 0, 0),
		IP4(100, 64, 0, 0),
	};
	static const uint64_t base6[4] = {
		0x20010db800000000ULL, 0x20010db8aaaa0000ULL,
		0xfd00000000000000ULL, 0x2a02000000000000ULL,
	};
	uint64_t r = rnd();

	if (family == SL_FAMILY_IPV4) {
		uint8_t len = (uint8_t)(8 + rnd() % 25);	/* 8..32 */

		if (rnd() % 64 == 0)
			len = (uint8_t)(rnd() % 8);	/* a few short ones */
		return pfx4(base4[r % 4] ^ ((uint32_t)rnd() >> (8 + r % 12)),
			    len);
	}
	/* Mostly 16..64, some longer up to 128. */
	uint8_t len = (uint8_t)(rnd() % 4 ? 16 + rnd() % 49 : 65 + rnd() % 64);

	if (rnd() % 64 == 0)
		len = (uint8_t)(rnd() % 16);
	return pfx6(base6[r % 4] ^ (rnd() >> (16 + r % 24)),
		    rnd() >> (r % 64), len);
}

/* A destination: inside a random route's prefix half of the time. */
static struct sl_prefix
random_dst(const struct oracle *o)
{
	struct sl_prefix p;
	uint64_t w[2];

	for (;;) {
		if (o->n > 0 && rnd() % 2) {
			const struct oroute *r = &o->r[rnd() % o->n];

			w[0] = r->net[0] | (rnd() & ~r->mask[0]);
			w[1] = r->net[1] | (rnd() & ~r->mask[1]);
		} else {
			p = random_prefix(o->family);
			addr_words(&p, w);
			w[0] |= rnd() & (o->family == SL_FAMILY_IPV4 ?
					 0xff : 0xffff);
		}
		p = o->family == SL_FAMILY_IPV4 ?
			pfx4((uint32_t)w[0], 32) : pfx6(w[0], w[1], 128);
		if (rt_dst_class(o->family, p.addr) == RT_FORWARD)
			return p;
	}
}

static void
oracle_init(struct oracle *o, uint8_t family)
{
	memset(o, 0, sizeof(*o));
	o->family = family;
	for (unsigned int g = 0; g < GWS; g++)
		o->gws[g] = family == SL_FAMILY_IPV4 ?
			gw4((uint16_t)(g % 4), IP4(192, 0, 2, 1 + g), 1) :
			gw6((uint16_t)(g % 4), 1 + g, 1);
}

/* Set a random route (new or replacing) in both. */
static void
oracle_set_random(struct oracle *o, struct rt_table *t,
		  const struct sl_prefix *given)
{
	struct sl_prefix p = given != NULL ? *given : random_prefix(o->family);
	struct rt_nexthop_spec nh[3];
	struct oroute r = { .len = p.len };
	int at = oracle_find(o, &p);

	addr_words(&p, r.net);
	len_mask(o->family, p.len, r.mask);
	if (rnd() % 16 == 0) {
		r.onlink = true;
		r.onlink_port = (uint16_t)(rnd() % 4);
		r.n = 1;
		nh[0] = onlink(r.onlink_port);
	} else {
		r.n = (uint8_t)(rnd() % 8 == 0 ? 2 + rnd() % 2 : 1);
		for (unsigned int k = 0; k < r.n; k++) {
			r.gw[k] = (uint8_t)((rnd() % GWS + k) % GWS);
			nh[k] = o->gws[r.gw[k]];
			nh[k].weight = (uint16_t)(1 + rnd() % 4);
		}
	}
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &p, nh, r.n), 0);
	if (at >= 0) {
		o->r[at] = r;
	} else {
		assert_true(o->n < ORACLE_MAX);
		o->r[o->n++] = r;
	}
}

static void
oracle_unset_random(struct oracle *o, struct rt_table *t)
{
	unsigned int i;
	struct sl_prefix p;

	if (o->n == 0)
		return;
	i = (unsigned int)(rnd() % o->n);
	p = oroute_prefix(o, &o->r[i]);
	assert_int_equal(rt_unset(t, RT_SRC_STATIC, &p), 0);
	o->r[i] = o->r[--o->n];
}

/* n random destinations: the table's answer is the oracle's. */
static void
oracle_check(const struct oracle *o, struct rt_table *t, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		struct sl_prefix d = random_dst(o);
		const struct oroute *want = oracle_match(o, &d);
		struct rt_result r = lookup(t, &d);
		char buf[SL_PREFIX_STRLEN];

		if (want == NULL) {
			if (r.verdict != RT_NO_ROUTE)
				fail_msg("%s: no route expected, verdict %u",
					 sl_prefix_format(&d, false, buf),
					 r.verdict);
			continue;
		}
		if (want->onlink) {
			if (r.verdict != RT_UNRESOLVED ||
			    r.port != want->onlink_port ||
			    (r.nh->flags & RT_NH_GATEWAY))
				fail_msg("%s: on-link via port %u expected",
					 sl_prefix_format(&d, false, buf),
					 want->onlink_port);
			continue;
		}
		bool ok = false;

		for (unsigned int g = 0; g < want->n; g++)
			ok |= r.verdict == RT_FORWARD &&
			      gw_is(&r, &o->gws[want->gw[g]]);
		if (!ok)
			fail_msg("%s: route /%u expected, got verdict %u port %u",
				 sl_prefix_format(&d, false, buf), want->len,
				 r.verdict, r.port);
	}
}

static void
oracle_resolve_gateways(const struct oracle *o, struct rt_table *t)
{
	for (unsigned int g = 0; g < GWS; g++) {
		struct rte_ether_addr m = mac_of(g);

		assert_int_equal(rt_neigh_update(t, o->gws[g].port, o->family,
						 o->gws[g].gateway, &m), 0);
	}
}

static void
random_table_against_oracle(uint8_t family)
{
	struct rt_params p = {
		.max_routes_ipv4 = 32768, .max_routes_ipv6 = 32768,
		.tbl8_ipv4 = 8192, .tbl8_ipv6 = 131072,
	};
	struct rt_table *t = new_table_p(&p);
	struct oracle *o = calloc(1, sizeof(*o));
	struct rt_stats st;

	assert_non_null(o);
	oracle_init(o, family);
	oracle_resolve_gateways(o, t);
	while (o->n < 10000)
		oracle_set_random(o, t, NULL);
	oracle_check(o, t, 50000);
	/* Changes interleaved with lookups. */
	for (unsigned int round = 0; round < 20; round++) {
		for (unsigned int k = 0; k < 300; k++) {
			unsigned int op = (unsigned int)(rnd() % 3);

			if (op == 0) {
				oracle_unset_random(o, t);
			} else if (op == 1 && o->n > 0) {
				struct sl_prefix q =
					oroute_prefix(o, &o->r[rnd() % o->n]);

				oracle_set_random(o, t, &q);	/* replace */
			} else {
				oracle_set_random(o, t, NULL);
			}
		}
		oracle_check(o, t, 2500);
	}
	rt_stats(t, &st);
	assert_int_equal(st.routes[family == SL_FAMILY_IPV6][RT_SRC_STATIC],
			 o->n);
	assert_int_equal(st.prefixes[family == SL_FAMILY_IPV6], o->n);
	/* Everything gone: nothing is left behind. */
	while (o->n > 0)
		oracle_unset_random(o, t);
	oracle_check(o, t, 1000);
	rt_stats(t, &st);
	assert_int_equal(st.paths, 0);
	assert_int_equal(st.nexthops, 0);
	assert_int_equal(st.prefixes[0] + st.prefixes[1], 0);
	free(o);
	rt_free(t);
}

static void
test_ipv4_lookups_match_a_linear_scan_through_random_changes(void **state)
{
	(void)state;
	random_table_against_oracle(SL_FAMILY_IPV4);
}

static void
test_ipv6_lookups_match_a_linear_scan_through_random_changes(void **state)
{
	(void)state;
	random_table_against_oracle(SL_FAMILY_IPV6);
}

/* ------------------------------------------------------------------------
 * Sources, sharing, sync
 */

static void
test_connected_beats_static_beats_kernel_and_removal_uncovers(void **state)
{
	struct rt_table *t = new_table();
	struct sl_prefix net = pfx4(IP4(10, 1, 0, 0), 16);
	struct sl_prefix addr = ifaddr(pfx4(IP4(10, 1, 0, 1), 32), 16);
	struct sl_prefix dst = pfx4(IP4(10, 1, 2, 3), 32);
	struct rt_nexthop_spec k = gw4(1, IP4(192, 0, 2, 1), 1);
	struct rt_nexthop_spec s = gw4(2, IP4(192, 0, 2, 2), 1);
	struct rte_ether_addr m = mac_of(7);
	struct rt_result r;
	enum rt_source src;

	(void)state;
	rt_neigh_update(t, 1, SL_FAMILY_IPV4, k.gateway, &m);
	rt_neigh_update(t, 2, SL_FAMILY_IPV4, s.gateway, &m);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &net, &k, 1), 0);
	r = lookup(t, &dst);
	assert_true(gw_is(&r, &k));
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &net, &s, 1), 0);
	r = lookup(t, &dst);
	assert_true(gw_is(&r, &s));
	assert_int_equal(rt_get(t, &net, &src, NULL, 0), 1);
	assert_int_equal(src, RT_SRC_STATIC);
	/* A kernel change or resync does not touch the static route. */
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &net, &s, 1), 0);
	assert_int_equal(rt_flush_source(t, RT_SRC_KERNEL), 1);
	r = lookup(t, &dst);
	assert_true(gw_is(&r, &s));
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &net, &k, 1), 0);
	/* The port's address: connected wins, on-link out of port 3. */
	assert_int_equal(rt_set_local(t, 3, &addr), 0);
	r = lookup(t, &dst);
	assert_int_equal(r.verdict, RT_UNRESOLVED);
	assert_int_equal(r.port, 3);
	assert_int_equal(rt_flush_source(t, RT_SRC_KERNEL), 1);
	assert_int_equal(rt_flush_source(t, RT_SRC_STATIC), 1);
	r = lookup(t, &dst);
	assert_int_equal(r.port, 3);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &net, &k, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &net, &s, 1), 0);
	/* Removal uncovers the next source down. */
	assert_int_equal(rt_unset_local(t, 3, &addr), 0);
	r = lookup(t, &dst);
	assert_true(gw_is(&r, &s));
	assert_int_equal(rt_unset(t, RT_SRC_STATIC, &net), 0);
	r = lookup(t, &dst);
	assert_true(gw_is(&r, &k));
	assert_int_equal(rt_unset(t, RT_SRC_STATIC, &net), -ENOENT);
	assert_int_equal(rt_unset(t, RT_SRC_KERNEL, &net), 0);
	assert_int_equal(lookup(t, &dst).verdict, RT_NO_ROUTE);
	rt_free(t);
}

static void
test_routes_share_paths_and_next_hops_and_free_them_all(void **state)
{
	struct rt_table *t = new_table_p(&(struct rt_params){
		.max_routes_ipv4 = 4096, .max_routes_ipv6 = 4096 });
	struct rt_nexthop_spec g[4];
	struct rt_nexthop_spec ecmp_a[3], ecmp_b[3];
	struct sl_prefix p30 = pfx4(IP4(30, 0, 0, 0), 8);
	struct sl_prefix p31 = pfx4(IP4(31, 0, 0, 0), 8);
	struct rt_stats st;

	(void)state;
	for (unsigned int i = 0; i < 4; i++)
		g[i] = gw4((uint16_t)i, IP4(192, 0, 2, 1 + i), 1);
	for (unsigned int i = 0; i < 2000; i++) {
		struct sl_prefix p = pfx4(IP4(20, i >> 8, i & 0xff, 0), 24);
		struct sl_prefix q = pfx6(0x20010db800000000ULL | (uint64_t)i << 16,
					  0, 48);

		assert_int_equal(rt_set(t, RT_SRC_KERNEL, &p, &g[i % 4], 1), 0);
		assert_int_equal(rt_set(t, RT_SRC_STATIC, &q, &g[i % 4], 1), 0);
	}
	rt_stats(t, &st);
	assert_int_equal(st.paths, 4);
	assert_int_equal(st.nexthops, 4);
	assert_int_equal(st.routes[0][RT_SRC_KERNEL], 2000);
	assert_int_equal(st.routes[1][RT_SRC_STATIC], 2000);
	/* The same ECMP set in another order, weights scaled: one path. */
	ecmp_a[0] = gw4(0, IP4(192, 0, 2, 1), 1);
	ecmp_a[1] = gw4(1, IP4(192, 0, 2, 2), 2);
	ecmp_a[2] = gw4(2, IP4(192, 0, 2, 3), 3);
	ecmp_b[0] = gw4(2, IP4(192, 0, 2, 3), 9);
	ecmp_b[1] = gw4(0, IP4(192, 0, 2, 1), 3);
	ecmp_b[2] = gw4(1, IP4(192, 0, 2, 2), 6);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &p30, ecmp_a, 3), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &p31, ecmp_b, 3), 0);
	rt_stats(t, &st);
	assert_int_equal(st.paths, 5);
	assert_int_equal(st.nexthops, 4);
	/* Everything removed: refcounts back to zero. */
	assert_int_equal(rt_flush_source(t, RT_SRC_KERNEL), 2000);
	assert_int_equal(rt_flush_source(t, RT_SRC_STATIC), 2002);
	rt_stats(t, &st);
	assert_int_equal(st.paths, 0);
	assert_int_equal(st.nexthops, 0);
	assert_int_equal(st.prefixes[0] + st.prefixes[1], 0);
	assert_int_equal(st.retired, 0);	/* no qsbr: freed at once */
	rt_free(t);
}

static void
test_sync_static_touches_only_what_changed(void **state)
{
	struct rt_table *t = new_table_p(&(struct rt_params){
		.max_routes_ipv4 = 8192 });
	enum { N = 5000 };
	struct rt_route_spec *routes = calloc(N, sizeof(*routes));
	struct rt_nexthop_spec g[2] = { gw4(0, IP4(192, 0, 2, 1), 1),
					gw4(1, IP4(192, 0, 2, 2), 1) };
	struct rt_nexthop_spec other = gw4(1, IP4(192, 0, 2, 9), 1);
	struct rt_stats a, b;
	struct sl_prefix extra = pfx4(IP4(99, 0, 0, 0), 8);

	(void)state;
	for (unsigned int i = 0; i < N; i++) {
		routes[i].prefix = pfx4(IP4(40, i >> 8, i & 0xff, 0), 24);
		routes[i].nexthops = &g[i % 2];
		routes[i].n_nexthops = 1;
	}
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &routes[7].prefix, &other, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &extra, &other, 1), 0);
	assert_int_equal(rt_sync_static(t, routes, N), 0);
	rt_stats(t, &a);
	assert_int_equal(a.routes[0][RT_SRC_STATIC], N);	/* extra is gone */
	assert_int_equal(a.routes[0][RT_SRC_KERNEL], 1);
	assert_int_equal(lookup(t, &extra).verdict, RT_NO_ROUTE);
	/* The same list again: no LPM write at all. */
	assert_int_equal(rt_sync_static(t, routes, N), 0);
	rt_stats(t, &b);
	assert_int_equal(b.updates, a.updates);
	/* One route changed, one dropped: two writes. */
	routes[100].nexthops = &other;
	assert_int_equal(rt_sync_static(t, routes, N - 1), 0);
	rt_stats(t, &b);
	assert_int_equal(b.updates - a.updates, 2);
	assert_int_equal(b.routes[0][RT_SRC_STATIC], N - 1);
	/* Dropping a static route the kernel also has uncovers the kernel's. */
	routes[7] = routes[N - 2];
	assert_int_equal(rt_sync_static(t, routes, N - 2), 0);
	{
		enum rt_source src;
		struct rt_nexthop_spec got;

		assert_int_equal(rt_get(t, &(struct sl_prefix){
				.family = SL_FAMILY_IPV4, .len = 24,
				.addr = { 40, 0, 7 } }, &src, &got, 1), 1);
		assert_int_equal(src, RT_SRC_KERNEL);
		assert_memory_equal(got.gateway, other.gateway, 4);
	}
	/* A bad entry anywhere refuses the whole list. */
	routes[N / 2].n_nexthops = 0;
	rt_stats(t, &a);
	assert_int_equal(rt_sync_static(t, routes, N - 2), -EINVAL);
	rt_stats(t, &b);
	assert_int_equal(b.updates, a.updates);
	free(routes);
	rt_free(t);
}

static void
test_kernel_resync_removes_only_routes_not_set_again(void **state)
{
	struct rt_table *t = new_table();
	struct rt_nexthop_spec g1 = gw4(0, IP4(192, 0, 2, 1), 1);
	struct rt_nexthop_spec g2 = gw4(1, IP4(192, 0, 2, 2), 1);
	struct sl_prefix a = pfx4(IP4(10, 0, 0, 0), 8);
	struct sl_prefix b = pfx4(IP4(11, 0, 0, 0), 8);
	struct sl_prefix c = pfx4(IP4(12, 0, 0, 0), 8);
	struct sl_prefix d = pfx4(IP4(13, 0, 0, 0), 8);
	struct rt_stats before, after;
	enum rt_source src;

	(void)state;
	assert_int_equal(rt_resync_end(t), -EINVAL);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &a, &g1, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &b, &g1, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &c, &g1, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &b, &g2, 1), 0);
	rt_stats(t, &before);
	assert_int_equal(rt_resync_begin(t, RT_SRC_KERNEL), 0);
	assert_int_equal(rt_resync_begin(t, RT_SRC_STATIC), -EINVAL);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &a, &g1, 1), 0);	/* same */
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &c, &g2, 1), 0);	/* changed */
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &d, &g1, 1), 0);	/* new */
	assert_int_equal(rt_resync_end(t), 1);				/* b */
	rt_stats(t, &after);
	/* c and d were written; a was not; b's kernel route was not in
	 * force (its static one is), so removing it writes nothing. */
	assert_int_equal(after.updates - before.updates, 2);
	assert_int_equal(after.routes[0][RT_SRC_KERNEL], 3);
	assert_int_equal(rt_get(t, &b, &src, NULL, 0), 1);
	assert_int_equal(src, RT_SRC_STATIC);
	assert_int_equal(rt_unset(t, RT_SRC_KERNEL, &b), -ENOENT);
	rt_free(t);
}

/* ------------------------------------------------------------------------
 * ECMP
 */

static void
test_ecmp_members_get_their_weight_and_a_flow_keeps_its_member(void **state)
{
	struct rt_table *t = new_table();
	struct sl_prefix net = pfx6(0x20010db800000000ULL, 0, 32);
	struct rt_nexthop_spec nh[3] = { gw6(0, 1, 1), gw6(1, 2, 3),
					 gw6(2, 3, 4) };
	unsigned int count[3] = { 0 };
	const unsigned int n = 100000, total_w = 8;

	(void)state;
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &net, nh, 3), 0);
	for (unsigned int i = 0; i < 3; i++) {
		struct rte_ether_addr m = mac_of(i);

		rt_neigh_update(t, nh[i].port, SL_FAMILY_IPV6, nh[i].gateway, &m);
	}
	for (unsigned int i = 0; i < n; i++) {
		struct sl_prefix d = pfx6(0x20010db800000000ULL | (rnd() >> 32),
					  rnd(), 128);
		struct sl_prefix s = pfx6(0x2a02000000000000ULL, rnd(), 128);
		uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
		struct sl_pkt_meta fwd = pkt(&s, &d, sp, dp);
		struct sl_pkt_meta rev = pkt(&d, &s, dp, sp);
		const struct sl_pkt_meta *v[1] = { &fwd };
		struct rt_result a, b;
		uint64_t h = sl_flow_hash(&fwd.key, SEED);

		rt_lookup_burst(t, v, NULL, SEED, 1, &a);
		assert_int_equal(a.verdict, RT_FORWARD);
		/* The same hash given by the caller picks the same member. */
		rt_lookup_burst(t, v, &h, SEED, 1, &b);
		assert_ptr_equal(a.nh, b.nh);
		/* The reverse direction has the same symmetric key. */
		assert_memory_equal(&fwd.key, &rev.key, sizeof(fwd.key));
		for (unsigned int k = 0; k < 3; k++)
			if (gw_is(&a, &nh[k]))
				count[k]++;
	}
	for (unsigned int k = 0; k < 3; k++) {
		double want = (double)n * nh[k].weight / total_w;
		double got = count[k];

		if (got < want * 0.95 || got > want * 1.05)
			fail_msg("member %u: %.0f packets, %.0f expected", k,
				 got, want);
	}
	rt_free(t);
}

static void
test_both_directions_of_a_flow_pick_the_same_member(void **state)
{
	struct rt_table *t = new_table();
	struct rt_nexthop_spec nh[4];
	struct sl_prefix all = pfx4(0, 0);

	(void)state;
	for (unsigned int i = 0; i < 4; i++) {
		struct rte_ether_addr m = mac_of(i);

		nh[i] = gw4((uint16_t)i, IP4(192, 0, 2, 1 + i), 1);
		rt_neigh_update(t, nh[i].port, SL_FAMILY_IPV4, nh[i].gateway, &m);
	}
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &all, nh, 4), 0);
	for (unsigned int i = 0; i < 10000; i++) {
		struct sl_prefix a = pfx4(IP4(11, 0, 0, 0) | ((uint32_t)rnd() >> 8), 32);
		struct sl_prefix b = pfx4(IP4(12, 0, 0, 0) | ((uint32_t)rnd() >> 8), 32);
		uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
		struct sl_pkt_meta fwd = pkt(&a, &b, sp, dp);
		struct sl_pkt_meta rev = pkt(&b, &a, dp, sp);
		const struct sl_pkt_meta *v[2] = { &fwd, &rev };
		struct rt_result r[2];

		rt_lookup_burst(t, v, NULL, SEED, 2, r);
		assert_int_equal(r[0].verdict, RT_FORWARD);
		assert_ptr_equal(r[0].nh, r[1].nh);
	}
	rt_free(t);
}

/* ------------------------------------------------------------------------
 * Full tables
 */

static void
test_full_tables_refuse_with_enospc_and_change_nothing(void **state)
{
	struct rt_table *t = new_table_p(&(struct rt_params){
		.max_routes_ipv4 = 16, .max_routes_ipv6 = 16,
		.tbl8_ipv4 = 2, .tbl8_ipv6 = 4, .max_paths = 3 });
	struct rt_nexthop_spec g = gw4(0, IP4(192, 0, 2, 1), 1);
	struct rt_nexthop_spec h = gw4(1, IP4(192, 0, 2, 2), 1);
	struct sl_prefix cover = pfx4(IP4(10, 0, 0, 0), 8);
	struct rt_stats a, b;
	struct rte_ether_addr m = mac_of(1);
	struct rt_result r;
	int rc;

	(void)state;
	rt_neigh_update(t, 0, SL_FAMILY_IPV4, g.gateway, &m);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &cover, &g, 1), 0);
	/* tbl8 groups: one per /24 holding longer prefixes. */
	assert_int_equal(rt_set(t, RT_SRC_STATIC,
				&(struct sl_prefix){ .family = 4, .len = 25,
						     .addr = { 10, 0, 1, 0 } },
				&h, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC,
				&(struct sl_prefix){ .family = 4, .len = 30,
						     .addr = { 10, 0, 2, 4 } },
				&h, 1), 0);
	rt_stats(t, &a);
	rc = rt_set(t, RT_SRC_STATIC,
		    &(struct sl_prefix){ .family = 4, .len = 32,
					 .addr = { 10, 0, 3, 1 } }, &h, 1);
	assert_int_equal(rc, -ENOSPC);
	rt_stats(t, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	r = lookup(t, P4(IP4(10, 0, 3, 1), 32));
	assert_true(gw_is(&r, &g));
	/* Another /32 in a /24 that has a group already fits. */
	assert_int_equal(rt_set(t, RT_SRC_STATIC,
				&(struct sl_prefix){ .family = 4, .len = 32,
						     .addr = { 10, 0, 2, 99 } },
				&h, 1), 0);
	/* Prefixes: 16 at most per family. */
	for (unsigned int i = 4; i < 16; i++)
		assert_int_equal(rt_set(t, RT_SRC_KERNEL,
					&(struct sl_prefix){ .family = 4,
						.len = 16, .addr = { 11, (uint8_t)i } },
					&g, 1), 0);
	rt_stats(t, &a);
	assert_int_equal(a.prefixes[0], 16);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL,
				&(struct sl_prefix){ .family = 4, .len = 16,
						     .addr = { 12, 1 } },
				&g, 1), -ENOSPC);
	rt_stats(t, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(lookup(t, P4(IP4(12, 1, 0, 1), 32)).verdict,
			 RT_NO_ROUTE);
	/* A replacement needs no new prefix: it fits. */
	assert_int_equal(rt_set(t, RT_SRC_KERNEL,
				&(struct sl_prefix){ .family = 4, .len = 16,
						     .addr = { 11, 4 } },
				&h, 1), 0);
	/* Paths: g, h, and a third; a fourth distinct set has no room. */
	{
		struct rt_nexthop_spec two[2] = { g, h };
		struct rt_nexthop_spec x = gw4(3, IP4(192, 0, 2, 3), 1);

		assert_int_equal(rt_set(t, RT_SRC_STATIC, &cover, two, 2), 0);
		rt_stats(t, &a);
		assert_int_equal(a.paths, 3);
		assert_int_equal(rt_set(t, RT_SRC_STATIC,
					&(struct sl_prefix){ .family = 4,
						.len = 16, .addr = { 11, 5 } },
					&x, 1), -ENOSPC);
		rt_stats(t, &b);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	/* IPv6 tbl8 groups (4): a prefix takes one per byte past the
	 * first three, shared with the prefixes above it. */
	{
		struct sl_prefix p40 = pfx6(0x20010db800000000ULL, 0, 40);
		struct sl_prefix p48 = pfx6(0x20010db800000000ULL, 0, 48);
		struct sl_prefix p64 = pfx6(0x2a02000000000000ULL, 0, 64);

		assert_int_equal(rt_set(t, RT_SRC_STATIC, &p40, &g, 1), 0);
		rt_stats(t, &a);
		assert_int_equal(rt_set(t, RT_SRC_STATIC, &p64, &g, 1), -ENOSPC);
		rt_stats(t, &b);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_int_equal(lookup(t, P6(0x2a02000000000000ULL, 1, 128)).verdict,
				 RT_NO_ROUTE);
		assert_int_equal(rt_set(t, RT_SRC_STATIC, &p48, &h, 1), 0);
	}
	rt_free(t);
}

/* ------------------------------------------------------------------------
 * Neighbours and local addresses
 */

static void
test_neighbour_updates_reach_gateways_and_on_link_lookups(void **state)
{
	struct rt_table *t = new_table_p(&(struct rt_params){ .max_neigh = 64 });
	struct rt_nexthop_spec g = gw4(2, IP4(192, 0, 2, 1), 1);
	struct sl_prefix net = pfx4(IP4(10, 0, 0, 0), 8);
	struct sl_prefix lan = pfx4(IP4(172, 16, 0, 0), 12);
	struct sl_prefix host = pfx4(IP4(172, 16, 5, 5), 32);
	struct sl_prefix dst = pfx4(IP4(10, 9, 9, 9), 32);
	struct rt_nexthop_spec on = onlink(5);
	struct rte_ether_addr m1 = mac_of(1), m2 = mac_of(2), back;
	struct rt_result r;
	struct rt_stats st;

	(void)state;
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &net, &g, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_KERNEL, &lan, &on, 1), 0);
	r = lookup(t, &dst);
	assert_int_equal(r.verdict, RT_UNRESOLVED);
	assert_int_equal(r.port, 2);
	assert_int_equal(rt_neigh_update(t, 2, SL_FAMILY_IPV4, g.gateway, &m1), 0);
	r = lookup(t, &dst);
	assert_int_equal(r.verdict, RT_FORWARD);
	rt_mac_unpack(r.mac, &back);
	assert_memory_equal(&back, &m1, sizeof(back));
	assert_int_equal(rt_neigh_update(t, 2, SL_FAMILY_IPV4, g.gateway, &m2), 0);
	rt_mac_unpack(lookup(t, &dst).mac, &back);
	assert_memory_equal(&back, &m2, sizeof(back));
	/* A neighbour of the same address on another port is another one. */
	assert_int_equal(rt_neigh_update(t, 3, SL_FAMILY_IPV4, g.gateway, &m1), 0);
	rt_mac_unpack(lookup(t, &dst).mac, &back);
	assert_memory_equal(&back, &m2, sizeof(back));
	assert_int_equal(rt_neigh_update(t, 2, SL_FAMILY_IPV4, g.gateway, NULL), 0);
	assert_int_equal(lookup(t, &dst).verdict, RT_UNRESOLVED);
	/* A gateway next hop created after its neighbour is known. */
	assert_int_equal(rt_neigh_update(t, 2, SL_FAMILY_IPV4, g.gateway, &m1), 0);
	assert_int_equal(rt_unset(t, RT_SRC_KERNEL, &net), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &net, &g, 1), 0);
	assert_int_equal(lookup(t, &dst).verdict, RT_FORWARD);

	/* On-link: the destination itself is the neighbour. */
	r = lookup(t, &host);
	assert_int_equal(r.verdict, RT_UNRESOLVED);
	assert_int_equal(r.port, 5);
	assert_int_equal(rt_neigh_update(t, 5, SL_FAMILY_IPV4, host.addr, &m2), 0);
	r = lookup(t, &host);
	assert_int_equal(r.verdict, RT_FORWARD);
	rt_mac_unpack(r.mac, &back);
	assert_memory_equal(&back, &m2, sizeof(back));
	assert_int_equal(rt_neigh_update(t, 5, SL_FAMILY_IPV4, host.addr, NULL), 0);
	assert_int_equal(lookup(t, &host).verdict, RT_UNRESOLVED);

	/* Fill the table (64), empty it, fill it again: removed slots are
	 * reused and every neighbour stays reachable. */
	for (unsigned int round = 0; round < 3; round++) {
		rt_stats(t, &st);
		for (unsigned int i = st.neighbours; i < 64; i++) {
			struct sl_prefix h = pfx4(IP4(172, 16, 1, 0) + i * 7 + round, 32);
			struct rte_ether_addr m = mac_of(1000 + i);

			assert_int_equal(rt_neigh_update(t, 5, SL_FAMILY_IPV4,
							 h.addr, &m), 0);
			r = lookup(t, &h);
			assert_int_equal(r.verdict, RT_FORWARD);
		}
		assert_int_equal(rt_neigh_update(t, 5, SL_FAMILY_IPV4,
						 pfx4(IP4(172, 16, 9, 9), 32).addr,
						 &m1), -ENOSPC);
		for (unsigned int i = 0; i < 64; i++) {
			struct sl_prefix h = pfx4(IP4(172, 16, 1, 0) + i * 7 + round, 32);

			rt_neigh_update(t, 5, SL_FAMILY_IPV4, h.addr, NULL);
		}
		rt_neigh_update(t, 2, SL_FAMILY_IPV4, g.gateway, NULL);
		rt_neigh_update(t, 3, SL_FAMILY_IPV4, g.gateway, NULL);
		rt_stats(t, &st);
		assert_int_equal(st.neighbours, 0);
	}
	rt_free(t);
}

static void
test_local_addresses_are_local_and_their_subnets_on_link(void **state)
{
	struct rt_table *t = new_table();
	struct sl_prefix a1 = ifaddr(pfx4(IP4(10, 1, 0, 1), 32), 24);
	struct sl_prefix a2 = ifaddr(pfx4(IP4(10, 1, 0, 2), 32), 24);
	struct sl_prefix a6 = ifaddr(pfx6(0x20010db800010000ULL, 1, 128), 64);
	struct rt_stats st;
	struct rt_result r;

	(void)state;
	assert_int_equal(rt_set_local(t, 1, &a1), 0);
	assert_int_equal(rt_set_local(t, 1, &a2), 0);
	assert_int_equal(rt_set_local(t, 1, &a6), 0);
	r = lookup(t, P4(IP4(10, 1, 0, 1), 32));
	assert_int_equal(r.verdict, RT_LOCAL);
	assert_int_equal(r.port, 1);
	assert_int_equal(lookup(t, P4(IP4(10, 1, 0, 2), 32)).verdict, RT_LOCAL);
	r = lookup(t, P4(IP4(10, 1, 0, 77), 32));
	assert_int_equal(r.verdict, RT_UNRESOLVED);
	assert_int_equal(r.port, 1);
	assert_int_equal(lookup(t, P6(0x20010db800010000ULL, 1, 128)).verdict,
			 RT_LOCAL);
	assert_int_equal(lookup(t, P6(0x20010db800010000ULL, 9, 128)).verdict,
			 RT_UNRESOLVED);
	/* Neither a kernel nor a static resync touches them. */
	assert_int_equal(rt_flush_source(t, RT_SRC_KERNEL), 0);
	assert_int_equal(rt_sync_static(t, NULL, 0), 0);
	assert_int_equal(lookup(t, P4(IP4(10, 1, 0, 1), 32)).verdict, RT_LOCAL);
	/* The subnet goes with the last address in it. */
	assert_int_equal(rt_unset_local(t, 1, &a1), 0);
	assert_int_equal(lookup(t, P4(IP4(10, 1, 0, 1), 32)).verdict,
			 RT_UNRESOLVED);
	assert_int_equal(rt_unset_local(t, 1, &a2), 0);
	assert_int_equal(lookup(t, P4(IP4(10, 1, 0, 77), 32)).verdict,
			 RT_NO_ROUTE);
	assert_int_equal(rt_unset_local(t, 1, &a2), -ENOENT);
	assert_int_equal(rt_unset_local(t, 1, &a6), 0);
	rt_stats(t, &st);
	assert_int_equal(st.paths + st.nexthops + st.prefixes[0] + st.prefixes[1], 0);
	rt_free(t);
}

static void
test_martians_and_link_local_scope_are_classified_before_lookup(void **state)
{
	struct rt_table *t = new_table();
	struct rt_nexthop_spec g = gw4(0, IP4(192, 0, 2, 1), 1);
	struct rt_nexthop_spec g6 = gw6(0, 1, 1);
	struct rte_ether_addr m = mac_of(1);
	static const struct {
		uint32_t src, dst;
		uint8_t verdict;
	} v4[] = {
		{ IP4(198, 51, 100, 1), IP4(8, 8, 8, 8), RT_FORWARD },
		{ IP4(198, 51, 100, 1), IP4(0, 1, 2, 3), RT_MARTIAN },
		{ IP4(198, 51, 100, 1), IP4(127, 0, 0, 1), RT_MARTIAN },
		{ IP4(198, 51, 100, 1), IP4(239, 1, 1, 1), RT_MARTIAN },
		{ IP4(198, 51, 100, 1), IP4(255, 255, 255, 255), RT_MARTIAN },
		{ IP4(198, 51, 100, 1), IP4(224, 0, 0, 5), RT_LOCAL },
		{ IP4(0, 0, 0, 0), IP4(8, 8, 8, 8), RT_MARTIAN },
		{ IP4(127, 0, 0, 1), IP4(8, 8, 8, 8), RT_MARTIAN },
		{ IP4(225, 0, 0, 1), IP4(8, 8, 8, 8), RT_MARTIAN },
		{ IP4(10, 0, 0, 1), IP4(224, 0, 0, 5), RT_LOCAL },
		{ IP4(127, 0, 0, 1), IP4(224, 0, 0, 5), RT_MARTIAN },
	};
	static const struct {
		uint64_t src_hi, src_lo, dst_hi, dst_lo;
		uint8_t verdict;
	} v6[] = {
		{ 0x20010db8eeee0000ULL, 1, 0x2a02000000000000ULL, 1, RT_FORWARD },
		{ 0x20010db8eeee0000ULL, 1, 0, 0, RT_MARTIAN },
		{ 0x20010db8eeee0000ULL, 1, 0, 1, RT_MARTIAN },
		{ 0x20010db8eeee0000ULL, 1, 0xff0e000000000000ULL, 1, RT_MARTIAN },
		{ 0x20010db8eeee0000ULL, 1, 0xff02000000000000ULL, 1, RT_LOCAL },
		{ 0xfe80000000000000ULL, 1, 0xfe80000000000000ULL, 2, RT_LOCAL },
		{ 0, 0, 0xff02000000000000ULL, 0x1ff000001ULL, RT_LOCAL },	/* DAD */
		{ 0, 0, 0x2a02000000000000ULL, 1, RT_MARTIAN },
		{ 0xfe80000000000000ULL, 1, 0x2a02000000000000ULL, 1, RT_MARTIAN },
		{ 0, 1, 0x2a02000000000000ULL, 1, RT_MARTIAN },
		{ 0xff02000000000000ULL, 1, 0x2a02000000000000ULL, 1, RT_MARTIAN },
	};

	(void)state;
	rt_neigh_update(t, 0, SL_FAMILY_IPV4, g.gateway, &m);
	rt_neigh_update(t, 0, SL_FAMILY_IPV6, g6.gateway, &m);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(0, 0), &g, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P6(0, 0, 0), &g6, 1), 0);
	for (unsigned int i = 0; i < RTE_DIM(v4); i++) {
		struct sl_prefix s = pfx4(v4[i].src, 32), d = pfx4(v4[i].dst, 32);
		struct sl_pkt_meta mt = pkt(&s, &d, 1, 2);
		const struct sl_pkt_meta *v[1] = { &mt };
		struct rt_result r;

		rt_lookup_burst(t, v, NULL, SEED, 1, &r);
		if (r.verdict != v4[i].verdict)
			fail_msg("IPv4 case %u: verdict %u, %u expected", i,
				 r.verdict, v4[i].verdict);
	}
	for (unsigned int i = 0; i < RTE_DIM(v6); i++) {
		struct sl_prefix s = pfx6(v6[i].src_hi, v6[i].src_lo, 128);
		struct sl_prefix d = pfx6(v6[i].dst_hi, v6[i].dst_lo, 128);
		struct sl_pkt_meta mt = pkt(&s, &d, 1, 2);
		const struct sl_pkt_meta *v[1] = { &mt };
		struct rt_result r;

		rt_lookup_burst(t, v, NULL, SEED, 1, &r);
		if (r.verdict != v6[i].verdict)
			fail_msg("IPv6 case %u: verdict %u, %u expected", i,
				 r.verdict, v6[i].verdict);
	}
	rt_free(t);
}

static void
test_bad_input_is_refused_with_einval(void **state)
{
	struct rt_table *t = new_table();
	struct rt_nexthop_spec g = gw4(0, IP4(192, 0, 2, 1), 1);
	struct rt_nexthop_spec many[17];
	struct sl_prefix host_bits = pfx4(IP4(10, 0, 0, 0), 8);

	(void)state;
	host_bits.addr[3] = 1;
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &host_bits, &g, 1), -EINVAL);
	assert_int_equal(rt_set(t, RT_SRC_CONNECTED, P4(0, 0), &g, 1), -EINVAL);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(0, 0), &g, 0), -EINVAL);
	for (unsigned int i = 0; i < 17; i++)
		many[i] = gw4(0, IP4(192, 0, 2, i), 1);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(0, 0), many, 17), -EINVAL);
	g.weight = 0;
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(0, 0), &g, 1), -EINVAL);
	g.weight = 257;
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(0, 0), &g, 1), -EINVAL);
	g.weight = 1;
	g.family = 5;
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(0, 0), &g, 1), -EINVAL);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, &(struct sl_prefix){
				.family = 4, .len = 33 }, many, 1), -EINVAL);
	rt_free(t);
}

/* ------------------------------------------------------------------------
 * Resolution requests
 */

struct seen {
	unsigned int n;
	uint16_t port[256];
	uint8_t addr[256][16];
};

static void
on_unresolved(void *arg, uint16_t port, uint8_t family, const uint8_t *addr)
{
	struct seen *s = arg;

	(void)family;
	if (s->n < 256) {
		s->port[s->n] = port;
		memcpy(s->addr[s->n], addr, 16);
	}
	s->n++;
}

static void
test_unresolved_requests_are_bounded_and_once_per_interval(void **state)
{
	struct rt_table *t = new_table_p(&(struct rt_params){
		.nb_workers = 2, .resolve_ms = 100 });
	struct rt_nexthop_spec g = gw4(3, IP4(192, 0, 2, 1), 1);
	struct rt_nexthop_spec on = onlink(4);
	uint64_t hz = rte_get_tsc_hz(), now = 1000 * hz;
	struct seen s = { 0 };
	struct rt_stats st;

	(void)state;
	assert_non_null(rt_wantq(t, 1));
	assert_null(rt_wantq(t, 2));
	rt_set(t, RT_SRC_STATIC, P4(IP4(10, 0, 0, 0), 8), &g, 1);
	rt_set(t, RT_SRC_STATIC, P4(IP4(172, 16, 0, 0), 12), &on, 1);
	/* A burst to one dead gateway from two workers: one request. */
	for (unsigned int w = 0; w < 2; w++)
		for (unsigned int i = 0; i < 1000; i++) {
			struct sl_prefix d = pfx4(IP4(10, 0, 0, 0) + i, 32);
			struct sl_pkt_meta m = pkt(src_for(4), &d, 1, 2);
			struct rt_result r = lookup(t, &d);

			assert_int_equal(r.verdict, RT_UNRESOLVED);
			rt_want(rt_wantq(t, w), &r, &m, now + i);
		}
	assert_int_equal(rt_take_unresolved(t, now, on_unresolved, &s), 1);
	assert_int_equal(s.port[0], 3);
	assert_memory_equal(s.addr[0], g.gateway, 16);
	/* Once the interval passed, it may be asked again. */
	{
		struct sl_prefix d = pfx4(IP4(10, 0, 0, 1), 32);
		struct sl_pkt_meta m = pkt(src_for(4), &d, 1, 2);
		struct rt_result r = lookup(t, &d);

		rt_want(rt_wantq(t, 0), &r, &m, now + hz / 20);
		assert_int_equal(rt_take_unresolved(t, now + hz / 20,
						    on_unresolved, &s), 0);
		rt_want(rt_wantq(t, 0), &r, &m, now + hz);
		assert_int_equal(rt_take_unresolved(t, now + hz,
						    on_unresolved, &s), 1);
	}
	/* On-link: one request per destination; the queue is bounded. */
	s.n = 0;
	for (unsigned int i = 0; i < 200; i++) {
		struct sl_prefix d = pfx4(IP4(172, 16, 0, 1) + i, 32);
		struct sl_pkt_meta m = pkt(src_for(4), &d, 1, 2);
		struct rt_result r = lookup(t, &d);

		assert_int_equal(r.verdict, RT_UNRESOLVED);
		rt_want(rt_wantq(t, 0), &r, &m, now + 2 * hz);
	}
	rt_stats(t, &st);
	assert_true(st.want_dropped >= 200 - RT_WANTQ_SIZE - RT_WANT_FILTER);
	assert_int_equal(rt_take_unresolved(t, now + 2 * hz, on_unresolved, &s),
			 RT_WANTQ_SIZE);
	assert_int_equal(s.port[0], 4);
	assert_memory_equal(s.addr[0], pfx4(IP4(172, 16, 0, 1), 32).addr, 16);
	rt_free(t);
}

/* ------------------------------------------------------------------------
 * A reader during changes
 */

struct reader {
	struct rt_table *t;
	struct rte_rcu_qsbr *qs;
	volatile bool stop;
	uint64_t lookups;
	uint64_t bad;
	struct rt_nexthop_spec stable, churn[2];
};

/* 10.0.0.0/8 and 2001:db8::/32 never change; 20.0.0.0/8 with its /25s
 * and 2a02::/16 with its /48s churn between two gateways. */
static void *
reader_main(void *arg)
{
	struct reader *rd = arg;

	rte_rcu_qsbr_thread_register(rd->qs, 0);
	rte_rcu_qsbr_thread_online(rd->qs, 0);
	while (!__atomic_load_n(&rd->stop, __ATOMIC_RELAXED)) {
		struct sl_pkt_meta m[32];
		const struct sl_pkt_meta *v[32];
		struct rt_result r[32];

		for (unsigned int i = 0; i < 32; i++) {
			uint64_t x = rd->lookups * 7919 + i * 131;
			uint32_t a = (i % 2 ? IP4(20, 0, 0, 0) : IP4(10, 0, 0, 0)) |
				     (uint32_t)(x & 0xffffff);
			struct sl_prefix d = i % 4 < 2 ? pfx4(a, 32) :
				pfx6((i % 2 ? 0x2a02000000000000ULL :
					      0x20010db800000000ULL) |
				     (x * 0x9e3779b97f4a7c15ULL) >> 32, x, 128);

			m[i] = pkt(src_for(d.family), &d, 1, 2);
			v[i] = &m[i];
		}
		rt_lookup_burst(rd->t, v, NULL, SEED, 32, r);
		for (unsigned int i = 0; i < 32; i++) {
			bool ok;

			if (i % 2 == 0)
				ok = r[i].verdict == RT_FORWARD &&
				     gw_is(&r[i], &rd->stable);
			else
				ok = r[i].verdict == RT_FORWARD &&
				     (gw_is(&r[i], &rd->churn[0]) ||
				      gw_is(&r[i], &rd->churn[1]));
			rd->bad += !ok;
		}
		rd->lookups++;
		rte_rcu_qsbr_quiescent(rd->qs, 0);
	}
	rte_rcu_qsbr_thread_offline(rd->qs, 0);
	rte_rcu_qsbr_thread_unregister(rd->qs, 0);
	return NULL;
}

static void
test_a_reader_sees_old_or_new_routes_while_the_writer_churns(void **state)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *qs = rte_zmalloc("qs", sz, RTE_CACHE_LINE_SIZE);
	struct reader rd = { 0 };
	struct rt_params p = { .qs = qs, .max_routes_ipv4 = 8192,
			       .tbl8_ipv4 = 300, .tbl8_ipv6 = 1024,
			       .max_paths = 8 };
	struct rt_table *t;
	pthread_t th;
	uint64_t end;
	unsigned int rounds = 0;
	struct rt_stats st;

	(void)state;
	assert_non_null(qs);
	assert_int_equal(rte_rcu_qsbr_init(qs, 1), 0);
	t = new_table_p(&p);
	rd.t = t;
	rd.qs = qs;
	rd.stable = gw4(0, IP4(192, 0, 2, 1), 1);
	rd.churn[0] = gw4(1, IP4(192, 0, 2, 2), 1);
	rd.churn[1] = gw4(2, IP4(192, 0, 2, 3), 1);
	for (unsigned int i = 0; i < 3; i++) {
		const struct rt_nexthop_spec *g = i == 0 ? &rd.stable :
						  &rd.churn[i - 1];
		struct rte_ether_addr m = mac_of(i);

		rt_neigh_update(t, g->port, SL_FAMILY_IPV4, g->gateway, &m);
	}
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(IP4(10, 0, 0, 0), 8),
				&rd.stable, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC, P4(IP4(20, 0, 0, 0), 8),
				&rd.churn[0], 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC,
				P6(0x20010db800000000ULL, 0, 32), &rd.stable, 1), 0);
	assert_int_equal(rt_set(t, RT_SRC_STATIC,
				P6(0x2a02000000000000ULL, 0, 16), &rd.churn[1], 1), 0);
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	end = rte_rdtsc() + rte_get_tsc_hz() / 2;
	while (rte_rdtsc() < end) {
		/* Long prefixes come and go (tbl8 groups are freed and
		 * taken again), paths are replaced and retired. */
		for (unsigned int i = 0; i < 512; i++) {
			struct sl_prefix q = pfx4(IP4(20, 0, 0, 0) |
						  (uint32_t)(rnd() & 0xff80), 25);
			const struct rt_nexthop_spec *g = &rd.churn[rnd() % 2];

			if (rnd() % 2)
				rt_set(t, RT_SRC_STATIC, &q, g, 1);
			else
				rt_unset(t, RT_SRC_STATIC, &q);
		}
		for (unsigned int i = 0; i < 64; i++) {
			struct sl_prefix q = pfx6(0x2a02000000000000ULL |
						  (rnd() & 0x3) << 40 |
						  (rnd() & 0x3) << 24, 0, 48);
			const struct rt_nexthop_spec *g = &rd.churn[rnd() % 2];

			if (rnd() % 2)
				rt_set(t, RT_SRC_STATIC, &q, g, 1);
			else
				rt_unset(t, RT_SRC_STATIC, &q);
		}
		/* The /8 moves between one gateway and an ECMP pair whose
		 * path is retired and made again each time. */
		if (rounds % 2) {
			struct rt_nexthop_spec both[2] = { rd.churn[0], rd.churn[1] };

			rt_set(t, RT_SRC_STATIC, P4(IP4(20, 0, 0, 0), 8), both, 2);
		} else {
			rt_set(t, RT_SRC_STATIC, P4(IP4(20, 0, 0, 0), 8),
			       &rd.churn[0], 1);
		}
		rounds++;
	}
	__atomic_store_n(&rd.stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	printf("reader: %" PRIu64 " bursts over %u writer rounds\n",
	       rd.lookups, rounds);
	assert_true(rd.lookups > 0);
	assert_int_equal(rd.bad, 0);
	rt_flush_source(t, RT_SRC_STATIC);
	rt_flush_source(t, RT_SRC_KERNEL);
	rt_reclaim(t, true);
	rt_stats(t, &st);
	assert_int_equal(st.retired, 0);
	assert_int_equal(st.paths, 0);
	rt_free(t);
	rte_free(qs);
}

/* ------------------------------------------------------------------------
 * Load time (printed, not asserted)
 */

static uint8_t
internet_len(void)
{
	unsigned int r = (unsigned int)(rnd() % 1000);

	/* Roughly the IPv4 BGP table: 60% /24, the rest /8../23. */
	if (r < 600)
		return 24;
	if (r < 700)
		return 22;
	if (r < 780)
		return 23;
	if (r < 840)
		return 21;
	if (r < 890)
		return 20;
	if (r < 930)
		return 19;
	if (r < 960)
		return 16;
	return (uint8_t)(8 + rnd() % 15);
}

static void
test_a_million_ipv4_routes_load_and_reload(void **state)
{
	enum { N = 1000000 };
	struct rt_table *t = new_table_p(&(struct rt_params){
		.max_routes_ipv4 = 1u << 20, .max_routes_ipv6 = 1024 });
	struct rt_route_spec *routes = calloc(N, sizeof(*routes));
	struct rt_nexthop_spec g[4];
	struct rt_stats st;
	uint64_t hz = rte_get_tsc_hz(), t0;
	unsigned int n = 0;

	(void)state;
	assert_non_null(routes);
	for (unsigned int i = 0; i < 4; i++)
		g[i] = gw4((uint16_t)i, IP4(192, 0, 2, 1 + i), 1);
	/* Distinct prefixes, by a set of (address, length). */
	uint64_t *set = calloc(1u << 22, sizeof(*set));

	assert_non_null(set);
	while (n < N) {
		uint8_t len = internet_len();
		struct sl_prefix p = pfx4((uint32_t)rnd(), len);
		uint32_t a;
		uint64_t key;
		size_t h;

		if (p.addr[0] == 0 || p.addr[0] == 127 || p.addr[0] >= 224)
			continue;
		memcpy(&a, p.addr, 4);
		key = (uint64_t)a << 8 | len | UINT64_C(1) << 63;
		h = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 42);
		while (set[h] != 0 && set[h] != key)
			h = (h + 1) & ((1u << 22) - 1);
		if (set[h] == key)
			continue;
		set[h] = key;
		routes[n].prefix = p;
		routes[n].nexthops = &g[n % 4];
		routes[n].n_nexthops = 1;
		n++;
	}
	free(set);
	t0 = rte_rdtsc();
	for (unsigned int i = 0; i < N; i++)
		assert_int_equal(rt_set(t, RT_SRC_KERNEL, &routes[i].prefix,
					routes[i].nexthops, 1), 0);
	printf("1M IPv4 routes (kernel source, one by one): %.2f s\n",
	       (double)(rte_rdtsc() - t0) / (double)hz);
	t0 = rte_rdtsc();
	assert_int_equal(rt_sync_static(t, routes, N), 0);
	printf("1M IPv4 static routes over them (rt_sync_static): %.2f s\n",
	       (double)(rte_rdtsc() - t0) / (double)hz);
	t0 = rte_rdtsc();
	assert_int_equal(rt_sync_static(t, routes, N), 0);
	printf("the same 1M static routes again: %.2f s\n",
	       (double)(rte_rdtsc() - t0) / (double)hz);
	rt_stats(t, &st);
	assert_int_equal(st.routes[0][RT_SRC_STATIC], N);
	assert_int_equal(st.paths, 4);
	/* Lookups of random destinations, 32 a burst (a rough figure on a
	 * shared machine; bench/ has the real one). */
	for (unsigned int i = 0; i < 4; i++) {
		struct rte_ether_addr m = mac_of(i);

		rt_neigh_update(t, g[i].port, SL_FAMILY_IPV4, g[i].gateway, &m);
	}
	{
		enum { B = 32, ROUNDS = 1 << 15 };
		struct sl_pkt_meta *m = calloc(B * 64, sizeof(*m));
		const struct sl_pkt_meta *v[B];
		struct rt_result r[B];
		unsigned int fwd = 0;

		assert_non_null(m);
		for (unsigned int i = 0; i < B * 64; i++) {
			struct sl_prefix d = pfx4(IP4(1, 0, 0, 0) +
						  (uint32_t)(rnd() % 0xdf000000u), 32);

			m[i] = pkt(src_for(4), &d, (uint16_t)i, 80);
		}
		t0 = rte_rdtsc();
		for (unsigned int k = 0; k < ROUNDS; k++) {
			for (unsigned int i = 0; i < B; i++)
				v[i] = &m[(k % 64) * B + i];
			rt_lookup_burst(t, v, NULL, SEED, B, r);
			for (unsigned int i = 0; i < B; i++)
				fwd += r[i].verdict == RT_FORWARD;
		}
		printf("lookups in 1M routes: %.1f cycles per packet (%u of %u "
		       "forwarded)\n",
		       (double)(rte_rdtsc() - t0) / (B * ROUNDS), fwd,
		       B * ROUNDS);
		free(m);
	}
	t0 = rte_rdtsc();
	assert_int_equal(rt_flush_source(t, RT_SRC_KERNEL), N);
	assert_int_equal(rt_sync_static(t, NULL, 0), 0);
	printf("1M IPv4 routes removed: %.2f s\n",
	       (double)(rte_rdtsc() - t0) / (double)hz);
	rt_stats(t, &st);
	assert_int_equal(st.prefixes[0], 0);
	free(routes);
	rt_free(t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_lookups_match_a_linear_scan_through_random_changes),
		cmocka_unit_test(test_ipv6_lookups_match_a_linear_scan_through_random_changes),
		cmocka_unit_test(test_connected_beats_static_beats_kernel_and_removal_uncovers),
		cmocka_unit_test(test_routes_share_paths_and_next_hops_and_free_them_all),
		cmocka_unit_test(test_sync_static_touches_only_what_changed),
		cmocka_unit_test(test_kernel_resync_removes_only_routes_not_set_again),
		cmocka_unit_test(test_ecmp_members_get_their_weight_and_a_flow_keeps_its_member),
		cmocka_unit_test(test_both_directions_of_a_flow_pick_the_same_member),
		cmocka_unit_test(test_full_tables_refuse_with_enospc_and_change_nothing),
		cmocka_unit_test(test_neighbour_updates_reach_gateways_and_on_link_lookups),
		cmocka_unit_test(test_local_addresses_are_local_and_their_subnets_on_link),
		cmocka_unit_test(test_martians_and_link_local_scope_are_classified_before_lookup),
		cmocka_unit_test(test_bad_input_is_refused_with_einval),
		cmocka_unit_test(test_unresolved_requests_are_bounded_and_once_per_interval),
		cmocka_unit_test(test_a_reader_sees_old_or_new_routes_while_the_writer_churns),
		cmocka_unit_test(test_a_million_ipv4_routes_load_and_reload),
	};
	int rc;

	if (test_eal_init(argv[0], "test_route", "1536") < 0)
		return 1;
	(void)argc;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	test_eal_cleanup();
	return rc;
}
