/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The read-only views: status, members, port list, stats.
 */
#include <stdlib.h>
#include <string.h>

#include <sluice/drop_reason.h>

#include "ctl.h"

/* ------------------------------------------------------------------------
 * status
 */

static void
print_dataplane(const json_t *dp)
{
	const json_t *err = json_object_get(dp, "last_error");

	if (!json_is_true(json_object_get(dp, "connected"))) {
		printf("dataplane:   not connected");
	} else {
		printf("dataplane:   connected, pid %lld, running generation "
		       "%lld, %s", ctl_json_int(dp, "pid", -1),
		       ctl_json_int(dp, "policy_generation", -1),
		       json_is_true(json_object_get(dp, "in_sync"))
		       ? "in sync" : "NOT in sync");
	}
	if (json_is_string(err))
		printf(" (last error: %s)", json_string_value(err));
	printf("\n");
}

/* "backend: dpdk", or "backend: xdp on eth1 (native), eth2 (generic)". */
static void
print_backend(const json_t *status)
{
	const json_t *xdp = json_object_get(status, "xdp");
	const json_t *dev;
	size_t i;

	printf("backend:     %s", ctl_json_str(status, "backend", "dpdk"));
	json_array_foreach(json_object_get(xdp, "devices"), i, dev)
		printf("%s%s (%s)", i == 0 ? " on " : ", ",
		       ctl_json_str(dev, "name", "?"),
		       ctl_json_str(dev, "mode", "?"));
	if (json_is_true(json_object_get(xdp, "adopted")))
		printf(", adopted from its pins");
	printf("\n");
}

int
ctl_cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const char *const counted[] = {"ports", "rules", "routes",
					      "groups"};
	struct ctl_reply reply;
	const json_t *j, *cluster, *counts;
	bool printed;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/status", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	j = reply.json;
	cluster = json_object_get(j, "cluster");
	counts = json_object_get(j, "counts");
	printf("version:     %s\n", ctl_json_str(j, "version", "?"));
	printf("generation:  %lld\n", ctl_json_int(j, "generation", -1));
	printf("uptime:      %lld s\n", ctl_json_int(j, "uptime_s", -1));
	printf("state file:  %s\n", ctl_json_str(j, "state_file", "-"));
	print_backend(j);
	print_dataplane(json_object_get(j, "dataplane"));
	printf("cluster:     %s%s\n", ctl_json_str(cluster, "mode", "?"),
	       json_is_true(json_object_get(cluster, "degraded"))
	       ? ", DEGRADED" : "");
	printf("counts:     ");
	for (size_t i = 0; i < sizeof(counted) / sizeof(*counted); i++)
		printf(" %lld %s%s", ctl_json_int(counts, counted[i], 0),
		       counted[i], i + 1 < sizeof(counted) / sizeof(*counted)
		       ? "," : "\n");
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * members
 */

int
ctl_cmd_members(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column cols[] = {
		{"ID", false}, {"STATE", false}, {"SELF", false},
	};
	struct ctl_reply reply;
	struct ctl_table *t;
	const json_t *m;
	bool printed;
	size_t i;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/members", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	printf("mode: %s\n", ctl_json_str(reply.json, "mode", "?"));
	t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(json_object_get(reply.json, "members"), i, m) {
		ctl_table_cell(t, "%s", ctl_json_str(m, "id", "?"));
		ctl_table_cell(t, "%s", ctl_json_str(m, "state", "?"));
		ctl_table_cell(t, "%s", json_is_true(json_object_get(m, "self"))
			       ? "yes" : "");
	}
	ctl_table_print_free(t, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * port list and stats
 */

/* Port counters: the member, its column. */
static const struct {
	const char *member;
	struct ctl_column col;
} port_counters[] = {
	{"rx_packets", {"RX PACKETS", true}},
	{"rx_bytes", {"RX BYTES", true}},
	{"rx_dropped", {"RX DROPPED", true}},
	{"tx_packets", {"TX PACKETS", true}},
	{"tx_bytes", {"TX BYTES", true}},
	{"tx_dropped", {"TX DROPPED", true}},
};
#define N_PORT_COUNTERS (sizeof(port_counters) / sizeof(port_counters[0]))

/* Cells of the counters of one port (obj holds them), "-" where absent. */
static void
counter_cells(struct ctl_table *t, const json_t *obj)
{
	for (size_t c = 0; c < N_PORT_COUNTERS; c++) {
		const json_t *v = json_object_get(obj, port_counters[c].member);

		if (json_is_integer(v))
			ctl_table_cell(t, "%" JSON_INTEGER_FORMAT,
				       json_integer_value(v));
		else
			ctl_table_cell(t, "-");
	}
}

int
ctl_cmd_port_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column fixed[] = {
		{"NAME", false}, {"DEVICE", false}, {"MODE", false},
		{"ADDRESSES", false},
	};
	struct ctl_column cols[4 + N_PORT_COUNTERS];
	struct ctl_reply reply;
	struct ctl_table *t;
	const json_t *ports, *p;
	bool printed, counters = false;
	size_t i, n_cols = 4;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/ports", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	ports = json_object_get(reply.json, "ports");
	json_array_foreach(ports, i, p)
		counters |= json_is_object(json_object_get(p, "counters"));
	memcpy(cols, fixed, sizeof(fixed));
	for (size_t c = 0; counters && c < N_PORT_COUNTERS; c++)
		cols[n_cols++] = port_counters[c].col;

	t = ctl_table_new(cols, n_cols);
	json_array_foreach(ports, i, p) {
		const json_t *dpdk_port = json_object_get(p, "dpdk_port");
		const char *mode = ctl_json_str(p, "mode", "route");
		char *addrs = ctl_json_text(json_object_get(p, "addresses"));

		ctl_table_cell(t, "%s", ctl_json_str(p, "name", "?"));
		if (json_is_integer(dpdk_port))
			ctl_table_cell(t, "port %" JSON_INTEGER_FORMAT,
				       json_integer_value(dpdk_port));
		else
			ctl_table_cell(t, "%s", ctl_json_str(p, "devargs", "-"));
		if (strcmp(mode, "xconnect") == 0)
			ctl_table_cell(t, "xconnect to %s",
				       ctl_json_str(p, "peer", "?"));
		else
			ctl_table_cell(t, "%s", mode);
		ctl_table_cell(t, "%s", addrs ? addrs : "-");
		if (counters)
			counter_cells(t, json_object_get(p, "counters"));
		free(addrs);
	}
	ctl_table_print_free(t, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/* The counters of a stats reply: its "stats" member, or the reply. */
static const json_t *
reply_stats(const json_t *json)
{
	const json_t *stats = json_object_get(json, "stats");

	return json_is_object(stats) ? stats : json;
}

static void
print_port_stats(const json_t *ports)
{
	struct ctl_column cols[1 + N_PORT_COUNTERS] = {{"PORT", false}};
	struct ctl_table *t;
	const json_t *p;
	size_t i;

	for (size_t c = 0; c < N_PORT_COUNTERS; c++)
		cols[1 + c] = port_counters[c].col;
	t = ctl_table_new(cols, 1 + N_PORT_COUNTERS);
	json_array_foreach(ports, i, p) {
		ctl_table_cell(t, "%s", ctl_json_str(p, "name", "?"));
		counter_cells(t, p);
	}
	ctl_table_print_free(t, stdout);
}

/* Only the reasons that counted something: the list is long. */
static void
print_drop_stats(const json_t *drops)
{
	static const struct ctl_column cols[] = {
		{"DROP REASON", false}, {"PACKETS", true}, {"MEANING", false},
	};
	struct ctl_table *t = NULL;
	const char *name;
	const json_t *v;

	json_object_foreach((json_t *)drops, name, v) {
		int r;

		if (!json_is_integer(v) || json_integer_value(v) == 0)
			continue;
		if (t == NULL)
			t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
		r = sl_drop_reason_from_name(name);
		ctl_table_cell(t, "%s", name);
		ctl_table_cell(t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		ctl_table_cell(t, "%s", r > 0 ? sl_drop_reason_desc(
				       (unsigned int)r) : "");
	}
	if (t == NULL)
		printf("drops: none\n");
	else
		ctl_table_print_free(t, stdout);
}

static void
print_rule_stats(const json_t *rules)
{
	static const struct ctl_column cols[] = {
		{"RULE", false}, {"ACTION", false}, {"PACKETS", true},
		{"BYTES", true},
	};
	struct ctl_table *t = ctl_table_new(cols, sizeof(cols) / sizeof(*cols));
	const json_t *r;
	size_t i;

	json_array_foreach(rules, i, r) {
		char *action = ctl_json_text(json_object_get(r, "action"));

		ctl_table_cell(t, "%s", ctl_json_str(r, "id", "?"));
		ctl_table_cell(t, "%s", action ? action : "?");
		ctl_table_cell(t, "%lld", ctl_json_int(r, "packets", 0));
		ctl_table_cell(t, "%lld", ctl_json_int(r, "bytes", 0));
		free(action);
	}
	ctl_table_print_free(t, stdout);
}

/* "name: k v, k v" for an object of counters, when any is non-zero. */
static void
print_counter_line(const char *title, const json_t *obj)
{
	const char *key;
	const json_t *v;
	bool any = false, first = true;

	json_object_foreach((json_t *)obj, key, v)
		any |= json_is_integer(v) && json_integer_value(v) != 0;
	if (!any)
		return;
	printf("%s:", title);
	json_object_foreach((json_t *)obj, key, v) {
		char *s = ctl_json_text(v);

		printf("%s %s %s", first ? "" : ",", key, s ? s : "?");
		first = false;
		free(s);
	}
	printf("\n");
}

int
ctl_cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	const json_t *stats, *rules;
	bool printed;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/stats", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	stats = reply_stats(reply.json);
	print_port_stats(json_object_get(stats, "ports"));
	printf("\n");
	print_drop_stats(json_object_get(stats, "drops"));
	rules = json_object_get(stats, "rules");
	if (json_array_size(rules) > 0) {
		printf("\n");
		print_rule_stats(rules);
	}
	print_counter_line("replication",
			   json_object_get(stats, "replication"));
	print_counter_line("routing", json_object_get(stats, "routing"));
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}
