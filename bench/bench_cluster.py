#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Cluster figures (docs/cluster.md): a shared write's spread, convergence
after a member dies and table build time.

    SLUICE_BUILD=build bench/bench_cluster.py [KILLS] [WRITES]

Starts a 3-member etcd cluster and 3 sluiced nodes on loopback (as
tests/system/test_cluster.py does), then KILLS times (20) kills node2 with
SIGKILL and measures the time until both survivors list 2 members with
equal table digests; node2 is started again between kills.  Before
that, WRITES (20) shared writes (PUT /v1/cluster/config, a new rule each
time, through node 0, 1, 2 in turn): the time from sending the write to
every node running its revision (GET /v1/status polled every 2 ms on each
node, so the figure carries up to a few ms of polling).  Then the
derive-and-build time of one cluster group's table for 2..256 members
(sluice-cluster-tables --bench).  Prints figures; fails on nothing.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

import test_cluster as tc  # noqa: E402


def shared_writes(nodes, writes):
    """Seconds from each write's request to its revision on every node."""
    took = []
    for k in range(writes):
        rule = {"id": f"bench-{k}", "proto": "tcp", "dport": 1000 + k, "action": "drop"}
        t0 = time.monotonic()
        r = tc.call(nodes[k % 3], "PUT", "/v1/cluster/config", {"rules": [rule]})
        assert r.status == 200, r
        rev = r.json["revision"]
        tc.wait_for("spread", lambda: tc.shared_everywhere(nodes, rev), 10, step=0.002)
        took.append(time.monotonic() - t0)
    return took


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    writes = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    d = tempfile.mkdtemp(prefix="slbench-", dir="/tmp")
    pol = os.path.join(d, "policy.json")
    with open(pol, "w") as f:
        json.dump(tc.POLICY, f)
    etcd = tc.Etcd(3)
    nodes = []
    took = []
    spread = []
    try:
        etcd.start_all()
        nodes = [tc.start_node(i, etcd, pol) for i in range(3)]
        tc.wait_for("converged", lambda: tc.converged(nodes, 3), 15)
        spread = shared_writes(nodes, writes)
        for _ in range(kills):
            nodes[2].proc.send_signal(signal.SIGKILL)
            t0 = time.monotonic()
            nodes[2].proc.wait()
            tc.wait_for("dropped", lambda: tc.converged(nodes[:2], 2), 10, step=0.01)
            took.append(time.monotonic() - t0)
            nodes[2].remove()
            nodes[2] = tc.start_node(2, etcd, pol)
            tc.wait_for("back", lambda: tc.converged(nodes, 3), 10)
    finally:
        for sd in nodes:
            sd.stop()
            sd.remove()
        etcd.remove()
        os.unlink(pol)
        os.rmdir(d)
    if spread:
        print(json.dumps({"shared_writes": len(spread),
                          "write_to_all_median_ms": round(statistics.median(spread) * 1e3, 1),
                          "write_to_all_max_ms": round(max(spread) * 1e3, 1),
                          "write_to_all_min_ms": round(min(spread) * 1e3, 1)}))
    if took:
        print(json.dumps({"kills": len(took), "lease_ttl_s": tc.TTL,
                          "convergence_median_s": round(statistics.median(took), 3),
                          "convergence_max_s": round(max(took), 3),
                          "convergence_min_s": round(min(took), 3)}))
    for n in (2, 10, 100, 256):
        for size in (65537, 655373):
            out = subprocess.run([tc.tables_tool(), "--bench", str(n), str(size)],
                                 check=True, capture_output=True, text=True)
            print(out.stdout.strip())


if __name__ == "__main__":
    main()
