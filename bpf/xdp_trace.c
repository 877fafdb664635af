/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Trace for the XDP backend (xdp_trace.h): filter, arm and disarm, the
 * ring buffer reader, records as JSON.  Setup code only.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "sluice/drop_reason.h"
#include "sluice/errf.h"
#include "sluice/pcapng.h"
#include "sluice/watch_filter.h"
#include "xdp_trace.h"

/* ------------------------------------------------------------------------
 * Filter
 */

/* A prefix as the program compares it: pre-masked words, network order. */
static void
prefix_words(const uint8_t *addr, uint8_t len, uint32_t *want, uint32_t *mask)
{
	uint8_t m[16] = { 0 };

	for (unsigned int i = 0; i < 16; i++) {
		unsigned int bits = len > 8 * i ? len - 8 * i : 0;

		m[i] = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if (bits == 0)
			m[i] = 0;
	}
	memcpy(mask, m, 16);
	for (unsigned int w = 0; w < 4; w++) {
		uint32_t a;

		memcpy(&a, addr + 4 * w, 4);
		want[w] = a & mask[w];
	}
}

int
sl_xdp_trace_filter(const json_t *filter, const struct sl_policy *policy,
		    struct sl_xdp_trace_filter *f, char *err, size_t err_size)
{
	struct sl_match_compiled mc;
	const char *in_port;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = sl_watch_filter_compile(filter, &mc, &in_port, err, err_size);
	if (ret != 0)
		return ret;
	if (in_port != NULL) {
		int idx = policy != NULL ? sl_policy_find_port(policy, in_port)
					 : -1;

		if (idx < 0) {
			sl_errf(err, err_size, "filter.in_port: not a port of the "
			     "policy in force");
			return -EINVAL;
		}
		f->ifindex = if_nametoindex(policy->ports[idx].name);
		if (f->ifindex == 0) {
			sl_errf(err, err_size, "filter.in_port: no interface "
			     "named %s on this host", in_port);
			return -EINVAL;
		}
		f->fields |= SL_XDP_TF_IN_PORT;
	}
	if (mc.fields & SL_MATCH_VLAN) {
		f->fields |= SL_XDP_TF_VLAN;
		f->vlan = mc.vlan;
	}
	f->family = mc.family;
	if (mc.fields & SL_MATCH_SRC) {
		f->fields |= SL_XDP_TF_SRC;
		prefix_words(mc.src, mc.src_len, f->src_want, f->src_mask);
	}
	if (mc.fields & SL_MATCH_DST) {
		f->fields |= SL_XDP_TF_DST;
		prefix_words(mc.dst, mc.dst_len, f->dst_want, f->dst_mask);
	}
	if (mc.fields & SL_MATCH_PROTO) {
		f->fields |= SL_XDP_TF_PROTO;
		f->proto = mc.proto;
	}
	if (mc.fields & SL_MATCH_SPORT) {
		f->fields |= SL_XDP_TF_SPORT;
		f->sport_lo = mc.sport_lo;
		f->sport_hi = mc.sport_hi;
	}
	if (mc.fields & SL_MATCH_DPORT) {
		f->fields |= SL_XDP_TF_DPORT;
		f->dport_lo = mc.dport_lo;
		f->dport_hi = mc.dport_hi;
	}
	if (mc.fields & SL_MATCH_TCP_FLAGS) {
		f->fields |= SL_XDP_TF_TCP_FLAGS;
		f->tcp_flags = mc.tcp_flags;
		f->tcp_flags_mask = mc.tcp_flags_mask;
	}
	/* A filter with an IP field (or a family) takes IP packets only. */
	if (f->family != 0 ||
	    (f->fields & (SL_XDP_TF_SRC | SL_XDP_TF_DST | SL_XDP_TF_PROTO |
			  SL_XDP_TF_SPORT | SL_XDP_TF_DPORT |
			  SL_XDP_TF_TCP_FLAGS)))
		f->fields |= SL_XDP_TF_IP;
	return 0;
}

/* ------------------------------------------------------------------------
 * Arm, disarm
 */

int
sl_xdp_trace_arm(struct sl_xdp *x, const struct sl_xdp_trace_filter *f,
		 uint32_t count)
{
	struct sl_xdp_trace_ctl tc = { .budget = 0, .f = *f };
	uint32_t zero = 0;
	int ctl_fd, ring_fd;

	sl_xdp_trace_fds(x, &ctl_fd, &ring_fd);
	/* Two writes: the filter with the budget off, then the budget, so
	 * that no packet sees a budget with half a filter (a map update
	 * of an array slot is not atomic against the program's reads). */
	if (bpf_map_update_elem(ctl_fd, &zero, &tc, 0) != 0)
		return -errno;
	tc.budget = count;
	return bpf_map_update_elem(ctl_fd, &zero, &tc, 0) == 0 ? 0 : -errno;
}

int
sl_xdp_trace_disarm(struct sl_xdp *x, uint64_t *lost)
{
	struct sl_xdp_trace_ctl tc;
	uint32_t zero = 0;
	int ctl_fd, ring_fd;

	sl_xdp_trace_fds(x, &ctl_fd, &ring_fd);
	if (bpf_map_lookup_elem(ctl_fd, &zero, &tc) != 0)
		return -errno;
	if (lost != NULL)
		*lost = tc.lost;
	memset(&tc, 0, sizeof(tc));
	return bpf_map_update_elem(ctl_fd, &zero, &tc, 0) == 0 ? 0 : -errno;
}

/* ------------------------------------------------------------------------
 * Ring reader
 */

struct sl_xdp_trace {
	struct ring_buffer *rb;
	sl_xdp_trace_fn *fn;
	void *ctx;
	int handled;
};

static int
on_sample(void *ctx, void *data, size_t size)
{
	struct sl_xdp_trace *t = ctx;

	if (size < sizeof(struct sl_xdp_trace_rec))
		return 0;	/* not ours: another build's layout */
	t->handled++;
	return t->fn(t->ctx, data);
}

int
sl_xdp_trace_open(struct sl_xdp *x, sl_xdp_trace_fn *fn, void *ctx,
		  struct sl_xdp_trace **out)
{
	struct sl_xdp_trace *t = calloc(1, sizeof(*t));
	int ctl_fd, ring_fd, ret;

	*out = NULL;
	if (t == NULL)
		return -ENOMEM;
	sl_xdp_trace_fds(x, &ctl_fd, &ring_fd);
	t->fn = fn;
	t->ctx = ctx;
	t->rb = ring_buffer__new(ring_fd, on_sample, t, NULL);
	if (t->rb == NULL) {
		ret = -errno;
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void
sl_xdp_trace_close(struct sl_xdp_trace *t)
{
	if (t == NULL)
		return;
	ring_buffer__free(t->rb);
	free(t);
}

int
sl_xdp_trace_epoll_fd(const struct sl_xdp_trace *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int
sl_xdp_trace_consume(struct sl_xdp_trace *t)
{
	int ret;

	t->handled = 0;
	ret = ring_buffer__consume(t->rb);
	return ret < 0 ? ret : t->handled;
}

/* ------------------------------------------------------------------------
 * Records -> JSON (the shape of dataplane/watch.c, trace_rec_json)
 */

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns since the epoch of a bpf_ktime_get_ns() (CLOCK_MONOTONIC) time. */
static uint64_t
wall_ns(uint64_t mono_ns)
{
	return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC) + mono_ns;
}

/* The L3 of the frame, walking up to two VLAN tags; *ethertype gets the
 * ethertype after them. */
static const char *
l3_name(const struct sl_xdp_trace_rec *r, uint16_t *ethertype)
{
	unsigned int off = 12;
	uint16_t et = 0;

	for (int i = 0; i < 3 && off + 2 <= r->cap_len; i++) {
		et = (uint16_t)(r->data[off] << 8 | r->data[off + 1]);
		if (et != 0x8100 && et != 0x88a8)
			break;
		off += 4;
	}
	*ethertype = et;
	if (r->family == 4 || et == 0x0800)
		return "ipv4";
	if (r->family == 6 || et == 0x86dd)
		return "ipv6";
	if (et == 0x0806)
		return "arp";
	return r->cap_len >= 14 ? "other" : "none";
}

static json_t *
parse_json(const struct sl_xdp_trace_rec *r)
{
	uint16_t ethertype;
	const char *l3 = l3_name(r, &ethertype);
	json_t *o = json_pack("{s:s}", "l3", l3);
	unsigned int alen = r->family == 4 ? 4 : 16;
	unsigned int src = r->l3_off + (r->family == 4 ? 12 : 8);
	char buf[SL_PREFIX_STRLEN];

	if (o == NULL)
		return NULL;
	if (strcmp(l3, "other") == 0)
		json_object_set_new(o, "ethertype", json_integer(ethertype));
	if ((r->family == 4 || r->family == 6) &&
	    src + 2 * alen <= r->cap_len) {
		struct sl_prefix p = { .family = r->family,
				       .len = (uint8_t)(8 * alen) };
		const char *proto = sl_proto_name(r->proto);

		memcpy(p.addr, r->data + src, alen);
		json_object_set_new(o, "src", json_string(
			sl_prefix_format(&p, false, buf)));
		memcpy(p.addr, r->data + src + alen, alen);
		json_object_set_new(o, "dst", json_string(
			sl_prefix_format(&p, false, buf)));
		json_object_set_new(o, "proto", proto != NULL ?
				    json_string(proto) :
				    json_integer(r->proto));
		json_object_set_new(o, "sport", json_integer(r->sport));
		json_object_set_new(o, "dport", json_integer(r->dport));
	}
	return o;
}

static const char *
xdp_action_name(unsigned int a)
{
	switch (a) {
	case XDP_ABORTED: return "aborted";
	case XDP_DROP: return "drop";
	case XDP_PASS: return "pass";
	case XDP_TX: return "tx";
	case XDP_REDIRECT: return "redirect";
	default: return "?";
	}
}

json_t *
sl_xdp_trace_json(struct sl_xdp *x, const struct sl_xdp_trace_rec *r)
{
	uint64_t wall = wall_ns(r->ts_ns);
	char port[IF_NAMESIZE], egress_name[IF_NAMESIZE], id[64];
	const char *verdict;
	json_t *o, *xo, *egress;
	uint32_t ifindex;

	if (if_indextoname(r->ifindex, port) == NULL)
		snprintf(port, sizeof(port), "if%u", r->ifindex);
	if (r->reason != 0)
		verdict = "drop";
	else if (r->action != 0)
		verdict = sl_action_name(r->action);
	else
		verdict = "pass";	/* not judged: not IP, or no policy */
	o = json_pack("{s:I, s:s, s:i, s:i, s:o, s:s, s:I}",
		"ts_ns", (json_int_t)wall, "port", port, "len", (int)r->len,
		"worker", (int)r->cpu, "parse", parse_json(r),
		"verdict", verdict, "generation", (json_int_t)r->generation);
	if (o == NULL)
		return NULL;
	if (r->rule == SL_XDP_NO_RULE)
		json_object_set_new(o, "rule", json_null());
	else if (sl_xdp_rule_id(x, r->set, r->generation, r->rule, id) == 0)
		json_object_set_new(o, "rule", json_string(id));
	else	/* that policy is gone: its ids with it */
		json_object_set_new(o, "rule_index", json_integer(r->rule));
	json_object_set_new(o, "ct", r->ct != 0xff && r->rule != SL_XDP_NO_RULE
			    ? json_string(sl_ct_state_name(1u << (r->ct & 7)))
			    : json_null());
	if (r->route != SL_XDP_RT_NONE)
		json_object_set_new(o, "route", json_string(
			sl_xdp_rt_reason_name(r->route)));
	/* The egress of a steered packet: its target's interface (a routed
	 * one's is the FIB's, which the record does not keep). */
	egress = NULL;
	if (r->steer == SL_XDP_ST_STEERED &&
	    sl_xdp_steer_ifindex(x, r->set, r->generation, r->rule, r->target,
				 &ifindex) == 0 &&
	    if_indextoname(ifindex, egress_name) != NULL)
		egress = json_string(egress_name);
	json_object_set_new(o, "egress", egress != NULL ? egress : json_null());
	json_object_set_new(o, "drop_reason", r->reason != 0 ?
			    json_string(sl_drop_reason_name(r->reason)) :
			    json_null());
	xo = json_pack("{s:s}", "action", xdp_action_name(r->xdp_action));
	if (xo != NULL) {
		if (r->route != SL_XDP_RT_NONE)
			json_object_set_new(xo, "route", json_string(
				sl_xdp_rt_reason_name(r->route)));
		if (r->steer != SL_XDP_RT_NONE) {
			json_object_set_new(xo, "steer", json_string(
				sl_xdp_st_reason_name(r->steer)));
			if (r->target != SL_XDP_NO_TARGET)
				json_object_set_new(xo, "target",
						    json_integer(r->target));
		}
		json_object_set_new(o, "xdp", xo);
	}
	return o;
}

/* ------------------------------------------------------------------------
 * Records -> pcapng
 */

int
sl_xdp_trace_pcapng(const struct sl_xdp_trace_rec *recs, size_t n,
		    const char *ifname, uint8_t **buf, size_t *len)
{
	struct sl_pcapng b = { 0 };

	sl_pcapng_head(&b, "sluiced (XDP)", ifname, SL_XDP_TRACE_SNAP);
	for (size_t i = 0; i < n; i++) {
		uint32_t cap = recs[i].cap_len;

		if (cap > SL_XDP_TRACE_SNAP)
			cap = SL_XDP_TRACE_SNAP;
		sl_pcapng_packet(&b, wall_ns(recs[i].ts_ns), recs[i].data, cap,
				 recs[i].len);
	}
	if (b.err != 0) {
		free(b.p);
		return b.err;
	}
	*buf = b.p;
	*len = b.len;
	return 0;
}
