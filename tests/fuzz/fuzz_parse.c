/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the packet parser: the input is one frame.
 *
 * libFuzzer passes the input in a heap buffer of exactly its size, so
 * AddressSanitizer reports any read past the frame.  The frame is parsed by
 * sl_parse_one() (the reference), then by every variant this CPU runs:
 * alone, as a burst of copies, and as a burst of its prefixes (every
 * length from the whole frame down, so the vector loops see many lengths
 * of the same bytes).  Any meta that differs from the reference by one
 * byte, a wrong kept count, or a fast-path choice that breaks parse.h's
 * promise aborts with the frame and both metas printed.
 *
 * Build and run: tests/fuzz/README.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test_parse_util.h"

static struct pu_variant variants[3];
static unsigned int n_variants;

static void
die(const char *what, const uint8_t *pkt, size_t len,
    const struct sl_pkt_meta *want, const struct sl_pkt_meta *got)
{
	fprintf(stderr, "fuzz_parse: %s, frame of %zu bytes:\n", what, len);
	pu_hexdump(stderr, pkt, len);
	pu_meta_dump(stderr, "sl_parse_one", want);
	if (got != NULL)
		pu_meta_dump(stderr, "variant", got);
	abort();
}

/* The shapes parse.h promises the vector fast path takes. */
static int
fast_shape(const struct sl_pkt_meta *m)
{
	if (m->drop_reason != SL_DROP_NONE || m->vlan_count > 1 ||
	    (m->l4_proto != 6 && m->l4_proto != 17))
		return 0;
	if (m->l3 == SL_L3_IPV4)
		return m->l4_off == m->l3_off + 20 && m->frag == 0;
	return m->l3 == SL_L3_IPV6 && m->l4_off == m->l3_off + 40;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	n_variants = pu_variants(variants);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ptrs[SL_PARSE_BURST_MAX];
	uint16_t lens[SL_PARSE_BURST_MAX];
	struct sl_pkt_meta want[SL_PARSE_BURST_MAX], got[SL_PARSE_BURST_MAX];
	uint16_t len, kept = 0;
	unsigned int n;

	if (size > UINT16_MAX)
		return -1;	/* not a frame: keep it out of the corpus */
	len = (uint16_t)size;

	/* a burst of the frame's prefixes, longest first */
	n = len + 1u < SL_PARSE_BURST_MAX ? len + 1u : SL_PARSE_BURST_MAX;
	for (unsigned int i = 0; i < n; i++) {
		ptrs[i] = data;
		lens[i] = (uint16_t)(len - i);
		sl_parse_one(ptrs[i], lens[i], &want[i]);
		kept += want[i].drop_reason == SL_DROP_NONE;
	}

	for (unsigned int v = 0; v < n_variants; v++) {
		uint16_t k;

		/* alone */
		memset(got, 0xa5, sizeof(got[0]));
		k = variants[v].fn(ptrs, lens, 1, got);
		if (memcmp(&got[0], &want[0], sizeof(want[0])) != 0)
			die(variants[v].name, data, len, &want[0], &got[0]);
		if (k != (want[0].drop_reason == SL_DROP_NONE))
			die("kept count, alone", data, len, &want[0], NULL);

		/* prefixes */
		memset(got, 0x5a, sizeof(got));
		k = variants[v].fn(ptrs, lens, (uint16_t)n, got);
		for (unsigned int i = 0; i < n; i++)
			if (memcmp(&got[i], &want[i], sizeof(want[i])) != 0)
				die(variants[v].name, data, lens[i], &want[i],
				    &got[i]);
		if (k != kept)
			die("kept count, prefixes", data, len, &want[0], NULL);
	}

	/* copies of the whole frame, and the fast path's promise */
	for (unsigned int i = 0; i < SL_PARSE_BURST_MAX; i++) {
		ptrs[i] = data;
		lens[i] = len;
		want[i] = want[0];
	}
	for (unsigned int v = 0; v < n_variants; v++) {
		uint32_t fast, expect;

		memset(got, 0xa5, sizeof(got));
		variants[v].fn(ptrs, lens, SL_PARSE_BURST_MAX, got);
		if (memcmp(got, want, sizeof(want)) != 0)
			die(variants[v].name, data, len, &want[0], &got[0]);
		if (variants[v].id == SL_PARSE_SCALAR)
			continue;
		fast = variants[v].id == SL_PARSE_AVX2 ?
		       sl_parse_fast_mask_avx2(ptrs, lens, 1, got) :
		       sl_parse_fast_mask_sse42(ptrs, lens, 1, got);
		expect = (uint32_t)fast_shape(&want[0]);
		if (fast != expect)
			die(expect ? "fast path missed a common shape" :
				     "fast path took an uncommon shape",
			    data, len, &want[0], NULL);
	}
	return 0;
}
