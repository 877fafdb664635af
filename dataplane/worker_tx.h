/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker's way out for a packet: queued in the per-port TX buffer of its
 * egress port, or freed under a named drop reason.  Shared by the stages
 * of the hot path (worker.c, route_stage.c).
 */
#ifndef SLUICE_DP_WORKER_TX_H
#define SLUICE_DP_WORKER_TX_H

#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "worker.h"

/*
 * Hand a port's held packets to its TX queue.  What the queue refuses is
 * counted as tx_full and freed: tx counters were raised when the packets
 * were queued, so they come down again here.
 */
static inline void
txb_flush(struct dp_worker *w, uint16_t port)
{
	struct dp_txb *b = w->txb[port];
	uint16_t sent;

	if (b->n == 0)
		return;
	sent = rte_eth_tx_burst(port, (uint16_t)w->index, b->pkts, b->n);
	if (unlikely(sent < b->n)) {
		struct dp_port_counters *pc = &w->ctr.port[port];

		for (uint16_t i = sent; i < b->n; i++) {
			pc->tx_bytes -= b->pkts[i]->pkt_len;
			rte_pktmbuf_free(b->pkts[i]);
		}
		pc->tx_packets -= b->n - sent;
		pc->tx_dropped += b->n - sent;
		w->ctr.drops[SL_DROP_TX_FULL] += b->n - sent;
	}
	b->n = 0;
}

/* Queue n (<= SL_PARSE_BURST_MAX) packets of bytes bytes for port. */
static inline void
txb_add(struct dp_worker *w, uint16_t port, struct rte_mbuf *const pkts[],
	uint16_t n, uint64_t bytes)
{
	struct dp_txb *b = w->txb[port];

	if (b->n + n > DP_TXB_SIZE)
		txb_flush(w, port);
	memcpy(&b->pkts[b->n], pkts, sizeof(pkts[0]) * n);
	b->n += n;
	w->ctr.port[port].tx_packets += n;
	w->ctr.port[port].tx_bytes += bytes;
}

static inline void
drop_pkt(struct dp_counters *ctr, uint16_t in_port, struct rte_mbuf *m,
	 unsigned int reason)
{
	ctr->drops[reason]++;
	ctr->port[in_port].rx_dropped++;
	rte_pktmbuf_free(m);
}

#endif /* SLUICE_DP_WORKER_TX_H */
