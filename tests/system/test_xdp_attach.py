# SPDX-License-Identifier: BSD-3-Clause
"""sluice-xdp on a veth pair between two network namespaces of its own.

Proves that the program passes the verifier of this kernel and attaches in
native mode on veth and in generic mode, that it drops what the policy says
and counts it under the rule, that a second invocation adopts the pinned
program (update, stats), that an update carries rule counters by id, that
the tool refuses what XDP cannot do, and that the last detach leaves
nothing pinned or attached.  The oracle is the traffic the test sends.

Environment: SLUICE_BUILD names the build directory holding sluice-xdp
(default: build-xdp, then build).
"""
import json
import os
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool():
    for b in [os.environ.get("SLUICE_BUILD"), os.path.join(ROOT, "build-xdp"),
              os.path.join(ROOT, "build")]:
        if b and os.path.exists(os.path.join(b, "sluice-xdp")):
            return os.path.join(b, "sluice-xdp")
    raise FileNotFoundError("sluice-xdp not built (SLUICE_BUILD)")


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Pair:
    """netns A (veth va, 10.99.<n>.1) <-> netns B (veth vb, 10.99.<n>.2)."""

    def __init__(self):
        n = os.getpid() % 200
        self.tag = f"slx{os.getpid():x}"
        self.ns_a, self.ns_b = self.tag + "a", self.tag + "b"
        self.va, self.vb = self.tag + "va", self.tag + "vb"
        self.ip_a, self.ip_b = f"10.99.{n}.1", f"10.99.{n}.2"
        self.pin_a = f"/sys/fs/bpf/sluice-test-{self.tag}-a"
        self.pin_b = f"/sys/fs/bpf/sluice-test-{self.tag}-b"

    def create(self):
        sh("ip", "netns", "add", self.ns_a)
        sh("ip", "netns", "add", self.ns_b)
        sh("ip", "link", "add", self.va, "type", "veth", "peer", "name", self.vb)
        sh("ip", "link", "set", self.va, "netns", self.ns_a)
        sh("ip", "link", "set", self.vb, "netns", self.ns_b)
        for ns, dev, ip in [(self.ns_a, self.va, self.ip_a), (self.ns_b, self.vb, self.ip_b)]:
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def destroy(self):
        for ns in (self.ns_a, self.ns_b):
            sh("ip", "netns", "del", ns, check=False)
        for pin in (self.pin_a, self.pin_b):
            if os.path.isdir(pin):
                for f in os.listdir(pin):
                    os.unlink(os.path.join(pin, f))
                os.rmdir(pin)

    def xdp(self, ns, pin, *args, check=True):
        # nsenter, not `ip netns exec`: the latter mounts a fresh /sys and
        # would hide /sys/fs/bpf.
        r = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", tool(), *args,
                            "--pin-root", pin], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"sluice-xdp {' '.join(args)}: {r.returncode}\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def send_udp(self, from_ns, dst, dport, count):
        """count datagrams from a namespace, one socket."""
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                f"[s.sendto(b'x'*32,('{dst}',{dport})) for _ in range({count})]\n")
        sh("nsenter", f"--net=/run/netns/{from_ns}", "/usr/bin/python3", "-c", code)

    def xdp_mode(self, ns, dev):
        out = sh("ip", "-n", ns, "-d", "link", "show", dev).stdout
        if "xdpgeneric" in out:
            return "generic"
        if "prog/xdp" in out or " xdp " in out:
            return "native"
        return None


@pytest.fixture
def pair():
    p = Pair()
    p.destroy()
    p.create()
    try:
        yield p
    finally:
        p.destroy()


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


POLICY = {
    "version": 1,
    "default": "accept",
    "rules": [
        {"id": "drop-9999", "proto": "udp", "dport": 9999, "action": "drop"},
        {"id": "udp-7777", "proto": "udp", "dport": 7777, "action": "accept"},
    ],
}


def rule(stats, rid):
    return next(r for r in stats["rules"] if r["id"] == rid)


def test_native_attach_on_veth_drops_by_rule_counts_and_survives_the_tool(pair, tmp_path):
    pol = write(tmp_path, "p.json", POLICY)
    r = pair.xdp(pair.ns_a, pair.pin_a, "attach", "--dev", pair.va, "--policy", pol)
    assert "native mode" in r.stdout, r.stdout + r.stderr
    assert pair.xdp_mode(pair.ns_a, pair.va) == "native"
    # The tool has exited: the pinned link keeps the program attached.
    # (ARP is not IP: it passes, so the first datagram resolves.)
    pair.send_udp(pair.ns_b, pair.ip_a, 9999, 5)
    pair.send_udp(pair.ns_b, pair.ip_a, 7777, 3)
    time.sleep(0.2)
    s = json.loads(pair.xdp(pair.ns_a, pair.pin_a, "stats", "--json").stdout)
    assert rule(s, "drop-9999")["packets"] == 5
    assert rule(s, "udp-7777")["packets"] == 3
    assert s["drops"]["rule"] == 5
    port = next(p for p in s["ports"] if p["name"] == pair.va)
    assert port["dropped"] == 5 and port["passed"] >= 3

    # A second process adopts the pinned program; counters of a rule that
    # stays carry over, a new rule starts at zero.
    pol2 = write(tmp_path, "p2.json", {
        "version": 1, "default": "accept",
        "rules": [{"id": "drop-7777", "proto": "udp", "dport": 7777, "action": "drop"},
                  POLICY["rules"][0]]})
    pair.xdp(pair.ns_a, pair.pin_a, "update", "--policy", pol2)
    pair.send_udp(pair.ns_b, pair.ip_a, 7777, 2)
    time.sleep(0.2)
    s = json.loads(pair.xdp(pair.ns_a, pair.pin_a, "stats", "--json").stdout)
    assert rule(s, "drop-9999")["packets"] == 5
    assert rule(s, "drop-7777")["packets"] == 2
    assert s["drops"]["rule"] == 7

    pair.xdp(pair.ns_a, pair.pin_a, "detach", "--dev", pair.va)
    assert pair.xdp_mode(pair.ns_a, pair.va) is None
    assert not os.path.exists(pair.pin_a), "the last detach removes the pins"


def test_generic_mode_loads_and_attaches_when_asked(pair, tmp_path):
    pol = write(tmp_path, "p.json", POLICY)
    r = pair.xdp(pair.ns_b, pair.pin_b, "attach", "--dev", pair.vb, "--policy", pol,
                 "--generic")
    assert "generic mode" in r.stdout, r.stdout + r.stderr
    assert pair.xdp_mode(pair.ns_b, pair.vb) == "generic"
    # attaching again is a no-op that adopts the pinned program
    r = pair.xdp(pair.ns_b, pair.pin_b, "attach", "--dev", pair.vb, "--policy", pol,
                 "--generic")
    assert "adopted" in r.stdout
    pair.xdp(pair.ns_b, pair.pin_b, "detach", "--dev", pair.vb)
    assert pair.xdp_mode(pair.ns_b, pair.vb) is None


def test_payload_policy_is_refused_before_anything_is_loaded(pair, tmp_path):
    pol = write(tmp_path, "p.json", {
        "version": 1, "default": "accept",
        "rules": [{"proto": "tcp", "payload": {"literal": "admin"}, "action": "drop"}]})
    r = pair.xdp(pair.ns_a, pair.pin_a, "attach", "--dev", pair.va, "--policy", pol,
                 check=False)
    assert r.returncode == 1
    assert "payload" in r.stderr and "DPDK backend" in r.stderr and "af_xdp" in r.stderr
    assert pair.xdp_mode(pair.ns_a, pair.va) is None
    assert not os.path.exists(pair.pin_a)


def test_stats_without_an_attached_program_says_so(pair):
    r = pair.xdp(pair.ns_a, pair.pin_a, "stats", check=False)
    assert r.returncode == 1
    assert "attach first" in r.stderr
