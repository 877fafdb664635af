/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rewrite of a routed packet, per packet: new Ethernet addresses, TTL
 * or hop limit down by one, and for IPv4 the header checksum updated
 * incrementally.
 *
 * Uses meta->l3_off (VLAN tags stay as they are).  The caller has checked
 * that the TTL is above 1 (else the packet is ttl_expired) and that the
 * headers lie in the first segment.
 */
#ifndef SLUICE_DP_REWRITE_H
#define SLUICE_DP_REWRITE_H

#include <stdint.h>
#include <string.h>

#include <rte_ether.h>

#include "sluice/pkt_meta.h"

/* Destination (packed as in route_lookup.h: byte i in bits 8i..8i+7) and
 * source MAC. */
static inline void
rt_rewrite_macs(uint8_t *frame, const struct rte_ether_addr *src,
		uint64_t dst_mac)
{
	for (unsigned int i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		frame[i] = (uint8_t)(dst_mac >> (8 * i));
	memcpy(frame + RTE_ETHER_ADDR_LEN, src, RTE_ETHER_ADDR_LEN);
}

/*
 * RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement
 * arithmetic, where m is the 16-bit word holding TTL and protocol and m'
 * the same word with the TTL one lower: m' = m - 0x0100.  As plain 17-bit
 * integers ~m + m' = (0xffff - m) + (m - 0x0100) = 0xfeff, whatever m is,
 * so HC' = ~(~HC + 0xfeff) with the end-around carry folded in.
 *
 * Why this equals a full recompute in every case, 0x0000 and 0xffff
 * included: one's complement has two zeros.  A full recompute
 * (rte_ipv4_cksum) complements the folded sum of the header's words, and
 * the folded sum of words that are not all zero is never 0x0000: a zero
 * sum comes out as 0xffff, so the checksum is 0x0000, never 0xffff.  The
 * sum here adds 0xfeff, which is not zero, so it cannot come out as
 * 0x0000 either: both represent "zero" the same way and agree.  (RFC
 * 1141's HC' = HC + 0x0100 is the form that gets this wrong: from HC =
 * 0xfeff it gives 0xffff where the recompute gives 0x0000.)  An incoming
 * checksum of 0xffff - the other zero, which a receiver accepts where the
 * computed value is 0x0000 - comes out right too: ~0xffff is 0, the
 * additive identity.
 */
static inline uint16_t
rt_cksum_ttl_dec(uint16_t hc)
{
	uint32_t sum = (uint32_t)(uint16_t)~hc + 0xfeffu;

	sum = (sum & 0xffff) + (sum >> 16);	/* below 0x1ff00: one fold */
	return (uint16_t)~sum;
}

/* An IPv4 packet: MACs, TTL - 1, header checksum. */
static inline void
rt_rewrite_ipv4(uint8_t *frame, const struct sl_pkt_meta *m,
		const struct rte_ether_addr *src, uint64_t dst_mac)
{
	uint8_t *ip = frame + m->l3_off;
	uint16_t hc = (uint16_t)(ip[10] << 8 | ip[11]);

	rt_rewrite_macs(frame, src, dst_mac);
	ip[8]--;
	hc = rt_cksum_ttl_dec(hc);
	ip[10] = (uint8_t)(hc >> 8);
	ip[11] = (uint8_t)hc;
}

/* An IPv6 packet: MACs, hop limit - 1 (IPv6 has no header checksum). */
static inline void
rt_rewrite_ipv6(uint8_t *frame, const struct sl_pkt_meta *m,
		const struct rte_ether_addr *src, uint64_t dst_mac)
{
	rt_rewrite_macs(frame, src, dst_mac);
	frame[m->l3_off + 7]--;
}

/* Either, by m->l3. */
static inline void
rt_rewrite(uint8_t *frame, const struct sl_pkt_meta *m,
	   const struct rte_ether_addr *src, uint64_t dst_mac)
{
	if (m->l3 == SL_L3_IPV4)
		rt_rewrite_ipv4(frame, m, src, dst_mac);
	else
		rt_rewrite_ipv6(frame, m, src, dst_mac);
}

#endif /* SLUICE_DP_REWRITE_H */
