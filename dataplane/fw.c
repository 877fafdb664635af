/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The firewall stage, per burst: build the ACL keys, classify each family
 * in one call, resolve payload candidates, count.
 */
#include <string.h>

#include <hs/hs.h>
#include <rte_acl.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>

#include "fw.h"
#include "fw_key.h"

#define FW_BURST_MAX 64

static inline const uint8_t *
src_addr(const struct sl_pkt_meta *m)
{
	return m->key_swapped ? m->key.addr_hi : m->key.addr_lo;
}

static inline const uint8_t *
dst_addr(const struct sl_pkt_meta *m)
{
	return m->key_swapped ? m->key.addr_lo : m->key.addr_hi;
}

static inline uint32_t
key_flags(uint8_t ct, uint8_t tcp_flags)
{
	return rte_cpu_to_be_32(((uint32_t)ct << 8) | tcp_flags);
}

static inline uint16_t
key_vlan(const struct sl_pkt_meta *m)
{
	return rte_cpu_to_be_16(m->vlan_count ? m->vlan_outer : FW_NO_VLAN);
}

static inline void
fill_key4(struct fw_key4 *k, const struct sl_pkt_meta *m, uint8_t ct,
	  uint16_t in_port)
{
	k->proto = m->l4_proto;
	memset(k->pad, 0, sizeof(k->pad));
	memcpy(&k->src, src_addr(m), 4);
	memcpy(&k->dst, dst_addr(m), 4);
	k->sport = rte_cpu_to_be_16(m->sport);
	k->dport = rte_cpu_to_be_16(m->dport);
	k->in_port = rte_cpu_to_be_16(in_port);
	k->vlan = key_vlan(m);
	k->flags = key_flags(ct, m->tcp_flags);
}

static inline void
fill_key6(struct fw_key6 *k, const struct sl_pkt_meta *m, uint8_t ct,
	  uint16_t in_port)
{
	k->proto = m->l4_proto;
	memset(k->pad, 0, sizeof(k->pad));
	memcpy(k->src, src_addr(m), 16);
	memcpy(k->dst, dst_addr(m), 16);
	k->sport = rte_cpu_to_be_16(m->sport);
	k->dport = rte_cpu_to_be_16(m->dport);
	k->in_port = rte_cpu_to_be_16(in_port);
	k->vlan = key_vlan(m);
	k->flags = key_flags(ct, m->tcp_flags);
}

static inline int
prefix_match(const uint8_t *addr, const uint8_t *prefix, uint8_t len)
{
	unsigned int full = len / 8, rest = len % 8;

	if (memcmp(addr, prefix, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((addr[full] ^ prefix[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* The header conditions of one rule, checked directly: used only for the
 * few payload rules whose pattern matched. */
static int
headers_match(const struct fw_rule *r, const struct sl_pkt_meta *m,
	      uint8_t ct, uint16_t in_port)
{
	const struct sl_match_compiled *c = &r->match;

	if (r->never || (c->family != 0 && c->family != m->key.family))
		return 0;
	if (c->proto_mask && c->proto != m->l4_proto)
		return 0;
	if (!prefix_match(src_addr(m), c->src, c->src_len) ||
	    !prefix_match(dst_addr(m), c->dst, c->dst_len))
		return 0;
	if (m->sport < c->sport_lo || m->sport > c->sport_hi ||
	    m->dport < c->dport_lo || m->dport > c->dport_hi)
		return 0;
	if (c->in_port >= 0 && in_port != r->in_port)
		return 0;
	if ((c->fields & SL_MATCH_VLAN) &&
	    (m->vlan_count == 0 || m->vlan_outer != c->vlan))
		return 0;
	if ((m->tcp_flags & c->tcp_flags_mask) !=
	    (c->tcp_flags & c->tcp_flags_mask))
		return 0;
	return (c->ct & ct) != 0;
}

struct payload_scan {
	const struct fw_gen *g;
	const struct sl_pkt_meta *m;
	uint8_t ct;
	uint16_t in_port;
	uint32_t best;		/* earliest matching rule so far */
	uint32_t floor;		/* no rule before this one can match */
};

static int
on_payload_match(unsigned int id, unsigned long long from,
		 unsigned long long to, unsigned int flags, void *arg)
{
	struct payload_scan *s = arg;
	uint32_t rule = s->g->hs_rule[id];

	(void)from;
	(void)to;
	(void)flags;
	if (rule < s->best &&
	    headers_match(&s->g->rules[rule], s->m, s->ct, s->in_port))
		s->best = rule;
	/* Nothing can beat the first candidate: stop scanning. */
	return s->best == s->floor;
}

/*
 * The packet's bytes a payload rule looks at: the L4 payload, or what
 * follows the IP header when no L4 header was parsed; never the frame's
 * padding.
 */
static __rte_noinline uint32_t
resolve_payload(const struct fw_gen *g, unsigned int worker,
		const struct sl_pkt_meta *m, const uint8_t *data, uint8_t ct,
		uint16_t in_port, uint32_t n0, uint32_t p1)
{
	struct payload_scan s = { g, m, ct, in_port, n0, p1 };
	uint16_t start = m->payload_off ? m->payload_off : m->l4_off;

	if (start == 0 || start >= m->l3_end || g->hs_db == NULL)
		return n0;
	hs_scan(g->hs_db, (const char *)data + start, m->l3_end - start, 0,
		g->scratch[worker], on_payload_match, &s);
	return s.best;
}

static inline void
decide(const struct fw_gen *g, unsigned int worker,
       const struct sl_pkt_meta *m, const uint8_t *data, uint8_t ct,
       uint16_t in_port, const uint32_t *res, struct fw_verdict *v)
{
	uint32_t n0 = res[FW_CAT_PLAIN] ? res[FW_CAT_PLAIN] - 1 : g->n_rules;
	uint32_t p1 = g->categories > 1 && res[FW_CAT_PAYLOAD]
		? res[FW_CAT_PAYLOAD] - 1 : UINT32_MAX;
	uint32_t rule = n0;

	if (unlikely(p1 < n0))
		rule = resolve_payload(g, worker, m, data, ct, in_port, n0, p1);
	v->rule = rule;
	v->action = g->rules[rule].action;
}

void
fw_count_burst(const struct fw_gen *g, unsigned int worker,
	       const struct sl_pkt_meta *const meta[],
	       const struct fw_verdict v[], uint16_t n)
{
	struct fw_rule_counter *row =
		&g->counters[(size_t)worker * (g->n_rules + 1)];
	uint64_t packets = 0, bytes = 0;
	uint32_t rule = n ? v[0].rule : 0;

	/* Runs of one rule add up in registers: a store per packet to the
	 * same counter would chain every packet on the one before. */
	for (uint16_t i = 0; i < n; i++) {
		if (v[i].rule != rule) {
			row[rule].packets += packets;
			row[rule].bytes += bytes;
			rule = v[i].rule;
			packets = bytes = 0;
		}
		packets++;
		bytes += meta[i]->pkt_len;
	}
	if (packets != 0) {
		row[rule].packets += packets;
		row[rule].bytes += bytes;
	}
}

void
fw_classify_burst(const struct fw_gen *g, unsigned int worker,
		  const struct sl_pkt_meta *const meta[],
		  const uint8_t *const data[], const uint8_t ct[],
		  const uint16_t in_port[], uint16_t n, struct fw_verdict out[])
{
	struct fw_key4 k4[FW_BURST_MAX];
	struct fw_key6 k6[FW_BURST_MAX];
	const uint8_t *d4[FW_BURST_MAX], *d6[FW_BURST_MAX];
	uint16_t i4[FW_BURST_MAX], i6[FW_BURST_MAX];
	uint32_t res[FW_BURST_MAX * FW_CATEGORIES];
	uint16_t n4 = 0, n6 = 0;
	static const uint32_t no_match[FW_CATEGORIES];

	if (g->n_rules == 0) {
		/* Only the default action: nothing to classify (a router
		 * without a firewall pays for its counters alone). */
		for (uint16_t i = 0; i < n; i++)
			out[i] = (struct fw_verdict){
				.rule = 0, .action = g->rules[0].action };
		fw_count_burst(g, worker, meta, out, n);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		const struct sl_pkt_meta *m = meta[i];

		if (m->key.family == SL_FAMILY_IPV4) {
			fill_key4(&k4[n4], m, ct[i], in_port[i]);
			d4[n4] = (const uint8_t *)&k4[n4];
			i4[n4++] = i;
		} else if (m->key.family == SL_FAMILY_IPV6) {
			fill_key6(&k6[n6], m, ct[i], in_port[i]);
			d6[n6] = (const uint8_t *)&k6[n6];
			i6[n6++] = i;
		} else {
			/* Not IP: no rule field applies; the default rules. */
			decide(g, worker, m, data[i], ct[i], in_port[i],
			       no_match, &out[i]);
		}
	}

	if (n4 > 0) {
		if (g->acl4 != NULL)
			rte_acl_classify(g->acl4, d4, res, n4, g->categories);
		else
			memset(res, 0, sizeof(res[0]) * n4 * g->categories);
		for (uint16_t j = 0; j < n4; j++)
			decide(g, worker, meta[i4[j]], data[i4[j]], ct[i4[j]],
			       in_port[i4[j]], &res[j * g->categories],
			       &out[i4[j]]);
	}
	if (n6 > 0) {
		if (g->acl6 != NULL)
			rte_acl_classify(g->acl6, d6, res, n6, g->categories);
		else
			memset(res, 0, sizeof(res[0]) * n6 * g->categories);
		for (uint16_t j = 0; j < n6; j++)
			decide(g, worker, meta[i6[j]], data[i6[j]], ct[i6[j]],
			       in_port[i6[j]], &res[j * g->categories],
			       &out[i6[j]]);
	}
	fw_count_burst(g, worker, meta, out, n);
}
