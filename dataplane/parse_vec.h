/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vector parser, written once and compiled twice: parse_sse42.c
 * (-msse4.2) and parse_avx2.c (-mavx2 -mbmi -mbmi2) include this file and
 * instantiate vec_parse_burst() for their instruction set.  Internal to the
 * parser; nothing else includes it.
 *
 * A burst is parsed in two passes:
 *
 *   1. classify: per packet, the bytes that decide its shape (ethertype,
 *      IP version and IHL, fragment bits, protocol or next header; after
 *      one VLAN tag when there is one) are gathered by one shuffle into a
 *      64-bit signature, which is compared with the templates of the four
 *      fast shapes at once - IPv4 (IHL 5, not a fragment) or IPv6 (no
 *      extension header), carrying TCP or UDP.  With AVX2 all four
 *      templates take one 256-bit compare; with SSE4.2 two 128-bit ones.
 *      The result is one class byte per packet.  Packets are prefetched
 *      PARSE_PREFETCH_OFFSET packets ahead.
 *   2. build: each packet of a fast shape gets its meta from a builder
 *      specialised for that shape at compile time: the length checks that
 *      templates cannot express (IP length against the frame, TCP data
 *      offset, UDP length), then a fixed sequence of loads, shuffles with
 *      per-shape tables and stores, without per-field branches.  A packet a
 *      check refuses, and any packet of another shape, is parsed by
 *      sl_parse_one(), the reference, after the fast ones.
 *
 * The builders write exactly what sl_parse_one() writes for the same bytes,
 * all 72 meta bytes, so the variants agree byte for byte.  They never read
 * past len: each checks the frame is long enough for its fixed loads before
 * it makes them, and reads the TCP data offset only once the IP length
 * checks have shown the TCP header lies inside the frame.
 */
#ifndef SLUICE_DP_PARSE_VEC_H
#define SLUICE_DP_PARSE_VEC_H

#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "sluice/drop_reason.h"

#include "parse.h"

/* Packets ahead of the one being classified whose first line is fetched. */
#define PARSE_PREFETCH_OFFSET 8

/* Classification reads frame bytes 12..27 (16..31 with a tag). */
#define CLASSIFY_MIN_LEN 32

/*
 * Frame bytes a builder loads before checking any length, without a tag
 * (add 4 with one): up to the UDP length field, 6..7 bytes into L4.
 */
#define FAST4_MIN_LEN 40
#define FAST6_MIN_LEN 60

/*
 * The builders are always inlined: each is instantiated per shape with
 * constant arguments, in each instruction set's burst loop.
 */
#define VEC_INLINE static inline __attribute__((always_inline))

/* What classification reads in place of a frame shorter than its window:
 * a signature of zeros matches no template. */
static const uint8_t vec_zero_frame[CLASSIFY_MIN_LEN]
	__attribute__((aligned(16)));

VEC_INLINE uint16_t
vec_ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

VEC_INLINE unsigned int
vec_be16(const uint8_t *p)
{
	return __builtin_bswap16(vec_ld16(p));
}

/* 1 when the type field of the frame (bytes 12..13) is a VLAN TPID. */
VEC_INLINE unsigned int
vec_vlan_tag(const uint8_t *frame)
{
	uint16_t t = vec_ld16(frame + 12);	/* wire order in memory */

	return (t == __builtin_bswap16(0x8100)) |
	       (t == __builtin_bswap16(0x88a8)) |
	       (t == __builtin_bswap16(0x9100));
}

/*
 * Classification.  The window is the 16 frame bytes from the ethertype
 * (after one tag); the signature is its bytes 0, 1 (ethertype), 2 (IP
 * version | IHL, or IPv6 version | traffic class), 8, 9 (IPv4 flags and
 * fragment offset; IPv6 next header), 11 (IPv4 protocol), as one
 * little-endian 64-bit value.  A shape matches when (sig & mask) == tmpl.
 */
#define SIG_CTL 0, 1, 2, 8, 9, 11, -1, -1

#define SIG(b0, b1, b2, b3, b4, b5)					\
	((int64_t)((uint64_t)(b0) | (uint64_t)(b1) << 8 |		\
		   (uint64_t)(b2) << 16 | (uint64_t)(b3) << 24 |	\
		   (uint64_t)(b4) << 32 | (uint64_t)(b5) << 40))

/* IPv4: 0800, version 4 IHL 5, MF and offset zero (DF, RF ignored), proto */
#define SIG_V4_MASK SIG(0xff, 0xff, 0xff, 0x3f, 0xff, 0xff)
#define SIG_V4_TCP SIG(0x08, 0x00, 0x45, 0, 0, 6)
#define SIG_V4_UDP SIG(0x08, 0x00, 0x45, 0, 0, 17)
/* IPv6: 86dd, version 6, next header */
#define SIG_V6_MASK SIG(0xff, 0xff, 0xf0, 0xff, 0, 0)
#define SIG_V6_TCP SIG(0x86, 0xdd, 0x60, 6, 0, 0)
#define SIG_V6_UDP SIG(0x86, 0xdd, 0x60, 17, 0, 0)

/*
 * Class byte of a packet: one of the shape bits (at most one is set, the
 * templates exclude each other; none for the scalar path), | 1 <<
 * CLASS_VLAN_SHIFT when one tag precedes the IP header.  The shape bits
 * are the templates' order in the compare: bit i when template i matched.
 */
#define CLASS_V4_TCP 0x01
#define CLASS_V4_UDP 0x02
#define CLASS_V6_TCP 0x04
#define CLASS_V6_UDP 0x08
#define CLASS_SHAPE 0x0f
#define CLASS_VLAN_SHIFT 4

/* Shape bits of one window. */
VEC_INLINE unsigned int
vec_match(const uint8_t *window)
{
	const __m128i ctl = _mm_setr_epi8(SIG_CTL, SIG_CTL);
#ifdef __AVX2__
	__m256i s = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(
		_mm_loadu_si128((const __m128i *)window)),
		_mm256_broadcastsi128_si256(ctl));

	s = _mm256_and_si256(s, _mm256_setr_epi64x(SIG_V4_MASK, SIG_V4_MASK,
						   SIG_V6_MASK, SIG_V6_MASK));
	s = _mm256_cmpeq_epi64(s, _mm256_setr_epi64x(SIG_V4_TCP, SIG_V4_UDP,
						     SIG_V6_TCP, SIG_V6_UDP));
	return (unsigned int)_mm256_movemask_pd(_mm256_castsi256_pd(s));
#else
	__m128i s = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)window),
				     ctl);
	__m128i s4 = _mm_cmpeq_epi64(_mm_and_si128(s, _mm_set1_epi64x(
		SIG_V4_MASK)), _mm_set_epi64x(SIG_V4_UDP, SIG_V4_TCP));
	__m128i s6 = _mm_cmpeq_epi64(_mm_and_si128(s, _mm_set1_epi64x(
		SIG_V6_MASK)), _mm_set_epi64x(SIG_V6_UDP, SIG_V6_TCP));

	return (unsigned int)(_mm_movemask_pd(_mm_castsi128_pd(s4)) |
			      _mm_movemask_pd(_mm_castsi128_pd(s6)) << 2);
#endif
}

/* Pass 1: one class byte per packet into cls[0 .. n-1]. */
VEC_INLINE void
vec_classify(const uint8_t *const data[], const uint16_t len[], unsigned int n,
	     uint8_t cls[])
{
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *f = len[i] >= CLASSIFY_MIN_LEN ? data[i] :
								vec_zero_frame;
		unsigned int vc = vec_vlan_tag(f);

		if (i + PARSE_PREFETCH_OFFSET < n)
			__builtin_prefetch(data[i + PARSE_PREFETCH_OFFSET]);
		cls[i] = (uint8_t)(vec_match(f + 12 + 4 * vc) |
				   vc << CLASS_VLAN_SHIFT);
	}
}

/*
 * Per-shape constants.  A fast packet's meta bytes 32..71 are: shuffled
 * packet bytes + constants of its shape + pkt_len and the TCP header
 * length + TTL and TCP flags, the last two stored apart.
 *
 * The builders load two 16-byte windows, at q + 6 ("lo") and at q + 24
 * (IPv4) or q + 44 (IPv6) ("hi"), where q is the frame start plus 4 per
 * VLAN tag:
 *   lo: VLAN TCI at 4..5; IPv4 total length at 10..11, IPv6 payload
 *       length at 12..13.
 *   hi: sport 10..11, dport 12..13, UDP length 14..15; IPv4 source
 *       address at 2..5, destination 6..9.
 */
#define Z (-1)

/* pshufb control of meta bytes 40..55 (from lo) and 56..71 (from hi).
 * Big-endian fields land byte-swapped, i.e. in host order. */
#define TAIL_CTL(v6, vc)						\
	Z, Z, Z, Z, Z, Z, Z, Z,		/* 40..47: from constants */	\
	(v6) ? 13 : 11, (v6) ? 12 : 10,	/* 48 l3_end: + l3_off (+ 40) */ \
	Z, Z,				/* 50 ethertype */		\
	(vc) ? 5 : Z, (vc) ? 4 : Z,	/* 52 vlan_outer: & 0x0fff */	\
	Z, Z,				/* 54 vlan_inner */		\
	11, 10, 13, 12,			/* 56 sport, 58 dport */	\
	Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z	/* 60..71 */

/* Meta bytes 40..71 as 16 words, added to the shuffled bytes. */
#define TAIL_ADD(v6, tcp, vc, swap)					\
	0,					/* 40 pkt_len: added */	\
	14 + 4 * (vc),				/* 42 l3_off */		\
	14 + 4 * (vc) + ((v6) ? 40 : 20),	/* 44 l4_off */		\
	14 + 4 * (vc) + ((v6) ? 40 : 20) + ((tcp) ? 0 : 8), /* 46 */	\
	14 + 4 * (vc) + ((v6) ? 40 : 0),	/* 48 l3_end */		\
	(v6) ? 0x86dd : 0x0800,			/* 50 ethertype */	\
	0, 0,				/* 52 vlan_outer, 54 vlan_inner */ \
	0, 0, 0,			/* 56 sport, 58 dport, 60 gre */ \
	(vc) | ((v6) ? SL_L3_IPV6 : SL_L3_IPV4) << 8, /* 62 count, 63 l3 */ \
	(tcp) ? 6 : 17,			/* 64 l4_proto, 65 frag */	\
	0,				/* 66 ttl, 67 tcp_flags: stored */ \
	0,				/* 68 icmp_type, 69 icmp_code */ \
	(swap)				/* 70 key_swapped, 71 drop */

/* IPv4 key address at hi + a, zero-padded to 16 bytes. */
#define ADDR4(a) (a), (a) + 1, (a) + 2, (a) + 3, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z

/*
 * Everything a builder takes from its shape, in one 128-byte record so
 * that one index reaches all of it.
 */
struct vec_shape {
	int8_t tail_ctl[32];	/* pshufb: meta 40..55 from lo, 56..71 hi */
	uint16_t tail_add[16];	/* + meta 40..71 */
	int8_t addr_ctl[32];	/* IPv4 key addresses from hi, lo then hi */
	int8_t ports_ctl[16];	/* pshufb: meta 32..35 (port_lo, port_hi) */
	uint8_t ports_or[16];	/* | meta 36..37 (proto, family) */
};

_Static_assert(sizeof(struct vec_shape) == 128, "one shape, two lines");

#define SHAPE_INIT(v6, tcp, vc, swap) {					\
	.tail_ctl = { TAIL_CTL(v6, vc) },				\
	.tail_add = { TAIL_ADD(v6, tcp, vc, swap) },			\
	.addr_ctl = { ADDR4((swap) ? 6 : 2), ADDR4((swap) ? 2 : 6) },	\
	.ports_ctl = { (swap) ? 13 : 11, (swap) ? 12 : 10,		\
		       (swap) ? 11 : 13, (swap) ? 10 : 12,		\
		       Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z },		\
	.ports_or = { 0, 0, 0, 0, (tcp) ? 6 : 17,			\
		      (v6) ? SL_FAMILY_IPV6 : SL_FAMILY_IPV4 },		\
}

#define SHAPE_INIT_VC(v6, tcp, vc)					\
	{ SHAPE_INIT(v6, tcp, vc, 0), SHAPE_INIT(v6, tcp, vc, 1) }
#define SHAPE_INIT_TCP(v6, tcp)						\
	{ SHAPE_INIT_VC(v6, tcp, 0), SHAPE_INIT_VC(v6, tcp, 1) }

/* By [IPv6][TCP][VLAN tag][key swapped]. */
static const struct vec_shape vec_shapes[2][2][2][2]
	__attribute__((aligned(64))) = {
	{ SHAPE_INIT_TCP(0, 0), SHAPE_INIT_TCP(0, 1) },
	{ SHAPE_INIT_TCP(1, 0), SHAPE_INIT_TCP(1, 1) },
};

#undef ADDR4
#undef Z

/* The VID is the TCI's low 12 bits: in host order, byte 53's low nibble. */
#define TAIL_VID_MASK _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, \
				    -1, -1, -1, -1, 0x0f, -1, -1)

/*
 * Meta bytes 32..71 of a fast packet of shape sh.  tcp_hlen: the TCP
 * header length (0 for UDP); ttl_flags: TTL | TCP flags << 8.
 */
VEC_INLINE void
vec_store_tail(uint8_t *m, __m128i lo, __m128i hi, const struct vec_shape *sh,
	       unsigned int len, unsigned int tcp_hlen, uint16_t ttl_flags)
{
	const int8_t *ctl = sh->tail_ctl;
	const uint16_t *add = sh->tail_add;
	__m128i var = _mm_cvtsi64_si128((long long)(len |
						    (uint64_t)tcp_hlen << 48));
	__m128i ports;

	/* 32..39: ordered ports, protocol, family, pad */
	ports = _mm_shuffle_epi8(hi, _mm_load_si128(
					     (const __m128i *)sh->ports_ctl));
	ports = _mm_or_si128(ports, _mm_load_si128(
				     (const __m128i *)sh->ports_or));
	_mm_storel_epi64((__m128i *)(m + 32), ports);

	/* 40..71 */
#ifdef __AVX2__
	{
		__m256i t = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo),
			_mm256_load_si256((const __m256i *)ctl));

		t = _mm256_and_si256(t, _mm256_setr_epi8(
			-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
			0x0f, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
			-1, -1, -1, -1, -1, -1));	/* TAIL_VID_MASK */
		t = _mm256_add_epi16(t, _mm256_load_si256((const __m256i *)add));
		t = _mm256_add_epi16(t, _mm256_zextsi128_si256(var));
		_mm256_storeu_si256((__m256i *)(m + 40), t);
	}
#else
	{
		__m128i t0 = _mm_shuffle_epi8(lo, _mm_load_si128(
						      (const __m128i *)ctl));
		__m128i t1 = _mm_shuffle_epi8(hi, _mm_load_si128(
						      (const __m128i *)(ctl + 16)));

		t0 = _mm_add_epi16(_mm_and_si128(t0, TAIL_VID_MASK),
				   _mm_add_epi16(_mm_load_si128(
					(const __m128i *)add), var));
		t1 = _mm_add_epi16(t1, _mm_load_si128(
					       (const __m128i *)(add + 8)));
		_mm_storeu_si128((__m128i *)(m + 40), t0);
		_mm_storeu_si128((__m128i *)(m + 56), t1);
	}
#endif
	/* 66..67: TTL and TCP flags, which no window holds together */
	memcpy(m + 66, &ttl_flags, sizeof(ttl_flags));
}

/*
 * IPv4, IHL 5, not a fragment, TCP or UDP (tcp is a constant).  Returns 0,
 * having written nothing, when the frame is too short for the loads or a
 * length check fails; the scalar parser then names the drop.
 */
VEC_INLINE int
vec_build_ipv4(const uint8_t *p, unsigned int len, unsigned int vc,
	       struct sl_pkt_meta *meta, int tcp)
{
	const uint8_t *q = p + 4 * vc;		/* as if untagged */
	int l3_room = (int)len - 14 - 4 * (int)vc;
	uint8_t *m = (uint8_t *)meta;
	unsigned int tcp_hlen = 0, flags = 0, swap;
	const struct vec_shape *sh;
	int total;
	__m128i lo, hi, k;
	uint64_t a, b;

	if (len < FAST4_MIN_LEN + 4 * vc)
		return 0;
	total = (int)vec_be16(q + 16);
	if (tcp) {
		/* total in [40, room]: the TCP header is inside the frame */
		if (((l3_room - total) | (total - 40)) < 0)
			return 0;
		tcp_hlen = (q[46] >> 2) & 0x3c;
		flags = q[47];
		if ((((int)tcp_hlen - 20) | (total - 20 - (int)tcp_hlen)) < 0)
			return 0;
	} else {
		int ulen = (int)vec_be16(q + 38);

		if (((l3_room - total) | (ulen - 8) | (total - 20 - ulen)) < 0)
			return 0;
	}

	lo = _mm_loadu_si128((const __m128i *)(q + 6));
	hi = _mm_loadu_si128((const __m128i *)(q + 24));

	/*
	 * Symmetric key order: (src, sport) against (dst, dport) as
	 * big-endian numbers.  One shuffle builds both 48-bit values, src <<
	 * 16 | sport and dst << 16 | dport.
	 */
	k = _mm_shuffle_epi8(hi, _mm_setr_epi8(11, 10, 5, 4, 3, 2, -1, -1,
					       13, 12, 9, 8, 7, 6, -1, -1));
	a = (uint64_t)_mm_cvtsi128_si64(k);
	b = (uint64_t)_mm_extract_epi64(k, 1);
	swap = (unsigned int)((b - a) >> 63);	/* a > b; both < 2^48 */

	sh = &vec_shapes[0][tcp][vc][swap];

	/* 0..31: the key's addresses, zero-padded */
#ifdef __AVX2__
	_mm256_storeu_si256((__m256i *)m, _mm256_shuffle_epi8(
		_mm256_set_m128i(hi, hi), _mm256_load_si256(
			(const __m256i *)sh->addr_ctl)));
#else
	_mm_storeu_si128((__m128i *)m, _mm_shuffle_epi8(hi, _mm_load_si128(
		(const __m128i *)sh->addr_ctl)));
	_mm_storeu_si128((__m128i *)(m + 16), _mm_shuffle_epi8(hi,
		_mm_load_si128((const __m128i *)(sh->addr_ctl + 16))));
#endif
	vec_store_tail(m, lo, hi, sh, len, tcp_hlen,
		       (uint16_t)(q[22] | flags << 8));
	return 1;
}

/*
 * IPv6 without extension headers, TCP or UDP (tcp is a constant).  Returns
 * 0, having written nothing, when the frame is too short for the loads or
 * a length check fails.
 */
VEC_INLINE int
vec_build_ipv6(const uint8_t *p, unsigned int len, unsigned int vc,
	       struct sl_pkt_meta *meta, int tcp)
{
	const uint8_t *q = p + 4 * vc;
	int l3_room = (int)len - 14 - 4 * (int)vc;
	uint8_t *m = (uint8_t *)meta;
	unsigned int tcp_hlen = 0, flags = 0, swap;
	uint32_t sport, dport, ge, diff;
	__m128i s, d, hi;
	int plen;

	if (len < FAST6_MIN_LEN + 4 * vc)
		return 0;
	plen = (int)vec_be16(q + 18);
	if (tcp) {
		/* plen in [20, room - 40]: the TCP header is in the frame */
		if (((l3_room - 40 - plen) | (plen - 20)) < 0)
			return 0;
		tcp_hlen = (q[66] >> 2) & 0x3c;
		flags = q[67];
		if ((((int)tcp_hlen - 20) | (plen - (int)tcp_hlen)) < 0)
			return 0;
	} else {
		int ulen = (int)vec_be16(q + 58);

		if (((l3_room - 40 - plen) | (ulen - 8) | (plen - ulen)) < 0)
			return 0;
	}

	/*
	 * Lexicographic compare of the 16-byte addresses, then the ports:
	 * per-byte "src >= dst" and "src != dst" masks, the ports as bit 16;
	 * the lowest differing position decides.
	 */
	s = _mm_loadu_si128((const __m128i *)(q + 22));
	d = _mm_loadu_si128((const __m128i *)(q + 38));
	hi = _mm_loadu_si128((const __m128i *)(q + 44));
	sport = vec_be16(q + 54);
	dport = vec_be16(q + 56);
	ge = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(s, d), s)) |
	     ((dport - sport) >> 31) << 16;		/* sport > dport */
	diff = ((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(s, d)) ^ 0xffff) |
	       (((sport ^ dport) + 0xffff) >> 16) << 16; /* sport != dport */
	swap = (ge & diff & -diff) != 0;

	/* 0..31: the key's addresses, reloaded in key order */
#ifdef __AVX2__
	_mm256_storeu_si256((__m256i *)m, _mm256_loadu2_m128i(
		(const __m128i *)(q + 38 - 16 * swap),
		(const __m128i *)(q + 22 + 16 * swap)));
#else
	_mm_storeu_si128((__m128i *)m,
			 _mm_loadu_si128((const __m128i *)(q + 22 + 16 * swap)));
	_mm_storeu_si128((__m128i *)(m + 16),
			 _mm_loadu_si128((const __m128i *)(q + 38 - 16 * swap)));
#endif
	vec_store_tail(m, _mm_loadu_si128((const __m128i *)(q + 6)), hi,
		       &vec_shapes[1][tcp][vc][swap], len, tcp_hlen,
		       (uint16_t)(q[21] | flags << 8));
	return 1;
}

/*
 * Up to 32 packets: classify, build the fast shapes, then the rest.  Where
 * fast is not NULL it gets the mask of packets built by the fast path.
 */
VEC_INLINE uint16_t
vec_parse_32(const uint8_t *const data[], const uint16_t len[], unsigned int n,
	     struct sl_pkt_meta meta[], uint32_t *fast)
{
	uint8_t cls[SL_PARSE_BURST_MAX];
	uint32_t slow = 0;
	unsigned int kept;

	vec_classify(data, len, n, cls);

	for (unsigned int i = 0; i < n; i++) {
		unsigned int vc = cls[i] >> CLASS_VLAN_SHIFT;
		int ok;

		switch (cls[i] & CLASS_SHAPE) {
		case CLASS_V4_TCP:
			ok = vec_build_ipv4(data[i], len[i], vc, &meta[i], 1);
			break;
		case CLASS_V4_UDP:
			ok = vec_build_ipv4(data[i], len[i], vc, &meta[i], 0);
			break;
		case CLASS_V6_TCP:
			ok = vec_build_ipv6(data[i], len[i], vc, &meta[i], 1);
			break;
		case CLASS_V6_UDP:
			ok = vec_build_ipv6(data[i], len[i], vc, &meta[i], 0);
			break;
		default:
			ok = 0;
		}
		slow |= (uint32_t)!ok << i;
	}

	if (fast != NULL)
		*fast = (n == 32 ? UINT32_MAX : (1u << n) - 1) & ~slow;
	kept = n - (unsigned int)__builtin_popcount(slow);
	for (; slow != 0; slow &= slow - 1) {
		unsigned int i = (unsigned int)__builtin_ctz(slow);

		sl_parse_one(data[i], len[i], &meta[i]);
		kept += meta[i].drop_reason == SL_DROP_NONE;
	}
	return (uint16_t)kept;
}

VEC_INLINE uint16_t
vec_parse_burst(const uint8_t *const data[], const uint16_t len[], uint16_t n,
		struct sl_pkt_meta meta[])
{
	uint16_t kept = 0;

	/* n is at most SL_PARSE_BURST_MAX by contract; more is still parsed. */
	for (unsigned int i = 0; i < n; i += SL_PARSE_BURST_MAX) {
		unsigned int k = n - i < SL_PARSE_BURST_MAX ?
				 n - i : SL_PARSE_BURST_MAX;

		kept += vec_parse_32(data + i, len + i, k, meta + i, NULL);
	}
	return kept;
}

#endif /* SLUICE_DP_PARSE_VEC_H */
