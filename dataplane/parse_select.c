/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Picking the parser variant once, at start-up, by what the CPU can do
 * (STYLE.md 7: specialise by constants chosen once).  Not on the hot path.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "parse.h"

static const char *const variant_names[] = {
	[SL_PARSE_AUTO] = "auto",
	[SL_PARSE_SCALAR] = "scalar",
	[SL_PARSE_SSE42] = "sse42",
	[SL_PARSE_AVX2] = "avx2",
};

#define N_VARIANTS (sizeof(variant_names) / sizeof(variant_names[0]))

/* Can this CPU run the variant?  (SSSE3's pshufb and SSE4.1 come with 4.2.) */
static int
variant_supported(enum sl_parse_variant v)
{
	__builtin_cpu_init();
	switch (v) {
	case SL_PARSE_SCALAR:
		return 1;
	case SL_PARSE_SSE42:
		return __builtin_cpu_supports("sse4.2");
	case SL_PARSE_AVX2:
		/* the AVX2 unit is compiled with -mbmi -mbmi2 as well */
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("bmi") &&
		       __builtin_cpu_supports("bmi2");
	default:
		return 0;
	}
}

enum sl_parse_variant
sl_parse_best_variant(void)
{
	if (variant_supported(SL_PARSE_AVX2))
		return SL_PARSE_AVX2;
	if (variant_supported(SL_PARSE_SSE42))
		return SL_PARSE_SSE42;
	return SL_PARSE_SCALAR;
}

sl_parse_burst_fn
sl_parse_select(enum sl_parse_variant variant)
{
	if (variant == SL_PARSE_AUTO)
		variant = sl_parse_best_variant();
	if (!variant_supported(variant)) {
		errno = ENOTSUP;
		return NULL;
	}
	switch (variant) {
	case SL_PARSE_SSE42:
		return sl_parse_burst_sse42;
	case SL_PARSE_AVX2:
		return sl_parse_burst_avx2;
	default:
		return sl_parse_burst_scalar;
	}
}

const char *
sl_parse_variant_name(enum sl_parse_variant variant)
{
	if ((unsigned int)variant >= N_VARIANTS)
		return "unknown";
	return variant_names[variant];
}

int
sl_parse_variant_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < N_VARIANTS; i++)
		if (strcmp(variant_names[i], name) == 0)
			return (int)i;
	return -1;
}
