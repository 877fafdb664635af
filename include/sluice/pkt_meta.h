/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the parser learns about one packet.  Filled by the scalar and the
 * vector parsers, which must produce byte-identical structs for the same
 * input (tests/unit/test_parse_diff.c checks it), so every field - padding
 * included - is written on every parse.
 *
 * Offsets count from the first byte of the Ethernet header.  Multi-byte
 * values are in host order unless a comment says otherwise.  A field that
 * does not apply to the packet is zero.
 *
 * A dropped packet (drop_reason != 0) keeps pkt_len and the fields of the
 * headers before the faulty one (the VLAN tags, l3, ethertype and l3_off
 * of layer 2; ttl, l3_end, frag, l4_off and l4_proto of layer 3); every
 * other field is zero, the key included.  The full semantics are at the
 * top of dataplane/parse_scalar.c.
 */
#ifndef SLUICE_PKT_META_H
#define SLUICE_PKT_META_H

#include <stdint.h>

#include "sluice/flow_key.h"

enum sl_l3 {
	SL_L3_NONE = 0,		/* dropped before L3 was known */
	SL_L3_IPV4,
	SL_L3_IPV6,
	SL_L3_ARP,
	SL_L3_OTHER,		/* any other ethertype: not parsed further */
};

/* meta.frag bits */
#define SL_FRAG_IS_FRAG  0x01	/* part of a fragmented datagram */
#define SL_FRAG_FIRST    0x02	/* offset 0: carries the L4 header */
#define SL_FRAG_MORE     0x04	/* more fragments follow (MF set) */

/* meta.tcp_flags bits, as they sit in the TCP header. */
#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_PSH 0x08
#define SL_TCP_ACK 0x10
#define SL_TCP_URG 0x20
#define SL_TCP_ECE 0x40
#define SL_TCP_CWR 0x80

/* The IPv6 extension headers the parser walks before giving up. */
#define SL_IPV6_EXT_MAX 8

struct sl_pkt_meta {
	struct sl_flow_key key;	/* symmetric 5-tuple; zero unless kept IP */

	uint16_t pkt_len;	/* bytes the parser was given */
	uint16_t l3_off;	/* first byte after Ethernet and VLAN tags */
	uint16_t l4_off;	/* first byte after IP header + extensions (for
				 * a non-first fragment: its payload) */
	uint16_t payload_off;	/* first byte after the L4 header; 0 if none */
	uint16_t l3_end;	/* end of the IP datagram (frame may be padded) */
	uint16_t ethertype;	/* after the VLAN tags */
	uint16_t vlan_outer;	/* VID of the first tag (802.1ad or 802.1Q) */
	uint16_t vlan_inner;	/* VID of the second tag */

	uint16_t sport;		/* TCP/UDP/SCTP ports; ICMP echo: identifier */
	uint16_t dport;		/* (in both), other ICMP: 0 */
	uint16_t gre_proto;	/* GRE protocol type */
	uint8_t vlan_count;	/* 0, 1 or 2 */
	uint8_t l3;		/* enum sl_l3 */

	uint8_t l4_proto;	/* IPv4 protocol / last IPv6 next header */
	uint8_t frag;		/* SL_FRAG_* bits */
	uint8_t ttl;		/* TTL or hop limit */
	uint8_t tcp_flags;	/* the 8 flag bits, CWR..FIN */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t key_swapped;	/* 1: source is key.addr_hi/port_hi */
	uint8_t drop_reason;	/* enum sl_drop_reason; 0 = keep */
};

_Static_assert(sizeof(struct sl_pkt_meta) == 72, "meta stays 72 bytes");

#endif /* SLUICE_PKT_META_H */
