/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vector parser built for AVX2 (this file is compiled with -mavx2 -mbmi
 * -mbmi2): two packets per 256-bit template compare, 256-bit key stores.
 * The algorithm is in parse_vec.h, shared with the SSE4.2 build.
 */
#include "parse_vec.h"

uint16_t
sl_parse_burst_avx2(const uint8_t *const data[], const uint16_t len[],
		    uint16_t n, struct sl_pkt_meta meta[])
{
	return vec_parse_burst(data, len, n, meta);
}
