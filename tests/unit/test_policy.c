/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy model and codec: JSON and YAML of one policy decode to the
 * same model, dump -> load is the identity and the dump is canonical, ids
 * are stable, defaults are filled, models built in code are validated, the
 * compiled match carries the numbers the table builders need.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "sluice/policy.h"
#include "test_policy_fixture.h"

static struct sl_policy *
load_fixture(const char *name)
{
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	int rc = sl_policy_load_file(policy_fixture_path(name), &p, &errs);

	if (rc != 0)
		sl_policy_errors_print(stderr, name, &errs);
	assert_int_equal(rc, 0);
	assert_non_null(p);
	return p;
}

static struct sl_policy *
load_yaml(const char *text)
{
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	int rc = sl_policy_from_yaml_str(text, &p, &errs);

	if (rc != 0)
		sl_policy_errors_print(stderr, "yaml", &errs);
	assert_int_equal(rc, 0);
	return p;
}

static struct sl_policy *
load_json(const char *text)
{
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	int rc = sl_policy_from_json_str(text, &p, &errs);

	if (rc != 0)
		sl_policy_errors_print(stderr, "json", &errs);
	assert_int_equal(rc, 0);
	return p;
}

/* The one error a document gives. */
static const struct sl_policy_error *
only_error(const char *text, bool yaml, struct sl_policy_errors *errs)
{
	struct sl_policy *p = NULL;
	int rc = yaml ? sl_policy_from_yaml_str(text, &p, errs) :
			sl_policy_from_json_str(text, &p, errs);

	if (errs->count != 1)
		sl_policy_errors_print(stderr, "doc", errs);
	assert_int_equal(rc, -EINVAL);
	assert_null(p);
	assert_int_equal(errs->count, 1);
	return &errs->list[0];
}

static void
test_yaml_and_json_of_the_same_policy_give_equal_models(void **state)
{
	struct sl_policy *y = load_fixture("rich.yaml");
	struct sl_policy *j = load_fixture("rich.json");

	(void)state;
	assert_true(sl_policy_equal(y, j));
	assert_int_equal(y->n_ports, 4);
	assert_int_equal(y->n_rules, 6);
	assert_int_equal(y->n_routes, 3);
	assert_int_equal(y->n_groups, 2);
	assert_int_equal(y->settings.flow_hash_seed, 0x9e3779b97f4a7c15ull);
	assert_string_equal(y->rules[1].id, "7");
	assert_int_equal(y->rules[1].match.sport.lo, 1024);
	assert_int_equal(y->rules[1].match.sport.hi, 65535);
	assert_int_equal(y->rules[1].match.dport.lo, 5000);
	assert_int_equal(y->rules[1].match.dport.hi, 5010);
	assert_int_equal(y->rules[0].match.tcp_flags, SL_TCP_SYN);
	assert_int_equal(y->rules[0].match.tcp_flags_mask,
			 SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST);
	assert_int_equal(y->rules[3].action.type, SL_ACTION_REPLICATE);
	assert_int_equal(y->rules[3].action.copies, 2);
	assert_int_equal(y->rules[3].match.payload.flags,
			 SL_PAYLOAD_CASELESS | SL_PAYLOAD_DOTALL);
	assert_string_equal(y->rules[5].match.payload.pattern, "\x7f" "ELF");
	assert_int_equal(y->groups[0].targets[1].udp_port, 4789);
	assert_int_equal(y->groups[1].targets[0].udp_port, 6081);
	assert_int_equal(y->groups[0].targets[2].state, SL_TARGET_DRAINING);
	assert_int_equal(y->routes[1].nexthops[1].weight, 1);
	assert_int_equal(y->settings.rt_kernel_table, 254);
	assert_int_equal(y->settings.rt_icmp_errors, 0);
	assert_int_equal(y->settings.rt_max_routes_ipv4, 2097152);
	assert_int_equal(y->settings.rt_max_routes_ipv6, 262144);
	sl_policy_free(y);
	sl_policy_free(j);
}

/* load -> dump -> load: equal models; dumping again: the same bytes. */
static void
round_trip(const struct sl_policy *p, unsigned int flags)
{
	struct sl_policy_errors errs;
	struct sl_policy *q = NULL;
	char *a, *b;

	a = sl_policy_to_json(p, flags);
	assert_non_null(a);
	assert_int_equal(sl_policy_from_json_str(a, &q, &errs), 0);
	assert_true(sl_policy_equal(p, q));
	b = sl_policy_to_json(q, flags);
	assert_non_null(b);
	assert_string_equal(a, b);
	free(a);
	free(b);
	sl_policy_free(q);
}

static void
test_dump_then_load_is_identical_and_the_dump_canonical(void **state)
{
	static const char *const fixtures[] = { "rich.yaml", "rich.json",
						"minimal.yaml" };

	(void)state;
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct sl_policy *p = load_fixture(fixtures[i]);

		round_trip(p, 0);
		round_trip(p, SL_POLICY_JSON_COMPACT);
		sl_policy_free(p);
	}
}

static void
test_json_and_yaml_dumps_of_equal_models_are_byte_identical(void **state)
{
	struct sl_policy *y = load_fixture("rich.yaml");
	struct sl_policy *j = load_fixture("rich.json");
	char *a = sl_policy_to_json(y, 0), *b = sl_policy_to_json(j, 0);

	(void)state;
	assert_string_equal(a, b);
	free(a);
	free(b);
	sl_policy_free(y);
	sl_policy_free(j);
}

static const struct sl_policy_schema_object *
schema_object(const char *name)
{
	size_t n;
	const struct sl_policy_schema_object *s = sl_policy_schema(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	fail_msg("no schema object %s", name);
	return NULL;
}

/* The keys of obj appear in the schema object's order. */
static void
assert_keys_in_schema_order(json_t *obj, const char *schema_name)
{
	const struct sl_policy_schema_object *s = schema_object(schema_name);
	size_t last = 0;
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i = 0;

		while (i < s->n_fields && strcmp(s->fields[i], key) != 0)
			i++;
		assert_true(i < s->n_fields);
		assert_true(i >= last);
		last = i;
	}
}

static void
test_dump_writes_keys_in_schema_order(void **state)
{
	struct sl_policy *p = load_fixture("rich.yaml");
	char *text = sl_policy_to_json(p, 0);
	json_t *root = json_loads(text, 0, NULL);
	size_t i;
	json_t *v;

	(void)state;
	assert_non_null(root);
	assert_keys_in_schema_order(root, "policy");
	assert_keys_in_schema_order(json_object_get(root, "settings"), "settings");
	json_array_foreach(json_object_get(root, "ports"), i, v)
		assert_keys_in_schema_order(v, "port");
	json_array_foreach(json_object_get(root, "rules"), i, v)
		assert_keys_in_schema_order(v, "rule");
	json_array_foreach(json_object_get(root, "routes"), i, v)
		assert_keys_in_schema_order(v, "route");
	json_array_foreach(json_object_get(root, "groups"), i, v) {
		size_t j;
		json_t *t;

		assert_keys_in_schema_order(v, "group");
		json_array_foreach(json_object_get(v, "targets"), j, t)
			assert_keys_in_schema_order(t, "target");
	}
	json_decref(root);
	free(text);
	sl_policy_free(p);
}

static void
test_empty_object_gives_every_default(void **state)
{
	struct sl_policy *p = load_json("{}");
	struct sl_policy *q = load_yaml("ports: []\nrules: []\n");
	struct sl_policy *fresh = sl_policy_new();

	(void)state;
	assert_int_equal(p->generation, 0);
	assert_int_equal(p->settings.flow_hash_seed, 0);
	assert_true(p->settings.ct_enabled);
	assert_int_equal(p->settings.ct_size, 1u << 20);
	assert_int_equal(p->settings.ct_timeouts.tcp_syn, 30);
	assert_int_equal(p->settings.ct_timeouts.tcp_established, 7200);
	assert_int_equal(p->settings.ct_timeouts.udp_established, 180);
	assert_int_equal(p->settings.ct_timeouts.other, 60);
	assert_int_equal(p->settings.rt_kernel_table, 0);
	assert_int_equal(p->settings.rt_icmp_errors, 100);
	assert_int_equal(p->settings.rt_max_routes_ipv4, 1u << 20);
	assert_int_equal(p->settings.rt_max_routes_ipv6, 1u << 18);
	assert_int_equal(p->default_action.type, SL_ACTION_DROP);
	assert_int_equal(p->n_rules + p->n_ports + p->n_routes + p->n_groups, 0);
	assert_true(sl_policy_equal(p, q));
	assert_true(sl_policy_equal(p, fresh));
	assert_int_equal(sl_policy_validate(fresh, NULL), 0);
	sl_policy_free(p);
	sl_policy_free(q);
	sl_policy_free(fresh);
}

static void
test_item_defaults_are_filled(void **state)
{
	struct sl_policy *p = load_yaml(
		"ports:\n  - name: a\n"
		"routes:\n  - {prefix: 10.0.0.0/8, nexthops: [{port: a}]}\n"
		"groups:\n  - name: g\n    targets:\n"
		"      - {kind: vxlan, vni: 1, remote: 192.0.2.1}\n"
		"      - {kind: geneve, vni: 1, remote: 192.0.2.1}\n"
		"      - {kind: gre, remote: 192.0.2.1}\n"
		"rules:\n  - {id: r, action: {replicate: {group: g}}}\n");

	(void)state;
	assert_int_equal(p->ports[0].mode, SL_PORT_MODE_ROUTE);
	assert_false(p->ports[0].has_dpdk_port);
	assert_null(p->ports[0].devargs);
	assert_int_equal(p->routes[0].nexthops[0].weight, 1);
	assert_int_equal(p->routes[0].nexthops[0].gateway.family,
			 SL_FAMILY_NONE);
	assert_int_equal(p->groups[0].table_size, 65537);
	assert_int_equal(p->groups[0].targets[0].udp_port, 4789);
	assert_int_equal(p->groups[0].targets[1].udp_port, 6081);
	assert_int_equal(p->groups[0].targets[2].udp_port, 0);
	assert_false(p->groups[0].targets[2].has_key);
	assert_int_equal(p->groups[0].targets[2].weight, 1);
	assert_int_equal(p->groups[0].targets[2].state, SL_TARGET_UP);
	assert_int_equal(p->rules[0].action.copies, 1);
	sl_policy_free(p);
}

static const char *
rule_id(const struct sl_policy *p, size_t i)
{
	return p->rules[i].id;
}

static void
test_automatic_ids_follow_the_rule_not_its_position(void **state)
{
	struct sl_policy *a = load_yaml(
		"rules:\n"
		"  - {proto: tcp, dport: 22, action: accept}\n"
		"  - {proto: udp, dport: 53, action: accept}\n");
	struct sl_policy *b = load_yaml(
		"rules:\n"
		"  - {proto: icmp, action: drop}\n"
		"  - {proto: 17, dport: \"53\", action: accept, comment: dns}\n"
		"  - {dport: 22, proto: TCP, action: accept}\n");
	struct sl_policy *c = load_yaml(
		"rules:\n  - {proto: tcp, dport: 23, action: accept}\n");

	(void)state;
	assert_memory_equal(rule_id(a, 0), "auto-", 5);
	assert_int_equal(strlen(rule_id(a, 0)), 5 + 16);
	/* Moved, rewritten in another form, commented: the same rule. */
	assert_string_equal(rule_id(a, 0), rule_id(b, 2));
	assert_string_equal(rule_id(a, 1), rule_id(b, 1));
	assert_string_not_equal(rule_id(a, 0), rule_id(a, 1));
	/* A changed match is another rule. */
	assert_string_not_equal(rule_id(a, 0), rule_id(c, 0));
	sl_policy_free(a);
	sl_policy_free(b);
	sl_policy_free(c);
}

static void
test_numeric_id_is_the_same_id_as_its_decimal_string(void **state)
{
	struct sl_policy *a = load_json("{\"rules\": [{\"id\": 42, \"action\": \"drop\"}]}");
	struct sl_policy *b = load_yaml("rules:\n  - {id: \"42\", action: drop}\n");

	(void)state;
	assert_string_equal(a->rules[0].id, "42");
	assert_true(sl_policy_equal(a, b));
	sl_policy_free(a);
	sl_policy_free(b);
}

static void
test_64bit_values_round_trip_beyond_int64(void **state)
{
	struct sl_policy *y = load_yaml(
		"generation: 18446744073709551615\n"
		"settings: {flow_hash_seed: 0xffffffffffffffff}\n");
	struct sl_policy *j = load_json(
		"{\"generation\": \"18446744073709551615\","
		" \"settings\": {\"flow_hash_seed\": \"0xFFFFFFFFFFFFFFFF\"}}");
	char *text;

	(void)state;
	assert_true(y->generation == UINT64_MAX);
	assert_true(y->settings.flow_hash_seed == UINT64_MAX);
	assert_true(sl_policy_equal(y, j));
	text = sl_policy_to_json(y, SL_POLICY_JSON_COMPACT);
	assert_non_null(strstr(text, "\"generation\":\"0xffffffffffffffff\""));
	free(text);
	round_trip(y, 0);
	sl_policy_free(y);
	sl_policy_free(j);
}

static void
test_yaml_scalars_follow_the_core_schema(void **state)
{
	struct sl_policy *p = load_yaml(
		"settings: {conntrack: {enabled: False}}\n"
		"rules:\n"
		"  - {id: 0x1f, comment: yes, vlan: 0o17, action: drop}\n"
		"  - {id: !!str 5, comment: \"on\", action: drop}\n"
		"  - {id: '0x1f0', comment: null-ish, action: drop}\n");
	struct sl_policy_errors errs;
	const struct sl_policy_error *e;

	(void)state;
	assert_false(p->settings.ct_enabled);
	assert_string_equal(p->rules[0].id, "31");
	assert_string_equal(p->rules[0].comment, "yes");
	assert_int_equal(p->rules[0].match.vlan, 15);
	assert_string_equal(p->rules[1].id, "5");
	assert_string_equal(p->rules[1].comment, "on");
	assert_string_equal(p->rules[2].id, "0x1f0");
	sl_policy_free(p);

	/* A plain number is a number even where a string is wanted. */
	e = only_error("rules:\n  - {id: r, comment: 080, action: drop}\n", true,
		       &errs);
	assert_string_equal(e->path, "rules[0].comment");
	assert_string_equal(e->message, "expected a string, got an integer");
	e = only_error("rules:\n  - {id: r, vlan: !!int x, action: drop}\n", true,
		       &errs);
	assert_string_equal(e->message, "invalid YAML: \"x\" is not a valid !!int");
}

static void
test_load_file_picks_the_format_by_name_then_content(void **state)
{
	char dir[] = "/tmp/sl_policy_test_XXXXXX";
	char path[256];
	struct sl_policy_errors errs;
	struct sl_policy *p;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/policy.conf", dir);
	f = fopen(path, "w");
	fputs("  \n{\"default\": \"accept\"}\n", f);
	fclose(f);
	assert_int_equal(sl_policy_load_file(path, &p, &errs), 0);
	assert_int_equal(p->default_action.type, SL_ACTION_ACCEPT);
	sl_policy_free(p);

	f = fopen(path, "w");
	fputs("default: accept\n", f);
	fclose(f);
	assert_int_equal(sl_policy_load_file(path, &p, &errs), 0);
	assert_int_equal(p->default_action.type, SL_ACTION_ACCEPT);
	sl_policy_free(p);
	unlink(path);

	/* A .json name means JSON, even for text YAML would take. */
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	f = fopen(path, "w");
	fputs("default: accept\n", f);
	fclose(f);
	assert_int_equal(sl_policy_load_file(path, &p, &errs), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(errs.list[0].message, "invalid JSON"));
	assert_int_equal(errs.list[0].line, 1);
	unlink(path);

	/* A .yml name means YAML. */
	snprintf(path, sizeof(path), "%s/policy.yml", dir);
	f = fopen(path, "w");
	fputs("{\"default\": \"accept\",}\n", f);
	fclose(f);
	assert_int_equal(sl_policy_load_file(path, &p, &errs), 0);
	sl_policy_free(p);
	unlink(path);

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_int_equal(sl_policy_load_file(path, &p, &errs), -ENOENT);
	assert_null(p);
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.list[0].message, "No such file"));
	assert_int_equal(sl_policy_load_file(dir, &p, &errs), -EISDIR);
	rmdir(dir);
}

static void
test_validate_reports_paths_of_a_model_built_in_code(void **state)
{
	struct sl_policy *p = sl_policy_new();
	struct sl_policy_errors errs;
	struct sl_rule *r;
	static const struct {
		const char *path;
		const char *message;
	} want[] = {
		{ "rules[0].id", "a rule needs an id" },
		{ "rules[0].src", "host bits set in 10.0.0.1/8 (the network is 10.0.0.0/8)" },
		{ "rules[0].dport", "port range 9-1 is upside down (from must not exceed to)" },
		{ "rules[0].vlan", "5000 is out of range 0-4095" },
		{ "rules[0].tcp_flags", "the mask of tcp_flags is empty" },
		{ "rules[0].ct", "ct must list one or more of new, established, related, invalid" },
		{ "rules[0].payload.literal", "the pattern is longer than 4096 bytes" },
		{ "rules[0].action", "an action is required" },
		{ "default.steer.group", "steer needs a group" },
	};

	(void)state;
	p->rules = calloc(1, sizeof(*p->rules));
	p->n_rules = 1;
	r = &p->rules[0];
	r->match.fields = SL_MATCH_SRC | SL_MATCH_PROTO | SL_MATCH_DPORT |
			  SL_MATCH_VLAN | SL_MATCH_TCP_FLAGS | SL_MATCH_CT |
			  SL_MATCH_PAYLOAD;
	r->match.src.family = SL_FAMILY_IPV4;
	r->match.src.len = 8;
	memcpy(r->match.src.addr, "\x0a\x00\x00\x01", 4);
	r->match.proto = 6;
	r->match.dport.lo = 9;
	r->match.dport.hi = 1;
	r->match.vlan = 5000;
	r->match.payload.kind = SL_PAYLOAD_LITERAL;
	r->match.payload.pattern = malloc(5000);
	memset(r->match.payload.pattern, 'a', 4999);
	r->match.payload.pattern[4999] = '\0';
	p->default_action.type = SL_ACTION_STEER;

	assert_int_equal(sl_policy_validate(p, &errs), -EINVAL);
	sl_policy_errors_print(stderr, NULL, &errs);
	assert_int_equal(errs.count, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.count; i++) {
		assert_string_equal(errs.list[i].path, want[i].path);
		assert_string_equal(errs.list[i].message, want[i].message);
		assert_int_equal(errs.list[i].line, 0);
		assert_int_equal(errs.list[i].column, 0);
	}
	/* No details wanted: the same verdict. */
	assert_int_equal(sl_policy_validate(p, NULL), -EINVAL);
	sl_policy_free(p);
}

static void
test_validate_checks_routing_settings_of_a_model_built_in_code(void **state)
{
	struct sl_policy *p = sl_policy_new();
	struct sl_policy_errors errs;

	(void)state;
	p->settings.rt_icmp_errors = SL_POLICY_ICMP_ERRORS_MAX + 1;
	p->settings.rt_max_routes_ipv4 = SL_POLICY_ROUTES_V4_MAX + 1;
	p->settings.rt_max_routes_ipv6 = SL_POLICY_ROUTES_MIN - 1;
	p->settings.rt_kernel_table = UINT32_MAX;	/* any table id is fine */
	assert_int_equal(sl_policy_validate(p, &errs), -EINVAL);
	assert_int_equal(errs.count, 3);
	assert_string_equal(errs.list[0].path, "settings.routing.icmp_errors");
	assert_string_equal(errs.list[1].path, "settings.routing.max_routes_ipv4");
	assert_string_equal(errs.list[1].message,
			    "16777217 is out of range 1024-16777216");
	assert_string_equal(errs.list[2].path, "settings.routing.max_routes_ipv6");
	p->settings.rt_icmp_errors = 0;
	p->settings.rt_max_routes_ipv4 = SL_POLICY_ROUTES_MIN;
	p->settings.rt_max_routes_ipv6 = SL_POLICY_ROUTES_V6_MAX;
	assert_int_equal(sl_policy_validate(p, &errs), 0);
	sl_policy_free(p);
}

static void
test_every_loaded_policy_validates(void **state)
{
	struct sl_policy *p = load_fixture("rich.yaml");
	struct sl_policy_errors errs;

	(void)state;
	assert_int_equal(sl_policy_validate(p, &errs), 0);
	assert_int_equal(errs.count, 0);
	sl_policy_free(p);
}

static void
test_dup_is_an_equal_independent_copy(void **state)
{
	struct sl_policy *p = load_fixture("rich.yaml");
	struct sl_policy *q = sl_policy_dup(p);

	(void)state;
	assert_non_null(q);
	assert_true(sl_policy_equal(p, q));
	assert_ptr_not_equal(q->rules[0].id, p->rules[0].id);
	q->rules[0].id[0] = 'X';
	assert_false(sl_policy_equal(p, q));
	sl_policy_free(p);
	sl_policy_free(q);
}

static void
test_equal_notices_each_kind_of_change(void **state)
{
	struct sl_policy *p = load_fixture("rich.yaml");
	struct sl_policy *q;

	(void)state;
#define CHANGED(stmt)                                   \
	do {                                            \
		q = sl_policy_dup(p);                   \
		assert_true(sl_policy_equal(p, q));     \
		stmt;                                   \
		assert_false(sl_policy_equal(p, q));    \
		assert_false(sl_policy_equal(q, p));    \
		sl_policy_free(q);                      \
	} while (0)
	CHANGED(q->generation++);
	CHANGED(q->settings.ct_timeouts.icmp++);
	CHANGED(q->settings.rt_kernel_table = 0);
	CHANGED(q->settings.rt_icmp_errors++);
	CHANGED(q->settings.rt_max_routes_ipv4--);
	CHANGED(q->settings.rt_max_routes_ipv6++);
	CHANGED(q->ports[0].addrs[1].len--);
	CHANGED(q->ports[1].devargs[0] = 'x');
	CHANGED(q->rules[0].match.dport.hi++);
	CHANGED(q->rules[0].match.fields &= ~SL_MATCH_IN_PORT);
	CHANGED(q->rules[3].match.payload.flags = 0);
	CHANGED(q->rules[3].action.copies = 1);
	CHANGED(q->rules[0].comment[0] = 'O');
	CHANGED(q->default_action.type = SL_ACTION_DROP);
	CHANGED(q->routes[1].nexthops[0].weight = 2);
	CHANGED(q->groups[0].targets[2].key++);
	CHANGED(q->groups[1].table_size = 65537);
#undef CHANGED
	q = sl_policy_dup(p);
	q->n_rules--;
	assert_false(sl_policy_equal(p, q));
	q->n_rules++;
	sl_policy_free(q);
	sl_policy_free(p);
}

static void
test_compiled_match_carries_the_acl_numbers(void **state)
{
	struct sl_policy *p = load_fixture("rich.yaml");
	struct sl_policy *q = load_yaml(
		"rules:\n"
		"  - {id: a, proto: tcp, action: drop}\n"
		"  - {id: b, proto: icmp, action: drop}\n"
		"  - {id: c, vlan: 7, ct: [new], action: drop}\n");
	struct sl_match_compiled m;

	(void)state;
	/* ssh-in: 198.51.100.0/24 -> 10.1.0.0/16 tcp dport 22 syn/syn,ack,rst */
	assert_int_equal(sl_match_compile(p, 0, &m), 0);
	assert_int_equal(m.family, SL_FAMILY_IPV4);
	assert_int_equal(m.src_len, 24);
	assert_memory_equal(m.src, "\xc6\x33\x64\x00", 4);
	assert_int_equal(m.dst_len, 16);
	assert_memory_equal(m.dst, "\x0a\x01\x00\x00", 4);
	assert_int_equal(m.proto, 6);
	assert_int_equal(m.proto_mask, 0xff);
	assert_int_equal(m.sport_lo, 0);
	assert_int_equal(m.sport_hi, 65535);
	assert_int_equal(m.dport_lo, 22);
	assert_int_equal(m.dport_hi, 22);
	assert_int_equal(m.tcp_flags, SL_TCP_SYN);
	assert_int_equal(m.tcp_flags_mask, SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST);
	assert_int_equal(m.in_port, 0);
	assert_int_equal(m.ct, SL_CT_ALL);

	/* icmpv6 to 2001:db8::/32: IPv6 from the address */
	assert_int_equal(sl_match_compile(p, 2, &m), 0);
	assert_int_equal(m.family, SL_FAMILY_IPV6);
	assert_int_equal(m.src_len, 0);
	assert_int_equal(m.dst_len, 32);
	assert_memory_equal(m.dst, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(m.ct, SL_CT_ESTABLISHED | SL_CT_RELATED);
	assert_int_equal(m.in_port, -1);

	/* udp sport 1024-65535 dport 5000-5010 vlan 100 */
	assert_int_equal(sl_match_compile(p, 1, &m), 0);
	assert_int_equal(m.family, 0);
	assert_int_equal(m.sport_lo, 1024);
	assert_int_equal(m.sport_hi, 65535);
	assert_int_equal(m.dport_lo, 5000);
	assert_int_equal(m.dport_hi, 5010);
	assert_true(m.fields & SL_MATCH_VLAN);
	assert_int_equal(m.vlan, 100);

	/* No address: tcp fits both families, icmp only IPv4. */
	assert_int_equal(sl_match_compile(q, 0, &m), 0);
	assert_int_equal(m.family, 0);
	assert_int_equal(sl_match_compile(q, 1, &m), 0);
	assert_int_equal(m.family, SL_FAMILY_IPV4);
	assert_int_equal(sl_match_compile(q, 2, &m), 0);
	assert_int_equal(m.proto_mask, 0);
	assert_int_equal(m.tcp_flags_mask, 0);
	assert_int_equal(m.ct, SL_CT_NEW);
	assert_int_equal(sl_match_compile(q, 3, &m), -EINVAL);
	sl_policy_free(p);
	sl_policy_free(q);
}

static void
test_names_tables_map_both_ways(void **state)
{
	(void)state;
	assert_int_equal(sl_proto_from_name("tcp"), 6);
	assert_int_equal(sl_proto_from_name("UDP"), 17);
	assert_int_equal(sl_proto_from_name("ipv6-icmp"), 58);
	assert_int_equal(sl_proto_from_name("tcpx"), -1);
	assert_string_equal(sl_proto_name(58), "icmpv6");
	assert_string_equal(sl_proto_name(132), "sctp");
	assert_null(sl_proto_name(253));
	assert_string_equal(sl_tcp_flag_name(SL_TCP_CWR), "cwr");
	assert_string_equal(sl_ct_state_name(SL_CT_INVALID), "invalid");
	assert_string_equal(sl_payload_flag_name(SL_PAYLOAD_UCP), "ucp");
	assert_string_equal(sl_action_name(SL_ACTION_STEER), "steer");
	assert_string_equal(sl_port_mode_name(SL_PORT_MODE_XCONNECT), "xconnect");
	assert_string_equal(sl_target_kind_name(SL_TARGET_GENEVE), "geneve");
	assert_string_equal(sl_target_state_name(SL_TARGET_DRAINING), "draining");
}

static void
test_an_unnamed_protocol_round_trips_as_a_number(void **state)
{
	struct sl_policy *p = load_yaml("rules:\n  - {id: r, proto: 253, action: drop}\n");
	char *text = sl_policy_to_json(p, SL_POLICY_JSON_COMPACT);

	(void)state;
	assert_non_null(strstr(text, "\"proto\":253"));
	free(text);
	round_trip(p, 0);
	sl_policy_free(p);
}

static void
test_error_format_names_source_position_and_path(void **state)
{
	struct sl_policy_error e = { .path = "rules[3].dport", .line = 12,
				     .column = 7, .message = "bad" };
	char buf[256];

	(void)state;
	sl_policy_error_format(&e, "a.yaml", buf, sizeof(buf));
	assert_string_equal(buf, "a.yaml:12:7: rules[3].dport: bad");
	sl_policy_error_format(&e, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "12:7: rules[3].dport: bad");
	e.line = 0;
	sl_policy_error_format(&e, "a.yaml", buf, sizeof(buf));
	assert_string_equal(buf, "a.yaml: rules[3].dport: bad");
	e.path[0] = '\0';
	sl_policy_error_format(&e, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "bad");
}

static void
test_errors_are_collected_capped_and_counted(void **state)
{
	struct sl_policy_errors errs;
	struct sl_policy *p;
	size_t size = 100 * 64 + 64, len = 0;
	char *text = malloc(size);

	(void)state;
	len += (size_t)snprintf(text + len, size - len, "rules:\n");
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(text + len, size - len,
					"  - {id: r%d, vlan: 5000, action: drop}\n",
					i);
	assert_int_equal(sl_policy_from_yaml_str(text, &p, &errs), -EINVAL);
	assert_int_equal(errs.count, SL_POLICY_ERRORS_MAX);
	assert_int_equal(errs.dropped, 100 - SL_POLICY_ERRORS_MAX);
	for (unsigned int i = 0; i < errs.count; i++) {
		char path[32];

		snprintf(path, sizeof(path), "rules[%u].vlan", i);
		assert_string_equal(errs.list[i].path, path);
		assert_int_equal(errs.list[i].line, i + 2);
	}
	free(text);
}

static void
test_errors_of_every_stage_come_sorted_by_position(void **state)
{
	struct sl_policy_errors errs;
	struct sl_policy *p;
	const char *text =
		"rules:\n"
		"  - {id: a, sport: 1, action: drop}\n"      /* whole-model */
		"  - {id: b, vlan: x, action: drop}\n"       /* decoding */
		"  - {id: a, action: drop}\n";               /* duplicate */

	(void)state;
	assert_int_equal(sl_policy_from_yaml_str(text, &p, &errs), -EINVAL);
	assert_int_equal(errs.count, 3);
	assert_string_equal(errs.list[0].path, "rules[0].sport");
	assert_string_equal(errs.list[1].path, "rules[1].vlan");
	assert_string_equal(errs.list[2].path, "rules[2].id");
	assert_int_equal(errs.list[2].line, 4);
}

static void
test_an_item_that_failed_to_decode_is_not_reported_twice(void **state)
{
	struct sl_policy_errors errs;
	const struct sl_policy_error *e;

	(void)state;
	/* proto is wrong, so the dport check would only repeat it. */
	e = only_error("rules:\n  - {id: a, proto: tpc, dport: 80, action: drop}\n",
		       true, &errs);
	assert_string_equal(e->path, "rules[0].proto");
	/* ports is not a list: no "unknown port" for every reference. */
	e = only_error("{\"ports\": {\"name\": \"a\"},\n \"rules\": [{\"id\": \"r\","
		       " \"in_port\": \"a\", \"action\": \"drop\"}]}", false, &errs);
	assert_string_equal(e->path, "ports");
	assert_string_equal(e->message, "expected a list, got an object");
	assert_int_equal(e->line, 1);
	assert_int_equal(e->column, 11);
}

static void
test_a_large_policy_loads_and_round_trips(void **state)
{
	enum { N = 20000 };
	size_t size = (size_t)N * 128 + 64, len = 0;
	char *text = malloc(size);
	struct sl_policy *p;

	(void)state;
	len += (size_t)snprintf(text + len, size - len, "{\"rules\": [");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, size - len,
					"%s{\"src\": \"10.%d.%d.0/24\", \"proto\": \"tcp\", \"dport\": %d, \"action\": \"accept\"}",
					i > 0 ? "," : "", i >> 8 & 255, i & 255,
					1 + i % 60000);
	snprintf(text + len, size - len, "]}");
	p = load_json(text);
	assert_int_equal(p->n_rules, N);
	round_trip(p, SL_POLICY_JSON_COMPACT);
	sl_policy_free(p);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_and_json_of_the_same_policy_give_equal_models),
		cmocka_unit_test(test_dump_then_load_is_identical_and_the_dump_canonical),
		cmocka_unit_test(test_json_and_yaml_dumps_of_equal_models_are_byte_identical),
		cmocka_unit_test(test_dump_writes_keys_in_schema_order),
		cmocka_unit_test(test_empty_object_gives_every_default),
		cmocka_unit_test(test_item_defaults_are_filled),
		cmocka_unit_test(test_automatic_ids_follow_the_rule_not_its_position),
		cmocka_unit_test(test_numeric_id_is_the_same_id_as_its_decimal_string),
		cmocka_unit_test(test_64bit_values_round_trip_beyond_int64),
		cmocka_unit_test(test_yaml_scalars_follow_the_core_schema),
		cmocka_unit_test(test_load_file_picks_the_format_by_name_then_content),
		cmocka_unit_test(test_validate_reports_paths_of_a_model_built_in_code),
		cmocka_unit_test(test_validate_checks_routing_settings_of_a_model_built_in_code),
		cmocka_unit_test(test_every_loaded_policy_validates),
		cmocka_unit_test(test_dup_is_an_equal_independent_copy),
		cmocka_unit_test(test_equal_notices_each_kind_of_change),
		cmocka_unit_test(test_compiled_match_carries_the_acl_numbers),
		cmocka_unit_test(test_names_tables_map_both_ways),
		cmocka_unit_test(test_an_unnamed_protocol_round_trips_as_a_number),
		cmocka_unit_test(test_error_format_names_source_position_and_path),
		cmocka_unit_test(test_errors_are_collected_capped_and_counted),
		cmocka_unit_test(test_errors_of_every_stage_come_sorted_by_position),
		cmocka_unit_test(test_an_item_that_failed_to_decode_is_not_reported_twice),
		cmocka_unit_test(test_a_large_policy_loads_and_round_trips),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
