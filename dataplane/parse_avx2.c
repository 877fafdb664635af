/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vector parser built for AVX2 (this file is compiled with -mavx2 -mbmi
 * -mbmi2): all four shape templates in one 256-bit compare, 256-bit meta stores.
 * The algorithm is in parse_vec.h, shared with the SSE4.2 build.
 */
#include "parse_vec.h"

uint16_t
sl_parse_burst_avx2(const uint8_t *const data[], const uint16_t len[],
		    uint16_t n, struct sl_pkt_meta meta[])
{
	return vec_parse_burst(data, len, n, meta);
}

uint32_t
sl_parse_fast_mask_avx2(const uint8_t *const data[], const uint16_t len[],
			uint16_t n, struct sl_pkt_meta meta[])
{
	uint32_t fast = 0;

	if (n > SL_PARSE_BURST_MAX)
		n = SL_PARSE_BURST_MAX;
	vec_parse_32(data, len, n, meta, &fast);
	return fast;
}
