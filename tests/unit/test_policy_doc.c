/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * docs/policy.md and the codec cannot drift apart: every object of the
 * schema has a table listing exactly its fields in canonical order, every
 * enumerated name is listed, the documented timeout defaults are the
 * code's, and every validation fixture (err_*) is named by the rule it
 * tests - and every rule names a fixture that exists.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sluice/policy.h"
#include "test_policy_fixture.h"

#define MAX_NAMES 256

struct names {
	char v[MAX_NAMES][64];
	size_t n;
};

static char *doc;

static int
read_doc(void **state)
{
	(void)state;
	doc = policy_fixture_read(policy_source_path("docs/policy.md"), NULL);
	return 0;
}

static int
free_doc(void **state)
{
	(void)state;
	free(doc);
	return 0;
}

static void
names_add(struct names *n, const char *s, size_t len)
{
	assert_true(n->n < MAX_NAMES);
	assert_true(len < sizeof(n->v[0]));
	memcpy(n->v[n->n], s, len);
	n->v[n->n][len] = '\0';
	n->n++;
}

static bool
names_has(const struct names *n, const char *s)
{
	for (size_t i = 0; i < n->n; i++)
		if (strcmp(n->v[i], s) == 0)
			return true;
	return false;
}

/*
 * The first cells (`name`) of the table after "<!-- KIND: WHAT -->", header
 * and separator rows skipped.  Returns false when there is no such marker.
 */
static bool
table_names(const char *kind, const char *what, struct names *out, int column)
{
	char marker[128];
	const char *p;

	snprintf(marker, sizeof(marker), "<!-- %s: %s -->", kind, what);
	out->n = 0;
	p = strstr(doc, marker);
	if (p == NULL)
		return false;
	assert_null(strstr(p + 1, marker));	/* one table per object */
	p = strchr(p, '\n') + 1;
	for (int row = 0; *p == '|'; row++) {
		const char *end = strchr(p, '\n');
		const char *cell = p;

		if (row >= 2) {
			for (int c = 0; c < column; c++)
				cell = strchr(cell + 1, '|');
			cell = strchr(cell, '`');
			assert_non_null(cell);
			assert_true(cell < end);
			names_add(out, cell + 1, strcspn(cell + 1, "`"));
		}
		p = end + 1;
	}
	return true;
}

static void
test_every_schema_object_has_a_table_of_exactly_its_fields(void **state)
{
	size_t n;
	const struct sl_policy_schema_object *s = sl_policy_schema(&n);
	const char *p = doc;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct names doc_fields;

		if (!table_names("schema", s[i].name, &doc_fields, 0))
			fail_msg("docs/policy.md has no table for object \"%s\"",
				 s[i].name);
		for (size_t j = 0; j < s[i].n_fields || j < doc_fields.n; j++) {
			const char *code = j < s[i].n_fields ? s[i].fields[j] : "(none)";
			const char *text = j < doc_fields.n ? doc_fields.v[j] : "(none)";

			if (strcmp(code, text) != 0)
				fail_msg("object %s, field %zu: the codec has %s, the doc %s",
					 s[i].name, j, code, text);
		}
	}
	/* And no table for an object the codec does not have. */
	while ((p = strstr(p, "<!-- schema: ")) != NULL) {
		size_t len;
		bool known = false;

		p += strlen("<!-- schema: ");
		len = strcspn(p, " ");
		for (size_t i = 0; i < n; i++)
			if (strlen(s[i].name) == len &&
			    strncmp(s[i].name, p, len) == 0)
				known = true;
		if (!known)
			fail_msg("docs/policy.md documents unknown object %.*s",
				 (int)len, p);
	}
}

/* The doc's list of names equals the set the code knows. */
static void
assert_names_match(const char *what, const struct names *code)
{
	struct names text;

	if (!table_names("names", what, &text, 0))
		fail_msg("docs/policy.md has no names table %s", what);
	for (size_t i = 0; i < code->n; i++)
		if (!names_has(&text, code->v[i]))
			fail_msg("%s: \"%s\" is not documented", what, code->v[i]);
	for (size_t i = 0; i < text.n; i++)
		if (!names_has(code, text.v[i]))
			fail_msg("%s: documented \"%s\" is not in the code", what,
				 text.v[i]);
}

static void
add_name(struct names *n, const char *name)
{
	if (name != NULL)
		names_add(n, name, strlen(name));
}

static void
test_every_enumerated_name_is_documented(void **state)
{
	struct names code = { .n = 0 };
	struct names text;

	(void)state;
	/* Protocols: canonical names from the code, aliases from the doc. */
	for (unsigned int v = 0; v < 256; v++)
		add_name(&code, sl_proto_name((uint8_t)v));
	assert_true(table_names("names", "proto", &text, 0));
	for (size_t i = 0; i < text.n; i++)
		if (sl_proto_from_name(text.v[i]) < 0)
			fail_msg("proto: documented \"%s\" is not accepted", text.v[i]);
	for (size_t i = 0; i < code.n; i++)
		assert_true(names_has(&text, code.v[i]));

#define BITS(table, fn)                                       \
	do {                                                  \
		code.n = 0;                                   \
		for (unsigned int b = 0; b < 8; b++)          \
			add_name(&code, fn((uint8_t)(1u << b)));   \
		assert_names_match(table, &code);             \
	} while (0)
#define VALUES(table, fn, max)                                \
	do {                                                  \
		code.n = 0;                                   \
		for (unsigned int v = 0; v <= (max); v++)     \
			add_name(&code, fn((uint8_t)v));      \
		assert_names_match(table, &code);             \
	} while (0)
	BITS("tcp_flag", sl_tcp_flag_name);
	BITS("ct_state", sl_ct_state_name);
	BITS("payload_flag", sl_payload_flag_name);
	VALUES("action", sl_action_name, 16);
	VALUES("port_mode", sl_port_mode_name, 16);
	VALUES("target_kind", sl_target_kind_name, 16);
	VALUES("target_state", sl_target_state_name, 16);
#undef BITS
#undef VALUES
}

static void
test_documented_timeout_defaults_are_the_code_defaults(void **state)
{
	struct sl_policy *p = sl_policy_new();
	const char *t = strstr(doc, "<!-- schema: timeouts -->");

	(void)state;
	assert_non_null(t);
#define SL_CT_TIMEOUT_DOC_(name, dflt)                                         \
	do {                                                                   \
		char row[96];                                                  \
		snprintf(row, sizeof(row), "| `%s` | integer | %u |", #name,   \
			 p->settings.ct_timeouts.name);                        \
		if (strstr(t, row) == NULL)                                    \
			fail_msg("timeouts: no row \"%s\"", row);              \
	} while (0);
	SL_CT_TIMEOUTS(SL_CT_TIMEOUT_DOC_)
#undef SL_CT_TIMEOUT_DOC_
	sl_policy_free(p);
}

static void
test_every_validation_fixture_is_documented_and_exists(void **state)
{
	const char *rules = strstr(doc, "## Validation rules");
	struct names *documented = calloc(1, sizeof(*documented));
	struct names *fixtures = calloc(1, sizeof(*fixtures));
	DIR *dir;
	struct dirent *de;

	(void)state;
	assert_non_null(rules);
	/* Every `name` inside the [...] brackets of the section. */
	for (const char *p = rules; (p = strchr(p, '[')) != NULL;) {
		const char *end = strchr(p, ']');
		const char *q = p;

		assert_non_null(end);
		while ((q = memchr(q, '`', (size_t)(end - q))) != NULL) {
			const char *close = memchr(q + 1, '`', (size_t)(end - q - 1));

			assert_non_null(close);
			names_add(documented, q + 1, (size_t)(close - q - 1));
			q = close + 1;
		}
		p = end + 1;
	}

	dir = opendir(policy_fixture_path(""));
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		const char *dot = strrchr(de->d_name, '.');
		size_t len;

		if (strncmp(de->d_name, "err_", 4) != 0 || dot == NULL)
			continue;
		len = (size_t)(dot - de->d_name) - 4;
		names_add(fixtures, de->d_name + 4, len);
		if (!names_has(documented, fixtures->v[fixtures->n - 1]))
			fail_msg("fixture %s tests a rule docs/policy.md does not list",
				 de->d_name);
	}
	closedir(dir);
	for (size_t i = 0; i < documented->n; i++)
		if (!names_has(fixtures, documented->v[i]))
			fail_msg("docs/policy.md names fixture err_%s, which does not exist",
				 documented->v[i]);
	assert_true(documented->n >= 100);
	free(documented);
	free(fixtures);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_schema_object_has_a_table_of_exactly_its_fields),
		cmocka_unit_test(test_every_enumerated_name_is_documented),
		cmocka_unit_test(test_documented_timeout_defaults_are_the_code_defaults),
		cmocka_unit_test(test_every_validation_fixture_is_documented_and_exists),
	};

	return cmocka_run_group_tests_name("policy_doc", tests, read_doc, free_doc);
}
