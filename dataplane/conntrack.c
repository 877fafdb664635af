/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "conntrack.h"
#include "flow_hash.h"

/* Protocol classes with timeouts of their own. */
enum { CT_TCP, CT_UDP, CT_ICMP, CT_OTHER, CT_CLASSES };

static inline unsigned int
proto_class(uint8_t proto)
{
	switch (proto) {
	case 6:
		return CT_TCP;
	case 17:
		return CT_UDP;
	case 1:
	case 58:
		return CT_ICMP;
	default:
		return CT_OTHER;
	}
}

/*
 * The flow cache: a direct-mapped array in front of the rte_hash, indexed
 * by the low bits of the flow's signature.  A hit costs one cache line
 * (key and position together) where rte_hash reads two buckets and its key
 * store; a miss falls through to rte_hash and fills the slot.  A slot
 * always names the position its key has in the rte_hash: ageing clears a
 * slot before the position can go to another key.
 */
struct ct_cache_slot {
	struct sl_flow_key key;
	int32_t pos;			/* -1: empty */
	uint32_t sig;
} __rte_aligned(64);

#define CT_CACHE_MIN 1024u
#define CT_CACHE_MAX (1u << 16)

struct ct_table {
	struct rte_hash *hash;
	struct ct_entry *entries;	/* indexed by rte_hash position */
	struct ct_cache_slot *cache;
	uint32_t cache_mask;
	uint32_t max_flows;
	uint32_t count;
	uint32_t age_cursor;		/* next entry ct_age examines */
	uint64_t hash_seed;
	uint64_t timeout_tsc[CT_CLASSES][SL_CTS_MAX];
};

/* rte_hash calls this only where we give no signature; we always do, but
 * it must still agree with sl_flow_hash. */
static uint32_t
ct_hash_unseeded(const void *key, uint32_t len, uint32_t init)
{
	(void)len;
	return (uint32_t)sl_flow_hash(key, init);
}

/* Seconds of each (class, state) from the policy's named timeouts. */
static void
set_timeouts(struct ct_table *t, const struct sl_ct_timeouts *to, uint64_t hz)
{
	uint32_t s[CT_CLASSES][SL_CTS_MAX] = {
		[CT_TCP] = {
			[SL_CTS_SYN_SENT] = to->tcp_syn,
			[SL_CTS_SYN_RECV] = to->tcp_syn_ack,
			[SL_CTS_ESTABLISHED] = to->tcp_established,
			[SL_CTS_FIN_WAIT] = to->tcp_closing,
			[SL_CTS_CLOSING] = to->tcp_closing,
			[SL_CTS_TIME_WAIT] = to->tcp_closing,
			[SL_CTS_CLOSE] = to->tcp_closed,
		},
		[CT_UDP] = {
			[SL_CTS_OPEN] = to->udp_new,
			[SL_CTS_REPLIED] = to->udp_established,
		},
		[CT_ICMP] = {
			[SL_CTS_OPEN] = to->icmp,
			[SL_CTS_REPLIED] = to->icmp,
		},
		[CT_OTHER] = {
			[SL_CTS_OPEN] = to->other,
			[SL_CTS_REPLIED] = to->other,
		},
	};

	for (unsigned int c = 0; c < CT_CLASSES; c++)
		for (unsigned int st = 0; st < SL_CTS_MAX; st++)
			t->timeout_tsc[c][st] = (uint64_t)s[c][st] * hz;
}

struct ct_table *
ct_table_create(const struct ct_params *p)
{
	struct rte_hash_parameters hp = {
		.name = p->name,
		.entries = p->max_flows,
		.key_len = sizeof(struct sl_flow_key),
		.hash_func = ct_hash_unseeded,
		.hash_func_init_val = (uint32_t)p->hash_seed,
		.socket_id = p->socket,
		/* Extendable buckets: inserts succeed until max_flows. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct ct_table *t;
	uint64_t hz = rte_get_tsc_hz();

	if (p->max_flows == 0 || p->name == NULL) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("sl_ct", sizeof(*t), RTE_CACHE_LINE_SIZE,
			       p->socket);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	t->hash = rte_hash_create(&hp);
	t->entries = rte_zmalloc_socket("sl_ct_entries",
					sizeof(struct ct_entry) * (size_t)p->max_flows,
					RTE_CACHE_LINE_SIZE, p->socket);
	t->cache_mask = (uint32_t)rte_align32pow2(
		RTE_MAX(CT_CACHE_MIN, RTE_MIN(CT_CACHE_MAX, p->max_flows / 4))) - 1;
	t->cache = rte_malloc_socket("sl_ct_cache",
				     sizeof(*t->cache) * (t->cache_mask + 1),
				     RTE_CACHE_LINE_SIZE, p->socket);
	if (t->cache != NULL)
		for (uint32_t i = 0; i <= t->cache_mask; i++)
			t->cache[i].pos = -1;
	if (t->hash == NULL || t->entries == NULL || t->cache == NULL) {
		int err = t->hash == NULL ? rte_errno : ENOMEM;

		ct_table_free(t);
		errno = err ? err : ENOMEM;
		return NULL;
	}
	t->max_flows = p->max_flows;
	t->hash_seed = p->hash_seed;
	set_timeouts(t, &p->timeouts, hz);
	return t;
}

void
ct_table_free(struct ct_table *t)
{
	if (t == NULL)
		return;
	rte_hash_free(t->hash);
	rte_free(t->entries);
	rte_free(t->cache);
	rte_free(t);
}

uint32_t
ct_table_count(const struct ct_table *t)
{
	return t->count;
}

struct ct_entry *
ct_table_entry(struct ct_table *t, int32_t entry)
{
	return &t->entries[entry];
}

int32_t
ct_find(struct ct_table *t, const struct sl_flow_key *key, uint64_t now)
{
	int32_t pos = rte_hash_lookup_with_hash(t->hash, key,
				(uint32_t)dp_flow_hash(key, t->hash_seed));

	if (pos < 0 || t->entries[pos].state == SL_CTS_NONE ||
	    t->entries[pos].expires <= now)
		return -ENOENT;
	return pos;
}

static inline int
is_icmp_query(const struct sl_pkt_meta *m)
{
	if (m->l4_proto == 1)	/* echo, timestamp, info, address mask */
		return m->icmp_type == 8 || m->icmp_type == 13 ||
		       m->icmp_type == 15 || m->icmp_type == 17;
	return m->icmp_type == 128 || m->icmp_type == 139;	/* echo, NI */
}

/* The state a packet with no flow would create, or SL_CT_STEP_INVALID. */
static inline uint8_t
first_state(const struct sl_pkt_meta *m)
{
	uint8_t fin = 0;

	switch (m->l4_proto) {
	case 6:
		return sl_ct_tcp_step(SL_CTS_NONE, &fin, SL_CT_DIR_ORIG,
				      m->tcp_flags);
	case 1:
	case 58:
		return is_icmp_query(m) ? SL_CTS_OPEN : SL_CT_STEP_INVALID;
	default:
		return SL_CTS_OPEN;
	}
}

/* Move a known flow by one packet; returns the packet's SL_CT_* bit. */
static inline uint8_t
step_flow(struct ct_table *t, struct ct_entry *e, const struct sl_pkt_meta *m,
	  enum sl_ct_dir dir, uint64_t now)
{
	uint8_t next;

	if (m->l4_proto == 6) {
		next = sl_ct_tcp_step(e->state, &e->fin, dir, m->tcp_flags);
		if (next == SL_CT_STEP_INVALID)
			return SL_CT_INVALID;
	} else if ((m->l4_proto == 1 || m->l4_proto == 58) &&
		   dir == SL_CT_DIR_ORIG && !is_icmp_query(m)) {
		return SL_CT_INVALID;	/* only queries go out */
	} else {
		next = dir == SL_CT_DIR_REPLY ? SL_CTS_REPLIED : e->state;
	}
	/*
	 * Write the entry only when something moved: most packets of an
	 * established flow change nothing, and a store per packet costs more
	 * than the lookup's reads.  The expiry is pushed out once it is more
	 * than 1/16 of the timeout behind, so an idle flow ages out between
	 * 15/16 and 16/16 of its timeout after its last packet.
	 */
	uint64_t timeout = t->timeout_tsc[proto_class(m->l4_proto)][next];
	uint64_t expires = now + timeout;

	if (dir == SL_CT_DIR_REPLY && !e->seen_reply)
		e->seen_reply = 1;
	if (next != e->state) {
		e->state = next;
		e->expires = expires;
	} else if (expires - e->expires > timeout / 16) {
		e->expires = expires;
	}
	return e->seen_reply ? SL_CT_ESTABLISHED : SL_CT_NEW;
}

static inline bool
key_equal(const struct sl_flow_key *a, const struct sl_flow_key *b)
{
	const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;

	RTE_BUILD_BUG_ON(sizeof(*a) != 5 * sizeof(uint64_t));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) |
		(x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

static inline struct ct_cache_slot *
cache_slot(const struct ct_table *t, uint32_t sig)
{
	return &t->cache[sig & t->cache_mask];
}

static inline void
cache_fill(struct ct_table *t, const struct sl_flow_key *key, uint32_t sig,
	   int32_t pos)
{
	struct ct_cache_slot *c = cache_slot(t, sig);

	c->key = *key;
	c->sig = sig;
	c->pos = pos;
}

/* Whether an earlier packet of the walk, with no flow yet, has this key. */
static inline bool
after_pending_miss(const struct sl_pkt_meta *const meta[],
		   const struct ct_pkt ct[], const uint16_t *miss,
		   uint16_t nb_miss, uint16_t i)
{
	for (uint16_t k = 0; k < nb_miss; k++) {
		uint16_t j = miss[k];

		if (ct[j].sig == ct[i].sig && key_equal(&meta[j]->key, &meta[i]->key))
			return true;
	}
	return false;
}

uint16_t
ct_lookup_burst(struct ct_table *t, const struct sl_pkt_meta *const meta[],
		uint16_t n, uint64_t now, struct ct_pkt ct[])
{
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	hash_sig_t sigs[RTE_HASH_LOOKUP_BULK_MAX];
	int32_t pos[RTE_HASH_LOOKUP_BULK_MAX];
	int32_t got[RTE_HASH_LOOKUP_BULK_MAX];
	uint16_t from[RTE_HASH_LOOKUP_BULK_MAX];
	uint16_t miss[RTE_HASH_LOOKUP_BULK_MAX];
	uint16_t nb_miss = 0;
	uint32_t nb_keys = 0;

	/* Signatures first, prefetching each flow's cache slot ... */
	for (uint16_t i = 0; i < n; i++) {
		const struct sl_pkt_meta *m = meta[i];

		ct[i] = (struct ct_pkt){ .entry = -1, .stale = -1,
					 .ct = SL_CT_INVALID };
		if (unlikely(m->key.family == SL_FAMILY_NONE ||
			     (m->frag & SL_FRAG_IS_FRAG)))
			continue;
		ct[i].sig = (uint32_t)dp_flow_hash(&m->key, t->hash_seed);
		rte_prefetch0(cache_slot(t, ct[i].sig));
	}
	/* ... then the cache, prefetching the entries of its hits; what it
	 * misses goes to rte_hash in one bulk lookup. */
	for (uint16_t i = 0; i < n; i++) {
		const struct sl_pkt_meta *m = meta[i];
		const struct ct_cache_slot *c;

		pos[i] = -1;
		if (unlikely(m->key.family == SL_FAMILY_NONE ||
			     (m->frag & SL_FRAG_IS_FRAG)))
			continue;
		c = cache_slot(t, ct[i].sig);
		if (likely(c->pos >= 0 && c->sig == ct[i].sig &&
			   key_equal(&c->key, &m->key))) {
			pos[i] = c->pos;
			rte_prefetch0(&t->entries[c->pos]);
			continue;
		}
		keys[nb_keys] = &m->key;
		sigs[nb_keys] = ct[i].sig;
		from[nb_keys++] = i;
	}
	if (nb_keys > 0) {
		rte_hash_lookup_with_hash_bulk(t->hash, keys, sigs, nb_keys,
					       got);
		for (uint32_t k = 0; k < nb_keys; k++) {
			pos[from[k]] = got[k];
			if (got[k] >= 0)
				cache_fill(t, keys[k], sigs[k], got[k]);
		}
	}

	for (uint16_t i = 0; i < n; i++) {
		const struct sl_pkt_meta *m = meta[i];
		struct ct_pkt *c = &ct[i];
		struct ct_entry *e;

		if (unlikely(m->key.family == SL_FAMILY_NONE ||
			     (m->frag & SL_FRAG_IS_FRAG)))
			continue;
		if (unlikely(nb_miss > 0 &&
			     after_pending_miss(meta, ct, miss, nb_miss, i)))
			return i;
		e = pos[i] >= 0 ? &t->entries[pos[i]] : NULL;
		if (e == NULL || unlikely(e->expires <= now)) {
			/* No flow, or one expired but not yet aged out. */
			c->stale = e == NULL ? -1 : (int32_t)(e - t->entries);
			c->new_state = first_state(m);
			c->ct = c->new_state == SL_CT_STEP_INVALID ? SL_CT_INVALID
								   : SL_CT_NEW;
			miss[nb_miss++] = i;
			continue;
		}
		c->e = e;
		c->entry = (int32_t)(e - t->entries);
		c->dir = m->key_swapped == e->orig_swapped ? SL_CT_DIR_ORIG
							   : SL_CT_DIR_REPLY;
		c->ct = step_flow(t, e, m, (enum sl_ct_dir)c->dir, now);
	}
	return n;
}

int32_t
ct_commit(struct ct_table *t, const struct sl_pkt_meta *m, struct ct_pkt *c,
	  uint64_t now)
{
	int32_t pos = c->stale;
	struct ct_entry *e;

	/* ct_lookup_burst saw no live flow and, by stopping at intra-burst
	 * dependencies, guarantees no earlier packet created one since: no
	 * second lookup.  An expired entry still in the table is reused. */
	if (pos < 0) {
		if (t->count >= t->max_flows)
			return -ENOSPC;
		pos = rte_hash_add_key_with_hash(t->hash, &m->key, c->sig);
		if (pos < 0)
			return -ENOSPC;
		if (unlikely((uint32_t)pos >= t->max_flows)) {
			/* rte_hash promises positions below its size; keep
			 * the entry array safe if that ever changes. */
			rte_hash_del_key_with_hash(t->hash, &m->key, c->sig);
			return -ENOSPC;
		}
		t->count++;
		cache_fill(t, &m->key, c->sig, pos);
	}
	e = &t->entries[pos];
	*e = (struct ct_entry){
		.expires = now +
			t->timeout_tsc[proto_class(m->l4_proto)][c->new_state],
		.sig = c->sig,
		.state = c->new_state,
		.orig_swapped = m->key_swapped,
		.rule = { CT_NO_RULE, CT_NO_RULE },
	};
	c->e = e;
	c->entry = pos;
	c->stale = -1;
	c->dir = SL_CT_DIR_ORIG;
	return pos;
}

uint32_t
ct_age(struct ct_table *t, uint64_t now, uint32_t budget)
{
	uint32_t removed = 0;

	/* Walk the dense entry array, not the hash buckets: the cost of a
	 * call is budget slots whatever the table holds. */
	for (uint32_t i = 0; i < budget; i++) {
		uint32_t pos = t->age_cursor;
		struct ct_entry *e = &t->entries[pos];
		void *key;

		t->age_cursor = pos + 1 == t->max_flows ? 0 : pos + 1;
		if (e->state == SL_CTS_NONE || e->expires > now)
			continue;
		struct ct_cache_slot *c = cache_slot(t, e->sig);

		if (c->pos == (int32_t)pos)
			c->pos = -1;
		if (rte_hash_get_key_with_position(t->hash, (int32_t)pos,
						   &key) == 0 &&
		    rte_hash_del_key_with_hash(t->hash, key, e->sig) >= 0) {
			t->count--;
			removed++;
		}
		e->state = SL_CTS_NONE;
	}
	return removed;
}

uint64_t
ct_age_interval(const struct ct_table *t, uint32_t budget, double sweep_s)
{
	double calls = (double)t->max_flows / (budget ? budget : 1);

	return (uint64_t)(sweep_s * (double)rte_get_tsc_hz() / calls);
}
