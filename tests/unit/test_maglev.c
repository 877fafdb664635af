/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Maglev table builder and the replica pick (lib/maglev.c,
 * include/sluice/maglev.h): balance with and without weights, disruption
 * when a target leaves or comes back, determinism across builds and list
 * orders, the R-copies walk, and the errors.  Flows are random 5-tuples
 * hashed the way the datapaths hash them: sl_flow_key_make + sl_flow_hash.
 * The measured figures are printed; build times are printed, not asserted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <xxhash.h>

#include "sluice/flow_key.h"
#include "sluice/maglev.h"

#include "test_util.h"

#define M		SL_POLICY_MAGLEV_DEFAULT
#define MG_SEED		0x5106ce5eedull
#define FLOW_SEED	0x9e3779b97f4a7c15ull
#define N_FLOWS		100000		/* disruption, copies */
#define N_FLOWS_BIG	1000000		/* balance, 1 % shares */
#define MAX_T		SL_POLICY_TARGETS_MAX

/* Hashes of random flows; checks that need fewer take the first N_FLOWS. */
static uint64_t flow_hash[N_FLOWS_BIG];

/* Identities: target number k is "vxlan:198.51.<k/256>.<k%256>:100". */
static char ident[MAX_T][40];

static uint16_t tab_a[M], tab_b[M], tab_c[M];

/* A random 5-tuple, one in four IPv6; returns its key for both directions. */
static void
random_flow(uint64_t *s, struct sl_flow_key *fwd, struct sl_flow_key *rev)
{
	uint8_t src[16] = { 0 }, dst[16] = { 0 };
	uint64_t r = test_rng(s), a = test_rng(s), b = test_rng(s);
	bool v6 = (r & 3) == 0;
	unsigned int len = v6 ? 16 : 4;
	uint8_t proto = (r & 4) ? 6 : 17;
	uint16_t sport = (uint16_t)(r >> 16), dport = (uint16_t)(r >> 32);

	memcpy(src, &a, 8);
	memcpy(dst, &b, 8);
	if (v6) {
		uint64_t c = test_rng(s), d = test_rng(s);

		memcpy(src + 8, &c, 8);
		memcpy(dst + 8, &d, 8);
	}
	sl_flow_key_make(fwd, v6 ? SL_FAMILY_IPV6 : SL_FAMILY_IPV4, proto,
			 src, dst, len, sport, dport);
	if (rev)
		sl_flow_key_make(rev, v6 ? SL_FAMILY_IPV6 : SL_FAMILY_IPV4,
				 proto, dst, src, len, dport, sport);
}

static int
setup_flows(void **state)
{
	uint64_t s = 0x0123456789abcdefull;
	struct sl_flow_key k;

	(void)state;
	for (unsigned int i = 0; i < N_FLOWS_BIG; i++) {
		random_flow(&s, &k, NULL);
		flow_hash[i] = sl_flow_hash(&k, FLOW_SEED);
	}
	for (unsigned int i = 0; i < MAX_T; i++)
		snprintf(ident[i], sizeof(ident[i]), "vxlan:198.51.%u.%u:100",
			 i / 256, i % 256);
	return 0;
}

/* targets[i] is identity number i, weight w[i] (1 when w is NULL), up. */
static void
make_targets(struct sl_maglev_target *t, size_t n, const uint16_t *w)
{
	for (size_t i = 0; i < n; i++) {
		t[i].id = ident[i];
		t[i].id_len = strlen(ident[i]);
		t[i].weight = w ? w[i] : 1;
		t[i].state = SL_TARGET_UP;
	}
}

static void
build_ok(const struct sl_maglev_target *t, size_t n, uint64_t seed,
	 uint16_t *table, int live)
{
	assert_int_equal(sl_maglev_build(t, n, M, seed, table), live);
}

/* The identity number (index into ident[]) behind a table entry. */
static unsigned int
id_of(const struct sl_maglev_target *t, uint16_t entry)
{
	return (unsigned int)(((const char *)t[entry].id - ident[0]) /
			      sizeof(ident[0]));
}

static void
count_entries(const uint16_t *table, uint32_t size, unsigned int *cnt,
	      size_t n)
{
	memset(cnt, 0, n * sizeof(*cnt));
	for (uint32_t i = 0; i < size; i++) {
		assert_true(table[i] < n);
		cnt[table[i]]++;
	}
}

static void
count_flows(const uint16_t *table, unsigned int n_flows, unsigned int *cnt,
	    size_t n)
{
	memset(cnt, 0, n * sizeof(*cnt));
	for (unsigned int f = 0; f < n_flows; f++)
		cnt[table[flow_hash[f] % M]]++;
}

static double
max_over_mean(const unsigned int *cnt, size_t n, double total)
{
	unsigned int max = 0;

	for (size_t i = 0; i < n; i++)
		if (cnt[i] > max)
			max = cnt[i];
	return max / (total / n);
}

static void
test_equal_weights_balance_within_5_percent(void **state)
{
	struct sl_maglev_target t[100];
	unsigned int cnt[100];
	double r;

	(void)state;
	make_targets(t, 10, NULL);
	build_ok(t, 10, MG_SEED, tab_a, 10);
	count_entries(tab_a, M, cnt, 10);
	r = max_over_mean(cnt, 10, M);
	print_message("equal weights, 10 targets: table max/mean %.4f\n", r);
	assert_true(r <= 1.05);
	count_flows(tab_a, N_FLOWS_BIG, cnt, 10);
	r = max_over_mean(cnt, 10, N_FLOWS_BIG);
	print_message("equal weights, 10 targets: %u flows max/mean %.4f\n",
		      N_FLOWS_BIG, r);
	assert_true(r <= 1.05);
	count_flows(tab_a, N_FLOWS, cnt, 10);
	r = max_over_mean(cnt, 10, N_FLOWS);
	print_message("equal weights, 10 targets: %u flows max/mean %.4f\n",
		      N_FLOWS, r);
	assert_true(r <= 1.05);

	make_targets(t, 100, NULL);
	build_ok(t, 100, MG_SEED, tab_a, 100);
	count_entries(tab_a, M, cnt, 100);
	r = max_over_mean(cnt, 100, M);
	print_message("equal weights, 100 targets: table max/mean %.4f\n", r);
	assert_true(r <= 1.05);
	count_flows(tab_a, N_FLOWS_BIG, cnt, 100);
	r = max_over_mean(cnt, 100, N_FLOWS_BIG);
	print_message("equal weights, 100 targets: %u flows max/mean %.4f\n",
		      N_FLOWS_BIG, r);
	assert_true(r <= 1.05);
}

/*
 * Each target's table share is within 5 % (relative) of its weight share.
 * Its share of flows is a sample of its table share, so it gets 5 % plus
 * five standard deviations of binomial sampling noise: a weight-1 target
 * among 100 owns ~13 entries and sees ~200 of a million flows, where the
 * noise alone is 7 %.  The largest errors are printed.
 */
static double
rel_err(double got, double want)
{
	return (got > want ? got - want : want - got) / want;
}

static void
check_weighted(size_t n, uint64_t wseed)
{
	struct sl_maglev_target t[100];
	uint16_t w[100];
	unsigned int ent[100], flows[100];
	double wsum = 0, max_tab = 0, max_flow = 0, max_flow_big = 0;

	for (size_t i = 0; i < n; i++) {
		w[i] = (uint16_t)(test_rng(&wseed) % 100 + 1);
		wsum += w[i];
	}
	make_targets(t, n, w);
	build_ok(t, n, MG_SEED, tab_a, (int)n);
	count_entries(tab_a, M, ent, n);
	count_flows(tab_a, N_FLOWS_BIG, flows, n);
	for (size_t i = 0; i < n; i++) {
		double p = w[i] / wsum;
		double e_tab = rel_err(ent[i] / (double)M, p);
		double e_flow = rel_err(flows[i] / (double)N_FLOWS_BIG, p);
		/* relative binomial variance of the flow share */
		double var = (1 - p) / (p * N_FLOWS_BIG);

		if (e_tab > max_tab)
			max_tab = e_tab;
		if (e_flow > max_flow)
			max_flow = e_flow;
		if (p * N_FLOWS_BIG >= 10000 && e_flow > max_flow_big)
			max_flow_big = e_flow;
		assert_true(e_tab <= 0.05);
		/* e_flow <= 5 % + 5 sigma, squared: no libm here */
		assert_true(e_flow <= 0.05 ||
			    (e_flow - 0.05) * (e_flow - 0.05) <= 25 * var);
	}
	print_message("weights 1..100, %zu targets: worst table share error "
		      "%.2f %%, worst flow share error %.2f %% (%.2f %% among "
		      "targets expecting >= 10,000 of %u flows)\n", n,
		      100 * max_tab, 100 * max_flow, 100 * max_flow_big,
		      N_FLOWS_BIG);
}

static void
test_weighted_shares_track_weights(void **state)
{
	(void)state;
	check_weighted(10, 11);
	check_weighted(10, 12);
	check_weighted(100, 13);
	check_weighted(100, 14);
}

/* Only weight ratios matter: doubling every weight changes nothing. */
static void
test_scaling_every_weight_leaves_the_table_unchanged(void **state)
{
	struct sl_maglev_target t[20];
	uint16_t w[20];

	(void)state;
	for (unsigned int i = 0; i < 20; i++)
		w[i] = (uint16_t)(i % 7 + 1);
	make_targets(t, 20, w);
	build_ok(t, 20, MG_SEED, tab_a, 20);
	for (unsigned int i = 0; i < 20; i++)
		t[i].weight = (uint16_t)(w[i] * 3);
	build_ok(t, 20, MG_SEED, tab_b, 20);
	assert_memory_equal(tab_a, tab_b, sizeof(tab_a));
}

/* A live target always owns an entry, however small its weight. */
static void
test_every_live_target_owns_an_entry_under_extreme_weights(void **state)
{
	struct sl_maglev_target t[MAX_T];
	uint16_t w[MAX_T];
	unsigned int cnt[MAX_T];
	uint16_t *small = malloc(SL_POLICY_MAGLEV_MIN * sizeof(*small));

	(void)state;
	assert_non_null(small);
	for (unsigned int i = 0; i < MAX_T; i++)
		w[i] = i == 0 ? 65535 : 1;
	make_targets(t, MAX_T, w);
	assert_int_equal(sl_maglev_build(t, MAX_T, SL_POLICY_MAGLEV_MIN,
					 MG_SEED, small), MAX_T);
	count_entries(small, SL_POLICY_MAGLEV_MIN, cnt, MAX_T);
	for (unsigned int i = 0; i < MAX_T; i++)
		assert_true(cnt[i] >= 1);
	free(small);

	/* 65535 : 1 over 65,537 entries: the light one gets exactly one */
	build_ok(t, 2, MG_SEED, tab_a, 2);
	count_entries(tab_a, M, cnt, 2);
	assert_int_equal(cnt[1], 1);
	assert_int_equal(cnt[0], M - 1);
}

/*
 * Remove target j (delete it from the list) for every j_step-th j: count
 * the flows, of n_flows, whose target identity changed, and assert at most
 * bound / n of them did.  With 100 targets a 1 % share sampled over 100,000
 * flows has 3 % noise of its own, so those checks sample a million.  Also: deleting j and marking it down give the
 * same table (by identity).
 */
static void
check_removal(size_t n, uint32_t size, size_t j_step, double bound,
	      unsigned int n_flows)
{
	struct sl_maglev_target t[100], less[100];
	uint16_t *a = malloc(size * sizeof(*a));
	uint16_t *b = malloc(size * sizeof(*b));
	uint16_t *c = malloc(size * sizeof(*c));
	double worst_flows = 0, worst_entries = 0, worst_churn = 0;

	assert_true(a && b && c);
	make_targets(t, n, NULL);
	assert_int_equal(sl_maglev_build(t, n, size, MG_SEED, a), n);
	for (size_t j = 0; j < n; j += j_step) {
		unsigned int moved = 0, churn = 0, moved_entries = 0;

		memcpy(less, t, j * sizeof(*t));
		memcpy(less + j, t + j + 1, (n - j - 1) * sizeof(*t));
		assert_int_equal(sl_maglev_build(less, n - 1, size, MG_SEED,
						 b), n - 1);
		for (unsigned int f = 0; f < n_flows; f++) {
			uint32_t p = (uint32_t)(flow_hash[f] % size);

			if (id_of(t, a[p]) != id_of(less, b[p])) {
				moved++;
				churn += a[p] != j;
			}
		}
		for (uint32_t p = 0; p < size; p++)
			moved_entries += id_of(t, a[p]) != id_of(less, b[p]);
		if (moved / (double)n_flows > worst_flows)
			worst_flows = moved / (double)n_flows;
		if (churn / (double)n_flows > worst_churn)
			worst_churn = churn / (double)n_flows;
		if (moved_entries / (double)size > worst_entries)
			worst_entries = moved_entries / (double)size;
		assert_true(moved <= bound * n_flows / n);

		/* marking j down is the same as deleting it */
		t[j].state = SL_TARGET_DOWN;
		assert_int_equal(sl_maglev_build(t, n, size, MG_SEED, c),
				 n - 1);
		t[j].state = SL_TARGET_UP;
		for (uint32_t p = 0; p < size; p++)
			if (id_of(t, c[p]) != id_of(less, b[p]))
				fail_msg("entry %u: down differs from deleted", p);
	}
	print_message("remove 1 of %zu, %u entries: worst moved flows "
		      "%.3f %% of %u = %.3f/N (bound %.2f/N; of them Maglev churn "
		      "%.3f %%), worst moved entries %.3f %% = %.3f/N\n",
		      n, size, 100 * worst_flows, n_flows, worst_flows * n, bound,
		      100 * worst_churn, 100 * worst_entries,
		      worst_entries * n);
	free(a);
	free(b);
	free(c);
}

static void
test_removing_1_of_10_moves_at_most_1_1_over_n(void **state)
{
	(void)state;
	check_removal(10, M, 1, 1.1, N_FLOWS);
}

/*
 * Maglev's churn grows with N / M.  Removing 1 of 100 targets moves about
 * 1.6/N of all flows on 65,537 entries, 1.36/N on 131,071, 1.11/N on
 * 1,048,573 and 1.05/N on 4,194,301: the removed target's share plus the
 * claims that shift turn and land elsewhere (the paper's populate loop
 * does the same; docs/maglev.md).  The 1.1/N is asserted where the
 * table is large enough for it, and the default size gets a bound that
 * guards against a regression.
 */
static void
test_removing_1_of_100_moves_at_most_1_1_over_n_on_a_4m_table(void **state)
{
	(void)state;
	check_removal(100, 4194301, 25, 1.1, N_FLOWS_BIG);
}

static void
test_removing_1_of_100_on_65537_entries_stays_within_maglev_churn(void **state)
{
	(void)state;
	check_removal(100, M, 1, 1.75, N_FLOWS);
}

static void
test_down_then_up_restores_the_table_byte_for_byte(void **state)
{
	struct sl_maglev_target t[100];

	(void)state;
	make_targets(t, 100, NULL);
	build_ok(t, 100, MG_SEED, tab_a, 100);
	t[37].state = SL_TARGET_DOWN;
	build_ok(t, 100, MG_SEED, tab_b, 99);
	for (uint32_t p = 0; p < M; p++)
		assert_int_not_equal(tab_b[p], 37);
	/* draining takes no new flows: out of the table, like down */
	t[37].state = SL_TARGET_DRAINING;
	build_ok(t, 100, MG_SEED, tab_c, 99);
	assert_memory_equal(tab_b, tab_c, sizeof(tab_b));
	t[37].state = SL_TARGET_UP;
	build_ok(t, 100, MG_SEED, tab_b, 100);
	assert_memory_equal(tab_a, tab_b, sizeof(tab_a));
	assert_true(sl_maglev_digest(tab_a, M) == sl_maglev_digest(tab_b, M));
}

/* The list order is not an input: every entry keeps its target identity. */
static void
test_reordering_targets_keeps_every_entry_identity(void **state)
{
	struct sl_maglev_target t[100], shuf[100];
	uint16_t w[100];
	uint64_t s = 99;

	(void)state;
	for (unsigned int i = 0; i < 100; i++)
		w[i] = (uint16_t)(test_rng(&s) % 100 + 1);
	make_targets(t, 100, w);
	memcpy(shuf, t, sizeof(t));
	for (unsigned int i = 99; i > 0; i--) {
		unsigned int k = (unsigned int)(test_rng(&s) % (i + 1));
		struct sl_maglev_target tmp = shuf[i];

		shuf[i] = shuf[k];
		shuf[k] = tmp;
	}
	build_ok(t, 100, MG_SEED, tab_a, 100);
	build_ok(shuf, 100, MG_SEED, tab_b, 100);
	for (uint32_t p = 0; p < M; p++)
		if (id_of(t, tab_a[p]) != id_of(shuf, tab_b[p]))
			fail_msg("entry %u changed identity", p);
	for (unsigned int f = 0; f < N_FLOWS; f++) {
		uint32_t p = (uint32_t)(flow_hash[f] % M);

		assert_int_equal(id_of(t, tab_a[p]), id_of(shuf, tab_b[p]));
	}
}

static void
test_same_inputs_same_digest_other_seed_other_table(void **state)
{
	struct sl_maglev_target t[10];
	uint64_t d;

	(void)state;
	make_targets(t, 10, NULL);
	build_ok(t, 10, MG_SEED, tab_a, 10);
	build_ok(t, 10, MG_SEED, tab_b, 10);
	d = sl_maglev_digest(tab_a, M);
	assert_true(d == sl_maglev_digest(tab_b, M));
	assert_memory_equal(tab_a, tab_b, sizeof(tab_a));
	print_message("digest of 10 equal targets, seed %#llx: %016llx\n",
		      (unsigned long long)MG_SEED, (unsigned long long)d);

	build_ok(t, 10, MG_SEED + 1, tab_b, 10);
	assert_memory_not_equal(tab_a, tab_b, sizeof(tab_a));
	assert_true(d != sl_maglev_digest(tab_b, M));
}

static void
test_digest_is_xxh3_of_the_little_endian_table(void **state)
{
	struct sl_maglev_target t[3];
	uint8_t *le = malloc(2 * (size_t)M);

	(void)state;
	assert_non_null(le);
	make_targets(t, 3, NULL);
	build_ok(t, 3, MG_SEED, tab_a, 3);
	for (uint32_t p = 0; p < M; p++) {
		le[2 * p] = (uint8_t)tab_a[p];
		le[2 * p + 1] = (uint8_t)(tab_a[p] >> 8);
	}
	assert_true(sl_maglev_digest(tab_a, M) == XXH3_64bits(le, 2 * M));
	free(le);
}

static void
test_copies_are_distinct_and_start_with_the_single_pick(void **state)
{
	struct sl_maglev_target t[10];
	uint16_t out[SL_POLICY_COPIES_MAX], one;
	unsigned long reads = 0;

	(void)state;
	make_targets(t, 10, NULL);
	build_ok(t, 10, MG_SEED, tab_a, 10);
	for (unsigned int f = 0; f < N_FLOWS; f++) {
		for (unsigned int r = 1; r <= 10; r++) {
			int got = sl_maglev_pick(tab_a, M, 10, flow_hash[f], r,
						 out);

			assert_int_equal(got, r);
			for (int i = 0; i < got; i++)
				for (int k = i + 1; k < got; k++)
					assert_int_not_equal(out[i], out[k]);
			assert_int_equal(out[0], tab_a[flow_hash[f] % M]);
		}
		assert_int_equal(sl_maglev_pick(tab_a, M, 10, flow_hash[f], 1,
						&one), 1);
		assert_int_equal(one, tab_a[flow_hash[f] % M]);
	}
	/* walk length for R = 3: entries read until 3 distinct */
	for (unsigned int f = 0; f < N_FLOWS; f++) {
		uint32_t p = (uint32_t)(flow_hash[f] % M);
		uint16_t a = tab_a[p], b = SL_MAGLEV_NONE;

		reads++;
		for (;;) {
			uint16_t x;

			p = p + 1 == M ? 0 : p + 1;
			x = tab_a[p];
			reads++;
			if (x == a || x == b)
				continue;
			if (b == SL_MAGLEV_NONE) {
				b = x;
				continue;
			}
			break;
		}
	}
	print_message("copies 3 of 10: %.2f entries read per pick\n",
		      (double)reads / N_FLOWS);
}

static void
test_copies_beyond_live_targets_return_every_live_one(void **state)
{
	struct sl_maglev_target t[6];
	uint16_t out[SL_POLICY_COPIES_MAX];
	uint16_t w[6] = { 1, 500, 3, 65535, 7, 2 };

	(void)state;
	make_targets(t, 6, w);
	t[1].state = SL_TARGET_DOWN;
	t[4].state = SL_TARGET_DRAINING;
	build_ok(t, 6, MG_SEED, tab_a, 4);
	for (unsigned int f = 0; f < 2000; f++) {
		unsigned int mask = 0;
		int got = sl_maglev_pick(tab_a, M, 4, flow_hash[f],
					 SL_POLICY_COPIES_MAX, out);

		assert_int_equal(got, 4);
		for (int i = 0; i < got; i++)
			mask |= 1u << out[i];
		assert_int_equal(mask, (1u << 0) | (1u << 2) | (1u << 3) |
				       (1u << 5));
	}
	assert_int_equal(sl_maglev_pick(tab_a, M, 4, flow_hash[0], 0, out), 0);
}

static void
test_copies_are_the_same_for_both_directions(void **state)
{
	struct sl_maglev_target t[10];
	uint16_t o1[3], o2[3];
	uint64_t s = 777;

	(void)state;
	make_targets(t, 10, NULL);
	build_ok(t, 10, MG_SEED, tab_a, 10);
	for (unsigned int f = 0; f < N_FLOWS; f++) {
		struct sl_flow_key fwd, rev;

		random_flow(&s, &fwd, &rev);
		assert_int_equal(sl_maglev_pick(tab_a, M, 10,
				 sl_flow_hash(&fwd, FLOW_SEED), 3, o1), 3);
		assert_int_equal(sl_maglev_pick(tab_a, M, 10,
				 sl_flow_hash(&rev, FLOW_SEED), 3, o2), 3);
		assert_memory_equal(o1, o2, sizeof(o1));
	}
}

/*
 * One target goes down: flows whose R targets did not include it keep the
 * same set, except where their walk crosses an entry Maglev's churn moved
 * between two other targets.  That remainder is printed and bounded.
 */
static void
check_copies_churn(size_t n, unsigned int r)
{
	struct sl_maglev_target t[100];
	uint16_t o1[SL_POLICY_COPIES_MAX], o2[SL_POLICY_COPIES_MAX];
	unsigned int kept = 0, changed = 0, changed_first = 0;
	const uint16_t down = 3;

	make_targets(t, n, NULL);
	build_ok(t, n, MG_SEED, tab_a, (int)n);
	t[down].state = SL_TARGET_DOWN;
	build_ok(t, n, MG_SEED, tab_b, (int)n - 1);
	for (unsigned int f = 0; f < N_FLOWS; f++) {
		bool had = false;
		uint64_t m1 = 0, m2 = 0;

		assert_int_equal(sl_maglev_pick(tab_a, M, n, flow_hash[f], r,
						o1), r);
		assert_int_equal(sl_maglev_pick(tab_b, M, n - 1, flow_hash[f],
						r, o2), r);
		for (unsigned int i = 0; i < r; i++) {
			had |= o1[i] == down;
			assert_int_not_equal(o2[i], down);
		}
		if (had)
			continue;
		kept++;
		for (unsigned int i = 0; i < r; i++) {
			m1 |= 1ull << o1[i];	/* n <= 64 */
			m2 |= 1ull << o2[i];
		}
		if (m1 != m2)
			changed++;
		if (o1[0] != o2[0])
			changed_first++;
	}
	print_message("copies %u of %zu, one target down: %.3f %% of the "
		      "%u unaffected flows changed their set (%.3f %% their "
		      "first target)\n", r, n, 100.0 * changed / kept, kept,
		      100.0 * changed_first / kept);
	assert_true(changed <= kept / 50);	/* 2 % */
}

static void
test_copies_keep_their_set_when_an_unrelated_target_goes_down(void **state)
{
	(void)state;
	check_copies_churn(10, 2);
	check_copies_churn(10, 3);
	check_copies_churn(50, 3);
}

static void
test_bad_sizes_and_targets_are_refused_and_the_table_untouched(void **state)
{
	struct sl_maglev_target t[MAX_T + 1];
	static const uint32_t bad_size[] = {
		0, 1, 2, 251,			/* below the minimum */
		65536, 65535, 65541,		/* not prime */
		16777215, 16777259,		/* not prime; prime, too big */
	};

	(void)state;
	for (unsigned int i = 0; i <= MAX_T; i++) {
		t[i].id = ident[i % MAX_T];
		t[i].id_len = strlen(ident[i % MAX_T]);
		t[i].weight = 1;
		t[i].state = SL_TARGET_UP;
	}
	memset(tab_a, 0xab, sizeof(tab_a));
	for (unsigned int i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++)
		assert_int_equal(sl_maglev_build(t, 3, bad_size[i], MG_SEED,
						 tab_a), -EINVAL);
	assert_int_equal(sl_maglev_build(t, MAX_T + 1, M, MG_SEED, tab_a),
			 -E2BIG);
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, NULL), -EINVAL);
	assert_int_equal(sl_maglev_build(NULL, 3, M, MG_SEED, tab_a), -EINVAL);

	t[1].weight = 0;
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, tab_a), -EINVAL);
	t[1].weight = 1;
	t[1].state = 7;
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, tab_a), -EINVAL);
	t[1].state = SL_TARGET_UP;
	t[1].id_len = 0;
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, tab_a), -EINVAL);
	t[1].id_len = SL_MAGLEV_ID_MAX + 1;
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, tab_a), -EINVAL);
	t[1].id_len = strlen(ident[1]);
	t[1].id = NULL;
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, tab_a), -EINVAL);
	/* two targets with one identity, even if one is down */
	t[1].id = ident[2];
	t[1].id_len = strlen(ident[2]);
	t[1].state = SL_TARGET_DOWN;
	assert_int_equal(sl_maglev_build(t, 3, M, MG_SEED, tab_a), -EINVAL);
	for (uint32_t p = 0; p < M; p++)
		assert_int_equal(tab_a[p], 0xabab);

	/* the extremes of the range are accepted */
	t[1].id = ident[1];
	t[1].id_len = strlen(ident[1]);
	assert_int_equal(sl_maglev_build(t, 3, SL_POLICY_MAGLEV_MIN, MG_SEED,
					 tab_a), 2);
	assert_int_equal(sl_maglev_build(t, MAX_T, M, MG_SEED, tab_a), MAX_T - 1);
}

static void
test_no_live_target_gives_an_empty_table_and_no_pick(void **state)
{
	struct sl_maglev_target t[4];
	uint16_t out[4];

	(void)state;
	make_targets(t, 4, NULL);
	for (unsigned int i = 0; i < 4; i++)
		t[i].state = i % 2 ? SL_TARGET_DOWN : SL_TARGET_DRAINING;
	build_ok(t, 4, MG_SEED, tab_a, 0);
	for (uint32_t p = 0; p < M; p++)
		assert_int_equal(tab_a[p], SL_MAGLEV_NONE);
	for (unsigned int f = 0; f < 1000; f++) {
		assert_int_equal(sl_maglev_pick(tab_a, M, 0, flow_hash[f], 3,
						out), 0);
		/* a stale n_live still finds nothing */
		assert_int_equal(sl_maglev_pick(tab_a, M, 4, flow_hash[f], 3,
						out), 0);
	}
	build_ok(NULL, 0, MG_SEED, tab_b, 0);
	assert_memory_equal(tab_a, tab_b, sizeof(tab_a));
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Printed, not asserted: best of a few runs. */
static void
test_build_time_is_printed(void **state)
{
	static const struct {
		size_t n;
		uint32_t size;
		unsigned int runs;
		bool weighted;
	} cases[] = {
		{ 10, M, 20, false },
		{ 100, M, 20, false },
		{ 100, M, 20, true },
		{ MAX_T, M, 20, false },
		{ 100, SL_POLICY_MAGLEV_MAX, 1, false },
	};
	struct sl_maglev_target t[MAX_T];
	uint16_t w[MAX_T];
	uint16_t *table = malloc(SL_POLICY_MAGLEV_MAX * sizeof(*table));
	uint64_t s = 5;

	(void)state;
	assert_non_null(table);
	for (unsigned int i = 0; i < MAX_T; i++)
		w[i] = (uint16_t)(test_rng(&s) % 100 + 1);
	for (unsigned int c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double best = 1e30;

		make_targets(t, cases[c].n, cases[c].weighted ? w : NULL);
		for (unsigned int r = 0; r < cases[c].runs; r++) {
			double t0 = now_ms();

			assert_int_equal(sl_maglev_build(t, cases[c].n,
							 cases[c].size, MG_SEED,
							 table),
					 (int)cases[c].n);
			t0 = now_ms() - t0;
			if (t0 < best)
				best = t0;
		}
		print_message("build: %zu targets (%s), %u entries: %.3f ms\n",
			      cases[c].n, cases[c].weighted ? "weights 1..100" :
			      "equal weights", cases[c].size, best);
	}
	free(table);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_weights_balance_within_5_percent),
		cmocka_unit_test(test_weighted_shares_track_weights),
		cmocka_unit_test(test_scaling_every_weight_leaves_the_table_unchanged),
		cmocka_unit_test(test_every_live_target_owns_an_entry_under_extreme_weights),
		cmocka_unit_test(test_removing_1_of_10_moves_at_most_1_1_over_n),
		cmocka_unit_test(test_removing_1_of_100_moves_at_most_1_1_over_n_on_a_4m_table),
		cmocka_unit_test(test_removing_1_of_100_on_65537_entries_stays_within_maglev_churn),
		cmocka_unit_test(test_down_then_up_restores_the_table_byte_for_byte),
		cmocka_unit_test(test_reordering_targets_keeps_every_entry_identity),
		cmocka_unit_test(test_same_inputs_same_digest_other_seed_other_table),
		cmocka_unit_test(test_digest_is_xxh3_of_the_little_endian_table),
		cmocka_unit_test(test_copies_are_distinct_and_start_with_the_single_pick),
		cmocka_unit_test(test_copies_beyond_live_targets_return_every_live_one),
		cmocka_unit_test(test_copies_are_the_same_for_both_directions),
		cmocka_unit_test(test_copies_keep_their_set_when_an_unrelated_target_goes_down),
		cmocka_unit_test(test_bad_sizes_and_targets_are_refused_and_the_table_untouched),
		cmocka_unit_test(test_no_live_target_gives_an_empty_table_and_no_pick),
		cmocka_unit_test(test_build_time_is_printed),
	};
	return cmocka_run_group_tests(tests, setup_flows, NULL);
}
