/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parser unit tests over the fixtures of test_parse_fixtures.h (generated
 * with scapy by test_parse_fixtures.py): every meta field of every fixture,
 * for sl_parse_one() and each burst variant this CPU runs, alone and in
 * bursts; truncation at every byte offset; the symmetric flow key; that
 * every parser drop reason is reached by a fixture named after it; variant
 * selection.  Packets are copied into exactly-sized heap buffers so that
 * AddressSanitizer reports any read past the frame.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_parse_fixtures.h"
#include "test_parse_util.h"

static struct pu_variant variants[3];
static unsigned int n_variants;

#define X(name) &fx_##name,
static const struct parse_fixture *const fixtures[] = { PARSE_FIXTURES(X) };
#undef X
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

/* A copy of len bytes in a buffer of exactly len bytes (free it). */
static uint8_t *
exact_copy(const uint8_t *bytes, size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	memcpy(p, bytes, len);
	if (len == 0) {
		free(p);
		p = malloc(0);	/* no readable byte at all */
	}
	return p;
}

/* Field by field first, for a readable failure; then every byte. */
static void
assert_meta(const char *ctx, const uint8_t *pkt, uint16_t len,
	    const struct sl_pkt_meta *got, const struct sl_pkt_meta *want)
{
	if (memcmp(got, want, sizeof(*got)) == 0)
		return;
	fprintf(stderr, "%s: meta differs; packet of %u bytes:\n", ctx, len);
	pu_hexdump(stderr, pkt, len);
	pu_meta_dump(stderr, "want", want);
	pu_meta_dump(stderr, "got ", got);
#define FIELD(f) assert_int_equal(got->f, want->f)
	FIELD(drop_reason);
	FIELD(pkt_len);
	FIELD(l3);
	FIELD(ethertype);
	FIELD(vlan_count);
	FIELD(vlan_outer);
	FIELD(vlan_inner);
	FIELD(l3_off);
	FIELD(l4_off);
	FIELD(payload_off);
	FIELD(l3_end);
	FIELD(l4_proto);
	FIELD(frag);
	FIELD(ttl);
	FIELD(sport);
	FIELD(dport);
	FIELD(tcp_flags);
	FIELD(icmp_type);
	FIELD(icmp_code);
	FIELD(gre_proto);
	FIELD(key_swapped);
	FIELD(key.family);
	FIELD(key.proto);
	FIELD(key.port_lo);
	FIELD(key.port_hi);
#undef FIELD
	assert_memory_equal(got->key.addr_lo, want->key.addr_lo, 16);
	assert_memory_equal(got->key.addr_hi, want->key.addr_hi, 16);
	assert_memory_equal(got, want, sizeof(*got));
}

/* sl_parse_one and every variant, on one packet; all must give want. */
static void
assert_all_parse(const char *ctx, const uint8_t *pkt, uint16_t len,
		 const struct sl_pkt_meta *want)
{
	struct sl_pkt_meta got;
	char name[160];

	memset(&got, 0x5a, sizeof(got));
	sl_parse_one(pkt, len, &got);
	snprintf(name, sizeof(name), "%s [sl_parse_one]", ctx);
	assert_meta(name, pkt, len, &got, want);
	for (unsigned int v = 0; v < n_variants; v++) {
		const uint8_t *data[1] = { pkt };
		uint16_t lens[1] = { len };
		uint16_t kept;

		memset(&got, 0xa5, sizeof(got));
		kept = variants[v].fn(data, lens, 1, &got);
		snprintf(name, sizeof(name), "%s [%s]", ctx, variants[v].name);
		assert_meta(name, pkt, len, &got, want);
		assert_int_equal(kept, want->drop_reason == SL_DROP_NONE);
	}
}

static void
run_fixture(const struct parse_fixture *fx)
{
	uint8_t *pkt = exact_copy(fx->bytes, fx->len);
	const uint8_t *data[SL_PARSE_BURST_MAX];
	uint16_t lens[SL_PARSE_BURST_MAX];
	struct sl_pkt_meta got[SL_PARSE_BURST_MAX];

	assert_all_parse(fx->name, pkt, fx->len, &fx->want);

	/* a full burst of it: every slot of the vector loops */
	for (unsigned int i = 0; i < SL_PARSE_BURST_MAX; i++) {
		data[i] = pkt;
		lens[i] = fx->len;
	}
	for (unsigned int v = 0; v < n_variants; v++) {
		uint16_t kept;

		memset(got, 0xa5, sizeof(got));
		kept = variants[v].fn(data, lens, SL_PARSE_BURST_MAX, got);
		for (unsigned int i = 0; i < SL_PARSE_BURST_MAX; i++)
			assert_meta(fx->name, pkt, fx->len, &got[i], &fx->want);
		assert_int_equal(kept, fx->want.drop_reason == SL_DROP_NONE ?
				 SL_PARSE_BURST_MAX : 0);
	}
	free(pkt);
}

/* One test per fixture, named after it: test_<what it proves>. */
#define X(name)								\
	static void test_##name(void **state)				\
	{								\
		(void)state;						\
		run_fixture(&fx_##name);				\
	}
PARSE_FIXTURES(X)
#undef X

/*
 * The drop a kept frame must get when cut to `cut` bytes (0 if none): the
 * first header the cut reaches into names it.
 */
static unsigned int
cut_reason(const struct sl_pkt_meta *w, unsigned int cut)
{
	if (cut < 14)
		return SL_DROP_ETH_TRUNCATED;
	if (cut < w->l3_off)
		return SL_DROP_VLAN_TRUNCATED;
	switch (w->l3) {
	case SL_L3_ARP:
		return cut < w->l3_off + 28u ? SL_DROP_ARP_TRUNCATED : 0;
	case SL_L3_IPV4:
		if (cut < w->l3_off + 20u)
			return SL_DROP_IPV4_TRUNCATED;
		if (cut < w->l4_off)
			return SL_DROP_IPV4_OPTIONS_TRUNCATED;
		return cut < w->l3_end ? SL_DROP_IPV4_BAD_TOTAL_LEN : 0;
	case SL_L3_IPV6:
		if (cut < w->l3_off + 40u)
			return SL_DROP_IPV6_TRUNCATED;
		return cut < w->l3_end ? SL_DROP_IPV6_BAD_PAYLOAD_LEN : 0;
	default:
		return 0;
	}
}

/*
 * Every fixture cut at every byte offset, in an exactly-sized buffer: a
 * kept frame drops with the reason of the header the cut reaches, and
 * where the cut only removes padding or trailing bytes, the meta is the
 * whole frame's but for pkt_len; a dropped frame never makes a variant
 * crash, over-read or disagree.
 */
static void
test_truncation_at_every_offset_names_the_cut_header(void **state)
{
	unsigned long cuts = 0;

	(void)state;
	for (size_t f = 0; f < N_FIXTURES; f++) {
		const struct parse_fixture *fx = fixtures[f];
		int kept = fx->want.drop_reason == SL_DROP_NONE;

		for (unsigned int cut = 0; cut < fx->len; cut++) {
			uint8_t *pkt = exact_copy(fx->bytes, cut);
			struct sl_pkt_meta ref, want;
			char ctx[160];

			snprintf(ctx, sizeof(ctx), "%s cut to %u bytes",
				 fx->name, cut);
			sl_parse_one(pkt, (uint16_t)cut, &ref);
			if (kept) {
				unsigned int r = cut_reason(&fx->want, cut);

				if (ref.drop_reason != r)
					fprintf(stderr, "%s: drop %s, want %s\n",
						ctx,
						sl_drop_reason_name(ref.drop_reason),
						sl_drop_reason_name(r));
				assert_int_equal(ref.drop_reason, r);
				if (r == 0) {
					want = fx->want;
					want.pkt_len = (uint16_t)cut;
					assert_meta(ctx, pkt, (uint16_t)cut, &ref,
						    &want);
				}
			}
			assert_int_equal(ref.pkt_len, cut);
			if (ref.drop_reason != SL_DROP_NONE) {
				/* no key for a dropped packet */
				assert_int_equal(ref.key_swapped, 0);
				assert_int_equal(ref.key.family, 0);
			}
			assert_all_parse(ctx, pkt, (uint16_t)cut, &ref);
			free(pkt);
			cuts++;
		}
	}
	printf("truncation: %lu cuts of %zu fixtures\n", cuts, N_FIXTURES);
}

/* "ipv4_bad_ihl" -> must appear as "drops_ipv4_bad_ihl" at a name's end. */
static int
fixture_names_reason(const char *fixture, unsigned int reason)
{
	char tail[64];
	size_t fl = strlen(fixture), tl;

	snprintf(tail, sizeof(tail), "drops_%s", sl_drop_reason_name(reason));
	tl = strlen(tail);
	return fl >= tl && strcmp(fixture + fl - tl, tail) == 0;
}

static void
test_every_parser_drop_reason_has_a_fixture_named_after_it(void **state)
{
	(void)state;
	for (unsigned int r = SL_DROP_ETH_TRUNCATED;
	     r <= SL_DROP_GRE_BAD_VERSION; r++) {
		int found = 0;

		for (size_t f = 0; f < N_FIXTURES; f++) {
			if (fixtures[f]->want.drop_reason != r)
				continue;
			assert_true(fixture_names_reason(fixtures[f]->name, r));
			found = 1;
		}
		if (!found)
			fprintf(stderr, "no fixture drops with %s\n",
				sl_drop_reason_name(r));
		assert_true(found);
	}
}

/* Swap source and destination (addresses, and ports where the L4 header
 * has them) of a parsed IP packet, in place. */
static void
swap_ends(uint8_t *p, const struct sl_pkt_meta *m)
{
	unsigned int a = m->l3 == SL_L3_IPV4 ? 12 : 8;
	unsigned int n = m->l3 == SL_L3_IPV4 ? 4 : 16;
	uint8_t tmp[16];

	memcpy(tmp, p + m->l3_off + a, n);
	memmove(p + m->l3_off + a, p + m->l3_off + a + n, n);
	memcpy(p + m->l3_off + a + n, tmp, n);
	if (m->payload_off != 0 && (m->l4_proto == 6 || m->l4_proto == 17 ||
				    m->l4_proto == 132)) {
		memcpy(tmp, p + m->l4_off, 2);
		memcpy(p + m->l4_off, p + m->l4_off + 2, 2);
		memcpy(p + m->l4_off + 2, tmp, 2);
	}
}

static void
test_flow_key_is_the_same_for_both_directions(void **state)
{
	unsigned int checked = 0;

	(void)state;
	for (size_t f = 0; f < N_FIXTURES; f++) {
		const struct parse_fixture *fx = fixtures[f];
		const struct sl_pkt_meta *w = &fx->want;
		struct sl_pkt_meta back;
		uint8_t *pkt;
		int equal_ends;

		if (w->drop_reason != SL_DROP_NONE ||
		    (w->l3 != SL_L3_IPV4 && w->l3 != SL_L3_IPV6))
			continue;
		pkt = exact_copy(fx->bytes, fx->len);
		swap_ends(pkt, w);
		sl_parse_one(pkt, fx->len, &back);
		assert_int_equal(back.drop_reason, SL_DROP_NONE);
		assert_memory_equal(&back.key, &w->key, sizeof(back.key));
		equal_ends = memcmp(w->key.addr_lo, w->key.addr_hi, 16) == 0 &&
			     w->key.port_lo == w->key.port_hi;
		assert_int_equal(back.key_swapped,
				 equal_ends ? 0 : !w->key_swapped);
		assert_all_parse(fx->name, pkt, fx->len, &back);
		free(pkt);
		checked++;
	}
	assert_true(checked > 40);
}

/* Each fixture at each position of bursts mixing all fixtures. */
static void
test_mixed_bursts_match_single_packet_parses(void **state)
{
	const uint8_t *data[40];
	uint16_t lens[40];
	struct sl_pkt_meta want[40], got[40];

	(void)state;
	for (unsigned int n = 1; n <= 40; n += (n < 33 ? 1 : 7)) {
		for (size_t start = 0; start < N_FIXTURES; start++) {
			uint16_t kept = 0;

			for (unsigned int i = 0; i < n; i++) {
				const struct parse_fixture *fx =
					fixtures[(start + i * 7) % N_FIXTURES];

				data[i] = fx->bytes;
				lens[i] = fx->len;
				want[i] = fx->want;
				kept += fx->want.drop_reason == SL_DROP_NONE;
			}
			for (unsigned int v = 0; v < n_variants; v++) {
				memset(got, 0xa5, sizeof(got));
				assert_int_equal(variants[v].fn(data, lens,
								(uint16_t)n, got),
						 kept);
				for (unsigned int i = 0; i < n; i++)
					assert_meta(variants[v].name, data[i],
						    lens[i], &got[i], &want[i]);
			}
		}
	}
}

static void
test_burst_of_zero_packets_returns_zero(void **state)
{
	struct sl_pkt_meta m;

	(void)state;
	memset(&m, 0x77, sizeof(m));
	for (unsigned int v = 0; v < n_variants; v++)
		assert_int_equal(variants[v].fn(NULL, NULL, 0, &m), 0);
	assert_int_equal(m.drop_reason, 0x77);	/* untouched */
}

static void
test_select_auto_is_the_best_variant(void **state)
{
	enum sl_parse_variant best = sl_parse_best_variant();

	(void)state;
	assert_ptr_equal(sl_parse_select(SL_PARSE_AUTO), sl_parse_select(best));
	if (__builtin_cpu_supports("avx2"))
		assert_int_equal(best, SL_PARSE_AVX2);
	else if (__builtin_cpu_supports("sse4.2"))
		assert_int_equal(best, SL_PARSE_SSE42);
	else
		assert_int_equal(best, SL_PARSE_SCALAR);
	assert_ptr_equal(sl_parse_select(SL_PARSE_SCALAR), sl_parse_burst_scalar);
	printf("best variant on this CPU: %s; testing:",
	       sl_parse_variant_name(best));
	for (unsigned int v = 0; v < n_variants; v++)
		printf(" %s", variants[v].name);
	printf("\n");
}

static void
test_select_unknown_variant_fails_with_enotsup(void **state)
{
	(void)state;
	errno = 0;
	assert_null(sl_parse_select((enum sl_parse_variant)42));
	assert_int_equal(errno, ENOTSUP);
}

static void
test_variant_names_round_trip(void **state)
{
	static const enum sl_parse_variant all[] = {
		SL_PARSE_AUTO, SL_PARSE_SCALAR, SL_PARSE_SSE42, SL_PARSE_AVX2,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		assert_int_equal(sl_parse_variant_from_name(
					 sl_parse_variant_name(all[i])), all[i]);
	assert_string_equal(sl_parse_variant_name(SL_PARSE_AVX2), "avx2");
	assert_string_equal(sl_parse_variant_name((enum sl_parse_variant)9),
			    "unknown");
	assert_int_equal(sl_parse_variant_from_name("avx512"), -1);
	assert_int_equal(sl_parse_variant_from_name(NULL), -1);
}

static int
setup(void **state)
{
	(void)state;
	n_variants = pu_variants(variants);
	return n_variants >= 1 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define X(name) cmocka_unit_test(test_##name),
		PARSE_FIXTURES(X)
#undef X
		cmocka_unit_test(
			test_truncation_at_every_offset_names_the_cut_header),
		cmocka_unit_test(
			test_every_parser_drop_reason_has_a_fixture_named_after_it),
		cmocka_unit_test(test_flow_key_is_the_same_for_both_directions),
		cmocka_unit_test(test_mixed_bursts_match_single_packet_parses),
		cmocka_unit_test(test_burst_of_zero_packets_returns_zero),
		cmocka_unit_test(test_select_auto_is_the_best_variant),
		cmocka_unit_test(test_select_unknown_variant_fails_with_enotsup),
		cmocka_unit_test(test_variant_names_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
