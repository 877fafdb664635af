/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The firewall stage against a plain first-match evaluator written here
 * from the policy model alone: random policies (loaded from JSON text, so
 * the codec is in the loop), random packets, every verdict compared.
 * Payload regexes are checked with POSIX regex, literals with memmem.
 * (The nftables differential test in tests/system is the external oracle;
 * this one pins the ACL encoding, priorities, ct expansion and the payload
 * candidate logic on many more cases.)
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fw.h"
#include "test_eal.h"

#define N_POLICIES 60
#define N_PACKETS 3000

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static uint32_t
pick(uint32_t n)
{
	return rnd() % n;
}

/* A packet as the stage sees it, plus what the oracle needs. */
struct test_pkt {
	struct sl_pkt_meta m;
	uint8_t data[128];
	uint8_t ct;
	uint16_t in_port;
	uint8_t src[16], dst[16];
};

static const char *const payloads[] = {
	"GET /admin HTTP/1.1", "get /ADMIN", "hello world", "xyzzy magic",
	"POST /login", "nothing to see", "ELF binary", "abbbc",
};
static const char *const literals[] = { "admin", "magic", "ELF", "world",
					 "zz" };
static const char *const regexes[] = { "^GET /[a-z]+", "ab+c", "m[a-z]g",
					"(login|admin)$", "^POST" };

static void
rand_addr(int family, uint8_t *a)
{
	memset(a, 0, 16);
	if (family == 4) {
		a[0] = 10;
		a[1] = (uint8_t)pick(4);
		a[2] = (uint8_t)pick(4);
		a[3] = (uint8_t)pick(256);
	} else {
		a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8;
		a[5] = (uint8_t)pick(4);
		a[7] = (uint8_t)pick(4);
		a[15] = (uint8_t)pick(256);
	}
}

static void
make_packet(struct test_pkt *p)
{
	static const uint8_t protos[] = { 6, 17, 1, 58, 132, 47 };
	int family = pick(2) ? 4 : 6;
	uint8_t proto = protos[pick(6)];
	const char *pl = payloads[pick(8)];
	size_t pl_len = strlen(pl);

	if (family == 4 && proto == 58)
		proto = 1;
	if (family == 6 && proto == 1)
		proto = 58;
	memset(p, 0, sizeof(*p));
	rand_addr(family, p->src);
	rand_addr(family, p->dst);
	p->m.l3 = family == 4 ? SL_L3_IPV4 : SL_L3_IPV6;
	p->m.l4_proto = proto;
	if (proto == 6 || proto == 17 || proto == 132) {
		p->m.sport = (uint16_t)pick(1200);
		p->m.dport = (uint16_t)pick(1200);
	}
	if (proto == 6)
		p->m.tcp_flags = (uint8_t)pick(256);
	if (pick(4) == 0) {
		p->m.vlan_count = 1;
		p->m.vlan_outer = (uint16_t)(100 + pick(3));
	}
	p->m.key_swapped = sl_flow_key_make(&p->m.key, (uint8_t)family, proto,
					    p->src, p->dst,
					    family == 4 ? 4 : 16, p->m.sport,
					    p->m.dport);
	p->m.l4_off = 40;
	p->m.payload_off = 60;
	memcpy(p->data + 60, pl, pl_len);
	p->m.l3_end = (uint16_t)(60 + pl_len);
	p->m.pkt_len = p->m.l3_end;
	p->ct = (uint8_t)(1u << pick(4));
	p->in_port = (uint16_t)pick(2);
}

/* ---- the oracle: first match over the model, field by field ---- */

static int
prefix_ok(const struct sl_prefix *r, int family, const uint8_t *a)
{
	if (r->family == SL_FAMILY_NONE)
		return 1;
	if (r->family != family)
		return 0;
	for (unsigned int bit = 0; bit < r->len; bit++) {
		uint8_t m = (uint8_t)(0x80 >> (bit % 8));

		if ((a[bit / 8] & m) != (r->addr[bit / 8] & m))
			return 0;
	}
	return 1;
}

static int
payload_ok(const struct sl_payload *pl, const struct test_pkt *p)
{
	char text[128];
	size_t len = p->m.l3_end - p->m.payload_off;

	memcpy(text, p->data + p->m.payload_off, len);
	text[len] = '\0';
	if (pl->kind == SL_PAYLOAD_LITERAL) {
		if (!(pl->flags & SL_PAYLOAD_CASELESS))
			return strstr(text, pl->pattern) != NULL;
		for (size_t i = 0; i + strlen(pl->pattern) <= len; i++)
			if (strncasecmp(text + i, pl->pattern,
					strlen(pl->pattern)) == 0)
				return 1;
		return 0;
	}
	regex_t re;
	int cflags = REG_EXTENDED | REG_NOSUB |
		     ((pl->flags & SL_PAYLOAD_CASELESS) ? REG_ICASE : 0);
	int ok;

	assert_int_equal(regcomp(&re, pl->pattern, cflags), 0);
	ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static uint32_t
oracle(const struct sl_policy *pol, const struct test_pkt *p)
{
	int family = p->m.key.family;

	for (uint32_t i = 0; i < pol->n_rules; i++) {
		const struct sl_match *r = &pol->rules[i].match;

		if ((r->fields & SL_MATCH_SRC) && !prefix_ok(&r->src, family, p->src))
			continue;
		if ((r->fields & SL_MATCH_DST) && !prefix_ok(&r->dst, family, p->dst))
			continue;
		if ((r->fields & SL_MATCH_PROTO) && r->proto != p->m.l4_proto)
			continue;
		if ((r->fields & SL_MATCH_SPORT) &&
		    (p->m.sport < r->sport.lo || p->m.sport > r->sport.hi))
			continue;
		if ((r->fields & SL_MATCH_DPORT) &&
		    (p->m.dport < r->dport.lo || p->m.dport > r->dport.hi))
			continue;
		if ((r->fields & SL_MATCH_IN_PORT) &&
		    sl_policy_find_port(pol, r->in_port) != p->in_port)
			continue;
		if ((r->fields & SL_MATCH_VLAN) &&
		    (p->m.vlan_count == 0 || p->m.vlan_outer != r->vlan))
			continue;
		if ((r->fields & SL_MATCH_TCP_FLAGS) &&
		    (p->m.tcp_flags & r->tcp_flags_mask) !=
			    (r->tcp_flags & r->tcp_flags_mask))
			continue;
		if ((r->fields & SL_MATCH_CT) && !(r->ct & p->ct))
			continue;
		if ((r->fields & SL_MATCH_PAYLOAD) && !payload_ok(&r->payload, p))
			continue;
		return i;
	}
	return (uint32_t)pol->n_rules;
}

/* ---- random policies as JSON text ---- */

static void
rand_prefix_text(int family, char *out, size_t size)
{
	uint8_t a[16];
	int len = family == 4 ? 8 + (int)pick(25) : 32 + (int)pick(97);

	rand_addr(family, a);
	for (int bit = len; bit < (family == 4 ? 32 : 128); bit++)
		a[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	char text[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, text, sizeof(text));
	snprintf(out, size, "\"%s/%d\"", text, len);
}

static void
rand_range_text(char *out, size_t size)
{
	uint32_t lo = pick(1200), hi = lo + pick(300);

	if (pick(2))
		snprintf(out, size, "%u", lo);
	else
		snprintf(out, size, "\"%u-%u\"", lo, hi);
}

static char *
rand_policy_json(unsigned int n_rules)
{
	static const char *const ct_names[] = { "new", "established",
						"related", "invalid" };
	size_t cap = 4096 + n_rules * 512, len = 0;
	char *j = malloc(cap);

	len += (size_t)snprintf(j + len, cap - len,
		"{\"version\": 1, \"ports\": ["
		"{\"name\": \"p0\", \"dpdk_port\": 0, \"mode\": \"xconnect\", \"peer\": \"p1\"},"
		"{\"name\": \"p1\", \"dpdk_port\": 1, \"mode\": \"xconnect\", \"peer\": \"p0\"}],"
		" \"default\": \"%s\", \"rules\": [", pick(2) ? "accept" : "drop");
	for (unsigned int i = 0; i < n_rules; i++) {
		int family = pick(2) ? 4 : 6;
		char buf[96];
		uint32_t kind = pick(5);
		const char *proto = kind == 0 ? "tcp" : kind == 1 ? "udp"
				  : kind == 2 ? (family == 4 ? "icmp" : "icmpv6")
				  : kind == 3 ? "sctp" : NULL;

		len += (size_t)snprintf(j + len, cap - len,
					"%s{\"id\": \"r%u\", \"action\": \"%s\"",
					i ? "," : "", i, pick(2) ? "accept" : "drop");
		if (pick(2)) {
			rand_prefix_text(family, buf, sizeof(buf));
			len += (size_t)snprintf(j + len, cap - len, ", \"src\": %s", buf);
		}
		if (pick(2)) {
			rand_prefix_text(family, buf, sizeof(buf));
			len += (size_t)snprintf(j + len, cap - len, ", \"dst\": %s", buf);
		}
		if (proto != NULL)
			len += (size_t)snprintf(j + len, cap - len, ", \"proto\": \"%s\"", proto);
		if (proto != NULL && kind != 2 && pick(2)) {
			rand_range_text(buf, sizeof(buf));
			len += (size_t)snprintf(j + len, cap - len, ", \"dport\": %s", buf);
		}
		if (proto != NULL && kind != 2 && pick(3) == 0) {
			rand_range_text(buf, sizeof(buf));
			len += (size_t)snprintf(j + len, cap - len, ", \"sport\": %s", buf);
		}
		if (kind == 0 && pick(3) == 0)
			len += (size_t)snprintf(j + len, cap - len,
				", \"tcp_flags\": {\"flags\": [%s], \"mask\": [\"syn\", \"ack\"]}",
				pick(2) ? "\"syn\"" : "\"ack\"");
		if (pick(6) == 0)
			len += (size_t)snprintf(j + len, cap - len, ", \"vlan\": %u", 100 + pick(3));
		if (pick(6) == 0)
			len += (size_t)snprintf(j + len, cap - len, ", \"in_port\": \"p%u\"", pick(2));
		if (pick(4) == 0) {
			uint32_t a = pick(4), b = (a + 1 + pick(3)) % 4;

			len += (size_t)snprintf(j + len, cap - len, ", \"ct\": [\"%s\", \"%s\"]",
						ct_names[a], ct_names[b]);
		}
		if (pick(6) == 0) {
			if (pick(2))
				len += (size_t)snprintf(j + len, cap - len,
					", \"payload\": {\"literal\": \"%s\"%s}",
					literals[pick(5)],
					pick(2) ? ", \"flags\": [\"caseless\"]" : "");
			else
				len += (size_t)snprintf(j + len, cap - len,
					", \"payload\": {\"regex\": \"%s\"%s}",
					regexes[pick(5)],
					pick(2) ? ", \"flags\": [\"caseless\"]" : "");
		}
		len += (size_t)snprintf(j + len, cap - len, "}");
	}
	snprintf(j + len, cap - len, "]}");
	return j;
}

static void
run_policy(const char *json, unsigned int seed_note)
{
	static const uint16_t port_of[2] = { 0, 1 };
	struct sl_policy_errors errs;
	struct sl_policy *pol = NULL;
	char err[256];
	struct fw_gen *g;
	struct test_pkt *pk = calloc(N_PACKETS, sizeof(*pk));

	if (sl_policy_from_json_str(json, &pol, &errs) != 0) {
		sl_policy_errors_print(stderr, "generated", &errs);
		fprintf(stderr, "%s\n", json);
		fail_msg("generated policy %u refused", seed_note);
	}
	g = fw_build(pol, port_of, 1, 1, err, sizeof(err));
	if (g == NULL)
		fail_msg("fw_build: %s", err);

	for (unsigned int i = 0; i < N_PACKETS; i++)
		make_packet(&pk[i]);
	for (unsigned int base = 0; base < N_PACKETS; base += 64) {
		const struct sl_pkt_meta *meta[64];
		const uint8_t *data[64];
		uint8_t ct[64];
		uint16_t in[64];
		struct fw_verdict v[64];
		uint16_t n = (uint16_t)(N_PACKETS - base < 64 ? N_PACKETS - base : 64);

		for (uint16_t i = 0; i < n; i++) {
			meta[i] = &pk[base + i].m;
			data[i] = pk[base + i].data;
			ct[i] = pk[base + i].ct;
			in[i] = pk[base + i].in_port;
		}
		fw_classify_burst(g, 0, meta, data, ct, in, n, v);
		for (uint16_t i = 0; i < n; i++) {
			uint32_t want = oracle(pol, &pk[base + i]);

			if (v[i].rule != want) {
				fprintf(stderr, "policy %u packet %u: stage says "
					"rule %u, oracle %u\n%s\n", seed_note,
					base + i, v[i].rule, want, json);
				fail();
			}
			assert_int_equal(v[i].action, want < pol->n_rules
				? pol->rules[want].action.type
				: pol->default_action.type);
		}
	}
	/* every packet was counted exactly once */
	uint64_t total = 0;
	for (uint32_t r = 0; r <= g->n_rules; r++)
		total += fw_rule_total(g, r).packets;
	assert_int_equal(total, N_PACKETS);

	fw_free(g);
	sl_policy_free(pol);
	free(pk);
}

static void
test_random_policies_agree_with_first_match_oracle(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < N_POLICIES; i++) {
		char *json = rand_policy_json(1 + pick(200));

		run_policy(json, i);
		free(json);
	}
}

static void
test_payload_rule_falls_through_to_the_next_rule_when_pattern_misses(void **state)
{
	const char *json =
		"{\"version\": 1, \"default\": \"drop\", \"rules\": ["
		"{\"id\": \"p\", \"proto\": \"tcp\", \"payload\": {\"literal\": \"admin\"}, \"action\": \"drop\"},"
		"{\"id\": \"a\", \"proto\": \"tcp\", \"action\": \"accept\"}]}";
	struct sl_policy *pol;
	struct fw_gen *g;
	struct test_pkt p;
	const struct sl_pkt_meta *meta[1] = { &p.m };
	const uint8_t *data[1] = { p.data };
	uint16_t in[1] = { 0 };
	struct fw_verdict v;
	char err[256];

	(void)state;
	assert_int_equal(sl_policy_from_json_str(json, &pol, NULL), 0);
	g = fw_build(pol, NULL, 1, 7, err, sizeof(err));
	assert_non_null(g);
	do
		make_packet(&p);
	while (p.m.l4_proto != 6);
	/* "hello world" has no "admin": rule a decides */
	memcpy(p.data + 60, "hello world", 11);
	p.m.l3_end = 71;
	fw_classify_burst(g, 0, meta, data, &p.ct, in, 1, &v);
	assert_int_equal(v.rule, 1);
	assert_int_equal(v.action, SL_ACTION_ACCEPT);
	/* with it, rule p does */
	memcpy(p.data + 60, "GET /admin ", 11);
	fw_classify_burst(g, 0, meta, data, &p.ct, in, 1, &v);
	assert_int_equal(v.rule, 0);
	assert_int_equal(v.action, SL_ACTION_DROP);
	assert_int_equal(fw_rule_total(g, 0).packets, 1);
	assert_int_equal(fw_rule_total(g, 1).packets, 1);
	fw_free(g);
	sl_policy_free(pol);
}

static void
test_bad_regex_is_refused_naming_the_rule(void **state)
{
	/* Hyperscan refuses back-references; the codec cannot know that. */
	const char *json =
		"{\"version\": 1, \"default\": \"accept\", \"rules\": ["
		"{\"proto\": \"tcp\", \"action\": \"accept\"},"
		"{\"proto\": \"tcp\", \"payload\": {\"regex\": \"(a)\\\\1\"}, \"action\": \"drop\"}]}";
	struct sl_policy *pol;
	char err[256] = "";

	(void)state;
	assert_int_equal(sl_policy_from_json_str(json, &pol, NULL), 0);
	assert_null(fw_build(pol, NULL, 1, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "rules[1].payload"));
	sl_policy_free(pol);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_policies_agree_with_first_match_oracle),
		cmocka_unit_test(test_payload_rule_falls_through_to_the_next_rule_when_pattern_misses),
		cmocka_unit_test(test_bad_regex_is_refused_naming_the_rule),
	};
	const char *seed = getenv("SL_TEST_SEED");

	(void)argc;
	rng_state = seed ? strtoull(seed, NULL, 0) : 0x5eed5eedULL;
	printf("# seed %#llx (SL_TEST_SEED to repeat)\n",
	       (unsigned long long)rng_state);
	if (test_eal_init(argv[0], "sl_test_fw", "512") < 0)
		return 1;
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	test_eal_cleanup();
	return ret;
}
