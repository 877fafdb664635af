/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GET /metrics: Prometheus text format (exposition format 0.0.4).
 * sluiced's own gauges always; the dataplane's counters when one is
 * connected and answers.  docs/metrics.md lists every metric; a test keeps
 * that list and this file in step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

struct out {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

static void
outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 8192;
		char *b;

		while (cap - o->len <= (size_t)n)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (b == NULL) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static void
help(struct out *o, const char *name, const char *type, const char *text)
{
	outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* A label value with \, " and newline escaped. */
static const char *
label(const char *s, char *buf, size_t size)
{
	size_t j = 0;

	for (; s != NULL && *s != '\0' && j + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			buf[j++] = '\\';
			buf[j++] = *s;
		} else if (*s == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = *s;
		}
	}
	buf[j] = '\0';
	return buf;
}

static json_int_t
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
sluiced_metrics(struct out *o, const struct sluiced *sd)
{
	const struct sd_api_counters *ac = sd_api_counters(sd);
	static const char *const classes[] = { "", "", "2xx", "3xx", "4xx",
					       "5xx" };

	help(o, "sluice_up", "gauge", "1 while sluiced runs");
	outf(o, "sluice_up 1\n");
	help(o, "sluice_generation", "gauge",
	     "generation of the desired state");
	outf(o, "sluice_generation %llu\n",
	     (unsigned long long)sd->st.policy->generation);
	help(o, "sluice_dataplane_connected", "gauge",
	     "1 while a dataplane is connected");
	outf(o, "sluice_dataplane_connected %d\n", sd_dp_connected(sd));
	help(o, "sluice_dataplane_in_sync", "gauge",
	     "1 when the dataplane runs the desired generation");
	outf(o, "sluice_dataplane_in_sync %d\n", sd_dp_in_sync(sd));
	help(o, "sluice_cluster_degraded", "gauge",
	     "1 while a clustered node cannot reach etcd");
	outf(o, "sluice_cluster_degraded %d\n", sd_cluster_degraded(sd));
	help(o, "sluice_cluster_members", "gauge",
	     "live cluster members this node knows (1 on a single node)");
	outf(o, "sluice_cluster_members %zu\n", sd_cluster_n_members(sd));
	help(o, "sluice_cluster_member_changes_total", "counter",
	     "changes of the member set seen since start");
	outf(o, "sluice_cluster_member_changes_total %llu\n",
	     (unsigned long long)sd_cluster_changes(sd));
	help(o, "sluice_cluster_shared_revision", "gauge",
	     "etcd revision of the shared desired state in force (0: none)");
	outf(o, "sluice_cluster_shared_revision %lld\n",
	     (long long)sd_shared_revision(sd));
	help(o, "sluice_cluster_shared_refused", "gauge",
	     "1 while the latest shared state is refused on this node");
	outf(o, "sluice_cluster_shared_refused %d\n", sd_shared_in_error(sd));
	help(o, "sluice_cluster_shared_applies_total", "counter",
	     "shared states taken from etcd since start");
	outf(o, "sluice_cluster_shared_applies_total %llu\n",
	     (unsigned long long)sd_shared_applied(sd));
	help(o, "sluice_cluster_shared_refusals_total", "counter",
	     "shared states refused on this node since start");
	outf(o, "sluice_cluster_shared_refusals_total %llu\n",
	     (unsigned long long)sd_shared_refused(sd));
	help(o, "sluice_config_applies_total", "counter",
	     "changes of the desired state accepted since start");
	outf(o, "sluice_config_applies_total %llu\n",
	     (unsigned long long)sd->applies);
	help(o, "sluice_config_refused_total", "counter",
	     "changes refused as invalid or conflicting since start");
	outf(o, "sluice_config_refused_total %llu\n",
	     (unsigned long long)sd->refused);
	help(o, "sluice_api_requests_total", "counter",
	     "API requests answered, by status class");
	for (int i = 2; i < 6; i++)
		outf(o, "sluice_api_requests_total{class=\"%s\"} %llu\n",
		     classes[i], (unsigned long long)ac->requests[i]);
	help(o, "sluice_rules", "gauge", "firewall rules in the state");
	outf(o, "sluice_rules %zu\n", sd->st.policy->n_rules);
	help(o, "sluice_routes", "gauge", "static routes in the state");
	outf(o, "sluice_routes %zu\n", sd->st.policy->n_routes);
}

/* Port counters: name in the JSON, metric suffix. */
static const char *const port_fields[][2] = {
	{ "rx_packets", "sluice_port_rx_packets_total" },
	{ "rx_bytes", "sluice_port_rx_bytes_total" },
	{ "rx_dropped", "sluice_port_rx_dropped_total" },
	{ "tx_packets", "sluice_port_tx_packets_total" },
	{ "tx_bytes", "sluice_port_tx_bytes_total" },
	{ "tx_dropped", "sluice_port_tx_dropped_total" },
};

/* A port's policy name, else its DPDK device name. */
static const char *
port_label(json_t *port)
{
	const char *name = json_string_value(json_object_get(port, "port"));

	return name != NULL ? name :
	       json_string_value(json_object_get(port, "name"));
}

static void
dataplane_metrics(struct out *o, json_t *stats)
{
	char lb[256];
	const char *key;
	json_t *v;
	size_t i;

	for (size_t f = 0; f < sizeof(port_fields) / sizeof(port_fields[0]);
	     f++) {
		help(o, port_fields[f][1], "counter", "per port, from the "
		     "dataplane's workers");
		json_array_foreach(json_object_get(stats, "ports"), i, v)
			outf(o, "%s{port=\"%s\"} %lld\n", port_fields[f][1],
			     label(port_label(v), lb, sizeof(lb)),
			     (long long)num(v, port_fields[f][0]));
	}
	help(o, "sluice_drops_total", "counter",
	     "packets dropped, by reason (docs/firewall.md)");
	json_object_foreach(json_object_get(stats, "drops"), key, v)
		outf(o, "sluice_drops_total{reason=\"%s\"} %lld\n",
		     label(key, lb, sizeof(lb)),
		     (long long)json_integer_value(v));
	help(o, "sluice_rule_packets_total", "counter",
	     "packets that matched a rule (default: the default action)");
	json_array_foreach(json_object_get(stats, "rules"), i, v)
		outf(o, "sluice_rule_packets_total{rule=\"%s\"} %lld\n",
		     label(json_string_value(json_object_get(v, "id")), lb,
			   sizeof(lb)), (long long)num(v, "packets"));
	help(o, "sluice_rule_bytes_total", "counter",
	     "bytes of the packets that matched a rule");
	json_array_foreach(json_object_get(stats, "rules"), i, v)
		outf(o, "sluice_rule_bytes_total{rule=\"%s\"} %lld\n",
		     label(json_string_value(json_object_get(v, "id")), lb,
			   sizeof(lb)), (long long)num(v, "bytes"));
	json_t *rep = json_object_get(stats, "replication");

	help(o, "sluice_replication_copies_total", "counter",
	     "replicated copies sent");
	outf(o, "sluice_replication_copies_total %lld\n",
	     (long long)num(rep, "copies"));
	help(o, "sluice_replication_failed_total", "counter",
	     "copies not made (no mbuf, no outer route)");
	outf(o, "sluice_replication_failed_total %lld\n",
	     (long long)num(rep, "failed"));
	help(o, "sluice_steered_total", "counter",
	     "packets steered to a group target");
	outf(o, "sluice_steered_total %lld\n", (long long)num(rep, "steered"));
	json_t *mp = json_object_get(stats, "mempool");

	help(o, "sluice_mbufs_available", "gauge",
	     "mbufs free in the dataplane's pools");
	outf(o, "sluice_mbufs_available %lld\n",
	     (long long)num(mp, "available"));
}

static void
metrics_done(struct sd_call *c, json_t *reply, const char *body,
	     size_t len, const char *error)
{
	struct out o = { 0 };

	(void)body;
	(void)len;
	(void)error;
	sluiced_metrics(&o, c->sd);
	if (reply != NULL && json_is_true(json_object_get(reply, "ok")))
		dataplane_metrics(&o, json_object_get(reply, "stats"));
	if (o.oom) {
		free(o.buf);
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return;
	}
	c->status = 200;
	c->text = o.buf;
	c->text_len = o.len;
	c->content_type = "text/plain; version=0.0.4";
}

void
sd_metrics(struct sd_call *c)
{
	if (c->sd->backend != NULL) {
		/* In-process: the same families, read from the program. */
		json_t *stats = c->sd->backend->stats(c->sd);
		json_t *reply = json_pack("{s:b, s:o*}", "ok", stats != NULL,
					  "stats", stats);

		metrics_done(c, reply, NULL, 0, NULL);
		json_decref(reply);
		return;
	}
	if (!sd_dp_connected(c->sd)) {
		metrics_done(c, NULL, NULL, 0, NULL);
		return;
	}
	sd_defer(c, "stats", json_object(), 5000, metrics_done);
}
