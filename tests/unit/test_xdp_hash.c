/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The XDP flow hash (include/sluice/xdp_flow_hash.h) equals sl_flow_hash()
 * (lib/flow_hash.c, libxxhash's XXH3) bit for bit: the BPF build of the
 * header runs through BPF_PROG_TEST_RUN (bpf/test_flow_hash.bpf.c, 60
 * records a run) over 1,000,000 keys (SL_TEST_KEYS) with random seeds -
 * symmetric keys of random IPv4 and IPv6 5-tuples (sl_flow_key_make) and
 * keys of 40 random bytes - and the same header compiled for the host
 * over the same keys, so a mismatch says which side drifted.
 *
 * Needs root (BPF); skipped otherwise.  SL_TEST_SEED=<n> replays.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "sluice/flow_key.h"
#include "sluice/xdp_flow_hash.h"
#include "test_flow_hash.skel.h"
#include "test_util.h"

#define REC 56
#define BATCH 60	/* 3,360 bytes: the linear part of a test run frame is
			 * 4096 - 256 headroom - 320 shared info */

struct rec {
	struct sl_flow_key key;
	uint64_t seed;
	uint64_t hash;
};

_Static_assert(sizeof(struct rec) == REC, "record layout of the program");

static struct test_flow_hash *skel;
static uint64_t rng_state;

static unsigned long
env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v != NULL && *v ? strtoul(v, NULL, 0) : def;
}

static void
rand_key(struct rec *r, unsigned long i)
{
	uint8_t src[16], dst[16];
	uint64_t x = test_rng(&rng_state);
	unsigned int alen = x & 1 ? 16 : 4;

	/* seeds: 0, all ones, and random */
	r->seed = i % 97 == 0 ? 0 : i % 89 == 0 ? ~0ull : test_rng(&rng_state);
	r->hash = 0;
	if ((x >> 1) % 8 == 0) {	/* 40 arbitrary bytes */
		for (size_t o = 0; o < sizeof(r->key); o += 8) {
			uint64_t v = test_rng(&rng_state);

			memcpy((uint8_t *)&r->key + o, &v, 8);
		}
		return;
	}
	for (unsigned int o = 0; o < 16; o += 8) {
		uint64_t a = test_rng(&rng_state), b = test_rng(&rng_state);

		memcpy(src + o, &a, 8);
		memcpy(dst + o, &b, 8);
	}
	if ((x >> 4) % 16 == 0)
		memcpy(dst, src, alen);		/* equal addresses */
	sl_flow_key_make(&r->key, alen == 4 ? SL_FAMILY_IPV4 : SL_FAMILY_IPV6,
			 (uint8_t)(x >> 8), src, dst, alen,
			 (uint16_t)(x >> 16), (uint16_t)(x >> 32));
}

static void
test_bpf_flow_hash_equals_sl_flow_hash_over_random_keys(void **state)
{
	unsigned long n = env_ulong("SL_TEST_KEYS", 1000000), done = 0;
	int fd = bpf_program__fd(skel->progs.sl_test_flow_hash);
	struct rec in[BATCH], out[BATCH];
	struct timespec t0, t1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < n) {
		unsigned int k = n - done < BATCH ? (unsigned int)(n - done) : BATCH;
		LIBBPF_OPTS(bpf_test_run_opts, o,
			    .data_in = in,
			    .data_size_in = k * REC,
			    .data_out = out,
			    .data_size_out = sizeof(out),
			    .repeat = 1);

		for (unsigned int i = 0; i < k; i++)
			rand_key(&in[i], done + i);
		if (bpf_prog_test_run_opts(fd, &o) != 0)
			fail_msg("BPF_PROG_TEST_RUN: %s", strerror(errno));
		assert_int_equal(o.retval, XDP_PASS);
		assert_int_equal(o.data_size_out, k * REC);
		for (unsigned int i = 0; i < k; i++) {
			uint64_t want = sl_flow_hash(&in[i].key, in[i].seed);
			uint64_t host = sl_xdp_flow_hash(&in[i].key, in[i].seed);

			if (out[i].hash != want || host != want)
				fail_msg("key %lu, seed %#llx: XXH3 %#llx, BPF %#llx, "
					 "header on the host %#llx", done + i,
					 (unsigned long long)in[i].seed,
					 (unsigned long long)want,
					 (unsigned long long)out[i].hash,
					 (unsigned long long)host);
		}
		done += k;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %lu keys, identical hashes (%.2f s)\n", done,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bpf_flow_hash_equals_sl_flow_hash_over_random_keys),
	};
	unsigned long seed;
	int ret;

	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}
	seed = env_ulong("SL_TEST_SEED", (unsigned long)time(NULL));
	printf("# seed %lu (SL_TEST_SEED to repeat)\n", seed);
	rng_state = seed * 2 + 1;	/* never 0 */
	skel = test_flow_hash__open_and_load();
	if (skel == NULL) {
		fprintf(stderr, "cannot load test_flow_hash.bpf.o: %s\n",
			strerror(errno));
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	test_flow_hash__destroy(skel);
	return ret;
}
