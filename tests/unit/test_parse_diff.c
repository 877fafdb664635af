/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Differential test: every parser variant this CPU runs gives the same
 * meta, byte for byte, as sl_parse_one() on random and mutated packets
 * (tests/unit/test_parse_pktgen.h), each in an exactly-sized heap buffer
 * so that AddressSanitizer sees any read past the packet, in bursts of
 * random size 1..32.
 *
 * A second test checks that the vector fast path takes exactly the shapes
 * parse.h promises (a refused packet would still be right, only slow).
 *
 * The seed is printed; SL_TEST_SEED=<n> replays a run, SL_TEST_PACKETS=<n>
 * changes the packet count (default 2,000,000; a quarter of it for the
 * second test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_parse_pktgen.h"
#include "test_parse_util.h"

#define DEFAULT_PACKETS 2000000ul
#define MAX_REPORTS 5

static unsigned long seed;	/* one per run, printed */

static unsigned long
env_ulong(const char *name, unsigned long def)
{
	const char *s = getenv(name);

	return s != NULL && *s != '\0' ? strtoul(s, NULL, 0) : def;
}

static void
report(const uint8_t *pkt, uint16_t len, const char *name,
       const struct sl_pkt_meta *want, const struct sl_pkt_meta *got)
{
	fprintf(stderr, "MISMATCH %s vs sl_parse_one, packet of %u bytes:\n",
		name, len);
	pu_hexdump(stderr, pkt, len);
	pu_meta_dump(stderr, "scalar", want);
	pu_meta_dump(stderr, name, got);
}

static void
test_variants_match_scalar_on_random_and_mutated_packets(void **state)
{
	unsigned long total = env_ulong("SL_TEST_PACKETS", DEFAULT_PACKETS);
	struct pg_rng rng = { .s = seed };
	struct pu_variant v[3];
	unsigned int nv = pu_variants(v);
	unsigned long done = 0, mismatches = 0, kept = 0, dropped[SL_DROP_MAX];
	static uint8_t buf[PG_MAX_LEN];

	(void)state;
	memset(dropped, 0, sizeof(dropped));
	printf("test_parse_diff: seed %lu (SL_TEST_SEED=%lu replays), %lu "
	       "packets, variants:", seed, seed, total);
	for (unsigned int i = 0; i < nv; i++)
		printf(" %s", v[i].name);
	printf("\n");

	while (done < total) {
		uint8_t *pkt[SL_PARSE_BURST_MAX];
		const uint8_t *cpkt[SL_PARSE_BURST_MAX];
		uint16_t len[SL_PARSE_BURST_MAX];
		struct sl_pkt_meta ref[SL_PARSE_BURST_MAX];
		struct sl_pkt_meta got[SL_PARSE_BURST_MAX];
		unsigned int n = 1 + pg_below(&rng, SL_PARSE_BURST_MAX);
		uint16_t ref_kept = 0;

		for (unsigned int i = 0; i < n; i++) {
			size_t l = pg_mutate(&rng, buf, pg_frame(&rng, buf));

			len[i] = (uint16_t)l;
			/* exactly sized: ASan flags any byte read past l */
			pkt[i] = malloc(l > 0 ? l : 1);
			assert_non_null(pkt[i]);
			memcpy(pkt[i], buf, l);
			if (l == 0) {
				free(pkt[i]);
				pkt[i] = malloc(0);
			}
			cpkt[i] = pkt[i];
			sl_parse_one(cpkt[i], len[i], &ref[i]);
			ref_kept += ref[i].drop_reason == SL_DROP_NONE;
			if (ref[i].drop_reason == SL_DROP_NONE)
				kept++;
			else
				dropped[ref[i].drop_reason]++;
		}

		for (unsigned int k = 0; k < nv; k++) {
			uint16_t r;

			/* garbage first: every meta byte must be written */
			memset(got, 0xa5 ^ (int)k, sizeof(got));
			r = v[k].fn(cpkt, len, (uint16_t)n, got);
			if (r != ref_kept) {
				fprintf(stderr, "%s returned %u kept, scalar "
					"counted %u\n", v[k].name, r, ref_kept);
				mismatches++;
			}
			for (unsigned int i = 0; i < n; i++) {
				if (memcmp(&got[i], &ref[i], sizeof(ref[i])) == 0)
					continue;
				if (mismatches++ < MAX_REPORTS)
					report(cpkt[i], len[i], v[k].name,
					       &ref[i], &got[i]);
			}
		}
		for (unsigned int i = 0; i < n; i++)
			free(pkt[i]);
		done += n;
	}

	printf("test_parse_diff: %lu packets, %lu kept; drops by reason:",
	       done, kept);
	for (unsigned int i = 1; i < SL_DROP_MAX; i++)
		if (dropped[i] != 0)
			printf(" %s=%lu", sl_drop_reason_name(i), dropped[i]);
	printf("\n");
	if (mismatches != 0)
		fprintf(stderr, "test_parse_diff: %lu mismatches (seed %lu)\n",
			mismatches, seed);
	assert_int_equal(mismatches, 0);
}

/* The shapes parse.h promises the vector fast path takes. */
static int
fast_shape(const struct sl_pkt_meta *m)
{
	if (m->drop_reason != SL_DROP_NONE || m->vlan_count > 1 ||
	    (m->l4_proto != 6 && m->l4_proto != 17))
		return 0;
	if (m->l3 == SL_L3_IPV4)
		return m->l4_off == m->l3_off + 20 && m->frag == 0;
	return m->l3 == SL_L3_IPV6 && m->l4_off == m->l3_off + 40;
}

/*
 * The vector fast path takes exactly the common shapes, whatever their
 * length: a packet it refuses is still parsed right (by the scalar code),
 * which the test above cannot tell from a fast one.
 */
static void
test_fast_path_takes_every_kept_common_shape_and_nothing_else(void **state)
{
	static const struct {
		const char *name;
		uint32_t (*fn)(const uint8_t *const[], const uint16_t[],
			       uint16_t, struct sl_pkt_meta[]);
		enum sl_parse_variant id;
	} hooks[] = {
		{ "sse42", sl_parse_fast_mask_sse42, SL_PARSE_SSE42 },
		{ "avx2", sl_parse_fast_mask_avx2, SL_PARSE_AVX2 },
	};
	unsigned long total = env_ulong("SL_TEST_PACKETS", DEFAULT_PACKETS) / 4;
	struct pg_rng rng = { .s = seed ^ 0x5eed };
	unsigned long done = 0, fast = 0, wrong = 0;
	static uint8_t buf[SL_PARSE_BURST_MAX][PG_MAX_LEN];

	(void)state;
	while (done < total) {
		const uint8_t *data[SL_PARSE_BURST_MAX];
		uint16_t len[SL_PARSE_BURST_MAX];
		struct sl_pkt_meta ref[SL_PARSE_BURST_MAX], got[SL_PARSE_BURST_MAX];
		unsigned int n = 1 + pg_below(&rng, SL_PARSE_BURST_MAX);
		uint32_t want = 0;

		for (unsigned int i = 0; i < n; i++) {
			len[i] = (uint16_t)pg_mutate(&rng, buf[i],
						     pg_frame(&rng, buf[i]));
			data[i] = buf[i];
			sl_parse_one(data[i], len[i], &ref[i]);
			want |= (uint32_t)fast_shape(&ref[i]) << i;
		}
		for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
			uint32_t mask;

			if (sl_parse_select(hooks[h].id) == NULL)
				continue;
			mask = hooks[h].fn(data, len, (uint16_t)n, got);
			if (mask != want && wrong++ < MAX_REPORTS) {
				unsigned int i = (unsigned int)__builtin_ctz(
					mask ^ want);

				fprintf(stderr, "%s: packet %u %s the fast "
					"path:\n", hooks[h].name, i,
					want >> i & 1 ? "missed" : "wrongly took");
				pu_hexdump(stderr, data[i], len[i]);
				pu_meta_dump(stderr, "scalar", &ref[i]);
			}
			assert_memory_equal(got, ref, n * sizeof(ref[0]));
		}
		fast += (unsigned long)__builtin_popcount(want);
		done += n;
	}
	printf("fast path: %lu of %lu packets (seed %lu)\n", fast, done, seed);
	assert_int_equal(wrong, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_variants_match_scalar_on_random_and_mutated_packets),
		cmocka_unit_test(
			test_fast_path_takes_every_kept_common_shape_and_nothing_else),
	};

	seed = env_ulong("SL_TEST_SEED", (unsigned long)time(NULL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
