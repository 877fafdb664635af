# SPDX-License-Identifier: BSD-3-Clause
"""Steer to tunnel targets in XDP: sluice-xdp on a load-balancer namespace
encapsulates what a sender sends toward a remote node.

    S (10.92.0.2) -- L (10.92.0.1 | 10.92.1.1, fd92:1::1) -- R (10.92.1.2, fd92:1::2)

L runs sluice-xdp in native mode on both of its veths, with forwarding on
(the outer next hop is the kernel's input lookup from the ingress
interface).  Its policy steers UDP to ports 7001-7004 into four groups of
one tunnel each: VXLAN over IPv4 (VNI 4242), GENEVE over IPv6 (VNI 77, no
`local`: the source is the one L's kernel picks, fd92:1::1), GRE over IPv4
with key 0x1234abcd, GRE over IPv6 without key.  S sends raw frames (IPv4
and IPv6 inside, payloads of many lengths) with scapy.  The oracle is a
capture in R (tcpdump) decoded by scapy, which nobody here wrote.  The
test proves:

- while L's kernel does not know R's MAC yet, each frame is dropped and
  counted as `no_neigh` (and under the drop reason no_target), and nothing
  reaches R; once L has resolved R (a ping), every frame is encapsulated;
- each frame reaches R once, from L's MAC to R's, with the tunnel's outer
  addresses, VNI or key, UDP destination port (4789, 6081) and a source
  port in 49152-65535; outer IPv4 with DF, TTL 64 and a valid header
  checksum; outer IPv6 with hop limit 64, a non-zero flow label and a valid
  UDP checksum; the inner frame byte for byte what S sent;
- `sluice-xdp stats` counts them as `encapsulated`, and as steered on the
  ingress interface;
- the namespaces and pins are removed after.

Environment: SLUICE_BUILD names the build directory holding sluice-xdp
(default: build-xdp, then build).
"""
import json
import os
import random
import subprocess
import time

import pytest

from test_xdp_route import PY, sh, stop, tool

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")

SEED = 0x0DDBA11CAFE5EED5
SRC, VIP, VIP6 = "10.92.0.2", "10.92.5.100", "fd92:5::100"
L4, L6, R4, R6 = "10.92.1.1", "fd92:1::1", "10.92.1.2", "fd92:1::2"
PER_TUNNEL = 20

# (group, UDP port the rule steers, target, what R must see)
TUNNELS = [
    ("vx", 7001, {"kind": "vxlan", "vni": 4242, "remote": R4, "local": L4},
     {"kind": "vxlan", "src": L4, "dst": R4, "id": 4242, "dport": 4789}),
    ("ge", 7002, {"kind": "geneve", "vni": 77, "remote": R6},
     {"kind": "geneve", "src": L6, "dst": R6, "id": 77, "dport": 6081}),
    ("gk", 7003, {"kind": "gre", "key": 0x1234ABCD, "remote": R4, "local": L4},
     {"kind": "gre", "src": L4, "dst": R4, "id": 0x1234ABCD, "dport": None}),
    ("g6", 7004, {"kind": "gre", "remote": R6, "local": L6},
     {"kind": "gre", "src": L6, "dst": R6, "id": None, "dport": None}),
]

# Decodes a capture with scapy: one JSON object per tunnelled frame.
DECODE = r"""
import json, sys
from scapy.all import rdpcap, raw, load_contrib, Ether, IP, IPv6, UDP, GRE
from scapy.layers.vxlan import VXLAN
load_contrib("geneve")
from scapy.contrib.geneve import GENEVE
out = []
for p in rdpcap(sys.argv[1]):
    d = {"eth_src": p[Ether].src, "eth_dst": p[Ether].dst}
    ip = p[Ether].payload          # the outer header, not an inner one
    if isinstance(ip, IP):
        c = ip.chksum
        again = IP(raw(ip))
        del again.chksum
        d.update(fam=4, src=ip.src, dst=ip.dst, ttl=ip.ttl,
                 df=bool(ip.flags.DF), ip_ok=IP(raw(again)).chksum == c,
                 len_ok=ip.len == len(raw(ip)))
    elif isinstance(ip, IPv6):
        d.update(fam=6, src=ip.src, dst=ip.dst, ttl=ip.hlim, fl=ip.fl,
                 len_ok=ip.plen == len(raw(ip.payload)))
    else:
        continue
    l4 = ip.payload
    if isinstance(l4, UDP) and isinstance(l4.payload, VXLAN):
        t = l4.payload
        d.update(kind="vxlan", id=t.vni, flags=int(t.flags))
    elif isinstance(l4, UDP) and isinstance(l4.payload, GENEVE):
        t = l4.payload
        d.update(kind="geneve", id=t.vni, flags=int(t.proto))
    elif isinstance(l4, GRE):
        t = l4
        d.update(kind="gre", id=t.key if t.key_present else None,
                 flags=int(t.proto))
    else:
        continue
    if isinstance(l4, UDP):
        d.update(sport=l4.sport, dport=l4.dport, udp_ck=l4.chksum,
                 udp_len_ok=l4.len == len(raw(l4)))
        if d["fam"] == 6:
            again = IPv6(raw(ip))
            del again[UDP].chksum
            d["udp_ok"] = IPv6(raw(again))[UDP].chksum == l4.chksum
    d["inner"] = raw(t.payload).hex()
    out.append(d)
print(json.dumps(out))
"""


class Lab:
    """S - L - R, named after the test's pid."""

    def __init__(self):
        self.tag = f"slt{os.getpid():x}"
        self.ns = {h: self.tag + h for h in "SLR"}
        self.s, self.ls = self.tag + "s", self.tag + "ls"
        self.lr, self.r = self.tag + "lr", self.tag + "r"
        self.pin = f"/sys/fs/bpf/sluice-test-{self.tag}"

    def nsx(self, h, *argv):
        # nsenter, not `ip netns exec`, which hides /sys/fs/bpf
        return ["nsenter", f"--net=/run/netns/{self.ns[h]}", *argv]

    def run(self, h, *argv, check=True):
        return sh(*self.nsx(h, *argv), check=check)

    def create(self):
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for a, ha, b, hb in [(self.s, "S", self.ls, "L"), (self.lr, "L", self.r, "R")]:
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            sh("ip", "link", "set", a, "netns", self.ns[ha])
            sh("ip", "link", "set", b, "netns", self.ns[hb])
        # No IPv6 between S and L: nothing but the test's frames there.
        for h, dev in [("S", self.s), ("L", self.ls)]:
            self.run(h, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
        for h, dev in [("S", self.s), ("L", self.ls), ("L", self.lr), ("R", self.r)]:
            sh("ip", "-n", self.ns[h], "link", "set", dev, "up")
        sh("ip", "-n", self.ns["S"], "addr", "add", SRC + "/24", "dev", self.s)
        sh("ip", "-n", self.ns["L"], "addr", "add", "10.92.0.1/24", "dev", self.ls)
        sh("ip", "-n", self.ns["L"], "addr", "add", L4 + "/24", "dev", self.lr)
        sh("ip", "-n", self.ns["L"], "addr", "add", L6 + "/64", "dev", self.lr, "nodad")
        sh("ip", "-n", self.ns["R"], "addr", "add", R4 + "/24", "dev", self.r)
        sh("ip", "-n", self.ns["R"], "addr", "add", R6 + "/64", "dev", self.r, "nodad")
        self.run("L", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.run("L", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        # A veth takes redirected frames only while its peer's NAPI is on.
        self.run("R", "ethtool", "-K", self.r, "gro", "on")

    def destroy(self):
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)
        if os.path.isdir(self.pin):
            for f in os.listdir(self.pin):
                os.unlink(os.path.join(self.pin, f))
            os.rmdir(self.pin)

    def mac(self, h, dev):
        return json.loads(self.run(h, "ip", "-j", "link", "show", dev).stdout)[0]["address"]

    def xdp(self, *args, check=True):
        return self.run("L", tool(), *args, "--pin-root", self.pin, check=check)

    def stats(self):
        return json.loads(self.xdp("stats", "--json").stdout)

    def policy(self, path):
        path.write_text(json.dumps({
            "version": 1,
            "default": "accept",
            "settings": {"flow_hash_seed": f"{SEED:#x}",
                         "conntrack": {"enabled": False}},
            "ports": [{"name": self.ls}, {"name": self.lr}],
            "rules": [{"id": g, "proto": "udp", "dport": port,
                       "action": {"steer": {"group": g}}}
                      for g, port, _, _ in TUNNELS],
            "groups": [{"name": g, "targets": [t]} for g, _, t, _ in TUNNELS],
        }))
        return str(path)

    def send(self, frames):
        """Put the frames (bytes) on S's wire, in order."""
        self.run("S", PY, "-c", (
            "import sys\n"
            "from scapy.all import conf, sendp\n"
            "conf.verb = 0\n"
            f"frames = [bytes.fromhex(h) for h in {[f.hex() for f in frames]!r}]\n"
            f"sendp(frames, iface={self.s!r}, inter=0.002)\n"))

    def capture(self, path):
        """tcpdump in R, listening.  Immediate mode: without it, packets
        wait in the kernel's ring for a block timeout, and the SIGINT that
        stops tcpdump can come first (0 captured, 93 received by filter)."""
        p = subprocess.Popen(self.nsx("R", "tcpdump", "-n", "-U", "--immediate-mode",
                                      "-i", self.r, "-w", path, "ip or ip6"),
                             stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        assert "listening" in line, line
        return p


def frames_for(lab, port, n, rng):
    """n UDP frames from S to the service, to port, each of another flow,
    IPv4 and IPv6 inside, payloads of many lengths; as bytes."""
    code = (
        "import json, sys\n"
        "from scapy.all import Ether, IP, IPv6, UDP, raw\n"
        "out = []\n"
        f"for sport, six, n in {[(20000 + i, rng.random() < 0.3, rng.randrange(0, 1300)) for i in range(n)]!r}:\n"
        f"    ip = IPv6(src='fd92::2', dst={VIP6!r}) if six else IP(src={SRC!r}, dst={VIP!r})\n"
        f"    f = Ether(src={lab.mac('S', lab.s)!r}, dst={lab.mac('L', lab.ls)!r}) / ip / "
        f"UDP(sport=sport, dport={port}) / bytes((sport + i) % 256 for i in range(n))\n"
        "    out.append(raw(f).hex())\n"
        "print(json.dumps(out))\n")
    return [bytes.fromhex(h) for h in json.loads(sh(PY, "-c", code).stdout)]


@pytest.fixture
def lab():
    lb = Lab()
    lb.destroy()
    lb.create()
    try:
        yield lb
    finally:
        for dev in [lb.ls, lb.lr]:
            lb.xdp("detach", "--dev", dev, check=False)
        lb.destroy()


def steer(s, why):
    return s["steer"][why]["packets"]


def port_steered(s, name):
    return next(p for p in s["ports"] if p["name"] == name)["steered"]


def test_steer_encapsulates_toward_the_remote_as_scapy_decodes_it(lab, tmp_path):
    pol = lab.policy(tmp_path / "tunnels.json")
    for dev in [lab.ls, lab.lr]:
        r = lab.xdp("attach", "--dev", dev, "--policy", pol)
        assert "native mode" in r.stdout, r.stdout + r.stderr
    rng = random.Random(SEED)

    # 1. L's kernel does not know R's MAC yet: dropped, counted, not sent.
    lab.run("L", "ip", "neigh", "flush", "dev", lab.lr)
    s0 = lab.stats()
    lab.send([frames_for(lab, port, 1, rng)[0] for _, port, _, _ in TUNNELS])
    s1 = lab.stats()
    assert steer(s1, "no_neigh") - steer(s0, "no_neigh") == len(TUNNELS), \
        json.dumps(s1["steer"])
    assert steer(s1, "encapsulated") == steer(s0, "encapsulated")
    assert s1["drops"]["no_target"] - s0["drops"]["no_target"] \
        == len(TUNNELS)

    # 2. Once L has resolved R, every frame is encapsulated.
    lab.run("L", "ping", "-c", "1", "-W", "2", R4)
    lab.run("L", "ping", "-6", "-c", "1", "-W", "2", R6)
    sent = {g: frames_for(lab, port, PER_TUNNEL, rng) for g, port, _, _ in TUNNELS}
    cap = str(tmp_path / "r.pcap")
    tcpdump = lab.capture(cap)
    try:
        lab.send([f for g, _, _, _ in TUNNELS for f in sent[g]])
        time.sleep(0.5)
    finally:
        stop(tcpdump)
    s2 = lab.stats()
    l_mac, r_mac = lab.mac("L", lab.lr), lab.mac("R", lab.r)
    # R's kernel answers some with ICMP errors that quote them: only L's
    got = [d for d in json.loads(sh(PY, "-c", DECODE, cap).stdout)
           if d["eth_src"] == l_mac]
    for g, _, _, want in TUNNELS:
        mine = [d for d in got if d["kind"] == want["kind"] and d["src"] == want["src"]
                and d["dst"] == want["dst"] and d["id"] == want["id"]]
        assert sorted(d["inner"] for d in mine) == sorted(f.hex() for f in sent[g]), \
            f"{g}: {len(mine)} frames at R, {len(sent[g])} sent"
        for d in mine:
            assert (d["eth_src"], d["eth_dst"]) == (l_mac, r_mac), d
            assert d["ttl"] == 64 and d["len_ok"], d
            if d["fam"] == 4:
                assert d["df"] and d["ip_ok"], d
            else:
                assert d["fl"] != 0, d
            if want["dport"] is not None:
                assert d["dport"] == want["dport"] and d["udp_len_ok"], d
                assert 49152 <= d["sport"] <= 65535, d
                if d["fam"] == 6:
                    assert d["udp_ok"], d
                else:
                    assert d["udp_ck"] == 0, d
            if want["kind"] == "vxlan":
                assert d["flags"] == 0x08, d	# I: the VNI is valid
            else:
                assert d["flags"] == 0x6558, d	# transparent Ethernet bridging
        print(f"{g}: {len(mine)} frames decoded at R as {want['kind']} "
              f"{want['src']} -> {want['dst']}, id {want['id']}, inner frames identical")
    total = PER_TUNNEL * len(TUNNELS)
    assert len(got) == total, f"{len(got)} tunnelled frames at R, {total} sent"
    assert steer(s2, "encapsulated") - steer(s1, "encapsulated") == total, \
        json.dumps(s2["steer"])
    assert port_steered(s2, lab.ls) - port_steered(s1, lab.ls) == total
