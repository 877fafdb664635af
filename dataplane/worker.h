/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker: one lcore that runs to completion over the RX queues assigned
 * to it.  Everything a worker touches per packet hangs off its own struct
 * dp_worker, prepared by setup code before launch; it takes no locks.
 */
#ifndef SLUICE_DP_WORKER_H
#define SLUICE_DP_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>

#include "conntrack.h"
#include "counters.h"
#include "fw.h"
#include "icmp_error.h"
#include "parse.h"
#include "router.h"
#include "watch.h"

struct rte_rcu_qsbr;

/* Most RX queues one worker polls. */
#define DP_WORKER_RXQ_MAX 64

struct dp_rxq {
	uint16_t port;
	uint16_t queue;
};

/*
 * Packets a worker holds for one egress port until the end of its round
 * (or until the next chunk would not fit), so each port gets one TX burst
 * per round.  Filled a chunk at a time: no per-packet bookkeeping.
 */
#define DP_TXB_SIZE (2 * SL_PARSE_BURST_MAX)

struct dp_txb {
	uint16_t n;
	struct rte_mbuf *pkts[DP_TXB_SIZE];
};

/* Shared by the main lcore and every worker. */
struct dp_run {
	bool stop;		/* set by the main lcore; read with __atomic */
	/* The firewall generation in force (NULL: no policy, accept all).
	 * Published with __atomic_store; a worker loads it once per round
	 * and reports a quiescent state on qs after the round, so the main
	 * lcore frees a replaced generation after rte_rcu_qsbr_synchronize. */
	struct fw_gen *fw;
	struct rte_rcu_qsbr *qs;
	/* Traces and captures (watch.h): bit i is set while watch[i] is
	 * armed.  A worker loads watch_armed once per round (relaxed) and
	 * looks at watch[] only when it is not 0; the control thread frees a
	 * disarmed watch after rte_rcu_qsbr_synchronize. */
	uint32_t watch_armed;
	struct dp_watch *watch[DP_WATCH_SLOTS];
};

struct dp_worker {
	unsigned int lcore;
	unsigned int index;	/* 0..nb_workers-1; also its TX queue id */
	uint16_t burst;
	uint16_t nb_rxq;
	struct dp_rxq rxq[DP_WORKER_RXQ_MAX];

	sl_parse_burst_fn parse;
	const uint16_t *egress;	/* cross-connect: ingress port -> egress */
	const uint8_t *port_kind;	/* enum dp_port_kind, by port */

	/* The routing stage (route_stage.c); rt NULL: no routed port. */
	const struct rt_table *rt;
	struct rt_wantq *wantq;		/* this worker's resolution requests */
	const uint16_t *twin;		/* routed port -> its TAP twin */
	const struct rte_ether_addr *port_mac;	/* by port */
	const struct dp_port_addrs *port_addrs;	/* by port: ICMP sources */
	uint64_t hash_seed;		/* flow hash, for ECMP */
	struct icmp_limit icmp;		/* ICMP errors this worker may send */

	/* The replication stage (rep_stage.c). */
	struct rte_mempool *pool;	/* copies' header and clone mbufs */
	uint16_t ip_id;			/* outer IPv4 ID of tunnel copies */
	struct dp_run *run;
	struct ct_table *ct;	/* NULL: connection tracking off */
	uint64_t ct_age_next;	/* TSC of the next ageing call */
	uint64_t ct_age_interval;	/* TSC between ageing calls */

	/* For --oneshot, read by the main lcore, written with __atomic: the
	 * TSC of the last round that received packets, and how many rounds
	 * in a row received none since.  The count only grows while the
	 * worker runs, so a worker the scheduler delays never looks drained. */
	uint64_t last_rx_tsc;
	uint64_t empty_rounds;

	struct dp_txb *txb[RTE_MAX_ETHPORTS];	/* NULL: never sends there */
	uint16_t tx_ports[RTE_MAX_ETHPORTS];	/* ports with a txb */
	uint16_t nb_tx_ports;

	struct dp_counters ctr;
} __rte_cache_aligned;

/* lcore entry point: arg is the struct dp_worker.  Returns 0 when stopped. */
int dp_worker_main(void *arg);

#endif /* SLUICE_DP_WORKER_H */
