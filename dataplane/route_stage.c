/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdbool.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "rewrite.h"
#include "route_lookup.h"
#include "route_stage.h"
#include "worker.h"
#include "worker_tx.h"

/* A unicast frame addressed to another station: not the router's. */
static inline bool
for_other_host(const uint8_t *frame, const struct rte_ether_addr *mine)
{
	return (frame[0] & 0x01) == 0 &&
	       memcmp(frame, mine->addr_bytes, RTE_ETHER_ADDR_LEN) != 0;
}

/*
 * Answer a packet the router cannot forward with an ICMP error from
 * in_port's address, when the packet may be answered at all and the
 * worker's rate limit allows (icmp_error.h).  The packet itself is dropped
 * by the caller either way.
 */
static __rte_noinline void
send_icmp_error(struct dp_worker *w, uint16_t in_port, struct rte_mbuf *pkt,
		const struct sl_pkt_meta *m, enum icmp_error_kind kind,
		uint64_t now)
{
	const struct dp_port_addrs *a = &w->port_addrs[in_port];
	const struct sl_prefix *src = m->key.family == SL_FAMILY_IPV4 ? &a->v4
								       : &a->v6;
	struct rte_mbuf *err;

	if (src->family == SL_FAMILY_NONE || w->icmp.period == 0)
		return;
	if (icmp_error_build(pkt, m, kind, &w->port_mac[in_port], src->addr,
			     &w->icmp, now, &err) == 0)
		txb_add(w, in_port, &err, 1, err->pkt_len);
}

void
dp_route_chunk(struct dp_worker *w, uint16_t in_port, struct rte_mbuf *pkts[],
	       const uint8_t *const data[], struct sl_pkt_meta meta[],
	       uint16_t n, uint64_t now)
{
	const struct sl_pkt_meta *ip_meta[SL_PARSE_BURST_MAX];
	uint16_t ip_idx[SL_PARSE_BURST_MAX];
	struct rt_result res[SL_PARSE_BURST_MAX];
	uint16_t out[SL_PARSE_BURST_MAX];
	const struct rte_ether_addr *mine = &w->port_mac[in_port];
	uint16_t twin = w->twin[in_port];
	uint16_t nb_ip = 0;

	/* Sort: for the host (the twin), not ours, or to be routed. */
	for (uint16_t i = 0; i < n; i++) {
		struct sl_pkt_meta *m = &meta[i];

		out[i] = twin;
		if (m->drop_reason != SL_DROP_NONE)
			continue;
		if (unlikely(for_other_host(data[i], mine))) {
			m->drop_reason = SL_DROP_OTHER_HOST;
			continue;
		}
		if (m->key.family == SL_FAMILY_NONE || m->vlan_count != 0)
			continue;
		ip_meta[nb_ip] = m;
		ip_idx[nb_ip++] = i;
	}
	if (nb_ip > 0)
		rt_lookup_burst(w->rt, ip_meta, NULL, w->hash_seed, nb_ip, res);

	for (uint16_t k = 0; k < nb_ip; k++) {
		uint16_t i = ip_idx[k];
		struct sl_pkt_meta *m = &meta[i];
		const struct rt_result *r = &res[k];

		/* A packet that would be forwarded expires here whether or
		 * not its next hop is resolved yet (as in Linux). */
		if (unlikely(m->ttl <= 1 && (r->verdict == RT_FORWARD ||
					     r->verdict == RT_UNRESOLVED))) {
			m->drop_reason = SL_DROP_TTL_EXPIRED;
			send_icmp_error(w, in_port, pkts[i], m,
					ICMP_ERROR_TIME_EXCEEDED, now);
			continue;
		}
		switch (r->verdict) {
		case RT_FORWARD:
			rt_rewrite(rte_pktmbuf_mtod(pkts[i], uint8_t *), m,
				   &w->port_mac[r->port], r->mac);
			out[i] = r->port;
			break;
		case RT_LOCAL:
			break;		/* out[i] is the twin already */
		case RT_UNRESOLVED:
			rt_want(w->wantq, r, m, now);
			m->drop_reason = SL_DROP_NO_NEIGH;
			break;
		case RT_NO_ROUTE:
			m->drop_reason = SL_DROP_NO_ROUTE;
			send_icmp_error(w, in_port, pkts[i], m,
					ICMP_ERROR_NO_ROUTE, now);
			break;
		default:
			m->drop_reason = SL_DROP_MARTIAN;
			break;
		}
	}

	/* Queue runs of packets for one egress port together: most of a
	 * burst usually leaves by one port. */
	struct rte_mbuf *run[SL_PARSE_BURST_MAX];
	uint16_t nb_run = 0, run_port = UINT16_MAX;
	uint64_t run_bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (unlikely(meta[i].drop_reason != SL_DROP_NONE)) {
			drop_pkt(&w->ctr, in_port, pkts[i], meta[i].drop_reason);
			continue;
		}
		if (out[i] != run_port && nb_run > 0) {
			txb_add(w, run_port, run, nb_run, run_bytes);
			nb_run = 0;
			run_bytes = 0;
		}
		run_port = out[i];
		run[nb_run++] = pkts[i];
		run_bytes += pkts[i]->pkt_len;
	}
	if (nb_run > 0)
		txb_add(w, run_port, run, nb_run, run_bytes);
}
