/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Firewall-stage figures that need no ports: build time of a generation
 * for 1k, 10k and 100k rules, classification cycles per packet over 10k
 * flows, conntrack new flows per second and memory per million flows.
 * Prints figures; never fails on time.
 *
 *   bench_fw [EAL args] -- [--rules N,N,...] [--flows N] [--packets N]
 *
 * Rules are random 5-tuples in the shape of ClassBench ACL sets: source and
 * destination prefixes of /8 to /32, a protocol, a destination port or
 * range, half of them with a source port range; the last rule accepts.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>

#include "conntrack.h"
#include "fw.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static char *
random_policy(unsigned int n)
{
	size_t cap = 256 + (size_t)n * 200, len = 0;
	char *j = malloc(cap);

	len += (size_t)snprintf(j, cap, "{\"version\": 1, \"default\": \"drop\", "
				"\"rules\": [");
	for (unsigned int i = 0; i < n; i++) {
		unsigned int sl = 8 + rnd() % 25, dl = 8 + rnd() % 25;
		uint32_t s = rnd() & (sl ? ~0u << (32 - sl) : 0);
		uint32_t d = rnd() & (dl ? ~0u << (32 - dl) : 0);
		unsigned int lo = rnd() % 60000, span = rnd() % 4 ? 0 : rnd() % 1000;

		len += (size_t)snprintf(j + len, cap - len,
			"%s{\"id\": \"r%u\", \"src\": \"%u.%u.%u.%u/%u\", "
			"\"dst\": \"%u.%u.%u.%u/%u\", \"proto\": \"%s\", "
			"\"dport\": \"%u-%u\"%s, \"action\": \"%s\"}",
			i ? "," : "", i, s >> 24, (s >> 16) & 255, (s >> 8) & 255,
			s & 255, sl, d >> 24, (d >> 16) & 255, (d >> 8) & 255,
			d & 255, dl, rnd() % 2 ? "tcp" : "udp", lo, lo + span,
			rnd() % 2 ? ", \"sport\": \"1024-65535\"" : "",
			rnd() % 2 ? "accept" : "drop");
	}
	snprintf(j + len, cap - len, "]}");
	return j;
}

static void
make_flows(struct sl_pkt_meta *m, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t src[4], dst[4];
		uint32_t s = rnd(), d = rnd();

		memcpy(src, &s, 4);
		memcpy(dst, &d, 4);
		memset(&m[i], 0, sizeof(m[i]));
		m[i].l3 = SL_L3_IPV4;
		m[i].l4_proto = i % 2 ? 6 : 17;
		m[i].sport = (uint16_t)(1024 + rnd() % 60000);
		m[i].dport = (uint16_t)(rnd() % 60000);
		m[i].tcp_flags = 0x10;
		m[i].pkt_len = 60;
		m[i].key_swapped = sl_flow_key_make(&m[i].key, SL_FAMILY_IPV4,
						    m[i].l4_proto, src, dst, 4,
						    m[i].sport, m[i].dport);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
bench_rules(unsigned int n_rules, const struct sl_pkt_meta *flows,
	    unsigned int n_flows, unsigned int n_packets)
{
	char *json = random_policy(n_rules);
	struct sl_policy *p;
	struct sl_policy_errors errs;
	uint64_t hz = rte_get_tsc_hz(), t0, t_load, t_build;
	uint64_t runs[5];
	struct fw_gen *g;
	char err[256];

	t0 = rte_rdtsc();
	if (sl_policy_from_json_str(json, &p, &errs) != 0) {
		sl_policy_errors_print(stderr, "bench", &errs);
		exit(1);
	}
	t_load = rte_rdtsc() - t0;
	t0 = rte_rdtsc();
	g = fw_build(p, NULL, 1, 1, err, sizeof(err));
	t_build = rte_rdtsc() - t0;
	if (g == NULL) {
		fprintf(stderr, "fw_build: %s\n", err);
		exit(1);
	}

	for (unsigned int r = 0; r < 5; r++) {
		const struct sl_pkt_meta *meta[32];
		const uint8_t *data[32] = { 0 };
		uint8_t ct[32];
		uint16_t in[32] = { 0 };
		struct fw_verdict v[32];

		memset(ct, SL_CT_ESTABLISHED, sizeof(ct));
		t0 = rte_rdtsc();
		for (unsigned int done = 0; done < n_packets; done += 32) {
			for (unsigned int i = 0; i < 32; i++)
				meta[i] = &flows[(done + i) % n_flows];
			fw_classify_burst(g, 0, meta, data, ct, in, 32, v);
		}
		runs[r] = rte_rdtsc() - t0;
	}
	qsort(runs, 5, sizeof(runs[0]), cmp_u64);
	printf("%8u rules: load %7.1f ms, build %8.1f ms, classify %6.1f "
	       "cycles/packet (%5.1f Mpps)\n", n_rules,
	       (double)t_load * 1e3 / (double)hz,
	       (double)t_build * 1e3 / (double)hz,
	       (double)runs[2] / n_packets,
	       (double)n_packets * (double)hz / (double)runs[2] / 1e6);
	fw_free(g);
	sl_policy_free(p);
	free(json);
}

static void
bench_conntrack(unsigned int n_flows)
{
	struct rte_malloc_socket_stats before, after;
	struct sl_pkt_meta *m = malloc(sizeof(*m) * n_flows);
	struct ct_params cp = {
		.name = "bench_ct", .socket = 0, .max_flows = n_flows,
		.hash_seed = 1,
		.timeouts = { .tcp_syn = 30, .tcp_syn_ack = 30,
			      .tcp_established = 3600, .tcp_closing = 120,
			      .tcp_closed = 10, .udp_new = 30,
			      .udp_established = 180, .icmp = 30, .other = 60 },
	};
	struct ct_table *t;
	uint64_t hz = rte_get_tsc_hz(), t0, t_new, t_est;

	make_flows(m, n_flows);
	for (unsigned int i = 0; i < n_flows; i++)
		m[i].tcp_flags = 0x02;	/* SYN: every packet opens a flow */
	rte_malloc_get_socket_stats(0, &before);
	t = ct_table_create(&cp);
	rte_malloc_get_socket_stats(0, &after);
	if (t == NULL) {
		fprintf(stderr, "ct_table_create failed\n");
		exit(1);
	}

	uint64_t now = rte_rdtsc();
	t0 = rte_rdtsc();
	for (unsigned int done = 0; done < n_flows; done += 32) {
		const struct sl_pkt_meta *v[32];
		struct ct_pkt c[32];
		unsigned int n = n_flows - done < 32 ? n_flows - done : 32;

		for (unsigned int i = 0; i < n; i++)
			v[i] = &m[done + i];
		for (uint16_t k = 0, got; k < n; k += got) {
			got = ct_lookup_burst(t, v + k, (uint16_t)(n - k), now, c);
			for (uint16_t i = 0; i < got; i++)
				if (c[i].ct == SL_CT_NEW && c[i].entry < 0)
					ct_commit(t, v[k + i], &c[i], now);
		}
	}
	t_new = rte_rdtsc() - t0;

	for (unsigned int i = 0; i < n_flows; i++)
		m[i].tcp_flags = 0x10;
	t0 = rte_rdtsc();
	for (unsigned int done = 0; done < n_flows; done += 32) {
		const struct sl_pkt_meta *v[32];
		struct ct_pkt c[32];
		unsigned int n = n_flows - done < 32 ? n_flows - done : 32;

		for (unsigned int i = 0; i < n; i++)
			v[i] = &m[done + i];
		ct_lookup_burst(t, v, (uint16_t)n, now, c);
	}
	t_est = rte_rdtsc() - t0;

	printf("conntrack %u flows: %.2f M new flows/s, lookup of known "
	       "flows %.1f cycles/packet, %.1f MB per million flows "
	       "(%u tracked)\n", n_flows,
	       (double)n_flows * (double)hz / (double)t_new / 1e6,
	       (double)t_est / n_flows,
	       (double)(after.heap_allocsz_bytes - before.heap_allocsz_bytes) /
		       1e6 * 1e6 / n_flows, ct_table_count(t));
	ct_table_free(t);
	free(m);
}

int
main(int argc, char **argv)
{
	unsigned int rules[8] = { 1000, 10000, 100000 }, n_rules = 3;
	unsigned int n_flows = 10000, n_packets = 2000000;
	int ret = rte_eal_init(argc, argv);
	int c;

	if (ret < 0)
		return 1;
	argc -= ret;
	argv += ret;
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },
		{ "packets", required_argument, NULL, 'p' },
		{ 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			n_rules = 0;
			for (char *s = strtok(optarg, ","); s && n_rules < 8;
			     s = strtok(NULL, ","))
				rules[n_rules++] = (unsigned int)atoi(s);
			break;
		case 'f':
			n_flows = (unsigned int)atoi(optarg);
			break;
		case 'p':
			n_packets = (unsigned int)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_fw [EAL] -- [--rules N,..] "
				"[--flows N] [--packets N]\n");
			return 2;
		}
	}

	struct sl_pkt_meta *flows = malloc(sizeof(*flows) * n_flows);

	fw_build_keep_heap();	/* as the dataplane does */

	make_flows(flows, n_flows);
	printf("# TSC %.2f GHz; %u flows, %u packets per classify run "
	       "(median of 5)\n", (double)rte_get_tsc_hz() / 1e9, n_flows,
	       n_packets);
	for (unsigned int i = 0; i < n_rules; i++)
		bench_rules(rules[i], flows, n_flows, n_packets);
	bench_conntrack(1u << 20);
	free(flows);
	rte_eal_cleanup();
	return 0;
}
