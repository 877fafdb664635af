/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vector parser built for SSE4.2 (this file is compiled with -msse4.2):
 * one 128-bit template compare per packet.  The algorithm is in
 * parse_vec.h, shared with the AVX2 build.
 */
#include "parse_vec.h"

uint16_t
sl_parse_burst_sse42(const uint8_t *const data[], const uint16_t len[],
		     uint16_t n, struct sl_pkt_meta meta[])
{
	return vec_parse_burst(data, len, n, meta);
}
