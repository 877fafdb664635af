/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vector parser, written once and compiled twice: parse_sse42.c
 * (-msse4.2) and parse_avx2.c (-mavx2 -mbmi -mbmi2) include this file and
 * instantiate parse_burst_vec() for their instruction set.  Internal to the
 * parser; nothing else includes it.
 *
 * A burst is parsed in two passes:
 *
 *   1. classify: for every packet, one 16-byte load of the bytes after the
 *      Ethernet header (after one VLAN tag when there is one) is masked and
 *      compared with templates of the common shapes: untagged or one tag,
 *      then IPv4 with IHL 5 and no fragment bits, or IPv6 without extension
 *      headers, carrying TCP or UDP.  With AVX2 two packets share one 256-bit
 *      compare.  The result is a bit mask per shape for the whole burst.
 *      Packets are prefetched PARSE_PREFETCH_OFFSET packets ahead.
 *   2. build: the packets of each fast shape get their meta from a fixed
 *      sequence of loads, shuffles and stores (no per-field branches), after
 *      the length checks that templates cannot express (total length, TCP
 *      data offset, UDP length).  Any packet a check refuses, and every
 *      packet not in a fast shape, goes to sl_parse_one(), the reference.
 *
 * The fast path writes exactly what sl_parse_one() would write for the same
 * bytes - every one of the 72 meta bytes - so the variants agree byte for
 * byte.  It never reads past len: a shape is fast only when len covers every
 * byte its builder loads (FAST4_MIN_LEN, FAST6_MIN_LEN), and the one optional
 * read (TCP data offset and flags) is redirected to an in-bounds byte when
 * the frame is too short for it; such a packet then fails the length checks.
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

/*
 * Bytes a fast builder reads, from the start of the frame, without a VLAN
 * tag (add 4 with one).  IPv4: up to the UDP length (l4_off + 6..7).  IPv6:
 * likewise at l4_off 54.  Classification reads 12..27 (+4), inside both.
 */
#define CLASSIFY_MIN_LEN 32
#define FAST4_MIN_LEN 40
#define FAST6_MIN_LEN 62

/*
 * The fast builders must be inlined into the burst loop of each instruction
 * set (they are the same source compiled for SSE4.2 and for AVX2).
 */
#define VEC_INLINE static inline __attribute__((always_inline))

/* A frame of zeros that classification reads instead of a short packet:
 * it matches no template. */
static const uint8_t vec_zero_frame[CLASSIFY_MIN_LEN]
	__attribute__((aligned(16)));

VEC_INLINE uint16_t
vec_ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

VEC_INLINE uint32_t
vec_ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

VEC_INLINE void
vec_st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

VEC_INLINE unsigned int
vec_be16(const uint8_t *p)
{
	return __builtin_bswap16(vec_ld16(p));
}

/* 1 when the type field at p (12 bytes into the frame) is a VLAN TPID. */
VEC_INLINE unsigned int
vec_vlan_tag(const uint8_t *frame)
{
	uint16_t t = vec_ld16(frame + 12);	/* wire order in memory */

	return (t == __builtin_bswap16(0x8100)) |
	       (t == __builtin_bswap16(0x88a8)) |
	       (t == __builtin_bswap16(0x9100));
}

/*
 * Templates over the 16 bytes at 12 (+4 with a tag): type, then the IP
 * header's first 14 bytes.  (W & MASK) must equal TCP or UDP template.
 *   IPv4: type 0800, version 4 IHL 5, flags&offset & 0x3fff == 0, proto.
 *   IPv6: type 86dd, version 6, next header.
 */
#define V4_MASK _mm_setr_epi8(-1, -1, -1, 0, 0, 0, 0, 0, 0x3f, -1, 0, -1, \
			      0, 0, 0, 0)
#define V4_TCP _mm_setr_epi8(0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 6, \
			     0, 0, 0, 0)
#define V4_UDP _mm_setr_epi8(0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 17, \
			     0, 0, 0, 0)
#define V6_MASK _mm_setr_epi8(-1, -1, 0xf0, 0, 0, 0, 0, 0, -1, 0, 0, 0, \
			      0, 0, 0, 0)
#define V6_TCP _mm_setr_epi8((char)0x86, (char)0xdd, 0x60, 0, 0, 0, 0, 0, \
			     6, 0, 0, 0, 0, 0, 0, 0)
#define V6_UDP _mm_setr_epi8((char)0x86, (char)0xdd, 0x60, 0, 0, 0, 0, 0, \
			     17, 0, 0, 0, 0, 0, 0, 0)

/*
 * Per-shape constants of the fast builders.  A fast packet's shape is
 * (family, VLAN tag, TCP, key swapped); everything in meta bytes 32..71
 * that follows from the shape alone comes from these tables, so the
 * builders run one fixed sequence for every shape (STYLE.md 7).
 */
#define SHAPE(v6, vc, tcp, swap) ((v6) << 3 | (vc) << 2 | (tcp) << 1 | (swap))

/*
 * Meta bytes 40..71 as 16 little-endian words: what is added to the
 * shuffled packet fields (see TAIL_CTL).  l3_end's word gets l3_off (+ 40
 * for IPv6) here and the IP length from the packet; payload_off's word
 * gets the TCP header length from the builder.
 */
#define TAIL_ADD(v6, vc, tcp, swap) {					\
	0,					/* 40 pkt_len */	\
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
	(swap),				/* 70 key_swapped, 71 drop */	\
}

#define TAIL_ADD_VC(v6, vc) TAIL_ADD(v6, vc, 0, 0), TAIL_ADD(v6, vc, 0, 1), \
	TAIL_ADD(v6, vc, 1, 0), TAIL_ADD(v6, vc, 1, 1)

static const uint16_t vec_tail_add[16][16] __attribute__((aligned(32))) = {
	TAIL_ADD_VC(0, 0), TAIL_ADD_VC(0, 1),
	TAIL_ADD_VC(1, 0), TAIL_ADD_VC(1, 1),
};

/*
 * pshufb controls that move packet bytes into meta bytes 40..71, from the
 * 32-byte window the builder loads: low half from q + 6 (q = frame + 4 per
 * tag), high half from q + 22 (IPv4) or q + 42 (IPv6), so the VLAN TCI is
 * at 4..5, the IP length at 10..11 (IPv4 total length) or 12..13 (IPv6
 * payload length), and the ports at 12..15 of the high half.  Big-endian
 * fields land byte-swapped, i.e. in host order.  Without a tag the TCI
 * bytes are not taken.
 */
#define Z (-1)
#define TAIL_CTL(v6, vc)						\
	Z, Z, Z, Z, Z, Z, Z, Z,			/* 40..47 */		\
	(v6) ? 13 : 11, (v6) ? 12 : 10,		/* 48 l3_end */		\
	Z, Z,					/* 50 ethertype */	\
	(vc) ? 5 : Z, (vc) ? 4 : Z,		/* 52 vlan_outer */	\
	Z, Z,					/* 54 */		\
	13, 12, 15, 14,				/* 56 sport, 58 dport */ \
	Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z	/* 60..71 */

static const int8_t vec_tail_ctl[4][32] __attribute__((aligned(32))) = {
	{ TAIL_CTL(0, 0) }, { TAIL_CTL(0, 1) },
	{ TAIL_CTL(1, 0) }, { TAIL_CTL(1, 1) },
};

/* The VID is the TCI's low 12 bits: byte 53 (its high byte) & 0x0f. */
#define TAIL_VID_MASK_BYTE 13

/* Meta bytes 32..39 (port_lo, port_hi, proto, family, pad) from the high
 * half of the window, by [key swapped]. */
static const int8_t vec_ports_ctl[2][16] __attribute__((aligned(16))) = {
	{ 13, 12, 15, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z },
	{ 15, 14, 13, 12, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z },
};
#undef Z

/* Length checks that the templates cannot express; see vec_l4_check. */
struct vec_l4 {
	uint32_t ok;		/* lengths pass the scalar parser's checks */
	uint32_t tcp_hlen;	/* TCP header length; 0 for UDP */
	uint32_t flags;		/* TCP flags; 0 for UDP */
};

/* 0 -> 0, 1 -> all ones. */
VEC_INLINE uint32_t
vec_mask(uint32_t bit)
{
	return 0u - bit;
}

/*
 * TCP/UDP length checks, as in the scalar parser: TCP needs 20 <= data
 * offset * 4 <= avail, UDP 8 <= UDP length <= avail, where avail is the IP
 * payload.  l4 is the L4 header, room the frame bytes from it (>= 6).  The
 * data offset byte is read only when it lies inside the frame; otherwise
 * the UDP length is read in its place, and for TCP the avail check fails
 * (avail <= room < 14).  No branches: TCP and UDP mix in real traffic.
 */
VEC_INLINE struct vec_l4
vec_l4_check(const uint8_t *l4, unsigned int room, uint32_t tcpm, int avail)
{
	const uint8_t *th = l4 + 4 + 8 * (room >= 14);
	uint32_t thl = (uint32_t)(th[0] >> 4) << 2;
	uint32_t x = (thl & tcpm) | (vec_be16(l4 + 4) & ~tcpm);
	uint32_t xmin = 8 + (12 & tcpm);
	struct vec_l4 r;

	r.ok = ((int)(x - xmin) | (avail - (int)x)) >= 0;
	r.tcp_hlen = thl & tcpm;
	r.flags = th[1] & tcpm;
	return r;
}

/*
 * Meta bytes 32..71 of a fast packet.  w is the 32-byte window described
 * at vec_tail_ctl; ttl is the TTL or hop limit.
 */
VEC_INLINE void
vec_store_tail(uint8_t *m, __m128i w_lo, __m128i w_hi, unsigned int v6,
	       unsigned int vc, uint32_t tcpm, unsigned int swap,
	       unsigned int len, struct vec_l4 l4, unsigned int ttl)
{
	unsigned int shape = SHAPE(v6, vc, tcpm & 1, swap);
	const __m128i *ctl = (const __m128i *)vec_tail_ctl[v6 << 1 | vc];
	const __m128i *add = (const __m128i *)vec_tail_add[shape];
	__m128i vid = _mm_insert_epi8(_mm_set1_epi8(-1), 0x0f,
				      TAIL_VID_MASK_BYTE);
	__m128i var = _mm_cvtsi64_si128((long long)(len |
					(uint64_t)l4.tcp_hlen << 48));
	__m128i ports;

	/* 32..39: ordered ports, then proto and family */
	ports = _mm_or_si128(_mm_shuffle_epi8(w_hi, _mm_load_si128(
			(const __m128i *)vec_ports_ctl[swap])),
		_mm_cvtsi64_si128((long long)((uint64_t)(17 ^ (23 & tcpm)) << 32 |
					      (uint64_t)(4 + 2 * v6) << 40)));
	_mm_storel_epi64((__m128i *)(m + 32), ports);

	/* 40..71: shuffled fields + per-shape constants + len, TCP hlen */
#ifdef __AVX2__
	{
		__m256i w = _mm256_set_m128i(w_hi, w_lo);
		__m256i t = _mm256_shuffle_epi8(w, _mm256_load_si256(
						(const __m256i *)ctl));

		t = _mm256_and_si256(t, _mm256_set_m128i(_mm_set1_epi8(-1),
							 vid));
		t = _mm256_add_epi16(t, _mm256_load_si256(
					     (const __m256i *)add));
		t = _mm256_add_epi16(t, _mm256_zextsi128_si256(var));
		_mm256_storeu_si256((__m256i *)(m + 40), t);
	}
#else
	{
		__m128i t0 = _mm_shuffle_epi8(w_lo, _mm_load_si128(ctl));
		__m128i t1 = _mm_shuffle_epi8(w_hi, _mm_load_si128(ctl + 1));

		t0 = _mm_add_epi16(_mm_and_si128(t0, vid),
				   _mm_add_epi16(_mm_load_si128(add), var));
		t1 = _mm_add_epi16(t1, _mm_load_si128(add + 1));
		_mm_storeu_si128((__m128i *)(m + 40), t0);
		_mm_storeu_si128((__m128i *)(m + 56), t1);
	}
#endif
	/* 66..67: TTL and TCP flags, fields no single window holds */
	uint16_t tf = (uint16_t)(ttl | l4.flags << 8);

	memcpy(m + 66, &tf, sizeof(tf));
}

/* Key addresses: 32 bytes, lo then hi, each zero-padded to 16. */
VEC_INLINE void
vec_store_addrs(uint8_t *dst, __m128i lo, __m128i hi)
{
#ifdef __AVX2__
	_mm256_storeu_si256((__m256i *)dst, _mm256_set_m128i(hi, lo));
#else
	_mm_storeu_si128((__m128i *)dst, lo);
	_mm_storeu_si128((__m128i *)(dst + 16), hi);
#endif
}

/*
 * IPv4, IHL 5, not a fragment, TCP or UDP (the classifier said so, and len
 * >= FAST4_MIN_LEN + 4 * vc).  Returns 0 when a length check fails: the
 * caller then runs the scalar parser, which names the drop.
 */
VEC_INLINE int
vec_build_ipv4(const uint8_t *p, unsigned int len, unsigned int vc,
	       struct sl_pkt_meta *meta)
{
	const uint8_t *q = p + 4 * vc;		/* as if untagged */
	unsigned int l3_room = len - 14 - 4 * vc;
	unsigned int total = vec_be16(q + 16);
	uint32_t tcpm = vec_mask(q[23] == 6);
	uint8_t *m = (uint8_t *)meta;
	struct vec_l4 l4;
	__m128i w_lo, w_hi, k;
	uint64_t a, b;
	unsigned int swap;

	l4 = vec_l4_check(q + 34, l3_room - 20, tcpm, (int)total - 20);
	if (!l4.ok || total > l3_room)
		return 0;

	w_lo = _mm_loadu_si128((const __m128i *)(q + 6));
	w_hi = _mm_loadu_si128((const __m128i *)(q + 22));

	/*
	 * Symmetric key order: (src, sport) vs (dst, dport) as big-endian
	 * numbers.  One shuffle of bytes 22..37 (ttl .. dport) builds both
	 * 48-bit values, src << 16 | sport and dst << 16 | dport.
	 */
	k = _mm_shuffle_epi8(w_hi, _mm_setr_epi8(13, 12, 7, 6, 5, 4, -1, -1,
						 15, 14, 11, 10, 9, 8, -1, -1));
	a = (uint64_t)_mm_cvtsi128_si64(k);
	b = (uint64_t)_mm_extract_epi64(k, 1);
	swap = (unsigned int)((b - a) >> 63);	/* a > b; both < 2^48 */

	vec_store_addrs(m, _mm_cvtsi32_si128((int)vec_ld32(q + 26 + 4 * swap)),
			_mm_cvtsi32_si128((int)vec_ld32(q + 30 - 4 * swap)));
	vec_store_tail(m, w_lo, w_hi, 0, vc, tcpm, swap, len, l4, q[22]);
	return 1;
}

/*
 * IPv6 without extension headers, TCP or UDP (len >= FAST6_MIN_LEN + 4 *
 * vc).  Returns 0 when a length check fails.
 */
VEC_INLINE int
vec_build_ipv6(const uint8_t *p, unsigned int len, unsigned int vc,
	       struct sl_pkt_meta *meta)
{
	const uint8_t *q = p + 4 * vc;
	unsigned int l3_room = len - 14 - 4 * vc;
	unsigned int plen = vec_be16(q + 18);
	uint32_t tcpm = vec_mask(q[20] == 6);
	uint8_t *m = (uint8_t *)meta;
	struct vec_l4 l4;
	__m128i s, d, w_hi;
	uint32_t sport, dport, ge, diff;
	unsigned int swap;

	l4 = vec_l4_check(q + 54, l3_room - 40, tcpm, (int)plen);
	if (!l4.ok || plen > l3_room - 40)
		return 0;

	/*
	 * Lexicographic compare of the 16-byte addresses, then the ports:
	 * per-byte "src >= dst" and "src != dst" masks (the ports as bit
	 * 16); the lowest differing position decides.
	 */
	s = _mm_loadu_si128((const __m128i *)(q + 22));
	d = _mm_loadu_si128((const __m128i *)(q + 38));
	w_hi = _mm_loadu_si128((const __m128i *)(q + 42));
	sport = vec_be16(q + 54);
	dport = vec_be16(q + 56);
	ge = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(s, d), s)) |
	     ((dport - sport) >> 31) << 16;		/* sport > dport */
	diff = ((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(s, d)) ^ 0xffff) |
	       (((sport ^ dport) + 0xffff) >> 16) << 16; /* sport != dport */
	swap = (ge & diff & -diff) != 0;

	vec_store_addrs(m, _mm_loadu_si128((const __m128i *)(q + 22 + 16 * swap)),
			_mm_loadu_si128((const __m128i *)(q + 38 - 16 * swap)));
	vec_store_tail(m, _mm_loadu_si128((const __m128i *)(q + 6)), w_hi, 1,
		       vc, tcpm, swap, len, l4, q[21]);
	return 1;
}

/*
 * Class byte of a packet, from pass 1: CLASS_V4 or CLASS_V6 when its
 * window matched that family's templates (0 otherwise), | CLASS_VLAN when
 * one tag precedes the IP header.  Length limits are checked in pass 2.
 */
#define CLASS_V4 1
#define CLASS_V6 2
#define CLASS_VLAN 4

/* The class of one packet from its window's per-byte template matches. */
VEC_INLINE uint8_t
vec_class_of(uint32_t m4, uint32_t m6, unsigned int vc)
{
	return (uint8_t)((m4 == 0xffff) | (m6 == 0xffff) << 1 | vc << 2);
}

/* The frame classification reads: the packet, or zeros when it is too
 * short for the window (zeros match no template). */
VEC_INLINE const uint8_t *
vec_frame(const uint8_t *p, unsigned int len)
{
	return len >= CLASSIFY_MIN_LEN ? p : vec_zero_frame;
}

/* Pass 1: one class byte per packet into cls[0 .. n-1]. */
VEC_INLINE void
vec_classify(const uint8_t *const data[], const uint16_t len[], unsigned int n,
	     uint8_t cls[SL_PARSE_BURST_MAX])
{
	unsigned int i = 0;

#ifdef __AVX2__
	/* Two packets per 256-bit compare. */
	const __m256i m4 = _mm256_broadcastsi128_si256(V4_MASK);
	const __m256i t4t = _mm256_broadcastsi128_si256(V4_TCP);
	const __m256i t4u = _mm256_broadcastsi128_si256(V4_UDP);
	const __m256i m6 = _mm256_broadcastsi128_si256(V6_MASK);
	const __m256i t6t = _mm256_broadcastsi128_si256(V6_TCP);
	const __m256i t6u = _mm256_broadcastsi128_si256(V6_UDP);

	for (; i + 2 <= n; i += 2) {
		const uint8_t *f0 = vec_frame(data[i], len[i]);
		const uint8_t *f1 = vec_frame(data[i + 1], len[i + 1]);
		unsigned int vc0 = vec_vlan_tag(f0), vc1 = vec_vlan_tag(f1);
		__m256i w, w4, w6;
		uint32_t e4, e6;

		if (i + PARSE_PREFETCH_OFFSET + 1 < n) {
			__builtin_prefetch(data[i + PARSE_PREFETCH_OFFSET]);
			__builtin_prefetch(data[i + PARSE_PREFETCH_OFFSET + 1]);
		}
		w = _mm256_loadu2_m128i((const __m128i *)(f1 + 12 + 4 * vc1),
					(const __m128i *)(f0 + 12 + 4 * vc0));
		w4 = _mm256_and_si256(w, m4);
		w6 = _mm256_and_si256(w, m6);
		e4 = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
			_mm256_cmpeq_epi8(w4, t4t), _mm256_cmpeq_epi8(w4, t4u)));
		e6 = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
			_mm256_cmpeq_epi8(w6, t6t), _mm256_cmpeq_epi8(w6, t6u)));
		cls[i] = vec_class_of(e4 & 0xffff, e6 & 0xffff, vc0);
		cls[i + 1] = vec_class_of(e4 >> 16, e6 >> 16, vc1);
	}
#endif
	for (; i < n; i++) {
		const uint8_t *f = vec_frame(data[i], len[i]);
		unsigned int vc = vec_vlan_tag(f);
		__m128i w = _mm_loadu_si128((const __m128i *)(f + 12 + 4 * vc));
		__m128i w4 = _mm_and_si128(w, V4_MASK);
		__m128i w6 = _mm_and_si128(w, V6_MASK);

		if (i + PARSE_PREFETCH_OFFSET < n)
			__builtin_prefetch(data[i + PARSE_PREFETCH_OFFSET]);
		cls[i] = vec_class_of(
			(uint32_t)_mm_movemask_epi8(_mm_or_si128(
				_mm_cmpeq_epi8(w4, V4_TCP),
				_mm_cmpeq_epi8(w4, V4_UDP))),
			(uint32_t)_mm_movemask_epi8(_mm_or_si128(
				_mm_cmpeq_epi8(w6, V6_TCP),
				_mm_cmpeq_epi8(w6, V6_UDP))), vc);
	}
}

/* Bit i set where (cls[i] & mask) == want, for all 32 class bytes. */
VEC_INLINE uint32_t
vec_class_mask(const uint8_t cls[SL_PARSE_BURST_MAX], uint8_t mask,
	       uint8_t want)
{
#ifdef __AVX2__
	__m256i c = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)cls),
				     _mm256_set1_epi8((char)mask));

	return (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(c, _mm256_set1_epi8((char)want)));
#else
	__m128i lo = _mm_and_si128(_mm_loadu_si128((const __m128i *)cls),
				   _mm_set1_epi8((char)mask));
	__m128i hi = _mm_and_si128(_mm_loadu_si128((const __m128i *)(cls + 16)),
				   _mm_set1_epi8((char)mask));

	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(lo,
						_mm_set1_epi8((char)want))) |
	       (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(hi,
						_mm_set1_epi8((char)want))) << 16;
#endif
}

/* Up to 32 packets: classify, build the fast shapes, then the rest. */
VEC_INLINE uint16_t
vec_parse_32(const uint8_t *const data[], const uint16_t len[], unsigned int n,
	     struct sl_pkt_meta meta[])
{
	uint8_t cls[SL_PARSE_BURST_MAX] __attribute__((aligned(32))) = { 0 };
	uint32_t all = n == 32 ? UINT32_MAX : (1u << n) - 1;
	uint32_t v4, v6, slow, bits;

	vec_classify(data, len, n, cls);
	v4 = vec_class_mask(cls, CLASS_V4, CLASS_V4);
	v6 = vec_class_mask(cls, CLASS_V6, CLASS_V6);
	slow = all & ~(v4 | v6);

	for (bits = v4; bits != 0; bits &= bits - 1) {
		unsigned int i = (unsigned int)__builtin_ctz(bits);
		unsigned int vc = cls[i] >> 2;

		if (len[i] < FAST4_MIN_LEN + 4 * vc ||
		    !vec_build_ipv4(data[i], len[i], vc, &meta[i]))
			slow |= 1u << i;
	}
	for (bits = v6; bits != 0; bits &= bits - 1) {
		unsigned int i = (unsigned int)__builtin_ctz(bits);
		unsigned int vc = cls[i] >> 2;

		if (len[i] < FAST6_MIN_LEN + 4 * vc ||
		    !vec_build_ipv6(data[i], len[i], vc, &meta[i]))
			slow |= 1u << i;
	}
	for (bits = slow; bits != 0; bits &= bits - 1) {
		unsigned int i = (unsigned int)__builtin_ctz(bits);

		sl_parse_one(data[i], len[i], &meta[i]);
		/* the scalar parser drops most of what it gets here */
		if (meta[i].drop_reason == SL_DROP_NONE)
			slow &= ~(1u << i);
	}
	return (uint16_t)__builtin_popcount(all & ~slow);
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

		kept += vec_parse_32(data + i, len + i, k, meta + i);
	}
	return kept;
}

#endif /* SLUICE_DP_PARSE_VEC_H */
