/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vector parser built for SSE4.2 (this file is compiled with -msse4.2):
 * two 128-bit template compares per packet.  The algorithm is in
 * parse_vec.h, shared with the AVX2 build.
 */
#include "parse_vec.h"

uint16_t
sl_parse_burst_sse42(const uint8_t *const data[], const uint16_t len[],
		     uint16_t n, struct sl_pkt_meta meta[])
{
	return vec_parse_burst(data, len, n, meta);
}

uint32_t
sl_parse_fast_mask_sse42(const uint8_t *const data[], const uint16_t len[],
			 uint16_t n, struct sl_pkt_meta meta[])
{
	uint32_t fast = 0;

	if (n > SL_PARSE_BURST_MAX)
		n = SL_PARSE_BURST_MAX;
	vec_parse_32(data, len, n, meta, &fast);
	return fast;
}
