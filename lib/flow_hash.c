/* SPDX-License-Identifier: BSD-3-Clause */
#include <xxhash.h>

#include "sluice/flow_key.h"

uint64_t
sl_flow_hash(const struct sl_flow_key *key, uint64_t seed)
{
	return XXH3_64bits_withSeed(key, sizeof(*key), seed);
}
