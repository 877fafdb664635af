/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Traces and captures, the control thread's side (watch.h): build a watch
 * from a request, arm and disarm it, and turn its records into JSON or
 * pcapng once no worker writes them any more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "sluice/drop_reason.h"
#include "sluice/pcapng.h"
#include "sluice/policy.h"
#include "sluice/watch_filter.h"

#include "config.h"
#include "control.h"
#include "fw.h"
#include "log.h"
#include "watch.h"
#include "worker.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
 * Requests
 */

/*
 * Compile a filter object (sluice/watch_filter.h) into f; in_port is
 * resolved here against the policy in force.  Returns 0 or -EINVAL
 * (-ENOMEM) with err set.
 */
static int
compile_filter(const json_t *filter, const struct dp_control *c,
	       struct dp_watch_filter *f, char *err, size_t err_size)
{
	struct sl_match_compiled mc;
	const char *in_port;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = sl_watch_filter_compile(filter, &mc, &in_port, err, err_size);
	if (ret != 0)
		return ret;
	if (in_port != NULL) {
		int idx = c->policy != NULL ?
			  sl_policy_find_port(c->policy, in_port) : -1;

		if (idx < 0) {
			sl_errf(err, err_size, "filter.in_port: not a port of "
				"the policy in force");
			return -EINVAL;
		}
		f->in_port = c->port_of[idx];
	}
	f->fields = mc.fields | (in_port != NULL ? SL_MATCH_IN_PORT : 0);
	f->family = mc.family;
	f->proto = mc.proto;
	f->src_len = mc.src_len;
	f->dst_len = mc.dst_len;
	memcpy(f->src, mc.src, sizeof(f->src));
	memcpy(f->dst, mc.dst, sizeof(f->dst));
	f->sport_lo = mc.sport_lo;
	f->sport_hi = mc.sport_hi;
	f->dport_lo = mc.dport_lo;
	f->dport_hi = mc.dport_hi;
	f->vlan = mc.vlan;
	f->tcp_flags = mc.tcp_flags;
	f->tcp_flags_mask = mc.tcp_flags_mask;
	return 0;
}

/* An optional integer member in [lo, hi], dflt when absent. */
static int
get_uint(const json_t *req, const char *key, uint64_t lo, uint64_t hi,
	 uint64_t dflt, uint64_t *out, char *err, size_t err_size)
{
	const json_t *v = json_object_get(req, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
	    (uint64_t)json_integer_value(v) > hi) {
		sl_errf(err, err_size, "%s: not an integer in [%" PRIu64
			", %" PRIu64 "]", key, lo, hi);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

struct dp_watch *
dp_watch_new(enum dp_watch_kind kind, const json_t *req,
	     const struct dp_control *c, int64_t seq, char *err,
	     size_t err_size)
{
	uint32_t max = kind == DP_WATCH_TRACE ? DP_WATCH_TRACE_MAX
					      : DP_WATCH_CAPTURE_MAX;
	size_t rec = kind == DP_WATCH_TRACE ? sizeof(struct dp_trace_rec)
					    : sizeof(struct dp_cap_rec);
	unsigned int lanes = c->nb_workers;
	struct dp_watch_filter f;
	uint64_t count, timeout;
	uint16_t cap_port = 0;
	struct dp_watch *w;
	struct timespec ts;

	if (get_uint(req, "count", 1, max, DP_WATCH_COUNT_DEFAULT, &count,
		     err, err_size) != 0 ||
	    get_uint(req, "timeout_ms", 1, DP_WATCH_TIMEOUT_MAX_MS,
		     DP_WATCH_TIMEOUT_DEFAULT_MS, &timeout, err,
		     err_size) != 0 ||
	    compile_filter(json_object_get(req, "filter"), c, &f, err,
			   err_size) != 0)
		return NULL;
	if (kind == DP_WATCH_CAPTURE) {
		const char *name = json_string_value(json_object_get(req,
								     "port"));
		int idx = name != NULL && c->policy != NULL ?
			  sl_policy_find_port(c->policy, name) : -1;

		if (idx < 0) {
			sl_errf(err, err_size, "port: %s", name == NULL ?
				"a capture needs the name of a port" :
				"not a port of the policy in force");
			return NULL;
		}
		cap_port = c->port_of[idx];
	}

	w = calloc(1, sizeof(*w) + lanes * sizeof(w->lane[0]));
	if (w == NULL)
		goto nomem;
	w->kind = (uint8_t)kind;
	w->cap_port = cap_port;
	w->count = (uint32_t)count;
	w->f = f;
	w->seq = seq;
	w->deadline_ms = now_ms() + timeout;
	w->slot = -1;
	w->nb_lanes = lanes;
	for (unsigned int i = 0; i < lanes; i++) {
		w->lane[i].recs = calloc(count, rec);
		if (w->lane[i].recs == NULL)
			goto nomem;
		if (kind == DP_WATCH_CAPTURE) {
			w->lane[i].data = malloc(count * DP_WATCH_SNAPLEN);
			if (w->lane[i].data == NULL)
				goto nomem;
		}
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	w->tsc0 = rte_rdtsc();
	w->wall0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return w;
nomem:
	dp_watch_free(w);
	sl_errf(err, err_size, "out of memory for %" PRIu64 " packets",
		count);
	return NULL;
}

void
dp_watch_free(struct dp_watch *w)
{
	if (w == NULL)
		return;
	for (unsigned int i = 0; i < w->nb_lanes; i++) {
		free(w->lane[i].recs);
		free(w->lane[i].data);
	}
	free(w);
}

/* ------------------------------------------------------------------------
 * Arming
 */

int
dp_watch_arm(struct dp_run *run, struct dp_watch *w)
{
	uint32_t armed = __atomic_load_n(&run->watch_armed, __ATOMIC_RELAXED);

	for (int s = 0; s < DP_WATCH_SLOTS; s++) {
		if (armed & (1u << s) || run->watch[s] != NULL)
			continue;
		run->watch[s] = w;
		w->slot = s;
		/* The watch is whole before a worker can see its bit. */
		__atomic_fetch_or(&run->watch_armed, 1u << s,
				  __ATOMIC_RELEASE);
		return 0;
	}
	return -EBUSY;
}

/* Records the lanes hold now, summed. */
static uint64_t
stored(const struct dp_watch *w)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < w->nb_lanes; i++)
		n += __atomic_load_n(&w->lane[i].n, __ATOMIC_ACQUIRE);
	return n;
}

bool
dp_watch_done(const struct dp_watch *w, uint64_t now)
{
	return now >= w->deadline_ms || stored(w) >= w->count;
}

void
dp_watch_disarm(struct dp_run *run, struct dp_watch *w)
{
	if (w->slot < 0)
		return;
	__atomic_fetch_and(&run->watch_armed, ~(1u << w->slot),
			   __ATOMIC_RELEASE);
	/* A worker that loaded the bit before it was cleared may still be
	 * in that round: wait for every worker's next quiescent state. */
	rte_rcu_qsbr_synchronize(run->qs, RTE_QSBR_THRID_INVALID);
	run->watch[w->slot] = NULL;
	w->slot = -1;
}

/* ------------------------------------------------------------------------
 * Records, oldest first
 */

/*
 * The records of every lane merged by time, at most w->count: order[i] is
 * lane << 32 | index.  Returns how many, or -1 when out of memory.
 */
static long
merge(const struct dp_watch *w, uint64_t **order_out)
{
	uint32_t pos[RTE_MAX_LCORE] = { 0 };
	uint64_t *order = malloc((size_t)w->count * sizeof(*order));
	long n = 0;

	if (order == NULL)
		return -1;
	while (n < (long)w->count) {
		int best = -1;
		uint64_t best_tsc = 0;

		for (unsigned int l = 0; l < w->nb_lanes; l++) {
			const struct dp_watch_lane *lane = &w->lane[l];
			uint64_t tsc;

			if (pos[l] >= __atomic_load_n(&lane->n,
						      __ATOMIC_ACQUIRE))
				continue;
			tsc = w->kind == DP_WATCH_TRACE ?
			      ((const struct dp_trace_rec *)lane->recs)[pos[l]].tsc :
			      ((const struct dp_cap_rec *)lane->recs)[pos[l]].tsc;
			if (best < 0 || tsc < best_tsc) {
				best = (int)l;
				best_tsc = tsc;
			}
		}
		if (best < 0)
			break;
		order[n++] = (uint64_t)best << 32 | pos[best]++;
	}
	*order_out = order;
	return n;
}

static uint64_t
wall_ns(const struct dp_watch *w, uint64_t tsc)
{
	double hz = (double)rte_get_tsc_hz();

	return w->wall0_ns + (uint64_t)((double)(tsc - w->tsc0) * 1e9 / hz);
}

/* A DPDK port's name: the policy's, else the device's. */
static const char *
port_name(const struct dp_control *c, uint16_t port)
{
	for (size_t i = 0; c->policy != NULL && i < c->policy->n_ports; i++)
		if (c->port_of[i] == port)
			return c->policy->ports[i].name;
	return c->cfg->port_name[port];
}

/* ------------------------------------------------------------------------
 * Trace -> JSON
 */

static const char *
l3_name(uint8_t l3)
{
	static const char *const names[] = {
		[SL_L3_NONE] = "none", [SL_L3_IPV4] = "ipv4",
		[SL_L3_IPV6] = "ipv6", [SL_L3_ARP] = "arp",
		[SL_L3_OTHER] = "other",
	};

	return l3 < RTE_DIM(names) ? names[l3] : "other";
}

static json_t *
parse_json(const struct dp_trace_rec *r)
{
	json_t *o = json_pack("{s:s}", "l3", l3_name(r->l3));
	char buf[SL_PREFIX_STRLEN];

	if (o == NULL)
		return NULL;
	if (r->l3 == SL_L3_OTHER)
		json_object_set_new(o, "ethertype",
				    json_integer(r->ethertype));
	if (r->family != SL_FAMILY_NONE) {
		struct sl_prefix p = { .family = r->family,
				       .len = r->family == SL_FAMILY_IPV4 ?
					      32 : 128 };
		const char *proto = sl_proto_name(r->proto);

		memcpy(p.addr, r->src, 16);
		json_object_set_new(o, "src", json_string(
			sl_prefix_format(&p, false, buf)));
		memcpy(p.addr, r->dst, 16);
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

/* The verdict as an operator reads it. */
static const char *
verdict_name(const struct dp_trace_rec *r)
{
	if (r->drop_reason != SL_DROP_NONE)
		return "drop";
	if (r->action != 0)
		return sl_action_name(r->action);
	return "pass";	/* not judged: not IP, or no policy */
}

static json_t *
trace_rec_json(const struct dp_watch *w, const struct dp_trace_rec *r,
	       const struct dp_control *c, const struct fw_gen *g)
{
	json_t *o = json_pack("{s:I, s:s, s:i, s:i, s:o, s:s}",
		"ts_ns", (json_int_t)wall_ns(w, r->tsc),
		"port", port_name(c, r->port), "len", (int)r->len,
		"worker", (int)r->worker, "parse", parse_json(r),
		"verdict", verdict_name(r));

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "generation", json_integer((json_int_t)r->gen));
	if (r->rule == FW_NO_RULE)
		json_object_set_new(o, "rule", json_null());
	else if (g != NULL && g->id == r->gen && r->rule <= g->n_rules)
		json_object_set_new(o, "rule", json_string(g->rule_ids[r->rule]));
	else	/* that generation is gone: its ids with it */
		json_object_set_new(o, "rule_index", json_integer(r->rule));
	json_object_set_new(o, "ct", r->ct != 0 ?
			    json_string(sl_ct_state_name(r->ct)) : json_null());
	if (r->drop_reason == SL_DROP_NONE && r->port_kind == DP_PORT_ROUTED)
		json_object_set_new(o, "route", json_string("lookup"));
	json_object_set_new(o, "egress", r->egress != DP_NO_PORT ?
			    json_string(port_name(c, r->egress)) : json_null());
	json_object_set_new(o, "drop_reason",
			    r->drop_reason != SL_DROP_NONE ?
			    json_string(sl_drop_reason_name(r->drop_reason)) :
			    json_null());
	return o;
}

json_t *
dp_watch_trace_json(const struct dp_watch *w, const struct dp_control *c)
{
	const struct fw_gen *g = c->run != NULL ? c->run->fw : NULL;
	json_t *pkts = json_array();
	uint64_t *order;
	long n = merge(w, &order);

	if (n < 0 || pkts == NULL) {
		json_decref(pkts);
		if (n >= 0)
			free(order);
		return NULL;
	}
	for (long i = 0; i < n; i++) {
		const struct dp_watch_lane *l = &w->lane[order[i] >> 32];
		const struct dp_trace_rec *r =
			(const struct dp_trace_rec *)l->recs +
			(uint32_t)order[i];

		if (json_array_append_new(pkts, trace_rec_json(w, r, c, g))) {
			json_decref(pkts);
			pkts = NULL;
			break;
		}
	}
	free(order);
	return pkts;
}

/* ------------------------------------------------------------------------
 * Capture -> pcapng (sluice/pcapng.h)
 */

int
dp_watch_pcapng(const struct dp_watch *w, const struct dp_control *c,
		uint8_t **buf, size_t *len, unsigned int *packets)
{
	struct sl_pcapng b = { 0 };
	uint64_t *order;
	long n = merge(w, &order);
	int ret;

	if (n < 0)
		return -ENOMEM;
	sl_pcapng_head(&b, "sluice-dataplane", port_name(c, w->cap_port),
		       DP_WATCH_SNAPLEN);
	for (long i = 0; i < n; i++) {
		const struct dp_watch_lane *l = &w->lane[order[i] >> 32];
		uint32_t k = (uint32_t)order[i];
		const struct dp_cap_rec *r = (const struct dp_cap_rec *)l->recs + k;

		sl_pcapng_packet(&b, wall_ns(w, r->tsc),
				 l->data + (size_t)k * DP_WATCH_SNAPLEN,
				 r->cap_len, r->orig_len);
	}
	free(order);
	ret = b.err;
	if (ret != 0) {
		free(b.p);
		return ret;
	}
	*buf = b.p;
	*len = b.len;
	*packets = (unsigned int)n;
	return 0;
}
