/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing stage's hot path: longest-prefix match, ECMP member choice
 * and next-hop MAC for a burst of parsed packets.  Everything here only
 * reads the table; route.c (control thread) is the one writer, and route.h
 * states the contract that makes these reads safe without locks.
 *
 * Uses: meta->key, key_swapped (the destination and source addresses: the
 * destination is key.addr_hi unless key_swapped, then key.addr_lo) and
 * key.family.  The packet bytes are not read.
 *
 * Per packet, in this order:
 *   - a link-local destination (IPv4 224.0.0.0/24, IPv6 link-local scope
 *     multicast ffx2::/16 and fe80::/10) is RT_LOCAL: a router never
 *     forwards it and its host stack needs it (ND, OSPF, VRRP, BGP over
 *     link-local);
 *   - a destination that is never routed (IPv4 0/8, 127/8, 224/4,
 *     255.255.255.255; IPv6 ::, ::1, ff00::/8) is RT_MARTIAN;
 *   - the longest matching prefix (the default route covers a miss) gives a
 *     path, and the path's member for the flow gives the next hop;
 *   - a local next hop is RT_LOCAL, else the destination MAC comes from the
 *     next hop (gateway) or the neighbour table (on-link route): RT_FORWARD
 *     with the MAC, or RT_UNRESOLVED;
 *   - a source that must never be seen on the wire (IPv4 0/8 unless the
 *     packet is for the host, 127/8, 224/4, 255.255.255.255; IPv6 ::1,
 *     ff00::/8, and :: or fe80::/10 unless the packet is for the host)
 *     turns any of these into RT_MARTIAN.
 */
#ifndef SLUICE_DP_ROUTE_LOOKUP_H
#define SLUICE_DP_ROUTE_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_lpm6.h>

#include "sluice/flow_key.h"
#include "sluice/pkt_meta.h"

/* Largest burst rt_lookup_burst takes. */
#define RT_BURST_MAX 64

/* A resolved MAC packed in 64 bits: byte i of the address in bits
 * 8i..8i+7, RT_MAC_VALID set.  0: not resolved. */
#define RT_MAC_VALID (UINT64_C(1) << 63)

static inline uint64_t
rt_mac_pack(const struct rte_ether_addr *a)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		v |= (uint64_t)a->addr_bytes[i] << (8 * i);
	return v | RT_MAC_VALID;
}

static inline void
rt_mac_unpack(uint64_t v, struct rte_ether_addr *a)
{
	for (unsigned int i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		a->addr_bytes[i] = (uint8_t)(v >> (8 * i));
}

/* struct rt_nh.flags */
#define RT_NH_GATEWAY	0x01	/* via gateway[]; else on-link */
#define RT_NH_LOCAL	0x02	/* for the appliance: its host twin */

/*
 * A next hop: shared by every path that uses it, keyed by (port, flags,
 * gateway).  Immutable while published except mac, which the control
 * thread stores with __atomic_store_n when the gateway's neighbour changes.
 */
struct rt_nh {
	uint64_t mac;		/* gateway next hops: RT_MAC_VALID | MAC */
	uint16_t port;		/* egress DPDK port (LOCAL: the address's) */
	uint8_t flags;		/* RT_NH_* */
	uint8_t family;		/* of gateway (enum sl_family) */
	uint32_t id;		/* index in the next-hop array */
	uint8_t gateway[16];	/* network order; IPv4 in bytes 0..3 */
};

_Static_assert(sizeof(struct rt_nh) == 32, "two next hops per cache line");

/*
 * A path: what an LPM entry points to (by index).  One member: nh.  More:
 * members[] holds the next hops expanded by weight, and a flow takes
 * members[hash * n_members >> 32].  Immutable while published.
 */
struct rt_path {
	uint32_t n_members;
	uint32_t pad;
	union {
		const struct rt_nh *nh;			/* n_members == 1 */
		const struct rt_nh *const *members;	/* n_members > 1 */
	};
};

/*
 * The neighbour table workers read for on-link routes: open addressing,
 * RT_NEIGH_PROBE slots from the key's home slot.  The control thread
 * changes a slot's key between two increments of seq (odd while it
 * writes), so a reader that sees seq move ignores the slot; a MAC change
 * alone is one atomic store to mac.
 */
#define RT_NEIGH_PROBE 16

enum rt_neigh_state {
	RT_NEIGH_EMPTY = 0,	/* never used: ends a probe */
	RT_NEIGH_USED,
	RT_NEIGH_DEAD,		/* removed: skipped, reusable */
};

struct rt_neigh {
	uint32_t seq;
	uint32_t key;		/* RT_NEIGH_KEY(state, family, port) */
	uint64_t addr[2];	/* the 16 address bytes as stored */
	uint64_t mac;		/* RT_MAC_VALID | MAC; 0: not resolved */
	uint64_t pad;
};

#define RT_NEIGH_KEY(state, family, port) \
	((uint32_t)(state) | (uint32_t)(family) << 8 | (uint32_t)(port) << 16)

/*
 * IPv4: a DIR-24-8 table, the layout of rte_lpm (whose rule store makes
 * adding n routes cost O(n^2), route.c).  tbl24 has an entry per /24;
 * an entry with RT_DIR_EXT names a group of 256 tbl8 entries, one per
 * address of that /24.  A valid entry holds the path index and the length
 * of the prefix it came from.
 */
#define RT_DIR_EXT	0x80000000u	/* tbl24: value is a tbl8 group */
#define RT_DIR_VALID	0x40000000u
#define RT_DIR_DEPTH_SHIFT 24		/* 6 bits: prefix length */
#define RT_DIR_VALUE	0x00ffffffu	/* path index or group */

#define RT_DIR_ENTRY(path, len) \
	(RT_DIR_VALID | (uint32_t)(len) << RT_DIR_DEPTH_SHIFT | (path))
#define RT_DIR_DEPTH(e) (((e) >> RT_DIR_DEPTH_SHIFT) & 0x3f)

/* The part of struct rt_table the workers read (its first member). */
struct rt_table_dp {
	const uint32_t *tbl24;		/* IPv4, 1 << 24 entries */
	const uint32_t *tbl8;		/* IPv4, 256 per group */
	struct rte_lpm6 *lpm6;		/* IPv6: path index, -1 = no route */
	const struct rt_path *paths;	/* by path index; 0 is unused */
	const struct rt_neigh *neigh;
	uint32_t neigh_mask;		/* slots - 1 (a power of two) */
	uint32_t dflt[2];		/* /0 routes' paths (IPv4, IPv6), 0: none */
};

struct rt_table;

/* The next-hop and neighbour hash: (port, family, 16 address bytes). */
static inline uint32_t
rt_addr_hash(uint16_t port, uint8_t family, const uint8_t *addr)
{
	uint64_t a, b, h;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	h = (a ^ ((uint64_t)port << 48 | (uint64_t)family << 40)) *
		UINT64_C(0x9e3779b97f4a7c15);
	h ^= b * UINT64_C(0xc2b2ae3d27d4eb4f);
	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return (uint32_t)(h ^ (h >> 32));
}

/*
 * The MAC of the neighbour (port, family, addr), or 0 when the table has
 * no resolved entry for it (or the entry changes under the reader).
 */
static inline uint64_t
rt_neigh_lookup(const struct rt_table_dp *dp, uint16_t port, uint8_t family,
		const uint8_t *addr)
{
	uint32_t h = rt_addr_hash(port, family, addr);
	uint32_t want = RT_NEIGH_KEY(RT_NEIGH_USED, family, port);
	uint64_t a0, a1;

	memcpy(&a0, addr, 8);
	memcpy(&a1, addr + 8, 8);
	for (unsigned int i = 0; i < RT_NEIGH_PROBE; i++) {
		const struct rt_neigh *e = &dp->neigh[(h + i) & dp->neigh_mask];
		uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		uint32_t key = __atomic_load_n(&e->key, __ATOMIC_RELAXED);
		bool match;
		uint64_t mac;

		if ((key & 0xff) == RT_NEIGH_EMPTY)
			return 0;
		match = key == want &&
			__atomic_load_n(&e->addr[0], __ATOMIC_RELAXED) == a0 &&
			__atomic_load_n(&e->addr[1], __ATOMIC_RELAXED) == a1;
		mac = __atomic_load_n(&e->mac, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if ((s1 & 1) || __atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
			continue;	/* being rewritten: not ours now */
		if (match)
			return mac;
	}
	return 0;
}

enum rt_verdict {
	RT_FORWARD = 0,		/* out of port to mac */
	RT_LOCAL,		/* for the appliance: to the host twin */
	RT_UNRESOLVED,		/* next hop's MAC unknown: drop as no_neigh
				 * and report it with rt_want() */
	RT_NO_ROUTE,
	RT_MARTIAN,
};

struct rt_result {
	uint8_t verdict;	/* enum rt_verdict */
	uint16_t port;		/* FORWARD, UNRESOLVED: egress; LOCAL: the
				 * address's port, UINT16_MAX for link-local
				 * scope (use the ingress port) */
	uint64_t mac;		/* FORWARD: RT_MAC_VALID | destination MAC */
	const struct rt_nh *nh;	/* FORWARD, UNRESOLVED, LOCAL by route */
};

/* The destination and source addresses of a parsed IP packet. */
static inline const uint8_t *
rt_pkt_dst(const struct sl_pkt_meta *m)
{
	return m->key_swapped ? m->key.addr_lo : m->key.addr_hi;
}

static inline const uint8_t *
rt_pkt_src(const struct sl_pkt_meta *m)
{
	return m->key_swapped ? m->key.addr_hi : m->key.addr_lo;
}

/* What the destination alone decides: RT_LOCAL for link-local scope,
 * RT_MARTIAN, or RT_FORWARD meaning "look it up". */
static inline uint8_t
rt_dst_class(uint8_t family, const uint8_t *d)
{
	if (family == SL_FAMILY_IPV4) {
		if (d[0] == 224 && d[1] == 0 && d[2] == 0)
			return RT_LOCAL;
		if (d[0] == 0 || d[0] == 127 || (d[0] & 0xf0) == 224 ||
		    (d[0] == 255 && d[1] == 255 && d[2] == 255 && d[3] == 255))
			return RT_MARTIAN;
		return RT_FORWARD;
	}
	if ((d[0] == 0xff && (d[1] & 0x0f) == 0x02) ||
	    (d[0] == 0xfe && (d[1] & 0xc0) == 0x80))
		return RT_LOCAL;
	if (d[0] == 0xff)
		return RT_MARTIAN;
	if (d[0] == 0) {
		uint64_t hi, lo;

		memcpy(&hi, d, 8);
		memcpy(&lo, d + 8, 8);
		if (hi == 0 && (lo == 0 || lo == rte_cpu_to_be_64(1)))
			return RT_MARTIAN;
	}
	return RT_FORWARD;
}

/* Whether a source address rules the packet out; local: it is for the
 * host (which may see 0.0.0.0, :: and link-local sources). */
static inline bool
rt_src_martian(uint8_t family, const uint8_t *s, bool local)
{
	if (family == SL_FAMILY_IPV4)
		return s[0] == 127 || (s[0] & 0xf0) == 224 ||
		       (s[0] == 255 && s[1] == 255 && s[2] == 255 &&
			s[3] == 255) ||
		       (!local && s[0] == 0);
	if (s[0] == 0xff)
		return true;
	if (s[0] == 0xfe && (s[1] & 0xc0) == 0x80)
		return !local;
	if (s[0] == 0) {
		uint64_t hi, lo;

		memcpy(&hi, s, 8);
		memcpy(&lo, s + 8, 8);
		if (hi == 0 && lo == rte_cpu_to_be_64(1))
			return true;
		if (hi == 0 && lo == 0)
			return !local;
	}
	return false;
}

/* Member index for a flow hash: multiply-shift maps the low 32 bits of the
 * hash evenly onto 0..n-1 without a division. */
static inline uint32_t
rt_member(uint64_t hash, uint32_t n)
{
	return (uint32_t)(((uint64_t)(uint32_t)hash * n) >> 32);
}

/* Finish one packet once its path is known. */
static inline void
rt_resolve(const struct rt_table_dp *dp, const struct sl_pkt_meta *m,
	   uint32_t path_id, const uint64_t *hash, uint64_t seed,
	   struct rt_result *r)
{
	const struct rt_path *p;
	const struct rt_nh *nh;
	uint8_t family = m->key.family;

	if (path_id == 0)
		path_id = __atomic_load_n(&dp->dflt[family == SL_FAMILY_IPV6],
					  __ATOMIC_ACQUIRE);
	if (unlikely(path_id == 0)) {
		r->verdict = RT_NO_ROUTE;
		return;
	}
	p = &dp->paths[path_id];
	if (likely(p->n_members == 1)) {
		nh = p->nh;
	} else {
		uint64_t h = hash != NULL ? *hash : sl_flow_hash(&m->key, seed);

		nh = p->members[rt_member(h, p->n_members)];
	}
	r->nh = nh;
	r->port = nh->port;
	if (unlikely(nh->flags & RT_NH_LOCAL)) {
		r->verdict = rt_src_martian(family, rt_pkt_src(m), true) ?
				RT_MARTIAN : RT_LOCAL;
		return;
	}
	if (unlikely(rt_src_martian(family, rt_pkt_src(m), false))) {
		r->verdict = RT_MARTIAN;
		return;
	}
	if (nh->flags & RT_NH_GATEWAY)
		r->mac = __atomic_load_n(&nh->mac, __ATOMIC_RELAXED);
	else
		r->mac = rt_neigh_lookup(dp, nh->port, family, rt_pkt_dst(m));
	r->verdict = (r->mac & RT_MAC_VALID) ? RT_FORWARD : RT_UNRESOLVED;
}

/*
 * Route n (<= RT_BURST_MAX) parsed IPv4/IPv6 packets: fills out[i] for
 * meta[i].  hash[i], when hash is not NULL, is sl_flow_hash(&meta[i]->key,
 * seed) already computed by the caller (conntrack does); otherwise it is
 * computed here, and only for packets whose path has several members.  A
 * packet of another family gets RT_NO_ROUTE.  Returns n.
 *
 * The caller is inside an RCU read-side section of the table's qsbr
 * variable (it reports quiescent states only between bursts).
 */
static inline uint16_t
rt_lookup_burst(const struct rt_table *t, const struct sl_pkt_meta *const meta[],
		const uint64_t *hash, uint64_t seed, uint16_t n,
		struct rt_result out[])
{
	const struct rt_table_dp *dp = (const struct rt_table_dp *)t;
	uint32_t ip4[RT_BURST_MAX];
	uint32_t e4[RT_BURST_MAX];
	uint8_t ip6[RT_BURST_MAX][16];
	int32_t nh6[RT_BURST_MAX];
	uint16_t idx4[RT_BURST_MAX], idx6[RT_BURST_MAX];
	uint16_t n4 = 0, n6 = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct sl_pkt_meta *m = meta[i];
		const uint8_t *dst = rt_pkt_dst(m);
		uint8_t c;

		out[i] = (struct rt_result){ .verdict = RT_NO_ROUTE,
					     .port = UINT16_MAX };
		if (unlikely(m->key.family != SL_FAMILY_IPV4 &&
			     m->key.family != SL_FAMILY_IPV6))
			continue;
		c = rt_dst_class(m->key.family, dst);
		if (unlikely(c != RT_FORWARD)) {
			if (c == RT_LOCAL &&
			    rt_src_martian(m->key.family, rt_pkt_src(m), true))
				c = RT_MARTIAN;
			out[i].verdict = c;
			continue;
		}
		if (m->key.family == SL_FAMILY_IPV4) {
			uint32_t a;

			memcpy(&a, dst, 4);
			ip4[n4] = rte_be_to_cpu_32(a);
			idx4[n4++] = i;
		} else {
			memcpy(ip6[n6], dst, 16);
			idx6[n6++] = i;
		}
	}
	/* As rte_lpm_lookup_bulk: every tbl24 load first, so the misses
	 * overlap, then the tbl8 loads the extended entries need. */
	for (uint16_t k = 0; k < n4; k++)
		e4[k] = __atomic_load_n(&dp->tbl24[ip4[k] >> 8], __ATOMIC_RELAXED);
	for (uint16_t k = 0; k < n4; k++)
		if (unlikely(e4[k] & RT_DIR_EXT))
			e4[k] = __atomic_load_n(&dp->tbl8[(e4[k] & RT_DIR_VALUE) << 8 |
							  (ip4[k] & 0xff)],
						__ATOMIC_RELAXED);
	if (n6 > 0)
		rte_lpm6_lookup_bulk_func(dp->lpm6, ip6, nh6, n6);
	for (uint16_t k = 0; k < n4; k++) {
		uint16_t i = idx4[k];

		rt_resolve(dp, meta[i],
			   (e4[k] & RT_DIR_VALID) ? e4[k] & RT_DIR_VALUE : 0,
			   hash != NULL ? &hash[i] : NULL, seed, &out[i]);
	}
	for (uint16_t k = 0; k < n6; k++) {
		uint16_t i = idx6[k];

		rt_resolve(dp, meta[i], nh6[k] < 0 ? 0 : (uint32_t)nh6[k],
			   hash != NULL ? &hash[i] : NULL, seed, &out[i]);
	}
	return n;
}

/*
 * Route one packet the dataplane builds itself (a tunnel's outer packet,
 * or a control-thread query) from src to dst of family: m is filled as
 * its parse would be (key only) so that rt_want can take it too.  A
 * multipath route picks its member by the flow hash of that key with seed,
 * so one (src, dst) pair always takes one path.
 */
static inline void
rt_lookup_host(const struct rt_table *t, uint8_t family, const uint8_t *src,
	       const uint8_t *dst, uint64_t seed, struct sl_pkt_meta *m,
	       struct rt_result *r)
{
	unsigned int alen = family == SL_FAMILY_IPV4 ? 4 : 16;
	const struct sl_pkt_meta *mp = m;

	memset(m, 0, sizeof(*m));
	m->key.family = family;
	memcpy(m->key.addr_lo, src, alen);	/* key_swapped 0: lo is source */
	memcpy(m->key.addr_hi, dst, alen);
	rt_lookup_burst(t, &mp, NULL, seed, 1, r);
}

/*
 * Resolution requests.  A worker that finds a next hop unresolved must not
 * wait for it or call the kernel: rt_want() puts (port, family, address)
 * on the worker's own queue, at most once per address per interval (a
 * small filter, so a burst to one dead gateway costs one entry), and
 * drops the request when the queue is full.  The control thread drains the
 * queues with rt_take_unresolved() (route.h).
 */
#define RT_WANTQ_SIZE 64	/* a power of two */
#define RT_WANT_FILTER 64

struct rt_want {
	uint16_t port;
	uint8_t family;
	uint8_t pad;
	uint8_t addr[16];
};

struct rt_wantq {
	/* The worker's. */
	uint32_t head;
	uint32_t pad;
	uint64_t dropped;		/* requests the full queue refused */
	uint64_t interval;		/* TSC cycles between two of one address */
	struct {
		uint64_t tsc;
		uint32_t tag;
		uint32_t pad;
	} filter[RT_WANT_FILTER];
	/* The control thread's. */
	uint32_t tail __rte_cache_aligned;
	struct rt_want ring[RT_WANTQ_SIZE] __rte_cache_aligned;
} __rte_cache_aligned;

/* Ask for the resolution of r's next hop (r->verdict RT_UNRESOLVED, m its
 * packet) at TSC now. */
static inline void
rt_want(struct rt_wantq *q, const struct rt_result *r,
	const struct sl_pkt_meta *m, uint64_t now)
{
	const struct rt_nh *nh = r->nh;
	const uint8_t *addr = rt_pkt_dst(m);
	uint8_t family = m->key.family;
	uint32_t h, head, tail;
	struct rt_want *w;

	if (nh->flags & RT_NH_GATEWAY) {
		addr = nh->gateway;
		family = nh->family;
	}
	h = rt_addr_hash(nh->port, family, addr);
	if (q->filter[h % RT_WANT_FILTER].tag == h &&
	    now - q->filter[h % RT_WANT_FILTER].tsc < q->interval)
		return;
	q->filter[h % RT_WANT_FILTER].tag = h;
	q->filter[h % RT_WANT_FILTER].tsc = now;
	head = q->head;
	tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
	if (head - tail >= RT_WANTQ_SIZE) {
		q->dropped++;
		return;
	}
	w = &q->ring[head & (RT_WANTQ_SIZE - 1)];
	w->port = nh->port;
	w->family = family;
	memcpy(w->addr, addr, 16);
	__atomic_store_n(&q->head, head + 1, __ATOMIC_RELEASE);
}

#endif /* SLUICE_DP_ROUTE_LOOKUP_H */
