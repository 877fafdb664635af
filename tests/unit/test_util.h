/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers the C unit tests share: a deterministic generator and an
 * independent Internet checksum.  Header-only, no DPDK.
 */
#ifndef SLUICE_TEST_UTIL_H
#define SLUICE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64*: the same sequence on every run and host for one seed
 * (state must not be 0). */
static inline uint64_t
test_rng(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

/* One's complement sum of big-endian 16-bit words, folded (RFC 1071),
 * written out byte by byte: a reference that shares nothing with DPDK's
 * checksum code.  sum carries a partial sum in. */
static inline uint32_t
test_ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

#endif /* SLUICE_TEST_UTIL_H */
