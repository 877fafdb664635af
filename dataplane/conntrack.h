/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK dataplane's connection tracking: one table per worker.
 *
 * Symmetric RSS sends both directions of a flow to the same worker, so each
 * worker owns its table outright: no locks, no atomics.  The table is an
 * rte_hash keyed by the symmetric struct sl_flow_key with XXH3 signatures
 * (sl_flow_hash with the configured seed); the position rte_hash gives a
 * key indexes an array of struct ct_entry.
 *
 * A packet's walk: ct_lookup_burst classifies a burst (the `ct` state rules
 * match on, and the flow entry if there is one, already moved by this
 * packet); the firewall decides; ct_commit creates the entry for a new flow
 * that was accepted - a dropped first packet leaves no state behind, as in
 * Linux.  ct_age, called once per worker loop, examines a bounded number of
 * slots, so ageing never stalls a worker.
 */
#ifndef SLUICE_DP_CONNTRACK_H
#define SLUICE_DP_CONNTRACK_H

#include <stdint.h>

#include "sluice/conntrack.h"
#include "sluice/pkt_meta.h"
#include "sluice/policy.h"

struct ct_table;

struct ct_params {
	const char *name;	/* unique per table (rte_hash name) */
	int socket;
	uint32_t max_flows;	/* the table refuses new flows beyond this */
	uint64_t hash_seed;
	struct sl_ct_timeouts timeouts;	/* seconds, from the policy */
};

struct ct_entry {
	uint64_t expires;	/* TSC at which the flow ages out */
	uint32_t sig;		/* XXH3 signature, for deleting by key */
	uint8_t state;		/* enum sl_ct_state */
	uint8_t fin;		/* SL_CTF_* */
	uint8_t orig_swapped;	/* key_swapped of the flow's first packet */
	uint8_t seen_reply;
	/* Verdict cache of the firewall, per direction: rule[dir] judged
	 * this flow's established packets under generation gen, arriving
	 * on in_port[dir].  CT_NO_RULE: not cached. */
	uint32_t gen;
	uint32_t rule[2];
	uint16_t in_port[2];
};

#define CT_NO_RULE UINT32_MAX

/* What ct_lookup_burst learned about one packet. */
struct ct_pkt {
	struct ct_entry *e;	/* the flow's entry, NULL: no flow */
	int32_t entry;		/* its index, -1: no flow */
	int32_t stale;		/* no flow: an expired entry to reuse, or -1 */
	uint32_t sig;
	uint8_t ct;		/* one SL_CT_* bit */
	uint8_t dir;		/* enum sl_ct_dir */
	uint8_t new_state;	/* no flow yet: the state ct_commit creates */
};

/* Returns NULL with errno set (EINVAL, ENOMEM, EEXIST). */
struct ct_table *ct_table_create(const struct ct_params *params);
void ct_table_free(struct ct_table *t);

/* Flows tracked now. */
uint32_t ct_table_count(const struct ct_table *t);

/* The live flow of key at now, without moving it (for trace and
 * inspection), or -ENOENT. */
int32_t ct_find(struct ct_table *t, const struct sl_flow_key *key,
		uint64_t now);

/* The entry behind ct_pkt.entry. */
struct ct_entry *ct_table_entry(struct ct_table *t, int32_t entry);

/*
 * Classify parsed, non-dropped packets at TSC now, in order: fills ct[i]
 * for i < the returned count k (1 <= k <= n <= 64 when n > 0).  Packets of
 * a known flow move it (state, expiry); a packet the state machine refuses
 * is SL_CT_INVALID and changes nothing.  Non-IP packets and fragments are
 * SL_CT_INVALID (untracked).
 *
 * The walk stops before a packet whose flow an earlier packet of the burst
 * may be about to create: its state depends on that packet's verdict.  The
 * caller judges and commits ct[0..k), then calls again with the rest.
 */
uint16_t ct_lookup_burst(struct ct_table *t,
			 const struct sl_pkt_meta *const meta[], uint16_t n,
			 uint64_t now, struct ct_pkt ct[]);

/*
 * Create the flow of an accepted SL_CT_NEW packet that had no entry, from
 * the ct_pkt its ct_lookup_burst filled (and before the next lookup call).
 * Returns the entry index or -ENOSPC when the table is full (the caller
 * applies the full-table policy).
 */
int32_t ct_commit(struct ct_table *t, const struct sl_pkt_meta *meta,
		  struct ct_pkt *ct, uint64_t now);

/* Examine up to budget slots from where the last call stopped and remove
 * the flows expired at now.  Returns how many were removed. */
uint32_t ct_age(struct ct_table *t, uint64_t now, uint32_t budget);

/*
 * TSC ticks between ct_age calls of budget slots so that the whole table
 * is swept once per sweep_s seconds.  Ageing only returns slots for new
 * flows - a lookup already treats an expired entry as gone - so a sweep of
 * a second or two is prompt enough, and pacing it keeps a worker from
 * reading cold slots of a large table on every round.
 */
uint64_t ct_age_interval(const struct ct_table *t, uint32_t budget,
			 double sweep_s);

#endif /* SLUICE_DP_CONNTRACK_H */
