/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hot path: RX burst -> parse -> conntrack and firewall (with a policy)
 * -> route (routed ports, route_stage.c) or cross-connect -> per-port TX
 * buffers.  A routed port's TAP twin goes straight out of its port.
 *
 * Every packet a worker receives leaves in exactly one of two ways: queued
 * for its egress port (and so handed to the PMD, or counted as tx_full when
 * the TX queue refuses it), or freed under a named drop reason.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include "config.h"
#include "rep_stage.h"
#include "route_stage.h"
#include "worker.h"
#include "worker_tx.h"

/*
 * Connection tracking and the firewall for nb IP packets, in order: packet
 * j is meta[idx[j]] of the chunk.  ct[j] comes from ct_lookup_burst.  A
 * refused packet gets its drop reason in its meta: SL_DROP_RULE, or
 * SL_DROP_CT_FULL when its new flow found no room.  rule_of[idx[j]] and
 * ct_of[idx[j]] get each packet's rule and connection state (for the
 * replication stage and traces).
 * Established packets of a flow whose verdict this generation already gave
 * skip the ACL, unless the generation has per-packet rules.
 */
static void
judge(struct dp_worker *w, const struct fw_gen *g, uint16_t in_port,
      struct sl_pkt_meta *meta, const struct sl_pkt_meta *const ip_meta[],
      const uint8_t *const data[], const uint16_t idx[], struct ct_pkt ct[],
      uint16_t nb, uint64_t now, uint32_t rule_of[], uint8_t ct_of[])
{
	const struct sl_pkt_meta *cls_meta[SL_PARSE_BURST_MAX];
	const uint8_t *cls_data[SL_PARSE_BURST_MAX];
	uint8_t cls_ct[SL_PARSE_BURST_MAX];
	uint16_t cls_in[SL_PARSE_BURST_MAX], cls_idx[SL_PARSE_BURST_MAX];
	struct fw_verdict v[SL_PARSE_BURST_MAX];
	const struct sl_pkt_meta *hit_meta[SL_PARSE_BURST_MAX];
	struct fw_verdict hit[SL_PARSE_BURST_MAX];
	uint32_t rule[SL_PARSE_BURST_MAX];
	uint16_t nb_cls = 0, nb_hit = 0;

	for (uint16_t j = 0; j < nb; j++) {
		const struct sl_pkt_meta *m = ip_meta[j];

		if (ct[j].entry >= 0 && ct[j].ct == SL_CT_ESTABLISHED &&
		    !g->per_packet) {
			const struct ct_entry *e = ct[j].e;

			if (e->gen == g->id && e->rule[ct[j].dir] != CT_NO_RULE &&
			    e->in_port[ct[j].dir] == in_port) {
				rule[j] = e->rule[ct[j].dir];
				hit_meta[nb_hit] = m;
				hit[nb_hit++].rule = rule[j];
				continue;
			}
		}
		cls_meta[nb_cls] = m;
		cls_data[nb_cls] = data[idx[j]];
		cls_ct[nb_cls] = ct[j].ct;
		cls_in[nb_cls] = in_port;
		cls_idx[nb_cls++] = j;
	}
	if (nb_hit > 0)
		fw_count_burst(g, w->index, hit_meta, hit, nb_hit);
	if (nb_cls > 0) {
		fw_classify_burst(g, w->index, cls_meta, cls_data, cls_ct,
				  cls_in, nb_cls, v);
		for (uint16_t k = 0; k < nb_cls; k++)
			rule[cls_idx[k]] = v[k].rule;
	}

	for (uint16_t j = 0; j < nb; j++) {
		rule_of[idx[j]] = rule[j];
		ct_of[idx[j]] = ct[j].ct;
		if (g->rules[rule[j]].action == SL_ACTION_DROP) {
			meta[idx[j]].drop_reason = SL_DROP_RULE;
			continue;
		}
		if (w->ct == NULL)
			continue;
		if (ct[j].ct == SL_CT_NEW && ct[j].entry < 0 &&
		    ct_commit(w->ct, ip_meta[j], &ct[j], now) == -ENOSPC) {
			meta[idx[j]].drop_reason = SL_DROP_CT_FULL;
			continue;
		}
		if (ct[j].entry >= 0 && ct[j].ct == SL_CT_ESTABLISHED &&
		    !g->per_packet) {
			struct ct_entry *e = ct[j].e;

			if (e->gen != g->id) {
				e->gen = (uint32_t)g->id;
				e->rule[0] = e->rule[1] = CT_NO_RULE;
			}
			e->rule[ct[j].dir] = rule[j];
			e->in_port[ct[j].dir] = in_port;
		}
	}
}

/*
 * The firewall stage for the IP packets of a chunk (non-IP frames - ARP,
 * LLDP - are not the IP firewall's and pass).  Packets are judged in
 * segments: a packet whose flow an earlier packet of the chunk may create
 * waits until that one is judged and committed (see ct_lookup_burst).
 */
static void
firewall_stage(struct dp_worker *w, const struct fw_gen *g, uint16_t in_port,
	       struct sl_pkt_meta *meta, const uint8_t *const data[],
	       uint16_t n, uint64_t now, uint32_t rule_of[], uint8_t ct_of[])
{
	const struct sl_pkt_meta *ip_meta[SL_PARSE_BURST_MAX];
	uint16_t ip_idx[SL_PARSE_BURST_MAX];
	struct ct_pkt ct[SL_PARSE_BURST_MAX];
	uint16_t nb_ip = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (meta[i].drop_reason == 0 &&
		    meta[i].key.family != SL_FAMILY_NONE) {
			ip_meta[nb_ip] = &meta[i];
			ip_idx[nb_ip++] = i;
		}
	}
	for (uint16_t done = 0, k; done < nb_ip; done += k) {
		uint16_t left = nb_ip - done;

		if (w->ct != NULL) {
			k = ct_lookup_burst(w->ct, ip_meta + done, left, now, ct);
		} else {
			for (uint16_t j = 0; j < left; j++)
				ct[j] = (struct ct_pkt){ .entry = -1, .stale = -1,
							 .ct = SL_CT_NEW };
			k = left;
		}
		judge(w, g, in_port, meta, ip_meta + done, data, ip_idx + done,
		      ct, k, now, rule_of, ct_of);
	}
}

/*
 * Receive accounting, parse, judge and forward up to SL_PARSE_BURST_MAX
 * packets received on in_port.  Each packet's verdict lives in its
 * meta.drop_reason: the parser sets it, later stages may.  A frame that
 * spans several mbufs is dropped as hdr_split: the parser reads one
 * contiguous buffer (raise --mbuf-size for jumbo frames).  watch: the
 * round's dp_run.watch_armed; when not 0, the judged chunk is offered to
 * the traces and captures before it is sent on.
 */
static inline void
process_chunk(struct dp_worker *w, const struct fw_gen *g, uint32_t watch,
	      uint16_t in_port, struct rte_mbuf **pkts, uint16_t n,
	      uint64_t now)
{
	const uint8_t *data[SL_PARSE_BURST_MAX];
	uint16_t len[SL_PARSE_BURST_MAX];
	struct sl_pkt_meta meta[SL_PARSE_BURST_MAX];
	struct rte_mbuf *fwd[SL_PARSE_BURST_MAX];
	/* Each judged packet's rule and connection state: the replication
	 * stage and traces read them (set for judged packets only). */
	uint32_t rule_of[SL_PARSE_BURST_MAX];
	uint8_t ct_of[SL_PARSE_BURST_MAX];
	struct dp_counters *ctr = &w->ctr;
	uint16_t out_port = w->egress[in_port];
	uint64_t bytes = 0;
	uint16_t nb_fwd = 0;
	bool multi_seg = false;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];

		data[i] = rte_pktmbuf_mtod(m, const uint8_t *);
		len[i] = m->data_len;
		bytes += m->pkt_len;
		multi_seg |= m->nb_segs != 1;
	}
	ctr->port[in_port].rx_packets += n;
	ctr->port[in_port].rx_bytes += bytes;

	w->parse(data, len, n, meta);
	if (unlikely(multi_seg)) {
		for (uint16_t i = 0; i < n; i++)
			if (pkts[i]->nb_segs != 1)
				meta[i].drop_reason = SL_DROP_HDR_SPLIT;
	}
	if (g != NULL) {
		/* The replication stage needs FW_NO_RULE for the packets
		 * the firewall does not judge. */
		if (unlikely(g->rep_actions))
			for (uint16_t i = 0; i < n; i++)
				rule_of[i] = FW_NO_RULE;
		firewall_stage(w, g, in_port, meta, data, n, now, rule_of,
			       ct_of);
	}
	if (unlikely(watch != 0))
		dp_watch_chunk(w, watch, g, in_port, pkts, meta, rule_of, ct_of,
			       n);
	if (g != NULL && unlikely(g->rep_actions)) {
		n = dp_rep_chunk(w, g, in_port, pkts, data, meta, rule_of, n,
				 now);
		bytes = 0;
		for (uint16_t i = 0; i < n; i++)
			bytes += pkts[i]->pkt_len;
	}
	if (w->port_kind[in_port] == DP_PORT_ROUTED) {
		dp_route_chunk(w, in_port, pkts, data, meta, n, now);
		return;
	}
	if (unlikely(out_port == DP_NO_PORT)) {
		for (uint16_t i = 0; i < n; i++)
			if (meta[i].drop_reason == SL_DROP_NONE)
				meta[i].drop_reason = SL_DROP_NO_EGRESS;
	}

	/* bytes now counts down to what is forwarded. */
	for (uint16_t i = 0; i < n; i++) {
		if (unlikely(meta[i].drop_reason != SL_DROP_NONE)) {
			bytes -= pkts[i]->pkt_len;
			drop_pkt(ctr, in_port, pkts[i], meta[i].drop_reason);
			continue;
		}
		fwd[nb_fwd++] = pkts[i];
	}
	if (nb_fwd > 0)
		txb_add(w, out_port, fwd, nb_fwd, bytes);
}

/*
 * What the kernel sends through a routed port's TAP twin leaves by that
 * port as it is: the appliance's own ARP and ND answers, ICMP, routing
 * protocols.  Not parsed, not judged.
 */
static void
twin_chunk(struct dp_worker *w, uint16_t twin, struct rte_mbuf **pkts,
	   uint16_t n)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++)
		bytes += pkts[i]->pkt_len;
	w->ctr.port[twin].rx_packets += n;
	w->ctr.port[twin].rx_bytes += bytes;
	txb_add(w, w->egress[twin], pkts, n, bytes);
}

static inline uint16_t
poll_rxq(struct dp_worker *w, const struct fw_gen *g, uint32_t watch,
	 const struct dp_rxq *q, uint64_t now)
{
	struct rte_mbuf *pkts[DP_BURST_MAX];
	uint16_t n = rte_eth_rx_burst(q->port, q->queue, pkts, w->burst);

	if (unlikely(w->port_kind[q->port] == DP_PORT_TWIN)) {
		for (uint16_t done = 0; done < n; done += SL_PARSE_BURST_MAX)
			twin_chunk(w, q->port, pkts + done,
				   RTE_MIN(n - done, SL_PARSE_BURST_MAX));
		return n;
	}
	for (uint16_t done = 0; done < n; done += SL_PARSE_BURST_MAX) {
		uint16_t chunk = RTE_MIN(n - done, SL_PARSE_BURST_MAX);

		process_chunk(w, g, watch, q->port, pkts + done, chunk, now);
	}
	return n;
}

static void
flush_all(struct dp_worker *w)
{
	for (uint16_t i = 0; i < w->nb_tx_ports; i++)
		txb_flush(w, w->tx_ports[i]);
}

/*
 * A TAP twin's RX queue is polled every DP_TWIN_POLL_EVERY rounds (a power
 * of two): each poll is a readv() system call, which polled every round
 * cost as much as routing the packets themselves.  The kernel's own
 * traffic (ARP and ND answers, BGP) waits a few tens of microseconds more.
 */
#define DP_TWIN_POLL_EVERY 64

/* Flows examined per ageing call, and how often the whole table is
 * swept (see ct_age_interval). */
#define DP_CT_AGE_BUDGET 64
#define DP_CT_SWEEP_SECONDS 1.0

int
dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_run *run = w->run;
	uint64_t empty = 0;
	uint32_t round = 0;

	rte_rcu_qsbr_thread_register(run->qs, w->index);
	rte_rcu_qsbr_thread_online(run->qs, w->index);
	__atomic_store_n(&w->last_rx_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	if (w->ct != NULL)
		w->ct_age_interval = ct_age_interval(w->ct, DP_CT_AGE_BUDGET,
						     DP_CT_SWEEP_SECONDS);
	while (!__atomic_load_n(&run->stop, __ATOMIC_ACQUIRE)) {
		/* One generation for the whole round. */
		const struct fw_gen *g = __atomic_load_n(&run->fw,
							 __ATOMIC_ACQUIRE);
		/* Traces and captures: one relaxed load per round when none
		 * is armed (dp_watch_chunk fences when one is). */
		uint32_t watch = __atomic_load_n(&run->watch_armed,
						 __ATOMIC_RELAXED);
		uint64_t now = rte_rdtsc();
		uint32_t got = 0;

		bool twins = (++round & (DP_TWIN_POLL_EVERY - 1)) == 0;

		for (uint16_t i = 0; i < w->nb_rxq; i++)
			if (likely(w->port_kind[w->rxq[i].port] != DP_PORT_TWIN) ||
			    twins)
				got += poll_rxq(w, g, watch, &w->rxq[i], now);
		if (w->ct != NULL && now >= w->ct_age_next) {
			ct_age(w->ct, now, DP_CT_AGE_BUDGET);
			w->ct_age_next = now + w->ct_age_interval;
		}
		rte_rcu_qsbr_quiescent(run->qs, w->index);
		if (got == 0) {
			__atomic_store_n(&w->empty_rounds, ++empty,
					 __ATOMIC_RELAXED);
			continue;
		}
		/* One TX burst per egress port per round: the buffers fill
		 * across all RX queues polled in this round. */
		flush_all(w);
		__atomic_store_n(&w->last_rx_tsc, now, __ATOMIC_RELAXED);
		if (empty != 0) {
			empty = 0;
			__atomic_store_n(&w->empty_rounds, 0, __ATOMIC_RELAXED);
		}
	}
	flush_all(w);
	rte_rcu_qsbr_thread_offline(run->qs, w->index);
	rte_rcu_qsbr_thread_unregister(run->qs, w->index);
	return 0;
}
