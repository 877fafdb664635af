/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading the counters: sums over workers, human tables and JSON.  Runs on
 * the main lcore, never per packet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_ethdev.h>

#include "config.h"
#include "counters.h"
#include "fw.h"
#include "router.h"
#include "worker.h"

static void
add_port(struct dp_port_counters *to, const struct dp_port_counters *from)
{
	to->rx_packets += from->rx_packets;
	to->rx_bytes += from->rx_bytes;
	to->rx_dropped += from->rx_dropped;
	to->tx_packets += from->tx_packets;
	to->tx_bytes += from->tx_bytes;
	to->tx_dropped += from->tx_dropped;
}

void
dp_counters_sum(const struct dp_worker *workers, unsigned int nb_workers,
		struct dp_counters *total)
{
	memset(total, 0, sizeof(*total));
	for (unsigned int w = 0; w < nb_workers; w++) {
		const struct dp_counters *c = &workers[w].ctr;

		for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++)
			add_port(&total->port[p], &c->port[p]);
		for (unsigned int r = 0; r < SL_DROP_MAX; r++)
			total->drops[r] += c->drops[r];
		total->rep_copies += c->rep_copies;
		total->rep_short += c->rep_short;
		total->rep_failed += c->rep_failed;
		total->rep_steered += c->rep_steered;
	}
}

/* Totals of one worker over all ports. */
static struct dp_port_counters
worker_totals(const struct dp_worker *w)
{
	struct dp_port_counters t = { 0 };

	for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++)
		add_port(&t, &w->ctr.port[p]);
	return t;
}

void
dp_counters_print(FILE *out, const struct dp_config *cfg,
		  const struct dp_worker *workers, unsigned int nb_workers)
{
	struct dp_counters total;

	dp_counters_sum(workers, nb_workers, &total);

	fprintf(out, "%-4s %-20s %12s %14s %10s %12s %14s %10s\n", "port",
		"name", "rx_packets", "rx_bytes", "rx_drop", "tx_packets",
		"tx_bytes", "tx_drop");
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		uint16_t p = cfg->ports[i];
		const struct dp_port_counters *pc = &total.port[p];

		fprintf(out,
			"%-4u %-20.20s %12" PRIu64 " %14" PRIu64 " %10" PRIu64
			" %12" PRIu64 " %14" PRIu64 " %10" PRIu64 "\n",
			p, cfg->port_name[p], pc->rx_packets, pc->rx_bytes, pc->rx_dropped,
			pc->tx_packets, pc->tx_bytes, pc->tx_dropped);
	}

	fprintf(out, "%-6s %-5s %12s %12s %10s\n", "worker", "lcore",
		"rx_packets", "tx_packets", "drops");
	for (unsigned int w = 0; w < nb_workers; w++) {
		struct dp_port_counters t = worker_totals(&workers[w]);

		fprintf(out, "%-6u %-5u %12" PRIu64 " %12" PRIu64 " %10" PRIu64
			"\n", w, workers[w].lcore, t.rx_packets, t.tx_packets,
			t.rx_dropped + t.tx_dropped);
	}

	fprintf(out, "drop reasons:");
	bool any = false;
	for (unsigned int r = 1; r < SL_DROP_MAX; r++) {
		if (total.drops[r] == 0)
			continue;
		fprintf(out, "\n  %-24s %12" PRIu64 "  %s", sl_drop_reason_name(r),
			total.drops[r], sl_drop_reason_desc(r));
		any = true;
	}
	fprintf(out, "%s\n", any ? "" : " none");
	if (total.rep_copies || total.rep_short || total.rep_failed ||
	    total.rep_steered)
		fprintf(out, "replication: copies %" PRIu64 ", short %" PRIu64
			", failed %" PRIu64 ", steered %" PRIu64 "\n",
			total.rep_copies, total.rep_short, total.rep_failed,
			total.rep_steered);
	fflush(out);
}

static json_t *
port_json(uint16_t port, const char *name, const struct dp_port_counters *pc)
{
	return json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "id", (int)port, "name", name,
			 "rx_packets", (json_int_t)pc->rx_packets,
			 "rx_bytes", (json_int_t)pc->rx_bytes,
			 "rx_dropped", (json_int_t)pc->rx_dropped,
			 "tx_packets", (json_int_t)pc->tx_packets,
			 "tx_bytes", (json_int_t)pc->tx_bytes,
			 "tx_dropped", (json_int_t)pc->tx_dropped);
}

static json_t *
rules_json(const struct fw_gen *g)
{
	json_t *rules = json_array();

	for (uint32_t r = 0; r <= g->n_rules; r++) {
		struct fw_rule_counter t = fw_rule_total(g, r);

		json_array_append_new(rules, json_pack(
			"{s:s, s:s, s:I, s:I}", "id", g->rule_ids[r],
			"action", sl_action_name(g->rules[r].action),
			"packets", (json_int_t)t.packets,
			"bytes", (json_int_t)t.bytes));
	}
	return rules;
}

json_t *
dp_counters_json(const struct dp_config *cfg, const struct dp_worker *workers,
		 unsigned int nb_workers, const struct dp_report *rep)
{
	struct dp_counters total;
	json_t *root = json_object();
	json_t *ports = json_array();
	json_t *wks = json_array();
	json_t *drops = json_object();

	if (root == NULL || ports == NULL || wks == NULL || drops == NULL) {
		json_decref(root);
		json_decref(ports);
		json_decref(wks);
		json_decref(drops);
		return NULL;
	}
	dp_counters_sum(workers, nb_workers, &total);
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		uint16_t port = cfg->ports[i];
		json_t *pj = port_json(port, cfg->port_name[port],
				       &total.port[port]);

		for (size_t k = 0; rep->policy != NULL && rep->port_of != NULL &&
		     k < rep->policy->n_ports; k++)
			if (rep->port_of[k] == port)
				json_object_set_new(pj, "port", json_string(
					rep->policy->ports[k].name));
		json_array_append_new(ports, pj);
	}
	for (unsigned int w = 0; w < nb_workers; w++) {
		struct dp_port_counters t = worker_totals(&workers[w]);

		json_array_append_new(wks, json_pack(
			"{s:i, s:i, s:I, s:I, s:I}", "index", (int)w,
			"lcore", (int)workers[w].lcore,
			"rx_packets", (json_int_t)t.rx_packets,
			"tx_packets", (json_int_t)t.tx_packets,
			"drops", (json_int_t)(t.rx_dropped + t.tx_dropped)));
	}
	for (unsigned int r = 1; r < SL_DROP_MAX; r++)
		json_object_set_new(drops, sl_drop_reason_name(r),
				    json_integer((json_int_t)total.drops[r]));

	json_object_set_new(root, "ports", ports);
	json_object_set_new(root, "workers", wks);
	json_object_set_new(root, "drops", drops);
	json_object_set_new(root, "replication", json_pack(
		"{s:I, s:I, s:I, s:I}", "copies", (json_int_t)total.rep_copies,
		"short", (json_int_t)total.rep_short,
		"failed", (json_int_t)total.rep_failed,
		"steered", (json_int_t)total.rep_steered));
	json_object_set_new(root, "mempool",
			    json_pack("{s:i, s:i}", "size", (int)rep->mempool_size,
				      rep->live ? "available" :
				      "available_at_exit",
				      (int)rep->mempool_avail));
	if (rep->router != NULL && rep->router->rt != NULL) {
		struct rt_stats st;

		rt_stats(rep->router->rt, &st);
		json_object_set_new(root, "routing", json_pack(
			"{s:i, s:i, s:i, s:i, s:i, s:i, s:I}",
			"ipv4", (int)st.prefixes[0], "ipv6", (int)st.prefixes[1],
			"connected", (int)(st.routes[0][RT_SRC_CONNECTED] +
					   st.routes[1][RT_SRC_CONNECTED]),
			"static", (int)(st.routes[0][RT_SRC_STATIC] +
					st.routes[1][RT_SRC_STATIC]),
			"kernel", (int)(st.routes[0][RT_SRC_KERNEL] +
					st.routes[1][RT_SRC_KERNEL]),
			"neighbours", (int)st.neighbours,
			"kernel_not_mirrored",
			(json_int_t)rep->router->kernel_skipped));
	}
	if (rep->fw != NULL) {
		json_object_set_new(root, "rules", rules_json(rep->fw));
		json_object_set_new(root, "policy", json_pack(
			"{s:I, s:i}", "generation", (json_int_t)rep->fw->id,
			"reloads", (int)rep->reloads));
	}
	return root;
}

int
dp_counters_write_json(const char *path, const struct dp_config *cfg,
		       const struct dp_worker *workers, unsigned int nb_workers,
		       const struct dp_report *rep)
{
	char tmp[4096];
	json_t *root;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	root = dp_counters_json(cfg, workers, nb_workers, rep);
	if (root == NULL)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (json_dumpfd(root, fd, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0)
		ret = errno ? -errno : -EIO;
	if (close(fd) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != 0)
		unlink(tmp);
out:
	json_decref(root);
	return ret;
}
