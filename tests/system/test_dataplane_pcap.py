# SPDX-License-Identifier: BSD-3-Clause
"""sluice-dataplane end to end on pcap and null ports.

The oracle for each packet is how the test built it: a well-formed frame
must leave unchanged and in order, a deliberately broken one must be dropped
under the reason its breakage names.  The parser never decides what the
expected output is.
"""
import json
import os
import random
import signal
import subprocess
import time
import uuid

import pytest
from scapy.all import (ARP, GRE, ICMP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether,
                       ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, Raw, rdpcap, wrpcap)
from scapy.layers.sctp import SCTP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))
DATAPLANE = os.path.join(BUILD, "sluice-dataplane")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="DPDK needs root")

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def eal_args():
    """EAL arguments for a private, hugepage-free instance on lcores 0,1."""
    return ["-l", "0,1", "--no-pci", "--no-huge", "-m", "512",
            "--file-prefix", "sl-test-" + uuid.uuid4().hex[:8],
            "--log-level", "lib.eal:warning"]


def run_dataplane(vdevs, app_args, timeout=60):
    cmd = [DATAPLANE] + eal_args()
    for v in vdevs:
        cmd += ["--vdev", v]
    cmd += ["--"] + app_args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def valid_packets():
    """Well-formed frames of every shape the parser knows."""
    pl = Raw(b"sluice" * 4)
    return [
        ETH / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1234, dport=53) / pl,
        ETH / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=40000, flags="SA") / pl,
        ETH / IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01\x01\x01\x00") / UDP() / pl,
        ETH / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, id=7) / pl,
        ETH / IP(src="10.0.0.1", dst="10.0.0.2") / SCTP(sport=5000, dport=6000) / pl,
        ETH / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(key_present=1, key=9) / IP() / pl,
        ETH / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", frag=0) / UDP() / pl,
        ETH / IP(src="10.0.0.1", dst="10.0.0.2", frag=100) / pl,
        ETH / Dot1Q(vlan=10) / IP(src="10.1.0.1", dst="10.1.0.2") / TCP() / pl,
        ETH / Dot1AD(vlan=20) / Dot1Q(vlan=30) / IP() / UDP() / pl,
        ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2) / pl,
        ETH / IPv6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() /
        IPv6ExtHdrDestOpt() / TCP() / pl,
        ETH / IPv6() / IPv6ExtHdrFragment(offset=0, m=1) / UDP() / pl,
        ETH / IPv6() / ICMPv6EchoRequest(id=3) / pl,
        ETH / ARP(psrc="10.0.0.1", pdst="10.0.0.2"),
        Ether(src="02:00:00:00:00:01", dst="01:80:c2:00:00:0e", type=0x88cc) / Raw(b"\x02" * 40),
    ]


def ipv4_bytes(**kw):
    return bytearray(bytes(ETH / IP(src="10.0.0.1", dst="10.0.0.2", **kw) /
                           UDP() / Raw(b"x" * 20)))


def malformed_packets():
    """(frame bytes, drop reason the breakage must be counted under)."""
    out = []
    out.append((bytes(ETH)[:10], "eth_truncated"))
    out.append((bytes(ETH / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) /
                      IP() / UDP()), "vlan_too_many"))
    out.append((bytes(Ether(type=0x8100)) + b"\x00\x01", "vlan_truncated"))
    out.append((bytes(ETH / ARP())[:30], "arp_truncated"))
    out.append((bytes(ETH / IP())[:14 + 12], "ipv4_truncated"))
    b = ipv4_bytes(); b[14] = 0x44; out.append((bytes(b), "ipv4_bad_ihl"))
    b = ipv4_bytes(); b[14] = 0x65; out.append((bytes(b), "ipv4_bad_version"))
    b = ipv4_bytes(); b[16:18] = (2000).to_bytes(2, "big")
    out.append((bytes(b), "ipv4_bad_total_len"))
    b = bytes(ETH / IP(options=b"\x01" * 20) / UDP()); out.append((b[:14 + 30], "ipv4_options_truncated"))
    b = bytearray(bytes(ETH / IP() / TCP() / Raw(b"y" * 8))); b[14 + 20 + 12] = 0x20
    out.append((bytes(b), "tcp_bad_data_offset"))
    b = bytearray(bytes(ETH / IP() / UDP() / Raw(b"z" * 8))); b[14 + 20 + 4:14 + 20 + 6] = (400).to_bytes(2, "big")
    out.append((bytes(b), "udp_bad_len"))
    out.append((bytes(ETH / IP(proto=6, len=20 + 10) / Raw(b"t" * 10)), "tcp_truncated"))
    out.append((bytes(ETH / IP(proto=17, len=20 + 4) / Raw(b"u" * 4)), "udp_truncated"))
    out.append((bytes(ETH / IP(proto=132, len=20 + 6) / Raw(b"s" * 6)), "sctp_truncated"))
    out.append((bytes(ETH / IP(proto=1, len=20 + 4) / Raw(b"i" * 4)), "icmp_truncated"))
    out.append((bytes(ETH / IP(proto=47, len=20 + 2) / Raw(b"g" * 2)), "gre_truncated"))
    out.append((bytes(ETH / IP() / GRE(version=3) / Raw(b"g" * 8)), "gre_bad_version"))
    out.append((bytes(ETH / IPv6())[:14 + 30], "ipv6_truncated"))
    b = bytearray(bytes(ETH / IPv6() / UDP())); b[14] = 0x45; out.append((bytes(b), "ipv6_bad_version"))
    b = bytearray(bytes(ETH / IPv6() / UDP())); b[14 + 4:14 + 6] = (1000).to_bytes(2, "big")
    out.append((bytes(b), "ipv6_bad_payload_len"))
    b = bytes(ETH / IPv6() / IPv6ExtHdrDestOpt(options=[]) / UDP())
    cut = bytearray(b[:14 + 40 + 4]); cut[14 + 4:14 + 6] = (4).to_bytes(2, "big")
    out.append((bytes(cut), "ipv6_ext_truncated"))
    chain = IPv6()
    for _ in range(9):
        chain = chain / IPv6ExtHdrDestOpt()
    out.append((bytes(ETH / chain / UDP()), "ipv6_ext_too_many"))
    return out


def test_pcap_oneshot_forwards_valid_frames_unchanged_and_counts_each_malformed_one(tmp_path):
    rng = random.Random(20261122)
    valid = [bytes(p) for p in valid_packets()] * 20
    bad = malformed_packets() * 5
    stream = [(b, None) for b in valid] + bad
    rng.shuffle(stream)

    inp, out, stats = tmp_path / "in.pcap", tmp_path / "out.pcap", tmp_path / "stats.json"
    wrpcap(str(inp), [Ether(b) if len(b) >= 14 else Raw(b) for b, _ in stream])
    r = run_dataplane([f"net_pcap0,rx_pcap={inp},tx_pcap={out}"],
                      ["--oneshot", "--stats-file", str(stats)])
    assert r.returncode == 0, r.stdout + r.stderr

    expected = [b for b, reason in stream if reason is None]
    got = [bytes(p) for p in rdpcap(str(out))]
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"packet {i} differs"

    counters = json.loads(stats.read_text())
    want = {}
    for _, reason in bad:
        want[reason] = want.get(reason, 0) + 1
    nonzero = {k: v for k, v in counters["drops"].items() if v}
    assert nonzero == want
    port = counters["ports"][0]
    assert port["rx_packets"] == len(stream)
    assert port["tx_packets"] == len(expected)
    assert port["rx_dropped"] == len(bad)
    assert counters["mempool"]["available_at_exit"] == counters["mempool"]["size"]


@pytest.mark.parametrize("parser", ["scalar", "auto"])
def test_parser_variants_forward_the_same_output(tmp_path, parser):
    pkts = [bytes(p) for p in valid_packets()] + [b for b, _ in malformed_packets()]
    inp, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    wrpcap(str(inp), [Ether(b) if len(b) >= 14 else Raw(b) for b in pkts])
    r = run_dataplane([f"net_pcap0,rx_pcap={inp},tx_pcap={out}"],
                      ["--oneshot", "--parser", parser])
    assert r.returncode == 0, r.stderr
    assert [bytes(p) for p in rdpcap(str(out))] == [bytes(p) for p in valid_packets()]


def start_dataplane(vdevs, app_args, eal=None):
    cmd = [DATAPLANE] + (eal or eal_args())
    for v in vdevs:
        cmd += ["--vdev", v]
    cmd += ["--"] + app_args
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_drains_workers_and_returns_every_mbuf(tmp_path, sig):
    pcap = tmp_path / "in.pcap"
    wrpcap(str(pcap), valid_packets() * 8)
    stats = tmp_path / "stats.json"
    p = start_dataplane([f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"],
                        ["--xconnect", "0:1", "--stats-file", str(stats)])
    time.sleep(3)
    assert p.poll() is None, p.communicate()
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, out + err
    c = json.loads(stats.read_text())
    assert c["mempool"]["available_at_exit"] == c["mempool"]["size"]
    rx = sum(x["rx_packets"] for x in c["ports"])
    tx = sum(x["tx_packets"] for x in c["ports"])
    dropped = sum(x["rx_dropped"] + x["tx_dropped"] for x in c["ports"])
    assert rx > 0
    assert rx == tx + dropped


def test_two_workers_share_the_queues_and_return_every_mbuf(tmp_path):
    # Two worker lcores mapped onto CPU 1 (this machine has two cores):
    # functional, not fast.  net_null has as many queues as asked.
    stats = tmp_path / "stats.json"
    eal = ["--lcores", "0@0,1@1,2@1", "--no-pci", "--no-huge", "-m", "512",
           "--file-prefix", "sl-test-" + uuid.uuid4().hex[:8]]
    p = start_dataplane(["net_null0,size=64", "net_null1,size=64"],
                        ["--stats-file", str(stats)], eal=eal)
    time.sleep(3)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, out + err
    c = json.loads(stats.read_text())
    assert len(c["workers"]) == 2
    assert all(w["rx_packets"] > 0 for w in c["workers"])
    assert c["mempool"]["available_at_exit"] == c["mempool"]["size"]


@pytest.mark.parametrize("args,needle", [
    (["--burst", "0"], "--burst"),
    (["--burst", "300"], "--burst"),
    (["--xconnect", "0-1"], "A:B"),
    (["--xconnect", "0:7"], "not in use"),
    (["--ports", "5"], "not probed"),
    (["--parser", "neon"], "--parser"),
    (["--mbufs", "1024"], "too few"),
    (["--frobnicate"], "frobnicate"),
])
def test_bad_command_line_is_refused_with_the_reason(tmp_path, args, needle):
    pcap = tmp_path / "in.pcap"
    wrpcap(str(pcap), valid_packets()[:1])
    r = run_dataplane([f"net_pcap0,rx_pcap={pcap}"], ["--oneshot"] + args)
    assert r.returncode != 0
    assert needle in r.stdout + r.stderr


def test_help_lists_every_option():
    r = subprocess.run([DATAPLANE, "--no-pci", "--no-huge", "-m", "64",
                        "--file-prefix", "sl-help", "--", "--help"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for opt in ["--ports", "--xconnect", "--workers", "--burst", "--mbufs",
                "--mbuf-size", "--rxd", "--txd", "--stats-interval",
                "--stats-file", "--oneshot", "--idle-ms", "--parser",
                "--policy", "--controller"]:
        assert opt in r.stdout
