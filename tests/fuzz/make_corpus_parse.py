#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpus of fuzz_parse (tests/fuzz/corpus/parse/) and its
dictionary (tests/fuzz/parse.dict, which deploy/test.sh passes with -dict).

The corpus is every parser unit fixture (tests/unit/test_parse_fixtures.py,
built with scapy: each protocol, each drop reason) plus frames on the
vector fast path's length limits.  One file per frame, named after it;
at most 100 files.  Run with the Debian python (scapy):

    /usr/bin/python3 tests/fuzz/make_corpus_parse.py
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "unit", "test_parse_fixtures.py")
CORPUS = os.path.join(HERE, "corpus", "parse")
DICT = os.path.join(HERE, "parse.dict")  # deploy/test.sh passes it
MAX_FILES = 100


def load_fixtures():
    spec = importlib.util.spec_from_file_location("parse_fixtures", FIXTURES)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def boundary_frames(fx):
    """Frames on the fast path's limits (scapy, via the fixture module)."""
    E, IP, IPv6, TCP, UDP, Dot1Q = (fx.E, fx.IP, fx.IPv6, fx.TCP, fx.UDP,
                                    fx.Dot1Q)
    raw = fx.raw
    s4, d4, s6, d6 = fx.SRC4, fx.DST4, fx.SRC6, fx.DST6
    return [
        # shortest kept IPv4 UDP, unpadded (veth, af_packet)
        ("fast_ipv4_udp_42_bytes", raw(E / IP(src=s4, dst=d4) / UDP())),
        ("fast_ipv4_udp_vlan_46_bytes",
         raw(E / Dot1Q(vlan=9) / IP(src=s4, dst=d4) / UDP())),
        # shortest kept IPv6 UDP
        ("fast_ipv6_udp_62_bytes", raw(E / IPv6(src=s6, dst=d6) / UDP())),
        ("fast_ipv6_tcp_vlan_78_bytes",
         raw(E / Dot1Q(vlan=10) / IPv6(src=s6, dst=d6) / TCP())),
        # TCP with the longest header, exactly filling the datagram
        ("fast_ipv4_tcp_doff_15",
         raw(E / IP(src=s4, dst=d4) / TCP(dataofs=15) / bytes(40))),
        # a 64-byte benchmark frame of each fast family
        ("fast_ipv4_tcp_64_bytes",
         fx.pad(raw(E / IP(src=s4, dst=d4) / TCP()), 64)),
        ("fast_ipv6_udp_64_bytes",
         raw(E / IPv6(src=s6, dst=d6) / UDP() / b"xy")),
        # same address both ways: the key's tie on ports
        ("fast_ipv6_same_address_ports_decide",
         raw(E / IPv6(src=s6, dst=s6) / TCP(sport=9, dport=8))),
    ]


DICT_ENTRIES = [
    ("tpid_8100", b"\x81\x00"), ("tpid_88a8", b"\x88\xa8"),
    ("tpid_9100", b"\x91\x00"), ("type_ipv4", b"\x08\x00"),
    ("type_ipv6", b"\x86\xdd"), ("type_arp", b"\x08\x06"),
    ("ipv4_ihl5", b"\x45"), ("ipv4_ihl15", b"\x4f"), ("ipv6_v", b"\x60"),
    ("ipv4_mf", b"\x20\x00"), ("ipv4_df", b"\x40\x00"),
    ("proto_tcp", b"\x06"), ("proto_udp", b"\x11"), ("proto_sctp", b"\x84"),
    ("proto_icmp", b"\x01"), ("proto_icmpv6", b"\x3a"),
    ("proto_gre", b"\x2f"), ("nh_hbh", b"\x00"), ("nh_routing", b"\x2b"),
    ("nh_fragment", b"\x2c"), ("nh_ah", b"\x33"), ("nh_dstopts", b"\x3c"),
    ("tcp_doff5", b"\x50"), ("gre_cks", b"\xb0\x00"),
    ("gre_v1_ka", b"\x30\x81"), ("icmp_echo", b"\x08\x00"),
    ("icmpv6_echo", b"\x80\x00"),
]


def main():
    fx = load_fixtures()
    frames = list(fx.FIX) + boundary_frames(fx)
    assert len(frames) <= MAX_FILES, len(frames)
    os.makedirs(CORPUS, exist_ok=True)
    for old in os.listdir(CORPUS):
        os.unlink(os.path.join(CORPUS, old))
    for name, b in frames:
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(b)
    with open(DICT, "w") as f:
        f.write("# fuzz_parse dictionary: written by make_corpus_parse.py\n")
        for name, b in DICT_ENTRIES:
            f.write('%s="%s"\n' % (name, "".join("\\x%02x" % c for c in b)))
    print("%s: %d frames; %s: %d entries" % (CORPUS, len(frames), DICT,
                                             len(DICT_ENTRIES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
