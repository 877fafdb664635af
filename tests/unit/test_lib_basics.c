/* SPDX-License-Identifier: BSD-3-Clause */
/* The drop-reason table and the flow hash: the names every counter, metric
 * and API response is keyed by, and the hash both datapaths must share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "sluice/drop_reason.h"
#include "sluice/flow_key.h"

#include "flow_hash.h"	/* dataplane/: the inlined copy */

static void
test_drop_reason_names_are_unique_and_round_trip(void **state)
{
	(void)state;
	assert_string_equal(sl_drop_reason_name(SL_DROP_NONE), "none");
	for (unsigned int i = 0; i < SL_DROP_MAX; i++) {
		const char *name = sl_drop_reason_name(i);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		assert_true(strlen(sl_drop_reason_desc(i)) > 0);
		assert_int_equal(sl_drop_reason_from_name(name), (int)i);
		for (unsigned int j = i + 1; j < SL_DROP_MAX; j++)
			assert_string_not_equal(name, sl_drop_reason_name(j));
		/* names are metric label values: lower case, digits, '_' */
		for (const char *c = name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') ||
				    (*c >= '0' && *c <= '9') || *c == '_');
	}
}

static void
test_drop_reason_out_of_range_is_unknown(void **state)
{
	(void)state;
	assert_string_equal(sl_drop_reason_name(SL_DROP_MAX), "unknown");
	assert_int_equal(sl_drop_reason_from_name("no_such_reason"), -1);
}

static void
test_flow_key_is_the_same_for_both_directions(void **state)
{
	const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
	struct sl_flow_key k1, k2;

	(void)state;
	assert_false(sl_flow_key_make(&k1, SL_FAMILY_IPV4, 6, a, b, 4, 1000, 80));
	assert_true(sl_flow_key_make(&k2, SL_FAMILY_IPV4, 6, b, a, 4, 80, 1000));
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_true(sl_flow_hash(&k1, 42) == sl_flow_hash(&k2, 42));
}

/* The dataplane's inlined hash is the same function as the library's. */
static void
test_inline_flow_hash_equals_the_library_hash(void **state)
{
	struct sl_flow_key k;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (unsigned int i = 0; i < 10000; i++) {
		uint8_t *b = (uint8_t *)&k;

		for (unsigned int j = 0; j < sizeof(k); j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[j] = (uint8_t)x;
		}
		assert_true(dp_flow_hash(&k, x) == sl_flow_hash(&k, x));
		assert_true(dp_flow_hash(&k, i) == sl_flow_hash(&k, i));
	}
}

static void
test_flow_key_orders_by_port_when_addresses_are_equal(void **state)
{
	const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct sl_flow_key k1, k2;

	(void)state;
	assert_false(sl_flow_key_make(&k1, SL_FAMILY_IPV6, 17, a, a, 16, 53, 5353));
	assert_true(sl_flow_key_make(&k2, SL_FAMILY_IPV6, 17, a, a, 16, 5353, 53));
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(k1.port_lo, 53);
	assert_int_equal(k1.port_hi, 5353);
}

static void
test_flow_hash_is_xxh3_of_the_key_bytes_with_the_seed(void **state)
{
	const uint8_t a[4] = { 192, 0, 2, 1 }, b[4] = { 198, 51, 100, 7 };
	struct sl_flow_key k;

	(void)state;
	sl_flow_key_make(&k, SL_FAMILY_IPV4, 17, a, b, 4, 4789, 4789);
	/* The XDP program and Maglev tables depend on exactly this function. */
	assert_true(sl_flow_hash(&k, 7) == XXH3_64bits_withSeed(&k, 40, 7));
	assert_true(sl_flow_hash(&k, 7) != sl_flow_hash(&k, 8));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_reason_names_are_unique_and_round_trip),
		cmocka_unit_test(test_drop_reason_out_of_range_is_unknown),
		cmocka_unit_test(test_flow_key_is_the_same_for_both_directions),
		cmocka_unit_test(test_inline_flow_hash_equals_the_library_hash),
		cmocka_unit_test(test_flow_key_orders_by_port_when_addresses_are_equal),
		cmocka_unit_test(test_flow_hash_is_xxh3_of_the_key_bytes_with_the_seed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
