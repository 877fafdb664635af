/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters: each worker owns one struct dp_counters and is its only writer,
 * so the hot path increments plain fields with no atomics or locks.  The
 * main lcore sums them on read; a sum taken while workers run may lag by a
 * few packets (64-bit aligned stores are not torn on the CPUs DPDK runs on).
 */
#ifndef SLUICE_DP_COUNTERS_H
#define SLUICE_DP_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <rte_common.h>
#include <rte_config.h>

#include "sluice/drop_reason.h"

struct dp_port_counters {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t rx_dropped;	/* received here, dropped before TX */
	uint64_t tx_packets;	/* accepted by the PMD */
	uint64_t tx_bytes;
	uint64_t tx_dropped;	/* meant for this port, TX queue full */
};

/*
 * Without replication every received packet is counted once more, so for
 * the sums over all ports: rx_packets = rx_dropped + tx_packets + tx_dropped
 * (tests check it).
 */
struct dp_counters {
	struct dp_port_counters port[RTE_MAX_ETHPORTS];
	uint64_t drops[SL_DROP_MAX];
	/* The replication stage (rep_stage.h). */
	uint64_t rep_copies;	/* copies sent */
	uint64_t rep_short;	/* packets with fewer live targets than copies */
	uint64_t rep_failed;	/* copies not made: no mbuf, no outer route */
	uint64_t rep_steered;	/* packets steered to a target */
} __rte_cache_aligned;

struct dp_worker;
struct dp_config;
struct dp_router;
struct fw_gen;
struct sl_policy;

/* Sum of every worker's counters. */
void dp_counters_sum(const struct dp_worker *workers, unsigned int nb_workers,
		     struct dp_counters *total);

/* Human tables: ports, workers, non-zero drop reasons. */
void dp_counters_print(FILE *out, const struct dp_config *cfg,
		       const struct dp_worker *workers, unsigned int nb_workers);

/* What the JSON report says beside the counters. */
struct dp_report {
	const struct fw_gen *fw;	/* NULL: no policy */
	unsigned int reloads;		/* generations published after start */
	unsigned int mempool_size;	/* mbufs in the pools ... */
	unsigned int mempool_avail;	/* ... and back in them now */
	const struct dp_router *router;	/* NULL: no routed ports */
	/* The policy's names for the ports ("port" in each port's entry,
	 * which sluiced and /metrics use); NULL: none. */
	const struct sl_policy *policy;
	const uint16_t *port_of;	/* policy port -> DPDK port */
	/* Read while the workers run (sluiced's stats request): the
	 * mempool's free count is "available", not "available_at_exit". */
	bool live;
};

/*
 * The counters as one JSON object: ports, workers, drops, replication,
 * mempool, and routing, rules and policy when there are some (the
 * --stats-file document; docs/dp-protocol.md).  Returns a new reference,
 * or NULL when out of memory.  Control thread only: rep->fw must not be
 * freed meanwhile.
 */
json_t *dp_counters_json(const struct dp_config *cfg,
			 const struct dp_worker *workers,
			 unsigned int nb_workers,
			 const struct dp_report *rep);

/*
 * Write the counters (and per-rule counters when a policy is in force) as
 * JSON to path: a temp file, fsync, rename.  Returns 0 or -errno.
 */
int dp_counters_write_json(const char *path, const struct dp_config *cfg,
			   const struct dp_worker *workers,
			   unsigned int nb_workers,
			   const struct dp_report *report);

#endif /* SLUICE_DP_COUNTERS_H */
