/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Steer to tunnel targets in XDP against the DPDK path, packet by packet
 * through BPF_PROG_TEST_RUN, which returns the frame as the program left
 * it.  The oracle is the DPDK code itself: rep_build() compiles the same
 * policy's tunnels (encap_tunnel_init), and each expected frame is what
 * encap_copy() (dataplane/encap.c) makes of the input with the flow hash
 * dp_flow_hash(meta.key, seed), the egress interface's MAC and the
 * neighbour's MAC from the test namespace, linearised.  In a network
 * namespace of the test's own, with forwarding on:
 *
 *   e0                                  the packets' ingress, attached
 *   e1 10.99.1.1/24, fd99:1::1/64       attached; neighbour .2 / ::2
 *                                       known; 10.99.9.0/24, fd99:9::/64
 *                                       via it; 10.99.6.0/24 via it with
 *                                       mtu lock 576
 *   e2 10.99.2.1/24                     not attached; neighbour .2 known
 *
 *  - VXLAN, GENEVE and GRE (with and without key), outer IPv4 and IPv6,
 *    on-link and through a gateway, one tunnel without `local` (the
 *    source the kernel picks): the template sl_tun holds is
 *    encap_tunnel_init()'s, byte for byte, and every frame (inner IPv4
 *    and IPv6, tagged and untagged, payloads of every length class around
 *    the IPv6 checksum's chunks) leaves with XDP_REDIRECT as encap_copy()'s
 *    bytes - MACs, lengths, IPv4 ID and checksum, UDP source port, IPv6
 *    flow label and UDP checksum;
 *  - over IPv6 with UDP, every frame length up to the MTU (the checksum
 *    sums 512-byte chunks in the packet and copies the rest);
 *  - a group of a port and two tunnels: every random flow reaches the
 *    DPDK path's target, untouched or encapsulated as encap_copy();
 *  - no neighbour, no route, an outer egress not attached and an outer
 *    packet above the egress or route MTU: XDP_DROP, no_target, and the
 *    steer reason;
 *  - sl_steer, the no_target drops and the ingress port's steered count
 *    what the packets gave;
 *  - a cluster group as sluiced derives it compiles to its members'
 *    tunnels, for steer and for replicate.
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <rte_mbuf.h>

#include "sluice/maglev.h"

#include "encap.h"
#include "flow_hash.h"
#include "parse.h"
#include "rep.h"
#include "test_eal.h"
#include "test_util.h"
#include "xdp_compile.h"
#include "xdp_loader.h"

static struct sl_xdp *xdp;
static struct rte_mempool *pool;
static uint64_t rng = 0x7e57e7ca95ull;
static uint32_t ifx_e0;
static uint8_t mac_e1[6];
static const uint8_t mac_nb[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x02 };
static const uint8_t local4[4] = { 10, 99, 1, 1 };
static const uint64_t seed = 0x5157a11ce0ffee01ull;

/* The outer IPv4 ID: the program's counter of this CPU (the test runs on
 * one), followed from the first IPv4 frame on. */
static uint16_t ip_id;
static bool ip_id_known;

/* What the packets gave, for the counter check. */
static uint64_t seen[SL_XDP_ST_MAX], seen_no_target;

/*
 * Groups 0..N_GROUPS-1; rule g steers UDP port 1000 + g to group g, the
 * default steers to the mixed group.  The targets' JSON, and what a
 * packet to each meets.
 */
static const struct {
	const char *target;
	unsigned int why;	/* SL_XDP_ST_* of a small frame */
} groups[] = {
	{ "{\"kind\": \"vxlan\", \"vni\": 4242, \"remote\": \"10.99.1.2\","
	  " \"local\": \"10.99.1.1\"}", SL_XDP_ST_ENCAPSULATED },
	{ "{\"kind\": \"vxlan\", \"vni\": 11259375, \"udp_port\": 8472,"
	  " \"remote\": \"fd99:1::2\", \"local\": \"fd99:1::1\"}",
	  SL_XDP_ST_ENCAPSULATED },
	/* no local: the kernel's source for the remote */
	{ "{\"kind\": \"geneve\", \"vni\": 77, \"remote\": \"10.99.9.7\"}",
	  SL_XDP_ST_ENCAPSULATED },
	{ "{\"kind\": \"geneve\", \"vni\": 5, \"remote\": \"fd99:9::7\","
	  " \"local\": \"fd99:1::1\"}", SL_XDP_ST_ENCAPSULATED },
	{ "{\"kind\": \"gre\", \"remote\": \"10.99.1.2\","
	  " \"local\": \"10.99.1.1\"}", SL_XDP_ST_ENCAPSULATED },
	{ "{\"kind\": \"gre\", \"key\": 3735928559, \"remote\": \"10.99.9.7\","
	  " \"local\": \"10.99.1.1\"}", SL_XDP_ST_ENCAPSULATED },
	{ "{\"kind\": \"gre\", \"key\": 4660, \"remote\": \"fd99:1::2\","
	  " \"local\": \"fd99:1::1\"}", SL_XDP_ST_ENCAPSULATED },
	{ "{\"kind\": \"gre\", \"remote\": \"fd99:9::7\","
	  " \"local\": \"fd99:1::1\"}", SL_XDP_ST_ENCAPSULATED },
	/* on-link, no neighbour entry */
	{ "{\"kind\": \"vxlan\", \"vni\": 1, \"remote\": \"10.99.1.5\","
	  " \"local\": \"10.99.1.1\"}", SL_XDP_ST_NO_NEIGH },
	{ "{\"kind\": \"vxlan\", \"vni\": 1, \"remote\": \"192.0.2.9\","
	  " \"local\": \"10.99.1.1\"}", SL_XDP_ST_NO_ROUTE },
	{ "{\"kind\": \"gre\", \"remote\": \"10.99.2.2\","
	  " \"local\": \"10.99.2.1\"}", SL_XDP_ST_OUTER_NO_EGRESS },
	/* route MTU 576: small frames go, large ones are too_big (as are
	 * those above e1's 1500 to every tunnel) */
	{ "{\"kind\": \"vxlan\", \"vni\": 6, \"remote\": \"10.99.6.6\","
	  " \"local\": \"10.99.1.1\"}", SL_XDP_ST_ENCAPSULATED },
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))
#define G_MIXED ((unsigned int)N_GROUPS)	/* port e1, vxlan, gre */

/* ---- the policy ---- */

static struct sl_policy *
make_policy(void)
{
	static char buf[16384];
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf),
		"{\"version\": 1, \"settings\": {\"flow_hash_seed\": "
		"\"0x%016llx\", \"conntrack\": {\"enabled\": false}},"
		" \"ports\": [{\"name\": \"e0\"}, {\"name\": \"e1\"},"
		" {\"name\": \"e2\"}], \"rules\": [", (unsigned long long)seed);
	for (unsigned int g = 0; g < N_GROUPS; g++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			"%s{\"id\": \"t%u\", \"proto\": \"udp\", \"dport\": %u, "
			"\"action\": {\"steer\": {\"group\": \"g%u\"}}}",
			g ? ", " : "", g, 1000 + g, g);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "], \"default\": "
		"{\"steer\": {\"group\": \"g%u\"}}, \"groups\": [", G_MIXED);
	for (unsigned int g = 0; g < N_GROUPS; g++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			"{\"name\": \"g%u\", \"targets\": [%s]}, ", g,
			groups[g].target);
	snprintf(buf + n, sizeof(buf) - n, "{\"name\": \"g%u\", \"targets\": ["
		"{\"kind\": \"port\", \"port\": \"e1\"}, %s, %s]}]}", G_MIXED,
		groups[0].target, groups[7].target);
	if (sl_policy_from_json_str(buf, &p, &errs) != 0) {
		sl_policy_errors_print(stderr, "test policy", &errs);
		fail_msg("the test policy does not load:\n%s", buf);
	}
	return p;
}

/* rep_build()'s source for a tunnel without `local`: the address of the
 * port the route to the remote leaves by (e1 for every remote here). */
static int
dpdk_source(void *arg, const struct sl_prefix *remote, uint8_t *out)
{
	(void)arg;
	if (remote->family != SL_FAMILY_IPV4)
		return -EADDRNOTAVAIL;
	memcpy(out, local4, 4);
	return 0;
}

/* The DPDK path's groups: policy port i is DPDK port i. */
static struct rep_gen *
dpdk_groups(const struct sl_policy *p)
{
	uint16_t port_of[3] = { 0, 1, 2 };
	char err[256];
	struct rep_gen *r = rep_build(p, port_of, dpdk_source, NULL, err,
				      sizeof(err));

	if (r == NULL)
		fail_msg("rep_build: %s", err);
	return r;
}

/* ---- frames ---- */

struct inner {
	int family;		/* 4 or 6 */
	uint8_t proto;		/* 17 or 6 */
	uint16_t sport, dport;
	uint16_t payload;
	int vlan;		/* -1: untagged */
};

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A valid frame of f (addresses random but never martian); its length. */
static uint16_t
frame(const struct inner *f, uint8_t *b)
{
	size_t l3 = f->vlan >= 0 ? 18 : 14, l4;
	size_t l4len = f->proto == 6 ? 20 : 8;
	uint64_t a = test_rng(&rng), c = test_rng(&rng);

	memset(b, 0, 2048);
	memcpy(b, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	if (f->vlan >= 0) {
		put16(b + 12, 0x8100);
		put16(b + 14, (unsigned int)f->vlan);
	}
	put16(b + l3 - 2, f->family == 4 ? 0x0800 : 0x86dd);
	if (f->family == 4) {
		b[l3] = 0x45;
		put16(b + l3 + 2, (unsigned int)(20 + l4len + f->payload));
		b[l3 + 8] = 64;
		b[l3 + 9] = f->proto;
		memcpy(b + l3 + 12, &a, 4);
		memcpy(b + l3 + 16, &c, 4);
		b[l3 + 12] = 10;
		b[l3 + 16] = 10;
		put16(b + l3 + 10, (uint16_t)~test_ref_sum(b + l3, 20, 0));
		l4 = l3 + 20;
	} else {
		b[l3] = 0x60;
		put16(b + l3 + 4, (unsigned int)(l4len + f->payload));
		b[l3 + 6] = f->proto;
		b[l3 + 7] = 64;
		memcpy(b + l3 + 8, &a, 8);
		memcpy(b + l3 + 16, &c, 8);
		memcpy(b + l3 + 24, &c, 8);
		memcpy(b + l3 + 32, &a, 8);
		b[l3 + 8] = 0xfd;
		b[l3 + 24] = 0xfd;
		l4 = l3 + 40;
	}
	put16(b + l4, f->sport);
	put16(b + l4 + 2, f->dport);
	if (f->proto == 6) {
		b[l4 + 12] = 0x50;
		b[l4 + 13] = 0x10;	/* ACK */
	} else {
		put16(b + l4 + 4, (unsigned int)(l4len + f->payload));
	}
	for (unsigned int i = 0; i < f->payload; i++)
		b[l4 + l4len + i] = (uint8_t)test_rng(&rng);
	return (uint16_t)(l4 + l4len + f->payload);
}

/* ---- the oracle ---- */

/* What encap_copy() makes of pkt toward t, linearised into out. */
static uint32_t
dpdk_encap(const struct encap_tunnel *t, const uint8_t *pkt, uint16_t len,
	   uint64_t hash, uint8_t *out, uint32_t size)
{
	struct rte_ether_addr src, dst;
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool), *c;
	uint32_t n;
	const void *d;
	char *p;

	assert_non_null(m);
	p = rte_pktmbuf_append(m, len);
	assert_non_null(p);
	memcpy(p, pkt, len);
	memcpy(src.addr_bytes, mac_e1, 6);
	memcpy(dst.addr_bytes, mac_nb, 6);
	c = encap_copy(m, t, &src, &dst, hash, &ip_id, pool, pool);
	assert_non_null(c);
	n = rte_pktmbuf_pkt_len(c);
	assert_true(n <= size);
	d = rte_pktmbuf_read(c, 0, n, out);
	assert_non_null(d);
	if (d != out)
		memcpy(out, d, n);
	rte_pktmbuf_free(c);
	rte_pktmbuf_free(m);
	return n;
}

static void
dump_diff(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	for (uint32_t i = 0; i < alen && i < blen; i++) {
		if (a[i] != b[i]) {
			fprintf(stderr, "first difference at byte %u: XDP %02x, "
				"DPDK %02x (lengths %u, %u)\n", i, a[i], b[i],
				alen, blen);
			return;
		}
	}
	fprintf(stderr, "lengths differ: XDP %u, DPDK %u\n", alen, blen);
}

/*
 * Run the frame of f through XDP under policy p (rule: the rule index it
 * meets) and check it against the DPDK path: the target, and the frame
 * it leaves as, or the reason it cannot go (why_fail, for a tunnel).
 */
static void
check_frame(const struct sl_policy *p, const struct rep_gen *rep,
	    const struct inner *f, uint32_t rule, unsigned int why_fail)
{
	static uint8_t pkt[2048], out[4096], exp[4096];
	const struct sl_action *a = rule < p->n_rules ? &p->rules[rule].action
						      : &p->default_action;
	const struct rep_group *g;
	const struct rep_target *t;
	uint16_t len = frame(f, pkt), pick[1] = { 0 };
	uint32_t out_len, exp_len;
	struct sl_xdp_test_result r;
	struct sl_pkt_meta m;
	uint64_t hash;
	int ret;

	sl_parse_one(pkt, len, &m);
	assert_int_equal(m.drop_reason, 0);
	hash = dp_flow_hash(&m.key, rep->seed);
	g = &rep->groups[sl_policy_find_group(p, a->group)];
	assert_int_equal(sl_maglev_pick(g->table, g->size, g->n_live, hash, 1,
					pick), 1);
	t = &g->targets[pick[0]];

	ret = sl_xdp_test_run_frame(xdp, pkt, len, ifx_e0, out, sizeof(out),
				    &out_len, &r);
	if (ret != 0)
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(-ret));
	assert_int_equal(r.v.rule, rule);
	assert_int_equal(r.v.target, pick[0]);
	if (t->kind == SL_TARGET_PORT) {
		assert_int_equal(r.xdp_action, XDP_REDIRECT);
		assert_int_equal(r.v.steer, SL_XDP_ST_STEERED);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, pkt, len);
		seen[SL_XDP_ST_STEERED]++;
		return;
	}
	/* The outer packet has DF set: above the egress MTU (1500, or the
	 * route's 576) the FIB lookup says so wherever it finds a route,
	 * before it looks for the neighbour; the DPDK path leaves that
	 * check to its caller (encap.h). */
	if (why_fail != SL_XDP_ST_NO_ROUTE &&
	    t->tun.hdr_len - 14u + len > (t->tun.remote[0] == 10 &&
					  t->tun.remote[2] == 6 ? 576u : 1500u))
		why_fail = SL_XDP_ST_TOO_BIG;
	if (why_fail != SL_XDP_ST_ENCAPSULATED) {
		if (r.xdp_action != XDP_DROP || r.v.steer != why_fail ||
		    r.v.reason != SL_DROP_NO_TARGET)
			fail_msg("group %s, %u bytes: action %u steer %s reason "
				 "%u; expected a drop (no_target), %s", a->group,
				 len, r.xdp_action,
				 sl_xdp_st_reason_name(r.v.steer), r.v.reason,
				 sl_xdp_st_reason_name(why_fail));
		seen[why_fail]++;
		seen_no_target++;
		return;
	}
	if (r.xdp_action != XDP_REDIRECT || r.v.steer != SL_XDP_ST_ENCAPSULATED)
		fail_msg("group %s, %u bytes: action %u steer %s; expected "
			 "encapsulated", a->group, len, r.xdp_action,
			 sl_xdp_st_reason_name(r.v.steer));
	if (t->tun.family == SL_FAMILY_IPV4 && !ip_id_known) {
		/* the counter of this CPU, wherever earlier runs left it */
		ip_id = (uint16_t)(out[18] << 8 | out[19]);
		ip_id_known = true;
	}
	exp_len = dpdk_encap(&t->tun, pkt, len, hash, exp, sizeof(exp));
	if (out_len != exp_len || memcmp(out, exp, exp_len) != 0) {
		dump_diff(out, out_len, exp, exp_len);
		fail_msg("group %s (%s over IPv%u), inner IPv%d %u bytes: the "
			 "XDP frame is not encap_copy()'s", a->group,
			 sl_target_kind_name(t->kind), t->tun.family,
			 f->family, len);
	}
	seen[SL_XDP_ST_ENCAPSULATED]++;
}

/* ---- tests ---- */

static void
test_tunnel_templates_are_encap_tunnel_init_s(void **state)
{
	struct sl_policy *p = make_policy();
	struct rep_gen *rep = dpdk_groups(p);
	uint32_t ifx[3] = { ifx_e0, if_nametoindex("e1"), if_nametoindex("e2") };
	struct sl_xdp_image *img;
	char err[256];
	uint32_t checked = 0;

	(void)state;
	if (sl_xdp_compile(p, ifx, &img, err, sizeof(err)) != 0)
		fail_msg("compile: %s", err);
	for (uint32_t k = 0; k < img->n_groups; k++) {
		const struct rep_group *g = &rep->groups[img->group_of[k]];
		const struct sl_xdp_group *x = &img->groups[k];

		for (uint32_t i = 0; i < g->n_targets; i++) {
			const struct encap_tunnel *d = &g->targets[i].tun;
			const struct sl_xdp_tunnel *t;
			unsigned int alen = d->family == SL_FAMILY_IPV4 ? 4 : 16;

			if (g->targets[i].kind == SL_TARGET_PORT) {
				assert_int_equal(x->ifindex[i], ifx[1]);
				continue;
			}
			assert_true(x->ifindex[i] & SL_XDP_TUN);
			assert_true((x->ifindex[i] & ~SL_XDP_TUN) < img->n_tun);
			t = &img->tun[x->ifindex[i] & ~SL_XDP_TUN];
			assert_int_equal(t->kind, d->kind);
			assert_int_equal(t->family, d->family);
			assert_int_equal(t->hdr_len, d->hdr_len);
			assert_int_equal(t->ip4_sum, d->ip4_sum);
			assert_int_equal(t->udp_dport, d->kind == SL_TARGET_GRE ?
					 0 : d->udp_dport);
			assert_memory_equal(t->local, d->local, alen);
			assert_memory_equal(t->remote, d->remote, alen);
			assert_memory_equal(t->tmpl, d->tmpl, d->hdr_len);
			checked++;
		}
	}
	printf("# %u tunnel templates equal encap_tunnel_init()'s\n", checked);
	assert_int_equal(checked, N_GROUPS + 2);
	sl_xdp_image_free(img);
	rep_free(rep);
	sl_policy_free(p);
}

static void
test_every_tunnel_frame_is_encap_copy_s_bytes(void **state)
{
	struct sl_policy *p = make_policy();
	struct rep_gen *rep = dpdk_groups(p);
	/* UDP payloads: empty, odd, and around the IPv6 checksum's 512-byte
	 * chunks (the UDP datagram is 16 + frame bytes) */
	static const uint16_t sizes[] = { 0, 1, 2, 3, 5, 100, 401, 402, 403,
					  404, 405, 913, 914, 915, 916, 1000,
					  1401, 1402 };
	char err[512];
	unsigned int frames = 0;

	(void)state;
	if (sl_xdp_apply(xdp, p, NULL, err, sizeof(err)) != 0)
		fail_msg("apply: %s", err);
	for (unsigned int g = 0; g < N_GROUPS; g++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (int v = 0; v < 4; v++) {
				struct inner f = {
					.family = v & 1 ? 6 : 4,
					.proto = 17,
					.sport = (uint16_t)(test_rng(&rng) %
							    60000 + 1024),
					.dport = (uint16_t)(1000 + g),
					.payload = sizes[s],
					.vlan = v & 2 ? 42 : -1,
				};
				check_frame(p, rep, &f, g, groups[g].why);
				frames++;
			}
		}
	}
	printf("# %u frames to %zu tunnels: %llu encapsulated as encap_copy(), "
	       "%llu dropped (no_neigh %llu, no_route %llu, outer_no_egress "
	       "%llu, too_big %llu)\n", frames, N_GROUPS,
	       (unsigned long long)seen[SL_XDP_ST_ENCAPSULATED],
	       (unsigned long long)seen_no_target,
	       (unsigned long long)seen[SL_XDP_ST_NO_NEIGH],
	       (unsigned long long)seen[SL_XDP_ST_NO_ROUTE],
	       (unsigned long long)seen[SL_XDP_ST_OUTER_NO_EGRESS],
	       (unsigned long long)seen[SL_XDP_ST_TOO_BIG]);
	assert_true(seen[SL_XDP_ST_TOO_BIG] > 0 &&
		    seen[SL_XDP_ST_ENCAPSULATED] > 0);
	rep_free(rep);
	sl_policy_free(p);
}

/* The IPv6 UDP checksum sums whole 512-byte chunks in the packet and
 * copies the rest: every datagram length, odd and even, across the
 * chunk boundaries, up to e1's MTU. */
static void
test_ipv6_udp_checksum_is_encap_copy_s_for_every_length(void **state)
{
	struct sl_policy *p = make_policy();
	struct rep_gen *rep = dpdk_groups(p);
	static const unsigned int v6_udp[] = { 1, 3 };	/* vxlan, geneve */
	uint64_t before = seen[SL_XDP_ST_ENCAPSULATED];

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		for (uint16_t pay = 0; pay <= 1500 - 70 - 42; pay++) {
			struct inner f = {
				.family = 4,
				.proto = 17,
				.sport = (uint16_t)(test_rng(&rng) % 60000 +
						    1024),
				.dport = (uint16_t)(1000 + v6_udp[k]),
				.payload = pay,
				.vlan = -1,
			};

			check_frame(p, rep, &f, v6_udp[k],
				    SL_XDP_ST_ENCAPSULATED);
		}
	}
	printf("# %llu IPv6 UDP tunnel frames of every length: 0 "
	       "mismatches\n",
	       (unsigned long long)(seen[SL_XDP_ST_ENCAPSULATED] - before));
	assert_int_equal(seen[SL_XDP_ST_ENCAPSULATED] - before,
			 2 * (1500 - 70 - 42 + 1));
	rep_free(rep);
	sl_policy_free(p);
}

static void
test_mixed_group_flows_reach_the_dpdk_target_as_the_dpdk_path_sends_them(
	void **state)
{
	const char *env = getenv("SL_TEST_FLOWS");
	unsigned long flows = env ? strtoul(env, NULL, 10) : 3000;
	struct sl_policy *p = make_policy();
	struct rep_gen *rep = dpdk_groups(p);
	uint64_t before[SL_XDP_ST_MAX];

	(void)state;
	memcpy(before, seen, sizeof(seen));
	for (unsigned long i = 0; i < flows; i++) {
		struct inner f = {
			.family = test_rng(&rng) % 2 ? 6 : 4,
			.proto = test_rng(&rng) % 2 ? 6 : 17,
			.sport = (uint16_t)(test_rng(&rng) % 60000 + 1024),
			.dport = (uint16_t)(test_rng(&rng) % 1000 + 2000),
			.payload = (uint16_t)(test_rng(&rng) % 1400),
			.vlan = -1,
		};

		check_frame(p, rep, &f, (uint32_t)p->n_rules,
			    SL_XDP_ST_ENCAPSULATED);
	}
	printf("# %lu random flows to a port and two tunnels: %llu steered "
	       "untouched, %llu encapsulated, 0 mismatches\n", flows,
	       (unsigned long long)(seen[SL_XDP_ST_STEERED] -
				    before[SL_XDP_ST_STEERED]),
	       (unsigned long long)(seen[SL_XDP_ST_ENCAPSULATED] -
				    before[SL_XDP_ST_ENCAPSULATED]));
	assert_true(seen[SL_XDP_ST_STEERED] > before[SL_XDP_ST_STEERED]);
	rep_free(rep);
	sl_policy_free(p);
}

/*
 * Not an assertion: the cost of a packet steered to a port (untouched)
 * and to three tunnels.  BPF_PROG_TEST_RUN in live-frame mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES): each repetition starts from a fresh copy
 * of the frame and its redirect is carried out (into e1, whose peer
 * drops it), so the figure includes the redirect; an ordinary repeated
 * run would encapsulate one buffer again and again.
 */
static void
print_cost_of_encapsulation(void)
{
	static const struct { const char *what; unsigned int rule;
			      uint16_t payload; } cases[] = {
		{ "steered to a port (mixed group, untouched)", 0, 64 },
		{ "vxlan over IPv4", 0, 64 },
		{ "gre with key over IPv4", 5, 64 },
		{ "vxlan over IPv6, 1400-byte frame (UDP checksum)", 1, 1336 },
	};
	static uint8_t pkt[2048];
	const int calls = 20;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct inner f = { .family = 4, .proto = 17, .sport = 40000,
				   .dport = (uint16_t)(1000 + cases[c].rule),
				   .payload = cases[c].payload, .vlan = -1 };
		uint64_t ns = 0;
		uint16_t len;
		struct xdp_md ctx;

		if (c == 0) {
			/* a flow of the default (mixed) group that picks
			 * the port */
			f.dport = 2000;
			for (f.sport = 1024;; f.sport++) {
				struct sl_xdp_test_result r;

				len = frame(&f, pkt);
				assert_int_equal(sl_xdp_test_run(xdp, pkt, len,
								 ifx_e0, &r), 0);
				if (r.v.steer == SL_XDP_ST_STEERED)
					break;
			}
		} else {
			len = frame(&f, pkt);
		}
		ctx = (struct xdp_md){ .data_end = len,
				       .ingress_ifindex = ifx_e0 };
		/* the first calls warm up (page pool, caches): not
		 * counted */
		for (int i = -calls; i < calls; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
				    .data_size_in = len, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 1000,
				    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

			assert_int_equal(bpf_prog_test_run_opts(
						sl_xdp_prog_fd(xdp), &o), 0);
			if (i >= 0)
				ns += o.duration;
		}
		printf("# per packet (BPF_PROG_TEST_RUN, live frames, 12 rules, "
		       "conntrack off): %s %.0f ns\n", cases[c].what,
		       (double)ns / calls);
	}
}

static void
test_tunnel_counters_count_what_the_packets_gave(void **state)
{
	struct sl_xdp_stats *s;

	(void)state;
	assert_int_equal(sl_xdp_stats_read(xdp, &s), 0);
	for (unsigned int r = 0; r < SL_XDP_ST_MAX; r++)
		if (s->steer[r].packets != seen[r])
			fail_msg("steer %s: counted %llu, the packets gave "
				 "%llu", sl_xdp_st_reason_name(r),
				 (unsigned long long)s->steer[r].packets,
				 (unsigned long long)seen[r]);
	assert_int_equal(s->drops[SL_DROP_NO_TARGET].packets, seen_no_target);
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].ifindex == ifx_e0)
			assert_int_equal(s->ports[i].steered,
					 seen[SL_XDP_ST_STEERED] +
					 seen[SL_XDP_ST_ENCAPSULATED]);
	sl_xdp_stats_free(s);
	print_cost_of_encapsulation();
}

/*
 * A cluster group as sluiced derives it (sd_cluster_derive(): `cluster`
 * still set, the live members' tunnels as targets) compiles to those
 * tunnels; one with no member yet (the operator's document) to a group
 * that steers to nobody.  Replicate to it compiles too: each copy to a
 * member is a tunnel copy (sl_tun entries of its own).
 */
static void
test_derived_cluster_group_compiles_to_its_member_tunnels(void **state)
{
	static const char derived[] = "{\"version\": 1, \"rules\": [{\"proto\":"
		" \"udp\", \"action\": {\"steer\": {\"group\": \"c\"}}}],"
		" \"groups\": [{\"name\": \"c\", \"cluster\": {\"kind\":"
		" \"vxlan\", \"vni\": 9}, \"targets\": ["
		"{\"kind\": \"vxlan\", \"vni\": 9, \"remote\": \"192.0.2.1\","
		" \"local\": \"192.0.2.9\"},"
		"{\"kind\": \"vxlan\", \"vni\": 9, \"remote\": \"192.0.2.2\","
		" \"local\": \"192.0.2.9\"}]}]}";
	static const char empty[] = "{\"version\": 1, \"rules\": [{\"proto\":"
		" \"udp\", \"action\": {\"steer\": {\"group\": \"c\"}}}],"
		" \"groups\": [{\"name\": \"c\", \"cluster\": {\"kind\":"
		" \"vxlan\", \"vni\": 9}}]}";
	uint32_t ifx[1] = { ifx_e0 };
	struct sl_policy_errors errs;
	struct sl_xdp_image *img;
	struct sl_policy *p = NULL;
	char err[512] = "";

	(void)state;
	if (sl_policy_from_json_str(derived, &p, &errs) != 0) {
		sl_policy_errors_print(stderr, "derived policy", &errs);
		fail_msg("the derived policy does not load");
	}
	assert_true(p->groups[0].cluster);
	if (sl_xdp_compile(p, ifx, &img, err, sizeof(err)) != 0)
		fail_msg("compile: %s", err);
	assert_int_equal(img->n_groups, 1);
	assert_int_equal(img->n_tun, 2);
	sl_xdp_image_free(img);

	p->rules[0].action.type = SL_ACTION_REPLICATE;
	p->rules[0].action.copies = 1;
	if (sl_xdp_compile(p, ifx, &img, err, sizeof(err)) != 0)
		fail_msg("replicate to the derived group: %s", err);
	assert_int_equal(img->n_rgroups, 1);
	assert_int_equal(img->n_tun, 2);
	sl_xdp_image_free(img);
	sl_policy_free(p);

	if (sl_policy_from_json_str(empty, &p, &errs) != 0) {
		sl_policy_errors_print(stderr, "empty cluster policy", &errs);
		fail_msg("the policy does not load");
	}
	if (sl_xdp_policy_supported(p, err, sizeof(err)) != 0)
		fail_msg("a cluster group with no member yet: %s", err);
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

/* SIOCGIFHWADDR, not /sys/class/net: sysfs shows the namespace it was
 * mounted in, not this one. */
static int
read_mac(const char *ifname, uint8_t *mac)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (ret != 0)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static int
setup_netns(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		/* The peers stay silent: only the test's packets count. */
		"for d in e0 e1 e2; do ip link add $d type veth peer name "
		"${d}p && sysctl -qw net.ipv6.conf.${d}p.disable_ipv6=1 && "
		"ip link set $d up && ip link set ${d}p up || exit 1; done",
		"ip addr add 10.99.1.1/24 dev e1",
		"ip addr add fd99:1::1/64 dev e1 nodad",
		"ip addr add 10.99.2.1/24 dev e2",
		"ip neigh add 10.99.1.2 lladdr 02:00:00:00:01:02 dev e1 nud permanent",
		"ip neigh add fd99:1::2 lladdr 02:00:00:00:01:02 dev e1 nud permanent",
		"ip neigh add 10.99.2.2 lladdr 02:00:00:00:02:02 dev e2 nud permanent",
		"ip route add 10.99.9.0/24 via 10.99.1.2 dev e1",
		"ip route add fd99:9::/64 via fd99:1::2 dev e1",
		"ip route add 10.99.6.0/24 via 10.99.1.2 dev e1 mtu lock 576",
		/* the outer lookup is the kernel's input lookup from e0 */
		"sysctl -qw net.ipv4.ip_forward=1",
		"sysctl -qw net.ipv6.conf.all.forwarding=1",
	};

	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (sh(cmds[i]) != 0)
			return -1;
	ifx_e0 = if_nametoindex("e0");
	return ifx_e0 != 0 && read_mac("e1", mac_e1) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tunnel_templates_are_encap_tunnel_init_s),
		cmocka_unit_test(test_every_tunnel_frame_is_encap_copy_s_bytes),
		cmocka_unit_test(test_ipv6_udp_checksum_is_encap_copy_s_for_every_length),
		cmocka_unit_test(test_mixed_group_flows_reach_the_dpdk_target_as_the_dpdk_path_sends_them),
		cmocka_unit_test(test_tunnel_counters_count_what_the_packets_gave),
		cmocka_unit_test(test_derived_cluster_group_compiles_to_its_member_tunnels),
	};
	struct sl_xdp_opts o = { .last_verdict = true };
	const char *env = getenv("SL_TEST_SEED");
	cpu_set_t one;
	char err[512];
	int ret;

	(void)argc;
	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN and netns need root\n");
		return 77;
	}
	if (env != NULL)
		rng = strtoull(env, NULL, 0) | 1;
	printf("# SL_TEST_SEED=%#llx\n", (unsigned long long)rng);
	/* One CPU: the program's IPv4 ID counter is per CPU. */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0) {
		fprintf(stderr, "sched_setaffinity: %s\n", strerror(errno));
		return 1;
	}
	if (setup_netns() != 0) {
		fprintf(stderr, "cannot set up the test namespace\n");
		return 1;
	}
	if (test_eal_init(argv[0], "sl_test_xdp_encap", "256") < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("encap_oracle", 255, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "no mbuf pool\n");
		return 1;
	}
	if (sl_xdp_open(&o, &xdp, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	if (sl_xdp_attach(xdp, "e0", false, NULL, err, sizeof(err)) != 0 ||
	    sl_xdp_attach(xdp, "e1", false, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "attach: %s\n", err);
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	sl_xdp_close(xdp);
	rte_mempool_free(pool);
	test_eal_cleanup();
	return ret;
}
