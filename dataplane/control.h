/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control thread side of a policy: load it, build a
 * firewall generation, publish it to the workers and retire the one it
 * replaces after an RCU grace period.  Runs on the main lcore only.
 *
 * The same apply path (dp_control_apply) serves SIGHUP reloads and pushes
 * from sluiced (controller.c): a document is validated and compiled whole
 * before anything changes; a refused one leaves the running generation
 * untouched.
 */
#ifndef SLUICE_DP_CONTROL_H
#define SLUICE_DP_CONTROL_H

#include <stdint.h>
#include <stdio.h>

#include "sluice/policy.h"

#include "config.h"
#include "fw.h"
#include "router.h"
#include "worker.h"

struct dp_control {
	const char *policy_file;	/* NULL: none (forward all, or the
					 * policy comes from sluiced) */
	struct sl_policy *policy;	/* in force */
	uint16_t port_of[RTE_MAX_ETHPORTS];	/* policy port -> DPDK port */
	uint64_t next_gen_id;
	unsigned int reloads;		/* generations published since start */
	struct dp_run *run;
	struct dp_worker *workers;
	unsigned int nb_workers;
	const struct dp_config *cfg;	/* the resolved configuration */
	struct dp_router router;	/* routed ports: routes, twins */
};

/*
 * Reset c, then load cfg->policy_file (if any) and bind its ports into
 * cfg, before the configuration is resolved.  Returns 0 or -errno after
 * printing why.
 */
int dp_control_load(struct dp_control *c, struct dp_config *cfg);

/*
 * Make p (a valid policy, from sluiced's first push) the policy of a
 * dataplane that has none yet, as if --policy had named it: check it,
 * bind its ports into cfg.  Takes p: on success it is c->policy, on
 * failure it is freed, cfg is as it was and err says why (-ENOTSUP,
 * -EINVAL, -EEXIST when c already has a policy).  Before the
 * configuration is resolved only.
 */
int dp_control_adopt(struct dp_control *c, struct dp_config *cfg,
		     struct sl_policy *p, char *err, size_t err_size);

/*
 * Create the RCU state, the first generation and, when the policy enables
 * it, a connection table per worker.  Returns 0 or -errno after printing
 * why.
 */
int dp_control_start(struct dp_control *c, struct dp_run *run,
		     struct dp_worker *workers, unsigned int nb_workers);

/*
 * Make p the policy in force, the one path for SIGHUP reloads and pushes:
 * refuse what this build cannot enforce and what would need a restart
 * (other ports, conntrack sizes...), build a generation, publish it, wait
 * out the RCU grace period, carry the rule counters over, free the old
 * generation and apply the routing changes.  Takes p: on success it is
 * c->policy; on failure it is freed, the old generation stays in force and
 * err says why.  Logs nothing on failure (the caller knows the source).
 * Returns 0, -ENOTSUP, -EINVAL (refused or does not compile), -ENOENT (no
 * policy in force to replace; after dp_control_start only).
 */
int dp_control_apply(struct dp_control *c, struct sl_policy *p, char *err,
		     size_t err_size);

/*
 * Reload the policy file and apply it (dp_control_apply).  Returns 0, or
 * -errno after logging why (the old generation stays).
 */
int dp_control_reload(struct dp_control *c);

/* Id of the generation in force, 0 when none. */
uint64_t dp_control_fw_id(const struct dp_control *c);

/* Control-thread housekeeping between two supervision ticks: the routing
 * stage's kernel events and resolution requests. */
void dp_control_poll(struct dp_control *c);

/* Per-rule counters of the generation in force. */
void dp_control_print_rules(const struct dp_control *c, FILE *out);

/* Free the generation, connection tables and RCU state; workers stopped. */
void dp_control_stop(struct dp_control *c);

#endif /* SLUICE_DP_CONTROL_H */
