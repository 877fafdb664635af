/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy model: the whole desired state of one Sluice node - settings,
 * ports, ordered firewall rules with a default action, static routes and
 * replication groups - as one C tree with no DPDK types.  It is shared by the
 * DPDK dataplane (--policy FILE), sluiced (the API and its state file),
 * sluicectl and the XDP loader, so all of them read the same schema
 * (docs/policy.md) and the same numbers.
 *
 * Life of a policy: a decoder (JSON or YAML) builds a tree of generic nodes
 * that remember their line and column, the tree is decoded into a struct
 * sl_policy, and the whole model is validated before the caller sees it.  A
 * loaded policy is therefore always valid; a model built or edited in code
 * must go through sl_policy_validate() before it is used.
 *
 * All of this is setup code: it allocates, it is not thread safe on one
 * object, and nothing here runs per packet.  The per-packet consumers use the
 * compiled match form (struct sl_match_compiled) that the builders derive
 * from a rule.
 *
 * Conventions: functions return 0 or -errno; the ones that return pointers
 * return NULL and set errno.  Strings in the model are NUL-terminated, owned
 * by the policy and freed by sl_policy_free().  Addresses are in network
 * order; everything else is in host order.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/conntrack.h"	/* SL_CT_* */
#include "sluice/flow_key.h"	/* enum sl_family */
#include "sluice/pkt_meta.h"	/* SL_TCP_* */

/* The schema version written by the encoder and accepted by the decoders. */
#define SL_POLICY_VERSION 1

/* Limits the validator enforces (docs/policy.md lists them). */
#define SL_POLICY_PORT_NAME_MAX	15	/* kernel IFNAMSIZ - 1: TAP twins */
#define SL_POLICY_NAME_MAX	63	/* rule ids and group names */
#define SL_POLICY_COMMENT_MAX	256	/* bytes */
#define SL_POLICY_DEVARGS_MAX	256	/* bytes */
#define SL_POLICY_PAYLOAD_MAX	4096	/* bytes of a literal or regex */
#define SL_POLICY_ADDRS_MAX	64	/* addresses per port */
#define SL_POLICY_NEXTHOPS_MAX	16	/* ECMP next hops per route */
#define SL_POLICY_NEXTHOP_WEIGHT_MAX 256
#define SL_POLICY_TARGETS_MAX	256	/* targets per group */
#define SL_POLICY_TARGET_WEIGHT_MAX 65535
#define SL_POLICY_COPIES_MAX	16	/* replicate copies */
#define SL_POLICY_MAGLEV_MIN	257	/* table size: prime, > TARGETS_MAX */
#define SL_POLICY_MAGLEV_MAX	16777213 /* largest prime below 2^24 */
#define SL_POLICY_MAGLEV_DEFAULT 65537
#define SL_POLICY_CT_SIZE_MIN	1024
#define SL_POLICY_CT_SIZE_MAX	(1u << 28)
#define SL_POLICY_CT_SIZE_DEFAULT (1u << 20)
#define SL_POLICY_TIMEOUT_MAX	604800	/* seconds (7 days) */
#define SL_POLICY_ICMP_ERRORS_MAX 1000000	/* per second per worker */
#define SL_POLICY_ICMP_ERRORS_DEFAULT 100
#define SL_POLICY_ROUTES_MIN	1024	/* max_routes_ipv4 and _ipv6 */
#define SL_POLICY_ROUTES_V4_MAX	(1u << 24)
#define SL_POLICY_ROUTES_V4_DEFAULT (1u << 20)
#define SL_POLICY_ROUTES_V6_MAX	(1u << 22)
#define SL_POLICY_ROUTES_V6_DEFAULT (1u << 18)
#define SL_POLICY_DPDK_PORT_MAX	65534	/* UINT16_MAX is kept for "no port" */
#define SL_POLICY_VXLAN_PORT_DEFAULT 4789
#define SL_POLICY_GENEVE_PORT_DEFAULT 6081
#define SL_POLICY_VNI_MAX	0xffffffu	/* 24 bits */

/* Prefix for the ids the loader gives rules that have none. */
#define SL_POLICY_AUTO_ID_PREFIX "auto-"

/*
 * An IPv4 or IPv6 prefix or address.  family SL_FAMILY_NONE means "absent".
 * A prefix used for matching or routing has no bits set past len; an
 * interface address (struct sl_port.addrs) keeps its host bits; a host
 * address (gateway, tunnel ends) has len 32 or 128.
 */
struct sl_prefix {
	uint8_t family;		/* enum sl_family */
	uint8_t len;		/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network order; IPv4 in bytes 0..3, rest 0 */
};

/* An inclusive port range; a single port has lo == hi. */
struct sl_port_range {
	uint16_t lo;
	uint16_t hi;
};

/* struct sl_match.fields: which match fields a rule sets. */
enum sl_match_field {
	SL_MATCH_SRC = 1u << 0,
	SL_MATCH_DST = 1u << 1,
	SL_MATCH_PROTO = 1u << 2,
	SL_MATCH_SPORT = 1u << 3,
	SL_MATCH_DPORT = 1u << 4,
	SL_MATCH_IN_PORT = 1u << 5,
	SL_MATCH_VLAN = 1u << 6,
	SL_MATCH_TCP_FLAGS = 1u << 7,
	SL_MATCH_CT = 1u << 8,
	SL_MATCH_PAYLOAD = 1u << 9,
};

/* TCP flag bits (SL_TCP_*) come from sluice/pkt_meta.h, connection-tracking
 * state bits (SL_CT_*) from sluice/conntrack.h: one definition each, shared
 * with the datapaths. */

enum sl_payload_kind {
	SL_PAYLOAD_NONE = 0,
	SL_PAYLOAD_LITERAL,	/* bytes matched anywhere in the payload */
	SL_PAYLOAD_REGEX,	/* Hyperscan (PCRE subset) expression */
};

/* Payload pattern flags; the Hyperscan builder maps them to HS_FLAG_*. */
#define SL_PAYLOAD_CASELESS	0x01	/* literal and regex */
#define SL_PAYLOAD_DOTALL	0x02	/* regex only */
#define SL_PAYLOAD_MULTILINE	0x04	/* regex only */
#define SL_PAYLOAD_UTF8		0x08	/* regex only */
#define SL_PAYLOAD_UCP		0x10	/* regex only, needs utf8 */

struct sl_payload {
	uint8_t kind;		/* enum sl_payload_kind */
	uint8_t flags;		/* SL_PAYLOAD_* */
	char *pattern;		/* never NUL inside: the schema has no way to
				 * write one in a literal; a regex writes \x00 */
};

struct sl_match {
	uint32_t fields;		/* enum sl_match_field bits */
	struct sl_prefix src;
	struct sl_prefix dst;
	uint8_t proto;			/* IP protocol number */
	uint8_t tcp_flags;		/* bits that must be set ... */
	uint8_t tcp_flags_mask;		/* ... among the bits looked at */
	uint8_t ct;			/* SL_CT_* bits */
	uint16_t vlan;			/* outer VLAN id */
	struct sl_port_range sport;
	struct sl_port_range dport;
	char *in_port;			/* a struct sl_port name */
	struct sl_payload payload;
};

enum sl_action_type {
	SL_ACTION_NONE = 0,	/* absent: only in a model being built */
	SL_ACTION_ACCEPT,	/* route the packet */
	SL_ACTION_DROP,
	SL_ACTION_REPLICATE,	/* route it and send copies to group targets */
	SL_ACTION_STEER,	/* send it to one group target instead */
};

struct sl_action {
	uint8_t type;		/* enum sl_action_type */
	uint16_t copies;	/* REPLICATE: targets that get a copy */
	char *group;		/* REPLICATE, STEER: a struct sl_group name */
};

/*
 * A firewall rule.  Rules are ordered and the first match wins.  Counters
 * live in the datapaths, keyed by id, not here.
 */
struct sl_rule {
	char *id;		/* unique; given or SL_POLICY_AUTO_ID_PREFIX... */
	char *comment;		/* NULL: none */
	struct sl_match match;
	struct sl_action action;
};

enum sl_port_mode {
	SL_PORT_MODE_ROUTE = 0,	/* L3: packets are routed */
	SL_PORT_MODE_XCONNECT,	/* every accepted packet leaves by peer */
};

struct sl_port {
	char *name;
	bool has_dpdk_port;
	uint16_t dpdk_port;	/* an existing DPDK port id ... */
	char *devargs;		/* ... or a device to probe; NULL: none */
	uint8_t mode;		/* enum sl_port_mode */
	char *peer;		/* XCONNECT: the port packets leave by */
	struct sl_prefix *addrs; /* interface addresses, host bits kept */
	size_t n_addrs;
};

struct sl_nexthop {
	struct sl_prefix gateway; /* host address; NONE: on-link */
	char *port;		/* egress port */
	uint16_t weight;	/* ECMP share, 1..256 */
};

struct sl_route {
	struct sl_prefix prefix;
	struct sl_nexthop *nexthops;
	size_t n_nexthops;
};

enum sl_target_kind {
	SL_TARGET_NONE = 0,	/* absent: only in a model being built */
	SL_TARGET_PORT,		/* a local port */
	SL_TARGET_VXLAN,
	SL_TARGET_GENEVE,
	SL_TARGET_GRE,
};

enum sl_target_state {
	SL_TARGET_UP = 0,
	SL_TARGET_DOWN,		/* out of the Maglev table */
	SL_TARGET_DRAINING,	/* keeps established flows, takes no new */
};

struct sl_target {
	uint8_t kind;		/* enum sl_target_kind */
	uint8_t state;		/* enum sl_target_state */
	uint16_t weight;	/* Maglev share, 1..65535 */
	char *port;		/* PORT: the port */
	struct sl_prefix remote; /* tunnels: the far end (host address) */
	struct sl_prefix local;	/* tunnels: source; NONE: egress address */
	uint32_t vni;		/* VXLAN, GENEVE */
	uint16_t udp_port;	/* VXLAN, GENEVE: destination UDP port */
	bool has_key;		/* GRE: key present */
	uint32_t key;		/* GRE */
};

/*
 * A cluster group (cluster true) has no targets of its own in the
 * operator's document: its targets are the live cluster members, which
 * sluiced derives (docs/cluster.md) from member, one target per member
 * with the member's underlay address as remote and its capacity as
 * weight.  The document sluiced pushes to a dataplane carries the derived
 * targets, so a cluster group may hold 0-256 targets.
 */
struct sl_group {
	char *name;
	uint32_t table_size;	/* Maglev table size, prime */
	struct sl_target *targets;
	size_t n_targets;
	bool cluster;		/* targets are the live cluster members */
	struct sl_target member; /* cluster: kind, vni, udp_port, key */
};

/*
 * Connection-tracking timeouts in seconds, declared once: each
 * _(field, default) yields a struct member, a schema field of the same name
 * and its default.
 */
#define SL_CT_TIMEOUTS(_)		\
	_(tcp_syn, 30)			\
	_(tcp_syn_ack, 30)		\
	_(tcp_established, 7200)	\
	_(tcp_closing, 120)		\
	_(tcp_closed, 10)		\
	_(udp_new, 30)			\
	_(udp_established, 180)		\
	_(icmp, 30)			\
	_(other, 60)

struct sl_ct_timeouts {
#define SL_CT_TIMEOUT_MEMBER_(name, dflt) uint32_t name;
	SL_CT_TIMEOUTS(SL_CT_TIMEOUT_MEMBER_)
#undef SL_CT_TIMEOUT_MEMBER_
};

struct sl_settings {
	uint64_t flow_hash_seed;	/* XXH3 seed, DPDK and XDP alike */
	bool ct_enabled;
	uint32_t ct_size;		/* most flows tracked at once */
	struct sl_ct_timeouts ct_timeouts;
	uint32_t rt_kernel_table;	/* kernel table to mirror; 0: none */
	uint32_t rt_icmp_errors;	/* ICMP errors/s per worker; 0: off */
	uint32_t rt_max_routes_ipv4;	/* route table sizes */
	uint32_t rt_max_routes_ipv6;
};

struct sl_policy {
	uint64_t generation;	/* set by sluiced; carried, not checked */
	struct sl_settings settings;
	struct sl_port *ports;
	size_t n_ports;
	struct sl_rule *rules;	/* in match order */
	size_t n_rules;
	struct sl_action default_action;
	struct sl_route *routes;
	size_t n_routes;
	struct sl_group *groups;
	size_t n_groups;
};

/* ------------------------------------------------------------------------
 * Errors
 */

#define SL_POLICY_ERRORS_MAX	64
#define SL_POLICY_PATH_MAX	160
#define SL_POLICY_MSG_MAX	224

/*
 * One problem in a document.  path names the field ("rules[12].dport",
 * "" for the document itself); line and column (1-based, columns count
 * characters) point into the source text, 0 where there is none (a model
 * built in code).
 */
struct sl_policy_error {
	char path[SL_POLICY_PATH_MAX];
	uint32_t line;
	uint32_t column;
	char message[SL_POLICY_MSG_MAX];
};

/*
 * Every function that takes one clears it first.  Up to SL_POLICY_ERRORS_MAX
 * errors are kept, the loaders sort them by line and column; dropped counts
 * the rest.  A syntax error stops the loader; otherwise every field is
 * decoded and the whole model checked, except that checks of a list item
 * (rules[3]) whose fields already failed to decode are skipped, so one
 * mistake is not reported twice.
 */
struct sl_policy_errors {
	unsigned int count;
	unsigned int dropped;
	struct sl_policy_error list[SL_POLICY_ERRORS_MAX];
};

/*
 * "source:line:column: path: message" (parts that are unknown are left
 * out).  source may be NULL.  Returns what snprintf returns.
 */
int sl_policy_error_format(const struct sl_policy_error *err,
			   const char *source, char *buf, size_t size);

/* Every error, one per line, and a line for the dropped ones. */
void sl_policy_errors_print(FILE *f, const char *source,
			    const struct sl_policy_errors *errs);

/* ------------------------------------------------------------------------
 * Loading, dumping, comparing
 */

/*
 * Decode and validate a document.  On success *out holds a valid policy the
 * caller frees with sl_policy_free(); on failure *out is NULL.  errs may be
 * NULL.  The _buf forms take a length and need no NUL.
 *
 * Returns 0, -EINVAL (syntax or validation: see errs), -ENOMEM, -EFBIG (over
 * 256 MiB).  sl_policy_load_file() also returns the -errno of open/read; it
 * reads YAML when the name ends in .yaml or .yml, JSON when it ends in .json,
 * and otherwise JSON when the first non-blank byte is '{'.
 */
int sl_policy_from_json_buf(const char *buf, size_t len,
			    struct sl_policy **out,
			    struct sl_policy_errors *errs);
int sl_policy_from_yaml_buf(const char *buf, size_t len,
			    struct sl_policy **out,
			    struct sl_policy_errors *errs);
int sl_policy_from_json_str(const char *str, struct sl_policy **out,
			    struct sl_policy_errors *errs);
int sl_policy_from_yaml_str(const char *str, struct sl_policy **out,
			    struct sl_policy_errors *errs);
int sl_policy_load_file(const char *path, struct sl_policy **out,
			struct sl_policy_errors *errs);

/* sl_policy_to_json() flags */
#define SL_POLICY_JSON_COMPACT 0x1	/* one line; default: 2-space indent */

/*
 * The canonical JSON text of a policy: keys in schema order, every field
 * that has a default written out, optional fields and empty optional lists
 * (a port's addresses, payload flags) left out, no trailing newline.  Equal models give byte-identical text, and loading
 * the text gives an equal model.  The model should be valid.  Returns a
 * string to free() or NULL with errno set (ENOMEM, EINVAL).
 */
char *sl_policy_to_json(const struct sl_policy *p, unsigned int flags);

/*
 * Check every invariant of the model (the rules in docs/policy.md) and
 * collect the errors with their paths (no line or column: a model has no
 * source).  A rule without an id is an error: a model edited in code calls
 * sl_policy_assign_ids() first.  errs may be NULL.  Returns 0, -EINVAL,
 * -ENOMEM.
 */
int sl_policy_validate(const struct sl_policy *p,
		       struct sl_policy_errors *errs);

/*
 * Give every rule without an id its automatic one: SL_POLICY_AUTO_ID_PREFIX
 * and 16 hex digits of the XXH3 hash of the rule's canonical match and
 * action.  The id stays the same while the rule is unchanged, wherever it
 * moves in the list.  Returns 0 or -ENOMEM.
 */
int sl_policy_assign_ids(struct sl_policy *p);

/* An empty policy with every default set; NULL with errno ENOMEM. */
struct sl_policy *sl_policy_new(void);

/* A deep copy; NULL with errno set. */
struct sl_policy *sl_policy_dup(const struct sl_policy *p);

/* NULL is fine. */
void sl_policy_free(struct sl_policy *p);

/* True when both models hold the same state, field by field. */
bool sl_policy_equal(const struct sl_policy *a, const struct sl_policy *b);

/* Index of the port / group with that name, or -1. */
int sl_policy_find_port(const struct sl_policy *p, const char *name);
int sl_policy_find_group(const struct sl_policy *p, const char *name);

/* ------------------------------------------------------------------------
 * Names of enumerated values (the tables in docs/policy.md)
 */

/* Protocol number for a name ("tcp", case-insensitive), or -1. */
int sl_proto_from_name(const char *name);
/* Canonical name of a protocol number, or NULL when it has none. */
const char *sl_proto_name(uint8_t proto);
/* Name of one SL_TCP_* / SL_CT_* / SL_PAYLOAD_* bit, or NULL. */
const char *sl_tcp_flag_name(uint8_t bit);
const char *sl_ct_state_name(uint8_t bit);
const char *sl_payload_flag_name(uint8_t bit);
const char *sl_action_name(uint8_t type);
const char *sl_port_mode_name(uint8_t mode);
const char *sl_target_kind_name(uint8_t kind);
const char *sl_target_state_name(uint8_t state);

/*
 * "10.0.0.0/8", "2001:db8::1" (with_len false) into buf (at least
 * SL_PREFIX_STRLEN bytes).  Returns buf.
 */
#define SL_PREFIX_STRLEN 64
char *sl_prefix_format(const struct sl_prefix *p, bool with_len, char *buf);

/*
 * A route or match prefix written as the schema takes it ("10.0.0.0/8",
 * "2001:DB8::/32", a host address without "/len"); host bits are refused.
 * sl_prefix_format() of the result is its canonical spelling.  Returns 0,
 * or -EINVAL with a message in msg (may be NULL).
 */
int sl_prefix_from_string(const char *s, struct sl_prefix *out, char *msg,
			  size_t msg_size);

/* ------------------------------------------------------------------------
 * Compiled match: the numbers the ACL builder and the XDP loader consume
 */

struct sl_match_compiled {
	uint32_t fields;	/* enum sl_match_field bits of the rule */
	uint8_t family;		/* 4 or 6; 0: the rule fits both families */
	uint8_t proto;		/* meaningful when proto_mask is 0xff */
	uint8_t proto_mask;	/* 0xff or 0 (any) */
	uint8_t src_len;	/* 0: any source */
	uint8_t dst_len;
	uint8_t src[16];	/* network order, bits past len zero */
	uint8_t dst[16];
	uint16_t sport_lo, sport_hi;	/* 0..65535 when absent */
	uint16_t dport_lo, dport_hi;
	uint16_t vlan;		/* meaningful when fields has SL_MATCH_VLAN */
	uint8_t tcp_flags;	/* (flags & tcp_flags_mask) == tcp_flags */
	uint8_t tcp_flags_mask;	/* 0: any */
	uint8_t ct;		/* SL_CT_* bits; SL_CT_ALL when absent */
	int32_t in_port;	/* index into policy->ports; -1: any */
};

/*
 * Fill *out for rule index i of a valid policy.  The family is that of
 * src/dst, else 4 for proto icmp and 6 for icmpv6, else 0.  Returns 0,
 * -EINVAL (index out of range, or an in_port that names no port).
 */
int sl_match_compile(const struct sl_policy *p, size_t i,
		     struct sl_match_compiled *out);

/* ------------------------------------------------------------------------
 * Schema: the field names the codec accepts, per object, for tools and for
 * the test that keeps docs/policy.md in step with the code.
 */

struct sl_policy_schema_object {
	const char *name;		/* "rule", "target", ... */
	const char *const *fields;	/* in canonical (encoder) order */
	size_t n_fields;
};

const struct sl_policy_schema_object *sl_policy_schema(size_t *n);

#endif /* SLUICE_POLICY_H */
