/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only XDP program (tests/unit/test_xdp_hash.c, through
 * BPF_PROG_TEST_RUN): the packet is a batch of records
 * { 40-byte flow key, 8-byte seed, 8-byte hash }; the program writes
 * sl_xdp_flow_hash(key, seed) into each record's hash and returns
 * XDP_PASS.  The hash code is the very header the datapath includes.
 *
 * verifier: the loop has a constant bound (SL_HASH_BATCH records) and
 * each record is bounds-checked against data_end before it is read.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice/xdp_flow_hash.h"

#define SL_HASH_REC	56	/* key 40, seed 8, hash 8 */
#define SL_HASH_BATCH	64	/* more than a test run frame holds */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int
sl_test_flow_hash(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	for (int i = 0; i < SL_HASH_BATCH; i++) {
		__u8 *r = (__u8 *)data + i * SL_HASH_REC;
		__u64 seed, h;

		if ((void *)(r + SL_HASH_REC) > data_end)
			break;
		__builtin_memcpy(&seed, r + SL_XDP_FLOW_KEY_LEN, 8);
		h = sl_xdp_flow_hash(r, seed);
		__builtin_memcpy(r + SL_XDP_FLOW_KEY_LEN + 8, &h, 8);
	}
	return XDP_PASS;
}
