# SPDX-License-Identifier: BSD-3-Clause
"""The XDP program and the DPDK dataplane give the same verdicts on the same
frames under the same policy (issue 7: "fixture tables ... through
BPF_PROG_TEST_RUN and through the DPDK path in pcap mode").

Each case writes one pcap file and one policy file and runs them through

  - sluice-dataplane with a net_pcap port in --oneshot mode (the whole DPDK
    process: parser, conntrack, ACL, counters), and
  - `sluice-xdp run`, which loads a private copy of the XDP program and runs
    every frame through BPF_PROG_TEST_RUN.

Neither side is the oracle for the other's bugs alone; they were written
apart (rte_acl against per-field bitmaps), and the test demands that they
agree: the frames each lets through (byte for byte, in order), the count
under every drop reason, and every rule's packet and byte counters.  The
frames are the DPDK parser's fixtures (test_dataplane_pcap.py), random
rule sets and packets (test_fw_nftables.py's generators, the same ones that
nftables judges there) and random mutations of them.

Differences that are the medium's, not the datapaths': a frame shorter than
14 bytes never reaches XDP (the DPDK side counts it eth_truncated), so such
frames are left out.
"""
import json
import os
import random
import subprocess
import uuid

import pytest
from scapy.all import Dot1Q, Ether, IP, TCP, UDP, Raw

from test_dataplane_pcap import malformed_packets, valid_packets
from test_fw_nftables import (flow_packets, rand_packet, rand_rule,
                              sluice_policy, write_pcap)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))
DATAPLANE = os.path.join(BUILD, "sluice-dataplane")
XDP_TOOL = os.path.join(BUILD, "sluice-xdp")
SEED = int(os.environ.get("SL_TEST_SEED", "20261123"))
N_POLICIES = int(os.environ.get("SL_PARITY_POLICIES", "8"))
N_PACKETS = int(os.environ.get("SL_PARITY_PACKETS", "1500"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (DPDK, BPF)"),
    pytest.mark.skipif(not os.path.exists(XDP_TOOL),
                       reason="sluice-xdp not built (-Dxdp=false)"),
]


def read_pcap(path):
    """The frames of a classic little-endian pcap file, in order."""
    data = path.read_bytes() if path.exists() else b""
    frames, off = [], 24
    while off < len(data):
        caplen = int.from_bytes(data[off + 8:off + 12], "little")
        frames.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return frames


def run_dpdk(tmp_path, frames, policy):
    """What sluice-dataplane passes, its drop counters and rule counters."""
    pol, inp = tmp_path / "policy.json", tmp_path / "in.pcap"
    out, stats = tmp_path / "dpdk-out.pcap", tmp_path / "dpdk-stats.json"
    pol.write_text(json.dumps(policy))
    write_pcap(inp, frames)
    for f in (out, stats):
        if f.exists():
            f.unlink()
    r = subprocess.run([DATAPLANE, "-l", "0,1", "--no-pci", "--no-huge", "-m", "512",
                        "--file-prefix", "sl-par-" + uuid.uuid4().hex[:6], "--no-telemetry",
                        "--log-level", "lib.eal:error",
                        "--vdev", f"net_pcap0,rx_pcap={inp},tx_pcap={out}", "--",
                        "--oneshot", "--idle-ms", "100", "--policy", str(pol),
                        "--stats-file", str(stats),
                        "--mbufs", str(max(16383, 2 * len(frames) + 8191))],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads(stats.read_text())
    drops = {k: v for k, v in s["drops"].items() if v}
    rules = {x["id"]: (x["packets"], x["bytes"]) for x in s["rules"]}
    return read_pcap(out), drops, rules


def run_xdp(tmp_path, frames, policy):
    """The same through `sluice-xdp run` (BPF_PROG_TEST_RUN)."""
    pol, inp = tmp_path / "policy.json", tmp_path / "in.pcap"
    out = tmp_path / "xdp-out.pcap"
    pol.write_text(json.dumps(policy))
    write_pcap(inp, frames)
    r = subprocess.run([XDP_TOOL, "run", "--policy", str(pol), "--pcap", str(inp),
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert len(res["packets"]) == len(frames)
    s = res["stats"]
    drops = {k: v for k, v in s["drops"].items() if v}
    rules = {x["id"]: (x["packets"], x["bytes"]) for x in s["rules"]}
    return read_pcap(out), drops, rules, res["packets"]


def assert_same(tmp_path, frames, policy, label):
    frames = [f for f in frames if len(f) >= 14]
    d_out, d_drops, d_rules = run_dpdk(tmp_path, frames, policy)
    x_out, x_drops, x_rules, verdicts = run_xdp(tmp_path, frames, policy)
    detail = [label]
    if d_out != x_out:
        passed = {f for f in x_out} ^ {f for f in d_out}
        for i, f in enumerate(frames):
            if f in passed and len(detail) < 8:
                detail.append(f"#{i} xdp {verdicts[i]} dpdk "
                              f"{'pass' if f in d_out else 'drop'}: {Ether(f).summary()}")
        detail.append(f"xdp passed {len(x_out)}, dpdk {len(d_out)}")
    if d_drops != x_drops:
        detail.append(f"drop reasons: dpdk {d_drops} xdp {x_drops}")
    if d_rules != x_rules:
        diff = {k: (d_rules.get(k), x_rules.get(k))
                for k in set(d_rules) | set(x_rules) if d_rules.get(k) != x_rules.get(k)}
        detail.append(f"rule counters (dpdk, xdp): {diff}")
    if len(detail) > 1:
        detail.append(json.dumps(policy)[:2000])
        pytest.fail("\n".join(detail))
    return len(x_out), sum(d_drops.values())


FIXTURE_POLICY = {
    "version": 1,
    "default": "accept",
    "rules": [
        {"id": "ssh-in", "proto": "tcp", "dport": 22, "action": "drop"},
        {"id": "syn-only", "proto": "tcp", "tcp_flags": {"flags": ["syn"], "mask": ["syn", "ack"]},
         "action": "accept"},
        {"id": "vlan10", "vlan": 10, "action": "drop"},
        {"id": "sctp", "proto": "sctp", "action": "drop"},
        {"id": "v6-net", "src": "2001:db8::/64", "proto": "udp", "action": "drop"},
        {"id": "dns", "dst": "10.0.0.0/24", "proto": "udp", "dport": 53, "action": "accept"},
        {"id": "icmp", "proto": "icmp", "action": "drop"},
        {"id": "from-1", "src": "10.1.0.1/32", "action": "drop"},
    ],
}


def test_parser_and_firewall_fixtures_agree(tmp_path):
    """Every parser fixture (valid and broken) and a firewall fixture table
    give the same output frames, drop counts and rule counts."""
    pl = Raw(b"fixture!")
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    firewall = [
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=22, flags="S") / pl,
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80, flags="S") / pl,
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80, flags="SA") / pl,
        eth / Dot1Q(vlan=10) / IP(src="10.5.0.1", dst="10.5.0.2") / UDP(dport=9) / pl,
        eth / Dot1Q(vlan=11) / IP(src="10.5.0.1", dst="10.5.0.2") / UDP(dport=9) / pl,
        eth / IP(src="10.9.0.1", dst="10.0.0.7") / UDP(dport=53) / pl,
        eth / IP(src="10.1.0.1", dst="10.0.0.7") / UDP(dport=54) / pl,
        eth / IP(src="10.1.0.2", dst="10.0.0.7") / UDP(dport=54) / pl,
    ]
    frames = [bytes(p) for p in valid_packets() + firewall]
    frames += [b for b, _ in malformed_packets()]
    passed, dropped = assert_same(tmp_path, frames * 3, FIXTURE_POLICY, "fixtures")
    assert passed > 0 and dropped > 0


def mutate(rng, frame):
    """A damaged copy: a cut, a flipped byte in the headers, or both."""
    b = bytearray(frame)
    if rng.random() < 0.5 and len(b) > 15:
        b = b[:rng.randrange(14, len(b))]
    for _ in range(rng.randrange(1, 3)):
        i = rng.randrange(12, min(len(b), 80))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


@pytest.mark.parametrize("with_ct", [False, True], ids=["stateless", "stateful"])
def test_random_policies_and_packets_agree(tmp_path, with_ct):
    rng = random.Random(SEED + with_ct)
    mac = "02:00:00:00:ff:02"
    total = 0
    for n in range(N_POLICIES):
        rules = [rand_rule(rng, with_ct) for _ in range(rng.randrange(1, 60))]
        policy = sluice_policy(rules, rng.choice(["accept", "drop"]))
        frames = []
        while len(frames) < N_PACKETS:
            if with_ct and rng.random() < 0.5:
                frames += flow_packets(rng, len(frames), mac)
            else:
                frames.append(rand_packet(rng, len(frames), mac))
            if rng.random() < 0.1:
                frames.append(mutate(rng, frames[-1]))
        assert_same(tmp_path, frames, policy, f"policy {n} (seed {SEED})")
        total += len(frames)
    assert total >= N_POLICIES * N_PACKETS
