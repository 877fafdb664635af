/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel's routing side, over rtnetlink (libmnl), for the dataplane's
 * control thread and for sluiced.  No DPDK types.
 *
 * Mirroring: one session (struct sl_nl) follows one kernel routing table
 * (`ip route ... table N`, where FRR and BIRD write), the neighbour tables
 * (ARP, ND) and the link states that change routes behind the kernel's back.
 * The session subscribes to the kernel's events when it opens, reads the
 * whole tables with sl_nl_dump(), then follows the events with sl_nl_poll().
 * It keeps its own copy of the table, so what it reports is always the
 * *whole* current route of a prefix:
 *
 *   - only the best metric of a prefix is reported; a higher metric is a
 *     backup that is reported when the best goes away;
 *   - IPv6 multipath routes that the kernel announces one next hop at a time
 *     (NLM_F_APPEND, per-nexthop deletes) are reported whole;
 *   - routes that use nexthop objects (`ip nexthop`, RTA_NH_ID, what FRR
 *     installs) are resolved through the session's copy of those objects,
 *     groups with their weights, and reported again when an object changes;
 *   - next hops the kernel marks dead (link down) are left out, and a route
 *     with no live next hop falls back to the next metric, as the kernel's
 *     own lookup does;
 *   - what the kernel changes without telling (IPv4 routes flushed when a
 *     link goes down, dead flags, nexthop objects flushed with their device)
 *     and events lost to a full socket (ENOBUFS) are caught by re-reading the
 *     tables and reporting only the differences.
 *
 * Ignored, and counted in struct sl_nl_stats: routes of other tables; local,
 * broadcast, anycast, multicast and NAT routes; cloned (cache) entries;
 * routes the dataplane cannot express (TOS, source-specific IPv6, encap):
 * those are logged once and counted, never silently dropped.
 *
 * Link configuration (TAP twins): bring up, set the MTU, make the interface
 * addresses equal to a list.  Synchronous requests, acknowledged by the
 * kernel before the function returns.
 *
 * Threads: a session is used by one thread at a time; the handlers run in
 * that thread, inside sl_nl_dump() and sl_nl_poll().  A handler must not
 * call back into the session.
 *
 * Errors: functions return 0 (or a count) or -errno.  sl_nl_open() writes
 * the reason into err; afterwards sl_nl_errmsg() holds the last failure's
 * text, with the kernel's extended-ack message when it sent one.
 *
 * Families are enum sl_family (SL_FAMILY_IPV4/IPV6), addresses struct
 * sl_prefix (network order), as everywhere in Sluice.
 */
#ifndef SLUICE_NETLINK_H
#define SLUICE_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/policy.h"	/* struct sl_prefix, SL_POLICY_NEXTHOPS_MAX */

struct sl_nl;

struct sl_nl_nexthop {
	int ifindex;
	uint16_t weight;		/* ECMP share, 1..256; 1 when alone */
	struct sl_prefix gateway;	/* host address (len 32/128); may be
					 * IPv6 for an IPv4 route (RTA_VIA);
					 * family NONE: on-link */
};

/*
 * One kernel route as Sluice needs it.  Next hops are sorted (ifindex, then
 * gateway), so the same route always reads the same and ECMP picks stay put
 * across re-reads.
 */
struct sl_nl_route {
	struct sl_prefix prefix;	/* host bits clear */
	uint32_t table;
	uint8_t type;		/* RTN_UNICAST, RTN_BLACKHOLE,
				 * RTN_UNREACHABLE, RTN_PROHIBIT, RTN_THROW
				 * (no route in this table) */
	uint8_t protocol;	/* RTPROT_*: boot, static, bird, zebra, .. */
	uint32_t priority;	/* the metric */
	uint32_t nh_id;		/* the nexthop object it uses; 0: none
				 * (informational: nexthops[] is resolved) */
	unsigned int n_nexthops; /* UNICAST: 1..SL_POLICY_NEXTHOPS_MAX;
				  * other types: 0 */
	struct sl_nl_nexthop nexthops[SL_POLICY_NEXTHOPS_MAX];
};

struct sl_nl_neigh {
	int ifindex;
	struct sl_prefix addr;	/* host address (len 32/128) */
	bool has_lladdr;
	uint8_t lladdr[6];
	uint16_t state;		/* NUD_* */
	uint8_t flags;		/* NTF_* (NTF_ROUTER, NTF_EXT_LEARNED, ..) */
};

/*
 * Callbacks; any may be NULL (a NULL route or neigh handler also means that
 * kind is not followed at all).
 *
 * route: add=true: the prefix's route is new or changed (replace what you
 * had); add=false: the prefix has no route in the table any more (only
 * prefix and table are set).
 *
 * neigh: add=true: the neighbour is usable - it has a link-layer address and
 * a valid NUD state (REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP) - and
 * is new or changed (address or state); add=false: a neighbour reported
 * before is gone or no longer usable, or a resolution failed (NUD_FAILED;
 * reported even when it never was usable, so a waiting packet can be
 * dropped).  Only unicast neighbours with 6-byte (Ethernet) addresses.
 *
 * resynced: informational, after the session re-read the kernel's tables
 * because events were lost (ENOBUFS) or the kernel changed routes without
 * events (link up/down); the differences, and only those, were reported
 * through route and neigh before this call.  The caller drops nothing.
 *
 * log: one line, no newline, for things an operator should see once (a
 * route kind that is ignored, lost events).  Never per packet, rarely per
 * route: repeats are counted in struct sl_nl_stats instead.
 */
struct sl_nl_handlers {
	void (*route)(void *arg, bool add, const struct sl_nl_route *r);
	void (*neigh)(void *arg, bool add, const struct sl_nl_neigh *n);
	void (*resynced)(void *arg, unsigned int changes);
	void (*log)(void *arg, const char *msg);
	void *arg;
};

/* Counters of one session, since it opened. */
struct sl_nl_stats {
	uint64_t msgs;			/* netlink messages handled */
	uint64_t route_reports;		/* route handler calls */
	uint64_t neigh_reports;		/* neigh handler calls */
	uint64_t resyncs;		/* re-reads (dumps after the first) */
	uint64_t overruns;		/* events lost: ENOBUFS */
	uint64_t link_resyncs;		/* re-reads caused by a link up/down */
	uint64_t dump_retries;		/* dumps cut by a change, redone */
	uint64_t routes_unsupported;	/* TOS, by source, encap: ignored */
	uint64_t nexthops_truncated;	/* over SL_POLICY_NEXTHOPS_MAX: cut */
	uint64_t nh_objects;		/* nexthop objects known now */
	uint64_t nh_routes;		/* routes using a nexthop object now */
	uint64_t nh_unresolved;		/* route messages naming an unknown
					 * nexthop object */
	uint64_t nh_weights_scaled;	/* group weights over 256, scaled */
};

/*
 * Open a session: sockets, subscriptions (before any dump, so nothing is
 * missed in between), nothing read yet.  route_table: the kernel table to
 * mirror, 0: none (neighbours and link configuration only).  h may be NULL
 * (link configuration only); it is copied.  Returns NULL with errno set and
 * the reason in err (err may be NULL).
 */
struct sl_nl *sl_nl_open(uint32_t route_table, const struct sl_nl_handlers *h,
			 char *err, size_t err_size);

/* NULL is fine. */
void sl_nl_close(struct sl_nl *nl);

/*
 * Read the kernel's tables (nexthop objects, routes of the table for IPv4
 * and IPv6, neighbours) and report every difference with what was reported
 * before: on the first call, everything.  Events that arrived meanwhile are
 * handled by the next sl_nl_poll().  Returns 0 or -errno (the request
 * failed; see sl_nl_errmsg()).
 */
int sl_nl_dump(struct sl_nl *nl);

/* The event socket, to poll() for POLLIN. */
int sl_nl_fd(const struct sl_nl *nl);

/*
 * Handle the events queued now, without blocking; at most about max_msgs
 * (0: no limit, until the socket is empty).  Lost events (ENOBUFS) and
 * silent kernel changes make it re-read the tables (sl_nl_dump) before it
 * returns.  Returns the number of messages handled or -errno.
 */
int sl_nl_poll(struct sl_nl *nl, unsigned int max_msgs);

/*
 * Make the kernel resolve addr on ifindex now, as if a packet waited for it
 * (RTM_NEWNEIGH with NTF_USE): an unknown or failed neighbour gets an ARP
 * request / neighbour solicitation, a stale one is re-probed, a reachable
 * one is left alone; no packet is sent through the stack.  The answer
 * arrives through the neigh handler.  Returns 0 or -errno.
 */
int sl_nl_resolve(struct sl_nl *nl, int ifindex, const struct sl_prefix *addr);

/*
 * Receive buffer of the event socket, in bytes.  The default, 32 MiB, takes
 * a burst of about 100k route changes; tests make it small to provoke
 * ENOBUFS.  Returns 0 or -errno.
 */
int sl_nl_set_event_rcvbuf(struct sl_nl *nl, int bytes);

void sl_nl_get_stats(const struct sl_nl *nl, struct sl_nl_stats *out);

/* The last failure's text ("" when none). */
const char *sl_nl_errmsg(const struct sl_nl *nl);

/* ------------------------------------------------------------------------
 * Link configuration (lib/netlink_link.c)
 */

/* if_nametoindex: the index, or -ENODEV (or another -errno). */
int sl_nl_link_index(const char *ifname);

/* Set the link up, and its MTU when mtu is not 0.  Returns 0 or -errno. */
int sl_nl_link_up(struct sl_nl *nl, int ifindex, uint32_t mtu);

/*
 * Make the IPv4 and IPv6 addresses of ifindex equal to addrs (interface
 * addresses: host bits kept, len is the subnet): add the missing ones,
 * remove the others - except IPv6 link-local ones (fe80::/10), which are
 * kept: the kernel makes its own, and ND, OSPFv3 and BGP unnumbered need
 * them (kernels before 6.3 do not say who made an address, so all are
 * kept).  An address already there is fine; so is the same call twice.
 * Returns 0 or -errno (the first failure, in sl_nl_errmsg(); the rest is
 * still attempted); -EINVAL for an entry that is not an address.
 */
int sl_nl_addrs_sync(struct sl_nl *nl, int ifindex,
		     const struct sl_prefix *addrs, size_t n);

#endif /* SLUICE_NETLINK_H */
