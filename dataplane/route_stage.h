/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing stage of the hot path, for packets received on a routed port
 * (enum dp_port_kind DP_PORT_ROUTED) once the parser and the firewall have
 * judged them.
 */
#ifndef SLUICE_DP_ROUTE_STAGE_H
#define SLUICE_DP_ROUTE_STAGE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "sluice/pkt_meta.h"

struct dp_worker;

/*
 * Route, rewrite and queue the n packets of a chunk received on in_port.
 * A packet whose meta.drop_reason is set (by the parser or the firewall)
 * is dropped under that reason; every other one leaves by exactly one of:
 *   - the egress port of its route, MACs rewritten and TTL / hop limit
 *     decremented (IPv4 checksum updated incrementally);
 *   - the TAP twin of in_port: frames that are not IP (ARP, LLDP), tagged
 *     frames, and IP packets for the appliance (its addresses, link-local
 *     scope such as ND and OSPF);
 *   - a drop under other_host, no_route, ttl_expired, no_neigh or martian;
 *     no_route and ttl_expired also send an ICMP error back out of in_port
 *     when the worker's rate limit allows.
 * data[i] is packet i's first byte.
 */
void dp_route_chunk(struct dp_worker *w, uint16_t in_port,
		    struct rte_mbuf *pkts[], const uint8_t *const data[],
		    struct sl_pkt_meta meta[], uint16_t n, uint64_t now);

#endif /* SLUICE_DP_ROUTE_STAGE_H */
