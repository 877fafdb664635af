/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The route table: one per dataplane, for its whole life (not per policy
 * generation), changed one route at a time by the control thread while the
 * workers look packets up in it (route_lookup.h).
 *
 * Sources.  A prefix can have one route from each source: connected (the
 * ports' addresses: their /32 or /128 for the host and their subnet
 * on-link, rt_set_local), static (the policy, rt_sync_static) and kernel
 * (a mirrored kernel table).  The route in force is the connected one if
 * any, else the static one, else the kernel one - an administrative
 * distance - so a kernel resync (rt_flush_source) never removes a static
 * or connected route, and removing a static route uncovers the kernel's.
 *
 * Paths and next hops.  A route's next hops (1..RT_NEXTHOPS_MAX, weights
 * 1..RT_WEIGHT_MAX) become a path: the weights divided by their gcd and
 * expanded into members, one per unit of weight, so a flow hash picks a
 * member with one multiply.  Equal next-hop sets share one path and equal
 * (port, gateway) pairs share one next hop, both refcounted: a million
 * routes via four gateways hold four paths.  A gateway next hop caches its
 * gateway's MAC (one atomic store when the neighbour changes); an on-link
 * next hop looks the packet's destination up in the neighbour table.
 *
 * Concurrency contract.
 *   - One writer: every function here but rt_stats() is called from one
 *     thread at a time (the control thread), and that thread is not a
 *     reader registered online on the qsbr variable (it waits for grace
 *     periods: when it runs out of indexes or groups, and before an IPv6
 *     change that follows a removal).
 *   - Readers (workers) call rt_lookup_burst() and rt_want() without locks,
 *     and report a quiescent state on params.qs between bursts, never
 *     holding a struct rt_result or rt_nh pointer across one.
 *   - IPv4 is a DIR-24-8 table of route.c's own (rte_lpm's layout; why
 *     not rte_lpm or rte_fib: route.c), IPv6 DPDK's rte_lpm6.  Entries
 *     change by single 32-bit stores, and a tbl8 group reaches the workers
 *     only once filled.  A freed IPv4 group keeps its contents and index
 *     until a grace period has passed.  rte_lpm6 has no RCU hook in 22.11:
 *     it leaves a freed group as it was but may hand it out again at once,
 *     so before an IPv6 change that may take a group (prefixes longer than
 *     /24) the writer waits for a grace period if a route was removed
 *     since the last one.
 *   - A path or next hop that no route uses any more keeps its memory and
 *     its index until a grace period has passed since it was retired
 *     (rte_rcu_qsbr_start/check), so whatever a reader loaded stays valid
 *     until its next quiescent state.  Retired objects are reclaimed by
 *     later writes, by rt_reclaim(), or at once when qs is NULL.
 *   - qs NULL means there are no concurrent readers (tests, start-up).
 *
 * Errors: 0 or -errno.  -EINVAL for bad input, -ENOSPC when a table
 * (prefixes, tbl8 groups, paths, next hops) is full, -ENOMEM; on an error
 * the prefix concerned keeps the routes it had.
 */
#ifndef SLUICE_DP_ROUTE_H
#define SLUICE_DP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#include "sluice/policy.h"	/* struct sl_prefix */
#include "route_lookup.h"

struct rte_rcu_qsbr;

#define RT_NEXTHOPS_MAX SL_POLICY_NEXTHOPS_MAX
#define RT_WEIGHT_MAX SL_POLICY_NEXTHOP_WEIGHT_MAX

/* In order of preference. */
enum rt_source {
	RT_SRC_CONNECTED = 0,	/* the ports' addresses (rt_set_local) */
	RT_SRC_STATIC,		/* the policy */
	RT_SRC_KERNEL,		/* the mirrored kernel table */
	RT_SRC_MAX
};

struct rt_params {
	const char *name;	/* unique, at most 20 characters: names the
				 * DPDK objects */
	int socket;
	uint32_t max_routes_ipv4;	/* distinct prefixes, all sources */
	uint32_t max_routes_ipv6;
	uint32_t tbl8_ipv4;	/* 0: max_routes_ipv4 / 16, 256..65536 (1 KiB
				 * each; one per /24 holding longer prefixes) */
	uint32_t tbl8_ipv6;	/* 0: max_routes_ipv6 / 2, 256..2^21 (1 KiB each) */
	uint32_t max_paths;	/* 0: 65536 (at most 2^21 - 1) */
	uint32_t max_nexthops;	/* 0: 65536 */
	uint32_t max_neigh;	/* 0: 65536 */
	uint16_t nb_workers;	/* resolution request queues */
	uint32_t resolve_ms;	/* 0: 1000; most one request per address */
	struct rte_rcu_qsbr *qs;	/* NULL: no concurrent readers */
};

/* One next hop of a route. */
struct rt_nexthop_spec {
	uint8_t family;		/* of gateway; ignored without one */
	bool has_gateway;	/* false: on-link */
	uint8_t gateway[16];	/* network order; IPv4 in bytes 0..3 */
	uint16_t port;		/* egress DPDK port */
	uint16_t weight;	/* 1..RT_WEIGHT_MAX */
};

/* One route of a static list (rt_sync_static). */
struct rt_route_spec {
	struct sl_prefix prefix;
	const struct rt_nexthop_spec *nexthops;
	unsigned int n_nexthops;
};

/* Returns NULL with errno set (EINVAL, ENOMEM, EEXIST: the name is
 * taken). */
struct rt_table *rt_create(const struct rt_params *params);

/* No reader may use the table any more.  NULL is fine. */
void rt_free(struct rt_table *t);

/*
 * Add or replace src's route (RT_SRC_STATIC or RT_SRC_KERNEL; connected
 * routes come from rt_set_local) to prefix (no host bits; length 0 is the
 * default route) with n next hops.  Next hops listed twice add their
 * weights.  Setting the route it already has changes nothing.
 */
int rt_set(struct rt_table *t, enum rt_source src,
	   const struct sl_prefix *prefix,
	   const struct rt_nexthop_spec *nexthops, unsigned int n);

/* Remove src's route to prefix; -ENOENT when it has none. */
int rt_unset(struct rt_table *t, enum rt_source src,
	     const struct sl_prefix *prefix);

/* Remove every route of src.  Returns how many were removed. */
int rt_flush_source(struct rt_table *t, enum rt_source src);

/*
 * Resync src without a gap (a kernel table after a lost netlink message,
 * or on reconnect): after rt_resync_begin, rt_set every route src has now
 * (those that did not change cost no table write); rt_resync_end removes
 * src's routes that were not set in between and returns how many.  One
 * resync at a time; -EINVAL otherwise.
 */
int rt_resync_begin(struct rt_table *t, enum rt_source src);
int rt_resync_end(struct rt_table *t);

/*
 * Make the static routes exactly routes[0..n): prefixes not in the list
 * lose their static route, the others get theirs with rt_set, which
 * changes only what differs, so reloading a policy of a million routes
 * with one changed costs one table update.  The whole list is checked
 * first (-EINVAL changes nothing); a prefix listed twice takes the last.
 * On -ENOSPC the routes before the one that did not fit are applied and
 * the stale ones removed.
 */
int rt_sync_static(struct rt_table *t, const struct rt_route_spec *routes,
		   size_t n);

/*
 * An interface address of port (host bits kept, as in struct sl_port):
 * its /32 or /128 becomes a local route (the packet is for the appliance)
 * and its subnet an on-link route out of port, both RT_SRC_CONNECTED.
 * Two addresses in one subnet share the subnet route, which goes with the
 * last of them (rt_unset_local).
 */
int rt_set_local(struct rt_table *t, uint16_t port,
		 const struct sl_prefix *addr);
int rt_unset_local(struct rt_table *t, uint16_t port,
		   const struct sl_prefix *addr);

/*
 * The neighbour (port, family, addr) has MAC mac, or is gone (mac NULL):
 * updates the neighbour table and every gateway next hop through it.
 * -ENOSPC: no room in the neighbour table (gateway next hops are updated
 * all the same).
 */
int rt_neigh_update(struct rt_table *t, uint16_t port, uint8_t family,
		    const uint8_t *addr, const struct rte_ether_addr *mac);

/* The resolution request queue of worker, NULL unless worker <
 * params.nb_workers.  Set up once; the worker alone calls rt_want on it. */
struct rt_wantq *rt_wantq(struct rt_table *t, unsigned int worker);

typedef void (*rt_unresolved_fn)(void *arg, uint16_t port, uint8_t family,
				 const uint8_t *addr);

/*
 * Drain the workers' resolution requests at TSC now: fn gets each address
 * at most once per params.resolve_ms (as far as a table of the last 1024
 * addresses remembers).  Returns how many fn got.
 */
unsigned int rt_take_unresolved(struct rt_table *t, uint64_t now,
				rt_unresolved_fn fn, void *arg);

/* Whether (port, family, addr) is the gateway of a next hop some route
 * uses (control thread). */
bool rt_is_gateway(const struct rt_table *t, uint16_t port, uint8_t family,
		   const uint8_t *addr);

/* Free what a grace period has passed for; wait for one when wait.
 * Returns how many objects are still waiting. */
unsigned int rt_reclaim(struct rt_table *t, bool wait);

struct rt_stats {
	uint32_t prefixes[2];		/* IPv4, IPv6: with any route */
	uint32_t routes[2][RT_SRC_MAX];	/* per family and source */
	uint32_t paths;			/* in use by a route */
	uint32_t nexthops;		/* in use by a path */
	uint32_t neighbours;		/* resolved */
	uint32_t retired;		/* waiting for a grace period */
	uint64_t updates;		/* writes into the LPM tables */
	uint64_t want_dropped;		/* requests full queues refused */
};

/* Also from another thread than the writer's: the figures are then only
 * as recent as the writer's last change it happens to see. */
void rt_stats(const struct rt_table *t, struct rt_stats *s);

/*
 * For tests and trace: the route in force for prefix (exact match): its
 * source and up to max next hops with their reduced weights.  Returns the
 * number of next hops, or -ENOENT.
 */
int rt_get(const struct rt_table *t, const struct sl_prefix *prefix,
	   enum rt_source *src, struct rt_nexthop_spec *nexthops,
	   unsigned int max);

#endif /* SLUICE_DP_ROUTE_H */
