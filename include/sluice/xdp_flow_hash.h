/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sl_flow_hash() (lib/flow_hash.c: XXH3_64bits_withSeed over the 40 bytes
 * of struct sl_flow_key) for the XDP program, which cannot call
 * libxxhash, so that both datapaths pick the same Maglev slot for a flow
 * (DESIGN.md, "The same policy in XDP").
 *
 * It is XXH3's path for inputs of 17 to 128 bytes (XXH3_len_17to128_64b
 * of xxHash 0.8) written out for exactly 40 bytes: with a seed and an
 * input of at most 240 bytes XXH3 uses its default secret, of which this
 * needs the first 64 bytes (SL_XDP_XXH3_S*, read little-endian).  The
 * 64x64 -> 128-bit multiply is built from 32-bit halves: BPF's multiply
 * keeps only the low 64 bits.  tests/unit/test_xdp_hash.c runs 1,000,000
 * random keys and seeds through the BPF build of this code and compares
 * with sl_flow_hash().
 *
 * Plain <linux/types.h> (STYLE.md rule 12): the BPF program and user space
 * compile the same text.  Per call: four multiplies of 128 bits (16 of
 * 64), no loop, no map.
 */
#ifndef SLUICE_XDP_FLOW_HASH_H
#define SLUICE_XDP_FLOW_HASH_H

#include <linux/types.h>

#define SL_XDP_FLOW_KEY_LEN	40

#define SL_XDP_XXH_PRIME64_1	0x9e3779b185ebca87ull
#define SL_XDP_XXH3_AVALANCHE	0x165667919e3779f9ull
/* XXH3_kSecret[0..63] as little-endian 64-bit words */
#define SL_XDP_XXH3_S0		0xbe4ba423396cfeb8ull
#define SL_XDP_XXH3_S1		0x1cad21f72c81017cull
#define SL_XDP_XXH3_S2		0xdb979083e96dd4deull
#define SL_XDP_XXH3_S3		0x1f67b3b7a4a44072ull
#define SL_XDP_XXH3_S4		0x78e5c0cc4ee679cbull
#define SL_XDP_XXH3_S5		0x2172ffcc7dd05a82ull
#define SL_XDP_XXH3_S6		0x8e2443f7744608b8ull
#define SL_XDP_XXH3_S7		0x4c263a81e69035e0ull

static __always_inline __u64
sl_xdp_read_le64(const __u8 *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* The low and high halves of a * b, XORed (XXH3_mul128_fold64), from the
 * four 32 x 32 -> 64-bit products (XXH_mult64to128's portable form). */
static __always_inline __u64
sl_xdp_mul128_fold64(__u64 a, __u64 b)
{
	__u64 lo_lo = (a & 0xffffffffu) * (b & 0xffffffffu);
	__u64 hi_lo = (a >> 32) * (b & 0xffffffffu);
	__u64 lo_hi = (a & 0xffffffffu) * (b >> 32);
	__u64 hi_hi = (a >> 32) * (b >> 32);
	__u64 cross = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + lo_hi;
	__u64 upper = (hi_lo >> 32) + (cross >> 32) + hi_hi;
	__u64 lower = (cross << 32) | (lo_lo & 0xffffffffu);

	return lower ^ upper;
}

/* XXH3_mix16B: 16 input bytes against 16 secret bytes (s0, s1). */
static __always_inline __u64
sl_xdp_xxh3_mix16(const __u8 *in, __u64 s0, __u64 s1, __u64 seed)
{
	return sl_xdp_mul128_fold64(sl_xdp_read_le64(in) ^ (s0 + seed),
				    sl_xdp_read_le64(in + 8) ^ (s1 - seed));
}

/* sl_flow_hash(key, seed) for a 40-byte key (struct sl_flow_key). */
static __always_inline __u64
sl_xdp_flow_hash(const void *key, __u64 seed)
{
	const __u8 *k = key;
	__u64 acc = SL_XDP_FLOW_KEY_LEN * SL_XDP_XXH_PRIME64_1;

	/* len 40: bytes 16.. and len-32 = 8.., then 0.. and len-16 = 24.. */
	acc += sl_xdp_xxh3_mix16(k + 16, SL_XDP_XXH3_S4, SL_XDP_XXH3_S5, seed);
	acc += sl_xdp_xxh3_mix16(k + 8, SL_XDP_XXH3_S6, SL_XDP_XXH3_S7, seed);
	acc += sl_xdp_xxh3_mix16(k + 0, SL_XDP_XXH3_S0, SL_XDP_XXH3_S1, seed);
	acc += sl_xdp_xxh3_mix16(k + 24, SL_XDP_XXH3_S2, SL_XDP_XXH3_S3, seed);
	/* XXH3_avalanche */
	acc ^= acc >> 37;
	acc *= SL_XDP_XXH3_AVALANCHE;
	acc ^= acc >> 32;
	return acc;
}

#endif /* SLUICE_XDP_FLOW_HASH_H */
