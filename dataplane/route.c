/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The route table's control side: the per-prefix store of every source's
 * route, shared paths and next hops, the neighbour table, and the writes
 * into the IPv4 DIR-24-8 table and rte_lpm6.  One writer; route.h has the
 * contract with the workers.
 *
 * Why IPv4 has its own DIR-24-8 writer instead of rte_lpm or rte_fib (DPDK
 * 22.11):
 *   - rte_lpm_add() scans every rule of the prefix's length to find an
 *     existing one, so loading n routes costs O(n^2): 200,000 Internet-like
 *     routes take 7.6 s, a million would take minutes.
 *   - rte_fib loads fast (a tree of rules), but frees a tbl8 group by
 *     zeroing it at once, with no RCU hook in 22.11, so a worker between
 *     its tbl24 and tbl8 reads sees "no route"; and it sizes its tbl8 pool
 *     by reservations that do not match what it allocates.
 * The table below is rte_lpm's layout (the same two dependent loads per
 * lookup); the rules live in the per-prefix hash store, so a change costs
 * the entries it rewrites plus, for a removal, one hash probe per shorter
 * length to find the covering route; a freed group keeps its contents and
 * its index until a grace period has passed.
 *
 * Indexes: records (prefixes), paths and next hops live in arrays and are
 * named by index; 0 is never used, so 0 means "none" everywhere, and a
 * path index is what the LPM tables hold.  Three chained hash tables find
 * them by content: records by (family, length, address), next hops by
 * (port, flags, gateway), paths by their (next hop, weight) list.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "route.h"

#define FAM(family) ((family) == SL_FAMILY_IPV6)
#define ADDR_LEN(family) ((family) == SL_FAMILY_IPV6 ? 16u : 4u)
#define MAX_LEN(family) ((family) == SL_FAMILY_IPV6 ? 128u : 32u)

#define DEFAULT_PATHS 65536
#define DEFAULT_NEXTHOPS 65536
#define DEFAULT_NEIGH 65536
#define MAX_PATHS ((1u << 21) - 1)	/* rte_lpm6 next hops are 21 bits */
#define RESOLVE_MAP 1024		/* rt_take_unresolved's memory */
#define RT_NAME_MAX 20			/* rte_lpm6 and rte_hash add prefixes */

/* One prefix and the route of each source to it. */
struct rec {
	uint32_t next;			/* hash chain or free list */
	uint32_t path[RT_SRC_MAX];	/* 0: no route from that source */
	uint32_t mark;			/* rt_sync_static pass */
	uint32_t resync_mark;		/* rt_resync_begin pass */
	uint16_t conn_refs;		/* addresses holding the connected route */
	uint8_t family;			/* 0: free */
	uint8_t len;
	uint8_t addr[16];
};

struct path_ctl {
	uint32_t next;			/* hash chain or free list */
	uint32_t refs;			/* route sources using it */
	uint32_t hash;
	uint32_t n;			/* next hops */
	uint32_t nh[RT_NEXTHOPS_MAX];	/* ascending */
	uint16_t weight[RT_NEXTHOPS_MAX];	/* divided by their gcd */
};

struct nh_ctl {
	uint32_t next;
	uint32_t refs;			/* paths using it */
	uint32_t hash;
};

/* A next hop being looked for or created. */
struct nh_key {
	uint16_t port;
	uint8_t flags;
	uint8_t family;
	uint8_t gateway[16];
};

enum { OBJ_PATH, OBJ_NH, OBJ_TBL8 };

struct retired {
	uint64_t token;
	uint32_t id;
	uint32_t kind;
};

struct resolve_seen {
	uint64_t tsc;
	uint32_t hash;
	uint16_t port;
	uint8_t family;
	uint8_t used;
	uint8_t addr[16];
};

struct rt_table {
	struct rt_table_dp dp;		/* must stay first: route_lookup.h */

	struct rte_rcu_qsbr *qs;
	int socket;
	uint32_t *tbl24;		/* dp.tbl24 and dp.tbl8, writable */
	uint32_t *tbl8;
	uint32_t *group_free;		/* free tbl8 groups, a stack */
	uint32_t n_group_free;
	uint32_t n_groups;
	struct rt_path *paths;		/* dp.paths, writable */
	struct rt_nh *nhs;
	struct rt_neigh *neigh;

	/* Records. */
	struct rec *recs;
	uint32_t n_recs;		/* array size */
	uint32_t rec_free;
	uint32_t *rec_bucket;
	uint32_t rec_mask;
	uint32_t max_prefixes[2];
	uint32_t n_prefixes[2];
	uint32_t n_routes[2][RT_SRC_MAX];
	uint32_t sync_mark;
	uint32_t resync_mark;
	int resync_src;			/* -1: no resync running */

	/* Paths. */
	struct path_ctl *path_ctl;
	uint32_t max_paths;
	uint32_t path_free;
	uint32_t *path_bucket;
	uint32_t path_mask;
	uint32_t n_paths;

	/* Next hops. */
	struct nh_ctl *nh_ctl;
	uint32_t max_nh;
	uint32_t nh_free;
	uint32_t *nh_bucket;
	uint32_t nh_mask;
	uint32_t n_nh;

	/* Neighbours. */
	uint32_t max_neigh;
	uint32_t n_neigh;

	/* Objects waiting for a grace period, oldest first. */
	struct retired *retired;
	uint32_t ret_cap;
	uint32_t ret_head;		/* next to reclaim */
	uint32_t ret_n;

	/* rte_lpm6 may have freed a tbl8 group since the last grace period. */
	bool lpm6_dirty;
	uint64_t updates;

	/* Resolution requests. */
	struct rt_wantq *wantq;
	uint16_t nb_workers;
	uint64_t resolve_tsc;
	struct resolve_seen *seen;
};

_Static_assert(offsetof(struct rt_table, dp) == 0,
	       "route_lookup.h reads the table as a struct rt_table_dp");

static uint32_t
pow2_at_least(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p > UINT32_MAX / 2 ? UINT32_MAX / 2 + 1 : (uint32_t)p;
}

static uint32_t
clamp_u32(uint64_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

/* Link ids 1..n-1 into a free list through their next fields. */
#define FREE_LIST_INIT(arr, n, head)				\
	do {							\
		for (uint32_t i_ = 1; i_ + 1 < (n); i_++)	\
			(arr)[i_].next = i_ + 1;		\
		(head) = (n) > 1 ? 1 : 0;			\
	} while (0)

/* ------------------------------------------------------------------------
 * Grace periods
 */

static void reclaim_one(struct rt_table *t, uint32_t kind, uint32_t id);

/* obj is no longer reachable from any table: free it once every reader
 * that may have seen it has passed a quiescent state. */
static void
retire(struct rt_table *t, uint32_t kind, uint32_t id)
{
	struct retired *r;

	if (t->qs == NULL) {
		reclaim_one(t, kind, id);
		return;
	}
	/* Every object is retired at most once before it is reclaimed, so
	 * ret_cap (paths, next hops and tbl8 groups) is never exceeded. */
	r = &t->retired[(t->ret_head + t->ret_n) % t->ret_cap];
	r->token = rte_rcu_qsbr_start(t->qs);
	r->id = id;
	r->kind = kind;
	t->ret_n++;
}

unsigned int
rt_reclaim(struct rt_table *t, bool wait)
{
	while (t->ret_n > 0) {
		struct retired *r = &t->retired[t->ret_head];

		if (rte_rcu_qsbr_check(t->qs, r->token, wait) != 1)
			break;
		reclaim_one(t, r->kind, r->id);
		t->ret_head = (t->ret_head + 1) % t->ret_cap;
		t->ret_n--;
	}
	return t->ret_n;
}

/* Before an rte_lpm6 change that may take a tbl8 group: no reader may
 * still be walking one that an earlier removal freed. */
static void
lpm6_quiesce(struct rt_table *t)
{
	if (!t->lpm6_dirty)
		return;
	if (t->qs != NULL)
		rte_rcu_qsbr_synchronize(t->qs, RTE_QSBR_THRID_INVALID);
	t->lpm6_dirty = false;
}

/* ------------------------------------------------------------------------
 * The IPv4 table
 */

static uint32_t rec_find(const struct rt_table *t, uint8_t family, uint8_t len,
			 const uint8_t addr[16], uint32_t *hash);
static uint32_t rec_best(const struct rec *r);

static inline void
dir_store(uint32_t *e, uint32_t v)
{
	__atomic_store_n(e, v, __ATOMIC_RELAXED);
}

/* The entry of the longest prefix shorter than len that covers a (host
 * order) and has a route in force; 0 when none (/0 is kept apart). */
static uint32_t
v4_cover(const struct rt_table *t, uint32_t a, unsigned int len)
{
	for (unsigned int l = len - 1; l >= 1; l--) {
		uint8_t key[16] = { 0 };
		uint32_t be = rte_cpu_to_be_32(a & (UINT32_MAX << (32 - l)));
		uint32_t id, path;

		memcpy(key, &be, 4);
		id = rec_find(t, SL_FAMILY_IPV4, (uint8_t)l, key, NULL);
		if (id != 0 && (path = rec_best(&t->recs[id])) != 0)
			return RT_DIR_ENTRY(path, l);
	}
	return 0;
}

/* In the 256 entries of group g from first, n of them: entries of a prefix
 * no longer than len take v (an add); or entries of exactly len take v (a
 * removal, v the cover). */
static void
group_write(struct rt_table *t, uint32_t g, uint32_t first, uint32_t n,
	    unsigned int len, uint32_t v, bool add)
{
	uint32_t *e = &t->tbl8[(size_t)g << 8];

	for (uint32_t j = first; j < first + n; j++) {
		bool valid = (e[j] & RT_DIR_VALID) != 0;
		unsigned int d = RT_DIR_DEPTH(e[j]);

		if (add ? (!valid || d <= len) : (valid && d == len))
			dir_store(&e[j], v);
	}
}

/* Once group g of /24 index i holds no prefix longer than /24, its
 * entries are all equal: put that value back in tbl24 and retire g. */
static void
group_collapse(struct rt_table *t, uint32_t i, uint32_t g)
{
	const uint32_t *e = &t->tbl8[(size_t)g << 8];

	for (unsigned int j = 0; j < 256; j++)
		if ((e[j] & RT_DIR_VALID) && RT_DIR_DEPTH(e[j]) > 24)
			return;
	dir_store(&t->tbl24[i], e[0]);
	retire(t, OBJ_TBL8, g);
}

static int
dir24_write(struct rt_table *t, const struct rec *r, uint32_t path)
{
	unsigned int len = r->len;
	uint32_t a, v;

	memcpy(&a, r->addr, 4);
	a = rte_be_to_cpu_32(a);
	v = path != 0 ? RT_DIR_ENTRY(path, len) : v4_cover(t, a, len);
	if (len <= 24) {
		uint32_t first = a >> 8, end = first + (1u << (24 - len));

		for (uint32_t i = first; i < end; i++) {
			uint32_t e = t->tbl24[i];
			bool valid = (e & RT_DIR_VALID) != 0;

			if (e & RT_DIR_EXT)
				group_write(t, e & RT_DIR_VALUE, 0, 256, len, v,
					    path != 0);
			else if (path != 0 ? !valid || RT_DIR_DEPTH(e) <= len :
					     valid && RT_DIR_DEPTH(e) == len)
				dir_store(&t->tbl24[i], v);
		}
		return 0;
	}

	uint32_t i = a >> 8, e = t->tbl24[i], g;

	if (!(e & RT_DIR_EXT)) {
		if (path == 0)
			return 0;	/* nothing of it is in the table */
		if (t->n_group_free == 0 && t->ret_n > 0)
			rt_reclaim(t, true);
		if (t->n_group_free == 0)
			return -ENOSPC;
		g = t->group_free[--t->n_group_free];
		for (unsigned int j = 0; j < 256; j++)
			t->tbl8[((size_t)g << 8) + j] = e;
		/* The group's entries before the pointer to it. */
		__atomic_store_n(&t->tbl24[i], RT_DIR_EXT | g, __ATOMIC_RELEASE);
	} else {
		g = e & RT_DIR_VALUE;
	}
	group_write(t, g, a & 0xff, 1u << (32 - len), len, v, path != 0);
	if (path == 0)
		group_collapse(t, i, g);
	return 0;
}

/* ------------------------------------------------------------------------
 * LPM writes: make the table's entry for r's prefix point to path (0:
 * remove it).
 */

static int
lpm_write(struct rt_table *t, const struct rec *r, uint32_t path)
{
	unsigned int fam = FAM(r->family);
	int rc;

	if (r->len == 0) {
		__atomic_store_n(&t->dp.dflt[fam], path, __ATOMIC_RELEASE);
		t->updates++;
		return 0;
	}
	if (path != 0 && r->len > 24 && r->family == SL_FAMILY_IPV6)
		lpm6_quiesce(t);
	/* The path's contents before its index (rte_lpm6 stores with plain
	 * writes). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (r->family == SL_FAMILY_IPV4) {
		rc = dir24_write(t, r, path);
	} else {
		rc = path != 0 ? rte_lpm6_add(t->dp.lpm6, r->addr, r->len, path) :
				 rte_lpm6_delete(t->dp.lpm6, r->addr, r->len);
	}
	if (rc < 0)
		return rc;
	/* Only a removal frees rte_lpm6 groups. */
	if (r->family == SL_FAMILY_IPV6 && path == 0)
		t->lpm6_dirty = true;
	t->updates++;
	return 0;
}

/* ------------------------------------------------------------------------
 * Next hops
 */

static uint32_t
nh_hash(const struct nh_key *k)
{
	return rt_addr_hash(k->port, (uint8_t)(k->family | k->flags << 4),
			    k->gateway);
}

static bool
nh_is(const struct rt_nh *nh, const struct nh_key *k)
{
	return nh->port == k->port && nh->flags == k->flags &&
	       nh->family == k->family &&
	       memcmp(nh->gateway, k->gateway, 16) == 0;
}

static uint32_t
nh_find(const struct rt_table *t, const struct nh_key *k, uint32_t h)
{
	for (uint32_t id = t->nh_bucket[h & t->nh_mask]; id != 0;
	     id = t->nh_ctl[id].next)
		if (t->nh_ctl[id].hash == h && nh_is(&t->nhs[id], k))
			return id;
	return 0;
}

/* A reference to the next hop k, created if needed; 0 when full. */
static uint32_t
nh_get(struct rt_table *t, const struct nh_key *k)
{
	uint32_t h = nh_hash(k);
	uint32_t id = nh_find(t, k, h);
	struct rt_nh *nh;

	if (id != 0) {
		t->nh_ctl[id].refs++;
		return id;
	}
	if (t->nh_free == 0 && t->ret_n > 0)
		rt_reclaim(t, true);
	id = t->nh_free;
	if (id == 0)
		return 0;
	t->nh_free = t->nh_ctl[id].next;
	nh = &t->nhs[id];
	nh->port = k->port;
	nh->flags = k->flags;
	nh->family = k->family;
	nh->id = id;
	memcpy(nh->gateway, k->gateway, 16);
	nh->mac = (k->flags & RT_NH_GATEWAY) ?
		rt_neigh_lookup(&t->dp, k->port, k->family, k->gateway) : 0;
	t->nh_ctl[id] = (struct nh_ctl){
		.next = t->nh_bucket[h & t->nh_mask],
		.refs = 1,
		.hash = h,
	};
	t->nh_bucket[h & t->nh_mask] = id;
	t->n_nh++;
	return id;
}

/* Take id out of the hash chain starting at *bucket; base is an array of
 * elements of size bytes whose first member is the chain link. */
static void
unlink_id(uint32_t *bucket, uint32_t id, void *base, size_t size)
{
	uint32_t *link = bucket;

	while (*link != id)
		link = (uint32_t *)((char *)base + *link * size);
	*link = *(uint32_t *)((char *)base + id * size);
}

static void
nh_put(struct rt_table *t, uint32_t id)
{
	struct nh_ctl *c = &t->nh_ctl[id];

	if (--c->refs > 0)
		return;
	unlink_id(&t->nh_bucket[c->hash & t->nh_mask], id, t->nh_ctl,
		  sizeof(*c));
	t->n_nh--;
	retire(t, OBJ_NH, id);
}

/* ------------------------------------------------------------------------
 * Paths
 */

/* A route's next hops, merged and with weights reduced: sorted by key
 * when made, by next-hop index once the indexes are known (a path lists
 * them so). */
struct nh_set {
	unsigned int n;
	struct nh_set_item {
		struct nh_key key;
		uint32_t weight;
		uint32_t id;		/* filled by nh_find / nh_get */
	} v[RT_NEXTHOPS_MAX];
};

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct nh_key));
}

static uint32_t
gcd(uint32_t a, uint32_t b)
{
	while (b != 0) {
		uint32_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

static int
nh_set_make(struct nh_set *s, const struct rt_nexthop_spec *spec,
	    unsigned int n)
{
	struct nh_set_item v[RT_NEXTHOPS_MAX];
	uint32_t g = 0;

	if (n == 0 || n > RT_NEXTHOPS_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		const struct rt_nexthop_spec *x = &spec[i];

		if (x->weight < 1 || x->weight > RT_WEIGHT_MAX ||
		    x->port == UINT16_MAX)
			return -EINVAL;
		memset(&v[i], 0, sizeof(v[i]));
		v[i].key.port = x->port;
		v[i].weight = x->weight;
		if (x->has_gateway) {
			if (x->family != SL_FAMILY_IPV4 &&
			    x->family != SL_FAMILY_IPV6)
				return -EINVAL;
			v[i].key.flags = RT_NH_GATEWAY;
			v[i].key.family = x->family;
			memcpy(v[i].key.gateway, x->gateway,
			       ADDR_LEN(x->family));
		}
	}
	qsort(v, n, sizeof(v[0]), cmp_key);
	s->n = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (s->n > 0 && cmp_key(&v[i].key, &s->v[s->n - 1].key) == 0) {
			s->v[s->n - 1].weight += v[i].weight;
			continue;
		}
		s->v[s->n++] = v[i];
	}
	for (unsigned int i = 0; i < s->n; i++)
		g = gcd(s->v[i].weight, g);
	for (unsigned int i = 0; i < s->n; i++)
		s->v[i].weight /= g;
	return 0;
}

/* A one-next-hop set (local and on-link routes). */
static void
nh_set_one(struct nh_set *s, uint16_t port, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->n = 1;
	s->v[0].key.port = port;
	s->v[0].key.flags = flags;
	s->v[0].weight = 1;
}

static void
nh_set_sort_ids(struct nh_set *s)
{
	for (unsigned int i = 1; i < s->n; i++)
		for (unsigned int j = i; j > 0 && s->v[j - 1].id > s->v[j].id;
		     j--) {
			struct nh_set_item x = s->v[j];

			s->v[j] = s->v[j - 1];
			s->v[j - 1] = x;
		}
}

static uint32_t
path_hash(const struct nh_set *s)
{
	uint64_t h = s->n;

	for (unsigned int i = 0; i < s->n; i++) {
		h ^= (uint64_t)s->v[i].id << 16 | s->v[i].weight;
		h *= UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 31;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static uint32_t
path_lookup(const struct rt_table *t, const struct nh_set *s, uint32_t h)
{
	for (uint32_t id = t->path_bucket[h & t->path_mask]; id != 0;
	     id = t->path_ctl[id].next) {
		const struct path_ctl *c = &t->path_ctl[id];
		unsigned int i;

		if (c->hash != h || c->n != s->n)
			continue;
		for (i = 0; i < s->n; i++)
			if (c->nh[i] != s->v[i].id ||
			    c->weight[i] != s->v[i].weight)
				break;
		if (i == s->n)
			return id;
	}
	return 0;
}

/* The existing path of s, without creating anything; 0 when none. */
static uint32_t
path_find(const struct rt_table *t, struct nh_set *s)
{
	for (unsigned int i = 0; i < s->n; i++) {
		s->v[i].id = nh_find(t, &s->v[i].key, nh_hash(&s->v[i].key));
		if (s->v[i].id == 0)
			return 0;
	}
	nh_set_sort_ids(s);
	return path_lookup(t, s, path_hash(s));
}

/* A reference to the path of s, created if needed: its index, or
 * -ENOSPC / -ENOMEM. */
static int64_t
path_get(struct rt_table *t, struct nh_set *s)
{
	uint32_t id = path_find(t, s);
	uint32_t n_members = 0, h;
	struct path_ctl *c;
	struct rt_path *p;
	const struct rt_nh **members = NULL;
	unsigned int got = 0;

	if (id != 0) {
		t->path_ctl[id].refs++;
		return id;
	}
	for (; got < s->n; got++) {
		s->v[got].id = nh_get(t, &s->v[got].key);
		if (s->v[got].id == 0)
			goto fail;
	}
	nh_set_sort_ids(s);
	for (unsigned int i = 0; i < s->n; i++)
		n_members += s->v[i].weight;
	if (n_members > 1) {
		members = rte_malloc_socket("sl_rt_members",
					    sizeof(*members) * n_members,
					    RTE_CACHE_LINE_SIZE, t->socket);
		if (members == NULL)
			goto fail_nomem;
		for (unsigned int i = 0, m = 0; i < s->n; i++)
			for (uint32_t w = 0; w < s->v[i].weight; w++)
				members[m++] = &t->nhs[s->v[i].id];
	}
	if (t->path_free == 0 && t->ret_n > 0)
		rt_reclaim(t, true);
	id = t->path_free;
	if (id == 0) {
		rte_free(members);
		goto fail;
	}
	t->path_free = t->path_ctl[id].next;
	h = path_hash(s);
	c = &t->path_ctl[id];
	*c = (struct path_ctl){
		.next = t->path_bucket[h & t->path_mask],
		.refs = 1,
		.hash = h,
		.n = s->n,
	};
	for (unsigned int i = 0; i < s->n; i++) {
		c->nh[i] = s->v[i].id;
		c->weight[i] = (uint16_t)s->v[i].weight;
	}
	t->path_bucket[h & t->path_mask] = id;
	p = &t->paths[id];
	p->n_members = n_members;
	if (n_members == 1)
		p->nh = &t->nhs[s->v[0].id];
	else
		p->members = members;
	t->n_paths++;
	return id;

fail_nomem:
	for (unsigned int i = 0; i < got; i++)
		nh_put(t, s->v[i].id);
	return -ENOMEM;
fail:
	for (unsigned int i = 0; i < got; i++)
		nh_put(t, s->v[i].id);
	return -ENOSPC;
}

static void
path_put(struct rt_table *t, uint32_t id)
{
	struct path_ctl *c = &t->path_ctl[id];

	if (--c->refs > 0)
		return;
	unlink_id(&t->path_bucket[c->hash & t->path_mask], id, t->path_ctl,
		  sizeof(*c));
	for (unsigned int i = 0; i < c->n; i++)
		nh_put(t, c->nh[i]);
	t->n_paths--;
	retire(t, OBJ_PATH, id);
}

static void
reclaim_one(struct rt_table *t, uint32_t kind, uint32_t id)
{
	if (kind == OBJ_PATH) {
		struct rt_path *p = &t->paths[id];

		if (p->n_members > 1)
			rte_free((void *)(uintptr_t)p->members);
		memset(p, 0, sizeof(*p));
		t->path_ctl[id].next = t->path_free;
		t->path_free = id;
	} else if (kind == OBJ_NH) {
		t->nh_ctl[id].next = t->nh_free;
		t->nh_free = id;
	} else {
		t->group_free[t->n_group_free++] = id;
	}
}

/* ------------------------------------------------------------------------
 * Records
 */

static int
prefix_check(const struct sl_prefix *p, bool host_bits_ok)
{
	unsigned int alen;

	if (p == NULL ||
	    (p->family != SL_FAMILY_IPV4 && p->family != SL_FAMILY_IPV6) ||
	    p->len > MAX_LEN(p->family))
		return -EINVAL;
	if (host_bits_ok)
		return 0;
	alen = ADDR_LEN(p->family);
	for (unsigned int bit = p->len; bit < alen * 8; bit++)
		if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	return 0;
}

/* The record's key: the prefix with bytes past the family zeroed. */
static void
rec_key(const struct sl_prefix *p, uint8_t addr[16])
{
	memset(addr, 0, 16);
	memcpy(addr, p->addr, ADDR_LEN(p->family));
}

static uint32_t
rec_find(const struct rt_table *t, uint8_t family, uint8_t len,
	 const uint8_t addr[16], uint32_t *hash)
{
	uint32_t h = rt_addr_hash(len, family, addr);

	if (hash != NULL)
		*hash = h;
	for (uint32_t id = t->rec_bucket[h & t->rec_mask]; id != 0;
	     id = t->recs[id].next) {
		const struct rec *r = &t->recs[id];

		if (r->family == family && r->len == len &&
		    memcmp(r->addr, addr, 16) == 0)
			return id;
	}
	return 0;
}

static uint32_t
rec_new(struct rt_table *t, uint8_t family, uint8_t len,
	const uint8_t addr[16], uint32_t h)
{
	unsigned int fam = FAM(family);
	uint32_t id = t->rec_free;
	struct rec *r;

	if (id == 0 || t->n_prefixes[fam] >= t->max_prefixes[fam])
		return 0;
	r = &t->recs[id];
	t->rec_free = r->next;
	memset(r, 0, sizeof(*r));
	r->family = family;
	r->len = len;
	memcpy(r->addr, addr, 16);
	r->next = t->rec_bucket[h & t->rec_mask];
	t->rec_bucket[h & t->rec_mask] = id;
	t->n_prefixes[fam]++;
	return id;
}

static void
rec_free_if_empty(struct rt_table *t, uint32_t id)
{
	struct rec *r = &t->recs[id];
	uint32_t h;

	for (unsigned int s = 0; s < RT_SRC_MAX; s++)
		if (r->path[s] != 0)
			return;
	if (r->conn_refs != 0)
		return;
	h = rt_addr_hash(r->len, r->family, r->addr);
	unlink_id(&t->rec_bucket[h & t->rec_mask], id, t->recs, sizeof(*r));
	t->n_prefixes[FAM(r->family)]--;
	r->family = 0;
	r->next = t->rec_free;
	t->rec_free = id;
}

/* The path in force: the most preferred source's. */
static uint32_t
rec_best(const struct rec *r)
{
	for (unsigned int s = 0; s < RT_SRC_MAX; s++)
		if (r->path[s] != 0)
			return r->path[s];
	return 0;
}

/*
 * Give record id's source src the path (a reference the caller holds; 0:
 * none) and update the LPM when the path in force changes.  On success
 * the record owns the reference and the old path's is dropped; on failure
 * nothing changed (the caller still holds its reference).
 */
static int
rec_set_path(struct rt_table *t, uint32_t id, unsigned int src, uint32_t path)
{
	struct rec *r = &t->recs[id];
	uint32_t old = r->path[src];
	uint32_t before = rec_best(r), after;
	int rc;

	r->path[src] = path;
	after = rec_best(r);
	if (after != before) {
		rc = lpm_write(t, r, after);
		if (rc < 0) {
			r->path[src] = old;
			return rc;
		}
	}
	if (old == 0 && path != 0)
		t->n_routes[FAM(r->family)][src]++;
	else if (old != 0 && path == 0)
		t->n_routes[FAM(r->family)][src]--;
	if (old != 0)
		path_put(t, old);
	return 0;
}

/* ------------------------------------------------------------------------
 * Routes
 */

static int
set_route(struct rt_table *t, unsigned int src, const struct sl_prefix *prefix,
	  struct nh_set *s)
{
	uint8_t addr[16];
	uint32_t h, id, same;
	int64_t path;
	bool created = false;
	int rc;

	rec_key(prefix, addr);
	id = rec_find(t, prefix->family, prefix->len, addr, &h);
	if (id != 0 && t->recs[id].path[src] != 0) {
		same = path_find(t, s);
		if (same == t->recs[id].path[src]) {
			if ((int)src == t->resync_src)
				t->recs[id].resync_mark = t->resync_mark;
			return 0;
		}
	}
	path = path_get(t, s);
	if (path < 0)
		return (int)path;
	if (id == 0) {
		id = rec_new(t, prefix->family, prefix->len, addr, h);
		if (id == 0) {
			path_put(t, (uint32_t)path);
			return -ENOSPC;
		}
		created = true;
	}
	rc = rec_set_path(t, id, src, (uint32_t)path);
	if (rc < 0) {
		path_put(t, (uint32_t)path);
		if (created)
			rec_free_if_empty(t, id);
	} else if ((int)src == t->resync_src) {
		t->recs[id].resync_mark = t->resync_mark;
	}
	return rc;
}

static int
unset_route(struct rt_table *t, uint32_t id, unsigned int src)
{
	int rc = rec_set_path(t, id, src, 0);

	if (rc == 0)
		rec_free_if_empty(t, id);
	return rc;
}

static void
maybe_reclaim(struct rt_table *t)
{
	if (t->ret_n > 0)
		rt_reclaim(t, false);
}

int
rt_set(struct rt_table *t, enum rt_source src, const struct sl_prefix *prefix,
       const struct rt_nexthop_spec *nexthops, unsigned int n)
{
	struct nh_set s;
	int rc;

	if ((src != RT_SRC_STATIC && src != RT_SRC_KERNEL) ||
	    prefix_check(prefix, false) < 0 || nexthops == NULL ||
	    nh_set_make(&s, nexthops, n) < 0)
		return -EINVAL;
	rc = set_route(t, src, prefix, &s);
	maybe_reclaim(t);
	return rc;
}

int
rt_unset(struct rt_table *t, enum rt_source src, const struct sl_prefix *prefix)
{
	uint8_t addr[16];
	uint32_t id;
	int rc;

	if ((src != RT_SRC_STATIC && src != RT_SRC_KERNEL) ||
	    prefix_check(prefix, false) < 0)
		return -EINVAL;
	rec_key(prefix, addr);
	id = rec_find(t, prefix->family, prefix->len, addr, NULL);
	if (id == 0 || t->recs[id].path[src] == 0)
		return -ENOENT;
	rc = unset_route(t, id, src);
	maybe_reclaim(t);
	return rc;
}

int
rt_flush_source(struct rt_table *t, enum rt_source src)
{
	int n = 0;

	if ((unsigned int)src >= RT_SRC_MAX)
		return -EINVAL;
	for (uint32_t id = 1; id < t->n_recs; id++) {
		struct rec *r = &t->recs[id];

		if (r->family == 0 || r->path[src] == 0)
			continue;
		if (src == RT_SRC_CONNECTED)
			r->conn_refs = 0;
		if (unset_route(t, id, src) == 0)
			n++;
	}
	maybe_reclaim(t);
	return n;
}

int
rt_resync_begin(struct rt_table *t, enum rt_source src)
{
	if ((src != RT_SRC_STATIC && src != RT_SRC_KERNEL) ||
	    t->resync_src >= 0)
		return -EINVAL;
	t->resync_src = (int)src;
	if (++t->resync_mark == 0)
		t->resync_mark = 1;
	return 0;
}

int
rt_resync_end(struct rt_table *t)
{
	int n = 0;

	if (t->resync_src < 0)
		return -EINVAL;
	for (uint32_t id = 1; id < t->n_recs; id++) {
		struct rec *r = &t->recs[id];

		if (r->family != 0 && r->path[t->resync_src] != 0 &&
		    r->resync_mark != t->resync_mark &&
		    unset_route(t, id, (unsigned int)t->resync_src) == 0)
			n++;
	}
	t->resync_src = -1;
	maybe_reclaim(t);
	return n;
}

int
rt_sync_static(struct rt_table *t, const struct rt_route_spec *routes,
	       size_t n)
{
	struct nh_set s;
	uint32_t mark;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (prefix_check(&routes[i].prefix, false) < 0 ||
		    routes[i].nexthops == NULL ||
		    nh_set_make(&s, routes[i].nexthops,
				routes[i].n_nexthops) < 0)
			return -EINVAL;
	mark = ++t->sync_mark;
	if (mark == 0)
		mark = ++t->sync_mark;
	for (size_t i = 0; i < n; i++) {
		uint8_t addr[16];
		uint32_t id;

		rec_key(&routes[i].prefix, addr);
		id = rec_find(t, routes[i].prefix.family, routes[i].prefix.len,
			      addr, NULL);
		if (id != 0)
			t->recs[id].mark = mark;
	}
	for (uint32_t id = 1; id < t->n_recs; id++) {
		struct rec *r = &t->recs[id];

		if (r->family != 0 && r->path[RT_SRC_STATIC] != 0 &&
		    r->mark != mark)
			unset_route(t, id, RT_SRC_STATIC);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		nh_set_make(&s, routes[i].nexthops, routes[i].n_nexthops);
		rc = set_route(t, RT_SRC_STATIC, &routes[i].prefix, &s);
		maybe_reclaim(t);
	}
	return rc;
}

/* ------------------------------------------------------------------------
 * Connected routes
 */

static int
conn_ref(struct rt_table *t, const struct sl_prefix *prefix, uint16_t port,
	 uint8_t flags)
{
	struct nh_set s;
	uint8_t addr[16];
	uint32_t id;
	int rc;

	nh_set_one(&s, port, flags);
	rc = set_route(t, RT_SRC_CONNECTED, prefix, &s);
	if (rc < 0)
		return rc;
	rec_key(prefix, addr);
	id = rec_find(t, prefix->family, prefix->len, addr, NULL);
	t->recs[id].conn_refs++;
	return 0;
}

static int
conn_unref(struct rt_table *t, const struct sl_prefix *prefix)
{
	uint8_t addr[16];
	uint32_t id;

	rec_key(prefix, addr);
	id = rec_find(t, prefix->family, prefix->len, addr, NULL);
	if (id == 0 || t->recs[id].conn_refs == 0)
		return -ENOENT;
	if (--t->recs[id].conn_refs > 0)
		return 0;
	if (t->recs[id].path[RT_SRC_CONNECTED] == 0) {
		rec_free_if_empty(t, id);
		return 0;
	}
	return unset_route(t, id, RT_SRC_CONNECTED);
}

/* The host route and the subnet of an interface address. */
static void
local_prefixes(const struct sl_prefix *a, struct sl_prefix *host,
	       struct sl_prefix *net)
{
	*host = *a;
	host->len = (uint8_t)MAX_LEN(a->family);
	*net = *a;
	for (unsigned int bit = a->len; bit < 128; bit++)
		net->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
}

int
rt_set_local(struct rt_table *t, uint16_t port, const struct sl_prefix *addr)
{
	struct sl_prefix host, net;
	int rc;

	if (prefix_check(addr, true) < 0 || port == UINT16_MAX)
		return -EINVAL;
	local_prefixes(addr, &host, &net);
	rc = conn_ref(t, &host, port, RT_NH_LOCAL);
	if (rc == 0 && net.len < host.len) {
		rc = conn_ref(t, &net, port, 0);
		if (rc < 0)
			conn_unref(t, &host);
	}
	maybe_reclaim(t);
	return rc;
}

int
rt_unset_local(struct rt_table *t, uint16_t port, const struct sl_prefix *addr)
{
	struct sl_prefix host, net;
	int rc;

	(void)port;
	if (prefix_check(addr, true) < 0)
		return -EINVAL;
	local_prefixes(addr, &host, &net);
	rc = conn_unref(t, &host);
	if (rc == 0 && net.len < host.len)
		rc = conn_unref(t, &net);
	maybe_reclaim(t);
	return rc;
}

/* ------------------------------------------------------------------------
 * Neighbours
 */

/* Change a slot's key under its sequence count (route_lookup.h). */
static void
neigh_write(struct rt_neigh *e, uint32_t key, const uint64_t addr[2],
	    uint64_t mac)
{
	uint32_t seq = e->seq;

	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->key, key, __ATOMIC_RELAXED);
	__atomic_store_n(&e->addr[0], addr[0], __ATOMIC_RELAXED);
	__atomic_store_n(&e->addr[1], addr[1], __ATOMIC_RELAXED);
	__atomic_store_n(&e->mac, mac, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

static int
neigh_update(struct rt_table *t, uint16_t port, uint8_t family,
	     const uint8_t a[16], uint64_t mac)
{
	uint32_t h = rt_addr_hash(port, family, a);
	uint32_t used = RT_NEIGH_KEY(RT_NEIGH_USED, family, port);
	uint32_t dead = RT_NEIGH_KEY(RT_NEIGH_DEAD, family, port);
	struct rt_neigh *slot = NULL;
	uint64_t addr[2];

	memcpy(addr, a, 16);
	for (unsigned int i = 0; i < RT_NEIGH_PROBE; i++) {
		struct rt_neigh *e = &t->neigh[(h + i) & t->dp.neigh_mask];
		uint32_t state = e->key & 0xff;

		if ((e->key == used || e->key == dead) &&
		    e->addr[0] == addr[0] && e->addr[1] == addr[1]) {
			if (mac == 0 && state == RT_NEIGH_USED) {
				neigh_write(e, dead, addr, 0);
				t->n_neigh--;
			} else if (mac != 0 && state == RT_NEIGH_USED) {
				__atomic_store_n(&e->mac, mac, __ATOMIC_RELAXED);
			} else if (mac != 0) {
				if (t->n_neigh >= t->max_neigh)
					return -ENOSPC;
				neigh_write(e, used, addr, mac);
				t->n_neigh++;
			}
			return 0;
		}
		if (state != RT_NEIGH_USED && slot == NULL)
			slot = e;
		if (state == RT_NEIGH_EMPTY)
			break;
	}
	if (mac == 0)
		return 0;
	if (slot == NULL || t->n_neigh >= t->max_neigh)
		return -ENOSPC;
	neigh_write(slot, used, addr, mac);
	t->n_neigh++;
	return 0;
}

int
rt_neigh_update(struct rt_table *t, uint16_t port, uint8_t family,
		const uint8_t *addr, const struct rte_ether_addr *mac)
{
	struct nh_key k = { .port = port, .flags = RT_NH_GATEWAY,
			    .family = family };
	uint64_t packed = mac != NULL ? rt_mac_pack(mac) : 0;
	uint32_t id;

	if ((family != SL_FAMILY_IPV4 && family != SL_FAMILY_IPV6) ||
	    addr == NULL || port == UINT16_MAX)
		return -EINVAL;
	memcpy(k.gateway, addr, ADDR_LEN(family));
	id = nh_find(t, &k, nh_hash(&k));
	if (id != 0)
		__atomic_store_n(&t->nhs[id].mac, packed, __ATOMIC_RELAXED);
	return neigh_update(t, port, family, k.gateway, packed);
}

/* ------------------------------------------------------------------------
 * Resolution requests
 */

struct rt_wantq *
rt_wantq(struct rt_table *t, unsigned int worker)
{
	return worker < t->nb_workers ? &t->wantq[worker] : NULL;
}

unsigned int
rt_take_unresolved(struct rt_table *t, uint64_t now, rt_unresolved_fn fn,
		   void *arg)
{
	unsigned int count = 0;

	for (unsigned int w = 0; w < t->nb_workers; w++) {
		struct rt_wantq *q = &t->wantq[w];
		uint32_t tail = q->tail;
		uint32_t head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);

		for (; tail != head; tail++) {
			const struct rt_want *x =
				&q->ring[tail & (RT_WANTQ_SIZE - 1)];
			uint32_t h = rt_addr_hash(x->port, x->family, x->addr);
			struct resolve_seen *s = &t->seen[h % RESOLVE_MAP];

			if (s->used && s->hash == h && s->port == x->port &&
			    s->family == x->family &&
			    memcmp(s->addr, x->addr, 16) == 0 &&
			    now - s->tsc < t->resolve_tsc)
				continue;
			*s = (struct resolve_seen){
				.tsc = now, .hash = h, .port = x->port,
				.family = x->family, .used = 1,
			};
			memcpy(s->addr, x->addr, 16);
			fn(arg, x->port, x->family, x->addr);
			count++;
		}
		__atomic_store_n(&q->tail, tail, __ATOMIC_RELEASE);
	}
	return count;
}

/* ------------------------------------------------------------------------
 * Inspection
 */

void
rt_stats(const struct rt_table *t, struct rt_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned int f = 0; f < 2; f++) {
		s->prefixes[f] = t->n_prefixes[f];
		for (unsigned int src = 0; src < RT_SRC_MAX; src++)
			s->routes[f][src] = t->n_routes[f][src];
	}
	s->paths = t->n_paths;
	s->nexthops = t->n_nh;
	s->neighbours = t->n_neigh;
	s->retired = t->ret_n;
	s->updates = t->updates;
	for (unsigned int w = 0; w < t->nb_workers; w++)
		s->want_dropped += t->wantq[w].dropped;
}

int
rt_get(const struct rt_table *t, const struct sl_prefix *prefix,
       enum rt_source *src, struct rt_nexthop_spec *nexthops,
       unsigned int max)
{
	uint8_t addr[16];
	const struct path_ctl *c;
	const struct rec *r;
	uint32_t id;
	unsigned int s;

	if (prefix_check(prefix, false) < 0)
		return -EINVAL;
	rec_key(prefix, addr);
	id = rec_find(t, prefix->family, prefix->len, addr, NULL);
	if (id == 0)
		return -ENOENT;
	r = &t->recs[id];
	for (s = 0; s < RT_SRC_MAX && r->path[s] == 0; s++)
		;
	if (s == RT_SRC_MAX)
		return -ENOENT;
	if (src != NULL)
		*src = (enum rt_source)s;
	c = &t->path_ctl[r->path[s]];
	for (unsigned int i = 0; i < c->n && i < max; i++) {
		const struct rt_nh *nh = &t->nhs[c->nh[i]];

		nexthops[i] = (struct rt_nexthop_spec){
			.family = nh->family,
			.has_gateway = (nh->flags & RT_NH_GATEWAY) != 0,
			.port = nh->port,
			.weight = c->weight[i],
		};
		memcpy(nexthops[i].gateway, nh->gateway, 16);
	}
	return (int)c->n;
}

/* ------------------------------------------------------------------------
 * Life
 */

struct rt_table *
rt_create(const struct rt_params *p)
{
	char name[RTE_LPM6_NAMESIZE];
	struct rte_lpm6_config lc = { 0 };
	struct rt_table *t;
	uint32_t neigh_slots;
	int err = ENOMEM;

	if (p == NULL || p->name == NULL || p->max_routes_ipv4 == 0 ||
	    p->max_routes_ipv6 == 0 || p->max_routes_ipv4 > (1u << 24) ||
	    p->max_routes_ipv6 > (1u << 24) || p->max_paths > MAX_PATHS ||
	    strlen(p->name) > RT_NAME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	t->qs = p->qs;
	t->socket = p->socket;
	t->resync_src = -1;
	t->max_prefixes[0] = p->max_routes_ipv4;
	t->max_prefixes[1] = p->max_routes_ipv6;
	t->max_paths = (p->max_paths ? p->max_paths : DEFAULT_PATHS) + 1;
	t->max_nh = (p->max_nexthops ? p->max_nexthops : DEFAULT_NEXTHOPS) + 1;
	t->max_neigh = p->max_neigh ? p->max_neigh : DEFAULT_NEIGH;
	t->n_recs = p->max_routes_ipv4 + p->max_routes_ipv6 + 1;
	t->nb_workers = p->nb_workers;
	t->resolve_tsc = (uint64_t)(p->resolve_ms ? p->resolve_ms : 1000) *
			 rte_get_tsc_hz() / 1000;

	/* Control side. */
	t->recs = calloc(t->n_recs, sizeof(*t->recs));
	t->rec_mask = pow2_at_least(t->n_recs) - 1;
	t->rec_bucket = calloc((size_t)t->rec_mask + 1, sizeof(uint32_t));
	t->path_ctl = calloc(t->max_paths, sizeof(*t->path_ctl));
	t->path_mask = pow2_at_least(t->max_paths) - 1;
	t->path_bucket = calloc((size_t)t->path_mask + 1, sizeof(uint32_t));
	t->nh_ctl = calloc(t->max_nh, sizeof(*t->nh_ctl));
	t->nh_mask = pow2_at_least(t->max_nh) - 1;
	t->nh_bucket = calloc((size_t)t->nh_mask + 1, sizeof(uint32_t));
	t->n_groups = p->tbl8_ipv4 ? p->tbl8_ipv4 :
		clamp_u32(p->max_routes_ipv4 / 16, 256, 65536);
	if (t->n_groups > RT_DIR_VALUE + 1)
		t->n_groups = RT_DIR_VALUE + 1;
	t->group_free = calloc(t->n_groups, sizeof(*t->group_free));
	t->ret_cap = t->max_paths + t->max_nh + t->n_groups;
	t->retired = calloc(t->ret_cap, sizeof(*t->retired));
	t->seen = calloc(RESOLVE_MAP, sizeof(*t->seen));
	if (t->recs == NULL || t->rec_bucket == NULL || t->path_ctl == NULL ||
	    t->path_bucket == NULL || t->nh_ctl == NULL ||
	    t->nh_bucket == NULL || t->retired == NULL || t->seen == NULL ||
	    t->group_free == NULL)
		goto fail;
	/* Groups are taken from the top of the stack: lowest index first. */
	for (uint32_t g = 0; g < t->n_groups; g++)
		t->group_free[g] = t->n_groups - 1 - g;
	t->n_group_free = t->n_groups;
	FREE_LIST_INIT(t->recs, t->n_recs, t->rec_free);
	FREE_LIST_INIT(t->path_ctl, t->max_paths, t->path_free);
	FREE_LIST_INIT(t->nh_ctl, t->max_nh, t->nh_free);

	/* What the workers read. */
	t->paths = rte_zmalloc_socket("sl_rt_paths",
				      sizeof(*t->paths) * t->max_paths,
				      RTE_CACHE_LINE_SIZE, p->socket);
	t->nhs = rte_zmalloc_socket("sl_rt_nh", sizeof(*t->nhs) * t->max_nh,
				    RTE_CACHE_LINE_SIZE, p->socket);
	/* A quarter full at most: a probe seldom meets a long run. */
	neigh_slots = pow2_at_least((uint64_t)t->max_neigh * 4);
	t->neigh = rte_zmalloc_socket("sl_rt_neigh",
				      sizeof(*t->neigh) * neigh_slots,
				      RTE_CACHE_LINE_SIZE, p->socket);
	if (t->nb_workers > 0)
		t->wantq = rte_zmalloc_socket("sl_rt_want",
					      sizeof(*t->wantq) * t->nb_workers,
					      RTE_CACHE_LINE_SIZE, p->socket);
	t->tbl24 = rte_zmalloc_socket("sl_rt_tbl24", sizeof(uint32_t) << 24,
				      RTE_CACHE_LINE_SIZE, p->socket);
	t->tbl8 = rte_zmalloc_socket("sl_rt_tbl8",
				     ((size_t)t->n_groups << 8) * sizeof(uint32_t),
				     RTE_CACHE_LINE_SIZE, p->socket);
	if (t->tbl24 == NULL || t->tbl8 == NULL ||
	    t->paths == NULL || t->nhs == NULL || t->neigh == NULL ||
	    (t->nb_workers > 0 && t->wantq == NULL))
		goto fail;
	for (unsigned int w = 0; w < t->nb_workers; w++)
		t->wantq[w].interval = t->resolve_tsc;
	t->dp.tbl24 = t->tbl24;
	t->dp.tbl8 = t->tbl8;
	t->dp.paths = t->paths;
	t->dp.neigh = t->neigh;
	t->dp.neigh_mask = neigh_slots - 1;

	lc.max_rules = p->max_routes_ipv6;
	/* A group per two routes: a real table needs about 0.65 per route
	 * (random /48s need 2.4), but each group is 1 KiB and the default
	 * table size should not cost a quarter of a gigabyte. */
	lc.number_tbl8s = p->tbl8_ipv6 ? p->tbl8_ipv6 :
		clamp_u32(p->max_routes_ipv6 / 2, 256, 1u << 21);
	snprintf(name, sizeof(name), "%s6", p->name);
	t->dp.lpm6 = rte_lpm6_create(name, p->socket, &lc);
	if (t->dp.lpm6 == NULL) {
		err = rte_errno ? rte_errno : ENOMEM;
		goto fail;
	}
	return t;

fail:
	rt_free(t);
	errno = err;
	return NULL;
}

void
rt_free(struct rt_table *t)
{
	if (t == NULL)
		return;
	rte_lpm6_free(t->dp.lpm6);
	rte_free(t->tbl24);
	rte_free(t->tbl8);
	if (t->paths != NULL)
		for (uint32_t id = 1; id < t->max_paths; id++)
			if (t->paths[id].n_members > 1)
				rte_free((void *)(uintptr_t)t->paths[id].members);
	rte_free(t->paths);
	rte_free(t->nhs);
	rte_free(t->neigh);
	rte_free(t->wantq);
	free(t->recs);
	free(t->rec_bucket);
	free(t->path_ctl);
	free(t->path_bucket);
	free(t->nh_ctl);
	free(t->nh_bucket);
	free(t->retired);
	free(t->seen);
	free(t->group_free);
	free(t);
}

bool
rt_is_gateway(const struct rt_table *t, uint16_t port, uint8_t family,
	      const uint8_t *addr)
{
	struct nh_key k = { .port = port, .flags = RT_NH_GATEWAY,
			    .family = family };
	uint32_t id;

	memcpy(k.gateway, addr, family == SL_FAMILY_IPV4 ? 4 : 16);
	id = nh_find(t, &k, nh_hash(&k));
	return id != 0 && t->nh_ctl[id].refs > 0;
}
