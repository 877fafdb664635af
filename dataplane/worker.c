/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hot path: RX burst -> parse -> (firewall, route and replication stages
 * plug in here) -> cross-connect -> per-port TX buffers.
 *
 * Every packet a worker receives leaves in exactly one of two ways: handed
 * to a TX buffer (and so to the PMD, or counted as tx_full by the buffer's
 * callback), or freed under a named drop reason.
 */
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "config.h"
#include "worker.h"

void
dp_worker_tx_drop(struct rte_mbuf **pkts, uint16_t unsent, void *arg)
{
	struct dp_tx_ctx *tx = arg;
	struct dp_port_counters *pc = &tx->ctr->port[tx->port];

	for (uint16_t i = 0; i < unsent; i++) {
		pc->tx_packets--;
		pc->tx_bytes -= pkts[i]->pkt_len;
		rte_pktmbuf_free(pkts[i]);
	}
	pc->tx_dropped += unsent;
	tx->ctr->drops[SL_DROP_TX_FULL] += unsent;
}

static inline void
drop_pkt(struct dp_counters *ctr, uint16_t in_port, struct rte_mbuf *m,
	 unsigned int reason)
{
	ctr->drops[reason]++;
	ctr->port[in_port].rx_dropped++;
	rte_pktmbuf_free(m);
}

/*
 * Parse and forward up to SL_PARSE_BURST_MAX packets received on in_port.
 * A frame that spans several mbufs is dropped as hdr_split: the parser reads
 * one contiguous buffer (raise --mbuf-size for jumbo frames).
 */
static inline void
process_chunk(struct dp_worker *w, uint16_t in_port, struct rte_mbuf **pkts,
	      uint16_t n)
{
	const uint8_t *data[SL_PARSE_BURST_MAX];
	uint16_t len[SL_PARSE_BURST_MAX];
	struct sl_pkt_meta meta[SL_PARSE_BURST_MAX];
	struct dp_counters *ctr = &w->ctr;
	uint16_t out_port = w->egress[in_port];

	for (uint16_t i = 0; i < n; i++) {
		data[i] = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		len[i] = pkts[i]->data_len;
	}
	w->parse(data, len, n, meta);

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned int reason = meta[i].drop_reason;

		if (unlikely(m->nb_segs != 1))
			reason = SL_DROP_HDR_SPLIT;
		else if (unlikely(out_port == DP_NO_PORT) && reason == 0)
			reason = SL_DROP_NO_EGRESS;
		if (unlikely(reason != SL_DROP_NONE)) {
			drop_pkt(ctr, in_port, m, reason);
			continue;
		}
		ctr->port[out_port].tx_packets++;
		ctr->port[out_port].tx_bytes += m->pkt_len;
		rte_eth_tx_buffer(out_port, w->index, w->txb[out_port], m);
	}
}

static inline uint16_t
poll_rxq(struct dp_worker *w, const struct dp_rxq *q)
{
	struct rte_mbuf *pkts[DP_BURST_MAX];
	struct dp_port_counters *pc = &w->ctr.port[q->port];
	uint16_t n = rte_eth_rx_burst(q->port, q->queue, pkts, w->burst);

	if (n == 0)
		return 0;
	pc->rx_packets += n;
	for (uint16_t i = 0; i < n; i++)
		pc->rx_bytes += pkts[i]->pkt_len;

	for (uint16_t done = 0; done < n; done += SL_PARSE_BURST_MAX) {
		uint16_t chunk = RTE_MIN(n - done, SL_PARSE_BURST_MAX);

		process_chunk(w, q->port, pkts + done, chunk);
	}
	return n;
}

static void
flush_all(struct dp_worker *w)
{
	for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++) {
		if (w->txb[p] != NULL)
			rte_eth_tx_buffer_flush(p, w->index, w->txb[p]);
	}
}

int
dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	/* Ports this worker transmits on, so the loop flushes only those. */
	uint16_t tx_ports[RTE_MAX_ETHPORTS];
	unsigned int nb_tx_ports = 0;

	for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++)
		if (w->txb[p] != NULL)
			tx_ports[nb_tx_ports++] = (uint16_t)p;

	__atomic_store_n(&w->last_rx_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	while (!__atomic_load_n(&w->run->stop, __ATOMIC_ACQUIRE)) {
		uint32_t got = 0;

		for (uint16_t i = 0; i < w->nb_rxq; i++)
			got += poll_rxq(w, &w->rxq[i]);
		if (got == 0)
			continue;
		/* One TX burst per egress port per round: the buffers fill
		 * across all RX queues polled in this round. */
		for (unsigned int i = 0; i < nb_tx_ports; i++)
			rte_eth_tx_buffer_flush(tx_ports[i], w->index,
						w->txb[tx_ports[i]]);
		__atomic_store_n(&w->last_rx_tsc, rte_rdtsc(),
				 __ATOMIC_RELAXED);
	}
	flush_all(w);
	return 0;
}
