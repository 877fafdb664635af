/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text the decoders must refuse - truncated documents, wrong types, unknown
 * fields, numbers too big, nesting too deep, bytes that are not text - is
 * refused with a position, never crashes and never leaks (the ASan build
 * runs this with LeakSanitizer).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "sluice/policy.h"
#include "test_policy_fixture.h"

static int
load(const char *buf, size_t len, bool yaml, struct sl_policy **p,
     struct sl_policy_errors *errs)
{
	*p = (struct sl_policy *)1;
	return yaml ? sl_policy_from_yaml_buf(buf, len, p, errs) :
		      sl_policy_from_json_buf(buf, len, p, errs);
}

/* Refused, with exactly one error at line:column that starts with prefix. */
static void
assert_refused(const char *text, bool yaml, unsigned int line,
	       unsigned int column, const char *prefix)
{
	struct sl_policy_errors errs;
	struct sl_policy *p;
	int rc = load(text, strlen(text), yaml, &p, &errs);

	if (errs.count != 1 || strncmp(errs.list[0].message, prefix,
				       strlen(prefix)) != 0)
		sl_policy_errors_print(stderr, yaml ? "yaml" : "json", &errs);
	assert_int_equal(rc, -EINVAL);
	assert_null(p);
	assert_int_equal(errs.count, 1);
	assert_int_equal(errs.list[0].line, line);
	assert_int_equal(errs.list[0].column, column);
	assert_memory_equal(errs.list[0].message, prefix, strlen(prefix));
}

/*
 * Every prefix of a valid document either loads as a valid policy (YAML
 * cut at a line end may still be a document) or is refused with errors
 * that each have a position.
 */
static void
sweep_prefixes(const char *fixture, bool yaml)
{
	size_t len;
	char *text = policy_fixture_read(fixture, &len);
	size_t refused = 0;

	for (size_t n = 0; n < len; n++) {
		struct sl_policy_errors errs;
		struct sl_policy *p;
		int rc = load(text, n, yaml, &p, &errs);

		if (rc == 0) {
			assert_non_null(p);
			assert_int_equal(sl_policy_validate(p, NULL), 0);
			sl_policy_free(p);
			continue;
		}
		refused++;
		assert_int_equal(rc, -EINVAL);
		assert_null(p);
		assert_true(errs.count > 0);
		for (unsigned int i = 0; i < errs.count; i++) {
			assert_true(errs.list[i].line >= 1);
			assert_true(errs.list[i].column >= 1);
		}
	}
	assert_true(refused > len / 2);
	free(text);
}

static void
test_every_truncation_of_a_json_policy_is_refused_with_a_position(void **state)
{
	(void)state;
	sweep_prefixes("rich.json", false);
}

static void
test_every_truncation_of_a_yaml_policy_is_refused_or_valid(void **state)
{
	(void)state;
	sweep_prefixes("rich.yaml", true);
}

static void
test_json_syntax_errors_carry_jansson_positions(void **state)
{
	(void)state;
	assert_refused("{\"rules\": [\n  {\"id\": \"a\",\n", false, 3, 0 + 1,
		       "invalid JSON: ");
	assert_refused("{\"rules\": [}\n", false, 1, 12, "invalid JSON: ");
	assert_refused("{\"version\": 1,}\n", false, 1, 15, "invalid JSON: ");
	assert_refused("", false, 1, 1, "invalid JSON: ");
	assert_refused("{\"a\": 'x'}", false, 1, 7, "invalid JSON: ");
	assert_refused("{\"default\": \"drop\"} {}", false, 1, 21,
		       "invalid JSON: end of file expected");
}

static void
test_yaml_syntax_errors_carry_libyaml_positions(void **state)
{
	(void)state;
	assert_refused("rules:\n  - id: [a\n", true, 3, 1, "invalid YAML: ");
	assert_refused("rules:\n  - id: a\n   action: drop\n", true, 3, 4,
		       "invalid YAML: ");
	assert_refused("rules:\n\t- id: a\n", true, 2, 1, "invalid YAML: ");
	assert_refused("a: \"unterminated\n", true, 2, 1, "invalid YAML: ");
	assert_refused("", true, 1, 1, "the document is empty");
}

static void
test_wrong_types_are_refused_where_they_are(void **state)
{
	(void)state;
	assert_refused("{\"rules\": 5}", false, 1, 11, "expected a list, got an integer");
	assert_refused("{\"ports\": [\"wan0\"]}", false, 1, 12,
		       "expected an object, got a string");
	assert_refused("settings: []\n", true, 1, 11, "expected an object, got a list");
	assert_refused("rules:\n  - id: a\n    action: [drop]\n", true, 3, 13,
		       "expected an action (accept, drop, {replicate: ...}, {steer: ...}), got a list");
	assert_refused("default: true\n", true, 1, 10, "expected an action");
	assert_refused("ports:\n  - {name: a, addresses: 10.0.0.1/8}\n", true,
		       2, 26, "expected a list, got a string");
	assert_refused("42\n", true, 1, 1, "expected an object, got an integer");
}

static void
test_unknown_fields_are_refused_at_every_level(void **state)
{
	static const char *const docs[] = {
		"settings: {seed: 1}\n",
		"settings: {conntrack: {max: 1}}\n",
		"ports: [{name: a, speed: 10}]\n",
		"rules: [{id: a, action: drop, log: true}]\n",
		"rules: [{id: a, proto: tcp, dport: {from: 1, to: 2, step: 1}, action: drop}]\n",
		"rules: [{id: a, proto: tcp, tcp_flags: {flags: syn, mask: syn, not: fin}, action: drop}]\n",
		"rules: [{id: a, payload: {regex: x, offset: 4}, action: drop}]\n",
		"rules: [{id: a, action: {replicate: {group: g, ttl: 1}}}]\n",
		"routes: [{prefix: 10.0.0.0/8, metric: 5}]\n",
		"routes: [{prefix: 10.0.0.0/8, nexthops: [{port: a, mtu: 1}]}]\n",
		"groups: [{name: g, hash: crc}]\n",
		"groups: [{name: g, targets: [{kind: gre, remote: 192.0.2.1, ttl: 3}]}]\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct sl_policy_errors errs;
		struct sl_policy *p;
		bool found = false;

		assert_int_equal(load(docs[i], strlen(docs[i]), true, &p, &errs),
				 -EINVAL);
		for (unsigned int j = 0; j < errs.count; j++)
			if (strncmp(errs.list[j].message, "unknown field",
				    13) == 0 && errs.list[j].line == 1)
				found = true;
		if (!found)
			sl_policy_errors_print(stderr, docs[i], &errs);
		assert_true(found);
	}
}

static void
test_numbers_too_big_are_refused(void **state)
{
	(void)state;
	/* jansson refuses integers beyond int64 as syntax. */
	assert_refused("{\"generation\": 99999999999999999999999}", false, 1, 38,
		       "invalid JSON: too big integer");
	assert_refused("generation: 99999999999999999999999\n", true, 1, 13,
		       "\"99999999999999999999999\" is not a 64-bit unsigned number");
	assert_refused("rules: [{id: a, vlan: 18446744073709551616, action: drop}]\n",
		       true, 1, 23, "18446744073709551616 is out of range 0-4095");
	assert_refused("rules: [{id: a, vlan: -9223372036854775808, action: drop}]\n",
		       true, 1, 23, "-9223372036854775808 is out of range 0-4095");
	assert_refused("{\"rules\": [{\"id\": \"a\", \"vlan\": 1e400, \"action\": \"drop\"}]}",
		       false, 1, 36, "invalid JSON: real number overflow");
	assert_refused("rules: [{id: a, vlan: 1e400, action: drop}]\n", true, 1,
		       23, "expected an integer, got a fractional number");
	assert_refused("settings: {conntrack: {size: 4294967296}}\n", true, 1, 30,
		       "4294967296 is out of range 1024-268435456");
}

/* pre, depth times open, "1", depth times close, post */
static char *
nested(size_t depth, const char *open, const char *close, const char *pre,
       const char *post)
{
	size_t size = strlen(pre) + strlen(post) +
		      depth * (strlen(open) + strlen(close)) + 8;
	char *s = malloc(size);
	size_t n = 0;

	n += (size_t)snprintf(s + n, size - n, "%s", pre);
	for (size_t i = 0; i < depth; i++)
		n += (size_t)snprintf(s + n, size - n, "%s", open);
	n += (size_t)snprintf(s + n, size - n, "1");
	for (size_t i = 0; i < depth; i++)
		n += (size_t)snprintf(s + n, size - n, "%s", close);
	snprintf(s + n, size - n, "%s", post);
	return s;
}

static void
test_deep_nesting_is_refused_without_recursing_deep(void **state)
{
	char *s;

	(void)state;
	/* 63 levels under the root map: within the limit, wrong for the schema. */
	s = nested(63, "[", "]", "{\"rules\": ", "}");
	assert_refused(s, false, 1, 12, "expected an object, got a list");
	free(s);
	s = nested(63, "[", "]", "rules: ", "");
	assert_refused(s, true, 1, 9, "expected an object, got a list");
	free(s);

	s = nested(64, "[", "]", "{\"rules\": ", "}");
	assert_refused(s, false, 1, 74, "invalid JSON: nested deeper than 64 levels");
	free(s);
	s = nested(64, "[", "]", "rules: ", "");
	assert_refused(s, true, 1, 71, "invalid YAML: nested deeper than 64 levels");
	free(s);

	/* Far deeper: jansson's own limit, and ours before libyaml's memory. */
	s = nested(100000, "[", "]", "{\"rules\": ", "}");
	assert_refused(s, false, 1, 2058, "invalid JSON: maximum parsing depth reached");
	free(s);
	s = nested(100000, "{a: ", "}", "rules: ", "");
	assert_refused(s, true, 1, 260, "invalid YAML: nested deeper than 64 levels");
	free(s);
}

static void
test_bytes_that_are_not_text_are_refused(void **state)
{
	static const char bad_utf8_json[] = "{\"rules\": [{\"id\": \"\xff\"}]}";
	static const char bad_utf8_yaml[] = "rules:\n  - id: \xc3\x28\n";
	static const char nul_json[] = "{\"default\": \"drop\"}\0{}";
	static const char nul_yaml[] = "default: drop\n\0\n";
	struct sl_policy_errors errs;
	struct sl_policy *p;

	(void)state;
	assert_int_equal(load(bad_utf8_json, sizeof(bad_utf8_json) - 1, false, &p,
			      &errs), -EINVAL);
	assert_non_null(strstr(errs.list[0].message, "invalid JSON"));
	assert_int_equal(errs.list[0].line, 1);
	assert_int_equal(load(bad_utf8_yaml, sizeof(bad_utf8_yaml) - 1, true, &p,
			      &errs), -EINVAL);
	assert_non_null(strstr(errs.list[0].message, "invalid YAML"));
	assert_int_equal(errs.list[0].line, 2);
	assert_int_equal(errs.list[0].column, 10);	/* the bad octet */
	assert_int_equal(load(nul_json, sizeof(nul_json) - 1, false, &p, &errs),
			 -EINVAL);
	assert_non_null(strstr(errs.list[0].message, "invalid JSON"));
	assert_int_equal(load(nul_yaml, sizeof(nul_yaml) - 1, true, &p, &errs),
			 -EINVAL);
	assert_non_null(strstr(errs.list[0].message, "invalid YAML"));
	assert_int_equal(errs.list[0].line, 2);
	assert_int_equal(errs.list[0].column, 1);
	/* \u0000 in a JSON string is refused by jansson itself. */
	assert_refused("{\"rules\": [{\"id\": \"a\\u0000b\"}]}", false, 1, 28,
		       "invalid JSON: ");
}

static void
test_yaml_features_outside_the_schema_are_refused(void **state)
{
	(void)state;
	assert_refused("rules: &r []\nroutes: *r\n", true, 2, 9,
		       "invalid YAML: aliases (*r) are not supported");
	assert_refused("default: !!binary ZHJvcA==\n", true, 1, 10,
		       "invalid YAML: unsupported tag tag:yaml.org,2002:binary");
	assert_refused("default: !!int drop\n", true, 1, 10,
		       "invalid YAML: \"drop\" is not a valid !!int");
	assert_refused("{}\n---\n{}\n", true, 2, 1,
		       "invalid YAML: more than one document");
	/* A byte-order mark and a %YAML directive are fine. */
	{
		static const char doc[] = "\xef\xbb\xbf%YAML 1.1\n---\ndefault: accept\n";
		struct sl_policy_errors errs;
		struct sl_policy *p;

		assert_int_equal(load(doc, sizeof(doc) - 1, true, &p, &errs), 0);
		assert_int_equal(p->default_action.type, SL_ACTION_ACCEPT);
		sl_policy_free(p);
	}
}

static void
test_positions_count_characters_not_bytes(void **state)
{
	(void)state;
	assert_refused("{\"rules\": [{\"comment\": \"h\xc3\xa9h\xc3\xa9\", \"vlan\": \"x\"}]}",
		       false, 1, 40, "expected an integer");
	assert_refused("rules:\n  - {comment: h\xc3\xa9h\xc3\xa9, vlan: x}\n", true, 2,
		       27, "expected an integer");
}

static void
test_error_text_stays_printable_utf8_when_cut(void **state)
{
	/* A key of 'a', 30 two-byte characters and a tab: quoted in the
	 * message as %.40s, which cuts inside a character. */
	char doc[256] = "{\"rules\": [{\"a";
	struct sl_policy_errors errs;
	struct sl_policy *p;
	json_t *j;

	(void)state;
	for (int i = 0; i < 30; i++)
		strcat(doc, "\xc3\xa9");
	strcat(doc, "\\tb\": 1}]}");
	assert_int_equal(load(doc, strlen(doc), false, &p, &errs), -EINVAL);
	assert_true(errs.count >= 1);
	assert_memory_equal(errs.list[0].message, "unknown field \"a\xc3\xa9", 16);
	for (unsigned int i = 0; i < errs.count; i++) {
		j = json_string(errs.list[i].message);
		assert_non_null(j);
		json_decref(j);
		j = json_string(errs.list[i].path);
		assert_non_null(j);
		json_decref(j);
		assert_null(strchr(errs.list[i].path, '\t'));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_truncation_of_a_json_policy_is_refused_with_a_position),
		cmocka_unit_test(test_every_truncation_of_a_yaml_policy_is_refused_or_valid),
		cmocka_unit_test(test_json_syntax_errors_carry_jansson_positions),
		cmocka_unit_test(test_yaml_syntax_errors_carry_libyaml_positions),
		cmocka_unit_test(test_wrong_types_are_refused_where_they_are),
		cmocka_unit_test(test_unknown_fields_are_refused_at_every_level),
		cmocka_unit_test(test_numbers_too_big_are_refused),
		cmocka_unit_test(test_deep_nesting_is_refused_without_recursing_deep),
		cmocka_unit_test(test_bytes_that_are_not_text_are_refused),
		cmocka_unit_test(test_yaml_features_outside_the_schema_are_refused),
		cmocka_unit_test(test_positions_count_characters_not_bytes),
		cmocka_unit_test(test_error_text_stays_printable_utf8_when_cut),
	};

	return cmocka_run_group_tests_name("policy_syntax", tests, NULL, NULL);
}
