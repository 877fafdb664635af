/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control thread side of a policy: load it, build a
 * firewall generation, publish it to the workers and retire the one it
 * replaces after an RCU grace period.  Runs on the main lcore only.
 *
 * The same apply path serves start-up, SIGHUP reloads and (later) pushes
 * from sluiced: a document is validated and compiled whole before anything
 * changes; a refused one leaves the running generation untouched.
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
	const char *policy_file;	/* NULL: no policy, forward all */
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
 * Load cfg->policy_file (if any) and bind its ports into cfg, before the
 * configuration is resolved.  Returns 0 or -errno after printing why.
 */
int dp_control_load(struct dp_control *c, struct dp_config *cfg);

/*
 * Create the RCU state, the first generation and, when the policy enables
 * it, a connection table per worker.  Returns 0 or -errno after printing
 * why.
 */
int dp_control_start(struct dp_control *c, struct dp_run *run,
		     struct dp_worker *workers, unsigned int nb_workers);

/*
 * Reload the policy file and, if it is valid and compiles, publish it.
 * Returns 0, or -errno after logging why (the old generation stays).
 */
int dp_control_reload(struct dp_control *c);

/* Control-thread housekeeping between two supervision ticks: the routing
 * stage's kernel events and resolution requests. */
void dp_control_poll(struct dp_control *c);

/* Per-rule counters of the generation in force. */
void dp_control_print_rules(const struct dp_control *c, FILE *out);

/* Free the generation, connection tables and RCU state; workers stopped. */
void dp_control_stop(struct dp_control *c);

#endif /* SLUICE_DP_CONTROL_H */
