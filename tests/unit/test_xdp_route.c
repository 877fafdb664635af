/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing in the XDP program, packet by packet through BPF_PROG_TEST_RUN
 * (the program records each packet's route reason in sl_last), against
 * the kernel FIB of a network namespace of the test's own:
 *
 *   x0 (10.81.1.1/24, fd81:1::1/64)  attached, the packets' ingress
 *   x1 (10.81.2.1/24, fd81:2::1/64)  attached; neighbour .2 / ::2 known
 *   x2 (10.81.3.1/24)                not attached (not in sl_tx)
 *   unreachable 10.81.4.0/24; 10.81.6.0/24 via 10.81.2.2 mtu lock 576
 *   (a route MTU counts for forwarding only when locked, for the kernel
 *   as for bpf_fib_lookup)
 *
 *  - a routed packet leaves as dataplane/rewrite.h would rewrite it (the
 *    DPDK path's rt_rewrite_ipv4/_ipv6 on the same frame with the FIB's
 *    MACs is the oracle), with XDP_REDIRECT;
 *  - every other FIB answer, and every packet the fast path leaves to the
 *    kernel (TTL 1, options, bad checksum, martians, link-local, VLAN,
 *    hop-by-hop), gives XDP_PASS with the frame untouched and its reason;
 *  - a drop rule still drops; routing off passes;
 *  - the incremental checksum update equals a full recompute for every
 *    one of the 65,536 checksum values (and the other zero, 0xffff);
 *  - sl_rt counts each reason as often as the packets gave it.
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
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "rewrite.h"
#include "test_util.h"
#include "xdp_loader.h"

static struct sl_xdp *xdp;
static uint32_t ifx0, ifx1, ifx2;
static uint8_t mac_x1[6];
static const uint8_t mac_nb[6] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x02 };
/* What the packets of this run gave, per reason, for the counter check. */
static uint64_t seen[SL_XDP_RT_MAX];

static const char policy_json[] =
	"{\"version\": 1, \"default\": \"accept\","
	" \"settings\": {\"conntrack\": {\"enabled\": false}},"
	" \"rules\": [{\"id\": \"drop-9999\", \"proto\": \"udp\","
	" \"dport\": 9999, \"action\": \"drop\"}]}";

/* ---- frames ---- */

struct spec {
	int family;		/* 4 or 6 */
	const char *src, *dst;
	uint8_t ttl;
	uint16_t dport;
	uint16_t ip_id;
	uint16_t payload;	/* UDP payload bytes */
	int vlan;		/* -1: untagged */
	int options;		/* IPv4: one 4-byte option word (IHL 6) */
	int hbh;		/* IPv6: a hop-by-hop header first */
	int bad_csum;
};

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A UDP frame from 02:..:01 to x0's neighbour side; valid IPv4 header
 * checksum unless asked otherwise.  Returns its length. */
static uint16_t
frame(const struct spec *s, uint8_t *b, size_t cap)
{
	size_t l3 = 14, ihl, l4, n = 8u + s->payload, off = 12;

	assert_true(cap >= 14u + 4 + 40 + 8 + 8 + s->payload);
	memset(b, 0, cap);
	memcpy(b, "\x02\x00\x00\x00\x01\x01\x02\x00\x00\x00\x01\x02", 12);
	if (s->vlan >= 0) {
		put16(b + off, 0x8100);
		put16(b + off + 2, (unsigned int)s->vlan);
		off += 4;
		l3 += 4;
	}
	put16(b + off, s->family == 4 ? 0x0800 : 0x86dd);
	if (s->family == 4) {
		uint32_t sum;

		ihl = s->options ? 24 : 20;
		b[l3] = (uint8_t)(0x40 | ihl / 4);
		put16(b + l3 + 2, (unsigned int)(ihl + n));
		put16(b + l3 + 4, s->ip_id);
		b[l3 + 8] = s->ttl;
		b[l3 + 9] = 17;
		inet_pton(AF_INET, s->src, b + l3 + 12);
		inet_pton(AF_INET, s->dst, b + l3 + 16);
		if (s->options)
			memset(b + l3 + 20, 1, 4);	/* four NOPs */
		sum = test_ref_sum(b + l3, ihl, 0);
		put16(b + l3 + 10, (uint16_t)~sum ^ (s->bad_csum ? 1 : 0));
		l4 = l3 + ihl;
	} else {
		size_t ext = s->hbh ? 8 : 0;

		b[l3] = 0x60;
		put16(b + l3 + 4, (unsigned int)(ext + n));
		b[l3 + 6] = s->hbh ? 0 : 17;
		b[l3 + 7] = s->ttl;
		inet_pton(AF_INET6, s->src, b + l3 + 8);
		inet_pton(AF_INET6, s->dst, b + l3 + 24);
		if (s->hbh) {
			b[l3 + 40] = 17;	/* next header; length 0: 8 bytes */
			b[l3 + 42] = 1;		/* PadN, 4 bytes */
			b[l3 + 43] = 4;
		}
		l4 = l3 + 40 + ext;
	}
	put16(b + l4, 40000);
	put16(b + l4 + 2, s->dport ? s->dport : 7000);
	put16(b + l4 + 4, (unsigned int)n);
	return (uint16_t)(l4 + n);
}

/* ---- running ---- */

struct outcome {
	uint32_t action;
	uint8_t route;
	uint8_t out[2048];
	uint32_t out_len;
};

static void
run(const uint8_t *pkt, uint16_t len, uint32_t ifindex, struct outcome *o)
{
	struct sl_xdp_test_result r;
	int ret = sl_xdp_test_run_frame(xdp, pkt, len, ifindex, o->out,
					sizeof(o->out), &o->out_len, &r);

	if (ret != 0)
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(-ret));
	o->action = r.xdp_action;
	o->route = r.v.route;
	if (o->route < SL_XDP_RT_MAX)
		seen[o->route]++;
}

/* The frame goes to the kernel as it came, for the reason given. */
static void
expect_pass(const char *what, const struct spec *s, uint32_t ifindex,
	    unsigned int reason)
{
	uint8_t pkt[1024];
	uint16_t len = frame(s, pkt, sizeof(pkt));
	struct outcome o;

	run(pkt, len, ifindex, &o);
	if (o.action != XDP_PASS || o.route != reason)
		fail_msg("%s: action %u route %s, want XDP_PASS %s", what,
			 o.action, sl_xdp_rt_reason_name(o.route),
			 sl_xdp_rt_reason_name(reason));
	assert_int_equal(o.out_len, len);
	assert_memory_equal(o.out, pkt, len);
}

static void
neighbour_mac(uint64_t *packed)
{
	*packed = 0;
	for (int i = 0; i < 6; i++)
		*packed |= (uint64_t)mac_nb[i] << (8 * i);
}

/* Routed: XDP_REDIRECT, and the frame rt_rewrite (dataplane/rewrite.h)
 * makes of it with x1's MAC and the neighbour's. */
static void
expect_routed(const char *what, const struct spec *s)
{
	uint8_t pkt[1024], want[1024];
	uint16_t len = frame(s, pkt, sizeof(pkt));
	struct sl_pkt_meta m = { .l3_off = 14,
				 .l3 = s->family == 4 ? SL_L3_IPV4 : SL_L3_IPV6 };
	struct rte_ether_addr src;
	struct outcome o;
	uint64_t dst;

	run(pkt, len, ifx0, &o);
	if (o.action != XDP_REDIRECT || o.route != SL_XDP_RT_ROUTED)
		fail_msg("%s: action %u route %s, want XDP_REDIRECT routed",
			 what, o.action, sl_xdp_rt_reason_name(o.route));
	memcpy(want, pkt, len);
	memcpy(src.addr_bytes, mac_x1, 6);
	neighbour_mac(&dst);
	rt_rewrite(want, &m, &src, dst);
	assert_int_equal(o.out_len, len);
	if (memcmp(o.out, want, len) != 0)
		fail_msg("%s: the routed frame differs from rt_rewrite's", what);
	if (s->family == 4)
		assert_int_equal(test_ref_sum(o.out + 14, 20, 0), 0xffff);
}

/* ---- tests ---- */

static void
test_accepted_packets_are_routed_as_the_dpdk_rewrite_does(void **state)
{
	(void)state;
	expect_routed("IPv4 A->B", &(struct spec){ 4, "10.81.1.2", "10.81.2.2",
		      64, .vlan = -1 });
	expect_routed("IPv4 TTL 2 leaves with 1", &(struct spec){ 4, "10.81.1.2",
		      "10.81.2.2", 2, .vlan = -1 });
	expect_routed("IPv4 through a gateway", &(struct spec){ 4, "10.81.1.2",
		      "10.81.6.9", 64, .payload = 400, .vlan = -1 });
	expect_routed("IPv6 A->B", &(struct spec){ 6, "fd81:1::2", "fd81:2::2",
		      64, .vlan = -1 });
	expect_routed("IPv6 hop limit 2", &(struct spec){ 6, "fd81:1::2",
		      "fd81:2::2", 2, .vlan = -1 });
}

static void
test_what_the_fast_path_does_not_handle_goes_to_the_kernel_untouched(void **state)
{
	(void)state;
	expect_pass("TTL 1", &(struct spec){ 4, "10.81.1.2", "10.81.2.2", 1,
		    .vlan = -1 }, ifx0, SL_XDP_RT_TTL);
	expect_pass("TTL 0", &(struct spec){ 4, "10.81.1.2", "10.81.2.2", 0,
		    .vlan = -1 }, ifx0, SL_XDP_RT_TTL);
	expect_pass("hop limit 1", &(struct spec){ 6, "fd81:1::2", "fd81:2::2",
		    1, .vlan = -1 }, ifx0, SL_XDP_RT_TTL);
	expect_pass("no neighbour", &(struct spec){ 4, "10.81.1.2", "10.81.2.7",
		    64, .vlan = -1 }, ifx0, SL_XDP_RT_NO_NEIGH);
	expect_pass("no IPv6 neighbour", &(struct spec){ 6, "fd81:1::2",
		    "fd81:2::7", 64, .vlan = -1 }, ifx0, SL_XDP_RT_NO_NEIGH);
	expect_pass("local", &(struct spec){ 4, "10.81.1.2", "10.81.2.1", 64,
		    .vlan = -1 }, ifx0, SL_XDP_RT_NOT_FWDED);
	expect_pass("local IPv6", &(struct spec){ 6, "fd81:1::2", "fd81:2::1",
		    64, .vlan = -1 }, ifx0, SL_XDP_RT_NOT_FWDED);
	expect_pass("directed broadcast", &(struct spec){ 4, "10.81.1.2",
		    "10.81.2.255", 64, .vlan = -1 }, ifx0, SL_XDP_RT_NOT_FWDED);
	expect_pass("no route", &(struct spec){ 4, "10.81.1.2", "192.0.2.1", 64,
		    .vlan = -1 }, ifx0, SL_XDP_RT_NOT_FWDED);
	expect_pass("unreachable route", &(struct spec){ 4, "10.81.1.2",
		    "10.81.4.1", 64, .vlan = -1 }, ifx0, SL_XDP_RT_UNREACHABLE);
	expect_pass("above the route's MTU", &(struct spec){ 4, "10.81.1.2",
		    "10.81.6.9", 64, .payload = 600, .vlan = -1 }, ifx0,
		    SL_XDP_RT_FRAG_NEEDED);
	expect_pass("egress not attached", &(struct spec){ 4, "10.81.1.2",
		    "10.81.3.2", 64, .vlan = -1 }, ifx0, SL_XDP_RT_NO_EGRESS);
	expect_pass("IPv4 options", &(struct spec){ 4, "10.81.1.2", "10.81.2.2",
		    64, .vlan = -1, .options = 1 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("bad header checksum", &(struct spec){ 4, "10.81.1.2",
		    "10.81.2.2", 64, .vlan = -1, .bad_csum = 1 }, ifx0,
		    SL_XDP_RT_SPECIAL);
	expect_pass("loopback source", &(struct spec){ 4, "127.0.0.1",
		    "10.81.2.2", 64, .vlan = -1 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("multicast", &(struct spec){ 4, "10.81.1.2", "239.1.1.1",
		    64, .vlan = -1 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("VLAN tagged", &(struct spec){ 4, "10.81.1.2", "10.81.2.2",
		    64, .vlan = 5 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("link-local destination", &(struct spec){ 6, "fd81:1::2",
		    "fe80::2", 64, .vlan = -1 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("link-local source", &(struct spec){ 6, "fe80::2",
		    "fd81:2::2", 64, .vlan = -1 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("IPv6 multicast", &(struct spec){ 6, "fd81:1::2", "ff02::1",
		    64, .vlan = -1 }, ifx0, SL_XDP_RT_SPECIAL);
	expect_pass("hop-by-hop", &(struct spec){ 6, "fd81:1::2", "fd81:2::2",
		    64, .vlan = -1, .hbh = 1 }, ifx0, SL_XDP_RT_SPECIAL);

	/* forwarding off on the ingress: the kernel would not route it */
	assert_int_equal(system("sysctl -qw net.ipv4.conf.x0.forwarding=0"), 0);
	expect_pass("forwarding off on x0", &(struct spec){ 4, "10.81.1.2",
		    "10.81.2.2", 64, .vlan = -1 }, ifx0, SL_XDP_RT_FWD_DISABLED);
	assert_int_equal(system("sysctl -qw net.ipv4.conf.x0.forwarding=1"), 0);
}

static void
test_drop_rule_drops_and_routing_off_passes(void **state)
{
	uint8_t pkt[256];
	struct outcome o;
	uint16_t len = frame(&(struct spec){ 4, "10.81.1.2", "10.81.2.2", 64,
			     .dport = 9999, .vlan = -1 }, pkt, sizeof(pkt));
	char err[256];

	(void)state;
	run(pkt, len, ifx0, &o);
	assert_int_equal(o.action, XDP_DROP);
	assert_int_equal(o.route, SL_XDP_RT_NONE);

	assert_int_equal(sl_xdp_set_routing(xdp, false, err, sizeof(err)), 0);
	expect_pass("routing off", &(struct spec){ 4, "10.81.1.2", "10.81.2.2",
		    64, .vlan = -1 }, ifx0, SL_XDP_RT_OFF);
	assert_int_equal(sl_xdp_set_routing(xdp, true, err, sizeof(err)), 0);
}

/*
 * Every header checksum value in, through the program: the IP id walks
 * the one's complement sum through all 65,535 values (and an incoming
 * 0xffff, the other zero, is tried wherever the computed one is 0x0000).
 */
static void
test_ttl_checksum_update_equals_a_full_recompute_for_every_value(void **state)
{
	struct spec s = { 4, "10.81.1.2", "10.81.2.2", 64, .vlan = -1 };
	uint8_t pkt[256];
	unsigned int runs = 0, zeros = 0;

	(void)state;
	for (uint32_t id = 0; id <= 0xffff; id++) {
		uint16_t len, hc;

		s.ip_id = (uint16_t)id;
		len = frame(&s, pkt, sizeof(pkt));
		hc = (uint16_t)(pkt[24] << 8 | pkt[25]);
		for (int other = 0; other < (hc == 0 ? 2 : 1); other++) {
			struct outcome o;
			uint16_t got, want;

			if (other) {
				pkt[24] = pkt[25] = 0xff;
				zeros++;
			}
			run(pkt, len, ifx0, &o);
			if (o.action != XDP_REDIRECT)
				fail_msg("id %u: action %u route %s", id, o.action,
					 sl_xdp_rt_reason_name(o.route));
			got = (uint16_t)(o.out[24] << 8 | o.out[25]);
			o.out[24] = o.out[25] = 0;
			want = (uint16_t)~test_ref_sum(o.out + 14, 20, 0);
			if (got != want || got != rt_cksum_ttl_dec(other ? 0xffff : hc))
				fail_msg("id %u, checksum %#06x in: %#06x out, a full "
					 "recompute gives %#06x", id,
					 other ? 0xffff : hc, got, want);
			runs++;
		}
	}
	printf("# %u checksums (%u of them 0xffff in)\n", runs, zeros);
	assert_true(zeros > 0);
}

/*
 * Not an assertion: the cost of a routed packet against one passed with
 * routing off (BPF_PROG_TEST_RUN's mean; with routing off the kernel's
 * forwarding comes on top, not measured here).  A test run repeats the
 * program on the same buffer, so a routed frame loses a TTL per
 * repetition: each run starts at TTL 255 and repeats 250 times.
 */
static void
print_cost_of_routing(void)
{
	uint8_t pkt[256];
	uint16_t len = frame(&(struct spec){ 4, "10.81.1.2", "10.81.2.2", 255,
			     .vlan = -1 }, pkt, sizeof(pkt));
	char err[256];
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifx0 };
	uint64_t ns[2] = { 0, 0 };
	const int calls = 400;

	for (int on = 0; on < 2; on++) {
		assert_int_equal(sl_xdp_set_routing(xdp, on, err, sizeof(err)), 0);
		for (int c = 0; c < calls; c++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
				    .data_size_in = len, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 250);

			assert_int_equal(bpf_prog_test_run_opts(sl_xdp_prog_fd(xdp),
								&o), 0);
			assert_int_equal(o.retval, on ? XDP_REDIRECT : XDP_PASS);
			ns[on] += o.duration;
		}
	}
	printf("# per packet (BPF_PROG_TEST_RUN, 1 rule, conntrack off): "
	       "routing off %.0f ns, routed %.0f ns\n",
	       (double)ns[0] / calls, (double)ns[1] / calls);
}

static void
test_route_counters_count_each_reason(void **state)
{
	struct sl_xdp_stats *s;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(sl_xdp_stats_read(xdp, &s), 0);
	assert_true(s->routing);
	for (unsigned int r = 0; r < SL_XDP_RT_MAX; r++) {
		if (s->route[r].packets != seen[r])
			fail_msg("%s: counted %llu, the packets gave %llu",
				 sl_xdp_rt_reason_name(r),
				 (unsigned long long)s->route[r].packets,
				 (unsigned long long)seen[r]);
		total += seen[r];
	}
	printf("# %llu packets, %llu routed\n", (unsigned long long)total,
	       (unsigned long long)seen[SL_XDP_RT_ROUTED]);
	sl_xdp_stats_free(s);
	print_cost_of_routing();
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

/* The namespace and its FIB (see the header comment); everything goes
 * away with the process. */
static int
setup_netns(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add x0 type veth peer name x0p",
		"ip link add x1 type veth peer name x1p",
		"ip link add x2 type veth peer name x2p",
		/* The peers stay silent (no IPv6 router solicitations or MLD
		 * reports into x0 and x1, whose program would count them):
		 * only the test's packets move the counters. */
		"for d in x0p x1p x2p; do "
		"sysctl -qw net.ipv6.conf.$d.disable_ipv6=1 || exit 1; done",
		"for d in x0 x0p x1 x1p x2 x2p; do ip link set $d up || exit 1; done",
		"ip addr add 10.81.1.1/24 dev x0",
		"ip addr add fd81:1::1/64 dev x0 nodad",
		"ip addr add 10.81.2.1/24 dev x1",
		"ip addr add fd81:2::1/64 dev x1 nodad",
		"ip addr add 10.81.3.1/24 dev x2",
		"ip neigh add 10.81.2.2 lladdr 02:00:00:00:02:02 dev x1 nud permanent",
		"ip neigh add fd81:2::2 lladdr 02:00:00:00:02:02 dev x1 nud permanent",
		"ip neigh add 10.81.3.2 lladdr 02:00:00:00:03:02 dev x2 nud permanent",
		"ip route add unreachable 10.81.4.0/24",
		"ip route add 10.81.6.0/24 via 10.81.2.2 dev x1 mtu lock 576",
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
	ifx0 = if_nametoindex("x0");
	ifx1 = if_nametoindex("x1");
	ifx2 = if_nametoindex("x2");
	if (ifx0 == 0 || ifx1 == 0 || ifx2 == 0 || read_mac("x1", mac_x1) != 0)
		return -1;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_packets_are_routed_as_the_dpdk_rewrite_does),
		cmocka_unit_test(test_what_the_fast_path_does_not_handle_goes_to_the_kernel_untouched),
		cmocka_unit_test(test_drop_rule_drops_and_routing_off_passes),
		cmocka_unit_test(test_ttl_checksum_update_equals_a_full_recompute_for_every_value),
		cmocka_unit_test(test_route_counters_count_each_reason),
	};
	struct sl_xdp_opts o = { .last_verdict = true };
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
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
	    sl_policy_from_json_str(policy_json, &p, &errs) != 0 ||
	    sl_xdp_apply(xdp, p, NULL, err, sizeof(err)) != 0 ||
	    sl_xdp_set_routing(xdp, true, err, sizeof(err)) != 0 ||
	    sl_xdp_attach(xdp, "x0", false, NULL, err, sizeof(err)) != 0 ||
	    sl_xdp_attach(xdp, "x1", false, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "set-up: %s\n", err);
		return 1;
	}
	sl_policy_free(p);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	sl_xdp_close(xdp);
	return ret;
}
