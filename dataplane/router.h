/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing stage's control side: the route table's one writer.  It
 * feeds the table (dataplane/route.h) from three sources and keeps the
 * routed ports' kernel twins in step, all on the main lcore:
 *
 *   - connected: each routed port's addresses (policy `ports[].addresses`),
 *     which are also configured on its TAP twin, so the kernel answers ARP,
 *     ND and pings for them;
 *   - static: the policy's `routes`, applied as a diff on every reload;
 *   - kernel: the table `settings.routing.kernel_table` of the dataplane's
 *     network namespace, mirrored over netlink (dump at start, events
 *     after), so `ip route`, FRR and BIRD feed the dataplane.  Only routes
 *     whose devices are twins become dataplane routes; the rest are counted.
 *
 * Neighbours come from the kernel's neighbour tables of the twins (dump,
 * then events); a worker that meets an unresolved next hop queues a
 * request (rt_want) that dp_router_poll turns into a kernel resolution.
 */
#ifndef SLUICE_DP_ROUTER_H
#define SLUICE_DP_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/policy.h"

#include "config.h"
#include "route.h"

struct sl_nl;
struct rte_rcu_qsbr;

/* STALE gateway neighbours re-confirmed per poll; more wait for the
 * next STALE report or for a packet to find them gone. */
#define DP_ROUTER_STALE_MAX 256

/* A routed port and its twin, as the kernel knows it. */
struct dp_router_port {
	uint16_t port;		/* the routed DPDK port */
	uint16_t twin;		/* its TAP twin's DPDK port */
	int ifindex;		/* the twin's kernel interface */
	char name[SL_POLICY_PORT_NAME_MAX + 1];
	/* The addresses in force, to undo what a reload removes. */
	struct sl_prefix addrs[SL_POLICY_ADDRS_MAX];
	size_t n_addrs;
};

/*
 * Per-port addresses the workers read to source ICMP errors: the first
 * address of each family on the port, family NONE when it has none.
 * Written by the control thread on start and reload (a reader racing a
 * reload may source one error from the old address).
 */
struct dp_port_addrs {
	struct sl_prefix v4;
	struct sl_prefix v6;
};

struct dp_router {
	struct rt_table *rt;
	struct sl_nl *nl;
	uint32_t kernel_table;	/* 0: none mirrored */
	struct dp_router_port ports[RTE_MAX_ETHPORTS];
	unsigned int nb_ports;
	struct dp_port_addrs *addrs;	/* [RTE_MAX_ETHPORTS], for workers */
	/* What the kernel mirror ignored: routes through interfaces that
	 * are not twins, and kinds the dataplane cannot express. */
	uint64_t kernel_skipped;
	uint64_t kernel_errors;	/* rt_set refused (table full, ...) */
	uint64_t next_poll;	/* TSC */
	/* Gateways the kernel reported STALE, to re-confirm after the
	 * netlink poll (a handler may not call back into the session). */
	struct {
		uint16_t port;
		struct sl_prefix addr;
	} stale[DP_ROUTER_STALE_MAX];
	unsigned int nb_stale;
};

/*
 * Create the table and the twins' configuration for policy p (bound: port_of
 * maps policy ports to DPDK ports) before the workers start: addresses on
 * the twins, connected and static routes, then the kernel's neighbours and
 * mirrored table, so the first packet already sees them all.  Returns 0 or
 * -errno after logging why.
 */
int dp_router_start(struct dp_router *r, const struct dp_config *cfg,
		    const struct sl_policy *p, const uint16_t *port_of,
		    struct rte_rcu_qsbr *qs, unsigned int nb_workers);

/*
 * Apply a reloaded policy's addresses and static routes (the ports and
 * routing settings are the same: dp_policy_same_ports checked).  Returns 0
 * or -errno after logging why; what could not be applied is logged.
 */
int dp_router_apply(struct dp_router *r, const struct sl_policy *p,
		    const uint16_t *port_of);

/* Control-thread housekeeping, called every few milliseconds: kernel
 * events, resolution requests, reclaiming retired table objects. */
void dp_router_poll(struct dp_router *r);

/*
 * For tunnel targets without a `local` address (rep.h rep_source_fn, arg
 * the router): the address of the port the route to remote leaves by.
 * Returns 0, -ENETUNREACH (no route) or -EADDRNOTAVAIL.
 */
int dp_router_source(void *arg, const struct sl_prefix *remote, uint8_t *out);

/* One line: routes per family and source, neighbours. */
void dp_router_print(const struct dp_router *r, FILE *out);

/* The workers are stopped. */
void dp_router_stop(struct dp_router *r);

#endif /* SLUICE_DP_ROUTER_H */
