/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Copies of a packet for replication and steering targets, per packet: an
 * indirect clone for a local port, or an encapsulated copy for a remote
 * node - VXLAN (RFC 7348), GENEVE (RFC 8926) or GRE with transparent
 * Ethernet bridging (RFC 2784, key of RFC 2890) - over IPv4 or IPv6.
 *
 * A copy shares the packet's data instead of copying it: it is an indirect
 * mbuf (rte_pktmbuf_clone) that points into the packet's buffer, and an
 * encapsulated copy has one more segment in front that holds its outer
 * headers.  What follows for the caller:
 *
 *  - Copies are multi-segment mbufs from up to three pools (header, clone,
 *    the packet's own).  Only hand them to a TX queue configured with
 *    RTE_ETH_TX_OFFLOAD_MULTI_SEGS and without
 *    RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE.  The original itself must not go
 *    out of a FAST_FREE queue either while copies exist: its refcount is
 *    above 1, and fast free would recycle a buffer the copies still read.
 *
 *  - The data is shared: every write to the packet's bytes, before or after
 *    the copies were made, until the last copy has left the NIC, is seen by
 *    every copy.  So either rewrite the original (rt_rewrite) before making
 *    copies, and the copies carry the rewritten frame; or, to send copies of
 *    the frame as received, make them first and then give the original
 *    private header bytes with encap_unshare_head() before rewriting it.
 *    Nothing here ever writes into the shared data.
 *
 *  - The inner frame is the whole packet (pkt_len bytes, every segment),
 *    Ethernet header and VLAN tags included, without FCS.  A tag the NIC
 *    stripped into vlan_tci is not put back.
 *
 *  - An encapsulated copy is encap_overhead() bytes longer than the packet.
 *    The outer IPv4 header has DF set, so the caller checks the egress MTU:
 *    pkt_len + encap_overhead() - RTE_ETHER_HDR_LEN <= MTU of the port.
 *
 * Pools: hdr_pool needs a data room of at least RTE_PKTMBUF_HEADROOM +
 * ENCAP_HDR_MAX bytes (a pool of small mbufs is best); clone_pool is any
 * pktmbuf pool, data room 0 is enough (an indirect mbuf uses none).  Both
 * may be the same pool.
 *
 * Functions return the new mbuf or NULL when a pool is empty, a chain
 * would pass RTE_MBUF_MAX_NB_SEGS, or (encap_copy) the outer datagram would
 * pass 65,535 bytes; on NULL nothing is held and the packet is as it was.
 * They are safe to call from any worker on its own packets; struct
 * encap_tunnel is read-only after encap_tunnel_init().
 */
#ifndef SLUICE_DP_ENCAP_H
#define SLUICE_DP_ENCAP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "sluice/policy.h"

/* Outer header sizes: Ethernet + IPv4/IPv6 + UDP + VXLAN/GENEVE (8, no
 * GENEVE options) or + GRE (4, 8 with a key). */
#define ENCAP_HDR_MAX		(14 + 40 + 8 + 8)
#define ENCAP_TTL_DEFAULT	64

/* Compiled once per target on the control thread. */
struct encap_tunnel {
	uint8_t kind;		/* SL_TARGET_VXLAN, _GENEVE, _GRE */
	uint8_t family;		/* outer: SL_FAMILY_IPV4 or _IPV6 */
	uint8_t ttl;		/* outer TTL / hop limit */
	uint8_t hdr_len;	/* outer header bytes: encap_overhead() */
	uint8_t local[16];	/* outer source, network order (IPv4: 0..3) */
	uint8_t remote[16];	/* outer destination */
	uint32_t vni;		/* VXLAN, GENEVE: 24 bits */
	uint16_t udp_dport;	/* VXLAN, GENEVE */
	bool has_key;		/* GRE: RFC 2890 key present */
	uint32_t key;		/* GRE */
	/* The outer headers with MACs, lengths, IPv4 ID, checksums, UDP
	 * source port and flow label zero: what every copy starts from. */
	uint16_t ip4_sum;	/* one's complement sum of tmpl's IPv4 hdr */
	uint8_t tmpl[ENCAP_HDR_MAX];
};

/*
 * Compile a tunnel target of a valid policy.  The outer source is tg->local,
 * or when that is absent egress_addr (the address of the egress port in the
 * family of tg->remote: 4 or 16 bytes; NULL if it has none).  ttl 0 means
 * ENCAP_TTL_DEFAULT.  A udp_port of 0 takes the kind's IANA port (4789,
 * 6081).
 *
 * Returns 0, -EINVAL (not a tunnel target; remote absent; local in another
 * family than remote; VNI over 24 bits), -EADDRNOTAVAIL (no local address
 * and egress_addr NULL).
 */
int encap_tunnel_init(struct encap_tunnel *t, const struct sl_target *tg,
		      const uint8_t *egress_addr, uint8_t ttl);

/* Outer header bytes an encapsulated copy adds (Ethernet included). */
static inline unsigned int
encap_overhead(const struct encap_tunnel *t)
{
	return t->hdr_len;
}

/* Multiply-shift mixing (Knuth's golden ratio constant): every bit of the
 * flow hash moves the top bits of the product, which the two functions
 * below take, from disjoint ranges. */
#define ENCAP_HASH_MIX 0x9e3779b97f4a7c15ULL

/* The UDP source port for a flow hash: 14 bits of it in the dynamic range
 * 49152..65535 (RFC 7348 section 5, RFC 8926 section 3.3), so that the
 * underlay's ECMP spreads flows and keeps each on one path. */
static inline uint16_t
encap_udp_sport(uint64_t flow_hash)
{
	return (uint16_t)(0xc000u | ((flow_hash * ENCAP_HASH_MIX) >> 50));
}

/* The outer IPv6 flow label for a flow hash (RFC 6438): 20 bits of it,
 * never 0, which RFC 6437 keeps for unlabelled packets. */
static inline uint32_t
encap_flow_label(uint64_t flow_hash)
{
	uint32_t fl = (uint32_t)((flow_hash * ENCAP_HASH_MIX) >> 30) & 0xfffff;

	return fl != 0 ? fl : 1;
}

/*
 * An encapsulated copy of pkt toward t: a header mbuf from hdr_pool with
 * the outer Ethernet (src_mac to dst_mac, the next hop toward t->remote),
 * IP, and UDP + VXLAN/GENEVE or GRE headers, chained in front of an indirect
 * clone of pkt from clone_pool.  Filled: IP lengths; IPv4 header checksum,
 * DF, ID from *ip_id (the worker's counter, advanced; untouched for IPv6);
 * IPv6 flow label from flow_hash (encap_flow_label); UDP source port
 * from flow_hash (encap_udp_sport) and length; UDP checksum 0 over IPv4 (RFC
 * 7348 section 5, RFC 8926 section 3.3) and computed over the whole chain
 * over IPv6 (RFC 8200 section 8.1: zero-checksum IPv6 tunnels under RFC
 * 6935/6936 need the receiver to be configured for them, so they are not
 * the default).  Outer DSCP and ECN are 0 (RFC 6040's compatibility mode).
 *
 * pkt keeps its reference (the clone raises its refcount) and is not
 * written.  Returns the copy or NULL (see above).
 */
struct rte_mbuf *encap_copy(struct rte_mbuf *pkt, const struct encap_tunnel *t,
			    const struct rte_ether_addr *src_mac,
			    const struct rte_ether_addr *dst_mac,
			    uint64_t flow_hash, uint16_t *ip_id,
			    struct rte_mempool *hdr_pool,
			    struct rte_mempool *clone_pool);

/* A copy for a local port target: an indirect clone of pkt, the frame
 * unchanged, or NULL. */
static inline struct rte_mbuf *
encap_clone(struct rte_mbuf *pkt, struct rte_mempool *clone_pool)
{
	return rte_pktmbuf_clone(pkt, clone_pool);
}

/*
 * Make the first len bytes of pkt its own, so that they can be rewritten
 * without changing the copies that share its data ("copy only when a copy
 * must be changed").  When nothing else references pkt's first segment,
 * pkt itself is returned.  Otherwise the result is a new packet: a header
 * mbuf from hdr_pool holding a copy of those bytes, chained in front of a
 * clone (from clone_pool) of the rest, if any; pkt's reference is handed
 * to it (pkt must not be used again) and its port, VLAN fields, offload
 * fields, RSS hash, packet type, RX flags and dynamic fields come along.
 * len is clipped to pkt's first segment; the header mbuf must have room
 * for it.
 *
 * Returns the packet to go on with, or NULL (pkt is then unchanged and
 * still the caller's).
 */
struct rte_mbuf *encap_unshare_head(struct rte_mbuf *pkt, uint16_t len,
				    struct rte_mempool *hdr_pool,
				    struct rte_mempool *clone_pool);

#endif /* SLUICE_DP_ENCAP_H */
