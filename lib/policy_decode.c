/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Document tree -> policy model.
 *
 * Every object of the schema is one table of fields (an X-macro below, also
 * exported by sl_policy_schema() so the docs cannot drift from the code);
 * decode_object() walks a map, refuses unknown and repeated keys, and calls
 * the field's handler.  Handlers check the node's type and the value on its
 * own (syntax, range, host bits); a value that fails is reported at its
 * position and left out of the model.  Whatever needs more than one value
 * (references, duplicates, fields that exclude each other) is the
 * validator's job (policy_validate.c), as is anything a model built in code
 * could get wrong.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct dec {
	struct sl_policy_errors *errs;
	struct sl_path path;
	unsigned int broken;	/* SL_BROKEN_* */
	int rc;			/* -ENOMEM once memory ran out */
};

typedef void (*field_fn)(struct dec *d, const struct sl_node *v, void *obj);

struct field {
	const char *name;
	field_fn fn;
};

static void
derr(struct dec *d, const struct sl_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
derr(struct dec *d, const struct sl_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_err_vadd(d->errs, d->path.buf, n != NULL ? n->line : 0,
		    n != NULL ? n->col : 0, fmt, ap);
	va_end(ap);
}

static const char *
type_name(const struct sl_node *n)
{
	switch (n->type) {
	case SL_NODE_NULL: return "null";
	case SL_NODE_BOOL: return "a boolean";
	case SL_NODE_INT: return "an integer";
	case SL_NODE_REAL: return "a fractional number";
	case SL_NODE_STR: return "a string";
	case SL_NODE_SEQ: return "a list";
	case SL_NODE_MAP: return "an object";
	default: return "something else";
	}
}

static bool
want(struct dec *d, const struct sl_node *n, enum sl_node_type type,
     const char *what)
{
	if (n->type == type)
		return true;
	derr(d, n, "expected %s, got %s", what, type_name(n));
	return false;
}

/* A string without NUL bytes. */
static bool
want_str(struct dec *d, const struct sl_node *n, const char **out)
{
	if (!want(d, n, SL_NODE_STR, "a string"))
		return false;
	if (strlen(n->u.str.s) != n->u.str.len) {
		derr(d, n, "strings may not contain NUL characters");
		return false;
	}
	*out = n->u.str.s;
	return true;
}

static char *
dup_str(struct dec *d, const char *s)
{
	char *c = strdup(s);

	if (c == NULL)
		d->rc = -ENOMEM;
	return c;
}

/* Replace *slot with a copy of the string node's text. */
static bool
take_str(struct dec *d, const struct sl_node *n, char **slot)
{
	const char *s;

	if (!want_str(d, n, &s))
		return false;
	free(*slot);
	*slot = dup_str(d, s);
	return *slot != NULL;
}

static bool
want_uint(struct dec *d, const struct sl_node *n, uint64_t min, uint64_t max,
	  uint64_t *out)
{
	if (n->type == SL_NODE_STR && n->big_int) {
		derr(d, n, "%.40s is out of range %" PRIu64 "-%" PRIu64,
		     n->u.str.s, min, max);
		return false;
	}
	if (!want(d, n, SL_NODE_INT, "an integer"))
		return false;
	if (n->u.i < 0 || (uint64_t)n->u.i < min || (uint64_t)n->u.i > max) {
		derr(d, n, "%" PRId64 " is out of range %" PRIu64 "-%" PRIu64,
		     n->u.i, min, max);
		return false;
	}
	*out = (uint64_t)n->u.i;
	return true;
}

/* A 64-bit unsigned number: an integer, or a decimal or 0x string. */
static bool
want_u64(struct dec *d, const struct sl_node *n, uint64_t *out)
{
	const char *s;
	uint64_t v = 0;
	unsigned int base = 10;

	if (n->type == SL_NODE_INT && n->u.i < 0) {
		derr(d, n, "%" PRId64 " is negative (expected 0 to 2^64-1)",
		     n->u.i);
		return false;
	}
	if (n->type == SL_NODE_INT)
		return want_uint(d, n, 0, INT64_MAX, out);
	if (n->type != SL_NODE_STR) {
		derr(d, n, "expected an integer or a string, got %s",
		     type_name(n));
		return false;
	}
	if (!want_str(d, n, &s))
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0' || strlen(s) > 20)
		goto bad;
	for (; *s != '\0'; s++) {
		unsigned int dgt;

		if (*s >= '0' && *s <= '9')
			dgt = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			dgt = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			dgt = (unsigned int)(*s - 'A' + 10);
		else
			goto bad;
		if (v > (UINT64_MAX - dgt) / base)
			goto bad;
		v = v * base + dgt;
	}
	*out = v;
	return true;
bad:
	derr(d, n, "\"%.40s\" is not a 64-bit unsigned number", n->u.str.s);
	return false;
}

static bool
want_name(struct dec *d, const struct sl_node *n,
	  const struct sl_name_value *table, const char *what, int *out)
{
	const char *s;
	char list[160];
	int v;

	if (!want_str(d, n, &s))
		return false;
	v = sl_name_lookup(table, s);
	if (v < 0) {
		sl_name_list(table, list, sizeof(list));
		derr(d, n, "unknown %s \"%.40s\" (expected one of: %s)", what, s,
		     list);
		return false;
	}
	*out = v;
	return true;
}

static bool
want_prefix(struct dec *d, const struct sl_node *n, enum sl_prefix_mode mode,
	    struct sl_prefix *out)
{
	char msg[SL_POLICY_MSG_MAX];
	const char *s;

	if (!want_str(d, n, &s))
		return false;
	if (sl_prefix_parse(s, mode, out, msg, sizeof(msg)) < 0) {
		derr(d, n, "%s", msg);
		return false;
	}
	return true;
}

static void
field_names(const struct field *fields, size_t n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i > 0 ? ", " : "", fields[i].name);
}

/*
 * Decode a map through a field table.  *seen (may be NULL) gets one bit per
 * field present, by table index.  Returns false when n is not a map.
 */
static bool
decode_object(struct dec *d, const struct sl_node *n, const struct field *fields,
	      size_t n_fields, void *obj, uint64_t *seen)
{
	uint64_t mask = 0;

	if (seen != NULL)
		*seen = 0;
	if (!want(d, n, SL_NODE_MAP, "an object"))
		return false;
	for (size_t i = 0; i < n->u.map.n && d->rc == 0; i++) {
		const struct sl_member *m = &n->u.map.members[i];
		struct sl_node at = { .line = m->line, .col = m->col };
		size_t f = n_fields;
		size_t old;

		if (strlen(m->key) == m->key_len)
			for (f = 0; f < n_fields; f++)
				if (strcmp(fields[f].name, m->key) == 0)
					break;
		old = sl_path_push_key(&d->path, m->key);
		if (f == n_fields) {
			char list[400];

			field_names(fields, n_fields, list, sizeof(list));
			derr(d, &at, "unknown field \"%.40s\" (expected one of: %s)",
			     m->key, list);
		} else if (mask & (1ull << f)) {
			derr(d, &at, "field \"%s\" given twice", m->key);
		} else {
			mask |= 1ull << f;
			fields[f].fn(d, m->value, obj);
		}
		sl_path_pop(&d->path, old);
	}
	if (seen != NULL)
		*seen = mask;
	return true;
}

/* The member of a map with that key, for positions; NULL if absent. */
static const struct sl_member *
member(const struct sl_node *n, const char *key)
{
	for (size_t i = 0; i < n->u.map.n; i++)
		if (strcmp(n->u.map.members[i].key, key) == 0)
			return &n->u.map.members[i];
	return NULL;
}

/*
 * Decode a list: allocate *items (n_items entries of size bytes, zeroed and
 * passed to init), then each element through fn under "[i]".
 */
typedef void (*item_fn)(struct dec *d, const struct sl_node *v, void *item);

static bool
decode_list(struct dec *d, const struct sl_node *n, void **items,
	    size_t *n_items, size_t size, item_fn init, item_fn fn)
{
	char *v;

	if (!want(d, n, SL_NODE_SEQ, "a list"))
		return false;
	v = calloc(n->u.seq.n != 0 ? n->u.seq.n : 1, size);
	if (v == NULL) {
		d->rc = -ENOMEM;
		return false;
	}
	*items = v;
	*n_items = n->u.seq.n;
	for (size_t i = 0; i < n->u.seq.n && d->rc == 0; i++) {
		size_t old = sl_path_push_index(&d->path, i);

		if (init != NULL)
			init(d, NULL, v + i * size);
		fn(d, n->u.seq.items[i], v + i * size);
		sl_path_pop(&d->path, old);
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Field tables.  Each _(name, handler) line is one schema field, in the
 * order the encoder writes them.
 */

#define POLICY_FIELDS(_)		\
	_(version, f_version)		\
	_(generation, f_generation)	\
	_(settings, f_settings)		\
	_(ports, f_ports)		\
	_(rules, f_rules)		\
	_(default, f_default)		\
	_(routes, f_routes)		\
	_(groups, f_groups)

#define SETTINGS_FIELDS(_)			\
	_(flow_hash_seed, f_flow_hash_seed)	\
	_(conntrack, f_conntrack)		\
	_(routing, f_routing)

#define CONNTRACK_FIELDS(_)		\
	_(enabled, f_ct_enabled)	\
	_(size, f_ct_size)		\
	_(timeouts, f_ct_timeouts)

/* Spelled out (an X-macro cannot pass _ through SL_CT_TIMEOUTS); the
 * static assertion below keeps it in step with the struct. */
#define TIMEOUTS_FIELDS(_)				\
	_(tcp_syn, f_timeout_tcp_syn)			\
	_(tcp_syn_ack, f_timeout_tcp_syn_ack)		\
	_(tcp_established, f_timeout_tcp_established)	\
	_(tcp_closing, f_timeout_tcp_closing)		\
	_(tcp_closed, f_timeout_tcp_closed)		\
	_(udp_new, f_timeout_udp_new)			\
	_(udp_established, f_timeout_udp_established)	\
	_(icmp, f_timeout_icmp)				\
	_(other, f_timeout_other)

#define ROUTING_FIELDS(_)			\
	_(kernel_table, f_rt_kernel_table)	\
	_(icmp_errors, f_rt_icmp_errors)	\
	_(max_routes_ipv4, f_rt_max_routes_ipv4)	\
	_(max_routes_ipv6, f_rt_max_routes_ipv6)

#define PORT_FIELDS(_)			\
	_(name, f_port_name)		\
	_(dpdk_port, f_port_dpdk_port)	\
	_(devargs, f_port_devargs)	\
	_(mode, f_port_mode)		\
	_(peer, f_port_peer)		\
	_(addresses, f_port_addresses)

#define RULE_FIELDS(_)			\
	_(id, f_rule_id)		\
	_(comment, f_rule_comment)	\
	_(src, f_rule_src)		\
	_(dst, f_rule_dst)		\
	_(proto, f_rule_proto)		\
	_(sport, f_rule_sport)		\
	_(dport, f_rule_dport)		\
	_(in_port, f_rule_in_port)	\
	_(vlan, f_rule_vlan)		\
	_(tcp_flags, f_rule_tcp_flags)	\
	_(ct, f_rule_ct)		\
	_(payload, f_rule_payload)	\
	_(action, f_rule_action)

#define PORT_RANGE_FIELDS(_)	\
	_(from, f_range_from)	\
	_(to, f_range_to)

#define TCP_FLAGS_FIELDS(_)		\
	_(flags, f_tcp_flags_flags)	\
	_(mask, f_tcp_flags_mask)

#define PAYLOAD_FIELDS(_)		\
	_(literal, f_payload_literal)	\
	_(regex, f_payload_regex)	\
	_(flags, f_payload_flags)

#define ACTION_FIELDS(_)			\
	_(replicate, f_action_replicate)	\
	_(steer, f_action_steer)

#define REPLICATE_FIELDS(_)		\
	_(group, f_act_group)		\
	_(copies, f_act_copies)

#define STEER_FIELDS(_)			\
	_(group, f_steer_group)

#define ROUTE_FIELDS(_)			\
	_(prefix, f_route_prefix)	\
	_(nexthops, f_route_nexthops)

#define NEXTHOP_FIELDS(_)		\
	_(gateway, f_nh_gateway)	\
	_(port, f_nh_port)		\
	_(weight, f_nh_weight)

#define GROUP_FIELDS(_)				\
	_(name, f_group_name)			\
	_(table_size, f_group_table_size)	\
	_(cluster, f_group_cluster)		\
	_(targets, f_group_targets)

#define CLUSTER_FIELDS(_)		\
	_(kind, f_cluster_kind)		\
	_(vni, f_cluster_vni)		\
	_(udp_port, f_cluster_udp_port)	\
	_(key, f_cluster_key)

#define TARGET_FIELDS(_)		\
	_(kind, f_target_kind)		\
	_(port, f_target_port)		\
	_(remote, f_target_remote)	\
	_(local, f_target_local)	\
	_(vni, f_target_vni)		\
	_(udp_port, f_target_udp_port)	\
	_(key, f_target_key)		\
	_(weight, f_target_weight)	\
	_(state, f_target_state)

#define SCHEMA_OBJECTS(_)			\
	_(policy, POLICY_FIELDS)		\
	_(settings, SETTINGS_FIELDS)		\
	_(conntrack, CONNTRACK_FIELDS)		\
	_(timeouts, TIMEOUTS_FIELDS)		\
	_(routing, ROUTING_FIELDS)		\
	_(port, PORT_FIELDS)			\
	_(rule, RULE_FIELDS)			\
	_(port_range, PORT_RANGE_FIELDS)	\
	_(tcp_flags, TCP_FLAGS_FIELDS)		\
	_(payload, PAYLOAD_FIELDS)		\
	_(action, ACTION_FIELDS)		\
	_(replicate, REPLICATE_FIELDS)		\
	_(steer, STEER_FIELDS)			\
	_(route, ROUTE_FIELDS)			\
	_(nexthop, NEXTHOP_FIELDS)		\
	_(group, GROUP_FIELDS)			\
	_(cluster, CLUSTER_FIELDS)		\
	_(target, TARGET_FIELDS)

/* Forward declarations of every handler. */
#define DECLARE_(name, fn) \
	static void fn(struct dec *d, const struct sl_node *v, void *obj);
#define DECLARE_OBJECT_(obj, FIELDS) FIELDS(DECLARE_)
SCHEMA_OBJECTS(DECLARE_OBJECT_)
#undef DECLARE_OBJECT_
#undef DECLARE_

/* The tables: <obj>_fields[] and their sizes. */
#define FIELD_(name, fn) { #name, fn },
#define TABLE_(obj, FIELDS)                                                    \
	static const struct field obj##_fields[] = { FIELDS(FIELD_) };         \
	enum { obj##_n_fields = sizeof(obj##_fields) / sizeof(struct field) };
SCHEMA_OBJECTS(TABLE_)
#undef TABLE_
#undef FIELD_

/* Field indexes: F_<obj>_<field>, for seen masks. */
#define INDEX_(name, fn) F_##fn,
#define INDEX_OBJECT_(obj, FIELDS) enum { FIELDS(INDEX_) };
SCHEMA_OBJECTS(INDEX_OBJECT_)
#undef INDEX_OBJECT_
#undef INDEX_

_Static_assert(timeouts_n_fields * sizeof(uint32_t) ==
		       sizeof(struct sl_ct_timeouts),
	       "TIMEOUTS_FIELDS lists every SL_CT_TIMEOUTS entry");

#define DECODE(d, n, obj, ptr, seen) \
	decode_object(d, n, obj##_fields, obj##_n_fields, ptr, seen)

/* Exported names (sl_policy_schema()). */
#define NAME_(name, fn) #name,
#define NAMES_(obj, FIELDS) \
	static const char *const obj##_names[] = { FIELDS(NAME_) };
SCHEMA_OBJECTS(NAMES_)
#undef NAMES_
#undef NAME_

static const struct sl_policy_schema_object schema[] = {
#define SCHEMA_(obj, FIELDS) \
	{ #obj, obj##_names, sizeof(obj##_names) / sizeof(obj##_names[0]) },
	SCHEMA_OBJECTS(SCHEMA_)
#undef SCHEMA_
};

const struct sl_policy_schema_object *
sl_policy_schema(size_t *n)
{
	*n = sizeof(schema) / sizeof(schema[0]);
	return schema;
}

/* ------------------------------------------------------------------------
 * policy
 */

static void
f_version(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	(void)obj;
	if (want_uint(d, v, 0, INT64_MAX, &x) && x != SL_POLICY_VERSION)
		derr(d, v, "unsupported version %" PRIu64 " (this build reads %d)",
		     x, SL_POLICY_VERSION);
}

static void
f_generation(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_policy *p = obj;

	want_u64(d, v, &p->generation);
}

static void
f_settings(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_policy *p = obj;

	DECODE(d, v, settings, &p->settings, NULL);
}

static void
f_flow_hash_seed(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;

	want_u64(d, v, &s->flow_hash_seed);
}

static void
f_conntrack(struct dec *d, const struct sl_node *v, void *obj)
{
	DECODE(d, v, conntrack, obj, NULL);
}

static void
f_ct_enabled(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;

	if (want(d, v, SL_NODE_BOOL, "true or false"))
		s->ct_enabled = v->u.b;
}

static void
f_ct_size(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;
	uint64_t x;

	if (want_uint(d, v, SL_POLICY_CT_SIZE_MIN, SL_POLICY_CT_SIZE_MAX, &x))
		s->ct_size = (uint32_t)x;
}

static void
f_ct_timeouts(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;

	DECODE(d, v, timeouts, &s->ct_timeouts, NULL);
}

#define TIMEOUT_FN_(name, dflt)                                                \
	static void f_timeout_##name(struct dec *d, const struct sl_node *v,   \
				     void *obj)                                \
	{                                                                      \
		struct sl_ct_timeouts *t = obj;                                \
		uint64_t x;                                                    \
		if (want_uint(d, v, 1, SL_POLICY_TIMEOUT_MAX, &x))             \
			t->name = (uint32_t)x;                                 \
	}
SL_CT_TIMEOUTS(TIMEOUT_FN_)
#undef TIMEOUT_FN_

static void
f_routing(struct dec *d, const struct sl_node *v, void *obj)
{
	DECODE(d, v, routing, obj, NULL);
}

static void
f_rt_kernel_table(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;
	uint64_t x;

	if (want_uint(d, v, 0, UINT32_MAX, &x))
		s->rt_kernel_table = (uint32_t)x;
}

static void
f_rt_icmp_errors(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;
	uint64_t x;

	if (want_uint(d, v, 0, SL_POLICY_ICMP_ERRORS_MAX, &x))
		s->rt_icmp_errors = (uint32_t)x;
}

static void
f_rt_max_routes_ipv4(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;
	uint64_t x;

	if (want_uint(d, v, SL_POLICY_ROUTES_MIN, SL_POLICY_ROUTES_V4_MAX, &x))
		s->rt_max_routes_ipv4 = (uint32_t)x;
}

static void
f_rt_max_routes_ipv6(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_settings *s = obj;
	uint64_t x;

	if (want_uint(d, v, SL_POLICY_ROUTES_MIN, SL_POLICY_ROUTES_V6_MAX, &x))
		s->rt_max_routes_ipv6 = (uint32_t)x;
}

/* ------------------------------------------------------------------------
 * ports
 */

static void
port_init(struct dec *d, const struct sl_node *v, void *item)
{
	struct sl_port *port = item;

	(void)d;
	(void)v;
	port->mode = SL_PORT_MODE_ROUTE;
}

static void
port_item(struct dec *d, const struct sl_node *v, void *item)
{
	uint64_t seen;

	if (!DECODE(d, v, port, item, &seen) ||
	    (seen & (1ull << F_f_port_name)) == 0 ||
	    ((struct sl_port *)item)->name == NULL)
		d->broken |= SL_BROKEN_PORTS;
}

static void
f_ports(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_policy *p = obj;

	if (!decode_list(d, v, (void **)&p->ports, &p->n_ports,
			 sizeof(struct sl_port), port_init, port_item))
		d->broken |= SL_BROKEN_PORTS;
}

static void
f_port_name(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_port *)obj)->name);
}

static void
f_port_dpdk_port(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_port *port = obj;
	uint64_t x;

	if (want_uint(d, v, 0, SL_POLICY_DPDK_PORT_MAX, &x)) {
		port->has_dpdk_port = true;
		port->dpdk_port = (uint16_t)x;
	}
}

static void
f_port_devargs(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_port *)obj)->devargs);
}

static void
f_port_mode(struct dec *d, const struct sl_node *v, void *obj)
{
	int mode;

	if (want_name(d, v, sl_port_mode_names, "port mode", &mode))
		((struct sl_port *)obj)->mode = (uint8_t)mode;
}

static void
f_port_peer(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_port *)obj)->peer);
}

static void
address_item(struct dec *d, const struct sl_node *v, void *item)
{
	want_prefix(d, v, SL_PREFIX_INTERFACE, item);
}

static void
f_port_addresses(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_port *port = obj;

	decode_list(d, v, (void **)&port->addrs, &port->n_addrs,
		    sizeof(struct sl_prefix), NULL, address_item);
}

/* ------------------------------------------------------------------------
 * rules
 */

static void
rule_item(struct dec *d, const struct sl_node *v, void *item)
{
	DECODE(d, v, rule, item, NULL);
}

static void
f_rules(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_policy *p = obj;

	decode_list(d, v, (void **)&p->rules, &p->n_rules,
		    sizeof(struct sl_rule), NULL, rule_item);
}

static void
f_rule_id(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_rule *r = obj;
	char num[24];

	if (v->type == SL_NODE_INT) {
		if (v->u.i < 0) {
			derr(d, v, "a numeric id must not be negative");
			return;
		}
		snprintf(num, sizeof(num), "%" PRId64, v->u.i);
		free(r->id);
		r->id = dup_str(d, num);
		return;
	}
	if (v->type != SL_NODE_STR) {
		derr(d, v, "expected a string or an integer, got %s",
		     type_name(v));
		return;
	}
	take_str(d, v, &r->id);
}

static void
f_rule_comment(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_rule *)obj)->comment);
}

static void
f_rule_src(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;

	if (want_prefix(d, v, SL_PREFIX_NETWORK, &m->src))
		m->fields |= SL_MATCH_SRC;
}

static void
f_rule_dst(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;

	if (want_prefix(d, v, SL_PREFIX_NETWORK, &m->dst))
		m->fields |= SL_MATCH_DST;
}

static void
f_rule_proto(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;
	uint64_t x;
	const char *s;
	int proto;

	if (v->type == SL_NODE_INT) {
		if (!want_uint(d, v, 0, 255, &x))
			return;
		proto = (int)x;
	} else if (v->type == SL_NODE_STR) {
		if (!want_str(d, v, &s))
			return;
		proto = sl_proto_from_name(s);
		if (proto < 0 && s[0] != '\0' && strlen(s) <= 3 &&
		    strspn(s, "0123456789") == strlen(s) && atoi(s) <= 255)
			proto = atoi(s);
		if (proto < 0) {
			derr(d, v,
			     "unknown protocol \"%.40s\" (a name such as tcp, udp, sctp, icmp, icmpv6, gre, esp, ah, or a number 0-255)",
			     s);
			return;
		}
	} else {
		derr(d, v, "expected a protocol name or number, got %s",
		     type_name(v));
		return;
	}
	m->proto = (uint8_t)proto;
	m->fields |= SL_MATCH_PROTO;
}

static bool
parse_port_number(const char *s, size_t len, uint16_t *out)
{
	unsigned int v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

struct range_fields {
	struct sl_port_range r;
	bool from, to;
};

static void
f_range_from(struct dec *d, const struct sl_node *v, void *obj)
{
	struct range_fields *rf = obj;
	uint64_t x;

	if (want_uint(d, v, 0, 65535, &x)) {
		rf->r.lo = (uint16_t)x;
		rf->from = true;
	}
}

static void
f_range_to(struct dec *d, const struct sl_node *v, void *obj)
{
	struct range_fields *rf = obj;
	uint64_t x;

	if (want_uint(d, v, 0, 65535, &x)) {
		rf->r.hi = (uint16_t)x;
		rf->to = true;
	}
}

/* 80, "80", "1024-65535", {from: 1024, to: 65535} */
static bool
decode_port_range(struct dec *d, const struct sl_node *v,
		  struct sl_port_range *out)
{
	struct sl_port_range r;
	uint64_t x;

	if (v->type == SL_NODE_INT) {
		if (!want_uint(d, v, 0, 65535, &x))
			return false;
		r.lo = r.hi = (uint16_t)x;
	} else if (v->type == SL_NODE_STR) {
		const char *s;
		const char *dash;
		size_t a, b;

		if (!want_str(d, v, &s))
			return false;
		dash = strchr(s, '-');
		if (dash == NULL) {
			if (!parse_port_number(s, strlen(s), &r.lo))
				goto bad;
			r.hi = r.lo;
		} else {
			/* Blanks around the dash are fine: "1024 - 2047". */
			a = (size_t)(dash - s);
			while (a > 0 && s[a - 1] == ' ')
				a--;
			dash++;
			while (*dash == ' ')
				dash++;
			b = strlen(dash);
			if (!parse_port_number(s, a, &r.lo) ||
			    !parse_port_number(dash, b, &r.hi))
				goto bad;
		}
	} else if (v->type == SL_NODE_MAP) {
		struct range_fields rf = { 0 };
		uint64_t seen;

		DECODE(d, v, port_range, &rf, &seen);
		if ((seen & (1ull << F_f_range_from)) == 0 ||
		    (seen & (1ull << F_f_range_to)) == 0) {
			derr(d, v, "a port range needs both from and to");
			return false;
		}
		if (!rf.from || !rf.to)
			return false;
		r = rf.r;
	} else {
		derr(d, v,
		     "expected a port, a range \"lo-hi\" or {from, to}, got %s",
		     type_name(v));
		return false;
	}
	if (r.lo > r.hi) {
		derr(d, v, "port range %u-%u is upside down (from must not exceed to)",
		     r.lo, r.hi);
		return false;
	}
	*out = r;
	return true;
bad:
	derr(d, v,
	     "\"%.40s\" is not a port or a port range (80, \"1024-65535\")",
	     v->u.str.s);
	return false;
}

static void
f_rule_sport(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;

	if (decode_port_range(d, v, &m->sport))
		m->fields |= SL_MATCH_SPORT;
}

static void
f_rule_dport(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;

	if (decode_port_range(d, v, &m->dport))
		m->fields |= SL_MATCH_DPORT;
}

static void
f_rule_in_port(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;

	if (take_str(d, v, &m->in_port))
		m->fields |= SL_MATCH_IN_PORT;
}

static void
f_rule_vlan(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;
	uint64_t x;

	if (want_uint(d, v, 0, 4095, &x)) {
		m->vlan = (uint16_t)x;
		m->fields |= SL_MATCH_VLAN;
	}
}

/*
 * A set of names from a table: "a,b" or ["a", "b"] (a single name counts).
 * Refuses unknown and repeated names.  *out gets the OR of their values.
 */
static bool
decode_name_set(struct dec *d, const struct sl_node *v,
		const struct sl_name_value *table, const char *what,
		bool comma_list, unsigned int *out)
{
	unsigned int bits = 0;
	char list[160];

	sl_name_list(table, list, sizeof(list));
	if (v->type == SL_NODE_SEQ) {
		for (size_t i = 0; i < v->u.seq.n; i++) {
			const struct sl_node *it = v->u.seq.items[i];
			size_t old = sl_path_push_index(&d->path, i);
			int val;

			if (want_name(d, it, table, what, &val)) {
				if (bits & (unsigned int)val) {
					derr(d, it, "%s \"%s\" listed twice", what,
					     it->u.str.s);
					sl_path_pop(&d->path, old);
					return false;
				}
				bits |= (unsigned int)val;
			} else {
				sl_path_pop(&d->path, old);
				return false;
			}
			sl_path_pop(&d->path, old);
		}
		*out = bits;
		return true;
	}
	if (v->type == SL_NODE_STR) {
		const char *s;

		if (!want_str(d, v, &s))
			return false;
		while (*s != '\0') {
			size_t len = comma_list ? strcspn(s, ",") : strlen(s);
			char name[32];
			size_t a = 0, b = len;
			int val;

			while (a < b && s[a] == ' ')
				a++;
			while (b > a && s[b - 1] == ' ')
				b--;
			if (b - a >= sizeof(name) || b == a) {
				derr(d, v, "\"%.60s\": expected %s names (%s)",
				     v->u.str.s, what, list);
				return false;
			}
			memcpy(name, s + a, b - a);
			name[b - a] = '\0';
			val = sl_name_lookup(table, name);
			if (val < 0) {
				derr(d, v, "unknown %s \"%s\" (expected one of: %s)",
				     what, name, list);
				return false;
			}
			if (bits & (unsigned int)val) {
				derr(d, v, "%s \"%s\" listed twice", what, name);
				return false;
			}
			bits |= (unsigned int)val;
			s += len;
			if (*s == ',') {
				s++;
				if (*s == '\0') {
					derr(d, v, "\"%.60s\" ends with a comma",
					     v->u.str.s);
					return false;
				}
			}
		}
		*out = bits;
		return true;
	}
	derr(d, v, "expected %s names as a string or a list, got %s", what,
	     type_name(v));
	return false;
}

struct tcp_flags_fields {
	unsigned int flags, mask;
	bool has_flags, has_mask;
};

static void
f_tcp_flags_flags(struct dec *d, const struct sl_node *v, void *obj)
{
	struct tcp_flags_fields *t = obj;

	t->has_flags = decode_name_set(d, v, sl_tcp_flag_names, "TCP flag",
				       true, &t->flags);
}

static void
f_tcp_flags_mask(struct dec *d, const struct sl_node *v, void *obj)
{
	struct tcp_flags_fields *t = obj;

	t->has_mask = decode_name_set(d, v, sl_tcp_flag_names, "TCP flag", true,
				      &t->mask);
}

/* "syn", "syn/syn,ack,rst", "/rst", {flags: [syn], mask: [syn, ack]} */
static void
f_rule_tcp_flags(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;
	struct tcp_flags_fields t = { 0 };

	if (v->type == SL_NODE_STR) {
		const char *s;
		const char *slash;

		if (!want_str(d, v, &s))
			return;
		slash = strchr(s, '/');
		if (slash == NULL) {
			t.has_flags = decode_name_set(d, v, sl_tcp_flag_names,
						      "TCP flag", true, &t.flags);
			if (!t.has_flags)
				return;
		} else {
			/* Decode each half as its own string node. */
			struct sl_node half = *v;
			char *copy = dup_str(d, s);

			if (copy == NULL)
				return;
			copy[slash - s] = '\0';
			half.u.str.s = copy;
			half.u.str.len = strlen(copy);
			t.has_flags = copy[0] == '\0' ||
				decode_name_set(d, &half, sl_tcp_flag_names,
						"TCP flag", true, &t.flags);
			half.u.str.s = copy + (slash - s) + 1;
			half.u.str.len = strlen(half.u.str.s);
			if (t.has_flags && half.u.str.len == 0)
				derr(d, v, "\"%.60s\": the mask after '/' is empty", s);
			else if (t.has_flags)
				t.has_mask = decode_name_set(d, &half,
							     sl_tcp_flag_names,
							     "TCP flag", true,
							     &t.mask);
			free(copy);
			if (!t.has_flags || !t.has_mask)
				return;
		}
	} else if (v->type == SL_NODE_MAP) {
		uint64_t seen;

		DECODE(d, v, tcp_flags, &t, &seen);
		if ((seen & (1ull << F_f_tcp_flags_flags)) == 0) {
			derr(d, v, "tcp_flags needs flags");
			return;
		}
		if (!t.has_flags ||
		    ((seen & (1ull << F_f_tcp_flags_mask)) && !t.has_mask))
			return;
	} else {
		derr(d, v,
		     "expected TCP flags as \"flags/mask\" or {flags, mask}, got %s",
		     type_name(v));
		return;
	}
	m->tcp_flags = (uint8_t)t.flags;
	m->tcp_flags_mask = (uint8_t)(t.has_mask ? t.mask : t.flags);
	m->fields |= SL_MATCH_TCP_FLAGS;
}

static void
f_rule_ct(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;
	unsigned int bits;

	if (v->type == SL_NODE_STR && strchr(v->u.str.s, ',') != NULL) {
		derr(d, v, "list several states as a list: [new, established]");
		return;
	}
	if (!decode_name_set(d, v, sl_ct_state_names, "connection state", false,
			     &bits))
		return;
	m->ct = (uint8_t)bits;
	m->fields |= SL_MATCH_CT;
}

static void
f_payload_literal(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_payload *pl = obj;

	if (take_str(d, v, &pl->pattern))
		pl->kind = SL_PAYLOAD_LITERAL;
}

static void
f_payload_regex(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_payload *pl = obj;

	if (take_str(d, v, &pl->pattern))
		pl->kind = SL_PAYLOAD_REGEX;
}

static void
f_payload_flags(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_payload *pl = obj;
	unsigned int bits;

	if (decode_name_set(d, v, sl_payload_flag_names, "payload flag", false,
			    &bits))
		pl->flags = (uint8_t)bits;
}

static void
f_rule_payload(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_match *m = &((struct sl_rule *)obj)->match;
	struct sl_payload pl = { 0 };
	uint64_t seen;
	uint64_t both = (1ull << F_f_payload_literal) | (1ull << F_f_payload_regex);

	if (!DECODE(d, v, payload, &pl, &seen))
		return;
	if ((seen & both) == both) {
		const struct sl_member *r = member(v, "regex");
		struct sl_node at = { .line = r->line, .col = r->col };

		derr(d, &at, "payload takes literal or regex, not both");
		free(pl.pattern);
		return;
	}
	if ((seen & both) == 0) {
		derr(d, v, "payload needs literal or regex");
		return;
	}
	if (pl.kind == SL_PAYLOAD_NONE) {
		free(pl.pattern);
		return;
	}
	free(m->payload.pattern);
	m->payload = pl;
	m->fields |= SL_MATCH_PAYLOAD;
}

/* ------------------------------------------------------------------------
 * actions
 */

static void
f_act_group(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_action *)obj)->group);
}

static void
f_steer_group(struct dec *d, const struct sl_node *v, void *obj)
{
	f_act_group(d, v, obj);
}

static void
f_act_copies(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	if (want_uint(d, v, 1, SL_POLICY_COPIES_MAX, &x))
		((struct sl_action *)obj)->copies = (uint16_t)x;
}

static void
f_action_replicate(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_action *a = obj;

	a->type = SL_ACTION_REPLICATE;
	a->copies = 1;
	DECODE(d, v, replicate, a, NULL);
}

static void
f_action_steer(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_action *a = obj;

	a->type = SL_ACTION_STEER;
	DECODE(d, v, steer, a, NULL);
}

/* "accept", "drop", {replicate: {group, copies}}, {steer: {group}} */
static void
decode_action(struct dec *d, const struct sl_node *v, struct sl_action *a)
{
	if (v->type == SL_NODE_STR) {
		int type;

		if (!want_name(d, v, sl_action_names, "action", &type))
			return;
		if (type == SL_ACTION_REPLICATE || type == SL_ACTION_STEER) {
			derr(d, v, "\"%s\" needs a group: {%s: {group: NAME%s}}",
			     sl_action_name((uint8_t)type),
			     sl_action_name((uint8_t)type),
			     type == SL_ACTION_REPLICATE ? ", copies: N" : "");
			return;
		}
		a->type = (uint8_t)type;
		return;
	}
	if (v->type == SL_NODE_MAP) {
		struct sl_action tmp = { 0 };
		uint64_t seen;

		if (v->u.map.n != 1) {
			derr(d, v, "an action object holds exactly one of: replicate, steer");
			if (v->u.map.n == 0)
				return;
		}
		DECODE(d, v, action, &tmp, &seen);
		if (v->u.map.n != 1 || tmp.type == SL_ACTION_NONE) {
			free(tmp.group);
			return;
		}
		free(a->group);
		*a = tmp;
		return;
	}
	derr(d, v,
	     "expected an action (accept, drop, {replicate: ...}, {steer: ...}), got %s",
	     type_name(v));
}

static void
f_rule_action(struct dec *d, const struct sl_node *v, void *obj)
{
	decode_action(d, v, &((struct sl_rule *)obj)->action);
}

static void
f_default(struct dec *d, const struct sl_node *v, void *obj)
{
	decode_action(d, v, &((struct sl_policy *)obj)->default_action);
}

/* ------------------------------------------------------------------------
 * routes
 */

static void
nexthop_init(struct dec *d, const struct sl_node *v, void *item)
{
	(void)d;
	(void)v;
	((struct sl_nexthop *)item)->weight = 1;
}

static void
nexthop_item(struct dec *d, const struct sl_node *v, void *item)
{
	DECODE(d, v, nexthop, item, NULL);
}

static void
route_item(struct dec *d, const struct sl_node *v, void *item)
{
	DECODE(d, v, route, item, NULL);
}

static void
f_routes(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_policy *p = obj;

	decode_list(d, v, (void **)&p->routes, &p->n_routes,
		    sizeof(struct sl_route), NULL, route_item);
}

static void
f_route_prefix(struct dec *d, const struct sl_node *v, void *obj)
{
	want_prefix(d, v, SL_PREFIX_NETWORK, &((struct sl_route *)obj)->prefix);
}

static void
f_route_nexthops(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_route *r = obj;

	decode_list(d, v, (void **)&r->nexthops, &r->n_nexthops,
		    sizeof(struct sl_nexthop), nexthop_init, nexthop_item);
}

static void
f_nh_gateway(struct dec *d, const struct sl_node *v, void *obj)
{
	want_prefix(d, v, SL_PREFIX_HOST, &((struct sl_nexthop *)obj)->gateway);
}

static void
f_nh_port(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_nexthop *)obj)->port);
}

static void
f_nh_weight(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	if (want_uint(d, v, 1, SL_POLICY_NEXTHOP_WEIGHT_MAX, &x))
		((struct sl_nexthop *)obj)->weight = (uint16_t)x;
}

/* ------------------------------------------------------------------------
 * groups
 */

static void
group_init(struct dec *d, const struct sl_node *v, void *item)
{
	(void)d;
	(void)v;
	((struct sl_group *)item)->table_size = SL_POLICY_MAGLEV_DEFAULT;
}

static void
group_item(struct dec *d, const struct sl_node *v, void *item)
{
	uint64_t seen;

	if (!DECODE(d, v, group, item, &seen) ||
	    ((struct sl_group *)item)->name == NULL)
		d->broken |= SL_BROKEN_GROUPS;
}

static void
f_groups(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_policy *p = obj;

	if (!decode_list(d, v, (void **)&p->groups, &p->n_groups,
			 sizeof(struct sl_group), group_init, group_item))
		d->broken |= SL_BROKEN_GROUPS;
}

static void
f_group_name(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_group *)obj)->name);
}

static void
f_group_table_size(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	if (!want_uint(d, v, SL_POLICY_MAGLEV_MIN, SL_POLICY_MAGLEV_MAX, &x))
		return;
	if (!sl_is_prime((uint32_t)x)) {
		derr(d, v, "%" PRIu64 " is not prime (Maglev needs a prime table size, such as 65537)",
		     x);
		return;
	}
	((struct sl_group *)obj)->table_size = (uint32_t)x;
}

/*
 * cluster: {kind, vni, udp_port, key}: the tunnel every member's target
 * gets.  Only tunnel kinds: a member is reached over the underlay.
 */
static void
f_group_cluster(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_group *g = obj;
	struct sl_target *t = &g->member;
	uint64_t seen;
	bool vxlan_like;

	memset(t, 0, sizeof(*t));
	t->weight = 1;
	t->state = SL_TARGET_UP;
	if (!DECODE(d, v, cluster, t, &seen))
		return;
	g->cluster = true;
	if ((seen & (1ull << F_f_cluster_kind)) == 0) {
		derr(d, v, "a cluster group needs a kind: {kind: vxlan, vni: N}, "
		     "geneve or gre");
		return;
	}
	if (t->kind == SL_TARGET_PORT) {
		size_t old = sl_path_push_key(&d->path, "kind");

		derr(d, member(v, "kind")->value, "a cluster group's members "
		     "are reached by tunnel: vxlan, geneve or gre, not port");
		sl_path_pop(&d->path, old);
		return;
	}
	vxlan_like = t->kind == SL_TARGET_VXLAN || t->kind == SL_TARGET_GENEVE;
	for (size_t i = 0; i < cluster_n_fields; i++) {
		const char *name = cluster_fields[i].name;
		bool ok = i == F_f_cluster_kind ||
			  (vxlan_like && i != F_f_cluster_key) ||
			  (!vxlan_like && i == F_f_cluster_key);
		size_t old;

		if (ok || (seen & (1ull << i)) == 0)
			continue;
		old = sl_path_push_key(&d->path, name);
		derr(d, member(v, name)->value, "\"%s\" does not apply to a "
		     "%s cluster group", name, sl_target_kind_name(t->kind));
		sl_path_pop(&d->path, old);
	}
	if ((seen & (1ull << F_f_cluster_udp_port)) == 0) {
		if (t->kind == SL_TARGET_VXLAN)
			t->udp_port = SL_POLICY_VXLAN_PORT_DEFAULT;
		else if (t->kind == SL_TARGET_GENEVE)
			t->udp_port = SL_POLICY_GENEVE_PORT_DEFAULT;
	}
}

/* Fields each target kind takes (bits by TARGET_FIELDS index). */
static uint64_t
target_allowed(uint8_t kind)
{
	uint64_t common = (1ull << F_f_target_kind) |
			  (1ull << F_f_target_weight) |
			  (1ull << F_f_target_state);
	uint64_t tunnel = (1ull << F_f_target_remote) |
			  (1ull << F_f_target_local);

	switch (kind) {
	case SL_TARGET_PORT:
		return common | (1ull << F_f_target_port);
	case SL_TARGET_VXLAN:
	case SL_TARGET_GENEVE:
		return common | tunnel | (1ull << F_f_target_vni) |
		       (1ull << F_f_target_udp_port);
	case SL_TARGET_GRE:
		return common | tunnel | (1ull << F_f_target_key);
	default:
		return ~0ull;
	}
}

static void
target_init(struct dec *d, const struct sl_node *v, void *item)
{
	struct sl_target *t = item;

	(void)d;
	(void)v;
	t->weight = 1;
	t->state = SL_TARGET_UP;
}

static void
target_item(struct dec *d, const struct sl_node *v, void *item)
{
	struct sl_target *t = item;
	uint64_t seen, extra;

	if (!DECODE(d, v, target, t, &seen))
		return;
	extra = seen & ~target_allowed(t->kind);
	for (size_t i = 0; i < target_n_fields; i++) {
		const struct sl_member *m;
		struct sl_node at;
		size_t old;

		if ((extra & (1ull << i)) == 0)
			continue;
		m = member(v, target_fields[i].name);
		at.line = m->line;
		at.col = m->col;
		old = sl_path_push_key(&d->path, m->key);
		derr(d, &at, "\"%s\" does not apply to a %s target", m->key,
		     sl_target_kind_name(t->kind));
		sl_path_pop(&d->path, old);
	}
	if ((seen & (1ull << F_f_target_udp_port)) == 0) {
		if (t->kind == SL_TARGET_VXLAN)
			t->udp_port = SL_POLICY_VXLAN_PORT_DEFAULT;
		else if (t->kind == SL_TARGET_GENEVE)
			t->udp_port = SL_POLICY_GENEVE_PORT_DEFAULT;
	}
}

static void
f_group_targets(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_group *g = obj;

	decode_list(d, v, (void **)&g->targets, &g->n_targets,
		    sizeof(struct sl_target), target_init, target_item);
}

static void
f_target_kind(struct dec *d, const struct sl_node *v, void *obj)
{
	int kind;

	if (want_name(d, v, sl_target_kind_names, "target kind", &kind))
		((struct sl_target *)obj)->kind = (uint8_t)kind;
}

static void
f_target_port(struct dec *d, const struct sl_node *v, void *obj)
{
	take_str(d, v, &((struct sl_target *)obj)->port);
}

static void
f_target_remote(struct dec *d, const struct sl_node *v, void *obj)
{
	want_prefix(d, v, SL_PREFIX_HOST, &((struct sl_target *)obj)->remote);
}

static void
f_target_local(struct dec *d, const struct sl_node *v, void *obj)
{
	want_prefix(d, v, SL_PREFIX_HOST, &((struct sl_target *)obj)->local);
}

static void
f_target_vni(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	if (want_uint(d, v, 0, SL_POLICY_VNI_MAX, &x))
		((struct sl_target *)obj)->vni = (uint32_t)x;
}

static void
f_target_udp_port(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	if (want_uint(d, v, 1, 65535, &x))
		((struct sl_target *)obj)->udp_port = (uint16_t)x;
}

static void
f_target_key(struct dec *d, const struct sl_node *v, void *obj)
{
	struct sl_target *t = obj;
	uint64_t x;

	if (want_uint(d, v, 0, UINT32_MAX, &x)) {
		t->key = (uint32_t)x;
		t->has_key = true;
	}
}

static void
f_target_weight(struct dec *d, const struct sl_node *v, void *obj)
{
	uint64_t x;

	if (want_uint(d, v, 1, SL_POLICY_TARGET_WEIGHT_MAX, &x))
		((struct sl_target *)obj)->weight = (uint16_t)x;
}

static void
f_target_state(struct dec *d, const struct sl_node *v, void *obj)
{
	int state;

	if (want_name(d, v, sl_target_state_names, "target state", &state))
		((struct sl_target *)obj)->state = (uint8_t)state;
}

static void
f_cluster_kind(struct dec *d, const struct sl_node *v, void *obj)
{
	f_target_kind(d, v, obj);
}

static void
f_cluster_vni(struct dec *d, const struct sl_node *v, void *obj)
{
	f_target_vni(d, v, obj);
}

static void
f_cluster_udp_port(struct dec *d, const struct sl_node *v, void *obj)
{
	f_target_udp_port(d, v, obj);
}

static void
f_cluster_key(struct dec *d, const struct sl_node *v, void *obj)
{
	f_target_key(d, v, obj);
}

/* ------------------------------------------------------------------------
 * Entry point
 */

int
sl_policy_decode(const struct sl_node *root, struct sl_policy **out,
		 struct sl_policy_errors *errs, unsigned int *broken)
{
	struct dec d = { .errs = errs };
	struct sl_policy *p;

	*out = NULL;
	*broken = 0;
	p = sl_policy_new();
	if (p == NULL)
		return -ENOMEM;
	sl_path_init(&d.path);
	if (root == NULL)
		sl_err_add(errs, "", 1, 1, "the document is empty");
	else
		DECODE(&d, root, policy, p, NULL);
	if (d.rc < 0) {
		sl_policy_free(p);
		return d.rc;
	}
	*out = p;
	*broken = d.broken;
	return 0;
}
