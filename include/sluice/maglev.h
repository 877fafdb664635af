/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Maglev lookup tables (Eisenbud et al., NSDI 2016) with weights, and the
 * per-packet pick of R distinct targets from one.  Shared by the DPDK
 * dataplane, the XDP loader and sluiced; no DPDK types (docs/maglev.md).
 *
 * A table is a plain array of table_size uint16_t entries, each the index
 * of a live target in the caller's list, or SL_MAGLEV_NONE when no target
 * is live.  The same targets (identity, weight, state), size and seed give a
 * byte-identical table on every node and every architecture, so nodes can
 * compare sl_maglev_digest() values.
 *
 * sl_maglev_build() is control-path code: it allocates and takes
 * milliseconds (65,537 entries) to seconds (16,777,213).  The table it
 * fills is read-only afterwards and is published to workers by pointer
 * swap; sl_maglev_pick() only reads it and is safe from any thread.
 */
#ifndef SLUICE_MAGLEV_H
#define SLUICE_MAGLEV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sluice/policy.h"	/* SL_POLICY_MAGLEV_*, SL_POLICY_TARGETS_MAX,
				 * enum sl_target_state */

/* A table entry that names no target: the table when nothing is live. */
#define SL_MAGLEV_NONE UINT16_MAX

/*
 * One target as the builder sees it.
 *
 * id is the target's stable identity: bytes the caller derives from what
 * the target is, never from where it sits in a list ("port:eth1",
 * "vxlan:198.51.100.7:100").  The identity alone seeds the target's
 * permutation, and ties between targets are broken by identity, so
 * reordering the list, or adding or removing another target, does not
 * reshuffle a target's entries beyond Maglev's small churn.  Identities are
 * unique within one build.
 *
 * state: SL_TARGET_UP targets are in the table.  SL_TARGET_DOWN and
 * SL_TARGET_DRAINING are not: a draining target takes no new flows; keeping
 * its established flows on it is the flow table's job, not this module's.
 */
struct sl_maglev_target {
	const void *id;		/* identity bytes, not NUL-terminated */
	size_t id_len;		/* 1..SL_MAGLEV_ID_MAX */
	uint16_t weight;	/* 1..65535: share of the table among live ones */
	uint8_t state;		/* enum sl_target_state */
};

#define SL_MAGLEV_ID_MAX 256	/* bytes of an identity */

/*
 * The identity of a policy target, what it is rather than where it sits:
 * "port:NAME", "vxlan:ADDR:VNI", "geneve:ADDR:VNI", "gre:ADDR:HASKEY:KEY".
 * One function for the dataplane and sluiced (cluster tables), so both
 * build the same table.  Writes at most size bytes with the NUL; returns
 * the identity's length (without the NUL).
 */
size_t sl_maglev_target_identity(const struct sl_target *t, char *buf,
				 size_t size);

/*
 * Fill table[0..table_size) from targets[0..n).
 *
 * Every live (UP) target gets at least one entry and otherwise a share of
 * the table proportional to its weight, rounded to the nearest entry
 * (Webster rounding: within half an entry).  Scaling every weight by the
 * same factor leaves the table unchanged.  Entries hold indices into
 * targets[]; with no live target every entry is SL_MAGLEV_NONE.
 *
 * table_size must be a prime in [SL_POLICY_MAGLEV_MIN, SL_POLICY_MAGLEV_MAX]
 * (SL_POLICY_MAGLEV_DEFAULT is 65,537).  seed is the configured seed; every
 * node must use the same one.  Not thread safe on one table; distinct
 * tables may be built concurrently.
 *
 * Returns the number of live targets (0..n), which sl_maglev_pick() takes
 * as n_live, or:
 *   -EINVAL  table_size not prime or out of range; targets or table NULL
 *            (targets may be NULL when n is 0); a target with no identity,
 *            an identity longer than SL_MAGLEV_ID_MAX, weight 0 or an
 *            unknown state; two targets with the same identity.
 *            The table is not touched.
 *   -E2BIG   n > SL_POLICY_TARGETS_MAX.  The table is not touched.
 *   -ENOMEM  The table is not touched.
 */
int sl_maglev_build(const struct sl_maglev_target *targets, size_t n,
		    uint32_t table_size, uint64_t seed, uint16_t *table);

/*
 * XXH3-64 (seed 0) of the table's bytes, each entry little-endian, so equal
 * tables give equal digests on any host.  For /v1/status and the cluster's
 * "same table everywhere" check.
 */
uint64_t sl_maglev_digest(const uint16_t *table, uint32_t size);

/*
 * The targets of a flow: up to `copies` distinct target indices into out[]
 * (which holds `copies` entries), returning how many were written.
 *
 * out[0] is table[flow_hash % size], the plain Maglev pick (steer uses
 * copies = 1).  The next ones walk the table forward from there, wrapping,
 * and take each target not chosen yet, until there are `copies` of them or
 * every live target is chosen: min(copies, n_live) targets.  A caller that
 * asked for more copies than there are live targets sees a smaller count.
 * Zero live targets (or copies 0) gives 0.
 *
 * Why a walk and not more hashes: the walk needs no further hashing or
 * division, reads neighbouring entries (32 per cache line), and is bounded -
 * one pass over the table meets every live target, since each owns an
 * entry.  Entries are the Maglev permutations' interleaving, so neighbours
 * are close to independent draws weighted by table share, and the replica
 * set is as consistent as the table: it changes only for flows whose walk
 * crosses an entry that changed.  The same flow hash gives the same list in
 * the same order; both directions of a flow share the symmetric key and so
 * the hash.
 *
 * Cost: one division and one read for copies = 1.  For copies = R the walk
 * reads about sum_{j<R} 1 / (1 - s_j) entries, s_j the table share already
 * chosen: R to 2R with comparable weights.  Worst case `size` reads, met
 * only when a target with a tiny share (extreme weights) must be found;
 * never more.
 *
 * table and n_live come from one sl_maglev_build(); size is its table_size.
 */
static inline int
sl_maglev_pick(const uint16_t *table, uint32_t size, unsigned int n_live,
	       uint64_t flow_hash, unsigned int copies, uint16_t *out)
{
	uint64_t seen[(SL_POLICY_TARGETS_MAX + 63) / 64];
	unsigned int want = copies < n_live ? copies : n_live;
	unsigned int n = 1;
	uint32_t pos, left;
	uint16_t t;

	if (want == 0 || size == 0)
		return 0;
	pos = (uint32_t)(flow_hash % size);
	t = table[pos];
	if (t >= SL_POLICY_TARGETS_MAX)		/* SL_MAGLEV_NONE */
		return 0;
	out[0] = t;
	if (want == 1)
		return 1;

	memset(seen, 0, sizeof(seen));
	seen[t >> 6] |= 1ull << (t & 63);
	for (left = size - 1; left > 0; left--) {
		if (++pos == size)
			pos = 0;
		t = table[pos];
		if (t >= SL_POLICY_TARGETS_MAX ||
		    (seen[t >> 6] & (1ull << (t & 63))))
			continue;
		seen[t >> 6] |= 1ull << (t & 63);
		out[n++] = t;
		if (n == want)
			break;
	}
	return (int)n;
}

#endif /* SLUICE_MAGLEV_H */
