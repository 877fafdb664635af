/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy diff (lib/policy_diff.c): every section's added, removed and
 * changed items, moved rules, the flags, an absent old policy, identical
 * policies; shadowed rules field by field, both ways, with the family and
 * range traps, checked against a brute-force reference matcher on chosen
 * and on random rule pairs; and the time 10k rules and 1M routes take.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>

#include "sluice/conntrack.h"
#include "sluice/pkt_meta.h"
#include "sluice/policy.h"
#include "sluice/policy_diff.h"
#include "test_policy_fixture.h"

/* ------------------------------------------------------------------------
 * Helpers
 */

static struct sl_policy *
load_yaml(const char *text)
{
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	int rc = sl_policy_from_yaml_str(text, &p, &errs);

	if (rc != 0) {
		fprintf(stderr, "%s\n", text);
		sl_policy_errors_print(stderr, "yaml", &errs);
	}
	assert_int_equal(rc, 0);
	return p;
}

static json_t *
diff_of(const struct sl_policy *o, const struct sl_policy *n)
{
	json_t *d = sl_policy_diff(o, n);

	assert_non_null(d);
	return d;
}

static void
assert_json(const json_t *j, const char *expected)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(text);
	if (strcmp(text, expected) != 0)
		fprintf(stderr, "got      %s\nexpected %s\n", text, expected);
	assert_string_equal(text, expected);
	free(text);
}

/* d[section][list] as compact JSON. */
static void
assert_list(const json_t *d, const char *section, const char *list,
	    const char *expected)
{
	const json_t *l = json_object_get(json_object_get(d, section), list);

	assert_non_null(l);
	assert_json(l, expected);
}

static size_t
list_size(const json_t *d, const char *section, const char *list)
{
	const json_t *l = json_object_get(json_object_get(d, section), list);

	assert_true(json_is_array(l));
	return json_array_size(l);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define EMPTY_DIFF							\
	"{\"rules\":{\"added\":[],\"removed\":[],\"changed\":[],"	\
	"\"moved\":[],\"shadowed\":[]},\"default_changed\":false,"	\
	"\"routes\":{\"added\":[],\"removed\":[],\"changed\":[]},"	\
	"\"groups\":{\"added\":[],\"removed\":[],\"changed\":[]},"	\
	"\"ports\":{\"added\":[],\"removed\":[],\"changed\":[]},"	\
	"\"settings_changed\":false}"

/* ------------------------------------------------------------------------
 * Sections
 */

static void
test_identical_policies_give_an_empty_diff(void **state)
{
	struct sl_policy *p, *q;
	json_t *d;

	(void)state;
	assert_int_equal(sl_policy_load_file(policy_fixture_path("rich.yaml"),
					     &p, NULL), 0);
	q = sl_policy_dup(p);
	assert_non_null(q);
	q->generation++;	/* carried, not diffed */
	d = diff_of(p, q);
	assert_json(d, EMPTY_DIFF);
	json_decref(d);
	d = diff_of(p, p);
	assert_json(d, EMPTY_DIFF);
	json_decref(d);
	sl_policy_free(p);
	sl_policy_free(q);
}

static void
test_no_old_policy_diffs_against_the_empty_one(void **state)
{
	struct sl_policy *empty = sl_policy_new(), *p;
	char expected[256];
	json_t *d;

	(void)state;
	d = diff_of(NULL, empty);
	assert_json(d, EMPTY_DIFF);
	json_decref(d);

	assert_int_equal(sl_policy_load_file(policy_fixture_path("rich.yaml"),
					     &p, NULL), 0);
	d = diff_of(NULL, p);
	snprintf(expected, sizeof(expected),
		 "[\"ssh-in\",\"7\",\"%s\",\"http-admin\",\"lb\",\"esp\"]",
		 p->rules[2].id);	/* an automatic id */
	assert_list(d, "rules", "added", expected);
	assert_list(d, "rules", "removed", "[]");
	assert_list(d, "rules", "moved", "[]");
	assert_list(d, "routes", "added",
		    "[\"0.0.0.0/0\",\"172.16.0.0/12\",\"2001:db8:100::/48\"]");
	assert_list(d, "groups", "added", "[\"mirrors\",\"backends\"]");
	assert_list(d, "ports", "added",
		    "[\"wan0\",\"lan0\",\"tap-a\",\"tap-b\"]");
	assert_true(json_is_true(json_object_get(d, "default_changed")));
	assert_true(json_is_true(json_object_get(d, "settings_changed")));
	json_decref(d);

	/* And the other way: everything goes. */
	d = diff_of(p, NULL);
	assert_list(d, "routes", "removed",
		    "[\"0.0.0.0/0\",\"172.16.0.0/12\",\"2001:db8:100::/48\"]");
	assert_int_equal(list_size(d, "rules", "removed"), 6);
	assert_int_equal(list_size(d, "rules", "added"), 0);
	json_decref(d);
	sl_policy_free(p);
	sl_policy_free(empty);
}

static void
test_rules_are_added_removed_and_changed_by_id(void **state)
{
	struct sl_policy *o = load_yaml(
		"rules:\n"
		"  - {id: keep, proto: tcp, dport: 22, action: accept}\n"
		"  - {id: old, proto: tcp, dport: 23, action: accept}\n"
		"  - {id: comment, proto: tcp, dport: 24, action: accept}\n"
		"  - {id: action, proto: tcp, dport: 25, action: accept}\n"
		"  - {id: match, proto: tcp, dport: 26, action: accept}\n");
	struct sl_policy *n = load_yaml(
		"rules:\n"
		"  - {id: keep, proto: tcp, dport: 22, action: accept}\n"
		"  - {id: comment, comment: now, proto: tcp, dport: 24, action: accept}\n"
		"  - {id: action, proto: tcp, dport: 25, action: drop}\n"
		"  - {id: match, proto: tcp, dport: 27, action: accept}\n"
		"  - {id: web, proto: tcp, dport: 80, action: accept}\n");
	json_t *d = diff_of(o, n);

	(void)state;
	assert_list(d, "rules", "added", "[\"web\"]");
	assert_list(d, "rules", "removed", "[\"old\"]");
	assert_list(d, "rules", "changed", "[\"comment\",\"action\",\"match\"]");
	assert_list(d, "rules", "moved", "[]");
	assert_list(d, "rules", "shadowed", "[]");
	assert_true(json_is_false(json_object_get(d, "default_changed")));
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
}

/* The new order of old rules a..f (by letter), and the moved list. */
static void
assert_moved(const char *old_order, const char *new_order, const char *moved)
{
	char text[1024];
	size_t len;
	struct sl_policy *o, *n;
	json_t *d;

	len = (size_t)snprintf(text, sizeof(text), "rules:\n");
	for (const char *c = old_order; *c != '\0'; c++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"  - {id: %c, dport: %d, proto: udp, action: accept}\n",
					*c, *c);
	o = load_yaml(text);
	len = (size_t)snprintf(text, sizeof(text), "rules:\n");
	for (const char *c = new_order; *c != '\0'; c++)
		/* Upper case: the same rule, changed (another port). */
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"  - {id: %c, dport: %d, proto: udp, action: accept}\n",
					*c | 0x20, *c == (*c | 0x20) ? *c : 1);
	n = load_yaml(text);
	d = diff_of(o, n);
	assert_list(d, "rules", "moved", moved);
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
}

static void
test_moved_names_the_fewest_rules_that_left_the_old_order(void **state)
{
	(void)state;
	assert_moved("abcd", "abcd", "[]");
	/* One taken from the end and put first: it moved, not the others. */
	assert_moved("abcd", "dabc", "[\"d\"]");
	assert_moved("abcd", "bcda", "[\"a\"]");
	assert_moved("abcdef", "abedcf", "[\"e\",\"d\"]");
	/* A swap moves one of the two. */
	assert_moved("ab", "ba", "[\"b\"]");
	/* Reversed: all but one. */
	assert_moved("abcd", "dcba", "[\"d\",\"c\",\"b\"]");
	/* Insertions and removals around rules do not move them. */
	assert_moved("abcd", "xaczdy", "[]");
	/* A changed rule is changed, wherever it went; the rest kept order. */
	assert_moved("abcd", "Dabc", "[]");
	assert_moved("abcd", "Cbad", "[\"b\"]");
}

static void
test_routes_are_keyed_by_prefix(void **state)
{
	struct sl_policy *o = load_yaml(
		"ports: [{name: wan0, dpdk_port: 0}]\n"
		"routes:\n"
		"  - {prefix: 0.0.0.0/0, nexthops: [{gateway: 192.0.2.1, port: wan0}]}\n"
		"  - {prefix: 10.0.0.0/8, nexthops: [{gateway: 192.0.2.2, port: wan0}]}\n"
		"  - {prefix: 10.0.0.0/16, nexthops: [{gateway: 192.0.2.2, port: wan0}]}\n"
		"  - {prefix: \"2001:db8::/32\", nexthops: [{port: wan0}]}\n");
	struct sl_policy *n = load_yaml(
		"ports: [{name: wan0, dpdk_port: 0}]\n"
		"routes:\n"
		"  - {prefix: \"2001:db8::/32\", nexthops: [{port: wan0, weight: 2}]}\n"
		"  - {prefix: 10.0.0.0/8, nexthops: [{gateway: 192.0.2.2, port: wan0}]}\n"
		"  - {prefix: 10.0.0.0/24, nexthops: [{gateway: 192.0.2.2, port: wan0}]}\n"
		"  - {prefix: 0.0.0.0/0, nexthops: [{gateway: 192.0.2.9, port: wan0}]}\n"
		"  - {prefix: \"2001:db8::/48\", nexthops: [{port: wan0}]}\n");
	json_t *d = diff_of(o, n);

	(void)state;
	/* Same address, other length: another route. */
	assert_list(d, "routes", "added", "[\"10.0.0.0/24\",\"2001:db8::/48\"]");
	assert_list(d, "routes", "removed", "[\"10.0.0.0/16\"]");
	assert_list(d, "routes", "changed", "[\"2001:db8::/32\",\"0.0.0.0/0\"]");
	assert_list(d, "ports", "changed", "[]");
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
}

static void
test_groups_and_ports_are_keyed_by_name(void **state)
{
	struct sl_policy *o = load_yaml(
		"ports:\n"
		"  - {name: wan0, dpdk_port: 0}\n"
		"  - {name: lan0, dpdk_port: 1}\n"
		"  - {name: dmz0, dpdk_port: 2}\n"
		"groups:\n"
		"  - {name: a, targets: [{kind: port, port: lan0}]}\n"
		"  - {name: b, targets: [{kind: port, port: lan0}]}\n"
		"  - {name: c, targets: [{kind: vxlan, vni: 1, remote: 192.0.2.7}]}\n");
	struct sl_policy *n = load_yaml(
		"ports:\n"
		"  - {name: lan0, dpdk_port: 1, addresses: [10.0.0.1/24]}\n"
		"  - {name: wan0, dpdk_port: 0}\n"
		"  - {name: wan1, dpdk_port: 3}\n"
		"groups:\n"
		"  - {name: c, targets: [{kind: vxlan, vni: 1, remote: 192.0.2.7, state: draining}]}\n"
		"  - {name: d, targets: [{kind: port, port: lan0}]}\n"
		"  - {name: a, targets: [{kind: port, port: lan0}]}\n");
	json_t *d = diff_of(o, n);

	(void)state;
	assert_list(d, "groups", "added", "[\"d\"]");
	assert_list(d, "groups", "removed", "[\"b\"]");
	assert_list(d, "groups", "changed", "[\"c\"]");
	assert_list(d, "ports", "added", "[\"wan1\"]");
	assert_list(d, "ports", "removed", "[\"dmz0\"]");
	assert_list(d, "ports", "changed", "[\"lan0\"]");
	assert_true(json_is_false(json_object_get(d, "settings_changed")));
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
}

static void
test_default_and_settings_changes_are_flagged(void **state)
{
	struct sl_policy *o = load_yaml("default: drop\n");
	struct sl_policy *n = load_yaml("default: accept\n");
	struct sl_policy *s = load_yaml(
		"settings: {conntrack: {timeouts: {icmp: 31}}}\n");
	json_t *d;

	(void)state;
	d = diff_of(o, n);
	assert_true(json_is_true(json_object_get(d, "default_changed")));
	assert_true(json_is_false(json_object_get(d, "settings_changed")));
	json_decref(d);
	d = diff_of(o, s);
	assert_true(json_is_false(json_object_get(d, "default_changed")));
	assert_true(json_is_true(json_object_get(d, "settings_changed")));
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
	sl_policy_free(s);
}

/* ------------------------------------------------------------------------
 * Reference matcher: what a packet is, and which rules it matches, written
 * from docs/policy.md and independently of lib/policy_diff.c.
 */

struct pkt {
	uint8_t family;		/* 4 or 6 */
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;
	int32_t in_port;	/* port index */
	bool tagged;
	uint16_t vlan;
	uint8_t tcp_flags;
	uint8_t ct;		/* one SL_CT_* bit */
	uint8_t payload;	/* bit k: payload pattern k is in the packet */
};

static bool
ref_prefix(const uint8_t *addr, const uint8_t *net, unsigned int len)
{
	for (unsigned int b = 0; b < len; b++) {
		unsigned int bit = 0x80u >> (b % 8);

		if ((addr[b / 8] & bit) != (net[b / 8] & bit))
			return false;
	}
	return true;
}

/* payload: the pattern's bit number, or -1 for a rule without one. */
static bool
ref_match(const struct sl_match_compiled *c, int payload, const struct pkt *k)
{
	return (c->family == 0 || c->family == k->family) &&
	       (c->proto_mask == 0 || c->proto == k->proto) &&
	       ref_prefix(k->src, c->src, c->src_len) &&
	       ref_prefix(k->dst, c->dst, c->dst_len) &&
	       k->sport >= c->sport_lo && k->sport <= c->sport_hi &&
	       k->dport >= c->dport_lo && k->dport <= c->dport_hi &&
	       (c->in_port < 0 || c->in_port == k->in_port) &&
	       (!(c->fields & SL_MATCH_VLAN) ||
		(k->tagged && k->vlan == c->vlan)) &&
	       (k->tcp_flags & c->tcp_flags_mask) == c->tcp_flags &&
	       (c->ct & k->ct) != 0 &&
	       (payload < 0 || (k->payload & (1u << payload)) != 0);
}

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64*: reproducible, good enough to pick test values. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static unsigned int
rnd_below(uint64_t *s, unsigned int n)
{
	return (unsigned int)(rnd(s) >> 33) % n;
}

/* A port in [lo, hi], often one of the ends. */
static uint16_t
rnd_port(uint64_t *s, uint16_t lo, uint16_t hi)
{
	switch (rnd_below(s, 4)) {
	case 0:
		return lo;
	case 1:
		return hi;
	default:
		return (uint16_t)(lo + rnd_below(s, (unsigned int)(hi - lo) + 1));
	}
}

/* Random address bits past len, within the family's width. */
static void
rnd_addr(uint64_t *s, uint8_t family, const uint8_t *net, unsigned int len,
	 uint8_t *out)
{
	unsigned int width = family == 4 ? 32 : 128;

	memset(out, 0, 16);
	for (unsigned int b = 0; b < width; b++) {
		unsigned int bit = 0x80u >> (b % 8);
		bool set = b < len ? (net[b / 8] & bit) != 0 : rnd_below(s, 2);

		if (set)
			out[b / 8] |= (uint8_t)bit;
	}
}

/* A packet the rule c matches, with every field it leaves free random. */
static void
packet_inside(uint64_t *s, const struct sl_match_compiled *c, int payload,
	      struct pkt *k)
{
	static const uint8_t protos[] = { 1, 6, 17, 47, 58, 132 };
	static const uint16_t vlans[] = { 0, 10, 11, 12 };
	uint8_t ct_bits[4];
	unsigned int n_ct = 0;

	k->family = c->family ? c->family : (rnd_below(s, 2) ? 4 : 6);
	rnd_addr(s, k->family, c->src, c->src_len, k->src);
	rnd_addr(s, k->family, c->dst, c->dst_len, k->dst);
	k->proto = c->proto_mask ? c->proto :
		   protos[rnd_below(s, sizeof(protos))];
	k->sport = rnd_port(s, c->sport_lo, c->sport_hi);
	k->dport = rnd_port(s, c->dport_lo, c->dport_hi);
	k->in_port = c->in_port >= 0 ? c->in_port : (int32_t)rnd_below(s, 3);
	if (c->fields & SL_MATCH_VLAN) {
		k->tagged = true;
		k->vlan = c->vlan;
	} else {
		k->tagged = rnd_below(s, 2);
		k->vlan = k->tagged ? vlans[rnd_below(s, 4)] : 0;
	}
	k->tcp_flags = (uint8_t)((rnd(s) & ~c->tcp_flags_mask) |
				 c->tcp_flags);
	for (uint8_t b = SL_CT_NEW; b <= SL_CT_INVALID; b <<= 1)
		if (c->ct & b)
			ct_bits[n_ct++] = b;
	k->ct = n_ct ? ct_bits[rnd_below(s, n_ct)] : 0;
	k->payload = (uint8_t)(rnd(s) & 3);
	if (payload >= 0)
		k->payload |= (uint8_t)(1u << payload);
}

static bool
same_payload(const struct sl_match *a, const struct sl_match *b)
{
	return (a->fields & SL_MATCH_PAYLOAD) && (b->fields & SL_MATCH_PAYLOAD) &&
	       a->payload.kind == b->payload.kind &&
	       a->payload.flags == b->payload.flags &&
	       strcmp(a->payload.pattern, b->payload.pattern) == 0;
}

/*
 * Rule i of p is said to shadow rule j: look for a packet j matches and i
 * does not.  Packets are drawn from inside j, so each one is a real try.
 * Payload patterns are opaque: i's is bit 0, j's bit 0 when identical to
 * i's and bit 1 otherwise, so distinct patterns can match different
 * packets.  Returns the number of counterexamples found.
 */
static unsigned int
counterexamples(const struct sl_policy *p, size_t i, size_t j, uint64_t *s,
		unsigned int tries)
{
	const struct sl_match *mi = &p->rules[i].match, *mj = &p->rules[j].match;
	struct sl_match_compiled ci, cj;
	int pi = (mi->fields & SL_MATCH_PAYLOAD) ? 0 : -1;
	int pj = !(mj->fields & SL_MATCH_PAYLOAD) ? -1 :
		 same_payload(mi, mj) ? 0 : 1;
	unsigned int bad = 0;

	assert_int_equal(sl_match_compile(p, i, &ci), 0);
	assert_int_equal(sl_match_compile(p, j, &cj), 0);
	for (unsigned int t = 0; t < tries; t++) {
		struct pkt k;

		packet_inside(s, &cj, pj, &k);
		/* The sampler itself must be right for the check to mean
		 * anything. */
		assert_true(ref_match(&cj, pj, &k));
		if (!ref_match(&ci, pi, &k))
			bad++;
	}
	return bad;
}

/* ------------------------------------------------------------------------
 * Shadowing, field by field
 */

struct shadow_case {
	const char *earlier;	/* match fields of rule i, YAML flow style */
	const char *later;	/* of rule j */
	bool shadowed;
};

static const struct shadow_case shadow_cases[] = {
	/* No match field: every packet. */
	{ "", "proto: tcp, dport: 80", true },
	{ "", "src: \"2001:db8::/32\"", true },
	{ "proto: tcp, dport: 80", "", false },

	/* Prefixes contain. */
	{ "src: 10.0.0.0/8", "src: 10.1.0.0/16", true },
	{ "src: 10.0.0.0/8", "src: 10.1.2.3", true },
	{ "src: 10.0.0.0/8", "src: 10.0.0.0/8", true },
	{ "src: 10.1.0.0/16", "src: 10.0.0.0/8", false },
	{ "src: 10.0.0.0/16", "src: 10.0.0.0/8", false },
	{ "dst: 10.0.0.0/16", "dst: 10.0.0.0/8", false },
	{ "src: \"2001:db8::/64\"", "src: \"2001:db8::/63\"", false },
	{ "src: \"2001:db8::/63\"", "src: \"2001:db8:0:1::/64\"", true },
	{ "src: \"2001:db8::/64\"", "src: \"2001:db8:0:0:8000::/65\"", true },
	{ "src: \"2001:db8::/65\"", "src: \"2001:db8:0:0:8000::/66\"", false },
	{ "src: 10.0.0.0/8", "src: 11.0.0.0/8", false },
	{ "src: 10.0.0.0/9", "src: 10.128.0.0/9", false },
	{ "src: 10.0.0.0/8", "", false },
	{ "dst: 10.0.0.0/8", "src: 10.0.0.0/8", false },
	{ "src: 10.0.0.0/8, dst: 192.0.2.0/24", "src: 10.1.0.0/16, dst: 192.0.2.7", true },
	{ "src: 10.0.0.0/8, dst: 192.0.2.0/24", "src: 10.1.0.0/16, dst: 198.51.100.7", false },
	{ "src: \"2001:db8::/32\"", "src: \"2001:db8:1::/48\"", true },
	{ "src: \"2001:db8:1::/48\"", "src: \"2001:db8::/32\"", false },

	/* The family trap: an IPv4 rule never matches IPv6, even /0 and even
	 * when the address bits agree (a00::/8 starts like 10.0.0.0/8). */
	{ "src: 0.0.0.0/0", "", false },
	{ "src: 0.0.0.0/0", "src: \"2001:db8::/32\"", false },
	{ "src: 0.0.0.0/0", "src: 10.0.0.0/8", true },
	{ "src: \"::/0\"", "src: 10.0.0.0/8", false },
	{ "src: \"::/0\"", "dst: \"2001:db8::/32\"", true },
	{ "src: 10.0.0.0/8", "src: \"a00::/8\"", false },
	{ "src: \"a00::/8\"", "src: 10.0.0.0/8", false },
	{ "dst: 0.0.0.0/0", "src: 10.0.0.0/8", true },
	/* proto icmp is IPv4 only, icmpv6 IPv6 only. */
	{ "proto: icmp", "proto: icmp, src: 10.0.0.0/8", true },
	{ "proto: icmpv6", "proto: icmpv6, src: \"2001:db8::/32\"", true },
	{ "src: \"::/0\"", "proto: icmpv6", true },
	{ "src: 0.0.0.0/0", "proto: icmpv6", false },

	/* Protocol. */
	{ "proto: tcp", "proto: tcp, dport: 80", true },
	{ "proto: tcp", "proto: udp", false },
	{ "proto: tcp", "", false },
	{ "proto: 47", "proto: gre", true },

	/* Port ranges contain. */
	{ "proto: tcp, dport: 1-1024", "proto: tcp, dport: 80", true },
	{ "proto: tcp, dport: 80-90", "proto: tcp, dport: 80-90", true },
	{ "proto: tcp, dport: 80-90", "proto: tcp, dport: 90", true },
	{ "proto: tcp, dport: 80-90", "proto: tcp, dport: 80", true },
	{ "proto: tcp, dport: 80", "proto: tcp, dport: 1-1024", false },
	{ "proto: tcp, dport: 80-90", "proto: tcp, dport: 85-95", false },
	{ "proto: tcp, dport: 80-90", "proto: tcp, dport: 75-85", false },
	{ "proto: tcp, dport: 80-90", "proto: tcp, dport: 91", false },
	{ "proto: tcp, dport: 80", "proto: tcp", false },
	{ "proto: tcp, dport: 0-65535", "proto: tcp", true },
	{ "proto: tcp, dport: 80", "proto: tcp, sport: 80", false },
	{ "proto: udp, sport: 1024-65535", "proto: udp, sport: 5353, dport: 53", true },
	{ "proto: udp, sport: 1025-65535", "proto: udp, sport: 1024-2000", false },

	/* in_port: equal, or absent in the earlier rule. */
	{ "in_port: wan0", "in_port: wan0, proto: tcp", true },
	{ "in_port: wan0", "in_port: lan0", false },
	{ "in_port: wan0", "", false },
	{ "", "in_port: wan0", true },

	/* vlan: equal, or absent in the earlier rule; 0 is a VLAN id. */
	{ "vlan: 10", "vlan: 10, proto: udp", true },
	{ "vlan: 10", "vlan: 11", false },
	{ "vlan: 10", "", false },
	{ "vlan: 0", "", false },
	{ "", "vlan: 0", true },

	/* tcp_flags: the earlier condition follows from the later one. */
	{ "proto: tcp, tcp_flags: syn", "proto: tcp, tcp_flags: \"syn/syn,ack\"", true },
	{ "proto: tcp, tcp_flags: \"syn/syn,ack\"", "proto: tcp, tcp_flags: \"syn/syn,ack,rst\"", true },
	{ "proto: tcp, tcp_flags: /rst", "proto: tcp, tcp_flags: \"syn/syn,rst\"", true },
	{ "proto: tcp, tcp_flags: \"syn/syn,ack\"", "proto: tcp, tcp_flags: syn", false },
	{ "proto: tcp, tcp_flags: syn", "proto: tcp, tcp_flags: /syn", false },
	{ "proto: tcp, tcp_flags: \"syn/syn,ack\"", "proto: tcp, tcp_flags: \"syn,ack/syn,ack\"", false },
	{ "proto: tcp, tcp_flags: /rst", "proto: tcp, tcp_flags: rst", false },
	{ "proto: tcp, tcp_flags: syn", "proto: tcp", false },
	{ "proto: tcp", "proto: tcp, tcp_flags: syn", true },

	/* ct: the earlier set holds the later one; absent is all. */
	{ "ct: [established, related]", "ct: established", true },
	{ "ct: [established, related]", "ct: [related, established]", true },
	{ "ct: established", "ct: [established, related]", false },
	{ "ct: established", "ct: new", false },
	{ "ct: new", "", false },
	{ "", "ct: invalid", true },
	{ "ct: [new, established, related, invalid]", "", true },

	/* payload: none, or exactly the same pattern. */
	{ "proto: tcp", "proto: tcp, payload: {literal: GET}", true },
	{ "payload: {literal: GET}", "proto: tcp, payload: {literal: GET}", true },
	{ "payload: {literal: GET}", "payload: {literal: GET, flags: [caseless]}", false },
	{ "payload: {literal: GET, flags: [caseless]}", "payload: {literal: GET}", false },
	{ "payload: {literal: GET}", "payload: {regex: GET}", false },
	{ "payload: {literal: GET}", "payload: {literal: POST}", false },
	{ "payload: {literal: GET}", "", false },
	/* Conservative: "GET" is in every payload that has "GET /", but
	 * patterns are compared, not understood. */
	{ "payload: {literal: GET}", "payload: {literal: GET /}", false },

	/* All fields at once. */
	{ "src: 10.0.0.0/8, proto: tcp, dport: 1-1024, in_port: wan0, ct: [new, established]",
	  "src: 10.1.0.0/16, dst: 192.0.2.1, proto: tcp, sport: 5000, dport: 443, in_port: wan0, vlan: 3, tcp_flags: syn, ct: new, payload: {literal: x}",
	  true },
	{ "src: 10.0.0.0/8, proto: tcp, dport: 1-1024, in_port: wan0, ct: [new, established]",
	  "src: 10.1.0.0/16, dst: 192.0.2.1, proto: tcp, sport: 5000, dport: 443, in_port: wan0, vlan: 3, tcp_flags: syn, ct: related, payload: {literal: x}",
	  false },
};

static struct sl_policy *
pair_policy(const char *earlier, const char *later)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "ports: [{name: wan0, dpdk_port: 0}, {name: lan0, dpdk_port: 1}]\n"
		 "rules:\n"
		 "  - {id: i, %s%saction: accept}\n"
		 "  - {id: j, %s%saction: drop}\n",
		 earlier, *earlier ? ", " : "", later, *later ? ", " : "");
	return load_yaml(text);
}

static void
test_shadowing_field_by_field(void **state)
{
	uint64_t seed = 0x5eed0001;

	(void)state;
	for (size_t c = 0; c < sizeof(shadow_cases) / sizeof(shadow_cases[0]);
	     c++) {
		const struct shadow_case *sc = &shadow_cases[c];
		struct sl_policy *p = pair_policy(sc->earlier, sc->later);
		json_t *d = diff_of(NULL, p);
		size_t by[2];
		bool got;

		got = list_size(d, "rules", "shadowed") == 1;
		if (got != sc->shadowed)
			fail_msg("{%s} then {%s}: shadowed %d, expected %d",
				 sc->earlier, sc->later, got, sc->shadowed);
		if (got)
			assert_list(d, "rules", "shadowed",
				    "[{\"rule\":\"j\",\"by\":\"i\"}]");
		assert_int_equal(sl_policy_shadowed(p, by), 0);
		assert_true(by[0] == SL_RULE_NONE);
		assert_true(got ? by[1] == 0 : by[1] == SL_RULE_NONE);
		if (got && counterexamples(p, 0, 1, &seed, 256) != 0)
			fail_msg("{%s} then {%s}: a packet matches j, not i",
				 sc->earlier, sc->later);
		json_decref(d);
		sl_policy_free(p);
	}
}

static void
test_a_rule_is_reported_once_with_its_first_shadow(void **state)
{
	struct sl_policy *p = load_yaml(
		"rules:\n"
		"  - {id: a, src: 10.0.0.0/8, action: accept}\n"
		"  - {id: b, action: drop}\n"
		"  - {id: c, src: 10.1.0.0/16, action: drop}\n"
		/* The protocol bucket and the protocol-less one interleave:
		 * the earliest rule of either wins. */
		"  - {id: d, proto: tcp, dport: 80, action: accept}\n"
		"  - {id: e, proto: tcp, dport: 80, src: 10.1.0.0/16, action: drop}\n"
		"  - {id: f, proto: udp, dport: 53, action: accept}\n"
		"  - {id: g, proto: udp, dport: 53, action: drop}\n");
	json_t *d = diff_of(NULL, p);

	(void)state;
	assert_list(d, "rules", "shadowed",
		    "[{\"rule\":\"c\",\"by\":\"a\"},{\"rule\":\"d\",\"by\":\"b\"},"
		    "{\"rule\":\"e\",\"by\":\"a\"},{\"rule\":\"f\",\"by\":\"b\"},"
		    "{\"rule\":\"g\",\"by\":\"b\"}]");
	json_decref(d);
	sl_policy_free(p);

	p = load_yaml(
		"rules:\n"
		"  - {id: t, proto: tcp, src: 10.0.0.0/8, action: accept}\n"
		"  - {id: any, src: 10.0.0.0/8, action: drop}\n"
		"  - {id: x, proto: tcp, src: 10.1.0.0/16, action: drop}\n"
		"  - {id: y, proto: udp, src: 10.1.0.0/16, action: drop}\n");
	d = diff_of(NULL, p);
	assert_list(d, "rules", "shadowed",
		    "[{\"rule\":\"x\",\"by\":\"t\"},{\"rule\":\"y\",\"by\":\"any\"}]");
	json_decref(d);
	sl_policy_free(p);
}

/* ------------------------------------------------------------------------
 * Shadowing, random pairs against the reference matcher
 */

static void
set_prefix(struct sl_prefix *p, const char *text)
{
	char addr[64];
	const char *slash = strchr(text, '/');

	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - text), text);
	memset(p, 0, sizeof(*p));
	p->family = strchr(addr, ':') ? 6 : 4;
	p->len = (uint8_t)atoi(slash + 1);
	assert_int_equal(inet_pton(p->family == 4 ? AF_INET : AF_INET6, addr,
				   p->addr), 1);
}

static const char *const v4_prefixes[] = {
	"0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9",
	"10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "11.0.0.0/8",
};
static const char *const v6_prefixes[] = {
	"::/0", "a00::/8", "2001:db8::/32", "2001:db8:1::/48",
	"2001:db8:1::1/128",
};
static const struct sl_port_range port_ranges[] = {
	{ 80, 80 }, { 80, 90 }, { 85, 95 }, { 90, 90 }, { 0, 1023 },
	{ 0, 65535 }, { 1024, 65535 },
};
static const struct sl_payload payloads[] = {
	{ SL_PAYLOAD_LITERAL, 0, (char *)"abc" },
	{ SL_PAYLOAD_LITERAL, SL_PAYLOAD_CASELESS, (char *)"abc" },
	{ SL_PAYLOAD_REGEX, 0, (char *)"abc" },
};

#define PICK(s, a) (a)[rnd_below((s), sizeof(a) / sizeof((a)[0]))]

/* A valid random match; each field is set with probability pct/100. */
static void
random_match(uint64_t *s, unsigned int pct, struct sl_match *m)
{
	unsigned int fam = rnd_below(s, 3);	/* 0: none, 1: v4, 2: v6 */
	uint8_t proto_choice;

	memset(m, 0, sizeof(*m));
#define MAYBE() (rnd_below(s, 100) < pct)
	if (fam != 0 && MAYBE()) {
		m->fields |= SL_MATCH_SRC;
		set_prefix(&m->src, fam == 1 ? PICK(s, v4_prefixes)
					     : PICK(s, v6_prefixes));
	}
	if (fam != 0 && MAYBE()) {
		m->fields |= SL_MATCH_DST;
		set_prefix(&m->dst, fam == 1 ? PICK(s, v4_prefixes)
					     : PICK(s, v6_prefixes));
	}
	/* icmp only where IPv4 is possible, icmpv6 where IPv6 is. */
	proto_choice = (uint8_t[]){ 6, 6, 17, 1, 58 }[rnd_below(s, 5)];
	if (MAYBE() && !(proto_choice == 1 && fam == 2) &&
	    !(proto_choice == 58 && fam == 1)) {
		m->fields |= SL_MATCH_PROTO;
		m->proto = proto_choice;
	}
	if ((m->fields & SL_MATCH_PROTO) && (m->proto == 6 || m->proto == 17)) {
		if (MAYBE()) {
			m->fields |= SL_MATCH_SPORT;
			m->sport = PICK(s, port_ranges);
		}
		if (MAYBE()) {
			m->fields |= SL_MATCH_DPORT;
			m->dport = PICK(s, port_ranges);
		}
	}
	if ((m->fields & SL_MATCH_PROTO) && m->proto == 6 && MAYBE()) {
		uint8_t bits = SL_TCP_FIN | SL_TCP_SYN | SL_TCP_RST | SL_TCP_ACK;

		m->fields |= SL_MATCH_TCP_FLAGS;
		m->tcp_flags_mask = (uint8_t)(rnd(s) & bits);
		if (m->tcp_flags_mask == 0)
			m->tcp_flags_mask = SL_TCP_SYN;
		m->tcp_flags = (uint8_t)(rnd(s) & m->tcp_flags_mask);
	}
	if (MAYBE()) {
		m->fields |= SL_MATCH_CT;
		m->ct = (uint8_t)(1 + rnd_below(s, SL_CT_ALL));
	}
	if (MAYBE()) {
		m->fields |= SL_MATCH_IN_PORT;
		m->in_port = strdup(rnd_below(s, 2) ? "wan0" : "lan0");
	}
	if (MAYBE()) {
		m->fields |= SL_MATCH_VLAN;
		m->vlan = (uint16_t[]){ 0, 10, 11 }[rnd_below(s, 3)];
	}
	if (MAYBE()) {
		m->fields |= SL_MATCH_PAYLOAD;
		m->payload = PICK(s, payloads);
		m->payload.pattern = strdup(m->payload.pattern);
	}
#undef MAYBE
}

/* A policy with ports wan0 (index 0) and lan0 and n rules without match. */
static struct sl_policy *
policy_in_code(size_t n_rules)
{
	struct sl_policy *p = sl_policy_new();

	assert_non_null(p);
	p->ports = calloc(2, sizeof(*p->ports));
	p->n_ports = 2;
	p->ports[0].name = strdup("wan0");
	p->ports[1].name = strdup("lan0");
	for (uint16_t i = 0; i < 2; i++) {
		p->ports[i].has_dpdk_port = true;
		p->ports[i].dpdk_port = i;
	}
	p->rules = calloc(n_rules ? n_rules : 1, sizeof(*p->rules));
	p->n_rules = n_rules;
	return p;
}

static void
assert_valid(const struct sl_policy *p)
{
	struct sl_policy_errors errs;

	if (sl_policy_validate(p, &errs) != 0) {
		sl_policy_errors_print(stderr, "model", &errs);
		fail();
	}
}

static void
test_random_shadowing_claims_hold_on_random_packets(void **state)
{
	enum { PAIRS = 20000, TRIES = 64 };
	uint64_t seed = 0x51c3d1ffull, s = seed;
	unsigned int claimed = 0;

	(void)state;
	for (unsigned int n = 0; n < PAIRS; n++) {
		struct sl_policy *p = policy_in_code(2);
		json_t *d;

		/* The earlier rule sparser than the later one, so that
		 * shadowing happens often enough to test. */
		random_match(&s, 25, &p->rules[0].match);
		random_match(&s, 60, &p->rules[1].match);
		p->rules[0].id = strdup("i");
		p->rules[1].id = strdup("j");
		p->rules[0].action.type = SL_ACTION_ACCEPT;
		p->rules[1].action.type = SL_ACTION_DROP;
		assert_valid(p);
		d = diff_of(NULL, p);
		if (list_size(d, "rules", "shadowed") == 1) {
			claimed++;
			if (counterexamples(p, 0, 1, &s, TRIES) != 0) {
				char *text = sl_policy_to_json(p, 0);

				fprintf(stderr, "seed %#llx pair %u:\n%s\n",
					(unsigned long long)seed, n, text);
				free(text);
				fail_msg("shadowed, but a packet matches j, not i");
			}
		}
		json_decref(d);
		sl_policy_free(p);
	}
	printf("random pairs: %u of %u said shadowed, none refuted by %u packets each\n",
	       claimed, PAIRS, TRIES);
	/* Enough positives for the check to mean something. */
	assert_true(claimed > PAIRS / 50);
}

/* ------------------------------------------------------------------------
 * Size: 10k rules, 1M routes
 */

/* Rule number k: TCP from its own /24 to its own port, never shadowed. */
static void
set_rule(struct sl_rule *r, unsigned int k, uint8_t action)
{
	char id[32];

	snprintf(id, sizeof(id), "r%u", k);
	r->id = strdup(id);
	r->match.fields = SL_MATCH_SRC | SL_MATCH_PROTO | SL_MATCH_DPORT;
	r->match.src.family = 4;
	r->match.src.len = 24;
	r->match.src.addr[0] = 10;
	r->match.src.addr[1] = (uint8_t)(k >> 8);
	r->match.src.addr[2] = (uint8_t)k;
	r->match.proto = 6;
	r->match.dport.lo = r->match.dport.hi = (uint16_t)(1 + k % 60000);
	r->action.type = action;
}

static void
test_ten_thousand_rules_diff_fast(void **state)
{
	enum { N = 10000, BLOCK = 100 };
	struct sl_policy *o = policy_in_code(N), *n = policy_in_code(N + 100);
	size_t m = 0, removed = 0, changed = 0, *by;
	double t0, ms;
	json_t *d;

	(void)state;
	for (unsigned int k = 0; k < N; k++)
		set_rule(&o->rules[k], k, SL_ACTION_ACCEPT);
	/* The last block first, then the rest less every 100th rule, with
	 * every 100th (offset 2) changed, then 100 new rules. */
	for (unsigned int k = N - BLOCK; k < N; k++)
		set_rule(&n->rules[m++], k, SL_ACTION_ACCEPT);
	for (unsigned int k = 0; k < N - BLOCK; k++) {
		if (k % 100 == 1) {
			removed++;
			continue;
		}
		changed += k % 100 == 2;
		set_rule(&n->rules[m++], k,
			 k % 100 == 2 ? SL_ACTION_DROP : SL_ACTION_ACCEPT);
	}
	for (unsigned int k = N; k < N + 100; k++)
		set_rule(&n->rules[m++], k, SL_ACTION_ACCEPT);
	n->n_rules = m;
	assert_valid(o);
	assert_valid(n);

	t0 = now_ms();
	d = diff_of(o, n);
	ms = now_ms() - t0;
	printf("10k rules: diff (1%% added, removed, changed, a block moved, "
	       "no rule shadowed: 5e7 pairs) %.1f ms\n", ms);
	assert_int_equal(list_size(d, "rules", "added"), 100);
	assert_int_equal(list_size(d, "rules", "removed"), removed);
	assert_int_equal(list_size(d, "rules", "changed"), changed);
	assert_int_equal(list_size(d, "rules", "moved"), BLOCK);
	assert_int_equal(list_size(d, "rules", "shadowed"), 0);
	assert_true(ms < 10000);
	json_decref(d);
	by = malloc(n->n_rules * sizeof(*by));
	t0 = now_ms();
	assert_int_equal(sl_policy_shadowed(n, by), 0);
	printf("10k rules: of which the shadow check %.1f ms\n",
	       now_ms() - t0);
	free(by);

	/* Worst cases of the shadow check: every pair visited, and each
	 * pair passes the port and protocol tests first. */
	for (unsigned int k = 0; k < N; k++) {
		o->rules[k].match.fields = SL_MATCH_SRC;
		o->rules[k].match.src.len = 32;
		o->rules[k].match.src.addr[3] = 1;
	}
	t0 = now_ms();
	d = diff_of(NULL, o);
	ms = now_ms() - t0;
	printf("10k rules: distinct hosts without a protocol, diff against "
	       "nothing %.1f ms\n", ms);
	assert_int_equal(list_size(d, "rules", "shadowed"), 0);
	assert_true(ms < 10000);
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
}

/* Route number k: 1.0.0.0/24 onwards, by a gateway of its own. */
static void
set_route(struct sl_route *r, unsigned int k, uint8_t gw)
{
	uint32_t net = (0x01000000u + (k << 8));

	r->prefix.family = 4;
	r->prefix.len = 24;
	r->prefix.addr[0] = (uint8_t)(net >> 24);
	r->prefix.addr[1] = (uint8_t)(net >> 16);
	r->prefix.addr[2] = (uint8_t)(net >> 8);
	r->nexthops = calloc(1, sizeof(*r->nexthops));
	r->n_nexthops = 1;
	r->nexthops[0].gateway.family = 4;
	r->nexthops[0].gateway.len = 32;
	r->nexthops[0].gateway.addr[0] = 192;
	r->nexthops[0].gateway.addr[2] = 2;
	r->nexthops[0].gateway.addr[3] = gw;
	r->nexthops[0].port = strdup("wan0");
	r->nexthops[0].weight = 1;
}

static void
test_a_million_routes_diff_fast(void **state)
{
	enum { N = 1000000 };
	struct sl_policy *o = policy_in_code(0), *n = policy_in_code(0);
	size_t m = 0, removed = 0, changed = 0;
	double t0, ms;
	json_t *d;

	(void)state;
	o->routes = calloc(N, sizeof(*o->routes));
	n->routes = calloc(N + N / 100, sizeof(*n->routes));
	for (unsigned int k = 0; k < N; k++)
		set_route(&o->routes[k], k, 1);
	o->n_routes = N;
	for (unsigned int k = 0; k < N; k++) {
		if (k % 100 == 5) {
			removed++;
			continue;
		}
		changed += k % 100 == 3;
		set_route(&n->routes[m++], k, k % 100 == 3 ? 2 : 1);
	}
	for (unsigned int k = N; k < N + N / 100; k++)
		set_route(&n->routes[m++], k, 1);
	n->n_routes = m;

	t0 = now_ms();
	d = diff_of(o, n);
	ms = now_ms() - t0;
	printf("1M routes: diff (1%% added, removed, changed) %.1f ms\n", ms);
	assert_int_equal(list_size(d, "routes", "added"), N / 100);
	assert_int_equal(list_size(d, "routes", "removed"), removed);
	assert_int_equal(list_size(d, "routes", "changed"), changed);
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(json_object_get(d, "routes"), "changed"), 0)),
		"1.0.3.0/24");
	assert_true(ms < 20000);
	json_decref(d);

	t0 = now_ms();
	d = diff_of(NULL, o);
	ms = now_ms() - t0;
	printf("1M routes: diff against nothing (1M added) %.1f ms\n", ms);
	assert_int_equal(list_size(d, "routes", "added"), N);
	assert_true(ms < 20000);
	json_decref(d);
	sl_policy_free(o);
	sl_policy_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical_policies_give_an_empty_diff),
		cmocka_unit_test(test_no_old_policy_diffs_against_the_empty_one),
		cmocka_unit_test(test_rules_are_added_removed_and_changed_by_id),
		cmocka_unit_test(test_moved_names_the_fewest_rules_that_left_the_old_order),
		cmocka_unit_test(test_routes_are_keyed_by_prefix),
		cmocka_unit_test(test_groups_and_ports_are_keyed_by_name),
		cmocka_unit_test(test_default_and_settings_changes_are_flagged),
		cmocka_unit_test(test_shadowing_field_by_field),
		cmocka_unit_test(test_a_rule_is_reported_once_with_its_first_shadow),
		cmocka_unit_test(test_random_shadowing_claims_hold_on_random_packets),
		cmocka_unit_test(test_ten_thousand_rules_diff_fast),
		cmocka_unit_test(test_a_million_routes_diff_fast),
	};

	return cmocka_run_group_tests_name("policy_diff", tests, NULL, NULL);
}
