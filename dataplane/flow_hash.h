/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow hash for the hot path: sl_flow_hash (lib/flow_hash.c) compiled
 * inline.  Through the shared library every packet paid a call through the
 * PLT into libxxhash; inlined, XXH3 over the 40-byte key is a handful of
 * multiplies.  Same function, same seed, same result: test_lib_basics
 * checks that the two agree.
 */
#ifndef SLUICE_DP_FLOW_HASH_H
#define SLUICE_DP_FLOW_HASH_H

#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "sluice/flow_key.h"

static inline uint64_t
dp_flow_hash(const struct sl_flow_key *key, uint64_t seed)
{
	return XXH3_64bits_withSeed(key, sizeof(*key), seed);
}

#endif /* SLUICE_DP_FLOW_HASH_H */
