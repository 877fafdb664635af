/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port setup: mbuf pools, queues, RSS, and which worker polls which RX
 * queue.  Setup code only; the workers see the result through their struct
 * dp_worker.
 */
#ifndef SLUICE_DP_PORT_H
#define SLUICE_DP_PORT_H

#include <rte_mempool.h>

#include "config.h"
#include "worker.h"

/* One mbuf pool per NUMA socket that has a port (SOCKET_ID_ANY -> 0). */
struct dp_pools {
	struct rte_mempool *pool[RTE_MAX_NUMA_NODES];
};

/*
 * Create the pools, configure and start every port of cfg, and fill the
 * workers' RX queue lists and TX buffers.  Each port gets one RX queue per
 * worker (fewer if the device has fewer; the queues are spread over the
 * workers) and one TX queue per worker.  Ports with several RX queues and
 * RSS use a symmetric key, so both directions of a flow meet on one worker.
 * Returns 0 or -errno after logging the reason; on failure whatever was set
 * up is torn down again.
 */
int dp_ports_setup(struct dp_config *cfg, struct dp_worker *workers,
		   struct dp_pools *pools);

/* Stop and close every port of cfg and free the workers' TX buffers.
 * Closing a port returns the mbufs held in its rings to their pool. */
void dp_ports_teardown(const struct dp_config *cfg, struct dp_worker *workers,
		       unsigned int nb_workers);

/* Sum of the sizes and of the available counts of all pools. */
void dp_pools_count(const struct dp_pools *pools, unsigned int *size,
		    unsigned int *avail);

/* The pool on lcore's socket, else any pool. */
struct rte_mempool *dp_pools_for_lcore(const struct dp_pools *pools,
				       unsigned int lcore);

void dp_pools_free(struct dp_pools *pools);

#endif /* SLUICE_DP_PORT_H */
