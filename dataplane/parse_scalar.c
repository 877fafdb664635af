/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scalar parser: the reference every vector variant must match byte for
 * byte (tests/unit/test_parse_diff.c, tests/fuzz/fuzz_parse.c).
 *
 * Semantics.  "avail" below always means bytes the packet really has; the
 * parser reads data[0 .. len-1] and nothing else.
 *
 * Layer 2
 *   - len < 14: ETH_TRUNCATED.
 *   - TPIDs 0x8100, 0x88a8 and 0x9100 are VLAN tags; up to two are taken
 *     (vlan_outer, then vlan_inner: the 12-bit VID; vlan_count).  A tag needs
 *     its TPID, its TCI and the next ethertype (6 bytes from the TPID), else
 *     VLAN_TRUNCATED.  A third TPID: VLAN_TOO_MANY (checked before its
 *     length).  ethertype is the type after the tags; l3_off follows it.
 *   - 0x0806 ARP: l3 = ARP; fewer than 28 bytes from l3_off: ARP_TRUNCATED.
 *   - Any other type but IPv4/IPv6: l3 = OTHER, kept, nothing more parsed.
 *
 * IPv4 (l3 = IPV4 from the ethertype on)
 *   - fewer than 20 bytes: IPV4_TRUNCATED; version != 4: IPV4_BAD_VERSION;
 *     IHL < 5: IPV4_BAD_IHL; IHL*4 past the frame: IPV4_OPTIONS_TRUNCATED;
 *     total length < IHL*4 or past the frame: IPV4_BAD_TOTAL_LEN.
 *   - l3_end = l3_off + total length (Ethernet padding after it is ignored),
 *     ttl, l4_proto = protocol, l4_off = l3_off + IHL*4.
 *   - MF set or fragment offset != 0: frag = IS_FRAG, | FIRST when the
 *     offset is 0, | MORE when MF.  A non-first fragment stops here: no L4
 *     parse (ports, payload_off stay 0).  DF and the reserved bit are ignored.
 *
 * IPv6 (l3 = IPV6 from the ethertype on)
 *   - fewer than 40 bytes: IPV6_TRUNCATED; version != 6: IPV6_BAD_VERSION;
 *     40 + payload length past the frame: IPV6_BAD_PAYLOAD_LEN.
 *   - l3_end = l3_off + 40 + payload length; ttl = hop limit.
 *   - Extension headers, walked in order, at most SL_IPV6_EXT_MAX (one more
 *     is IPV6_EXT_TOO_MANY, checked before its length): hop-by-hop (0),
 *     routing (43), destination options (60): (hdr[1] + 1) * 8 bytes;
 *     fragment (44): 8 bytes, frag bits as for IPv4 (an atomic fragment,
 *     offset 0 without M, sets none); AH (51): (hdr[1] + 2) * 4 bytes.  Each
 *     needs 8 bytes, then its whole length, before l3_end, else
 *     IPV6_EXT_TRUNCATED.  A non-first fragment ends the walk without L4.
 *   - l4_proto = the last next header, l4_off = the byte after the walk.
 *
 * Layer 4, bounded by l3_end (not by the frame), avail = l3_end - l4_off
 *   - TCP (6): avail < 20: TCP_TRUNCATED; data offset < 5 or its length past
 *     avail: TCP_BAD_DATA_OFFSET; sport, dport, tcp_flags (byte 13).
 *   - UDP (17): avail < 8: UDP_TRUNCATED; UDP length < 8, or > avail in a
 *     packet that is not a fragment: UDP_BAD_LEN (a first fragment carries
 *     the UDP length of the whole datagram); sport, dport.
 *   - SCTP (132): avail < 12: SCTP_TRUNCATED; sport, dport.
 *   - ICMP (1, IPv4 only) and ICMPv6 (58, IPv6 only): avail < 8:
 *     ICMP_TRUNCATED; icmp_type, icmp_code; echo request/reply (8/0, and
 *     128/129 for v6) put the identifier in both sport and dport.
 *   - GRE (47): avail < 4: GRE_TRUNCATED; version (byte 1 & 7) not 0 or 1:
 *     GRE_BAD_VERSION; header = 4, + 4 for each of C (0x8000), K (0x2000),
 *     S (0x1000), + 4 for A (0x0080) in version 1; past avail: GRE_TRUNCATED;
 *     gre_proto.
 *   - payload_off = the byte after the L4 header; 0 when no L4 header was
 *     parsed.  Any other protocol: l4_off and l4_proto only.
 *
 * Flow key: sl_flow_key_make(family, l4_proto, src, dst, sport, dport) only
 * when the packet is kept and is IPv4 or IPv6; key_swapped is its result.
 * Otherwise the key is all zero and key_swapped is 0.
 *
 * On a drop: drop_reason is set; what the layers before the faulty header
 * stored keeps its value (a header's own fields are stored only once the
 * header passed all its checks; l3, ethertype and l3_off come from layer 2,
 * l4_off and l4_proto from layer 3); everything else is zero.  The struct is
 * cleared first, so every byte of it is written on every call.
 */
#include <string.h>

#include "sluice/drop_reason.h"

#include "parse.h"

#define ETH_HDR_LEN 14
#define VLAN_TAG_LEN 4
#define VLAN_MAX 2
#define ARP_LEN 28
#define IPV4_HDR_MIN 20
#define IPV6_HDR_LEN 40
#define IPV6_EXT_MIN 8
#define IPV6_FRAG_LEN 8
#define TCP_HDR_MIN 20
#define UDP_HDR_LEN 8
#define SCTP_HDR_LEN 12
#define ICMP_HDR_LEN 8
#define GRE_HDR_MIN 4

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd

#define IPV4_MF 0x2000
#define IPV4_OFF_MASK 0x1fff
#define IPV6_FRAG_OFF_MASK 0xfff8
#define IPV6_FRAG_M 0x0001

#define GRE_C 0x8000
#define GRE_K 0x2000
#define GRE_S 0x1000
#define GRE_A 0x0080

enum {
	IPPROTO_HOPOPTS_ = 0,
	IPPROTO_ICMP_ = 1,
	IPPROTO_TCP_ = 6,
	IPPROTO_UDP_ = 17,
	IPPROTO_ROUTING_ = 43,
	IPPROTO_FRAGMENT_ = 44,
	IPPROTO_GRE_ = 47,
	IPPROTO_AH_ = 51,
	IPPROTO_ICMPV6_ = 58,
	IPPROTO_DSTOPTS_ = 60,
	IPPROTO_SCTP_ = 132,
};

/* Big-endian 16-bit field; byte loads, so no alignment is assumed. */
static inline uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline int
is_vlan_tpid(uint16_t type)
{
	return type == 0x8100 || type == 0x88a8 || type == 0x9100;
}

static inline uint8_t
frag_bits(int more, int offset_nonzero)
{
	if (!more && !offset_nonzero)
		return 0;
	return SL_FRAG_IS_FRAG | (offset_nonzero ? 0 : SL_FRAG_FIRST) |
	       (more ? SL_FRAG_MORE : 0);
}

/* Layer 4 at m->l4_off, bounded by m->l3_end.  v6 picks ICMP vs ICMPv6. */
static int
parse_l4(const uint8_t *d, struct sl_pkt_meta *m, int v6)
{
	const uint8_t *h = d + m->l4_off;
	unsigned int avail = m->l3_end - m->l4_off;
	unsigned int hlen;

	switch (m->l4_proto) {
	case IPPROTO_TCP_:
		if (avail < TCP_HDR_MIN)
			return SL_DROP_TCP_TRUNCATED;
		hlen = (h[12] >> 4) * 4u;
		if (hlen < TCP_HDR_MIN || hlen > avail)
			return SL_DROP_TCP_BAD_DATA_OFFSET;
		m->sport = be16(h);
		m->dport = be16(h + 2);
		m->tcp_flags = h[13];
		break;
	case IPPROTO_UDP_: {
		unsigned int ulen;

		if (avail < UDP_HDR_LEN)
			return SL_DROP_UDP_TRUNCATED;
		ulen = be16(h + 4);
		/* a first fragment carries the whole datagram's UDP length */
		if (ulen < UDP_HDR_LEN ||
		    (ulen > avail && !(m->frag & SL_FRAG_IS_FRAG)))
			return SL_DROP_UDP_BAD_LEN;
		m->sport = be16(h);
		m->dport = be16(h + 2);
		hlen = UDP_HDR_LEN;
		break;
	}
	case IPPROTO_SCTP_:
		if (avail < SCTP_HDR_LEN)
			return SL_DROP_SCTP_TRUNCATED;
		m->sport = be16(h);
		m->dport = be16(h + 2);
		hlen = SCTP_HDR_LEN;
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_: {
		int echo;

		if ((m->l4_proto == IPPROTO_ICMPV6_) != v6)
			return 0;	/* ICMP in IPv6 or ICMPv6 in IPv4: opaque */
		if (avail < ICMP_HDR_LEN)
			return SL_DROP_ICMP_TRUNCATED;
		m->icmp_type = h[0];
		m->icmp_code = h[1];
		echo = v6 ? (h[0] == 128 || h[0] == 129) : (h[0] == 8 || h[0] == 0);
		if (echo) {
			m->sport = be16(h + 4);
			m->dport = m->sport;
		}
		hlen = ICMP_HDR_LEN;
		break;
	}
	case IPPROTO_GRE_: {
		unsigned int flags, version;

		if (avail < GRE_HDR_MIN)
			return SL_DROP_GRE_TRUNCATED;
		flags = be16(h);
		version = flags & 7;
		if (version > 1)
			return SL_DROP_GRE_BAD_VERSION;
		hlen = GRE_HDR_MIN + (flags & GRE_C ? 4 : 0) +
		       (flags & GRE_K ? 4 : 0) + (flags & GRE_S ? 4 : 0) +
		       (version == 1 && (flags & GRE_A) ? 4 : 0);
		if (hlen > avail)
			return SL_DROP_GRE_TRUNCATED;
		m->gre_proto = be16(h + 2);
		break;
	}
	default:
		return 0;
	}
	m->payload_off = (uint16_t)(m->l4_off + hlen);
	return 0;
}

static int
parse_ipv4(const uint8_t *d, uint16_t len, struct sl_pkt_meta *m)
{
	unsigned int off = m->l3_off;
	const uint8_t *h = d + off;
	unsigned int ihl, total, frag_field;

	if (len - off < IPV4_HDR_MIN)
		return SL_DROP_IPV4_TRUNCATED;
	if (h[0] >> 4 != 4)
		return SL_DROP_IPV4_BAD_VERSION;
	ihl = (h[0] & 0x0f) * 4u;
	if (ihl < IPV4_HDR_MIN)
		return SL_DROP_IPV4_BAD_IHL;
	if (ihl > len - off)
		return SL_DROP_IPV4_OPTIONS_TRUNCATED;
	total = be16(h + 2);
	if (total < ihl || total > len - off)
		return SL_DROP_IPV4_BAD_TOTAL_LEN;

	frag_field = be16(h + 6);
	m->l3_end = (uint16_t)(off + total);
	m->ttl = h[8];
	m->frag = frag_bits(!!(frag_field & IPV4_MF),
			    (frag_field & IPV4_OFF_MASK) != 0);
	m->l4_proto = h[9];
	m->l4_off = (uint16_t)(off + ihl);
	if (frag_field & IPV4_OFF_MASK)
		return 0;	/* non-first fragment: no L4 header here */
	return parse_l4(d, m, 0);
}

static inline int
is_ipv6_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
	       nh == IPPROTO_DSTOPTS_ || nh == IPPROTO_FRAGMENT_ ||
	       nh == IPPROTO_AH_;
}

static int
parse_ipv6(const uint8_t *d, uint16_t len, struct sl_pkt_meta *m)
{
	unsigned int off = m->l3_off;
	const uint8_t *h = d + off;
	unsigned int end, cur, n;
	uint8_t nh;

	if (len - off < IPV6_HDR_LEN)
		return SL_DROP_IPV6_TRUNCATED;
	if (h[0] >> 4 != 6)
		return SL_DROP_IPV6_BAD_VERSION;
	end = off + IPV6_HDR_LEN + be16(h + 4);
	if (end > len)
		return SL_DROP_IPV6_BAD_PAYLOAD_LEN;
	m->l3_end = (uint16_t)end;
	m->ttl = h[7];

	nh = h[6];
	cur = off + IPV6_HDR_LEN;
	for (n = 0; is_ipv6_ext(nh); n++) {
		const uint8_t *e = d + cur;
		unsigned int elen;
		int last = 0;

		if (n == SL_IPV6_EXT_MAX)
			return SL_DROP_IPV6_EXT_TOO_MANY;
		if (end - cur < IPV6_EXT_MIN)
			return SL_DROP_IPV6_EXT_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT_) {
			unsigned int fo = be16(e + 2);

			elen = IPV6_FRAG_LEN;
			m->frag |= frag_bits(fo & IPV6_FRAG_M,
					     (fo & IPV6_FRAG_OFF_MASK) != 0);
			last = (fo & IPV6_FRAG_OFF_MASK) != 0;
		} else if (nh == IPPROTO_AH_) {
			elen = (e[1] + 2u) * 4;
		} else {
			elen = (e[1] + 1u) * 8;
		}
		if (elen > end - cur)
			return SL_DROP_IPV6_EXT_TRUNCATED;
		nh = e[0];
		cur += elen;
		if (last) {
			/* non-first fragment: the L4 header is elsewhere */
			m->l4_proto = nh;
			m->l4_off = (uint16_t)cur;
			return 0;
		}
	}
	m->l4_proto = nh;
	m->l4_off = (uint16_t)cur;
	return parse_l4(d, m, 1);
}

/* Layer 2, then dispatch on the ethertype. */
static int
parse_frame(const uint8_t *d, uint16_t len, struct sl_pkt_meta *m)
{
	unsigned int off = 12;	/* the type field being looked at */
	uint16_t type;

	if (len < ETH_HDR_LEN)
		return SL_DROP_ETH_TRUNCATED;
	type = be16(d + off);
	while (is_vlan_tpid(type)) {
		uint16_t vid;

		if (m->vlan_count == VLAN_MAX)
			return SL_DROP_VLAN_TOO_MANY;
		if (off + VLAN_TAG_LEN + 2 > len)
			return SL_DROP_VLAN_TRUNCATED;
		vid = be16(d + off + 2) & 0x0fff;
		if (m->vlan_count == 0)
			m->vlan_outer = vid;
		else
			m->vlan_inner = vid;
		m->vlan_count++;
		off += VLAN_TAG_LEN;
		type = be16(d + off);
	}
	m->ethertype = type;
	m->l3_off = (uint16_t)(off + 2);

	switch (type) {
	case ETHERTYPE_IPV4:
		m->l3 = SL_L3_IPV4;
		return parse_ipv4(d, len, m);
	case ETHERTYPE_IPV6:
		m->l3 = SL_L3_IPV6;
		return parse_ipv6(d, len, m);
	case ETHERTYPE_ARP:
		m->l3 = SL_L3_ARP;
		return len - m->l3_off < ARP_LEN ? SL_DROP_ARP_TRUNCATED : 0;
	default:
		m->l3 = SL_L3_OTHER;
		return 0;
	}
}

void
sl_parse_one(const uint8_t *data, uint16_t len, struct sl_pkt_meta *meta)
{
	memset(meta, 0, sizeof(*meta));
	meta->pkt_len = len;
	meta->drop_reason = (uint8_t)parse_frame(data, len, meta);
	if (meta->drop_reason != 0)
		return;
	if (meta->l3 == SL_L3_IPV4) {
		const uint8_t *ip = data + meta->l3_off;

		meta->key_swapped = sl_flow_key_make(&meta->key, SL_FAMILY_IPV4,
			meta->l4_proto, ip + 12, ip + 16, 4, meta->sport,
			meta->dport);
	} else if (meta->l3 == SL_L3_IPV6) {
		const uint8_t *ip = data + meta->l3_off;

		meta->key_swapped = sl_flow_key_make(&meta->key, SL_FAMILY_IPV6,
			meta->l4_proto, ip + 8, ip + 24, 16, meta->sport,
			meta->dport);
	}
}

uint16_t
sl_parse_burst_scalar(const uint8_t *const data[], const uint16_t len[],
		      uint16_t n, struct sl_pkt_meta meta[])
{
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		sl_parse_one(data[i], len[i], &meta[i]);
		kept += meta[i].drop_reason == 0;
	}
	return kept;
}
