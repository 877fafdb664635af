/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control.h"
#include "log.h"
#include "policy_bind.h"
#include "rep.h"

/* Check p and bind its ports into cfg; on failure cfg is as it was. */
static int
bind_policy(struct dp_control *c, struct dp_config *cfg,
	    const struct sl_policy *p, char *err, size_t err_size)
{
	struct dp_config *saved = malloc(sizeof(*saved));
	int ret;

	if (saved == NULL) {
		sl_errf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	*saved = *cfg;
	ret = dp_policy_check_supported(p, err, err_size);
	if (ret == 0)
		ret = dp_policy_bind(p, cfg, c->port_of, err, err_size);
	if (ret == 0)
		cfg->shared_mbufs = p->n_groups > 0;
	else
		*cfg = *saved;
	free(saved);
	return ret;
}

int
dp_control_load(struct dp_control *c, struct dp_config *cfg)
{
	char err[512];
	int ret;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->policy_file = cfg->policy_file;
	c->next_gen_id = 1;
	if (c->policy_file == NULL)
		return 0;
	fw_build_keep_heap();
	ret = dp_policy_load(c->policy_file, &c->policy);
	if (ret != 0)
		return ret;
	ret = bind_policy(c, cfg, c->policy, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "%s: %s\n", c->policy_file, err);
		sl_policy_free(c->policy);
		c->policy = NULL;
	}
	return ret;
}

int
dp_control_adopt(struct dp_control *c, struct dp_config *cfg,
		 struct sl_policy *p, char *err, size_t err_size)
{
	int ret = -EEXIST;

	if (c->policy != NULL)
		sl_errf(err, err_size, "a policy is already in force");
	else
		ret = bind_policy(c, cfg, p, err, err_size);
	if (ret != 0) {
		sl_policy_free(p);
		return ret;
	}
	fw_build_keep_heap();
	c->policy = p;
	return 0;
}

/* Build the generation of p with the next id; NULL with err set. */
static struct fw_gen *
build_gen(struct dp_control *c, const struct sl_policy *p, char *err,
	  size_t err_size)
{
	uint64_t t0 = rte_rdtsc();
	struct fw_gen *g = fw_build(p, c->port_of, (uint16_t)c->nb_workers,
				    c->next_gen_id, err, err_size);

	if (g == NULL)
		return NULL;
	g->rep = rep_build(p, c->port_of,
			   c->router.rt != NULL ? dp_router_source : NULL,
			   &c->router, err, err_size);
	if (g->rep == NULL) {
		fw_free(g);
		return NULL;
	}
	c->next_gen_id++;
	DP_LOG(INFO, "policy generation %" PRIu64 ": %u rules (%u with "
	       "payload) built in %.1f ms", g->id, g->n_rules,
	       g->n_payload_rules,
	       (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
	return g;
}

static int
create_ct_tables(struct dp_control *c)
{
	const struct sl_settings *s = &c->policy->settings;
	uint32_t per_worker = s->ct_size / c->nb_workers;

	if (!s->ct_enabled)
		return 0;
	for (unsigned int i = 0; i < c->nb_workers; i++) {
		char name[32];
		struct ct_params p = {
			.name = name,
			.socket = (int)rte_lcore_to_socket_id(c->workers[i].lcore),
			/* symmetric RSS splits flows evenly over workers */
			.max_flows = per_worker < 1024 ? 1024 : per_worker,
			.hash_seed = s->flow_hash_seed,
			.timeouts = s->ct_timeouts,
		};

		snprintf(name, sizeof(name), "sl_ct_w%u", i);
		c->workers[i].ct = ct_table_create(&p);
		if (c->workers[i].ct == NULL) {
			DP_LOG(ERR, "connection table of %u flows for worker "
			       "%u: %s", p.max_flows, i, strerror(errno));
			return -ENOMEM;
		}
	}
	DP_LOG(INFO, "conntrack: %u flows per worker", per_worker);
	return 0;
}

/* The routing stage, when the policy has routed ports: the table and the
 * twins, then each worker's view of them. */
static int
start_routing(struct dp_control *c)
{
	const struct sl_settings *s = &c->policy->settings;
	int ret = dp_router_start(&c->router, c->cfg, c->policy, c->port_of,
				  c->run->qs, c->nb_workers);

	if (ret != 0 || c->router.rt == NULL)
		return ret;
	for (unsigned int i = 0; i < c->nb_workers; i++) {
		struct dp_worker *w = &c->workers[i];

		w->rt = c->router.rt;
		w->wantq = rt_wantq(c->router.rt, i);
		w->port_addrs = c->router.addrs;
		w->hash_seed = s->flow_hash_seed;
		icmp_limit_init(&w->icmp, s->rt_icmp_errors);
	}
	return 0;
}

int
dp_control_start(struct dp_control *c, struct dp_run *run,
		 struct dp_worker *workers, unsigned int nb_workers)
{
	size_t sz = rte_rcu_qsbr_get_memsize(nb_workers);
	struct fw_gen *g;
	char err[512];
	int ret;

	c->run = run;
	c->workers = workers;
	c->nb_workers = nb_workers;
	run->qs = rte_zmalloc("sl_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (run->qs == NULL || rte_rcu_qsbr_init(run->qs, nb_workers) != 0) {
		DP_LOG(ERR, "cannot set up RCU for %u workers", nb_workers);
		return -ENOMEM;
	}
	if (c->policy == NULL)
		return 0;
	if (create_ct_tables(c) != 0)
		return -ENOMEM;
	/* Routes first: tunnel targets take their source address from the
	 * route to their remote. */
	ret = start_routing(c);
	if (ret != 0)
		return ret;
	g = build_gen(c, c->policy, err, sizeof(err));
	if (g == NULL) {
		DP_LOG(ERR, "%s: %s", c->policy_file ? c->policy_file :
		       "policy from sluiced", err);
		return -EINVAL;
	}
	__atomic_store_n(&run->fw, g, __ATOMIC_RELEASE);
	return 0;
}

uint64_t
dp_control_fw_id(const struct dp_control *c)
{
	const struct fw_gen *g = c->run != NULL ? c->run->fw : NULL;

	return g != NULL ? g->id : 0;
}

int
dp_control_apply(struct dp_control *c, struct sl_policy *p, char *err,
		 size_t err_size)
{
	struct fw_gen *g, *old;
	uint64_t t0;
	int ret;

	if (c->policy == NULL || c->run == NULL) {
		sl_errf(err, err_size, "no policy in force to replace");
		sl_policy_free(p);
		return -ENOENT;
	}
	ret = dp_policy_check_supported(p, err, err_size);
	if (ret == 0)
		ret = dp_policy_same_ports(c->policy, p, err, err_size);
	if (ret != 0) {
		sl_policy_free(p);
		return ret;
	}
	g = build_gen(c, p, err, err_size);
	if (g == NULL) {
		sl_policy_free(p);
		return -EINVAL;
	}

	/* Publish, wait until no worker can still hold the old generation,
	 * then fold its counters into the new one and free it. */
	t0 = rte_rdtsc();
	old = __atomic_exchange_n(&c->run->fw, g, __ATOMIC_ACQ_REL);
	rte_rcu_qsbr_synchronize(c->run->qs, RTE_QSBR_THRID_INVALID);
	DP_LOG(DEBUG, "apply: grace period %.3f ms",
	       (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
	if (old != NULL) {
		if (fw_carry_counters(g, old) != 0)
			DP_LOG(WARNING, "counters of generation %" PRIu64
			       " lost: out of memory", old->id);
		fw_free(old);
	}
	if (dp_router_apply(&c->router, p, c->port_of) != 0)
		DP_LOG(WARNING, "apply: routing changes partly applied "
		       "(errors above)");
	sl_policy_free(c->policy);
	c->policy = p;
	c->reloads++;
	DP_LOG(INFO, "policy generation %" PRIu64 " in force", g->id);
	return 0;
}

int
dp_control_reload(struct dp_control *c)
{
	struct sl_policy *p = NULL;
	char err[512];
	int ret;

	if (c->policy_file == NULL) {
		DP_LOG(WARNING, "reload: no --policy file to reload");
		return -ENOENT;
	}
	uint64_t t0 = rte_rdtsc();

	ret = dp_policy_load(c->policy_file, &p);
	DP_LOG(DEBUG, "reload: %s loaded in %.1f ms", c->policy_file,
	       (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
	if (ret != 0)
		snprintf(err, sizeof(err), "refused (errors above)");
	else
		ret = dp_control_apply(c, p, err, sizeof(err));
	if (ret != 0)
		DP_LOG(ERR, "reload of %s: %s; keeping generation %" PRIu64,
		       c->policy_file, err, dp_control_fw_id(c));
	return ret;
}

void
dp_control_print_rules(const struct dp_control *c, FILE *out)
{
	const struct fw_gen *g = c->run ? c->run->fw : NULL;

	if (g == NULL)
		return;
	fprintf(out, "rules (generation %" PRIu64 "):\n", g->id);
	fprintf(out, "  %-32s %-8s %14s %16s\n", "id", "action", "packets",
		"bytes");
	for (uint32_t r = 0; r <= g->n_rules; r++) {
		struct fw_rule_counter t = fw_rule_total(g, r);

		fprintf(out, "  %-32.32s %-8s %14" PRIu64 " %16" PRIu64 "\n",
			g->rule_ids[r], sl_action_name(g->rules[r].action),
			t.packets, t.bytes);
	}
	fflush(out);
}

void
dp_control_poll(struct dp_control *c)
{
	dp_router_poll(&c->router);
}

void
dp_control_stop(struct dp_control *c)
{
	dp_router_stop(&c->router);
	if (c->run != NULL) {
		fw_free(c->run->fw);
		c->run->fw = NULL;
		rte_free(c->run->qs);
		c->run->qs = NULL;
	}
	for (unsigned int i = 0; c->workers && i < c->nb_workers; i++) {
		ct_table_free(c->workers[i].ct);
		c->workers[i].ct = NULL;
	}
	sl_policy_free(c->policy);
	c->policy = NULL;
}
