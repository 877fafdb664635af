/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What routing does to the bytes of a packet: the MAC and TTL rewrite,
 * whose incremental IPv4 checksum must equal a full recompute for every
 * TTL and every header (both zeros of one's complement included), and the
 * ICMP/ICMPv6 errors, checked byte by byte with checksums computed here
 * independently of DPDK.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "icmp_error.h"
#include "parse.h"
#include "rewrite.h"
#include "route_lookup.h"
#include "test_eal.h"
#include "test_util.h"

static struct rte_mempool *pool;

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t
rnd(void)
{
	return test_rng(&rng_state);
}

/* ------------------------------------------------------------------------
 * TTL and checksum
 */

/* The checksum rte_ipv4_cksum computes for the header as it is now, as
 * the 16-bit value the header carries (network order read). */
static uint16_t
full_cksum(uint8_t *ip)
{
	uint8_t save[2] = { ip[10], ip[11] };
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip);
	ip[10] = save[0];
	ip[11] = save[1];
	return rte_be_to_cpu_16(c);
}

static void
set_cksum(uint8_t *ip, uint16_t c)
{
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

/* A random IPv4 header of 20..60 bytes at frame + 14 with TTL ttl. */
static void
random_header(uint8_t *frame, uint8_t ttl)
{
	uint8_t *ip = frame + 14;
	unsigned int ihl = 5 + (unsigned int)(rnd() % 11);

	for (unsigned int i = 0; i < 14 + ihl * 4; i += 8) {
		uint64_t r = rnd();

		memcpy(frame + i, &r, 8);
	}
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[8] = ttl;
	set_cksum(ip, full_cksum(ip));
}

/* Choose the identification so that the header (checksum field zero)
 * sums to 0xffff: its checksum is then 0x0000. */
static void
make_sum_zero(uint8_t *ip)
{
	unsigned int hlen = (ip[0] & 0xf) * 4u;
	uint32_t s;

	ip[4] = ip[5] = ip[10] = ip[11] = 0;
	s = test_ref_sum(ip, hlen, 0);
	ip[4] = (uint8_t)(~s >> 8);
	ip[5] = (uint8_t)~s;
}

/* Rewrite and compare with a full recompute; returns the new checksum. */
static uint16_t
rewrite_and_check(uint8_t *frame)
{
	struct sl_pkt_meta m = { .l3 = SL_L3_IPV4, .l3_off = 14 };
	struct rte_ether_addr src = { { 0x02, 1, 2, 3, 4, 5 } };
	struct rte_ether_addr dst = { { 0x02, 9, 8, 7, 6, 5 } };
	uint8_t *ip = frame + 14;
	uint8_t ttl = ip[8];
	uint16_t got;

	rt_rewrite_ipv4(frame, &m, &src, rt_mac_pack(&dst));
	assert_int_equal(ip[8], ttl - 1);
	got = (uint16_t)(ip[10] << 8 | ip[11]);
	if (got != full_cksum(ip))
		fail_msg("TTL %u: incremental %04x, recompute %04x", ttl, got,
			 full_cksum(ip));
	/* A receiver accepts it too. */
	assert_int_equal(test_ref_sum(ip, (ip[0] & 0xf) * 4u, 0), 0xffff);
	return got;
}

static void
test_incremental_checksum_equals_a_full_recompute_for_every_ttl(void **state)
{
	uint8_t frame[80];
	unsigned long zero_before = 0, zero_after = 0, n = 0;

	(void)state;
	for (unsigned int ttl = 2; ttl <= 255; ttl++) {
		/* 40,000 random headers per TTL: 10^7 in all. */
		for (unsigned int k = 0; k < 40000; k++) {
			random_header(frame, (uint8_t)ttl);
			rewrite_and_check(frame);
			n++;
		}
		/* Checksum 0x0000 before the rewrite, and its other form
		 * 0xffff, which receivers accept as well. */
		for (unsigned int k = 0; k < 64; k++) {
			uint8_t copy[80];

			random_header(frame, (uint8_t)ttl);
			make_sum_zero(frame + 14);
			set_cksum(frame + 14, full_cksum(frame + 14));
			assert_int_equal(full_cksum(frame + 14), 0x0000);
			memcpy(copy, frame, sizeof(copy));
			rewrite_and_check(frame);
			set_cksum(copy + 14, 0xffff);
			rewrite_and_check(copy);
			zero_before += 2;
		}
		/* Checksum 0x0000 after the rewrite: make the header with
		 * TTL - 1 sum to zero, then put the TTL back. */
		for (unsigned int k = 0; k < 64; k++) {
			random_header(frame, (uint8_t)(ttl - 1));
			make_sum_zero(frame + 14);
			frame[14 + 8] = (uint8_t)ttl;
			set_cksum(frame + 14, full_cksum(frame + 14));
			assert_int_equal(rewrite_and_check(frame), 0x0000);
			zero_after++;
		}
	}
	printf("%lu random headers, %lu with checksum 0 (or 0xffff) before, "
	       "%lu with 0 after: all equal to a full recompute\n", n,
	       zero_before, zero_after);
}

static void
test_cksum_update_from_0xfeff_gives_0x0000_not_0xffff(void **state)
{
	(void)state;
	/* RFC 1141's HC + 0x0100 would give 0xffff here. */
	assert_int_equal(rt_cksum_ttl_dec(0xfeff), 0x0000);
	assert_int_equal(rt_cksum_ttl_dec(0xffff), 0x0100);
	assert_int_equal(rt_cksum_ttl_dec(0x0000), 0x0100);
	assert_int_equal(rt_cksum_ttl_dec(0x1234), 0x1334);
	assert_int_equal(rt_cksum_ttl_dec(0xff00), 0x0001);
}

static void
test_rewrite_sets_macs_and_ttl_and_keeps_vlan_tags(void **state)
{
	uint8_t f[80];
	struct sl_pkt_meta m = { .l3 = SL_L3_IPV6, .l3_off = 18 };
	struct rte_ether_addr src = { { 0x02, 1, 2, 3, 4, 5 } };
	struct rte_ether_addr dst = { { 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f } };
	uint8_t want[80];

	(void)state;
	for (unsigned int i = 0; i < sizeof(f); i++)
		f[i] = (uint8_t)i;
	f[18 + 7] = 64;
	memcpy(want, f, sizeof(want));
	memcpy(want, dst.addr_bytes, 6);
	memcpy(want + 6, src.addr_bytes, 6);
	want[18 + 7] = 63;
	rt_rewrite(f, &m, &src, rt_mac_pack(&dst));
	assert_memory_equal(f, want, sizeof(f));

	/* IPv4 behind a tag: TTL and checksum at l3_off. */
	random_header(f + 4, 9);
	memcpy(f + 12, "\x81\x00\x00\x07", 4);
	f[16] = 0x08;
	f[17] = 0x00;
	m.l3 = SL_L3_IPV4;
	rt_rewrite(f, &m, &src, rt_mac_pack(&dst));
	assert_memory_equal(f + 12, "\x81\x00\x00\x07\x08\x00", 6);
	assert_int_equal(f[18 + 8], 8);
	assert_int_equal(test_ref_sum(f + 18, (f[18] & 0xf) * 4u, 0), 0xffff);
}

/* ------------------------------------------------------------------------
 * ICMP errors
 */

static const uint8_t host_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const struct rte_ether_addr port_mac = {
	{ 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } };
static const uint8_t port4[4] = { 192, 0, 2, 1 };
static const uint8_t port6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

struct frame {
	uint8_t b[2048];
	uint16_t len;
	uint16_t l3;	/* offset */
};

static void
eth(struct frame *f, bool vlan, uint16_t type)
{
	memcpy(f->b, port_mac.addr_bytes, 6);
	memcpy(f->b + 6, host_mac, 6);
	f->l3 = 14;
	if (vlan) {
		memcpy(f->b + 12, "\x81\x00\x00\x2a", 4);
		f->l3 = 18;
	}
	f->b[f->l3 - 2] = (uint8_t)(type >> 8);
	f->b[f->l3 - 1] = (uint8_t)type;
}

/* IPv4 from src to dst, protocol proto, payload bytes after an 8-byte L4
 * header whose first two bytes are b0, b1. */
static void
ipv4(struct frame *f, const uint8_t src[4], const uint8_t dst[4],
     uint8_t proto, uint8_t b0, uint8_t b1, uint16_t payload, uint16_t frag)
{
	uint8_t *ip = f->b + f->l3;
	uint16_t total = (uint16_t)(20 + 8 + payload);

	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[4] = 0x12;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 1;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	set_cksum(ip, (uint16_t)~test_ref_sum(ip, 20, 0));
	ip[20] = b0;
	ip[21] = b1;
	ip[22] = 0;
	ip[23] = 0;
	ip[24] = (uint8_t)((8 + payload) >> 8);	/* a UDP length */
	ip[25] = (uint8_t)(8 + payload);
	ip[26] = ip[27] = 0;
	for (unsigned int i = 0; i < payload; i++)
		ip[28 + i] = (uint8_t)(i * 7 + 3);
	f->len = (uint16_t)(f->l3 + total);
	while (f->len < 60)
		f->b[f->len++] = 0xee;		/* Ethernet padding */
}

static void
ipv6(struct frame *f, const uint8_t src[16], const uint8_t dst[16],
     uint8_t next, uint8_t b0, uint8_t b1, uint16_t payload)
{
	uint8_t *ip = f->b + f->l3;
	uint16_t plen = (uint16_t)(8 + payload);

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = next;
	ip[7] = 1;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	memset(ip + 40, 0, 8);
	ip[40] = b0;
	ip[41] = b1;
	ip[44] = (uint8_t)(plen >> 8);
	ip[45] = (uint8_t)plen;
	for (unsigned int i = 0; i < payload; i++)
		ip[48 + i] = (uint8_t)(i * 5 + 1);
	f->len = (uint16_t)(f->l3 + 40 + plen);
}

static struct rte_mbuf *
to_mbuf(const struct frame *f, struct sl_pkt_meta *m)
{
	struct rte_mbuf *mb = rte_pktmbuf_alloc(pool);
	char *d;

	assert_non_null(mb);
	d = rte_pktmbuf_append(mb, f->len);
	assert_non_null(d);
	memcpy(d, f->b, f->len);
	sl_parse_one(f->b, f->len, m);
	assert_int_equal(m->drop_reason, 0);
	return mb;
}

static int
build(const struct frame *f, enum icmp_error_kind kind, const uint8_t *addr,
      struct rte_mbuf **out)
{
	struct sl_pkt_meta m;
	struct rte_mbuf *mb = to_mbuf(f, &m);
	int rc = icmp_error_build(mb, &m, kind, &port_mac, addr, NULL, 0, out);

	/* The packet itself is left as it was. */
	assert_int_equal(rte_pktmbuf_pkt_len(mb), f->len);
	assert_memory_equal(rte_pktmbuf_mtod(mb, uint8_t *), f->b, f->len);
	rte_pktmbuf_free(mb);
	return rc;
}

static void
test_icmpv4_time_exceeded_quotes_the_datagram_with_good_checksums(void **state)
{
	const uint8_t src[4] = { 198, 51, 100, 7 }, dst[4] = { 203, 0, 113, 9 };
	struct frame f;
	struct rte_mbuf *e;
	const uint8_t *d, *ip, *icmp;

	(void)state;
	eth(&f, false, 0x0800);
	ipv4(&f, src, dst, 17, 0x30, 0x39, 100, 0);
	assert_int_equal(build(&f, ICMP_ERROR_TIME_EXCEEDED, port4, &e), 0);
	d = rte_pktmbuf_mtod(e, const uint8_t *);
	assert_int_equal(rte_pktmbuf_pkt_len(e), 14 + 20 + 8 + 128);
	/* Back to the sender's MAC, from the port's. */
	assert_memory_equal(d, host_mac, 6);
	assert_memory_equal(d + 6, port_mac.addr_bytes, 6);
	assert_memory_equal(d + 12, "\x08\x00", 2);
	ip = d + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], 0xc0);
	assert_int_equal(ip[2] << 8 | ip[3], 20 + 8 + 128);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 1);
	assert_memory_equal(ip + 12, port4, 4);
	assert_memory_equal(ip + 16, src, 4);
	assert_int_equal(test_ref_sum(ip, 20, 0), 0xffff);
	assert_int_equal(rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip), 0);
	icmp = ip + 20;
	assert_memory_equal(icmp, "\x0b\x00", 2);
	assert_memory_equal(icmp + 4, "\0\0\0\0", 4);
	/* The whole datagram as it arrived, not the Ethernet padding. */
	assert_memory_equal(icmp + 8, f.b + 14, 128);
	assert_int_equal(test_ref_sum(icmp, 8 + 128, 0), 0xffff);
	rte_pktmbuf_free(e);

	/* A short datagram in a padded frame: no padding quoted. */
	ipv4(&f, src, dst, 17, 0, 53, 2, 0);
	assert_int_equal(f.len, 60);
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), 0);
	d = rte_pktmbuf_mtod(e, const uint8_t *);
	assert_int_equal(rte_pktmbuf_pkt_len(e), 14 + 20 + 8 + 30);
	assert_memory_equal(d + 34, "\x03\x00", 2);
	assert_int_equal(test_ref_sum(d + 34, 8 + 30, 0), 0xffff);
	rte_pktmbuf_free(e);
}

static void
test_icmpv4_error_stays_within_576_bytes_and_keeps_the_vlan(void **state)
{
	const uint8_t src[4] = { 198, 51, 100, 7 }, dst[4] = { 203, 0, 113, 9 };
	struct frame f;
	struct rte_mbuf *e;
	const uint8_t *d;

	(void)state;
	eth(&f, true, 0x0800);
	ipv4(&f, src, dst, 17, 0x01, 0xbb, 1400, 0);
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), 0);
	d = rte_pktmbuf_mtod(e, const uint8_t *);
	assert_int_equal(rte_pktmbuf_pkt_len(e), 18 + 576);
	assert_memory_equal(d + 12, "\x81\x00\x00\x2a\x08\x00", 6);
	assert_int_equal(d[18 + 2] << 8 | d[18 + 3], 576);
	assert_int_equal(test_ref_sum(d + 18, 20, 0), 0xffff);
	assert_memory_equal(d + 18 + 20, "\x03\x00", 2);
	assert_memory_equal(d + 18 + 28, f.b + 18, 576 - 28);
	assert_int_equal(test_ref_sum(d + 18 + 20, 576 - 20, 0), 0xffff);
	rte_pktmbuf_free(e);
}

/* ICMPv6 checksum with the pseudo-header (RFC 8200 8.1), by hand. */
static uint32_t
ref_sum6(const uint8_t *ip)
{
	uint32_t plen = (uint32_t)(ip[4] << 8 | ip[5]);
	uint8_t ph[40] = { 0 };

	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(plen >> 8);
	ph[35] = (uint8_t)plen;
	ph[39] = 58;
	return test_ref_sum(ip + 40, plen, test_ref_sum(ph, 40, 0));
}

static void
test_icmpv6_errors_quote_up_to_1280_bytes_with_pseudo_header_checksum(void **state)
{
	const uint8_t src[16] = { 0x2a, 0x02, [15] = 7 };
	const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 9 };
	struct frame f;
	struct rte_mbuf *e;
	const uint8_t *d, *ip;

	(void)state;
	eth(&f, false, 0x86dd);
	ipv6(&f, src, dst, 17, 0x12, 0x34, 200);
	assert_int_equal(build(&f, ICMP_ERROR_TIME_EXCEEDED, port6, &e), 0);
	d = rte_pktmbuf_mtod(e, const uint8_t *);
	ip = d + 14;
	assert_int_equal(rte_pktmbuf_pkt_len(e), 14 + 40 + 8 + 248);
	assert_memory_equal(d, host_mac, 6);
	assert_memory_equal(d + 12, "\x86\xdd", 2);
	assert_int_equal(ip[0] >> 4, 6);
	assert_int_equal(ip[4] << 8 | ip[5], 8 + 248);
	assert_int_equal(ip[6], 58);
	assert_int_equal(ip[7], 64);
	assert_memory_equal(ip + 8, port6, 16);
	assert_memory_equal(ip + 24, src, 16);
	assert_memory_equal(ip + 40, "\x03\x00", 2);
	assert_memory_equal(ip + 48, f.b + 14, 248);
	assert_int_equal(ref_sum6(ip), 0xffff);
	rte_pktmbuf_free(e);

	ipv6(&f, src, dst, 17, 0x12, 0x34, 1400);
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port6, &e), 0);
	d = rte_pktmbuf_mtod(e, const uint8_t *);
	ip = d + 14;
	assert_int_equal(rte_pktmbuf_pkt_len(e), 14 + 1280);
	assert_memory_equal(ip + 40, "\x01\x00", 2);
	assert_memory_equal(ip + 48, f.b + 14, 1280 - 48);
	assert_int_equal(ref_sum6(ip), 0xffff);
	rte_pktmbuf_free(e);
}

static void
test_no_error_about_errors_fragments_multicast_or_bad_sources(void **state)
{
	const uint8_t ok4[4] = { 198, 51, 100, 7 }, to4[4] = { 203, 0, 113, 9 };
	const uint8_t ok6[16] = { 0x2a, 0x02, [15] = 7 };
	const uint8_t to6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };
	static const uint8_t bad_src4[][4] = {
		{ 0, 0, 0, 0 }, { 127, 0, 0, 1 }, { 224, 0, 0, 1 },
		{ 240, 1, 2, 3 }, { 255, 255, 255, 255 },
	};
	static const uint8_t bad_dst4[][4] = {
		{ 224, 0, 0, 5 }, { 239, 1, 1, 1 }, { 255, 255, 255, 255 },
	};
	static const uint8_t bad_src6[][16] = {
		{ 0 }, { [15] = 1 }, { 0xff, 0x02, [15] = 1 },
	};
	const uint8_t mcast6[16] = { 0xff, 0x0e, [15] = 1 };
	struct frame f;
	struct rte_mbuf *e = NULL;

	(void)state;
	eth(&f, false, 0x0800);
	/* ICMP errors are never answered; queries are. */
	for (uint8_t type = 0; type < 20; type++) {
		bool error = type == 3 || type == 4 || type == 5 ||
			     type == 11 || type == 12;
		int rc;

		ipv4(&f, ok4, to4, 1, type, 0, 32, 0);
		rc = build(&f, ICMP_ERROR_TIME_EXCEEDED, port4, &e);
		assert_int_equal(rc, error ? -EPERM : 0);
		if (rc == 0)
			rte_pktmbuf_free(e);
	}
	/* Fragments: the first only. */
	ipv4(&f, ok4, to4, 17, 0, 0, 32, 0x2000);	/* MF, offset 0 */
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), 0);
	rte_pktmbuf_free(e);
	ipv4(&f, ok4, to4, 17, 0, 0, 32, 0x0010);	/* offset 128 */
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), -EPERM);
	for (unsigned int i = 0; i < RTE_DIM(bad_src4); i++) {
		ipv4(&f, bad_src4[i], to4, 17, 0, 0, 32, 0);
		assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), -EPERM);
	}
	for (unsigned int i = 0; i < RTE_DIM(bad_dst4); i++) {
		ipv4(&f, ok4, bad_dst4[i], 17, 0, 0, 32, 0);
		assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), -EPERM);
	}
	/* A link-layer broadcast. */
	ipv4(&f, ok4, to4, 17, 0, 0, 32, 0);
	memset(f.b, 0xff, 6);
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port4, &e), -EPERM);
	eth(&f, false, 0x0800);
	ipv4(&f, ok4, to4, 17, 0, 0, 32, 0);
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, NULL, &e), -EADDRNOTAVAIL);
	assert_null(e);

	eth(&f, false, 0x86dd);
	for (unsigned int type = 0; type < 256; type += 17) {
		int rc;

		ipv6(&f, ok6, to6, 58, (uint8_t)type, 0, 32);
		rc = build(&f, ICMP_ERROR_NO_ROUTE, port6, &e);
		assert_int_equal(rc, type < 128 ? -EPERM : 0);
		if (rc == 0)
			rte_pktmbuf_free(e);
	}
	for (unsigned int i = 0; i < RTE_DIM(bad_src6); i++) {
		ipv6(&f, bad_src6[i], to6, 17, 0, 0, 32);
		assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port6, &e), -EPERM);
	}
	ipv6(&f, ok6, mcast6, 17, 0, 0, 32);
	assert_int_equal(build(&f, ICMP_ERROR_NO_ROUTE, port6, &e), -EPERM);
}

static void
test_token_bucket_limits_errors_and_forbidden_ones_take_no_token(void **state)
{
	const uint8_t ok4[4] = { 198, 51, 100, 7 }, to4[4] = { 203, 0, 113, 9 };
	const uint8_t zero4[4] = { 0 };
	struct icmp_limit lim;
	struct frame ok, bad;
	struct sl_pkt_meta m_ok, m_bad;
	struct rte_mbuf *p_ok, *p_bad, *e;
	const uint64_t hz = 1000;	/* a TSC of 1 kHz: 10/s = every 100 */

	(void)state;
	eth(&ok, false, 0x0800);
	ipv4(&ok, ok4, to4, 17, 0, 0, 32, 0);
	eth(&bad, false, 0x0800);
	ipv4(&bad, zero4, to4, 17, 0, 0, 32, 0);
	p_ok = to_mbuf(&ok, &m_ok);
	p_bad = to_mbuf(&bad, &m_bad);

	icmp_limit_init_tsc(&lim, 10, 2, hz, 5000);
	/* A burst of 2, then one every 100 cycles. */
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(icmp_error_build(p_ok, &m_ok, ICMP_ERROR_NO_ROUTE,
						  &port_mac, port4, &lim, 5000,
						  &e), 0);
		rte_pktmbuf_free(e);
	}
	assert_int_equal(icmp_error_build(p_ok, &m_ok, ICMP_ERROR_NO_ROUTE,
					  &port_mac, port4, &lim, 5050, &e),
			 -EBUSY);
	/* Forbidden packets do not drain the bucket. */
	for (unsigned int i = 0; i < 10; i++)
		assert_int_equal(icmp_error_build(p_bad, &m_bad,
						  ICMP_ERROR_NO_ROUTE, &port_mac,
						  port4, &lim, 5100, &e), -EPERM);
	assert_int_equal(icmp_error_build(p_ok, &m_ok, ICMP_ERROR_NO_ROUTE,
					  &port_mac, port4, &lim, 5100, &e), 0);
	rte_pktmbuf_free(e);
	assert_false(icmp_limit_take(&lim, 5150));
	assert_true(icmp_limit_take(&lim, 5300));
	/* A long pause refills up to the burst, no more. */
	assert_true(icmp_limit_take(&lim, 1000000));
	assert_true(icmp_limit_take(&lim, 1000000));
	assert_false(icmp_limit_take(&lim, 1000000));
	/* Rate 0: errors off. */
	icmp_limit_init_tsc(&lim, 0, 5, hz, 0);
	assert_false(icmp_limit_take(&lim, 1000000));
	assert_int_equal(icmp_error_build(p_ok, &m_ok, ICMP_ERROR_NO_ROUTE,
					  &port_mac, port4, &lim, 1000000, &e),
			 -EBUSY);
	rte_pktmbuf_free(p_ok);
	rte_pktmbuf_free(p_bad);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_checksum_equals_a_full_recompute_for_every_ttl),
		cmocka_unit_test(test_cksum_update_from_0xfeff_gives_0x0000_not_0xffff),
		cmocka_unit_test(test_rewrite_sets_macs_and_ttl_and_keeps_vlan_tags),
		cmocka_unit_test(test_icmpv4_time_exceeded_quotes_the_datagram_with_good_checksums),
		cmocka_unit_test(test_icmpv4_error_stays_within_576_bytes_and_keeps_the_vlan),
		cmocka_unit_test(test_icmpv6_errors_quote_up_to_1280_bytes_with_pseudo_header_checksum),
		cmocka_unit_test(test_no_error_about_errors_fragments_multicast_or_bad_sources),
		cmocka_unit_test(test_token_bucket_limits_errors_and_forbidden_ones_take_no_token),
	};
	int rc;

	(void)argc;
	if (test_eal_init(argv[0], "test_rewrite", "256") < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test_rewrite", 255, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
		test_eal_cleanup();
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	test_eal_cleanup();
	return rc;
}
