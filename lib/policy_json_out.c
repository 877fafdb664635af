/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy model -> canonical JSON.  Keys go in schema order (the order of the
 * field tables in policy_decode.c); fields with a default are always
 * written; optional fields, and optional lists that are empty, are left out.
 * Values take one form each: prefixes with their length, a single port as a
 * number and a range as "lo-hi", protocols by name where they have one,
 * TCP flags as "flags/mask", connection states as a list, 64-bit numbers as
 * integers up to 2^63-1 and as "0x..." strings above.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy_internal.h"

/* Builds an object; remembers whether any value could not be made. */
struct enc {
	bool failed;
};

/* Both steal value, as jansson's *_new calls do, even on failure. */
static void
set(struct enc *e, json_t *obj, const char *key, json_t *value)
{
	if (obj == NULL) {
		json_decref(value);
		e->failed = true;
	} else if (value == NULL || json_object_set_new(obj, key, value) < 0) {
		e->failed = true;
	}
}

static void
append(struct enc *e, json_t *arr, json_t *value)
{
	if (arr == NULL) {
		json_decref(value);
		e->failed = true;
	} else if (value == NULL || json_array_append_new(arr, value) < 0) {
		e->failed = true;
	}
}

static json_t *
str_json(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
u64_json(uint64_t v)
{
	char buf[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
	return json_string(buf);
}

static json_t *
prefix_json(const struct sl_prefix *p, bool with_len)
{
	char buf[SL_PREFIX_STRLEN];

	return json_string(sl_prefix_format(p, with_len, buf));
}

static json_t *
range_json(const struct sl_port_range *r)
{
	char buf[16];

	if (r->lo == r->hi)
		return json_integer(r->lo);
	snprintf(buf, sizeof(buf), "%u-%u", r->lo, r->hi);
	return json_string(buf);
}

static json_t *
bits_json(struct enc *e, const struct sl_name_value *table, unsigned int bits)
{
	json_t *arr = json_array();

	for (const struct sl_name_value *n = table; n->name != NULL; n++)
		if (bits & n->value)
			append(e, arr, json_string(n->name));
	return arr;
}

static json_t *
action_json(struct enc *e, const struct sl_action *a)
{
	json_t *obj, *inner;

	switch (a->type) {
	case SL_ACTION_ACCEPT:
	case SL_ACTION_DROP:
		return json_string(sl_action_name(a->type));
	case SL_ACTION_REPLICATE:
	case SL_ACTION_STEER:
		obj = json_object();
		inner = json_object();
		set(e, inner, "group", str_json(a->group));
		if (a->type == SL_ACTION_REPLICATE)
			set(e, inner, "copies", json_integer(a->copies));
		set(e, obj, sl_action_name(a->type), inner);
		return obj;
	default:
		return json_null();
	}
}

static json_t *
rule_json(struct enc *e, const struct sl_rule *r, bool with_id)
{
	const struct sl_match *m = &r->match;
	json_t *obj = json_object();
	char buf[64];

	if (with_id) {
		set(e, obj, "id", str_json(r->id));
		if (r->comment != NULL)
			set(e, obj, "comment", json_string(r->comment));
	}
	if (m->fields & SL_MATCH_SRC)
		set(e, obj, "src", prefix_json(&m->src, true));
	if (m->fields & SL_MATCH_DST)
		set(e, obj, "dst", prefix_json(&m->dst, true));
	if (m->fields & SL_MATCH_PROTO) {
		const char *name = sl_proto_name(m->proto);

		set(e, obj, "proto", name != NULL ? json_string(name) :
						    json_integer(m->proto));
	}
	if (m->fields & SL_MATCH_SPORT)
		set(e, obj, "sport", range_json(&m->sport));
	if (m->fields & SL_MATCH_DPORT)
		set(e, obj, "dport", range_json(&m->dport));
	if (m->fields & SL_MATCH_IN_PORT)
		set(e, obj, "in_port", str_json(m->in_port));
	if (m->fields & SL_MATCH_VLAN)
		set(e, obj, "vlan", json_integer(m->vlan));
	if (m->fields & SL_MATCH_TCP_FLAGS) {
		sl_tcp_flags_format(m->tcp_flags, m->tcp_flags_mask, buf,
				    sizeof(buf));
		set(e, obj, "tcp_flags", json_string(buf));
	}
	if (m->fields & SL_MATCH_CT)
		set(e, obj, "ct", bits_json(e, sl_ct_state_names, m->ct));
	if (m->fields & SL_MATCH_PAYLOAD) {
		json_t *pl = json_object();

		set(e, pl, m->payload.kind == SL_PAYLOAD_REGEX ? "regex" :
								 "literal",
		    str_json(m->payload.pattern));
		if (m->payload.flags != 0)
			set(e, pl, "flags", bits_json(e, sl_payload_flag_names,
						      m->payload.flags));
		set(e, obj, "payload", pl);
	}
	set(e, obj, "action", action_json(e, &r->action));
	return obj;
}

json_t *
sl_rule_to_json(const struct sl_rule *r, bool with_id)
{
	struct enc e = { false };
	json_t *obj = rule_json(&e, r, with_id);

	if (e.failed) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
settings_json(struct enc *e, const struct sl_settings *s)
{
	json_t *obj = json_object();
	json_t *ct = json_object();
	json_t *to = json_object();
	json_t *rt = json_object();

	set(e, obj, "flow_hash_seed", u64_json(s->flow_hash_seed));
	set(e, ct, "enabled", json_boolean(s->ct_enabled));
	set(e, ct, "size", json_integer(s->ct_size));
#define SL_CT_TIMEOUT_ENC_(name, dflt) \
	set(e, to, #name, json_integer(s->ct_timeouts.name));
	SL_CT_TIMEOUTS(SL_CT_TIMEOUT_ENC_)
#undef SL_CT_TIMEOUT_ENC_
	set(e, ct, "timeouts", to);
	set(e, obj, "conntrack", ct);
	set(e, rt, "kernel_table", json_integer(s->rt_kernel_table));
	set(e, rt, "icmp_errors", json_integer(s->rt_icmp_errors));
	set(e, rt, "max_routes_ipv4", json_integer(s->rt_max_routes_ipv4));
	set(e, rt, "max_routes_ipv6", json_integer(s->rt_max_routes_ipv6));
	set(e, obj, "routing", rt);
	return obj;
}

static json_t *
port_json(struct enc *e, const struct sl_port *port)
{
	json_t *obj = json_object();

	set(e, obj, "name", str_json(port->name));
	if (port->has_dpdk_port)
		set(e, obj, "dpdk_port", json_integer(port->dpdk_port));
	if (port->devargs != NULL)
		set(e, obj, "devargs", json_string(port->devargs));
	set(e, obj, "mode", str_json(sl_port_mode_name(port->mode)));
	if (port->peer != NULL)
		set(e, obj, "peer", json_string(port->peer));
	if (port->n_addrs > 0) {
		json_t *arr = json_array();

		for (size_t i = 0; i < port->n_addrs; i++)
			append(e, arr, prefix_json(&port->addrs[i], true));
		set(e, obj, "addresses", arr);
	}
	return obj;
}

static json_t *
route_json(struct enc *e, const struct sl_route *r)
{
	json_t *obj = json_object();
	json_t *arr = json_array();

	set(e, obj, "prefix", prefix_json(&r->prefix, true));
	for (size_t i = 0; i < r->n_nexthops; i++) {
		const struct sl_nexthop *nh = &r->nexthops[i];
		json_t *o = json_object();

		if (nh->gateway.family != SL_FAMILY_NONE)
			set(e, o, "gateway", prefix_json(&nh->gateway, false));
		set(e, o, "port", str_json(nh->port));
		set(e, o, "weight", json_integer(nh->weight));
		append(e, arr, o);
	}
	set(e, obj, "nexthops", arr);
	return obj;
}

static json_t *
target_json(struct enc *e, const struct sl_target *t)
{
	json_t *obj = json_object();
	bool tunnel = t->kind == SL_TARGET_VXLAN || t->kind == SL_TARGET_GENEVE ||
		      t->kind == SL_TARGET_GRE;

	set(e, obj, "kind", str_json(sl_target_kind_name(t->kind)));
	if (t->kind == SL_TARGET_PORT)
		set(e, obj, "port", str_json(t->port));
	if (tunnel) {
		set(e, obj, "remote", prefix_json(&t->remote, false));
		if (t->local.family != SL_FAMILY_NONE)
			set(e, obj, "local", prefix_json(&t->local, false));
	}
	if (t->kind == SL_TARGET_VXLAN || t->kind == SL_TARGET_GENEVE) {
		set(e, obj, "vni", json_integer(t->vni));
		set(e, obj, "udp_port", json_integer(t->udp_port));
	}
	if (t->kind == SL_TARGET_GRE && t->has_key)
		set(e, obj, "key", json_integer(t->key));
	set(e, obj, "weight", json_integer(t->weight));
	set(e, obj, "state", str_json(sl_target_state_name(t->state)));
	return obj;
}

static json_t *
group_json(struct enc *e, const struct sl_group *g)
{
	json_t *obj = json_object();
	json_t *arr = json_array();

	set(e, obj, "name", str_json(g->name));
	set(e, obj, "table_size", json_integer(g->table_size));
	if (g->cluster) {
		const struct sl_target *t = &g->member;
		json_t *c = json_object();

		set(e, c, "kind", str_json(sl_target_kind_name(t->kind)));
		if (t->kind == SL_TARGET_VXLAN || t->kind == SL_TARGET_GENEVE) {
			set(e, c, "vni", json_integer(t->vni));
			set(e, c, "udp_port", json_integer(t->udp_port));
		}
		if (t->kind == SL_TARGET_GRE && t->has_key)
			set(e, c, "key", json_integer(t->key));
		set(e, obj, "cluster", c);
	}
	for (size_t i = 0; i < g->n_targets; i++)
		append(e, arr, target_json(e, &g->targets[i]));
	/* A cluster group's targets are derived: none in the operator's
	 * document, the live members in the one pushed to a dataplane. */
	if (g->cluster && g->n_targets == 0)
		json_decref(arr);
	else
		set(e, obj, "targets", arr);
	return obj;
}

char *
sl_policy_to_json(const struct sl_policy *p, unsigned int flags)
{
	struct enc e = { false };
	json_t *root = json_object();
	json_t *arr;
	char *text;

	set(&e, root, "version", json_integer(SL_POLICY_VERSION));
	set(&e, root, "generation", u64_json(p->generation));
	set(&e, root, "settings", settings_json(&e, &p->settings));

	arr = json_array();
	for (size_t i = 0; i < p->n_ports; i++)
		append(&e, arr, port_json(&e, &p->ports[i]));
	set(&e, root, "ports", arr);

	arr = json_array();
	for (size_t i = 0; i < p->n_rules; i++)
		append(&e, arr, rule_json(&e, &p->rules[i], true));
	set(&e, root, "rules", arr);

	set(&e, root, "default", action_json(&e, &p->default_action));

	arr = json_array();
	for (size_t i = 0; i < p->n_routes; i++)
		append(&e, arr, route_json(&e, &p->routes[i]));
	set(&e, root, "routes", arr);

	arr = json_array();
	for (size_t i = 0; i < p->n_groups; i++)
		append(&e, arr, group_json(&e, &p->groups[i]));
	set(&e, root, "groups", arr);

	if (e.failed) {
		json_decref(root);
		errno = EINVAL;
		return NULL;
	}
	text = json_dumps(root, (flags & SL_POLICY_JSON_COMPACT) ?
					JSON_COMPACT : JSON_INDENT(2));
	json_decref(root);
	if (text == NULL)
		errno = ENOMEM;
	return text;
}
