/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The names of enumerated policy values, one table each.  The first name of
 * a value is the canonical one (the encoder writes it); later ones are
 * accepted aliases.  docs/policy.md lists the same names.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy_internal.h"

static const struct sl_name_value proto_names[] = {
	{ "icmp", 1 },
	{ "igmp", 2 },
	{ "ipip", 4 },
	{ "tcp", 6 },
	{ "udp", 17 },
	{ "dccp", 33 },
	{ "ipv6", 41 },
	{ "rsvp", 46 },
	{ "gre", 47 },
	{ "esp", 50 },
	{ "ah", 51 },
	{ "icmpv6", 58 },
	{ "ipv6-icmp", 58 },
	{ "ospf", 89 },
	{ "pim", 103 },
	{ "vrrp", 112 },
	{ "l2tp", 115 },
	{ "sctp", 132 },
	{ "udplite", 136 },
	{ NULL, 0 },
};

const struct sl_name_value sl_tcp_flag_names[] = {
	{ "fin", SL_TCP_FIN },
	{ "syn", SL_TCP_SYN },
	{ "rst", SL_TCP_RST },
	{ "psh", SL_TCP_PSH },
	{ "ack", SL_TCP_ACK },
	{ "urg", SL_TCP_URG },
	{ "ece", SL_TCP_ECE },
	{ "cwr", SL_TCP_CWR },
	{ NULL, 0 },
};

const struct sl_name_value sl_ct_state_names[] = {
	{ "new", SL_CT_NEW },
	{ "established", SL_CT_ESTABLISHED },
	{ "related", SL_CT_RELATED },
	{ "invalid", SL_CT_INVALID },
	{ NULL, 0 },
};

const struct sl_name_value sl_payload_flag_names[] = {
	{ "caseless", SL_PAYLOAD_CASELESS },
	{ "dotall", SL_PAYLOAD_DOTALL },
	{ "multiline", SL_PAYLOAD_MULTILINE },
	{ "utf8", SL_PAYLOAD_UTF8 },
	{ "ucp", SL_PAYLOAD_UCP },
	{ NULL, 0 },
};

const struct sl_name_value sl_action_names[] = {
	{ "accept", SL_ACTION_ACCEPT },
	{ "drop", SL_ACTION_DROP },
	{ "replicate", SL_ACTION_REPLICATE },
	{ "steer", SL_ACTION_STEER },
	{ NULL, 0 },
};

const struct sl_name_value sl_port_mode_names[] = {
	{ "route", SL_PORT_MODE_ROUTE },
	{ "xconnect", SL_PORT_MODE_XCONNECT },
	{ NULL, 0 },
};

const struct sl_name_value sl_target_kind_names[] = {
	{ "port", SL_TARGET_PORT },
	{ "vxlan", SL_TARGET_VXLAN },
	{ "geneve", SL_TARGET_GENEVE },
	{ "gre", SL_TARGET_GRE },
	{ NULL, 0 },
};

const struct sl_name_value sl_target_state_names[] = {
	{ "up", SL_TARGET_UP },
	{ "down", SL_TARGET_DOWN },
	{ "draining", SL_TARGET_DRAINING },
	{ NULL, 0 },
};

int
sl_name_lookup(const struct sl_name_value *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcasecmp(t->name, name) == 0)
			return (int)t->value;
	return -1;
}

const char *
sl_name_of(const struct sl_name_value *t, unsigned int value)
{
	for (; t->name != NULL; t++)
		if (t->value == value)
			return t->name;
	return NULL;
}

void
sl_name_list(const struct sl_name_value *t, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct sl_name_value *e = t; e->name != NULL && n < size; e++) {
		/* Aliases follow their canonical name; list canonical ones. */
		if (e != t && e[-1].value == e->value)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s",
				      e == t ? "" : ", ", e->name);
	}
}

int
sl_proto_from_name(const char *name)
{
	return sl_name_lookup(proto_names, name);
}

const char *
sl_proto_name(uint8_t proto)
{
	return sl_name_of(proto_names, proto);
}

const char *
sl_tcp_flag_name(uint8_t bit)
{
	return sl_name_of(sl_tcp_flag_names, bit);
}

const char *
sl_ct_state_name(uint8_t bit)
{
	return sl_name_of(sl_ct_state_names, bit);
}

const char *
sl_payload_flag_name(uint8_t bit)
{
	return sl_name_of(sl_payload_flag_names, bit);
}

const char *
sl_action_name(uint8_t type)
{
	return sl_name_of(sl_action_names, type);
}

const char *
sl_port_mode_name(uint8_t mode)
{
	return sl_name_of(sl_port_mode_names, mode);
}

const char *
sl_target_kind_name(uint8_t kind)
{
	return sl_name_of(sl_target_kind_names, kind);
}

const char *
sl_target_state_name(uint8_t state)
{
	return sl_name_of(sl_target_state_names, state);
}
