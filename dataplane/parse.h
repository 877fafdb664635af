/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet parser: bytes in, struct sl_pkt_meta out.
 *
 * It knows nothing of DPDK so that unit tests, the fuzzer and benchmarks
 * call it on plain buffers.  It reads only data[0 .. len-1] of each packet,
 * never more, whatever the bytes say.  A malformed packet gets a non-zero
 * meta.drop_reason (enum sl_drop_reason) and the rest of its meta describes
 * what was parsed before the fault.
 *
 * Variants: a scalar parser, and vector parsers that classify several
 * packets at once with SSE4.2 or AVX2 and fall back to the scalar code for
 * anything outside the common shapes.  All variants give identical meta.
 * The variant is chosen once at start-up (sl_parse_select); the hot path
 * calls one function pointer per burst.
 */
#ifndef SLUICE_DP_PARSE_H
#define SLUICE_DP_PARSE_H

#include <stdint.h>

#include "sluice/pkt_meta.h"

/* Largest burst one call parses. */
#define SL_PARSE_BURST_MAX 32

enum sl_parse_variant {
	SL_PARSE_AUTO = 0,	/* the best the CPU supports */
	SL_PARSE_SCALAR,
	SL_PARSE_SSE42,
	SL_PARSE_AVX2,
};

/*
 * Parse n (<= SL_PARSE_BURST_MAX) packets: data[i] points at the Ethernet
 * header of packet i and len[i] bytes are readable there.  Fills meta[i]
 * whole.  Returns the number of packets whose drop_reason is 0.
 */
typedef uint16_t (*sl_parse_burst_fn)(const uint8_t *const data[],
				      const uint16_t len[], uint16_t n,
				      struct sl_pkt_meta meta[]);

/* One packet, scalar: the reference every variant must agree with. */
void sl_parse_one(const uint8_t *data, uint16_t len, struct sl_pkt_meta *meta);

uint16_t sl_parse_burst_scalar(const uint8_t *const data[], const uint16_t len[],
			       uint16_t n, struct sl_pkt_meta meta[]);
uint16_t sl_parse_burst_sse42(const uint8_t *const data[], const uint16_t len[],
			      uint16_t n, struct sl_pkt_meta meta[]);
uint16_t sl_parse_burst_avx2(const uint8_t *const data[], const uint16_t len[],
			     uint16_t n, struct sl_pkt_meta meta[]);

/*
 * The burst function for a variant.  SL_PARSE_AUTO picks AVX2, then SSE4.2,
 * then scalar, by what the running CPU supports.  Returns NULL with errno =
 * ENOTSUP when the CPU lacks the instructions of an explicit variant.
 */
sl_parse_burst_fn sl_parse_select(enum sl_parse_variant variant);

/* "scalar", "sse42", "avx2" or "auto"; parse with sl_parse_variant_from_name
 * (-1 when unknown). */
const char *sl_parse_variant_name(enum sl_parse_variant variant);
int sl_parse_variant_from_name(const char *name);

/* The variant sl_parse_select(SL_PARSE_AUTO) resolves to on this CPU. */
enum sl_parse_variant sl_parse_best_variant(void);

/*
 * For tests and benchmarks, not the hot path: parse like the variant's
 * burst function (n <= SL_PARSE_BURST_MAX) and return the packets whose
 * meta the vector fast path built without the scalar parser, bit i for
 * packet i.  The fast path takes every kept packet with at most one VLAN
 * tag that is IPv4 with IHL 5 and not a fragment, or IPv6 without
 * extension headers, carrying TCP or UDP; the scalar parser everything
 * else.  Call only where sl_parse_select() gives the variant.
 */
uint32_t sl_parse_fast_mask_sse42(const uint8_t *const data[],
				  const uint16_t len[], uint16_t n,
				  struct sl_pkt_meta meta[]);
uint32_t sl_parse_fast_mask_avx2(const uint8_t *const data[],
				 const uint16_t len[], uint16_t n,
				 struct sl_pkt_meta meta[]);

#endif /* SLUICE_DP_PARSE_H */
