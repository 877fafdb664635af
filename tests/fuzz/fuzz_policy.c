/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the policy codec.  Every input goes through both
 * decoders (YAML reads most JSON too, so JSON seeds reach both).  Whatever
 * loads must hold the codec's promises, or the target aborts:
 *   - a loaded policy validates;
 *   - its canonical JSON loads back to an equal model, and dumps to the
 *     same bytes (compact and indented forms alike);
 *   - sl_policy_dup() gives an equal model;
 *   - every rule compiles.
 * What is refused must come with at least one error, each with a position
 * (the document has text, so there is always one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "sluice/policy.h"

static void
check_invariants(const struct sl_policy *p)
{
	struct sl_policy_errors errs;
	struct sl_policy *q = NULL, *d;
	char *a, *b, *c;

	if (sl_policy_validate(p, &errs) != 0)
		abort();
	a = sl_policy_to_json(p, 0);
	c = sl_policy_to_json(p, SL_POLICY_JSON_COMPACT);
	if (a == NULL || c == NULL)
		abort();
	if (sl_policy_from_json_str(a, &q, &errs) != 0) {
		sl_policy_errors_print(stderr, "dump", &errs);
		fprintf(stderr, "%s\n", a);
		abort();
	}
	if (!sl_policy_equal(p, q))
		abort();
	b = sl_policy_to_json(q, 0);
	if (b == NULL || strcmp(a, b) != 0)
		abort();
	free(b);
	sl_policy_free(q);
	if (sl_policy_from_json_str(c, &q, &errs) != 0 || !sl_policy_equal(p, q))
		abort();
	sl_policy_free(q);
	d = sl_policy_dup(p);
	if (d == NULL || !sl_policy_equal(p, d))
		abort();
	sl_policy_free(d);
	for (size_t i = 0; i < p->n_rules; i++) {
		struct sl_match_compiled m;

		if (sl_match_compile(p, i, &m) != 0)
			abort();
	}
	free(a);
	free(c);
}

/* Valid UTF-8 without control characters (jansson checks the UTF-8). */
static bool
utf8_printable(const char *s)
{
	json_t *j;

	for (const char *c = s; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	j = json_string(s);
	if (j == NULL)
		return false;
	json_decref(j);
	return true;
}

static void
one(const uint8_t *data, size_t size, bool yaml)
{
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	int rc = yaml ? sl_policy_from_yaml_buf((const char *)data, size, &p, &errs) :
			sl_policy_from_json_buf((const char *)data, size, &p, &errs);

	if (rc == 0) {
		check_invariants(p);
		sl_policy_free(p);
		return;
	}
	if (p != NULL || errs.count == 0)
		abort();
	for (unsigned int i = 0; i < errs.count; i++) {
		char line[1024];

		if (errs.list[i].line == 0 || errs.list[i].column == 0)
			abort();
		/* Errors go into JSON replies: they must be valid UTF-8. */
		if (!utf8_printable(errs.list[i].path) ||
		    !utf8_printable(errs.list[i].message))
			abort();
		sl_policy_error_format(&errs.list[i], "fuzz", line, sizeof(line));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, false);
	one(data, size, true);
	return 0;
}
