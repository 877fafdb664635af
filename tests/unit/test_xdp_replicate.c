/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replicate in XDP against the DPDK path, packet by packet through
 * BPF_PROG_TEST_RUN.  For a replicated packet the XDP program passes the
 * frame untouched and writes its decision into the XDP metadata (struct
 * sl_xdp_rep_meta: set, generation, replica table, entry, flow hash), which
 * BPF_PROG_TEST_RUN returns in front of the frame; the TC program
 * (sluice_tc_rep) then clones the frame to the targets of that replica
 * table entry (tests/system/test_xdp_replicate.py runs it on veths).
 *
 * The oracle is the DPDK code itself: the group tables come from
 * rep_build() (dataplane/rep_build.c) with the same ports present, and the
 * copies of a packet from what dp_rep_chunk() does with it -
 * sl_maglev_pick(table, size, n_live, dp_flow_hash(meta.key, seed),
 * copies) with meta from sl_parse_one().  In a network namespace of the
 * test's own:
 *
 *   s0                  the packets' ingress, attached
 *   s1, s2, s3          attached
 *   s4                  exists, not attached: still a target (TC clones to
 *                       any interface)
 *   gone                a policy port with no interface: its targets are
 *                       out of the table, as rep_build() leaves out a port
 *                       absent on the node
 *
 * It proves:
 *  - every entry of every replica table the loader writes is the target
 *    list sl_maglev_pick(..., copies) gives over rep_build()'s table for a
 *    hash at that entry, in order (tables of 257 to 1,000,003 entries,
 *    copies 1 to 5, random weights from 1 to 65535, targets down and
 *    draining, a group with no live target);
 *  - for SL_TEST_FLOWS random flows (40,000 by default), both ways, the
 *    program passes the frame unchanged, counts it `replicated`, and hands
 *    over the entry flow_hash % size of the replica table of the rule's
 *    (group, copies), whose targets are the DPDK path's copies for the
 *    packet; nothing when no target is live;
 *  - sl_rep's short and sl_rt's replicated count what the packets gave;
 *  - a group with tunnel targets compiles: each tunnel target of the
 *    replica table names an sl_tun entry built for it (its bytes are
 *    test_xdp_encap.c's, the copies tests/system/test_xdp_reptun.py's);
 *    replicate to a cluster group with no member yet is accepted (it has
 *    no live target; sluiced writes the members' tunnels).
 *
 * Needs root (BPF, a network namespace); skipped otherwise.
 */
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
static uint64_t rng = 0x7e9ca7e5eedull;

static const char *const port_names[] = { "s0", "s1", "s2", "s3", "s4",
					  "gone" };
#define N_PORTS 6
static uint32_t ifindex_of[N_PORTS];

#define N_GROUPS 5
static const uint32_t table_size[N_GROUPS] = { 257, 65537, 1000003, 4099,
					       7919 };
/* Rules by index; the default replicates to g1 too. */
enum { R_A, R_B, R_C, R_D, R_ACCEPT, R_ICMP, R_E, R_F, N_RULES };

/* What the packets gave, for the counter check. */
static uint64_t seen_replicated, seen_short, seen_handed, seen_copies;

static int
port_index(const char *name)
{
	for (int i = 0; i < N_PORTS; i++)
		if (strcmp(port_names[i], name) == 0)
			return i;
	return -1;
}

/* ---- the policy ---- */

static const char *
rnd_state(bool may_fail)
{
	uint64_t r = test_rng(&rng) % 10;

	if (!may_fail || r < 7)
		return "up";
	return r < 9 ? "down" : "draining";
}

/* Weights 1..100; in group g4 (7,919 entries) sometimes extreme: a
 * target with a share of a few entries is what makes sl_maglev_pick's walk
 * long (and checking every entry against it slow in the large tables). */
static unsigned int
rnd_weight(unsigned int g)
{
	uint64_t r = test_rng(&rng);

	if (g == 4 && r % 4 == 0)
		return r % 8 == 0 ? 1 : 65535;
	return (unsigned int)(r % 100 + 1);
}

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
				      g == 0 ? 1u : rnd_weight(g), state);
	}
	n += (size_t)snprintf(b + n, cap - n, "]}");
	return n;
}

static struct sl_policy *
make_policy(uint64_t seed, uint64_t generation)
{
	static char buf[8192];
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	unsigned int ca = (unsigned int)(test_rng(&rng) % 3 + 1);
	unsigned int cb = (unsigned int)(test_rng(&rng) % 5 + 1);
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf),
		"{\"version\": 1, \"generation\": %llu, \"settings\": "
		"{\"flow_hash_seed\": \"0x%016llx\", \"conntrack\": "
		"{\"enabled\": false}}, \"ports\": [",
		(unsigned long long)generation, (unsigned long long)seed);
	for (int i = 0; i < N_PORTS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "%s{\"name\": \"%s\"}", i ? ", " : "",
				      port_names[i]);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "], \"rules\": ["
		"{\"id\": \"ra\", \"proto\": \"udp\", \"dport\": \"1000-1999\", "
		"\"action\": {\"replicate\": {\"group\": \"g0\", \"copies\": %u}}},"
		"{\"id\": \"rb\", \"proto\": \"tcp\", \"dport\": \"2000-2999\", "
		"\"action\": {\"replicate\": {\"group\": \"g1\", \"copies\": %u}}},"
		"{\"id\": \"rc\", \"proto\": \"tcp\", \"dport\": \"3000-3999\", "
		"\"action\": {\"replicate\": {\"group\": \"g2\", \"copies\": 2}}},"
		"{\"id\": \"rd\", \"proto\": \"udp\", \"dport\": \"4000-4999\", "
		"\"action\": {\"replicate\": {\"group\": \"g3\", \"copies\": 2}}},"
		"{\"id\": \"acc\", \"proto\": \"udp\", \"dport\": 5000, "
		"\"action\": \"accept\"},"
		"{\"id\": \"icmp\", \"proto\": \"icmp\", "
		"\"action\": {\"replicate\": {\"group\": \"g2\", \"copies\": 3}}},"
		"{\"id\": \"re\", \"proto\": \"udp\", \"dport\": \"6000-6999\", "
		"\"action\": {\"replicate\": {\"group\": \"g4\", \"copies\": 4}}},"
		"{\"id\": \"rf\", \"proto\": \"udp\", \"dport\": \"8000-8999\", "
		"\"action\": {\"replicate\": {\"group\": \"g0\", \"copies\": %u}}}],"
		" \"default\": {\"replicate\": {\"group\": \"g1\", \"copies\": 2}},"
		" \"groups\": [", ca, cb, ca);
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

/* The DPDK path's groups for p: rep_build() with the ports of this host. */
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

/* ---- frames (the shapes of test_xdp_steer.c) ---- */

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

static const struct { uint8_t proto; uint16_t lo, n; unsigned int rule; }
kinds[] = {
	{ 17, 1000, 1000, R_A }, { 6, 2000, 1000, R_B },
	{ 6, 3000, 1000, R_C }, { 17, 4000, 1000, R_D },
	{ 17, 5000, 1, R_ACCEPT }, { 1, 0, 0, R_ICMP },
	{ 17, 6000, 1000, R_E }, { 17, 8000, 1000, R_F },
	{ 17, 10000, 50000, N_RULES }, { 6, 10000, 50000, N_RULES },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static void
random_flow(struct flow *f)
{
	unsigned int k = (unsigned int)(test_rng(&rng) % N_KINDS);
	uint64_t a = test_rng(&rng), b = test_rng(&rng);

	memset(f, 0, sizeof(*f));
	f->family = test_rng(&rng) % 3 == 0 ? 6 : 4;
	f->proto = kinds[k].proto;
	f->rule = kinds[k].rule;
	if (f->proto == 1 && f->family == 6) {
		f->proto = 58;		/* not the icmp rule's: the default's */
		f->rule = N_RULES;
	}
	memcpy(f->src, &a, 8);
	memcpy(f->src + 8, &b, 8);
	a = test_rng(&rng);
	b = test_rng(&rng);
	memcpy(f->dst, &a, 8);
	memcpy(f->dst + 8, &b, 8);
	f->src[0] = f->dst[0] = f->family == 4 ? 10 : 0xfd;
	f->sport = (uint16_t)(test_rng(&rng) % 64512 + 1024);
	f->dport = kinds[k].n ? (uint16_t)(kinds[k].lo +
					   test_rng(&rng) % kinds[k].n) : 0;
	if (f->proto == 1 || f->proto == 58)
		f->dport = f->sport;	/* the parser's ports for echo */
}

/* The rule a frame of f meets in direction rev. */
static uint32_t
rule_of(const struct flow *f, int rev)
{
	if (!rev || f->proto == 1 || f->proto == 58)
		return f->rule;
	/* the reply's dport is the flow's sport: a dport rule only by chance */
	for (unsigned int k = 0; k < N_KINDS; k++)
		if (kinds[k].rule != N_RULES && kinds[k].proto == f->proto &&
		    kinds[k].n != 0 && f->sport >= kinds[k].lo &&
		    f->sport < kinds[k].lo + kinds[k].n)
			return kinds[k].rule;
	return N_RULES;
}

/* ---- the checks ---- */

/* Every entry of every replica table is sl_maglev_pick()'s list over
 * rep_build()'s table for a hash at that entry (tables above 65,537
 * entries: 20,000 random entries, to keep the test's time). */
static void
check_replica_tables(const struct sl_policy *p, const struct rep_gen *rep,
		     const struct sl_xdp_image *img)
{
	uint16_t pick[SL_POLICY_COPIES_MAX];

	assert_true(img->n_rgroups >= 6);	/* ra/rf share one */
	for (uint32_t k = 0; k < img->n_rgroups; k++) {
		const struct rep_group *g = &rep->groups[img->rgroup_of[k]];
		const struct sl_xdp_rep_group *x = &img->rgroups[k];
		const uint16_t *e = img->rtab[x->chunk].e;

		assert_int_equal(x->size, g->size);
		assert_int_equal(x->n_live, g->n_live);
		assert_int_equal(x->want, x->copies < g->n_live ? x->copies
							       : g->n_live);
		uint32_t checks = g->size <= 65537 ? g->size : 20000;

		for (uint32_t i = 0; i < checks; i++) {
			uint32_t pos = g->size <= 65537 ? i :
				(uint32_t)(test_rng(&rng) % g->size);
			int n;

			n = sl_maglev_pick(g->table, g->size, g->n_live,
					       pos, x->copies, pick);

			assert_int_equal(n, x->want);
			if (n > 0 && memcmp(&e[(size_t)pos * n], pick,
					    sizeof(*pick) * (size_t)n) != 0)
				fail_msg("group %s copies %u entry %u: the "
					 "replica table differs from "
					 "sl_maglev_pick", p->groups[
					 img->rgroup_of[k]].name, x->copies,
					 pos);
		}
		for (uint32_t t = 0; t < p->groups[img->rgroup_of[k]].n_targets;
		     t++) {
			int port = sl_policy_find_port(p,
				p->groups[img->rgroup_of[k]].targets[t].port);

			assert_int_equal(x->ifindex[t], policy_ifindex(p)[port]);
		}
	}
	/* ra and rf replicate to the same pair: one table */
	assert_int_equal(img->rules[R_A].group, img->rules[R_F].group);
}

static void
check_packet(const struct sl_policy *p, const struct rep_gen *rep,
	     const struct sl_xdp_image *img, const struct flow *f, int rev,
	     int *set_seen)
{
	uint8_t pkt[256], out[512];
	uint16_t len = frame(f, rev, pkt);
	uint32_t out_len, rule = rule_of(f, rev);
	const struct sl_action *a;
	struct sl_xdp_test_result r;
	struct sl_xdp_rep_meta m;
	uint16_t pick[SL_POLICY_COPIES_MAX];
	const struct rep_group *g;
	const struct sl_xdp_rep_group *x;
	struct sl_pkt_meta pm;
	uint64_t hash;
	int k, ret;

	if (rule == N_RULES)
		rule = (uint32_t)p->n_rules;
	a = rule < p->n_rules ? &p->rules[rule].action : &p->default_action;
	ret = sl_xdp_test_run_frame(xdp, pkt, len, ifindex_of[0], out,
				    sizeof(out), &out_len, &r);
	if (ret != 0)
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(-ret));
	assert_int_equal(r.xdp_action, XDP_PASS);
	assert_int_equal(r.v.rule, rule);
	if (a->type != SL_ACTION_REPLICATE) {
		assert_int_equal(r.v.route, SL_XDP_RT_OFF);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, pkt, len);
		return;
	}
	seen_replicated++;
	assert_int_equal(r.v.route, SL_XDP_RT_REPLICATED);

	/* the DPDK path: dp_rep_chunk() */
	sl_parse_one(pkt, len, &pm);
	assert_int_equal(pm.drop_reason, 0);
	g = &rep->groups[sl_policy_find_group(p, a->group)];
	hash = dp_flow_hash(&pm.key, rep->seed);
	k = sl_maglev_pick(g->table, g->size, g->n_live, hash, a->copies, pick);
	if (k < a->copies)
		seen_short++;
	if (k == 0) {
		/* no live target: nothing handed over */
		assert_int_equal(out_len, len);
		assert_memory_equal(out, pkt, len);
		return;
	}
	/* the metadata, then the frame as it came */
	if (out_len != len + sizeof(m))
		fail_msg("family %d proto %u %u -> %u%s: %u bytes out of "
			 "%u, no metadata", f->family, f->proto, f->sport,
			 f->dport, rev ? " (reply)" : "", out_len, len);
	assert_memory_equal(out + sizeof(m), pkt, len);
	memcpy(&m, out, sizeof(m));
	assert_int_equal(m.magic, SL_XDP_REP_MAGIC);
	assert_int_equal(m.gen, (uint32_t)p->generation);
	assert_true(m.set <= 1);
	if (*set_seen < 0)
		*set_seen = m.set;
	assert_int_equal(m.set, *set_seen);	/* one set per policy */
	assert_int_equal(m.rtab, img->rules[rule].group);
	assert_true(m.rtab < img->n_rgroups);
	x = &img->rgroups[m.rtab];
	assert_int_equal(img->rgroup_of[m.rtab],
			 sl_policy_find_group(p, a->group));
	assert_int_equal(x->copies, a->copies);
	assert_int_equal(m.pos, hash % g->size);
	/* the flow hash, for a tunnel copy's UDP port and flow label */
	assert_true(((uint64_t)m.hash_hi << 32 | m.hash_lo) == hash);
	assert_int_equal(x->want, k);
	/* what sluice_tc_rep reads: entry pos of that replica table */
	for (int c = 0; c < k; c++) {
		size_t e = (size_t)m.pos * x->want + (size_t)c;
		uint16_t t = img->rtab[x->chunk + e / SL_XDP_MAG_CHUNK]
				     .e[e % SL_XDP_MAG_CHUNK];

		if (t != pick[c])
			fail_msg("family %d proto %u %u -> %u%s: copy %d goes "
				 "to target %u in XDP, %u in the DPDK path",
				 f->family, f->proto, f->sport, f->dport,
				 rev ? " (reply)" : "", c, t, pick[c]);
	}
	seen_handed++;
	seen_copies += (uint64_t)k;
}

static void
test_replica_tables_and_handed_entries_are_the_dpdk_copies(void **state)
{
	const char *env = getenv("SL_TEST_FLOWS");
	unsigned long flows = env ? strtoul(env, NULL, 10) : 40000;
	const unsigned int policies = 6;
	struct timespec t0, t1;
	char err[512];
	int prev_set = -1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int pol = 0; pol < policies; pol++) {
		uint64_t seed = test_rng(&rng);
		struct sl_policy *p = make_policy(pol == 0 ? 0 : seed,
						  (1ull << 32) * pol + pol + 1);
		struct rep_gen *rep = dpdk_groups(p);
		unsigned long n = flows / policies + (pol < flows % policies);
		struct sl_xdp_image *img;
		int set = -1;

		if (sl_xdp_compile(p, policy_ifindex(p), &img, err,
				   sizeof(err)) != 0)
			fail_msg("compile: %s", err);
		check_replica_tables(p, rep, img);
		if (sl_xdp_apply(xdp, p, NULL, err, sizeof(err)) != 0)
			fail_msg("apply: %s", err);
		for (unsigned long i = 0; i < n; i++) {
			struct flow f;

			random_flow(&f);
			check_packet(p, rep, img, &f, 0, &set);
			check_packet(p, rep, img, &f, 1, &set);
		}
		/* each apply switches to the other set */
		assert_true(set != prev_set);
		prev_set = set;
		sl_xdp_image_free(img);
		rep_free(rep);
		sl_policy_free(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %lu flows both ways under %u policies: %llu replicated "
	       "(%llu handed over for %llu copies, %llu short), 0 "
	       "mismatches, %.1f s\n", flows, policies,
	       (unsigned long long)seen_replicated,
	       (unsigned long long)seen_handed,
	       (unsigned long long)seen_copies,
	       (unsigned long long)seen_short,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_true(seen_handed > 0 && seen_short > 0);
}

static void
test_replicate_counters_count_what_the_packets_gave(void **state)
{
	struct sl_xdp_stats *s;

	(void)state;
	assert_int_equal(sl_xdp_stats_read(xdp, &s), 0);
	assert_int_equal(s->route[SL_XDP_RT_REPLICATED].packets,
			 seen_replicated);
	assert_int_equal(s->rep[SL_XDP_REP_SHORT].packets, seen_short);
	/* BPF_PROG_TEST_RUN runs no TC program: no copy made or failed */
	assert_int_equal(s->rep[SL_XDP_REP_COPIES].packets, 0);
	assert_int_equal(s->rep[SL_XDP_REP_FAILED].packets, 0);
	sl_xdp_stats_free(s);
}

/* A replica table with a target of one entry in 1,000,003: built in one
 * pass, each entry still sl_maglev_pick()'s (its walk from most entries
 * crosses most of the table). */
static unsigned int
count_of(const uint16_t *table, uint32_t size, uint16_t t)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < size; i++)
		n += table[i] == t;
	return n;
}

static void
test_replica_table_of_a_tiny_share_is_sl_maglev_picks(void **state)
{
	static const char *const ids[] = { "port:a", "port:b", "port:c" };
	const uint32_t size = 1000003;
	struct sl_maglev_target t[3];
	uint16_t *table = malloc(sizeof(*table) * size);
	uint16_t *out = malloc(sizeof(*out) * size * 3), pick[3];
	struct timespec t0, t1;
	int live;

	(void)state;
	assert_non_null(table);
	assert_non_null(out);
	for (int i = 0; i < 3; i++)
		t[i] = (struct sl_maglev_target){ ids[i], strlen(ids[i]),
						  i == 2 ? 1 : 65535,
						  SL_TARGET_UP };
	live = sl_maglev_build(t, 3, size, 7, table);
	assert_int_equal(live, 3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sl_xdp_replica_table(table, size, 3, out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# replica table of %u entries, copies 3, a target of %u "
	       "entries: %.3f s\n", size, count_of(table, size, 2),
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* sl_maglev_pick's walk is long here: check a sample of entries */
	for (uint32_t i = 0; i < 2000; i++) {
		uint32_t pos = (uint32_t)(test_rng(&rng) % size);

		assert_int_equal(sl_maglev_pick(table, size, 3, pos, 3, pick), 3);
		assert_memory_equal(&out[(size_t)pos * 3], pick, sizeof(pick));
	}
	free(table);
	free(out);
}

/* ---- cluster groups ---- */

static void
test_replicate_to_a_cluster_group_with_no_member_yet_is_accepted(
	void **state)
{
	char err[512] = "";
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;

	(void)state;
	/* The operator's document: sluiced derives the targets from the
	 * members (test_xdp_encap.c compiles a derived one). */
	if (sl_policy_from_json_str("{\"version\": 1, \"rules\": [{\"proto\":"
		" \"udp\", \"action\": {\"replicate\": {\"group\": \"c\","
		" \"copies\": 1}}}], \"groups\": [{\"name\": \"c\","
		" \"cluster\": {\"kind\": \"vxlan\", \"vni\": 42}}]}", &p,
		&errs) != 0) {
		sl_policy_errors_print(stderr, "cluster policy", &errs);
		fail_msg("the policy does not load");
	}
	if (sl_xdp_policy_supported(p, err, sizeof(err)) != 0)
		fail_msg("replicate to a cluster group refused: %s", err);
	sl_policy_free(p);
}

/*
 * Replicate to a group of a port and tunnels compiles (it was refused
 * before sluice_tc_rep encapsulated): the replica table's entry of each
 * tunnel target is SL_XDP_TUN | k, and sl_tun[k] is that tunnel's
 * (kind, family, addresses, VNI or key in the template).
 */
static void
test_replicate_to_tunnel_targets_names_their_compiled_tunnels(void **state)
{
	struct sl_policy_errors errs;
	struct sl_xdp_image *img = NULL;
	struct sl_policy *p = NULL;
	const struct sl_xdp_rep_group *x;
	const struct sl_xdp_tunnel *t;
	char err[512] = "";
	uint32_t k;

	(void)state;
	if (sl_policy_from_json_str("{\"version\": 1, \"ports\":"
		" [{\"name\": \"s1\"}], \"rules\": [{\"proto\": \"udp\","
		" \"action\": {\"replicate\": {\"group\": \"g\", \"copies\":"
		" 3}}}], \"groups\": [{\"name\": \"g\", \"targets\":"
		" [{\"kind\": \"port\", \"port\": \"s1\"},"
		" {\"kind\": \"vxlan\", \"vni\": 7, \"remote\": \"192.0.2.9\","
		" \"local\": \"192.0.2.1\"},"
		" {\"kind\": \"gre\", \"key\": 99, \"remote\": \"2001:db8::9\","
		" \"local\": \"2001:db8::1\"}]}]}", &p, &errs) != 0) {
		sl_policy_errors_print(stderr, "tunnel policy", &errs);
		fail_msg("the policy does not load");
	}
	if (sl_xdp_compile(p, policy_ifindex(p), &img, err, sizeof(err)) != 0)
		fail_msg("compile: %s", err);
	assert_int_equal(img->n_rgroups, 1);
	x = &img->rgroups[0];
	assert_int_equal(x->want, 3);
	assert_int_equal(x->ifindex[0], ifindex_of[1]);
	assert_int_equal(img->n_tun, 2);
	for (int i = 1; i <= 2; i++) {
		assert_true(x->ifindex[i] & SL_XDP_TUN);
		k = x->ifindex[i] & ~SL_XDP_TUN;
		assert_true(k < img->n_tun);
		t = &img->tun[k];
		assert_int_equal(t->kind, i == 1 ? SL_TARGET_VXLAN
						 : SL_TARGET_GRE);
		assert_int_equal(t->family, i == 1 ? 4 : 6);
	}
	t = &img->tun[x->ifindex[1] & ~SL_XDP_TUN];
	assert_int_equal(t->hdr_len, 14 + 20 + 8 + 8);
	assert_int_equal(t->udp_dport, 4789);
	assert_int_equal(t->tmpl[14 + 20 + 8 + 6], 7);	/* VNI's low byte */
	t = &img->tun[x->ifindex[2] & ~SL_XDP_TUN];
	assert_int_equal(t->hdr_len, 14 + 40 + 8);
	assert_int_equal(t->tmpl[14 + 40 + 7], 99);	/* key's low byte */
	sl_xdp_image_free(img);
	sl_policy_free(p);
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
		/* silent peers: only the test's packets reach the program */
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
		cmocka_unit_test(test_replica_tables_and_handed_entries_are_the_dpdk_copies),
		cmocka_unit_test(test_replicate_counters_count_what_the_packets_gave),
		cmocka_unit_test(test_replica_table_of_a_tiny_share_is_sl_maglev_picks),
		cmocka_unit_test(test_replicate_to_a_cluster_group_with_no_member_yet_is_accepted),
		cmocka_unit_test(test_replicate_to_tunnel_targets_names_their_compiled_tunnels),
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
	if (test_eal_init(argv[0], "sl_test_xdp_rep", "512") < 0)
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
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	sl_xdp_close(xdp);
	test_eal_cleanup();
	return ret;
}
