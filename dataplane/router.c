/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "sluice/netlink.h"

#include "log.h"
#include "router.h"

/* How often dp_router_poll does its work, and how much per call. */
#define ROUTER_POLL_MS 5
#define ROUTER_NL_BATCH 4096

static const struct dp_router_port *
port_by_ifindex(const struct dp_router *r, int ifindex)
{
	for (unsigned int i = 0; i < r->nb_ports; i++)
		if (r->ports[i].ifindex == ifindex)
			return &r->ports[i];
	return NULL;
}

static const struct dp_router_port *
port_by_id(const struct dp_router *r, uint16_t port)
{
	for (unsigned int i = 0; i < r->nb_ports; i++)
		if (r->ports[i].port == port)
			return &r->ports[i];
	return NULL;
}

/* ------------------------------------------------------------------------
 * The kernel mirror: netlink handlers.
 */

/*
 * A kernel route becomes a dataplane route when it is unicast and every
 * next hop leaves through a twin with a gateway of the route's family (or
 * none).  Anything else (a blackhole, a route out of an interface Sluice
 * does not own) is not expressible: the prefix gets no kernel route here,
 * and the count says so.
 */
static void
on_route(void *arg, bool add, const struct sl_nl_route *kr)
{
	struct dp_router *r = arg;
	struct rt_nexthop_spec nh[SL_POLICY_NEXTHOPS_MAX];
	unsigned int n = 0;
	int ret;

	if (add && kr->type == RTN_UNICAST) {
		for (unsigned int i = 0; i < kr->n_nexthops; i++) {
			const struct sl_nl_nexthop *k = &kr->nexthops[i];
			const struct dp_router_port *p =
				port_by_ifindex(r, k->ifindex);

			if (p == NULL || (k->gateway.family != SL_FAMILY_NONE &&
					  k->gateway.family != kr->prefix.family))
				break;
			nh[n] = (struct rt_nexthop_spec){
				.family = k->gateway.family,
				.has_gateway = k->gateway.family != SL_FAMILY_NONE,
				.port = p->port,
				.weight = k->weight ? k->weight : 1,
			};
			memcpy(nh[n].gateway, k->gateway.addr, 16);
			n++;
		}
	}
	if (add && n > 0 && n == kr->n_nexthops) {
		ret = rt_set(r->rt, RT_SRC_KERNEL, &kr->prefix, nh, n);
		if (ret != 0 && r->kernel_errors++ == 0)
			DP_LOG(WARNING, "kernel table %u: a route could not be "
			       "installed: %s (counted from now on)",
			       r->kernel_table, strerror(-ret));
		return;
	}
	if (add && r->kernel_skipped++ == 0)
		DP_LOG(WARNING, "kernel table %u: routes that are not unicast "
		       "through the ports' twins are not mirrored (counted "
		       "from now on)", r->kernel_table);
	rt_unset(r->rt, RT_SRC_KERNEL, &kr->prefix);
}

static void
on_neigh(void *arg, bool add, const struct sl_nl_neigh *kn)
{
	struct dp_router *r = arg;
	const struct dp_router_port *p = port_by_ifindex(r, kn->ifindex);
	struct rte_ether_addr mac;

	if (p == NULL)
		return;
	memcpy(mac.addr_bytes, kn->lladdr, RTE_ETHER_ADDR_LEN);
	rt_neigh_update(r->rt, p->port, kn->addr.family, kn->addr.addr,
			add && kn->has_lladdr ? &mac : NULL);
	/*
	 * The dataplane's forwarding never confirms the kernel's entries, so
	 * a gateway in use goes STALE and could be collected.  A STALE entry
	 * asked to resolve moves to DELAY and is probed, keeping its MAC
	 * meanwhile; PERMANENT and NOARP entries never go STALE (asking them
	 * to resolve would turn a static entry into a probe).
	 */
	if (add && kn->state == NUD_STALE && r->nb_stale < DP_ROUTER_STALE_MAX &&
	    rt_is_gateway(r->rt, p->port, kn->addr.family, kn->addr.addr)) {
		r->stale[r->nb_stale].port = p->port;
		r->stale[r->nb_stale++].addr = kn->addr;
	}
}

static void
on_nl_log(void *arg, const char *msg)
{
	(void)arg;
	DP_LOG(WARNING, "netlink: %s", msg);
}

static void
on_resynced(void *arg, unsigned int changes)
{
	struct dp_router *r = arg;

	DP_LOG(INFO, "kernel table %u and neighbours re-read: %u changes",
	       r->kernel_table, changes);
}

/* ------------------------------------------------------------------------
 * Policy: connected and static routes.
 */

static int
apply_addresses(struct dp_router *r, const struct sl_policy *p)
{
	int ret, err = 0;

	for (unsigned int i = 0; i < r->nb_ports; i++) {
		struct dp_router_port *rp = &r->ports[i];
		int pi = sl_policy_find_port(p, rp->name);
		const struct sl_port *sp = &p->ports[pi];
		struct dp_port_addrs a = { 0 };

		/* Connected routes: remove what the port no longer has, then
		 * add what it has (rt_set_local of a present one is a no-op
		 * change). */
		for (size_t k = 0; k < rp->n_addrs; k++) {
			bool kept = false;

			for (size_t j = 0; j < sp->n_addrs && !kept; j++)
				kept = memcmp(&rp->addrs[k], &sp->addrs[j],
					      sizeof(sp->addrs[j])) == 0;
			if (!kept)
				rt_unset_local(r->rt, rp->port, &rp->addrs[k]);
		}
		rp->n_addrs = 0;
		for (size_t j = 0; j < sp->n_addrs; j++) {
			ret = rt_set_local(r->rt, rp->port, &sp->addrs[j]);
			if (ret != 0) {
				DP_LOG(ERR, "port %s: address %zu: %s",
				       rp->name, j, strerror(-ret));
				err = ret;
				continue;
			}
			rp->addrs[rp->n_addrs++] = sp->addrs[j];
			if (sp->addrs[j].family == SL_FAMILY_IPV4 &&
			    a.v4.family == SL_FAMILY_NONE)
				a.v4 = sp->addrs[j];
			if (sp->addrs[j].family == SL_FAMILY_IPV6 &&
			    a.v6.family == SL_FAMILY_NONE)
				a.v6 = sp->addrs[j];
		}
		r->addrs[rp->port] = a;
		/* The twin carries the same addresses for the kernel. */
		ret = sl_nl_addrs_sync(r->nl, rp->ifindex, sp->addrs,
				       sp->n_addrs);
		if (ret != 0) {
			DP_LOG(ERR, "twin %s: addresses: %s", rp->name,
			       sl_nl_errmsg(r->nl));
			err = ret;
		}
	}
	return err;
}

static int
apply_static(struct dp_router *r, const struct sl_policy *p,
	     const uint16_t *port_of)
{
	struct rt_route_spec *routes;
	struct rt_nexthop_spec *nhs;
	size_t n_nh = 0, k = 0;
	int ret;

	for (size_t i = 0; i < p->n_routes; i++)
		n_nh += p->routes[i].n_nexthops;
	routes = calloc(p->n_routes ? p->n_routes : 1, sizeof(*routes));
	nhs = calloc(n_nh ? n_nh : 1, sizeof(*nhs));
	if (routes == NULL || nhs == NULL) {
		free(routes);
		free(nhs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct sl_route *sr = &p->routes[i];

		routes[i].prefix = sr->prefix;
		routes[i].nexthops = &nhs[k];
		routes[i].n_nexthops = (unsigned int)sr->n_nexthops;
		for (size_t j = 0; j < sr->n_nexthops; j++, k++) {
			const struct sl_nexthop *h = &sr->nexthops[j];

			nhs[k] = (struct rt_nexthop_spec){
				.family = h->gateway.family,
				.has_gateway = h->gateway.family != SL_FAMILY_NONE,
				.port = port_of[sl_policy_find_port(p, h->port)],
				.weight = h->weight,
			};
			memcpy(nhs[k].gateway, h->gateway.addr, 16);
		}
	}
	ret = rt_sync_static(r->rt, routes, p->n_routes);
	free(routes);
	free(nhs);
	if (ret != 0)
		DP_LOG(ERR, "static routes: %s", strerror(-ret));
	return ret;
}

/* ------------------------------------------------------------------------
 * Life cycle.
 */

int
dp_router_start(struct dp_router *r, const struct dp_config *cfg,
		const struct sl_policy *p, const uint16_t *port_of,
		struct rte_rcu_qsbr *qs, unsigned int nb_workers)
{
	const struct sl_settings *s = &p->settings;
	struct sl_nl_handlers h = {
		.route = on_route,
		.neigh = on_neigh,
		.resynced = on_resynced,
		.log = on_nl_log,
		.arg = r,
	};
	struct rt_params rp = {
		.name = "sl_rt",
		.socket = (int)rte_socket_id(),
		.max_routes_ipv4 = s->rt_max_routes_ipv4,
		.max_routes_ipv6 = s->rt_max_routes_ipv6,
		.nb_workers = (uint16_t)nb_workers,
		.qs = qs,
	};
	char err[256];
	uint64_t t0 = rte_rdtsc();
	struct rt_stats st;
	int ret;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < p->n_ports; i++) {
		const struct sl_port *sp = &p->ports[i];
		struct dp_router_port *rpt;

		if (sp->mode != SL_PORT_MODE_ROUTE)
			continue;
		rpt = &r->ports[r->nb_ports++];
		rpt->port = port_of[i];
		rpt->twin = cfg->twin[port_of[i]];
		snprintf(rpt->name, sizeof(rpt->name), "%s", sp->name);
		rpt->ifindex = sl_nl_link_index(sp->name);
		if (rpt->ifindex < 0) {
			DP_LOG(ERR, "twin %s: no such kernel interface: %s",
			       sp->name, strerror(-rpt->ifindex));
			return rpt->ifindex;
		}
	}
	if (r->nb_ports == 0)
		return 0;

	r->addrs = rte_zmalloc("sl_port_addrs",
			       sizeof(*r->addrs) * RTE_MAX_ETHPORTS, 0);
	r->rt = rt_create(&rp);
	if (r->addrs == NULL || r->rt == NULL) {
		DP_LOG(ERR, "route table (%u IPv4, %u IPv6 routes): %s",
		       rp.max_routes_ipv4, rp.max_routes_ipv6,
		       strerror(r->rt == NULL ? errno : ENOMEM));
		dp_router_stop(r);
		return -ENOMEM;
	}
	r->kernel_table = s->rt_kernel_table;
	r->nl = sl_nl_open(r->kernel_table, &h, err, sizeof(err));
	if (r->nl == NULL) {
		DP_LOG(ERR, "netlink: %s", err);
		dp_router_stop(r);
		return -errno;
	}
	for (unsigned int i = 0; i < r->nb_ports; i++) {
		ret = sl_nl_link_up(r->nl, r->ports[i].ifindex, 0);
		if (ret != 0)
			DP_LOG(WARNING, "twin %s: link up: %s",
			       r->ports[i].name, sl_nl_errmsg(r->nl));
	}
	ret = apply_addresses(r, p);
	if (ret == 0)
		ret = apply_static(r, p, port_of);
	if (ret == 0 && sl_nl_dump(r->nl) != 0) {
		DP_LOG(ERR, "netlink: reading the kernel's tables: %s",
		       sl_nl_errmsg(r->nl));
		ret = -EIO;
	}
	if (ret != 0) {
		dp_router_stop(r);
		return ret;
	}
	rt_stats(r->rt, &st);
	DP_LOG(INFO, "routes in force: ipv4 %u ipv6 %u (static %u, kernel "
	       "%u), neighbours %u, in %.1f ms", st.prefixes[0],
	       st.prefixes[1], st.routes[0][RT_SRC_STATIC] +
	       st.routes[1][RT_SRC_STATIC], st.routes[0][RT_SRC_KERNEL] +
	       st.routes[1][RT_SRC_KERNEL], st.neighbours,
	       (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
	return 0;
}

int
dp_router_apply(struct dp_router *r, const struct sl_policy *p,
		const uint16_t *port_of)
{
	uint64_t t0 = rte_rdtsc();
	struct rt_stats st;
	int ret;

	if (r->rt == NULL)
		return 0;
	ret = apply_addresses(r, p);
	if (apply_static(r, p, port_of) != 0)
		ret = -EINVAL;
	rt_stats(r->rt, &st);
	DP_LOG(INFO, "routes in force: ipv4 %u ipv6 %u (static %u, kernel "
	       "%u), in %.1f ms", st.prefixes[0], st.prefixes[1],
	       st.routes[0][RT_SRC_STATIC] + st.routes[1][RT_SRC_STATIC],
	       st.routes[0][RT_SRC_KERNEL] + st.routes[1][RT_SRC_KERNEL],
	       (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
	return ret;
}

static void
on_unresolved(void *arg, uint16_t port, uint8_t family, const uint8_t *addr)
{
	struct dp_router *r = arg;
	const struct dp_router_port *p = port_by_id(r, port);
	struct sl_prefix a = { .family = family,
			       .len = family == SL_FAMILY_IPV4 ? 32 : 128 };

	if (p == NULL)
		return;
	memcpy(a.addr, addr, family == SL_FAMILY_IPV4 ? 4 : 16);
	if (sl_nl_resolve(r->nl, p->ifindex, &a) != 0)
		DP_LOG(DEBUG, "resolve on %s: %s", p->name,
		       sl_nl_errmsg(r->nl));
}

void
dp_router_poll(struct dp_router *r)
{
	uint64_t now = rte_rdtsc();

	if (r->rt == NULL || now < r->next_poll)
		return;
	r->next_poll = now + rte_get_tsc_hz() / 1000 * ROUTER_POLL_MS;
	if (sl_nl_poll(r->nl, ROUTER_NL_BATCH) < 0)
		DP_LOG(WARNING, "netlink: %s", sl_nl_errmsg(r->nl));
	rt_take_unresolved(r->rt, now, on_unresolved, r);
	for (unsigned int i = 0; i < r->nb_stale; i++)
		on_unresolved(r, r->stale[i].port, r->stale[i].addr.family,
			      r->stale[i].addr.addr);
	r->nb_stale = 0;
	rt_reclaim(r->rt, false);
}

void
dp_router_print(const struct dp_router *r, FILE *out)
{
	struct rt_stats st;

	if (r->rt == NULL)
		return;
	rt_stats(r->rt, &st);
	fprintf(out, "routes: ipv4 %u ipv6 %u (static %u, kernel %u), "
		"neighbours %u, kernel routes not mirrored %" PRIu64 "\n",
		st.prefixes[0], st.prefixes[1],
		st.routes[0][RT_SRC_STATIC] + st.routes[1][RT_SRC_STATIC],
		st.routes[0][RT_SRC_KERNEL] + st.routes[1][RT_SRC_KERNEL],
		st.neighbours, r->kernel_skipped);
}

void
dp_router_stop(struct dp_router *r)
{
	sl_nl_close(r->nl);
	r->nl = NULL;
	rt_free(r->rt);
	r->rt = NULL;
	rte_free(r->addrs);
	r->addrs = NULL;
}

int
dp_router_source(void *arg, const struct sl_prefix *remote, uint8_t *out)
{
	const struct dp_router *r = arg;
	struct sl_pkt_meta m;
	const struct sl_prefix *a;
	struct rt_result res;

	if (r->rt == NULL)
		return -ENETUNREACH;
	/* The route to remote, as for a packet from remote itself (a valid
	 * source, so the martian check stays out of the way). */
	rt_lookup_host(r->rt, remote->family, remote->addr, remote->addr, 0,
		       &m, &res);
	if (res.verdict != RT_FORWARD && res.verdict != RT_UNRESOLVED)
		return -ENETUNREACH;
	a = remote->family == SL_FAMILY_IPV4 ? &r->addrs[res.port].v4
					     : &r->addrs[res.port].v6;
	if (a->family == SL_FAMILY_NONE)
		return -EADDRNOTAVAIL;
	memcpy(out, a->addr, remote->family == SL_FAMILY_IPV4 ? 4 : 16);
	return 0;
}
