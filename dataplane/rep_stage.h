/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The replication stage of the hot path: packets whose rule says replicate
 * or steer, after the firewall and before routing or the cross-connect.
 */
#ifndef SLUICE_DP_REP_STAGE_H
#define SLUICE_DP_REP_STAGE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "sluice/pkt_meta.h"

struct dp_worker;
struct fw_gen;

/*
 * For each kept packet i of the chunk whose rule (rule_of[i], FW_NO_RULE
 * for a packet no rule judged) replicates or steers, with its group's
 * Maglev table and the packet's symmetric flow hash (so both directions of
 * a flow pick the same targets):
 *   - replicate {group, copies}: copies go to `copies` distinct live
 *     targets (all of them when fewer are live: counted as rep_short), each
 *     sharing the packet's data: an indirect clone for a port target, a
 *     header segment chained to one for a tunnel target (routed toward the
 *     remote by the route table); then the packet itself goes on to be
 *     routed or cross-connected, its headers made its own first;
 *   - steer {group}: the packet goes to one target instead (encapsulated
 *     for a tunnel); with no live target it is dropped as no_target.
 * A copy that cannot be made (no mbuf, outer next hop unresolved or
 * unrouted) is counted as rep_failed; the packet is not affected.
 *
 * Steered packets leave the chunk: the arrays are compacted and the number
 * of packets left is returned.  Copies carry the frame as received.
 */
uint16_t dp_rep_chunk(struct dp_worker *w, const struct fw_gen *g,
		      uint16_t in_port, struct rte_mbuf *pkts[],
		      const uint8_t *data[], struct sl_pkt_meta meta[],
		      const uint32_t rule_of[], uint16_t n, uint64_t now);

#endif /* SLUICE_DP_REP_STAGE_H */
