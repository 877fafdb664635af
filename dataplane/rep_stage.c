/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include "sluice/maglev.h"

#include "encap.h"
#include "flow_hash.h"
#include "rep.h"
#include "rep_stage.h"
#include "route_lookup.h"
#include "worker.h"
#include "worker_tx.h"

/* Bytes of a routed packet's headers the routing stage rewrites (MACs, VLAN
 * tags, the IP header's TTL and checksum or hop limit): what the original
 * must own before it is rewritten while copies share its data. */
#define REP_PRIVATE_HDR 64

/*
 * The outer next hop of a tunnel target: the route to its remote, as for a
 * packet from the tunnel's source.  Returns the egress port and its MAC, or
 * UINT16_MAX (no route, unresolved - then resolution is asked for).
 */
static uint16_t
tunnel_next_hop(struct dp_worker *w, const struct encap_tunnel *t,
		uint64_t now, struct rte_ether_addr *mac)
{
	struct sl_pkt_meta outer;
	struct rt_result r;

	if (w->rt == NULL)
		return UINT16_MAX;
	rt_lookup_host(w->rt, t->family, t->local, t->remote, w->hash_seed,
		       &outer, &r);
	if (r.verdict == RT_UNRESOLVED)
		rt_want(w->wantq, &r, &outer, now);
	if (r.verdict != RT_FORWARD)
		return UINT16_MAX;
	rt_mac_unpack(r.mac, mac);
	return r.port;
}

/* Send one copy of pkt to target t; false when it could not be made. */
static bool
send_copy(struct dp_worker *w, struct rte_mbuf *pkt, const struct rep_target *t,
	  uint64_t hash, uint64_t now)
{
	struct rte_ether_addr dst;
	struct rte_mbuf *c;
	uint16_t port;

	if (t->kind == SL_TARGET_PORT) {
		port = t->port;
		c = encap_clone(pkt, w->pool);
	} else {
		port = tunnel_next_hop(w, &t->tun, now, &dst);
		if (port == UINT16_MAX)
			return false;
		c = encap_copy(pkt, &t->tun, &w->port_mac[port], &dst, hash,
			       &w->ip_id, w->pool, w->pool);
	}
	if (c == NULL || w->txb[port] == NULL) {
		rte_pktmbuf_free(c);
		return false;
	}
	txb_add(w, port, &c, 1, c->pkt_len);
	return true;
}

/* Steer pkt to t instead of forwarding it; false when it could not go
 * (the caller drops it). */
static bool
steer(struct dp_worker *w, struct rte_mbuf *pkt, const struct rep_target *t,
      uint64_t hash, uint64_t now)
{
	if (t->kind == SL_TARGET_PORT) {
		if (w->txb[t->port] == NULL)
			return false;
		txb_add(w, t->port, &pkt, 1, pkt->pkt_len);
		return true;
	}
	if (!send_copy(w, pkt, t, hash, now))
		return false;
	rte_pktmbuf_free(pkt);	/* the copy holds the data now */
	return true;
}

uint16_t
dp_rep_chunk(struct dp_worker *w, const struct fw_gen *g, uint16_t in_port,
	     struct rte_mbuf *pkts[], const uint8_t *data[],
	     struct sl_pkt_meta meta[], const uint32_t rule_of[], uint16_t n,
	     uint64_t now)
{
	const struct rep_gen *rep = g->rep;
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct fw_rule *rule;
		const struct rep_group *grp;
		uint16_t pick[SL_POLICY_COPIES_MAX];
		uint64_t hash;
		int k;

		if (meta[i].drop_reason != SL_DROP_NONE ||
		    rule_of[i] == FW_NO_RULE)
			goto keep;
		rule = &g->rules[rule_of[i]];
		if (rule->action != SL_ACTION_REPLICATE &&
		    rule->action != SL_ACTION_STEER)
			goto keep;
		grp = &rep->groups[rule->group];
		hash = dp_flow_hash(&meta[i].key, rep->seed);

		if (rule->action == SL_ACTION_STEER) {
			k = sl_maglev_pick(grp->table, grp->size, grp->n_live,
					   hash, 1, pick);
			if (k == 1 &&
			    steer(w, pkts[i], &grp->targets[pick[0]], hash, now)) {
				w->ctr.rep_steered++;
				continue;	/* gone: out of the chunk */
			}
			drop_pkt(&w->ctr, in_port, pkts[i], SL_DROP_NO_TARGET);
			continue;
		}

		k = sl_maglev_pick(grp->table, grp->size, grp->n_live, hash,
				   rule->copies, pick);
		if (k < rule->copies)
			w->ctr.rep_short++;
		for (int c = 0; c < k; c++) {
			if (send_copy(w, pkts[i], &grp->targets[pick[c]], hash,
				      now))
				w->ctr.rep_copies++;
			else
				w->ctr.rep_failed++;
		}
		if (k > 0 && w->port_kind[in_port] == DP_PORT_ROUTED) {
			/* Routing rewrites the headers the copies share. */
			struct rte_mbuf *own = encap_unshare_head(pkts[i],
				RTE_MIN(REP_PRIVATE_HDR, pkts[i]->data_len),
				w->pool, w->pool);

			if (own == NULL) {
				drop_pkt(&w->ctr, in_port, pkts[i],
					 SL_DROP_NO_MBUF);
				continue;
			}
			pkts[i] = own;
			data[i] = rte_pktmbuf_mtod(own, const uint8_t *);
		}
keep:
		if (kept != i) {
			pkts[kept] = pkts[i];
			data[kept] = data[i];
			meta[kept] = meta[i];
		}
		kept++;
	}
	return kept;
}
