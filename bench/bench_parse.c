/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_parse: cycles per packet of each parser variant, from memory.
 *
 * Builds a pool of 64-byte frames per traffic shape (IPv4 UDP, IPv4 TCP,
 * IPv6 UDP, a mix of those with VLAN-tagged and non-fast packets), then
 * parses it in bursts of 32 over and over.  Each figure is the median of
 * several runs, in TSC cycles per packet (rdtsc) and Mpps, with the
 * fastest run beside it (the run least disturbed by other work on a shared
 * machine).  It prints and never fails on time.
 *
 *   bench_parse [-n POOL_PACKETS] [-r RUNS] [-b BURSTS_PER_RUN]
 *
 * The TSC ticks at a constant rate: where the core runs faster (turbo) or
 * slower than the TSC, core cycles per packet differ by that ratio.  The
 * TSC rate (against CLOCK_MONOTONIC) and the core clock's ratio to it (a
 * dependent-add chain) are printed for that reason.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "parse.h"

#define FRAME_LEN 64
#define BURST 32

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet (+ optional VLAN tag) header; returns the L3 offset. */
static unsigned int
put_eth(uint8_t *f, unsigned int type, int vlan)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	unsigned int off = 12;

	memcpy(f, macs, sizeof(macs));
	if (vlan) {
		put16(f + 12, 0x8100);
		put16(f + 14, 100);
		off = 16;
	}
	put16(f + off, type);
	return off + 2;
}

static void
put_l4(uint8_t *l4, unsigned int proto, unsigned int avail)
{
	put16(l4, (unsigned int)rng());		/* sport */
	put16(l4 + 2, (unsigned int)rng());	/* dport */
	if (proto == 17) {
		put16(l4 + 4, avail);
	} else if (proto == 6) {
		l4[12] = 5 << 4;
		l4[13] = 0x18;
	} else if (proto == 1) {
		l4[0] = 8;	/* echo request */
	}
}

enum shape { V4_UDP, V4_TCP, V6_UDP, V4_UDP_VLAN, V4_ICMP, N_SHAPES };

static void
build(uint8_t *f, enum shape s)
{
	unsigned int off, proto;

	memset(f, 0, FRAME_LEN);
	if (s == V6_UDP) {
		off = put_eth(f, 0x86dd, 0);
		f[off] = 0x60;
		put16(f + off + 4, FRAME_LEN - off - 40);
		f[off + 6] = 17;
		f[off + 7] = 64;
		for (int i = 8; i < 40; i++)
			f[off + i] = (uint8_t)rng();
		put_l4(f + off + 40, 17, FRAME_LEN - off - 40);
		return;
	}
	off = put_eth(f, 0x0800, s == V4_UDP_VLAN);
	proto = s == V4_TCP ? 6 : s == V4_ICMP ? 1 : 17;
	f[off] = 0x45;
	put16(f + off + 2, FRAME_LEN - off);
	f[off + 8] = 64;
	f[off + 9] = (uint8_t)proto;
	for (int i = 12; i < 20; i++)
		f[off + i] = (uint8_t)rng();
	put_l4(f + off + 20, proto, FRAME_LEN - off - 20);
}

struct workload {
	const char *name;
	int weights[N_SHAPES];
};

static const struct workload workloads[] = {
	{ "ipv4-udp", { [V4_UDP] = 1 } },
	{ "ipv4-tcp", { [V4_TCP] = 1 } },
	{ "ipv6-udp", { [V6_UDP] = 1 } },
	{ "mix", { [V4_UDP] = 4, [V4_TCP] = 4, [V6_UDP] = 2,
		   [V4_UDP_VLAN] = 1, [V4_ICMP] = 1 } },
	{ "ipv4-icmp (scalar fallback)", { [V4_ICMP] = 1 } },
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* TSC ticks per nanosecond, over ~100 ms. */
static double
tsc_per_ns(void)
{
	double t0 = now_ns();
	uint64_t c0 = __rdtsc();

	while (now_ns() - t0 < 100e6)
		;
	return (double)(__rdtsc() - c0) / (now_ns() - t0);
}

#define N_VARIANTS 3

/*
 * Runs every variant on one pool, interleaved run by run so that each sees
 * the same machine conditions, and prints median and fastest run.
 */
static void
bench_workload(const char *name, const uint8_t **ptrs, const uint16_t *lens,
	       unsigned int pool, unsigned int runs, unsigned int bursts,
	       double ghz)
{
	static const enum sl_parse_variant variants[N_VARIANTS] = {
		SL_PARSE_SCALAR, SL_PARSE_SSE42, SL_PARSE_AVX2,
	};
	struct sl_pkt_meta meta[BURST];
	sl_parse_burst_fn fn[N_VARIANTS];
	double *cpp[N_VARIANTS];
	unsigned long kept[N_VARIANTS] = { 0 };

	for (int v = 0; v < N_VARIANTS; v++) {
		fn[v] = sl_parse_select(variants[v]);
		cpp[v] = calloc(runs, sizeof(double));
		if (cpp[v] == NULL) {
			fprintf(stderr, "bench_parse: out of memory\n");
			exit(1);
		}
		/* warm caches and predictors */
		for (unsigned int b = 0; fn[v] != NULL && b < pool / BURST; b++)
			fn[v](ptrs + b * BURST, lens + b * BURST, BURST, meta);
	}
	for (unsigned int r = 0; r < runs; r++) {
		for (int v = 0; v < N_VARIANTS; v++) {
			unsigned int off = 0;
			uint64_t t0;

			if (fn[v] == NULL)
				continue;
			kept[v] = 0;
			t0 = __rdtsc();
			for (unsigned int b = 0; b < bursts; b++) {
				kept[v] += fn[v](ptrs + off, lens + off, BURST,
						 meta);
				off += BURST;
				if (off == pool)
					off = 0;
				/* keep the meta stores alive */
				__asm__ volatile("" : : "r"(meta) : "memory");
			}
			cpp[v][r] = (double)(__rdtsc() - t0) /
				    ((double)bursts * BURST);
		}
	}
	for (int v = 0; v < N_VARIANTS; v++) {
		if (fn[v] == NULL) {
			printf("%-30s %-8s %12s\n", name,
			       sl_parse_variant_name(variants[v]),
			       "unsupported");
			free(cpp[v]);
			continue;
		}
		qsort(cpp[v], runs, sizeof(double), cmp_double);
		printf("%-30s %-8s %12.2f %10.1f %12.2f %7.1f%%\n", name,
		       sl_parse_variant_name(variants[v]), cpp[v][runs / 2],
		       ghz * 1e3 / cpp[v][runs / 2], cpp[v][0],
		       100.0 * (double)kept[v] / ((double)bursts * BURST));
		free(cpp[v]);
	}
}

/*
 * Core cycles per TSC tick: a chain of dependent adds runs one add per core
 * cycle, whatever the clock.  Best of many short tries: the clock ramps
 * up, and a try the scheduler interrupted reads low.
 */
static double
core_per_tsc(void)
{
	double best = 0;

	for (int t = 0; t < 200; t++) {
		unsigned long n = 2000000, x = 0;
		uint64_t c0 = __rdtsc();

		__asm__ volatile("1: add $1, %0\n\tadd $1, %0\n\t"
				 "add $1, %0\n\tadd $1, %0\n\t"
				 "sub $4, %1\n\tjnz 1b"
				 : "+r"(x), "+r"(n));
		double r = 2000000.0 / (double)(__rdtsc() - c0);

		if (r > best)
			best = r;
	}
	return best;
}

int
main(int argc, char **argv)
{
	unsigned int pool = 1024, runs = 31, bursts = 10000;
	const uint8_t **ptrs;
	uint16_t *lens;
	uint8_t *frames;
	double ghz;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:b:h")) != -1) {
		switch (opt) {
		case 'n':
			pool = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			runs = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			bursts = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-n POOL_PACKETS] [-r RUNS] "
				"[-b BURSTS_PER_RUN]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	pool = (pool + BURST - 1) / BURST * BURST;
	if (pool == 0 || runs == 0 || bursts == 0) {
		fprintf(stderr, "bench_parse: -n, -r and -b must be > 0\n");
		return 2;
	}
	frames = aligned_alloc(64, (size_t)pool * FRAME_LEN);
	ptrs = malloc(pool * sizeof(*ptrs));
	lens = malloc(pool * sizeof(*lens));
	if (frames == NULL || ptrs == NULL || lens == NULL) {
		fprintf(stderr, "bench_parse: out of memory\n");
		return 1;
	}

	ghz = tsc_per_ns();
	printf("bench_parse: %u frames of %d bytes, bursts of %d, median of %u "
	       "runs x %u bursts\n", pool, FRAME_LEN, BURST, runs, bursts);
	printf("TSC: %.3f GHz; cycles below are TSC ticks.  The core ran at "
	       "about %.2f x the TSC\n(dependent-add chain), so core cycles "
	       "are about that many times the figures.\n", ghz, core_per_tsc());
	printf("auto variant on this CPU: %s\n\n",
	       sl_parse_variant_name(sl_parse_best_variant()));
	printf("%-30s %-8s %12s %10s %12s %8s\n", "workload", "variant",
	       "cyc/pkt(med)", "Mpps(med)", "cyc/pkt(min)", "kept");

	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		int total = 0;

		for (int s = 0; s < N_SHAPES; s++)
			total += workloads[w].weights[s];
		for (unsigned int i = 0; i < pool; i++) {
			int pick = (int)(rng() % (uint64_t)total);
			int s = 0;

			while (pick >= workloads[w].weights[s])
				pick -= workloads[w].weights[s++];
			build(frames + (size_t)i * FRAME_LEN, (enum shape)s);
			ptrs[i] = frames + (size_t)i * FRAME_LEN;
			lens[i] = FRAME_LEN;
		}

		bench_workload(workloads[w].name, ptrs, lens, pool, runs,
			       bursts, ghz);
	}
	free(frames);
	free(ptrs);
	free(lens);
	return 0;
}
