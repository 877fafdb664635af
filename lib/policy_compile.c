/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A rule's match as plain numbers, for the builders of the per-packet
 * tables: rte_acl (DPDK) and the prefix tries and rule bitmaps (XDP).  Both
 * read the same struct, so both datapaths see the same ranges, masks and
 * families.
 */
#include <errno.h>
#include <string.h>

#include "policy_internal.h"

int
sl_match_compile(const struct sl_policy *p, size_t i,
		 struct sl_match_compiled *out)
{
	const struct sl_match *m;

	if (i >= p->n_rules)
		return -EINVAL;
	m = &p->rules[i].match;
	memset(out, 0, sizeof(*out));
	out->fields = m->fields;
	out->sport_hi = 65535;
	out->dport_hi = 65535;
	out->ct = SL_CT_ALL;
	out->in_port = -1;

	if (m->fields & SL_MATCH_SRC) {
		struct sl_prefix net;

		sl_prefix_network(&m->src, &net);
		out->family = net.family;
		out->src_len = net.len;
		memcpy(out->src, net.addr, sizeof(out->src));
	}
	if (m->fields & SL_MATCH_DST) {
		struct sl_prefix net;

		sl_prefix_network(&m->dst, &net);
		out->family = net.family;
		out->dst_len = net.len;
		memcpy(out->dst, net.addr, sizeof(out->dst));
	}
	if (m->fields & SL_MATCH_PROTO) {
		out->proto = m->proto;
		out->proto_mask = 0xff;
		if (out->family == 0 && m->proto == 1)
			out->family = SL_FAMILY_IPV4;
		else if (out->family == 0 && m->proto == 58)
			out->family = SL_FAMILY_IPV6;
	}
	if (m->fields & SL_MATCH_SPORT) {
		out->sport_lo = m->sport.lo;
		out->sport_hi = m->sport.hi;
	}
	if (m->fields & SL_MATCH_DPORT) {
		out->dport_lo = m->dport.lo;
		out->dport_hi = m->dport.hi;
	}
	if (m->fields & SL_MATCH_VLAN)
		out->vlan = m->vlan;
	if (m->fields & SL_MATCH_TCP_FLAGS) {
		out->tcp_flags = m->tcp_flags & m->tcp_flags_mask;
		out->tcp_flags_mask = m->tcp_flags_mask;
	}
	if (m->fields & SL_MATCH_CT)
		out->ct = m->ct;
	if (m->fields & SL_MATCH_IN_PORT) {
		int port = m->in_port != NULL ?
			sl_policy_find_port(p, m->in_port) : -1;

		if (port < 0)
			return -EINVAL;
		out->in_port = port;
	}
	return 0;
}
