/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-packet side of traces and captures (watch.h): runs on a worker,
 * and only for chunks seen while some watch is armed.  It stores fixed
 * records; everything else (names, JSON, pcapng) is the control thread's.
 */
#include <string.h>

#include <rte_atomic.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "sluice/drop_reason.h"

#include "config.h"
#include "fw.h"
#include "watch.h"
#include "worker.h"

/* Match fields that need an IP packet. */
#define DP_WATCH_IP_FIELDS (SL_MATCH_SRC | SL_MATCH_DST | SL_MATCH_PROTO | \
			    SL_MATCH_SPORT | SL_MATCH_DPORT | \
			    SL_MATCH_TCP_FLAGS)

/* The first len bits of addr are those of prefix. */
static bool
prefix_has(const uint8_t *prefix, uint8_t len, const uint8_t *addr)
{
	unsigned int bytes = len / 8, bits = len % 8;

	if (memcmp(prefix, addr, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((prefix[bytes] ^ addr[bytes]) & (uint8_t)(0xff << (8 - bits)))
	       == 0;
}

static bool
filter_match(const struct dp_watch_filter *f, uint16_t in_port,
	     const struct sl_pkt_meta *m)
{
	const uint8_t *src, *dst;

	if ((f->fields & SL_MATCH_IN_PORT) && in_port != f->in_port)
		return false;
	if ((f->fields & SL_MATCH_VLAN) &&
	    (m->vlan_count == 0 || m->vlan_outer != f->vlan))
		return false;
	if (!(f->fields & DP_WATCH_IP_FIELDS) && f->family == 0)
		return true;
	if (m->key.family == SL_FAMILY_NONE ||
	    (f->family != 0 && m->key.family != f->family))
		return false;
	src = m->key_swapped ? m->key.addr_hi : m->key.addr_lo;
	dst = m->key_swapped ? m->key.addr_lo : m->key.addr_hi;
	return (!(f->fields & SL_MATCH_SRC) ||
		prefix_has(f->src, f->src_len, src)) &&
	       (!(f->fields & SL_MATCH_DST) ||
		prefix_has(f->dst, f->dst_len, dst)) &&
	       (!(f->fields & SL_MATCH_PROTO) || m->key.proto == f->proto) &&
	       (!(f->fields & SL_MATCH_SPORT) ||
		(m->sport >= f->sport_lo && m->sport <= f->sport_hi)) &&
	       (!(f->fields & SL_MATCH_DPORT) ||
		(m->dport >= f->dport_lo && m->dport <= f->dport_hi)) &&
	       (!(f->fields & SL_MATCH_TCP_FLAGS) ||
		(m->tcp_flags & f->tcp_flags_mask) == f->tcp_flags);
}

/* Whether the firewall judged the packet: rule_of and ct_of hold for it. */
static bool
judged(const struct fw_gen *g, const struct sl_pkt_meta *m)
{
	return g != NULL && m->key.family != SL_FAMILY_NONE &&
	       (m->drop_reason == SL_DROP_NONE ||
		m->drop_reason == SL_DROP_RULE ||
		m->drop_reason == SL_DROP_CT_FULL);
}

/* Packet i of a chunk into r; rule_of[i] and ct_of[i] are read only
 * when the firewall judged it (they are not set for the others). */
static void
trace_one(const struct dp_worker *w, const struct fw_gen *g, uint16_t in_port,
	  const struct sl_pkt_meta *m, const uint32_t *rule_of,
	  const uint8_t *ct_of, uint16_t i, uint64_t tsc,
	  struct dp_trace_rec *r)
{
	bool is_judged = judged(g, m);
	uint32_t rule = is_judged ? rule_of[i] : FW_NO_RULE;
	uint8_t kind = w->port_kind[in_port];

	memset(r, 0, sizeof(*r));
	r->tsc = tsc;
	r->gen = g != NULL ? g->id : 0;
	r->rule = is_judged ? rule : FW_NO_RULE;
	r->action = is_judged ? g->rules[rule].action : 0;
	r->ct = is_judged && w->ct != NULL ? ct_of[i] : 0;
	r->len = m->pkt_len;
	r->port = in_port;
	r->port_kind = kind;
	r->worker = (uint8_t)w->index;
	r->l3 = m->l3;
	r->ethertype = m->ethertype;
	r->family = m->key.family;
	r->proto = m->key.proto;
	r->sport = m->sport;
	r->dport = m->dport;
	r->drop_reason = m->drop_reason;
	r->egress = DP_NO_PORT;
	if (m->drop_reason == SL_DROP_NONE && kind == DP_PORT_XCONNECT &&
	    r->action != SL_ACTION_STEER) {
		r->egress = w->egress[in_port];
		if (r->egress == DP_NO_PORT)
			r->drop_reason = SL_DROP_NO_EGRESS;
	}
	if (m->key.family != SL_FAMILY_NONE) {
		memcpy(r->src, m->key_swapped ? m->key.addr_hi
					      : m->key.addr_lo, 16);
		memcpy(r->dst, m->key_swapped ? m->key.addr_lo
					      : m->key.addr_hi, 16);
	}
}

static void
capture_one(const struct dp_worker *w, struct rte_mbuf *pkt, uint64_t tsc,
	    struct dp_cap_rec *r, uint8_t *data)
{
	uint32_t cap = RTE_MIN(pkt->pkt_len, (uint32_t)DP_WATCH_SNAPLEN);
	const void *p = rte_pktmbuf_read(pkt, 0, cap, data);

	if (p != NULL && p != data)
		memcpy(data, p, cap);
	r->tsc = tsc;
	r->orig_len = pkt->pkt_len;
	r->cap_len = p != NULL ? (uint16_t)cap : 0;
	r->worker = (uint16_t)w->index;
}

void
dp_watch_chunk(struct dp_worker *w, uint32_t armed, const struct fw_gen *g,
	       uint16_t in_port, struct rte_mbuf *const pkts[],
	       const struct sl_pkt_meta meta[], const uint32_t rule_of[],
	       const uint8_t ct_of[], uint16_t n)
{
	uint64_t tsc = rte_rdtsc();

	/* Pairs with the release store that armed the bits: the watches
	 * they name are whole. */
	rte_atomic_thread_fence(__ATOMIC_ACQUIRE);
	while (armed != 0) {
		unsigned int s = (unsigned int)__builtin_ctz(armed);
		struct dp_watch *x = w->run->watch[s];
		struct dp_watch_lane *l = &x->lane[w->index];
		uint32_t k = l->n;	/* only this worker writes it */

		armed &= armed - 1;
		if (x->kind == DP_WATCH_CAPTURE && in_port != x->cap_port)
			continue;
		for (uint16_t i = 0; i < n && k < x->count; i++) {
			if (!filter_match(&x->f, in_port, &meta[i]))
				continue;
			if (x->kind == DP_WATCH_TRACE)
				trace_one(w, g, in_port, &meta[i], rule_of,
					  ct_of, i, tsc,
					  (struct dp_trace_rec *)l->recs + k);
			else
				capture_one(w, pkts[i], tsc,
					    (struct dp_cap_rec *)l->recs + k,
					    l->data + (size_t)k *
					    DP_WATCH_SNAPLEN);
			k++;
		}
		__atomic_store_n(&l->n, k, __ATOMIC_RELEASE);
	}
}
