/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP and ICMPv6 errors about routed packets: time exceeded (TTL or hop
 * limit would reach zero) and destination unreachable (no route).  Cold
 * path: a worker calls it for a packet it is about to drop and count, and
 * sends what it gets back out of the ingress port.
 *
 * Each worker owns a token bucket (struct icmp_limit), so errors cost at
 * most a configured rate (settings.routing.icmp_errors) whatever arrives.
 * An error the bucket refuses is not a drop of its own: the packet is
 * still counted under ttl_expired or no_route.
 */
#ifndef SLUICE_DP_ICMP_ERROR_H
#define SLUICE_DP_ICMP_ERROR_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "sluice/pkt_meta.h"

enum icmp_error_kind {
	ICMP_ERROR_TIME_EXCEEDED,	/* ICMP 11/0, ICMPv6 3/0 */
	ICMP_ERROR_NO_ROUTE,		/* ICMP 3/0 (net unreachable), ICMPv6 1/0 */
};

/* What the error quotes at most: the whole error datagram stays within
 * RFC 1812's 576 bytes (IPv4) and RFC 4443's 1280 (IPv6). */
#define ICMP_ERR_V4_MAX 576
#define ICMP_ERR_V6_MAX 1280

/* A token bucket in TSC cycles: a token every period, at most burst
 * cycles of credit. */
struct icmp_limit {
	uint64_t period;	/* cycles per error; 0: errors off */
	uint64_t burst;		/* cycles of credit the bucket holds */
	uint64_t tokens;	/* cycles of credit now */
	uint64_t last;		/* TSC of the last call */
};

/* per_sec errors a second (0: none), up to burst (at least 1) at once,
 * for a TSC of hz; the bucket starts full at now. */
void icmp_limit_init_tsc(struct icmp_limit *l, uint32_t per_sec,
			 uint32_t burst, uint64_t hz, uint64_t now);

/* The same with this machine's TSC, starting now, and a burst of a
 * twentieth of the rate (Linux: 50 of 1000/s), at least 1. */
void icmp_limit_init(struct icmp_limit *l, uint32_t per_sec);

/* Take one token at TSC now; false when the bucket is empty or off. */
static inline bool
icmp_limit_take(struct icmp_limit *l, uint64_t now)
{
	uint64_t elapsed = now - l->last;
	uint64_t credit;

	if (l->period == 0)
		return false;
	l->last = now;
	credit = elapsed >= l->burst ? l->burst : l->tokens + elapsed;
	if (credit > l->burst)
		credit = l->burst;
	if (credit < l->period) {
		l->tokens = credit;
		return false;
	}
	l->tokens = credit - l->period;
	return true;
}

/*
 * Whether RFC 1812 4.3.2.7 and RFC 4443 2.4 (e) allow an error about this
 * packet (frame: its first bytes, at least to l3_off + 40): not about an
 * ICMP error, a fragment other than the first, a link-layer multicast or
 * broadcast, an IP multicast or broadcast destination, or a source that
 * names no single host (unspecified, loopback, multicast, class E).
 */
bool icmp_error_allowed(const struct sl_pkt_meta *m, const uint8_t *frame);

/*
 * Build the error of kind about pkt (parsed into m) in a new mbuf from
 * pkt's pool: from port_addr (the ingress port's address of the packet's
 * family, 4 or 16 bytes) and port_mac to the packet's source and source
 * MAC, with pkt's VLAN tags, quoting as much of the datagram as the limits
 * above allow, checksums filled.  Takes a token from lim (NULL: no limit)
 * only when the error is allowed.  pkt is left as it was.
 *
 * Returns 0 and *out, -EPERM (no error may be sent about this packet),
 * -EADDRNOTAVAIL (port_addr NULL), -EBUSY (rate limit), -ENOMEM.
 */
int icmp_error_build(const struct rte_mbuf *pkt, const struct sl_pkt_meta *m,
		     enum icmp_error_kind kind,
		     const struct rte_ether_addr *port_mac,
		     const uint8_t *port_addr, struct icmp_limit *lim,
		     uint64_t now, struct rte_mbuf **out);

#endif /* SLUICE_DP_ICMP_ERROR_H */
