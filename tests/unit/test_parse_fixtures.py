#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generate tests/unit/test_parse_fixtures.h: parser fixtures and their
expected struct sl_pkt_meta.

Packets are built with scapy.  The expected meta comes from `model()`, a
small Python statement of the parser semantics documented at the top of
dataplane/parse_scalar.c, and for every packet that is kept it is checked
against scapy's own dissection of the same bytes (offsets, VLAN IDs, ports,
TCP flags, TTL, ICMP type/code, GRE protocol, fragment bits), so the C
parser is tested against two sources that share no code with it.

Each fixture's name says what it proves; test_parse.c turns each into a
cmocka test `test_<name>`.

Run with the Debian python (scapy): /usr/bin/python3 test_parse_fixtures.py
(writes the header next to this script).
"""
import os
import struct
import sys

from scapy.all import (AH, ARP, GRE, ICMP, IP, SCTP, UDP, TCP, Dot1AD, Dot1Q,
                       Ether, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6ND_NS, IPOption_Router_Alert, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw, conf, raw)

conf.verb = 0

MAC = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
SRC4, DST4 = "192.0.2.1", "198.51.100.7"
SRC6, DST6 = "2001:db8::1", "2001:db8:0:1::20"

TPIDS = (0x8100, 0x88A8, 0x9100)
EXT = {0: "hbh", 43: "rt", 60: "dst", 44: "frag", 51: "ah"}
EXT_MAX = 8  # SL_IPV6_EXT_MAX

L3 = {"none": "SL_L3_NONE", "ipv4": "SL_L3_IPV4", "ipv6": "SL_L3_IPV6",
      "arp": "SL_L3_ARP", "other": "SL_L3_OTHER"}
FRAG_IS, FRAG_FIRST, FRAG_MORE = 1, 2, 4


def be16(b, o):
    return b[o] << 8 | b[o + 1]


def frag_bits(more, offset):
    if not more and not offset:
        return 0
    return FRAG_IS | (0 if offset else FRAG_FIRST) | (FRAG_MORE if more else 0)


def model(b):
    """The parser semantics, in Python: returns (meta dict, drop name)."""
    m = dict(pkt_len=len(b), l3_off=0, l4_off=0, payload_off=0, l3_end=0,
             ethertype=0, vlan_outer=0, vlan_inner=0, sport=0, dport=0,
             gre_proto=0, vlan_count=0, l3="none", l4_proto=0, frag=0, ttl=0,
             tcp_flags=0, icmp_type=0, icmp_code=0)
    n = len(b)
    if n < 14:
        return m, "ETH_TRUNCATED"
    off = 12
    t = be16(b, off)
    while t in TPIDS:
        if m["vlan_count"] == 2:
            return m, "VLAN_TOO_MANY"
        if off + 6 > n:
            return m, "VLAN_TRUNCATED"
        vid = be16(b, off + 2) & 0xFFF
        m["vlan_outer" if m["vlan_count"] == 0 else "vlan_inner"] = vid
        m["vlan_count"] += 1
        off += 4
        t = be16(b, off)
    m["ethertype"] = t
    l3 = m["l3_off"] = off + 2
    if t == 0x0806:
        m["l3"] = "arp"
        return m, ("ARP_TRUNCATED" if n - l3 < 28 else None)
    if t == 0x0800:
        m["l3"] = "ipv4"
        if n - l3 < 20:
            return m, "IPV4_TRUNCATED"
        if b[l3] >> 4 != 4:
            return m, "IPV4_BAD_VERSION"
        ihl = (b[l3] & 15) * 4
        if ihl < 20:
            return m, "IPV4_BAD_IHL"
        if ihl > n - l3:
            return m, "IPV4_OPTIONS_TRUNCATED"
        total = be16(b, l3 + 2)
        if total < ihl or total > n - l3:
            return m, "IPV4_BAD_TOTAL_LEN"
        ff = be16(b, l3 + 6)
        m.update(l3_end=l3 + total, ttl=b[l3 + 8],
                 frag=frag_bits(ff & 0x2000, ff & 0x1FFF),
                 l4_proto=b[l3 + 9], l4_off=l3 + ihl)
        if ff & 0x1FFF:
            return m, None
        return m, model_l4(b, m, v6=False)
    if t == 0x86DD:
        m["l3"] = "ipv6"
        if n - l3 < 40:
            return m, "IPV6_TRUNCATED"
        if b[l3] >> 4 != 6:
            return m, "IPV6_BAD_VERSION"
        end = l3 + 40 + be16(b, l3 + 4)
        if end > n:
            return m, "IPV6_BAD_PAYLOAD_LEN"
        m.update(l3_end=end, ttl=b[l3 + 7])
        nh, cur, count = b[l3 + 6], l3 + 40, 0
        while nh in EXT:
            if count == EXT_MAX:
                return m, "IPV6_EXT_TOO_MANY"
            if end - cur < 8:
                return m, "IPV6_EXT_TRUNCATED"
            last = False
            if nh == 44:
                elen = 8
                fo = be16(b, cur + 2)
                m["frag"] |= frag_bits(fo & 1, fo & 0xFFF8)
                last = bool(fo & 0xFFF8)
            elif nh == 51:
                elen = (b[cur + 1] + 2) * 4
            else:
                elen = (b[cur + 1] + 1) * 8
            if elen > end - cur:
                return m, "IPV6_EXT_TRUNCATED"
            nh = b[cur]
            cur += elen
            count += 1
            if last:
                m.update(l4_proto=nh, l4_off=cur)
                return m, None
        m.update(l4_proto=nh, l4_off=cur)
        return m, model_l4(b, m, v6=True)
    m["l3"] = "other"
    return m, None


def model_l4(b, m, v6):
    o, avail, p = m["l4_off"], m["l3_end"] - m["l4_off"], m["l4_proto"]
    if p == 6:
        if avail < 20:
            return "TCP_TRUNCATED"
        hl = (b[o + 12] >> 4) * 4
        if hl < 20 or hl > avail:
            return "TCP_BAD_DATA_OFFSET"
        m.update(sport=be16(b, o), dport=be16(b, o + 2), tcp_flags=b[o + 13])
    elif p == 17:
        if avail < 8:
            return "UDP_TRUNCATED"
        ulen = be16(b, o + 4)
        if ulen < 8 or (ulen > avail and not m["frag"] & FRAG_IS):
            return "UDP_BAD_LEN"
        m.update(sport=be16(b, o), dport=be16(b, o + 2))
        hl = 8
    elif p == 132:
        if avail < 12:
            return "SCTP_TRUNCATED"
        m.update(sport=be16(b, o), dport=be16(b, o + 2))
        hl = 12
    elif (p == 1 and not v6) or (p == 58 and v6):
        if avail < 8:
            return "ICMP_TRUNCATED"
        m.update(icmp_type=b[o], icmp_code=b[o + 1])
        if b[o] in ((128, 129) if v6 else (8, 0)):
            m.update(sport=be16(b, o + 4), dport=be16(b, o + 4))
        hl = 8
    elif p == 47:
        if avail < 4:
            return "GRE_TRUNCATED"
        fl = be16(b, o)
        ver = fl & 7
        if ver > 1:
            return "GRE_BAD_VERSION"
        hl = 4 + 4 * (bool(fl & 0x8000) + bool(fl & 0x2000) +
                      bool(fl & 0x1000)) + (4 if ver == 1 and fl & 0x80 else 0)
        if hl > avail:
            return "GRE_TRUNCATED"
        m["gre_proto"] = be16(b, o + 2)
    else:
        return None
    m["payload_off"] = o + hl
    return None


def key_of(b, m):
    """sl_flow_key_make: the symmetric key, as dict, and key_swapped."""
    l3 = m["l3_off"]
    if m["l3"] == "ipv4":
        fam, src, dst = 4, b[l3 + 12:l3 + 16], b[l3 + 16:l3 + 20]
    else:
        fam, src, dst = 6, b[l3 + 8:l3 + 24], b[l3 + 24:l3 + 40]
    sp, dp = m["sport"], m["dport"]
    swap = (src, sp) > (dst, dp)
    lo, hi = ((dst, dp), (src, sp)) if swap else ((src, sp), (dst, dp))
    return dict(addr_lo=lo[0], addr_hi=hi[0], port_lo=lo[1], port_hi=hi[1],
                proto=m["l4_proto"], family=fam), int(swap)


# ---------------------------------------------------------------- scapy
CHECKED = []


def scapy_check(name, b, m):
    """Compare the model of a kept packet with scapy's dissection."""
    CHECKED.append(name)
    p = Ether(b)
    tags = []
    layer = p.payload
    while isinstance(layer, (Dot1Q, Dot1AD)):
        tags.append(layer.vlan)
        layer = layer.payload
    want_tags = [m["vlan_outer"], m["vlan_inner"]][:m["vlan_count"]]
    if p.type == 0x9100:
        CHECKED.pop()
        return  # scapy does not dissect a 0x9100 tag
    assert tags == want_tags, (name, tags, want_tags)

    def off(lay):
        return len(b) - len(raw(lay))

    if m["l3"] == "ipv4":
        ip = p[IP]
        assert off(ip) == m["l3_off"], name
        assert ip.len + off(ip) == m["l3_end"], name
        assert ip.ttl == m["ttl"] and ip.proto == m["l4_proto"], name
        assert off(ip) + ip.ihl * 4 == m["l4_off"], name
        assert frag_bits(ip.flags.MF, ip.frag) == m["frag"], name
        if ip.frag:
            return
    elif m["l3"] == "ipv6":
        ip = p[IPv6]
        assert off(ip) == m["l3_off"], name
        assert off(ip) + 40 + ip.plen == m["l3_end"], name
        assert ip.hlim == m["ttl"], name
        if IPv6ExtHdrFragment in p and p[IPv6ExtHdrFragment].offset:
            return
    else:
        return
    l4 = {6: TCP, 17: UDP, 132: SCTP}.get(m["l4_proto"])
    if l4 is not None and l4 in p:
        assert off(p[l4]) == m["l4_off"], name
        assert (p[l4].sport, p[l4].dport) == (m["sport"], m["dport"]), name
        if l4 is TCP:
            assert int(p[TCP].flags) == m["tcp_flags"], name
            assert m["payload_off"] == m["l4_off"] + p[TCP].dataofs * 4
    if m["l4_proto"] == 1 and ICMP in p:
        assert (p[ICMP].type, p[ICMP].code) == (m["icmp_type"],
                                                m["icmp_code"]), name
        if p[ICMP].type in (0, 8):
            assert m["sport"] == m["dport"] == p[ICMP].id, name
    if m["l4_proto"] == 47 and GRE in p:
        assert p[GRE].proto == m["gre_proto"], name
        assert off(p[GRE]) == m["l4_off"], name


# ---------------------------------------------------------------- packets
def eth(*tags, etype=None):
    """Ethernet with VLAN tags given as (tpid, vid)."""
    out = bytes.fromhex("020000000002020000000001")
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, (5 << 13) | vid)  # PCP 5 must go
    if etype is not None:
        out += struct.pack("!H", etype)
    return out


def body(pkt):
    """Bytes of a scapy packet that starts at L3."""
    return raw(pkt)


def pad(b, to=60):
    return b + bytes(max(0, to - len(b)))


PAY = b"sluice-payload!!"
E = Ether(**MAC)
FIX = []


def fx(name, b):
    FIX.append((name, b if isinstance(b, bytes) else raw(b)))


def set_byte(b, off, val):
    b = bytearray(b)
    b[off] = val
    return bytes(b)


def set16(b, off, val):
    b = bytearray(b)
    b[off:off + 2] = struct.pack("!H", val)
    return bytes(b)


# --- kept: layer 2
fx("ipv4_udp_untagged_fills_every_field",
   E / IP(src=SRC4, dst=DST4, ttl=61) / UDP(sport=40000, dport=53) / PAY)
fx("ipv4_tcp_untagged_reads_ports_and_flags",
   E / IP(src=DST4, dst=SRC4, ttl=7) /
   TCP(sport=443, dport=51234, flags="SA") / PAY)
fx("vlan_8100_one_tag_reads_vid_and_inner_type",
   E / Dot1Q(vlan=100, prio=5) / IP(src=SRC4, dst=DST4) /
   UDP(sport=1, dport=2) / PAY)
fx("vlan_88a8_then_8100_reads_outer_and_inner_vid",
   E / Dot1AD(vlan=200) / Dot1Q(vlan=4095) / IP(src=SRC4, dst=DST4) /
   TCP(sport=22, dport=2222, flags="A"))
fx("vlan_9100_tag_is_recognised",
   eth((0x9100, 77), etype=0x0800) +
   body(IP(src=SRC4, dst=DST4) / UDP(sport=5, dport=6)))
fx("vlan_two_tags_ipv6_tcp",
   eth((0x88A8, 1), (0x8100, 2), etype=0x86DD) +
   body(IPv6(src=SRC6, dst=DST6) / TCP(sport=179, dport=40000, flags="PA") /
        PAY))
fx("arp_request_is_l3_arp",
   E / ARP(op=1, psrc=SRC4, pdst=DST4))
fx("arp_in_vlan_is_l3_arp", E / Dot1Q(vlan=3) / ARP(op=2))
fx("other_ethertype_is_kept_as_l3_other",
   eth(etype=0x88CC) + bytes(range(46)))
fx("other_ethertype_minimal_frame_is_kept",
   eth(etype=0x88B5))

# --- kept: IPv4
fx("ipv4_options_move_l4_off",
   E / IP(src=SRC4, dst=DST4, options=[IPOption_Router_Alert()]) /
   UDP(sport=7, dport=8) / PAY)
fx("ipv4_ihl_15_max_options_parse",
   E / IP(src=SRC4, dst=DST4, ihl=15,
          options=[IPOption_Router_Alert()] * 10) /
   TCP(sport=1, dport=2))
fx("ipv4_first_fragment_sets_first_and_more_and_parses_l4",
   E / IP(src=SRC4, dst=DST4, flags="MF", frag=0, id=9) /
   UDP(sport=3000, dport=4000, len=1000) / PAY)
fx("ipv4_middle_fragment_skips_l4",
   E / IP(src=SRC4, dst=DST4, flags="MF", frag=185, proto=17) / (PAY * 3))
fx("ipv4_last_fragment_skips_l4",
   E / IP(src=SRC4, dst=DST4, frag=370, proto=6) / PAY)
fx("ipv4_df_alone_is_not_a_fragment",
   E / IP(src=SRC4, dst=DST4, flags="DF") / TCP(sport=80, dport=81))
fx("ipv4_ethernet_padding_is_ignored",
   pad(raw(E / IP(src=SRC4, dst=DST4) / UDP(sport=9, dport=10))))
fx("ipv4_sctp_reads_ports",
   E / IP(src=SRC4, dst=DST4) / SCTP(sport=2905, dport=2906))
fx("ipv4_icmp_echo_request_puts_id_in_both_ports",
   E / IP(src=SRC4, dst=DST4) / ICMP(type=8, id=0x1234, seq=1) / PAY)
fx("ipv4_icmp_echo_reply_puts_id_in_both_ports",
   E / IP(src=DST4, dst=SRC4) / ICMP(type=0, id=0xbeef, seq=2))
fx("ipv4_icmp_unreachable_has_no_ports",
   E / IP(src=SRC4, dst=DST4) / ICMP(type=3, code=3) / PAY)
fx("ipv4_gre_v0_plain_reads_proto",
   E / IP(src=SRC4, dst=DST4) / GRE(proto=0x0800) /
   IP(src="10.0.0.1", dst="10.0.0.2"))
fx("ipv4_gre_v0_with_c_k_s_has_16_byte_header",
   E / IP(src=SRC4, dst=DST4) /
   GRE(chksum_present=1, key_present=1, seqnum_present=1, key=7,
       seqence_number=9, proto=0x6558) / PAY)
fx("ipv4_gre_v1_with_k_s_a_has_16_byte_header",
   eth(etype=0x0800) + body(IP(src=SRC4, dst=DST4, proto=47) /
                            Raw(bytes.fromhex("3081880b0010000100000005"
                                              "00000004") + PAY)))
fx("ipv4_gre_v1_ack_bit_adds_4_bytes",
   eth(etype=0x0800) + body(IP(src=SRC4, dst=DST4, proto=47) /
                            Raw(bytes.fromhex("0081880b") + PAY)))
fx("ipv4_gre_v0_ignores_the_ack_bit",
   eth(etype=0x0800) + body(IP(src=SRC4, dst=DST4, proto=47) /
                            Raw(bytes.fromhex("00800800") + PAY)))
fx("ipv4_unknown_protocol_sets_l4_off_only",
   E / IP(src=SRC4, dst=DST4, proto=89) / PAY)
fx("ipv4_icmpv6_number_is_opaque_in_ipv4",
   E / IP(src=SRC4, dst=DST4, proto=58) / PAY)
fx("ipv4_equal_ends_keep_source_as_lo",
   E / IP(src=SRC4, dst=SRC4) / UDP(sport=5000, dport=5000))
fx("ipv4_same_address_orders_by_port",
   E / IP(src=SRC4, dst=SRC4) / TCP(sport=6000, dport=5000))

# --- kept: IPv6
fx("ipv6_udp_fills_every_field",
   E / IPv6(src=SRC6, dst=DST6, hlim=3) / UDP(sport=546, dport=547) / PAY)
fx("ipv6_tcp_reads_ports_and_flags",
   E / IPv6(src=DST6, dst=SRC6) / TCP(sport=8080, dport=1024, flags="FA"))
fx("ipv6_hop_by_hop_then_udp",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2))
fx("ipv6_routing_then_tcp",
   E / IPv6(src=SRC6, dst=DST6) /
   IPv6ExtHdrRouting(addresses=["2001:db8::99"]) / TCP(sport=3, dport=4))
fx("ipv6_destination_options_then_udp",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrDestOpt() / UDP(sport=5, dport=6))
fx("ipv6_first_fragment_sets_first_and_more_and_parses_l4",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrFragment(m=1, offset=0, id=1) /
   UDP(sport=7, dport=8, len=1200) / PAY)
fx("ipv6_non_first_fragment_stops_before_l4",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrFragment(m=1, offset=100,
                                                     nh=6) / PAY)
fx("ipv6_last_fragment_stops_before_l4",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrFragment(m=0, offset=200,
                                                     nh=17) / PAY)
fx("ipv6_atomic_fragment_is_not_a_fragment",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrFragment(m=0, offset=0) /
   TCP(sport=9, dport=10))
fx("ipv6_ah_length_counts_in_4_byte_units",
   eth(etype=0x86DD) + body(IPv6(src=SRC6, dst=DST6, nh=51) /
                            AH(nh=6, payloadlen=4, spi=1, seq=1,
                               icv=b"\x00" * 12) /
                            TCP(sport=11, dport=12)))
fx("ipv6_chain_of_five_extension_headers_then_udp",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
   IPv6ExtHdrRouting() / IPv6ExtHdrFragment(m=1, offset=0) /
   IPv6ExtHdrDestOpt() / UDP(sport=13, dport=14) / PAY)
fx("ipv6_exactly_eight_extension_headers_parse",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrHopByHop() /
   IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
   IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
   IPv6ExtHdrDestOpt() / TCP(sport=15, dport=16))
fx("ipv6_icmpv6_echo_request_puts_id_in_both_ports",
   E / IPv6(src=SRC6, dst=DST6) / ICMPv6EchoRequest(id=0x4242, seq=1))
fx("ipv6_icmpv6_echo_reply_puts_id_in_both_ports",
   E / IPv6(src=DST6, dst=SRC6) / ICMPv6EchoReply(id=0x0101, seq=1))
fx("ipv6_icmpv6_neighbor_solicit_has_no_ports",
   E / IPv6(src=SRC6, dst="ff02::1:ff00:20") / ICMPv6ND_NS(tgt=DST6))
fx("ipv6_icmp_number_is_opaque_in_ipv6",
   E / IPv6(src=SRC6, dst=DST6, nh=1) / PAY)
fx("ipv6_sctp_reads_ports",
   E / IPv6(src=SRC6, dst=DST6) / SCTP(sport=36412, dport=36412))
fx("ipv6_gre_v0_with_key",
   E / IPv6(src=SRC6, dst=DST6) / GRE(key_present=1, key=1, proto=0x86DD) /
   PAY)
fx("ipv6_no_next_header_is_kept",
   E / IPv6(src=SRC6, dst=DST6, nh=59))
fx("ipv6_padding_after_payload_is_ignored",
   pad(raw(E / IPv6(src=SRC6, dst=DST6) / UDP(sport=1, dport=1)), 100))

# --- drops, one or more per parser reason
fx("frame_of_13_bytes_drops_eth_truncated", eth(etype=0x08)[:13])
fx("empty_frame_drops_eth_truncated", b"")
fx("vlan_tag_cut_short_drops_vlan_truncated",
   eth((0x8100, 5)))
fx("vlan_second_tag_cut_short_drops_vlan_truncated",
   eth((0x88A8, 5), (0x8100, 6))[:20])
fx("vlan_third_tag_drops_vlan_too_many",
   eth((0x88A8, 1), (0x8100, 2), (0x8100, 3), etype=0x0800) +
   body(IP(src=SRC4, dst=DST4) / UDP()))
fx("arp_of_27_bytes_drops_arp_truncated",
   raw(E / ARP())[:14 + 27])
fx("ipv4_of_19_bytes_drops_ipv4_truncated",
   raw(E / IP(src=SRC4, dst=DST4))[:14 + 19])
fx("ipv4_version_6_drops_ipv4_bad_version",
   set_byte(raw(E / IP(src=SRC4, dst=DST4) / UDP()), 14, 0x65))
fx("ipv4_ihl_below_5_drops_ipv4_bad_ihl",
   set_byte(raw(E / IP(src=SRC4, dst=DST4) / UDP()), 14, 0x44))
fx("ipv4_ihl_past_frame_drops_ipv4_options_truncated",
   set_byte(raw(E / IP(src=SRC4, dst=DST4) / UDP()), 14, 0x4F))
fx("ipv4_total_length_past_frame_drops_ipv4_bad_total_len",
   set16(raw(E / IP(src=SRC4, dst=DST4) / UDP()), 16, 29))
fx("ipv4_total_length_below_header_drops_ipv4_bad_total_len",
   set16(raw(E / IP(src=SRC4, dst=DST4) / UDP()), 16, 19))
fx("ipv6_of_39_bytes_drops_ipv6_truncated",
   raw(E / IPv6(src=SRC6, dst=DST6))[:14 + 39])
fx("ipv6_version_4_drops_ipv6_bad_version",
   set_byte(raw(E / IPv6(src=SRC6, dst=DST6) / UDP()), 14, 0x40))
fx("ipv6_payload_length_past_frame_drops_ipv6_bad_payload_len",
   set16(raw(E / IPv6(src=SRC6, dst=DST6) / UDP()), 18, 9))
fx("ipv6_extension_past_payload_drops_ipv6_ext_truncated",
   set_byte(raw(E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrHopByHop() /
                UDP()), 55, 2))
fx("ipv6_extension_cut_below_8_bytes_drops_ipv6_ext_truncated",
   set16(raw(E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrDestOpt()), 18, 4)[
       :14 + 44])
fx("ipv6_nine_extension_headers_drops_ipv6_ext_too_many",
   E / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrHopByHop() /
   IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
   IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
   IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / UDP())
fx("tcp_of_19_bytes_drops_tcp_truncated",
   raw(E / IP(src=SRC4, dst=DST4, len=39, proto=6) / Raw(bytes(19))))
fx("tcp_data_offset_4_drops_tcp_bad_data_offset",
   E / IP(src=SRC4, dst=DST4) / TCP(dataofs=4))
fx("tcp_data_offset_past_payload_drops_tcp_bad_data_offset",
   E / IP(src=SRC4, dst=DST4) / TCP(dataofs=6))
fx("ipv6_tcp_data_offset_past_payload_drops_tcp_bad_data_offset",
   E / IPv6(src=SRC6, dst=DST6) / TCP(dataofs=15) / PAY)
fx("udp_of_7_bytes_drops_udp_truncated",
   raw(E / IP(src=SRC4, dst=DST4, len=27, proto=17) / Raw(bytes(7))))
fx("udp_length_7_drops_udp_bad_len",
   E / IP(src=SRC4, dst=DST4) / UDP(len=7) / PAY)
fx("udp_length_past_payload_drops_udp_bad_len",
   E / IP(src=SRC4, dst=DST4) / UDP(len=8 + len(PAY) + 1) / PAY)
fx("ipv6_udp_length_past_payload_drops_udp_bad_len",
   E / IPv6(src=SRC6, dst=DST6) / UDP(len=9))
fx("sctp_of_11_bytes_drops_sctp_truncated",
   raw(E / IP(src=SRC4, dst=DST4, len=31, proto=132) / Raw(bytes(11))))
fx("icmp_of_7_bytes_drops_icmp_truncated",
   raw(E / IP(src=SRC4, dst=DST4, len=27, proto=1) / Raw(bytes(7))))
fx("icmpv6_of_7_bytes_drops_icmp_truncated",
   raw(E / IPv6(src=SRC6, dst=DST6, plen=7, nh=58) / Raw(bytes(7))))
fx("gre_of_3_bytes_drops_gre_truncated",
   raw(E / IP(src=SRC4, dst=DST4, len=23, proto=47) / Raw(bytes(3))))
fx("gre_flags_past_payload_drops_gre_truncated",
   raw(E / IP(src=SRC4, dst=DST4, len=32, proto=47) /
       Raw(bytes.fromhex("b0000800") + bytes(8))))
fx("gre_version_2_drops_gre_bad_version",
   raw(E / IP(src=SRC4, dst=DST4, proto=47) /
       Raw(bytes.fromhex("00020800") + PAY)))


# ---------------------------------------------------------------- output
def c_bytes(b):
    lines = []
    for i in range(0, len(b), 12):
        lines.append("\t" + ", ".join("0x%02x" % x for x in b[i:i + 12]) +
                     ",")
    return "\n".join(lines)


def c_arr(b):
    return "{ " + ", ".join("0x%02x" % x for x in b) + " }"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = [
        "/* SPDX-License-Identifier: BSD-3-Clause */",
        "/*",
        " * GENERATED by tests/unit/test_parse_fixtures.py - do not edit.",
        " * Parser fixtures (scapy-built frames) and the meta each must",
        " * give; see the script for where the expectations come from.",
        " */",
        "#ifndef SLUICE_TEST_PARSE_FIXTURES_H",
        "#define SLUICE_TEST_PARSE_FIXTURES_H",
        "",
        "#include <stdint.h>",
        "",
        '#include "sluice/drop_reason.h"',
        '#include "sluice/pkt_meta.h"',
        "",
        "struct parse_fixture {",
        "\tconst char *name;",
        "\tconst uint8_t *bytes;",
        "\tuint16_t len;",
        "\tstruct sl_pkt_meta want;",
        "};",
        "",
    ]
    seen = set()
    names = []
    reasons = set()
    for name, b in FIX:
        assert name not in seen, name
        seen.add(name)
        m, drop = model(b)
        want_drop = "drops_" in name
        assert want_drop == (drop is not None), (name, drop)
        if drop is not None:
            assert name.endswith(drop.lower()), (name, drop)
            reasons.add(drop)
        else:
            scapy_check(name, b, m)
        key, swapped = ({}, 0)
        if drop is None and m["l3"] in ("ipv4", "ipv6"):
            key, swapped = key_of(b, m)
        names.append(name)
        out.append("static const uint8_t fx_%s_bytes[%d] = {" %
                   (name, max(len(b), 1)))
        out.append(c_bytes(b) if b else "\t0x00, /* empty frame */")
        out.append("};")
        fields = [".pkt_len = %d" % m["pkt_len"]]
        for f in ("l3_off", "l4_off", "payload_off", "l3_end", "ethertype",
                  "vlan_outer", "vlan_inner", "sport", "dport", "gre_proto",
                  "vlan_count", "l4_proto", "frag", "ttl", "tcp_flags",
                  "icmp_type", "icmp_code"):
            if m[f]:
                fields.append(".%s = %s" % (f, hex(m[f]) if f in (
                    "ethertype", "gre_proto", "tcp_flags", "frag") else m[f]))
        fields.append(".l3 = %s" % L3[m["l3"]])
        fields.append(".key_swapped = %d" % swapped)
        fields.append(".drop_reason = SL_DROP_%s" % (drop or "NONE"))
        if key:
            fields.append(
                ".key = { .addr_lo = %s, .addr_hi = %s, .port_lo = %d, "
                ".port_hi = %d, .proto = %d, .family = %d }" %
                (c_arr(key["addr_lo"]), c_arr(key["addr_hi"]),
                 key["port_lo"], key["port_hi"], key["proto"],
                 key["family"]))
        out.append("static const struct parse_fixture fx_%s = {" % name)
        out.append('\t.name = "%s", .bytes = fx_%s_bytes, .len = %d,' %
                   (name, name, len(b)))
        out.append("\t.want = {")
        for f in fields:
            out.append("\t\t%s," % f)
        out.append("\t},")
        out.append("};")
        out.append("")
    out.append("/* X(name) for every fixture, in file order. */")
    out.append("#define PARSE_FIXTURES(X) \\")
    out += ["\tX(%s) \\" % n for n in names]
    out.append("")
    out.append("#endif /* SLUICE_TEST_PARSE_FIXTURES_H */")
    path = os.path.join(here, "test_parse_fixtures.h")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("%s: %d fixtures, %d drop reasons, %d kept ones checked against "
          "scapy" % (path, len(names), len(reasons), len(CHECKED)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
