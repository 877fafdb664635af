/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection tracking: the state machine, per-state timeouts, a full table
 * and bounded ageing, through the same calls the worker makes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>

#include "conntrack.h"
#include "test_eal.h"

static uint64_t hz;
static uint64_t t0;
static unsigned int table_seq;

/* A parsed packet from a to b (last address byte) with the given ports. */
static struct sl_pkt_meta
mk(uint8_t proto, uint8_t a, uint8_t b, uint16_t sport, uint16_t dport,
   uint8_t tcp_flags, uint8_t icmp_type)
{
	struct sl_pkt_meta m;
	uint8_t src[4] = { 10, 0, 0, a }, dst[4] = { 10, 0, 0, b };

	memset(&m, 0, sizeof(m));
	m.l3 = SL_L3_IPV4;
	m.l4_proto = proto;
	m.sport = sport;
	m.dport = dport;
	m.tcp_flags = tcp_flags;
	m.icmp_type = icmp_type;
	m.key_swapped = sl_flow_key_make(&m.key, SL_FAMILY_IPV4, proto, src,
					 dst, 4, sport, dport);
	return m;
}

static struct ct_table *
new_table(uint32_t max_flows)
{
	char name[32];
	struct ct_params p = {
		.name = name,
		.socket = 0,
		.max_flows = max_flows,
		.hash_seed = 0x5eed,
		.timeouts = {
			.tcp_syn = 120, .tcp_syn_ack = 60,
			.tcp_established = 432000, .tcp_closing = 120,
			.tcp_closed = 10, .udp_new = 30,
			.udp_established = 120, .icmp = 30, .other = 600,
		},
	};
	struct ct_table *t;

	snprintf(name, sizeof(name), "ct_test_%u", table_seq++);
	t = ct_table_create(&p);
	assert_non_null(t);
	return t;
}

/* One packet through lookup and, when new, commit: what a worker does for
 * an accepted packet.  Returns its ct bit. */
static uint8_t
pass(struct ct_table *t, const struct sl_pkt_meta *m, uint64_t now)
{
	const struct sl_pkt_meta *v[1] = { m };
	struct ct_pkt c;

	assert_int_equal(ct_lookup_burst(t, v, 1, now, &c), 1);
	if (c.ct == SL_CT_NEW && c.entry < 0)
		assert_true(ct_commit(t, m, &c, now) >= 0);
	return c.ct;
}

static uint8_t
flow_state(struct ct_table *t, const struct sl_pkt_meta *m, uint64_t now)
{
	int32_t e = ct_find(t, &m->key, now);

	return e < 0 ? SL_CTS_NONE : ct_table_entry(t, e)->state;
}

static void
test_tcp_handshake_data_and_close_walk_every_state(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta syn = mk(6, 1, 2, 40000, 80, SL_TCP_SYN, 0);
	struct sl_pkt_meta synack = mk(6, 2, 1, 80, 40000, SL_TCP_SYN | SL_TCP_ACK, 0);
	struct sl_pkt_meta ack = mk(6, 1, 2, 40000, 80, SL_TCP_ACK, 0);
	struct sl_pkt_meta rack = mk(6, 2, 1, 80, 40000, SL_TCP_ACK, 0);
	struct sl_pkt_meta fin = mk(6, 1, 2, 40000, 80, SL_TCP_FIN | SL_TCP_ACK, 0);
	struct sl_pkt_meta rfin = mk(6, 2, 1, 80, 40000, SL_TCP_FIN | SL_TCP_ACK, 0);

	(void)state;
	assert_int_equal(pass(t, &syn, t0), SL_CT_NEW);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_SYN_SENT);
	assert_int_equal(pass(t, &syn, t0), SL_CT_NEW);	/* retransmit */
	assert_int_equal(pass(t, &synack, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_SYN_RECV);
	assert_int_equal(pass(t, &ack, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_ESTABLISHED);
	assert_int_equal(pass(t, &rack, t0), SL_CT_ESTABLISHED);
	assert_int_equal(pass(t, &fin, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_FIN_WAIT);
	assert_int_equal(pass(t, &rfin, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_CLOSING);
	assert_int_equal(pass(t, &ack, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_TIME_WAIT);
	assert_int_equal(ct_table_count(t), 1);
	ct_table_free(t);
}

static void
test_tcp_without_flow_only_syn_and_bare_ack_start_one(void **state)
{
	struct ct_table *t = new_table(4096);
	const struct sl_pkt_meta *v[1];
	struct ct_pkt c;
	struct {
		uint8_t flags;
		uint8_t ct;
		uint8_t new_state;
	} cases[] = {
		{ SL_TCP_SYN, SL_CT_NEW, SL_CTS_SYN_SENT },
		{ SL_TCP_ACK, SL_CT_NEW, SL_CTS_ESTABLISHED },
		{ SL_TCP_ACK | 0x08 /* PSH */, SL_CT_NEW, SL_CTS_ESTABLISHED },
		{ SL_TCP_SYN | SL_TCP_ACK, SL_CT_INVALID, 0 },
		{ SL_TCP_FIN | SL_TCP_ACK, SL_CT_INVALID, 0 },
		{ SL_TCP_RST, SL_CT_INVALID, 0 },
		{ SL_TCP_SYN | SL_TCP_FIN, SL_CT_INVALID, 0 },
		{ 0, SL_CT_INVALID, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_pkt_meta m = mk(6, 1, 2, 1000 + (uint16_t)i, 22,
					  cases[i].flags, 0);

		v[0] = &m;
		ct_lookup_burst(t, v, 1, t0, &c);
		assert_int_equal(c.ct, cases[i].ct);
		assert_int_equal(c.entry, -1);
		if (c.ct == SL_CT_NEW)
			assert_int_equal(c.new_state, cases[i].new_state);
	}
	/* lookups alone create nothing */
	assert_int_equal(ct_table_count(t), 0);
	ct_table_free(t);
}

static void
test_tcp_rst_closes_and_a_new_syn_reopens(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta syn = mk(6, 1, 2, 5555, 443, SL_TCP_SYN, 0);
	struct sl_pkt_meta rst = mk(6, 2, 1, 443, 5555, SL_TCP_RST | SL_TCP_ACK, 0);

	(void)state;
	pass(t, &syn, t0);
	assert_int_equal(pass(t, &rst, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_CLOSE);
	assert_int_equal(pass(t, &syn, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &syn, t0), SL_CTS_SYN_SENT);
	ct_table_free(t);
}

static void
test_udp_reply_makes_both_directions_established(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta q = mk(17, 1, 2, 3333, 53, 0, 0);
	struct sl_pkt_meta r = mk(17, 2, 1, 53, 3333, 0, 0);

	(void)state;
	assert_int_equal(pass(t, &q, t0), SL_CT_NEW);
	assert_int_equal(pass(t, &q, t0), SL_CT_NEW);
	assert_int_equal(pass(t, &r, t0), SL_CT_ESTABLISHED);
	assert_int_equal(pass(t, &q, t0), SL_CT_ESTABLISHED);
	assert_int_equal(flow_state(t, &q, t0), SL_CTS_REPLIED);
	ct_table_free(t);
}

static void
test_icmp_echo_reply_needs_the_request(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta req = mk(1, 1, 2, 77, 77, 0, 8);
	struct sl_pkt_meta rep = mk(1, 2, 1, 77, 77, 0, 0);
	struct sl_pkt_meta unreach = mk(1, 2, 1, 0, 0, 0, 3);

	(void)state;
	assert_int_equal(pass(t, &rep, t0), SL_CT_INVALID);
	assert_int_equal(pass(t, &unreach, t0), SL_CT_INVALID);
	assert_int_equal(pass(t, &req, t0), SL_CT_NEW);
	assert_int_equal(pass(t, &rep, t0), SL_CT_ESTABLISHED);
	ct_table_free(t);
}

static void
test_flows_expire_after_their_state_timeout(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta q = mk(17, 1, 2, 4444, 123, 0, 0);
	struct sl_pkt_meta r = mk(17, 2, 1, 123, 4444, 0, 0);

	(void)state;
	pass(t, &q, t0);
	/* unreplied UDP lives 30 s */
	assert_int_equal(pass(t, &r, t0 + 29 * hz), SL_CT_ESTABLISHED);
	/* replied UDP lives 120 s from the last packet */
	assert_int_equal(pass(t, &q, t0 + 29 * hz + 119 * hz), SL_CT_ESTABLISHED);
	assert_int_equal(pass(t, &q, t0 + 29 * hz + 119 * hz + 121 * hz), SL_CT_NEW);
	ct_table_free(t);
}

static void
test_full_table_refuses_new_flows_until_ageing_frees_them(void **state)
{
	const uint32_t max = 1024;
	struct ct_table *t = new_table(max);
	const struct sl_pkt_meta *v[1];
	struct ct_pkt c;
	uint32_t removed = 0;

	(void)state;
	for (uint32_t i = 0; i < max; i++) {
		struct sl_pkt_meta m = mk(17, 1, 2, (uint16_t)(1024 + i), 9, 0, 0);

		assert_int_equal(pass(t, &m, t0), SL_CT_NEW);
	}
	assert_int_equal(ct_table_count(t), max);

	struct sl_pkt_meta extra = mk(17, 3, 4, 1, 9, 0, 0);
	v[0] = &extra;
	ct_lookup_burst(t, v, 1, t0, &c);
	assert_int_equal(c.ct, SL_CT_NEW);
	assert_int_equal(ct_commit(t, &extra, &c, t0), -ENOSPC);

	/* Ageing is bounded per call: never more than the budget. */
	uint64_t later = t0 + 31 * hz;
	assert_true(ct_age(t, later, 100) <= 100);
	for (int round = 0; round < 64 && ct_table_count(t) > 0; round++)
		removed += ct_age(t, later, 100);
	assert_int_equal(ct_table_count(t), 0);
	assert_true(removed > 0);

	ct_lookup_burst(t, v, 1, later, &c);
	assert_true(ct_commit(t, &extra, &c, later) >= 0);
	ct_table_free(t);
}

static void
test_a_reply_in_the_burst_of_its_new_request_waits_for_the_commit(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta a = mk(17, 1, 2, 6000, 7000, 0, 0);
	struct sl_pkt_meta x = mk(17, 5, 6, 1, 2, 0, 0);
	struct sl_pkt_meta b = mk(17, 2, 1, 7000, 6000, 0, 0);
	const struct sl_pkt_meta *v[3] = { &a, &x, &b };
	struct ct_pkt c[3];

	(void)state;
	/* b's state depends on whether a is accepted: the walk stops there */
	assert_int_equal(ct_lookup_burst(t, v, 3, t0, c), 2);
	assert_int_equal(c[0].ct, SL_CT_NEW);
	assert_int_equal(c[1].ct, SL_CT_NEW);
	assert_true(ct_commit(t, &a, &c[0], t0) >= 0);
	assert_int_equal(ct_lookup_burst(t, v + 2, 1, t0, c + 2), 1);
	assert_int_equal(c[2].ct, SL_CT_ESTABLISHED);
	assert_int_equal(c[2].entry, c[0].entry);
	assert_int_equal(ct_table_count(t), 1);
	ct_table_free(t);
}

static void
test_packets_of_known_flows_are_walked_in_one_call(void **state)
{
	struct ct_table *t = new_table(4096);
	struct sl_pkt_meta q = mk(17, 1, 2, 6000, 7000, 0, 0);
	struct sl_pkt_meta r = mk(17, 2, 1, 7000, 6000, 0, 0);
	const struct sl_pkt_meta *v[4] = { &q, &r, &q, &r };
	struct ct_pkt c[4];

	(void)state;
	pass(t, &q, t0);
	assert_int_equal(ct_lookup_burst(t, v, 4, t0, c), 4);
	assert_int_equal(c[0].ct, SL_CT_NEW);
	assert_int_equal(c[1].ct, SL_CT_ESTABLISHED);
	assert_int_equal(c[2].ct, SL_CT_ESTABLISHED);
	assert_int_equal(c[3].ct, SL_CT_ESTABLISHED);
	ct_table_free(t);
}

/*
 * The flow cache in front of the hash table must never hand out a position
 * that ageing gave to another flow.  Fill a small table, age everything
 * out, refill it with different flows (which reuse the positions) and check
 * every old flow is gone and every new one finds its own entry.
 */
static void
test_positions_reused_after_ageing_never_answer_the_old_flow(void **state)
{
	const uint32_t max = 1024;
	struct ct_table *t = new_table(max);
	uint64_t later = t0 + 31 * hz;

	(void)state;
	for (uint32_t i = 0; i < max; i++) {
		struct sl_pkt_meta m = mk(17, 1, 2, (uint16_t)(1024 + i), 9, 0, 0);

		assert_int_equal(pass(t, &m, t0), SL_CT_NEW);
		assert_int_equal(pass(t, &m, t0), SL_CT_NEW);	/* cached now */
	}
	for (int round = 0; round < 64 && ct_table_count(t) > 0; round++)
		ct_age(t, later, 100);
	assert_int_equal(ct_table_count(t), 0);
	for (uint32_t i = 0; i < max; i++) {
		struct sl_pkt_meta m = mk(17, 3, 4, (uint16_t)(1024 + i), 9, 0, 0);
		struct sl_pkt_meta r = mk(17, 4, 3, 9, (uint16_t)(1024 + i), 0, 0);

		assert_int_equal(pass(t, &m, later), SL_CT_NEW);
		assert_int_equal(pass(t, &r, later), SL_CT_ESTABLISHED);
	}
	for (uint32_t i = 0; i < max; i++) {
		struct sl_pkt_meta old = mk(17, 1, 2, (uint16_t)(1024 + i), 9, 0, 0);
		struct sl_pkt_meta m = mk(17, 3, 4, (uint16_t)(1024 + i), 9, 0, 0);
		const struct sl_pkt_meta *v[2] = { &old, &m };
		struct ct_pkt c[2];

		/* old has no flow (the table is full, so it would not get
		 * one), m finds its own established flow */
		assert_int_equal(ct_lookup_burst(t, v, 2, later, c), 2);
		assert_int_equal(c[0].entry, -1);
		assert_null(c[0].e);
		assert_int_equal(c[1].ct, SL_CT_ESTABLISHED);
		assert_int_equal(c[1].entry, ct_find(t, &m.key, later));
		assert_ptr_equal(c[1].e, ct_table_entry(t, c[1].entry));
	}
	ct_table_free(t);
}

static void
test_one_million_flows_fit(void **state)
{
	const uint32_t max = 1u << 20;
	struct ct_table *t = new_table(max);

	(void)state;
	for (uint32_t i = 0; i < max; i++) {
		struct sl_pkt_meta m = mk(17, (uint8_t)(i >> 16), 200,
					  (uint16_t)i, 53, 0, 0);

		assert_int_equal(pass(t, &m, t0), SL_CT_NEW);
	}
	assert_int_equal(ct_table_count(t), max);
	ct_table_free(t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_handshake_data_and_close_walk_every_state),
		cmocka_unit_test(test_tcp_without_flow_only_syn_and_bare_ack_start_one),
		cmocka_unit_test(test_tcp_rst_closes_and_a_new_syn_reopens),
		cmocka_unit_test(test_udp_reply_makes_both_directions_established),
		cmocka_unit_test(test_icmp_echo_reply_needs_the_request),
		cmocka_unit_test(test_flows_expire_after_their_state_timeout),
		cmocka_unit_test(test_full_table_refuses_new_flows_until_ageing_frees_them),
		cmocka_unit_test(test_a_reply_in_the_burst_of_its_new_request_waits_for_the_commit),
		cmocka_unit_test(test_packets_of_known_flows_are_walked_in_one_call),
		cmocka_unit_test(test_positions_reused_after_ageing_never_answer_the_old_flow),
		cmocka_unit_test(test_one_million_flows_fit),
	};

	(void)argc;
	if (test_eal_init(argv[0], "sl_test_ct", "1024") < 0)
		return 1;
	hz = rte_get_tsc_hz();
	t0 = 1000 * hz;
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	test_eal_cleanup();
	return ret;
}
