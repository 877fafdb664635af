/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every decoding and validation rule of the policy schema, one fixture each
 * (tests/unit/fixtures/policy/err_*): loading the fixture fails with exactly
 * one error, at the given path, line and column, with the given message.
 * Each fixture becomes its own cmocka test, named after the fixture.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sluice/policy.h"
#include "test_policy_fixture.h"

struct err_case {
	const char *file;
	const char *path;
	unsigned int line;
	unsigned int column;
	const char *message;
};

static const struct err_case cases[] = {
	{ "err_unknown_field.yaml", "rules[0].dprot", 3, 5,
	  "unknown field \"dprot\" (expected one of: id, comment, src, dst, proto, sport, dport, in_port, vlan, tcp_flags, ct, payload, action)" },
	{ "err_unknown_field.json", "rules[0].dprot", 2, 3,
	  "unknown field \"dprot\" (expected one of: id, comment, src, dst, proto, sport, dport, in_port, vlan, tcp_flags, ct, payload, action)" },
	{ "err_unknown_top_field.json", "rulez", 2, 2,
	  "unknown field \"rulez\" (expected one of: version, generation, settings, ports, rules, default, routes, groups)" },
	{ "err_field_twice.yaml", "rules[0].action", 4, 5,
	  "field \"action\" given twice" },
	{ "err_wrong_type.yaml", "rules[0].vlan", 3, 11,
	  "expected an integer, got a string" },
	{ "err_wrong_type.json", "rules[0].vlan", 1, 33,
	  "expected an integer, got a fractional number" },
	{ "err_list_expected.yaml", "rules", 2, 3,
	  "expected a list, got an object" },
	{ "err_root_not_object.json", "", 1, 1,
	  "expected an object, got a list" },
	{ "err_empty_document.yaml", "", 1, 1,
	  "the document is empty" },
	{ "err_null_value.yaml", "rules[0].src", 3, 9,
	  "expected a string, got null" },
	{ "err_nul_in_string.yaml", "rules[0].id", 2, 9,
	  "strings may not contain NUL characters" },
	{ "err_vlan_out_of_range.yaml", "rules[0].vlan", 3, 11,
	  "4096 is out of range 0-4095" },
	{ "err_port_not_a_port.yaml", "rules[0].dport", 4, 12,
	  "\"http\" is not a port or a port range (80, \"1024-65535\")" },
	{ "err_port_out_of_range.json", "rules[0].dport", 1, 50,
	  "65536 is out of range 0-65535" },
	{ "err_range_upside_down.yaml", "rules[0].dport", 4, 12,
	  "port range 90-80 is upside down (from must not exceed to)" },
	{ "err_range_upside_down.json", "rules[0].sport", 2, 12,
	  "port range 9-1 is upside down (from must not exceed to)" },
	{ "err_range_missing_to.yaml", "rules[0].dport", 4, 12,
	  "a port range needs both from and to" },
	{ "err_proto_unknown.yaml", "rules[0].proto", 3, 12,
	  "unknown protocol \"tpc\" (a name such as tcp, udp, sctp, icmp, icmpv6, gre, esp, ah, or a number 0-255)" },
	{ "err_proto_out_of_range.json", "rules[0].proto", 1, 34,
	  "256 is out of range 0-255" },
	{ "err_prefix_invalid.yaml", "rules[0].src", 3, 10,
	  "\"10.0.0.256/8\" is not an IPv4 or IPv6 address or prefix" },
	{ "err_prefix_length_out_of_range.json", "rules[0].dst", 1, 32,
	  "\"2001:db8::/129\": prefix length must be 0-128" },
	{ "err_prefix_host_bits.yaml", "rules[0].src", 3, 10,
	  "host bits set in 10.0.0.1/8 (the network is 10.0.0.0/8)" },
	{ "err_prefix_host_bits.json", "routes[0].prefix", 1, 24,
	  "host bits set in 2001:db8::1/64 (the network is 2001:db8::/64)" },
	{ "err_interface_address_needs_length.yaml", "ports[0].addresses[0]", 3, 17,
	  "\"192.0.2.1\": an interface address needs a prefix length (\"192.0.2.1/24\")" },
	{ "err_gateway_with_length.yaml", "routes[0].nexthops[0].gateway", 7, 19,
	  "\"10.1.0.1/16\": expected an address without a prefix length" },
	{ "err_tcp_flags_unknown.yaml", "rules[0].tcp_flags", 4, 16,
	  "unknown TCP flag \"foo\" (expected one of: fin, syn, rst, psh, ack, urg, ece, cwr)" },
	{ "err_tcp_flags_empty_mask.json", "rules[0].tcp_flags", 1, 54,
	  "\"syn/\": the mask after '/' is empty" },
	{ "err_tcp_flags_object_needs_flags.yaml", "rules[0].tcp_flags", 4, 16,
	  "tcp_flags needs flags" },
	{ "err_ct_unknown.yaml", "rules[0].ct", 3, 9,
	  "unknown connection state \"old\" (expected one of: new, established, related, invalid)" },
	{ "err_ct_listed_twice.yaml", "rules[0].ct[2]", 3, 28,
	  "connection state \"new\" listed twice" },
	{ "err_ct_comma_string.json", "rules[0].ct", 1, 31,
	  "list several states as a list: [new, established]" },
	{ "err_payload_literal_and_regex.yaml", "rules[0].payload", 5, 7,
	  "payload takes literal or regex, not both" },
	{ "err_payload_needs_pattern.yaml", "rules[0].payload", 3, 14,
	  "payload needs literal or regex" },
	{ "err_payload_flag_unknown.yaml", "rules[0].payload.flags[0]", 3, 35,
	  "unknown payload flag \"greedy\" (expected one of: caseless, dotall, multiline, utf8, ucp)" },
	{ "err_action_unknown.yaml", "rules[0].action", 3, 13,
	  "unknown action \"acept\" (expected one of: accept, drop, replicate, steer)" },
	{ "err_action_replicate_needs_group.json", "rules[0].action", 1, 35,
	  "\"replicate\" needs a group: {replicate: {group: NAME, copies: N}}" },
	{ "err_action_object_two_keys.yaml", "rules[0].action", 10, 13,
	  "an action object holds exactly one of: replicate, steer" },
	{ "err_action_wrong_field.yaml", "rules[0].action.steer.copies", 3, 33,
	  "unknown field \"copies\" (expected one of: group)" },
	{ "err_copies_out_of_range.yaml", "rules[0].action.replicate.copies", 3, 45,
	  "0 is out of range 1-16" },
	{ "err_id_negative.yaml", "rules[0].id", 2, 9,
	  "a numeric id must not be negative" },
	{ "err_id_wrong_type.json", "rules[0].id", 1, 19,
	  "expected a string or an integer, got a boolean" },
	{ "err_version_unsupported.json", "version", 1, 13,
	  "unsupported version 2 (this build reads 1)" },
	{ "err_seed_not_a_number.yaml", "settings.flow_hash_seed", 2, 19,
	  "\"0xZZ\" is not a 64-bit unsigned number" },
	{ "err_seed_negative.json", "settings.flow_hash_seed", 1, 33,
	  "-5 is negative (expected 0 to 2^64-1)" },
	{ "err_conntrack_size_out_of_range.yaml", "settings.conntrack.size", 3, 11,
	  "100 is out of range 1024-268435456" },
	{ "err_conntrack_enabled_not_bool.yaml", "settings.conntrack.enabled", 3, 14,
	  "expected true or false, got a string" },
	{ "err_timeout_zero.yaml", "settings.conntrack.timeouts.tcp_syn", 4, 16,
	  "0 is out of range 1-604800" },
	{ "err_routing_max_routes_out_of_range.yaml",
	  "settings.routing.max_routes_ipv6", 3, 22,
	  "512 is out of range 1024-4194304" },
	{ "err_routing_icmp_errors_out_of_range.json",
	  "settings.routing.icmp_errors", 1, 42,
	  "1000001 is out of range 0-1000000" },
	{ "err_timeout_unknown.json", "settings.conntrack.timeouts.tcp_fin", 1, 42,
	  "unknown field \"tcp_fin\" (expected one of: tcp_syn, tcp_syn_ack, tcp_established, tcp_closing, tcp_closed, udp_new, udp_established, icmp, other)" },
	{ "err_port_mode_unknown.yaml", "ports[0].mode", 3, 11,
	  "unknown port mode \"bridge\" (expected one of: route, xconnect)" },
	{ "err_dpdk_port_out_of_range.yaml", "ports[0].dpdk_port", 3, 16,
	  "65535 is out of range 0-65534" },
	{ "err_target_kind_unknown.yaml", "groups[0].targets[0].kind", 7, 16,
	  "unknown target kind \"ipip\" (expected one of: port, vxlan, geneve, gre)" },
	{ "err_target_field_not_for_kind.yaml", "groups[0].targets[0].vni", 7, 34,
	  "\"vni\" does not apply to a port target" },
	{ "err_target_key_not_for_vxlan.json", "groups[0].targets[0].key", 2, 54,
	  "\"key\" does not apply to a vxlan target" },
	{ "err_cluster_kind_port.yaml", "groups[0].cluster.kind", 3, 21,
	  "a cluster group's members are reached by tunnel: vxlan, geneve or gre, not port" },
	{ "err_cluster_field_not_for_kind.yaml", "groups[0].cluster.vni", 3, 31,
	  "\"vni\" does not apply to a gre cluster group" },
	{ "err_target_weight_zero.yaml", "groups[0].targets[0].weight", 7, 42,
	  "0 is out of range 1-65535" },
	{ "err_target_state_unknown.yaml", "groups[0].targets[0].state", 7, 41,
	  "unknown target state \"sleeping\" (expected one of: up, down, draining)" },
	{ "err_vni_out_of_range.yaml", "groups[0].targets[0].vni", 4, 28,
	  "16777216 is out of range 0-16777215" },
	{ "err_table_size_not_prime.yaml", "groups[0].table_size", 6, 17,
	  "65536 is not prime (Maglev needs a prime table size, such as 65537)" },
	{ "err_table_size_out_of_range.json", "groups[0].table_size", 1, 42,
	  "13 is out of range 257-16777213" },
	{ "err_nexthop_weight_zero.yaml", "routes[0].nexthops[0].weight", 7, 30,
	  "0 is out of range 1-256" },
	{ "err_yaml_alias.yaml", "", 3, 5,
	  "invalid YAML: aliases (*r1) are not supported" },
	{ "err_yaml_unsupported_tag.yaml", "", 2, 9,
	  "invalid YAML: unsupported tag !secret" },
	{ "err_yaml_two_documents.yaml", "", 2, 1,
	  "invalid YAML: more than one document" },
	{ "err_yaml_key_not_scalar.yaml", "", 2, 7,
	  "invalid YAML: a mapping key must be a string" },
	{ "err_json_duplicate_key.json", "", 2, 8,
	  "invalid JSON: duplicate object key near '\"rules\"'" },
	{ "err_sport_needs_proto.yaml", "rules[0].sport", 3, 12,
	  "sport needs proto tcp, udp or sctp" },
	{ "err_dport_with_icmp.json", "rules[0].dport", 2, 12,
	  "dport needs proto tcp, udp or sctp (proto is icmp)" },
	{ "err_tcp_flags_needs_tcp.yaml", "rules[0].tcp_flags", 4, 16,
	  "tcp_flags needs proto tcp" },
	{ "err_tcp_flags_not_in_mask.yaml", "rules[0].tcp_flags", 4, 16,
	  "fin must be set but is not in the mask" },
	{ "err_tcp_flags_only_slash.json", "rules[0].tcp_flags", 1, 54,
	  "\"/\": the mask after '/' is empty" },
	{ "err_family_mismatch.yaml", "rules[0].dst", 4, 10,
	  "dst is IPv6 but src is IPv4" },
	{ "err_family_mismatch.json", "rules[0].dst", 2, 10,
	  "dst is IPv4 but src is IPv6" },
	{ "err_icmp_with_ipv6.yaml", "rules[0].proto", 4, 12,
	  "proto icmp is IPv4 only, but src is IPv6 (use icmpv6)" },
	{ "err_icmpv6_with_ipv4.yaml", "rules[0].proto", 4, 12,
	  "proto icmpv6 is IPv6 only, but dst is IPv4 (use icmp)" },
	{ "err_in_port_unknown.yaml", "rules[0].in_port", 6, 14,
	  "unknown port \"wan1\"" },
	{ "err_rule_id_duplicate.yaml", "rules[1].id", 4, 9,
	  "id \"web\" is also used by rules[0]" },
	{ "err_rule_id_duplicate_number.json", "rules[1].id", 2, 10,
	  "id \"7\" is also used by rules[0]" },
	{ "err_rule_auto_id_duplicate.yaml", "rules[1].id", 3, 5,
	  "same match and action as rules[0], so the same automatic id \"auto-57a9c352e78791e2\": remove one or give it an id" },
	{ "err_rule_id_invalid.yaml", "rules[0].id", 2, 9,
	  "\"web server\" is not a valid rule id (1-63 letters, digits, '_', '.' or '-', starting with a letter or digit)" },
	{ "err_rule_needs_action.yaml", "rules[0].action", 2, 5,
	  "an action is required" },
	{ "err_group_unknown.yaml", "rules[0].action.steer.group", 10, 29,
	  "unknown group \"g2\"" },
	{ "err_default_group_unknown.json", "default.replicate.group", 1, 37,
	  "unknown group \"mirrors\"" },
	{ "err_copies_exceed_targets.yaml", "rules[0].action.replicate.copies", 10, 45,
	  "2 copies but group \"g1\" has 1 target" },
	{ "err_ct_needs_conntrack.yaml", "rules[0].ct", 5, 9,
	  "ct needs connection tracking (settings.conntrack.enabled)" },
	{ "err_payload_empty.yaml", "rules[0].payload.regex", 3, 22,
	  "the payload regex is empty" },
	{ "err_payload_literal_empty.json", "rules[0].payload.literal", 1, 48,
	  "the payload literal is empty" },
	{ "err_payload_literal_regex_flag.yaml", "rules[0].payload.flags", 3, 36,
	  "flag dotall applies to regex only (a literal takes caseless)" },
	{ "err_payload_ucp_needs_utf8.yaml", "rules[0].payload.flags", 3, 37,
	  "flag ucp needs utf8" },
	{ "err_port_needs_name.yaml", "ports[0].name", 2, 5,
	  "a port needs a name" },
	{ "err_port_name_invalid.yaml", "ports[0].name", 2, 11,
	  "\"a-very-long-port-name\" is not a valid port name (1-15 letters, digits, '_', '.' or '-', starting with a letter or digit)" },
	{ "err_port_name_duplicate.yaml", "ports[1].name", 3, 11,
	  "port name \"wan0\" is also used by ports[0]" },
	{ "err_dpdk_port_and_devargs.yaml", "ports[0].devargs", 4, 14,
	  "a port takes dpdk_port or devargs, not both" },
	{ "err_dpdk_port_duplicate.json", "ports[1].dpdk_port", 2, 30,
	  "DPDK port 1 is also used by ports[0]" },
	{ "err_devargs_duplicate.yaml", "ports[1].devargs", 5, 14,
	  "devargs \"net_null0\" are also used by ports[0]" },
	{ "err_xconnect_needs_peer.yaml", "ports[0].peer", 2, 5,
	  "mode xconnect needs a peer port" },
	{ "err_peer_unknown.yaml", "ports[0].peer", 4, 11,
	  "unknown port \"c\"" },
	{ "err_peer_self.yaml", "ports[0].peer", 4, 11,
	  "a port cannot be its own peer" },
	{ "err_peer_needs_xconnect.yaml", "ports[0].peer", 3, 11,
	  "peer applies only to mode xconnect" },
	{ "err_xconnect_takes_no_addresses.yaml", "ports[0].addresses", 5, 16,
	  "an xconnect port takes no addresses (it does not route)" },
	{ "err_address_on_two_ports.yaml", "ports[1].addresses[0]", 5, 17,
	  "address 10.0.0.1 is also at ports[0].addresses[0]" },
	{ "err_route_needs_prefix.yaml", "routes[0].prefix", 5, 5,
	  "a route needs a prefix" },
	{ "err_route_duplicate_prefix.yaml", "routes[1].prefix", 7, 13,
	  "the same prefix as routes[0]" },
	{ "err_route_needs_nexthop.json", "routes[0].nexthops", 1, 50,
	  "a route needs at least one next hop" },
	{ "err_route_too_many_nexthops.yaml", "routes[0].nexthops", 7, 7,
	  "more than 16 next hops" },
	{ "err_nexthop_needs_port.yaml", "routes[0].nexthops[0].port", 6, 16,
	  "a next hop needs a port" },
	{ "err_nexthop_port_unknown.yaml", "routes[0].nexthops[0].port", 6, 23,
	  "unknown port \"dmz0\"" },
	{ "err_nexthop_port_xconnect.yaml", "routes[0].nexthops[0].port", 6, 23,
	  "port \"a\" is in xconnect mode and does not route" },
	{ "err_gateway_family_mismatch.yaml", "routes[0].nexthops[0].gateway", 6, 26,
	  "gateway is IPv6 but the prefix is IPv4" },
	{ "err_nexthop_duplicate.yaml", "routes[0].nexthops[1]", 8, 9,
	  "the same gateway and port as nexthops[0]" },
	{ "err_group_needs_name.yaml", "groups[0].name", 5, 5,
	  "a group needs a name" },
	{ "err_group_name_duplicate.yaml", "groups[1].name", 7, 11,
	  "group name \"g1\" is also used by groups[0]" },
	{ "err_group_needs_targets.yaml", "groups[0].targets", 3, 14,
	  "a group needs at least one target" },
	{ "err_target_needs_kind.yaml", "groups[0].targets[0].kind", 6, 15,
	  "a target needs a kind (port, vxlan, geneve, gre)" },
	{ "err_target_port_unknown.yaml", "groups[0].targets[0].port", 6, 34,
	  "unknown port \"dmz0\"" },
	{ "err_target_port_missing.json", "groups[0].targets[0].port", 1, 40,
	  "a port target needs a port" },
	{ "err_tunnel_needs_remote.yaml", "groups[0].targets[0].remote", 3, 15,
	  "a geneve target needs a remote address" },
	{ "err_tunnel_local_family.yaml", "groups[0].targets[0].local", 3, 53,
	  "local is IPv6 but remote is IPv4" },
	{ "err_target_duplicate.yaml", "groups[0].targets[1]", 5, 9,
	  "the same target as targets[0]" },
	{ "err_comment_too_long.yaml", "rules[0].comment", 3, 14,
	  "the comment is longer than 256 bytes" },
	{ "err_port_too_many_addresses.yaml", "ports[0].addresses", 4, 7,
	  "more than 64 addresses" },
	{ "err_group_too_many_targets.yaml", "groups[0].targets", 4, 7,
	  "more than 256 targets" },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
check_one(const struct err_case *c, int rc, const struct sl_policy *p,
	  const struct sl_policy_errors *errs)
{
	char text[600];

	/* Show what came instead when it is not the one expected error. */
	if (errs->count != 1 || strcmp(errs->list[0].path, c->path) != 0 ||
	    strcmp(errs->list[0].message, c->message) != 0) {
		for (unsigned int i = 0; i < errs->count; i++) {
			sl_policy_error_format(&errs->list[i], c->file, text,
					       sizeof(text));
			print_message("  got %s\n", text);
		}
	}
	assert_int_equal(rc, -EINVAL);
	assert_null(p);
	assert_int_equal(errs->count, 1);
	assert_int_equal(errs->dropped, 0);
	assert_string_equal(errs->list[0].path, c->path);
	assert_string_equal(errs->list[0].message, c->message);
	assert_int_equal(errs->list[0].line, c->line);
	assert_int_equal(errs->list[0].column, c->column);
}

static void
rejects_fixture(void **state)
{
	const struct err_case *c = *state;
	struct sl_policy_errors errs;
	struct sl_policy *p = (struct sl_policy *)1;
	bool yaml = strstr(c->file, ".yaml") != NULL;
	size_t len;
	char *text;
	int rc;

	/* From the file ... */
	rc = sl_policy_load_file(policy_fixture_path(c->file), &p, &errs);
	check_one(c, rc, p, &errs);

	/* ... and from a buffer of its bytes: the same error, same place. */
	text = policy_fixture_read(c->file, &len);
	p = (struct sl_policy *)1;
	rc = yaml ? sl_policy_from_yaml_buf(text, len, &p, &errs) :
		    sl_policy_from_json_buf(text, len, &p, &errs);
	check_one(c, rc, p, &errs);
	free(text);
}

int
main(void)
{
	static struct CMUnitTest tests[N_CASES];
	static char names[N_CASES][128];

	for (size_t i = 0; i < N_CASES; i++) {
		snprintf(names[i], sizeof(names[i]), "rejects_%s",
			 cases[i].file + strlen("err_"));
		tests[i].name = names[i];
		tests[i].test_func = rejects_fixture;
		tests[i].initial_state = (void *)&cases[i];
	}
	return _cmocka_run_group_tests("policy_errors", tests, N_CASES, NULL,
				       NULL);
}
