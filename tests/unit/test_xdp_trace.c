/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The XDP program's trace (docs/xdp.md, "Trace") through
 * BPF_PROG_TEST_RUN: the program records each packet's verdict in sl_last
 * (opts.last_verdict), which is the oracle for each trace record.
 *
 *  - disarmed, packets leave nothing in the ring;
 *  - armed with N, M > N packets of every kind (accepted and dropped by
 *    rule, default, not IP, dropped by the parser, from another
 *    interface, IPv6) give exactly N records, those of the first N
 *    packets, each with sl_last's rule, reason, action, route and steer,
 *    the test run's XDP action, the ingress, the length and the frame's
 *    first bytes; their JSON names the rule by id, in the DPDK trace's
 *    shape;
 *  - threads on every CPU (up to 4) racing for a budget of 500 with 2,000
 *    packets each get exactly 500 records;
 *  - a filter takes only its packets and the budget counts only them
 *    (proto and port, an IPv6 prefix, in_port); bad filters are refused
 *    naming the field;
 *  - a steered packet's egress is its target's interface;
 *  - a capture file holds each packet's first SL_XDP_TRACE_SNAP bytes and
 *    its length;
 *  - it prints the cost per packet, disarmed and armed (not an assertion).
 *
 * In a network namespace of its own: lo and the veth trv0 are the policy's
 * ports.  Needs root (BPF, a network namespace); skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "sluice/drop_reason.h"
#include "xdp_loader.h"
#include "xdp_trace.h"

#define RECS_MAX 64

static struct sl_xdp *xdp;
static struct sl_xdp_trace *ring;
static uint32_t if_lo, if_trv0;

static struct sl_xdp_trace_rec recs[RECS_MAX];
static unsigned int n_recs;

static const char policy_json[] =
	"{\"version\": 1, \"default\": \"accept\","
	" \"ports\": [{\"name\": \"lo\", \"dpdk_port\": 0},"
	"             {\"name\": \"trv0\", \"dpdk_port\": 1}],"
	" \"rules\": ["
	"  {\"id\": \"drop-icmp-10-9\", \"src\": \"10.9.0.0/16\", \"proto\": \"icmp\", \"action\": \"drop\"},"
	"  {\"id\": \"dns\", \"proto\": \"udp\", \"dport\": 53, \"action\": \"accept\"},"
	"  {\"id\": \"from-trv0\", \"in_port\": \"trv0\", \"action\": \"drop\"}"
	" ]}";
static struct sl_policy *policy;

static int
on_rec(void *ctx, const struct sl_xdp_trace_rec *r)
{
	(void)ctx;
	if (n_recs < RECS_MAX)
		recs[n_recs] = *r;
	n_recs++;
	return 0;
}

/* Everything the ring holds now into recs. */
static unsigned int
drain(void)
{
	n_recs = 0;
	assert_true(sl_xdp_trace_consume(ring) >= 0);
	return n_recs;
}

/* ---- frames ---- */

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

enum kind { K_DNS, K_ICMP_10_9, K_UDP_80, K_ARP, K_TRUNC, K_FROM_TRV0,
	    K_DNS6, K_N };

/* A frame of kind k with a distinct source port (or ICMP id) seq. */
static uint16_t
frame(enum kind k, unsigned int seq, uint8_t *b)
{
	uint16_t len;

	memset(b, 0, 128);
	memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (k == K_ARP) {
		put16(b + 12, 0x0806);
		put16(b + 14, 1);
		put16(b + 16, 0x0800);
		b[18] = 6;
		b[19] = 4;
		put16(b + 20, 1);
		return 42;
	}
	if (k == K_DNS6) {
		put16(b + 12, 0x86dd);
		b[14] = 0x60;
		put16(b + 18, 8 + 10);
		b[20] = 17;
		b[21] = 64;
		inet_pton(AF_INET6, "2001:db8::1", b + 22);
		inet_pton(AF_INET6, "2001:db9::53", b + 38);
		put16(b + 54, 1000 + seq);
		put16(b + 56, 53);
		put16(b + 58, 8 + 10);
		return 54 + 18;
	}
	put16(b + 12, 0x0800);
	b[14] = 0x45;
	b[22] = 64;
	inet_pton(AF_INET, k == K_ICMP_10_9 ? "10.9.1.1" : "10.1.0.1", b + 26);
	inet_pton(AF_INET, "10.2.0.2", b + 30);
	if (k == K_ICMP_10_9) {
		b[23] = 1;
		b[34] = 8;
		put16(b + 38, seq);
		len = 34 + 8 + 10;
	} else {
		b[23] = 17;
		put16(b + 34, 1000 + seq);
		put16(b + 36, k == K_UDP_80 || k == K_FROM_TRV0 ? 80 : 53);
		put16(b + 38, 8 + 10);
		len = 34 + 8 + 10;
	}
	put16(b + 16, (unsigned int)(len - 14));
	if (k == K_TRUNC)
		put16(b + 16, 1400);	/* longer than the frame */
	return len;
}

/* One frame through the program: its sl_last and XDP action. */
static void
run(enum kind k, unsigned int seq, uint8_t *b, uint16_t *len,
    struct sl_xdp_test_result *res)
{
	*len = frame(k, seq, b);
	assert_int_equal(sl_xdp_test_run(xdp, b, *len,
					 k == K_FROM_TRV0 ? if_trv0 : if_lo,
					 res), 0);
}

static void
arm(const char *filter_json, uint32_t count)
{
	struct sl_xdp_trace_filter f;
	json_t *filter = filter_json ? json_loads(filter_json, 0, NULL) : NULL;
	char err[256] = "";

	if (sl_xdp_trace_filter(filter, policy, &f, err, sizeof(err)) != 0)
		fail_msg("filter %s: %s", filter_json, err);
	json_decref(filter);
	assert_int_equal(sl_xdp_trace_arm(xdp, &f, count), 0);
}

/* ---- tests ---- */

static void
test_disarmed_program_emits_nothing(void **state)
{
	struct sl_xdp_test_result res;
	uint8_t b[128];
	uint16_t len;

	(void)state;
	assert_int_equal(sl_xdp_trace_disarm(xdp, NULL), 0);
	drain();
	for (unsigned int i = 0; i < 3 * K_N; i++)
		run((enum kind)(i % K_N), i, b, &len, &res);
	assert_int_equal(drain(), 0);
}

static void
test_armed_with_n_gives_n_records_with_the_verdict_of_sl_last(void **state)
{
	const unsigned int n = 10, m = 3 * K_N;
	struct sl_xdp_test_result res[3 * K_N];
	uint8_t b[3 * K_N][128];
	uint16_t len[3 * K_N];
	uint64_t lost = 1;

	(void)state;
	drain();
	arm(NULL, n);
	for (unsigned int i = 0; i < m; i++)
		run((enum kind)(i % K_N), i, b[i], &len[i], &res[i]);
	assert_int_equal(sl_xdp_trace_disarm(xdp, &lost), 0);
	assert_int_equal(lost, 0);
	assert_int_equal(drain(), n);
	for (unsigned int i = 0; i < n; i++) {
		const struct sl_xdp_trace_rec *r = &recs[i];
		const struct sl_xdp_verdict *v = &res[i].v;

		assert_int_equal(r->rule, v->rule);
		assert_int_equal(r->reason, v->reason);
		assert_int_equal(r->action, v->action);
		assert_int_equal(r->route, v->route);
		assert_int_equal(r->steer, v->steer);
		assert_int_equal(r->target, v->target);
		assert_int_equal(r->xdp_action, res[i].xdp_action);
		assert_int_equal(r->ifindex, i % K_N == K_FROM_TRV0 ? if_trv0
								      : if_lo);
		assert_int_equal(r->len, len[i]);
		assert_int_equal(r->cap_len, len[i]);
		assert_memory_equal(r->data, b[i], len[i]);
		assert_int_equal(r->generation, policy->generation);
	}
	/* The oracle's verdicts, so that the comparison above means
	 * something: one of each kind. */
	assert_int_equal(res[K_DNS].v.rule, 1);
	assert_int_equal(res[K_ICMP_10_9].v.reason, SL_DROP_RULE);
	assert_int_equal(res[K_ICMP_10_9].xdp_action, XDP_DROP);
	assert_int_equal(res[K_UDP_80].v.rule, 3);	/* the default */
	assert_int_equal(res[K_ARP].v.rule, SL_XDP_NO_RULE);
	assert_int_equal(res[K_TRUNC].v.reason, SL_DROP_IPV4_BAD_TOTAL_LEN);
	assert_int_equal(res[K_FROM_TRV0].v.rule, 2);
	assert_int_equal(res[K_DNS6].v.rule, 1);

	/* As JSON: the rule by id, the DPDK trace's members. */
	{
		static const char *const want_rule[K_N] = {
			"dns", "drop-icmp-10-9", "default", NULL, NULL,
			"from-trv0", "dns" };
		static const char *const want_verdict[K_N] = {
			"accept", "drop", "accept", "pass", "drop", "drop",
			"accept" };

		for (unsigned int i = 0; i < K_N; i++) {
			json_t *o = sl_xdp_trace_json(xdp, &recs[i]);
			const json_t *rule = json_object_get(o, "rule");

			assert_non_null(o);
			if (want_rule[i] == NULL)
				assert_true(json_is_null(rule));
			else
				assert_string_equal(json_string_value(rule),
						    want_rule[i]);
			assert_string_equal(json_string_value(
				json_object_get(o, "verdict")), want_verdict[i]);
			assert_string_equal(json_string_value(
				json_object_get(o, "port")),
				i == K_FROM_TRV0 ? "trv0" : "lo");
			assert_non_null(json_object_get(o, "parse"));
			assert_non_null(json_object_get(o, "drop_reason"));
			assert_non_null(json_object_get(o, "ts_ns"));
			json_decref(o);
		}
		json_t *o = sl_xdp_trace_json(xdp, &recs[K_DNS]);
		const json_t *parse = json_object_get(o, "parse");

		assert_string_equal(json_string_value(json_object_get(parse,
						      "src")), "10.1.0.1");
		assert_string_equal(json_string_value(json_object_get(parse,
						      "proto")), "udp");
		assert_int_equal(json_integer_value(json_object_get(parse,
						    "dport")), 53);
		assert_string_equal(json_string_value(json_object_get(o,
						      "route")), "off");
		json_decref(o);
		o = sl_xdp_trace_json(xdp, &recs[K_TRUNC]);
		assert_string_equal(json_string_value(json_object_get(o,
			"drop_reason")), "ipv4_bad_total_len");
		json_decref(o);
	}
}

/* One thread of the race below: 2,000 packets on CPU *arg. */
static void *
race_thread(void *arg)
{
	struct xdp_md ctx = { .ingress_ifindex = if_lo };
	uint8_t b[128];
	uint16_t len = frame(K_DNS, 2, b);
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(*(int *)arg, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	ctx.data_end = len;
	for (int c = 0; c < 20; c++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b,
			    .data_size_in = len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 100);

		if (bpf_prog_test_run_opts(sl_xdp_prog_fd(xdp), &o) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_cpus_racing_for_the_budget_emit_exactly_n(void **state)
{
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), cpu[4];
	pthread_t th[4];
	uint64_t lost = 1;
	void *ret;

	(void)state;
	if (ncpu > 4)
		ncpu = 4;
	drain();
	arm(NULL, 500);
	for (int i = 0; i < ncpu; i++) {
		cpu[i] = i;
		assert_int_equal(pthread_create(&th[i], NULL, race_thread,
						&cpu[i]), 0);
	}
	for (int i = 0; i < ncpu; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(sl_xdp_trace_disarm(xdp, &lost), 0);
	assert_int_equal(lost, 0);
	assert_int_equal(drain(), 500);
	printf("# %d CPUs, %d packets: 500 records\n", ncpu, 2000 * ncpu);
}

/* Armed with filter and count, 3 rounds of every kind: the kinds of the
 * records, in order. */
static void
check_filter(const char *filter, uint32_t count, const enum kind *want,
	     unsigned int n_want)
{
	struct sl_xdp_test_result res;
	uint8_t b[128];
	uint16_t len;

	drain();
	arm(filter, count);
	for (unsigned int i = 0; i < 3 * K_N; i++)
		run((enum kind)(i % K_N), i, b, &len, &res);
	assert_int_equal(sl_xdp_trace_disarm(xdp, NULL), 0);
	if (drain() != n_want)
		fail_msg("filter %s: %u records, want %u", filter, n_recs,
			 n_want);
	for (unsigned int i = 0; i < n_want; i++) {
		uint8_t wb[128];
		uint16_t wlen = frame(want[i], 0, wb);

		/* same kind: same length and the same bytes up to the
		 * ports (which carry the sequence number) */
		assert_int_equal(recs[i].len, wlen);
		assert_memory_equal(recs[i].data, wb, 34);
	}
}

static void
test_filter_takes_only_its_packets_and_counts_only_them(void **state)
{
	static const enum kind udp53[] = { K_DNS, K_DNS, K_DNS };
	static const enum kind v6[] = { K_DNS6, K_DNS6, K_DNS6 };
	static const enum kind trv0[] = { K_FROM_TRV0, K_FROM_TRV0,
					  K_FROM_TRV0 };
	static const enum kind icmp[] = { K_ICMP_10_9 };

	(void)state;
	/* the count stops at 3; IPv6 and the parser's drop are not taken */
	check_filter("{\"proto\": \"udp\", \"dport\": 53, "
		     "\"dst\": \"10.0.0.0/8\"}", 3, udp53, 3);
	check_filter("{\"src\": \"2001:db8::/32\"}", 5, v6, 3);
	check_filter("{\"in_port\": \"trv0\"}", 10, trv0, 3);
	check_filter("{\"src\": \"10.9.0.0/16\", \"proto\": \"icmp\"}", 1,
		     icmp, 1);
}

static void
test_bad_filter_is_refused_naming_the_field(void **state)
{
	static const struct {
		const char *filter, *field;
	} cases[] = {
		{ "{\"ct\": \"new\"}", "filter.ct:" },
		{ "{\"action\": \"drop\"}", "filter.action:" },
		{ "{\"dport\": \"http\"}", "filter.dport:" },
		{ "{\"src\": \"10.0.0.300/8\"}", "filter.src:" },
		{ "{\"in_port\": \"nope\"}", "filter.in_port:" },
		{ "[1]", "filter:" },
	};
	struct sl_xdp_trace_filter f;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].filter, JSON_DECODE_ANY, NULL);

		err[0] = '\0';
		assert_int_equal(sl_xdp_trace_filter(j, policy, &f, err,
						     sizeof(err)), -EINVAL);
		if (strncmp(err, cases[i].field, strlen(cases[i].field)) != 0)
			fail_msg("%s: \"%s\", want it to start with %s",
				 cases[i].filter, err, cases[i].field);
		json_decref(j);
	}
}

static void
test_steered_packet_names_its_target_interface_as_egress(void **state)
{
	static const char steer_json[] =
		"{\"version\": 1, \"default\": \"accept\","
		" \"ports\": [{\"name\": \"lo\", \"dpdk_port\": 0},"
		"             {\"name\": \"trv0\", \"dpdk_port\": 1}],"
		" \"rules\": [{\"id\": \"to-trv0\", \"proto\": \"udp\","
		"  \"dport\": 53, \"action\": {\"steer\": {\"group\": \"g\"}}}],"
		" \"groups\": [{\"name\": \"g\", \"targets\": [{\"kind\":"
		"  \"port\", \"port\": \"trv0\"}]}]}";
	struct sl_policy_errors errs;
	struct sl_xdp_test_result res;
	struct sl_policy *p = NULL;
	uint8_t b[128];
	uint16_t len = frame(K_DNS, 3, b);
	char err[512] = "";
	json_t *o, *xo;

	(void)state;
	assert_int_equal(sl_policy_from_json_str(steer_json, &p, &errs), 0);
	if (sl_xdp_attach(xdp, "trv0", false, NULL, err, sizeof(err)) != 0 ||
	    sl_xdp_apply(xdp, p, NULL, err, sizeof(err)) != 0)
		fail_msg("set-up: %s", err);
	drain();
	arm(NULL, 1);
	assert_int_equal(sl_xdp_test_run(xdp, b, len, if_lo, &res), 0);
	assert_int_equal(res.xdp_action, XDP_REDIRECT);
	assert_int_equal(drain(), 1);
	o = sl_xdp_trace_json(xdp, &recs[0]);
	assert_string_equal(json_string_value(json_object_get(o, "rule")),
			    "to-trv0");
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
			    "steer");
	assert_string_equal(json_string_value(json_object_get(o, "egress")),
			    "trv0");
	xo = json_object_get(o, "xdp");
	assert_string_equal(json_string_value(json_object_get(xo, "action")),
			    "redirect");
	assert_string_equal(json_string_value(json_object_get(xo, "steer")),
			    "steered");
	assert_int_equal(json_integer_value(json_object_get(xo, "target")), 0);
	assert_null(json_object_get(o, "route"));
	json_decref(o);
	sl_policy_free(p);
	/* back to the policy of the other tests */
	if (sl_xdp_apply(xdp, policy, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void
test_capture_file_keeps_each_packets_first_bytes_and_length(void **state)
{
	struct sl_xdp_test_result res;
	uint8_t b[400], *file, *blk;
	uint16_t len = frame(K_DNS, 7, b);
	size_t flen;

	(void)state;
	/* a 300-byte UDP datagram's frame: longer than the snap length */
	memset(b + len, 0xab, 300 - len);
	put16(b + 16, 300 - 14);
	put16(b + 38, 300 - 34);
	len = 300;
	drain();
	arm(NULL, 1);
	assert_int_equal(sl_xdp_test_run(xdp, b, len, if_lo, &res), 0);
	assert_int_equal(res.v.rule, 1);
	assert_int_equal(drain(), 1);
	assert_int_equal(recs[0].len, 300);
	assert_int_equal(recs[0].cap_len, SL_XDP_TRACE_SNAP);
	assert_int_equal(sl_xdp_trace_pcapng(recs, 1, "lo", &file, &flen), 0);
	/* SHB, IDB (its snap length), one EPB: captured and original
	 * lengths, the bytes, the block's length at both ends */
	assert_int_equal(get32(file), 0x0A0D0D0Au);
	blk = file + get32(file + 4);
	assert_int_equal(get32(blk), 1);
	assert_int_equal(get32(blk + 12), SL_XDP_TRACE_SNAP);
	blk += get32(blk + 4);
	assert_int_equal(get32(blk), 6);
	assert_int_equal(get32(blk + 20), SL_XDP_TRACE_SNAP);
	assert_int_equal(get32(blk + 24), 300);
	assert_memory_equal(blk + 28, b, SL_XDP_TRACE_SNAP);
	assert_int_equal(get32(blk + get32(blk + 4) - 4), get32(blk + 4));
	assert_ptr_equal(blk + get32(blk + 4), file + flen);
	free(file);
}

/*
 * Not an assertion: the cost per packet of an accepted UDP packet,
 * disarmed (one load and a branch), armed with a filter the packet fails
 * (no record), and armed (a record per packet, consumed between runs):
 * BPF_PROG_TEST_RUN's mean over 250 repeats.
 */
static void
test_print_cost_of_tracing(void **state)
{
	struct xdp_md ctx = { .ingress_ifindex = if_lo };
	const int calls = 400;
	uint64_t ns[3] = { 0, 0, 0 };
	uint8_t b[128];
	uint16_t len = frame(K_DNS, 1, b);

	(void)state;
	ctx.data_end = len;
	for (int on = 0; on < 3; on++) {
		if (on == 1)
			arm("{\"proto\": \"udp\", \"dport\": 9}", 1000000000u);
		if (on == 2)
			arm(NULL, 1000000000u);
		for (int c = 0; c < calls; c++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b,
				    .data_size_in = len, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 250);

			assert_int_equal(bpf_prog_test_run_opts(
				sl_xdp_prog_fd(xdp), &o), 0);
			ns[on] += o.duration;
			drain();
		}
		if (on)
			assert_int_equal(sl_xdp_trace_disarm(xdp, NULL), 0);
	}
	printf("# per packet (BPF_PROG_TEST_RUN, 3 rules, sl_last on): "
	       "trace disarmed %.0f ns, armed but filtered out %.0f ns, "
	       "armed %.0f ns\n", (double)ns[0] / calls,
	       (double)ns[1] / calls, (double)ns[2] / calls);
}

/* ---- set-up ---- */

static int
setup_netns(void)
{
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (system("ip link add trv0 type veth peer name trv0p && "
		   "ip link set trv0 up && ip link set lo up") != 0)
		return -1;
	if_lo = if_nametoindex("lo");
	if_trv0 = if_nametoindex("trv0");
	return if_lo && if_trv0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disarmed_program_emits_nothing),
		cmocka_unit_test(test_armed_with_n_gives_n_records_with_the_verdict_of_sl_last),
		cmocka_unit_test(test_cpus_racing_for_the_budget_emit_exactly_n),
		cmocka_unit_test(test_filter_takes_only_its_packets_and_counts_only_them),
		cmocka_unit_test(test_bad_filter_is_refused_naming_the_field),
		cmocka_unit_test(test_capture_file_keeps_each_packets_first_bytes_and_length),
		cmocka_unit_test(test_steered_packet_names_its_target_interface_as_egress),
		cmocka_unit_test(test_print_cost_of_tracing),
	};
	struct sl_xdp_opts o = { .last_verdict = true };
	struct sl_policy_errors errs;
	char err[512];
	int ret;

	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN and netns need root\n");
		return 77;
	}
	if (setup_netns() != 0) {
		fprintf(stderr, "cannot set up the test namespace\n");
		return 1;
	}
	if (sl_xdp_open(&o, &xdp, err, sizeof(err)) != 0 ||
	    sl_policy_from_json_str(policy_json, &policy, &errs) != 0 ||
	    sl_xdp_apply(xdp, policy, NULL, err, sizeof(err)) != 0 ||
	    sl_xdp_trace_open(xdp, on_rec, NULL, &ring) != 0) {
		fprintf(stderr, "set-up: %s\n", err);
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	sl_xdp_trace_close(ring);
	sl_policy_free(policy);
	sl_xdp_close(xdp);
	return ret;
}
