/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Steer in XDP against the DPDK path, packet by packet through
 * BPF_PROG_TEST_RUN (the program records each packet's rule, steer outcome
 * and target index in sl_last).
 *
 * The oracle is the DPDK code itself: the group tables come from
 * rep_build() (dataplane/rep_build.c) with the same ports present, and the
 * target of a packet from what dp_rep_chunk() does with it -
 * dp_flow_hash(meta.key, seed) of sl_parse_one()'s key and
 * sl_maglev_pick(..., copies 1).  In a network namespace of the test's own:
 *
 *   s0                  the packets' ingress, attached
 *   s1, s2, s3          attached: steer redirects to them
 *   s4                  exists, not attached: steer passes (no_egress)
 *   gone                a policy port with no interface: its targets are
 *                       out of the table, as rep_build() leaves out a
 *                       port absent on the node
 *
 * Five groups: tables of 257, 4099, 65537 and 1,000,003 entries, random
 * weights and seeds per policy, targets down and draining, one group with
 * no live target (no_target).  Every flow goes both ways.
 *
 *  - the tables the loader writes are rep_build()'s, entry for entry;
 *  - for SL_TEST_FLOWS random flows (100,000 by default) the program picks
 *    the DPDK path's target index, redirects to its interface with the
 *    frame untouched, passes when that interface is not attached, drops as
 *    no_target when no target is live;
 *  - sl_steer and the no_target drop counter count what the packets gave
 *    (steer to tunnel targets: test_xdp_encap.c).
 *
 * Needs root (BPF, a network namespace); skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "sluice/maglev.h"

#include "flow_hash.h"
#include "parse.h"
#include "rep.h"
#include "test_eal.h"
#include "test_util.h"
#include "xdp_compile.h"
#include "xdp_loader.h"

static struct sl_xdp *xdp;
static uint64_t rng = 0x5eed5eed1234ull;

/* Policy ports, in the policy's order; "gone" has no interface. */
static const char *const port_names[] = { "s0", "s1", "s2", "s3", "s4",
					  "gone" };
#define N_PORTS 6
static uint32_t ifindex_of[N_PORTS];
static bool attached[N_PORTS];

/* Groups in the policy's order, and the rule (by index) that steers to
 * each; rule 4 accepts, the default steers to group 1. */
#define N_GROUPS 5
static const uint32_t table_size[N_GROUPS] = { 257, 65537, 1000003, 4099,
					       7919 };
enum { R_GA, R_GB, R_GC, R_GD, R_ACCEPT, R_ICMP, R_GE, N_RULES };

/* What the packets gave, for the counter check. */
static uint64_t seen_steered, seen_no_egress, seen_no_target;

/* ---- the policy ---- */

static int
port_index(const char *name)
{
	for (int i = 0; i < N_PORTS; i++)
		if (strcmp(port_names[i], name) == 0)
			return i;
	return -1;
}

static const char *
rnd_state(bool may_fail)
{
	uint64_t r = test_rng(&rng) % 10;

	if (!may_fail || r < 7)
		return "up";
	return r < 9 ? "down" : "draining";
}

/* Targets of group g: port names and fixed states where the test needs
 * them (group 3 has no live target). */
static size_t
group_json(unsigned int g, char *b, size_t cap)
{
	static const char *const members[N_GROUPS][5] = {
		{ "s1", "s2", "s3", NULL },
		{ "s1", "s2", "s3", "s4", NULL },
		{ "s1", "s2", "s3", "gone", NULL },
		{ "s1", "s2", NULL },
		{ "s3", "s2", "s1", "s4", NULL },
	};
	size_t n = (size_t)snprintf(b, cap, "{\"name\": \"g%u\", "
				    "\"table_size\": %u, \"targets\": [", g,
				    table_size[g]);

	for (int i = 0; members[g][i] != NULL; i++) {
		const char *state;

		if (g == 3)
			state = i == 0 ? "draining" : "down";
		else
			state = rnd_state(i > 0);	/* one stays up */
		n += (size_t)snprintf(b + n, cap - n, "%s{\"kind\": \"port\", "
				      "\"port\": \"%s\", \"weight\": %u, "
				      "\"state\": \"%s\"}", i ? ", " : "",
				      members[g][i],
				      g == 0 ? 1u :
				      (unsigned int)(test_rng(&rng) % 100 + 1),
				      state);
	}
	n += (size_t)snprintf(b + n, cap - n, "]}");
	return n;
}

static struct sl_policy *
make_policy(uint64_t seed)
{
	static char buf[8192];
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf),
		"{\"version\": 1, \"settings\": {\"flow_hash_seed\": "
		"\"0x%016llx\", \"conntrack\": {\"enabled\": false}},"
		" \"ports\": [", (unsigned long long)seed);
	for (int i = 0; i < N_PORTS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "%s{\"name\": \"%s\"}", i ? ", " : "",
				      port_names[i]);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "], \"rules\": ["
		"{\"id\": \"ga\", \"proto\": \"udp\", \"dport\": \"1000-1999\", "
		"\"action\": {\"steer\": {\"group\": \"g0\"}}},"
		"{\"id\": \"gb\", \"proto\": \"tcp\", \"dport\": \"2000-2999\", "
		"\"action\": {\"steer\": {\"group\": \"g1\"}}},"
		"{\"id\": \"gc\", \"proto\": \"tcp\", \"dport\": \"3000-3999\", "
		"\"action\": {\"steer\": {\"group\": \"g2\"}}},"
		"{\"id\": \"gd\", \"proto\": \"udp\", \"dport\": \"4000-4999\", "
		"\"action\": {\"steer\": {\"group\": \"g3\"}}},"
		"{\"id\": \"acc\", \"proto\": \"udp\", \"dport\": 5000, "
		"\"action\": \"accept\"},"
		"{\"id\": \"icmp\", \"proto\": \"icmp\", "
		"\"action\": {\"steer\": {\"group\": \"g2\"}}},"
		"{\"id\": \"ge\", \"proto\": \"udp\", \"dport\": \"6000-6999\", "
		"\"action\": {\"steer\": {\"group\": \"g4\"}}}],"
		" \"default\": {\"steer\": {\"group\": \"g1\"}}, \"groups\": [");
	for (unsigned int g = 0; g < N_GROUPS; g++) {
		if (g > 0)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", ");
		n += group_json(g, buf + n, sizeof(buf) - n);
	}
	snprintf(buf + n, sizeof(buf) - n, "]}");
	if (sl_policy_from_json_str(buf, &p, &errs) != 0) {
		sl_policy_errors_print(stderr, "test policy", &errs);
		fail_msg("the test policy does not load:\n%s", buf);
	}
	return p;
}

/* The DPDK path's groups for p: rep_build() with the ports of this host
 * (a DPDK port id for each interface that exists, none for the others). */
static struct rep_gen *
dpdk_groups(const struct sl_policy *p)
{
	uint16_t port_of[N_PORTS];
	char err[256];
	struct rep_gen *r;

	for (size_t i = 0; i < p->n_ports; i++) {
		int k = port_index(p->ports[i].name);

		port_of[i] = k >= 0 && ifindex_of[k] != 0 ? (uint16_t)i
							   : UINT16_MAX;
	}
	r = rep_build(p, port_of, NULL, NULL, err, sizeof(err));
	if (r == NULL)
		fail_msg("rep_build: %s", err);
	return r;
}

static uint32_t *
policy_ifindex(const struct sl_policy *p)
{
	static uint32_t ifx[N_PORTS];

	for (size_t i = 0; i < p->n_ports; i++)
		ifx[i] = ifindex_of[port_index(p->ports[i].name)];
	return ifx;
}

/* ---- frames ---- */

struct flow {
	int family;
	uint8_t proto;		/* 6, 17, 1 (ICMP echo), 58 (ICMPv6 echo) */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	unsigned int rule;	/* R_*, or N_RULES: the default */
};

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The frame of f, or of its reply when rev.  Returns its length. */
static uint16_t
frame(const struct flow *f, int rev, uint8_t *b)
{
	size_t l3 = 14, l4, alen = f->family == 4 ? 4 : 16;
	size_t l4len = f->proto == 6 ? 20 : 8, pay = 12;
	const uint8_t *src = rev ? f->dst : f->src, *dst = rev ? f->src : f->dst;

	memset(b, 0, 256);
	memcpy(b, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	put16(b + 12, f->family == 4 ? 0x0800 : 0x86dd);
	if (f->family == 4) {
		b[l3] = 0x45;
		put16(b + l3 + 2, (unsigned int)(20 + l4len + pay));
		b[l3 + 8] = 64;
		b[l3 + 9] = f->proto;
		memcpy(b + l3 + 12, src, alen);
		memcpy(b + l3 + 16, dst, alen);
		put16(b + l3 + 10, (uint16_t)~test_ref_sum(b + l3, 20, 0));
		l4 = l3 + 20;
	} else {
		b[l3] = 0x60;
		put16(b + l3 + 4, (unsigned int)(l4len + pay));
		b[l3 + 6] = f->proto;
		b[l3 + 7] = 64;
		memcpy(b + l3 + 8, src, alen);
		memcpy(b + l3 + 24, dst, alen);
		l4 = l3 + 40;
	}
	if (f->proto == 1 || f->proto == 58) {
		/* echo request one way, reply the other; the id is the port */
		b[l4] = f->proto == 1 ? (rev ? 0 : 8) : (rev ? 129 : 128);
		put16(b + l4 + 4, f->sport);
	} else {
		put16(b + l4, rev ? f->dport : f->sport);
		put16(b + l4 + 2, rev ? f->sport : f->dport);
		if (f->proto == 6) {
			b[l4 + 12] = 0x50;
			b[l4 + 13] = 0x10;	/* ACK */
		} else {
			put16(b + l4 + 4, (unsigned int)(l4len + pay));
		}
	}
	return (uint16_t)(l4 + l4len + pay);
}

/* A random flow of a random kind; rule says which rule it meets. */
static void
random_flow(struct flow *f)
{
	static const struct { uint8_t proto; uint16_t lo, n; unsigned int rule; }
	kinds[] = {
		{ 17, 1000, 1000, R_GA }, { 6, 2000, 1000, R_GB },
		{ 6, 3000, 1000, R_GC }, { 17, 4000, 1000, R_GD },
		{ 17, 5000, 1, R_ACCEPT }, { 1, 0, 0, R_ICMP },
		{ 17, 6000, 1000, R_GE }, { 17, 7000, 50000, N_RULES },
		{ 6, 7000, 50000, N_RULES },
	};
	unsigned int k = (unsigned int)(test_rng(&rng) %
					(sizeof(kinds) / sizeof(kinds[0])));
	uint64_t a = test_rng(&rng), b = test_rng(&rng);

	memset(f, 0, sizeof(*f));
	f->family = test_rng(&rng) % 3 == 0 ? 6 : 4;
	f->proto = kinds[k].proto;
	f->rule = kinds[k].rule;
	if (f->proto == 1) {
		if (f->family == 6) {
			/* ICMPv6 is not the icmp rule's: the default's */
			f->proto = 58;
			f->rule = N_RULES;
		}
	}
	memcpy(f->src, &a, 8);
	memcpy(f->src + 8, &b, 8);
	a = test_rng(&rng);
	b = test_rng(&rng);
	memcpy(f->dst, &a, 8);
	memcpy(f->dst + 8, &b, 8);
	if (f->family == 4) {
		f->src[0] = 10;		/* no martians, no multicast */
		f->dst[0] = 10;
	} else {
		f->src[0] = 0xfd;
		f->dst[0] = 0xfd;
	}
	f->sport = (uint16_t)(test_rng(&rng) % 64512 + 1024);
	f->dport = kinds[k].n ? (uint16_t)(kinds[k].lo +
					   test_rng(&rng) % kinds[k].n) : 0;
	if (f->proto == 1 || f->proto == 58)
		f->dport = f->sport;	/* the parser's ports for echo */
}

/* ---- the differential check ---- */

struct expect {
	uint32_t action;	/* XDP_* */
	uint32_t rule;
	int target;		/* -1: none */
	uint8_t steer;		/* SL_XDP_ST_* or SL_XDP_RT_NONE */
};

/* What the DPDK path does with the frame, under policy p. */
static void
dpdk_expect(const struct sl_policy *p, const struct rep_gen *rep,
	    const uint8_t *pkt, uint16_t len, uint32_t rule, struct expect *e)
{
	const struct sl_action *a = rule < p->n_rules ? &p->rules[rule].action
						      : &p->default_action;
	const struct rep_group *g;
	struct sl_pkt_meta m;
	uint16_t pick[1];
	int k;

	sl_parse_one(pkt, len, &m);
	assert_int_equal(m.drop_reason, 0);
	e->rule = rule;
	e->target = -1;
	e->steer = SL_XDP_RT_NONE;
	if (a->type != SL_ACTION_STEER) {
		e->action = XDP_PASS;
		return;
	}
	g = &rep->groups[sl_policy_find_group(p, a->group)];
	k = sl_maglev_pick(g->table, g->size, g->n_live,
			   dp_flow_hash(&m.key, rep->seed), 1, pick);
	if (k == 0) {
		e->action = XDP_DROP;	/* SL_DROP_NO_TARGET */
		return;
	}
	e->target = pick[0];
	/* rep_build's port is the policy port index here (dpdk_groups) */
	if (attached[port_index(p->ports[g->targets[pick[0]].port].name)]) {
		e->action = XDP_REDIRECT;
		e->steer = SL_XDP_ST_STEERED;
	} else {
		e->action = XDP_PASS;
		e->steer = SL_XDP_ST_NO_EGRESS;
	}
}

/* The rule a frame of f meets in direction rev. */
static uint32_t
rule_of(const struct flow *f, int rev)
{
	if (!rev || f->proto == 1 || f->proto == 58)
		return f->rule;
	/* the reply's dport is the flow's sport (>= 1024, random): it meets
	 * a dport rule only by chance */
	for (unsigned int r = 0; r < N_RULES; r++) {
		static const uint16_t lo[N_RULES] = { 1000, 2000, 3000, 4000,
						      5000, 0, 6000 };
		static const uint16_t hi[N_RULES] = { 1999, 2999, 3999, 4999,
						      5000, 0, 6999 };
		static const uint8_t pr[N_RULES] = { 17, 6, 6, 17, 17, 1, 17 };

		if (pr[r] == f->proto && f->sport >= lo[r] && f->sport <= hi[r])
			return r;
	}
	return N_RULES;
}

static void
check_packet(const struct sl_policy *p, const struct rep_gen *rep,
	     const struct flow *f, int rev)
{
	uint8_t pkt[256], out[512];
	uint16_t len = frame(f, rev, pkt);
	uint32_t out_len, rule = rule_of(f, rev);
	struct sl_xdp_test_result r;
	struct expect e;
	int ret;

	dpdk_expect(p, rep, pkt, len, rule == N_RULES ? (uint32_t)p->n_rules
						      : rule, &e);
	ret = sl_xdp_test_run_frame(xdp, pkt, len, ifindex_of[0], out,
				    sizeof(out), &out_len, &r);
	if (ret != 0)
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(-ret));
	if (r.v.rule != e.rule || r.xdp_action != e.action ||
	    (e.target >= 0 && r.v.target != e.target) ||
	    (e.target < 0 && r.v.target != SL_XDP_NO_TARGET) ||
	    r.v.steer != e.steer ||
	    (e.action == XDP_DROP && r.v.reason != SL_DROP_NO_TARGET))
		fail_msg("family %d proto %u %u -> %u%s: XDP rule %u action %u "
			 "target %u steer %u reason %u; DPDK rule %u action %u "
			 "target %d steer %u", f->family, f->proto, f->sport,
			 f->dport, rev ? " (reply)" : "", r.v.rule,
			 r.xdp_action, r.v.target, r.v.steer, r.v.reason,
			 e.rule, e.action, e.target, e.steer);
	/* steer sends the frame as it came */
	assert_int_equal(out_len, len);
	assert_memory_equal(out, pkt, len);
	if (e.steer == SL_XDP_ST_STEERED)
		seen_steered++;
	else if (e.steer == SL_XDP_ST_NO_EGRESS)
		seen_no_egress++;
	else if (e.action == XDP_DROP)
		seen_no_target++;
}

/* The tables the loader writes are rep_build()'s, entry for entry. */
static void
check_tables(const struct sl_policy *p, const struct rep_gen *rep)
{
	struct sl_xdp_image *img;
	char err[256];

	if (sl_xdp_compile(p, policy_ifindex(p), &img, err, sizeof(err)) != 0)
		fail_msg("compile: %s", err);
	assert_int_equal(img->n_groups, N_GROUPS);
	for (uint32_t k = 0; k < img->n_groups; k++) {
		const struct rep_group *g = &rep->groups[img->group_of[k]];
		const struct sl_xdp_group *x = &img->groups[k];
		const uint16_t *t = img->mag[x->chunk].e;

		assert_int_equal(x->size, g->size);
		assert_int_equal(x->n_live, g->n_live);
		if (memcmp(t, g->table, sizeof(*t) * g->size) != 0)
			fail_msg("group %d: the XDP table differs from "
				 "rep_build's", img->group_of[k]);
		for (uint32_t e = g->size; e % SL_XDP_MAG_CHUNK; e++)
			assert_int_equal(t[e], SL_XDP_MAG_NONE);
	}
	sl_xdp_image_free(img);
}

static void
test_xdp_picks_the_dpdk_target_for_every_flow(void **state)
{
	const char *env = getenv("SL_TEST_FLOWS");
	unsigned long flows = env ? strtoul(env, NULL, 10) : 100000;
	const unsigned int policies = 8;
	struct timespec t0, t1;
	char err[512];

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int pol = 0; pol < policies; pol++) {
		uint64_t seed = test_rng(&rng);
		struct sl_policy *p = make_policy(pol == 0 ? 0 : seed);
		struct rep_gen *rep = dpdk_groups(p);
		unsigned long n = flows / policies + (pol < flows % policies);

		check_tables(p, rep);
		if (sl_xdp_apply(xdp, p, NULL, err, sizeof(err)) != 0)
			fail_msg("apply: %s", err);
		for (unsigned long i = 0; i < n; i++) {
			struct flow f;

			random_flow(&f);
			check_packet(p, rep, &f, 0);
			check_packet(p, rep, &f, 1);
		}
		rep_free(rep);
		sl_policy_free(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %lu flows both ways under %u policies: %llu steered, "
	       "%llu passed (no_egress), %llu no_target, 0 mismatches, "
	       "%.1f s\n", flows, policies,
	       (unsigned long long)seen_steered,
	       (unsigned long long)seen_no_egress,
	       (unsigned long long)seen_no_target,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_true(seen_steered > 0 && seen_no_egress > 0 && seen_no_target > 0);
}

static void
test_steer_counters_count_what_the_packets_gave(void **state)
{
	struct sl_xdp_stats *s;

	(void)state;
	assert_int_equal(sl_xdp_stats_read(xdp, &s), 0);
	assert_int_equal(s->steer[SL_XDP_ST_STEERED].packets, seen_steered);
	assert_int_equal(s->steer[SL_XDP_ST_NO_EGRESS].packets, seen_no_egress);
	assert_int_equal(s->drops[SL_DROP_NO_TARGET].packets, seen_no_target);
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].ifindex == ifindex_of[0])
			assert_int_equal(s->ports[i].steered, seen_steered);
	sl_xdp_stats_free(s);
}

/* ---- set-up ---- */

static int
sh(const char *cmd)
{
	int ret = system(cmd);

	if (ret != 0)
		fprintf(stderr, "failed (%d): %s\n", ret, cmd);
	return ret;
}

static int
setup_netns(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		/* The peers stay silent (no IPv6 router solicitations or MLD
		 * reports into the attached program, which would steer them
		 * and overwrite sl_last): only the test's packets count. */
		"for d in s0 s1 s2 s3 s4; do ip link add $d type veth peer name "
		"${d}p && sysctl -qw net.ipv6.conf.${d}p.disable_ipv6=1 && "
		"ip link set $d up && ip link set ${d}p up || exit 1; done",
	};

	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (sh(cmds[i]) != 0)
			return -1;
	for (int i = 0; i < N_PORTS; i++)
		ifindex_of[i] = if_nametoindex(port_names[i]);
	return ifindex_of[0] && ifindex_of[4] && !ifindex_of[5] ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xdp_picks_the_dpdk_target_for_every_flow),
		cmocka_unit_test(test_steer_counters_count_what_the_packets_gave),
	};
	struct sl_xdp_opts o = { .last_verdict = true };
	const char *seed = getenv("SL_TEST_SEED");
	char err[512];
	int ret;

	(void)argc;
	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN and netns need root\n");
		return 77;
	}
	if (seed != NULL)
		rng = strtoull(seed, NULL, 0) | 1;
	printf("# SL_TEST_SEED=%#llx\n", (unsigned long long)rng);
	if (setup_netns() != 0) {
		fprintf(stderr, "cannot set up the test namespace\n");
		return 1;
	}
	if (test_eal_init(argv[0], "sl_test_xdp_steer", "512") < 0)
		return 1;
	if (sl_xdp_open(&o, &xdp, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	for (int i = 0; i < 4; i++) {	/* s0..s3; s4 stays detached */
		if (sl_xdp_attach(xdp, port_names[i], false, NULL, err,
				  sizeof(err)) != 0) {
			fprintf(stderr, "attach %s: %s\n", port_names[i], err);
			return 1;
		}
		attached[i] = true;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	sl_xdp_close(xdp);
	test_eal_cleanup();
	return ret;
}
