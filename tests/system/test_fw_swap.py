# SPDX-License-Identifier: BSD-3-Clause
"""Atomic policy swaps under load.

Two 10,000-rule sets, A and B, judge the same traffic oppositely: in A the
rule "acc" accepts UDP ports 1-50 and "drp" drops 51-100; in B "acc"
accepts 51-100 and "drp" drops 1-50.  Every packet's verdict therefore
differs between the sets, and the two rule ids exist in both, so their
counters run on across swaps.  While traffic flows, the test swaps A and B
SL_SWAPS times (default 1,000) with SIGHUP.  A packet judged by a mix of
generations (one set's match, the other's action or counters) would break
acc == packets sent, drp == packets dropped by rule; every mbuf must be
back in its pool at the end.
"""
import json
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest
from scapy.all import IP, UDP, Ether, Raw, wrpcap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))
DATAPLANE = os.path.join(BUILD, "sluice-dataplane")
N_SWAPS = int(os.environ.get("SL_SWAPS", "1000"))
N_FILLER = 9998

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="DPDK needs root")


def hugepages_free():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


def rule_set(acc_ports, drp_ports, salt):
    rules = []
    # Fillers that never match the traffic (TCP, other addresses), so the
    # ACL holds 10k rules, different in each set.
    for i in range(N_FILLER):
        rules.append({"id": f"f{salt}{i}", "proto": "tcp",
                      "src": f"172.{16 + i % 16}.{(i // 16) % 256}.0/24",
                      "dport": 1 + (i * 7 + salt) % 60000, "action": "drop"})
    rules.insert(N_FILLER // 2, {"id": "acc", "proto": "udp", "dport": acc_ports,
                                 "action": "accept"})
    rules.insert(N_FILLER // 2 + 1, {"id": "drp", "proto": "udp", "dport": drp_ports,
                                     "action": "drop"})
    return {"version": 1, "default": "drop", "rules": rules,
            "ports": [{"name": "in", "dpdk_port": 0, "mode": "xconnect", "peer": "out"},
                      {"name": "out", "dpdk_port": 1, "mode": "xconnect", "peer": "in"}]}


def test_thousand_swaps_under_load_never_mix_generations(tmp_path):
    a = json.dumps(rule_set("1-50", "51-100", 1))
    b = json.dumps(rule_set("51-100", "1-50", 2))
    policy = tmp_path / "policy.json"
    policy.write_text(a)
    pcap = tmp_path / "in.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="10.0.0.1", dst="10.0.0.2") /
                       UDP(sport=1000 + i, dport=1 + i % 100) / Raw(b"x" * 18)
                       for i in range(400)])
    stats = tmp_path / "stats.json"
    # Hugepages when reserved (deploy/hugepages.sh): rebuilds run about
    # three times faster than on 4 KiB pages.
    mem = [] if hugepages_free() >= 512 else ["--no-huge", "-m", "1024"]
    p = subprocess.Popen(
        [DATAPLANE, "-l", "0,1", "--no-pci"] + mem + [
         "--file-prefix", "sl-swap-" + uuid.uuid4().hex[:6], "--no-telemetry",
         "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
         "--vdev", "net_null0,no-rx=1", "--",
         "--policy", str(policy), "--stats-file", str(stats)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    in_force = []
    lines = []

    def read_log():
        for line in p.stderr:
            lines.append(line)
            if "in force" in line:
                in_force.append(line)

    t = threading.Thread(target=read_log)
    t.start()
    try:
        deadline = time.time() + 30
        while not any("built in" in ln for ln in lines) and time.time() < deadline:
            time.sleep(0.05)
        assert p.poll() is None, "".join(lines)
        t0 = time.time()
        for k in range(N_SWAPS):
            policy.write_text(b if k % 2 == 0 else a)
            p.send_signal(signal.SIGHUP)
            deadline = time.time() + 30
            while len(in_force) < k + 1:
                assert time.time() < deadline and p.poll() is None, "".join(lines[-20:])
                time.sleep(0.002)
        swap_s = (time.time() - t0) / N_SWAPS
        print(f"{N_SWAPS} swaps of 10k rules, {swap_s * 1000:.1f} ms each")
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
        t.join()
    assert p.returncode == 0, out + "".join(lines[-30:])

    c = json.loads(stats.read_text())
    assert c["policy"]["reloads"] == N_SWAPS
    rules = {r["id"]: r for r in c["rules"]}
    rx = c["ports"][0]["rx_packets"]
    tx = c["ports"][1]["tx_packets"] + c["ports"][1]["tx_dropped"]
    assert rx > 0
    assert rules["acc"]["packets"] == tx
    assert rules["drp"]["packets"] == c["drops"]["rule"]
    assert rules["acc"]["packets"] + rules["drp"]["packets"] == rx
    # both sets really judged traffic: each half of the ports was accepted
    # by one set and dropped by the other, so neither count can be zero
    assert rules["acc"]["packets"] > 0 and rules["drp"]["packets"] > 0
    assert c["mempool"]["available_at_exit"] == c["mempool"]["size"]
