# SPDX-License-Identifier: BSD-3-Clause
"""Replication and steering through the dataplane (issue 5), on pcap ports.

A capture of both directions of many flows enters port `in` (cross-connected
to `out`); the policy replicates (or steers) to a group of port targets,
each a pcap file.  What each target file holds is the oracle: which flows
reached which targets, and whether the copies are the frames as received.
"""
import collections
import json
import os
import random
import uuid

import pytest
from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, rdpcap, wrpcap

import lab

pytestmark = pytest.mark.skipif(not lab.is_root(), reason="DPDK needs root")

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
TARGETS = ["m0", "m1", "m2", "m3", "m4"]


def flows(n, seed=5):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        if i % 3 == 2:
            a, b = f"2001:db8::{rnd.randrange(1, 65535):x}", f"2001:db8:1::{i:x}"
            ip = IPv6
        else:
            a, b = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.1", f"10.200.{i // 256}.{i % 256}"
            ip = IP
        l4 = TCP if i % 2 else UDP
        sp, dp = rnd.randrange(1024, 65535), rnd.choice([7000, 8000, 9000, 10000])
        out.append((ip, l4, a, b, sp, dp))
    return out


def frames(fl):
    """Both directions of every flow, interleaved; each payload names its
    flow and direction so copies can be traced back."""
    out = []
    for k, (ip, l4, a, b, sp, dp) in enumerate(fl):
        out.append(ETH / ip(src=a, dst=b) / l4(sport=sp, dport=dp) / Raw(f"f{k}:fwd".encode()))
        out.append(ETH / ip(src=b, dst=a) / l4(sport=dp, dport=sp) / Raw(f"f{k}:rev".encode()))
    return out


def run(tmp_path, action, n_flows=300, states=None):
    fl = flows(n_flows)
    sent = frames(fl)
    wrpcap(str(tmp_path / "in.pcap"), sent)
    ports = [{"name": "in", "devargs": f"net_pcap_in,rx_pcap={tmp_path}/in.pcap",
              "mode": "xconnect", "peer": "out"},
             {"name": "out", "devargs": f"net_pcap_out,tx_pcap={tmp_path}/out.pcap",
              "mode": "xconnect", "peer": "in"}]
    for t in TARGETS:
        ports.append({"name": t, "devargs": f"net_pcap_{t},tx_pcap={tmp_path}/{t}.pcap",
                      "mode": "xconnect", "peer": "out"})
    states = states or {}
    policy = {"version": 1, "default": action, "ports": ports,
              "groups": [{"name": "tools", "targets": [
                  {"kind": "port", "port": t, "state": states.get(t, "up")} for t in TARGETS]}]}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    dp = lab.Dataplane([], ["--policy", str(tmp_path / "policy.json"), "--oneshot"],
                       workdir=str(tmp_path), prefix="sl-rep-" + uuid.uuid4().hex[:8])
    dp.start()
    rc = dp.proc.wait(timeout=120)
    dp.stop()
    assert rc == 0, dp.output[-3000:]
    got = {}
    for name in ["out"] + TARGETS:
        path = tmp_path / f"{name}.pcap"
        got[name] = rdpcap(str(path)) if os.path.getsize(path) > 24 else []
    return sent, got, dp.stats()


def flow_targets(got):
    """flow index -> direction -> set of targets that received it."""
    seen = collections.defaultdict(lambda: collections.defaultdict(set))
    for t in TARGETS:
        for p in got[t]:
            k, d = bytes(p[Raw].load).decode().split(":")
            seen[int(k[1:])][d].add(t)
    return seen


def test_replicate_sends_two_copies_and_both_directions_pick_the_same_targets(tmp_path):
    sent, got, st = run(tmp_path, {"replicate": {"group": "tools", "copies": 2}})
    assert len(got["out"]) == len(sent)                   # the originals go on
    assert [bytes(p) for p in got["out"]] == [bytes(p) for p in sent]
    seen = flow_targets(got)
    assert len(seen) == len(sent) // 2
    for k, d in seen.items():
        assert len(d["fwd"]) == 2, (k, d)
        assert d["fwd"] == d["rev"], (k, d)
    # Copies are the frames as received, byte for byte.
    by_payload = {bytes(p[Raw].load): bytes(p) for p in sent}
    for t in TARGETS:
        for p in got[t]:
            assert bytes(p) == by_payload[bytes(p[Raw].load)]
    # Every target gets a share (300 flows over 5 targets, 2 copies each).
    assert all(len(got[t]) > 0 for t in TARGETS)
    assert st["replication"]["copies"] == 2 * len(sent)
    assert st["replication"]["short"] == 0
    assert st["replication"]["failed"] == 0
    assert st["mempool"]["available_at_exit"] == st["mempool"]["size"]


def test_steer_sends_each_packet_to_exactly_one_target_instead(tmp_path):
    sent, got, st = run(tmp_path, {"steer": {"group": "tools"}})
    assert got["out"] == []
    seen = flow_targets(got)
    assert sum(len(got[t]) for t in TARGETS) == len(sent)
    for k, d in seen.items():
        assert len(d["fwd"]) == 1 and d["fwd"] == d["rev"], (k, d)
    assert st["replication"]["steered"] == len(sent)
    assert st["mempool"]["available_at_exit"] == st["mempool"]["size"]


def test_a_target_down_moves_only_its_own_flows(tmp_path):
    base_dir, down_dir = tmp_path / "base", tmp_path / "down"
    base_dir.mkdir()
    down_dir.mkdir()
    _, got, _ = run(base_dir, {"steer": {"group": "tools"}}, n_flows=600)
    before = {k: d["fwd"] for k, d in flow_targets(got).items()}
    _, got, _ = run(down_dir, {"steer": {"group": "tools"}}, n_flows=600,
                    states={"m2": "down"})
    after = {k: d["fwd"] for k, d in flow_targets(got).items()}
    assert not any("m2" in t for t in after.values())
    moved = [k for k in before if before[k] != after[k]]
    # Every flow of m2 moves; of the others, only Maglev's small churn.
    assert all(k in moved for k in before if "m2" in before[k])
    assert len([k for k in moved if "m2" not in before[k]]) <= 0.02 * len(before)


def test_more_copies_than_live_targets_sends_to_all_live_and_counts_it(tmp_path):
    sent, got, st = run(tmp_path, {"replicate": {"group": "tools", "copies": 4}},
                        n_flows=60, states={"m0": "down", "m1": "draining"})
    seen = flow_targets(got)
    for d in seen.values():
        assert d["fwd"] == {"m2", "m3", "m4"}
    assert st["replication"]["short"] == len(sent)
    assert st["replication"]["copies"] == 3 * len(sent)
