/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every reason Sluice has to drop a packet, declared once.
 *
 * SL_DROP_REASONS is an X-macro: each _(NAME, "name", "description") line
 * yields one enum sl_drop_reason value (SL_DROP_NAME), the short name used
 * in counters, the API and metrics, and a sentence for operators.  Add new
 * reasons at the end of their group; the numeric values are not an ABI (the
 * names are), but keep SL_DROP_NONE first so that 0 means "not dropped".
 */
#ifndef SLUICE_DROP_REASON_H
#define SLUICE_DROP_REASON_H

#define SL_DROP_REASONS(_)                                                     \
	_(NONE, "none", "not dropped")                                         \
	/* parser: layer 2 */                                                  \
	_(ETH_TRUNCATED, "eth_truncated",                                      \
	  "frame shorter than an Ethernet header")                             \
	_(VLAN_TRUNCATED, "vlan_truncated", "frame ends inside a VLAN tag")   \
	_(VLAN_TOO_MANY, "vlan_too_many", "more than two VLAN tags")          \
	_(ARP_TRUNCATED, "arp_truncated", "frame ends inside an ARP header")  \
	/* parser: IPv4 */                                                     \
	_(IPV4_TRUNCATED, "ipv4_truncated",                                    \
	  "frame ends inside the fixed IPv4 header")                           \
	_(IPV4_BAD_VERSION, "ipv4_bad_version",                                \
	  "IPv4 ethertype but IP version is not 4")                           \
	_(IPV4_BAD_IHL, "ipv4_bad_ihl", "IPv4 header length (IHL) below 5")   \
	_(IPV4_OPTIONS_TRUNCATED, "ipv4_options_truncated",                    \
	  "frame ends inside the IPv4 options")                                \
	_(IPV4_BAD_TOTAL_LEN, "ipv4_bad_total_len",                            \
	  "IPv4 total length below the header length or beyond the frame")    \
	/* parser: IPv6 */                                                     \
	_(IPV6_TRUNCATED, "ipv6_truncated",                                    \
	  "frame ends inside the fixed IPv6 header")                           \
	_(IPV6_BAD_VERSION, "ipv6_bad_version",                                \
	  "IPv6 ethertype but IP version is not 6")                           \
	_(IPV6_BAD_PAYLOAD_LEN, "ipv6_bad_payload_len",                        \
	  "IPv6 payload length beyond the frame")                              \
	_(IPV6_EXT_TRUNCATED, "ipv6_ext_truncated",                            \
	  "IPv6 extension header runs past the payload")                       \
	_(IPV6_EXT_TOO_MANY, "ipv6_ext_too_many",                              \
	  "more IPv6 extension headers than the parser walks")                 \
	/* parser: layer 4 */                                                  \
	_(TCP_TRUNCATED, "tcp_truncated", "IP payload ends inside the TCP header") \
	_(TCP_BAD_DATA_OFFSET, "tcp_bad_data_offset",                          \
	  "TCP data offset below 5 or beyond the IP payload")                  \
	_(UDP_TRUNCATED, "udp_truncated", "IP payload ends inside the UDP header") \
	_(UDP_BAD_LEN, "udp_bad_len",                                          \
	  "UDP length below 8 or beyond the IP payload")                       \
	_(SCTP_TRUNCATED, "sctp_truncated",                                    \
	  "IP payload ends inside the SCTP common header")                     \
	_(ICMP_TRUNCATED, "icmp_truncated",                                    \
	  "IP payload ends inside the ICMP/ICMPv6 header")                     \
	_(GRE_TRUNCATED, "gre_truncated", "IP payload ends inside the GRE header") \
	_(GRE_BAD_VERSION, "gre_bad_version", "GRE version other than 0 or 1")\
	/* firewall */                                                         \
	_(RULE, "rule", "dropped by a firewall rule or the default action")   \
	_(CT_FULL, "ct_full",                                                  \
	  "new flow accepted but the connection table is full")              \
	/* routing */                                                          \
	_(NO_ROUTE, "no_route", "no route to the destination")               \
	_(TTL_EXPIRED, "ttl_expired",                                          \
	  "TTL or hop limit would reach zero")                                 \
	_(NO_NEIGH, "no_neigh",                                                \
	  "the next hop's link-layer address is not resolved yet")            \
	_(MARTIAN, "martian",                                                  \
	  "source or destination address that is never routed")               \
	/* dataplane */                                                        \
	_(HDR_SPLIT, "hdr_split",                                              \
	  "headers continue past the first segment of the buffer")             \
	_(NO_EGRESS, "no_egress", "the ingress port has no egress configured")\
	_(NO_TARGET, "no_target",                                              \
	  "steered to a group with no live target")                          \
	_(NO_MBUF, "no_mbuf",                                                  \
	  "no mbuf left to give a replicated packet its own headers")        \
	_(OTHER_HOST, "other_host",                                            \
	  "routed port: unicast frame addressed to another station's MAC")   \
	_(TX_FULL, "tx_full",                                                  \
	  "the egress port did not take the packet (queue full, link down)")

enum sl_drop_reason {
#define SL_DROP_ENUM_(name, str, desc) SL_DROP_##name,
	SL_DROP_REASONS(SL_DROP_ENUM_)
#undef SL_DROP_ENUM_
	SL_DROP_MAX
};

/* Short name ("ipv4_bad_ihl"); "unknown" for a value out of range. */
const char *sl_drop_reason_name(unsigned int reason);

/* One-sentence description for operators. */
const char *sl_drop_reason_desc(unsigned int reason);

/* Reason for a short name, or -1 when no reason has that name. */
int sl_drop_reason_from_name(const char *name);

#endif /* SLUICE_DROP_REASON_H */
