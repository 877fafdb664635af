# SPDX-License-Identifier: BSD-3-Clause
"""Routing in XDP: sluice-xdp on a router namespace between two hosts.

    A (10.81.1.2/24, fd81:1::2/64) -- R (.1 on both sides) -- B (10.81.2.2/24, fd81:2::2/64)

R has forwarding on and sluice-xdp attached in native mode to both of its
veths with `--route fib`.  The kernel FIB is the oracle: the program asks
it (bpf_fib_lookup) and must deliver what the kernel would, but without
the kernel forwarding the packets.  So the test proves:

- ping (IPv4 and IPv6) and UDP succeed both ways, every packet counted as
  `routed` by R's program and none by R's kernel (Ip ForwDatagrams and
  Ip6OutForwDatagrams do not move);
- the routed packets arrive in B with the TTL one lower and a correct
  header checksum (a capture in B, read with scapy);
- a drop rule drops by rule (counted, nothing delivered);
- a packet whose TTL expires at R goes to the kernel, which answers with
  ICMP time exceeded;
- with `--route pass` the same traffic is routed by R's kernel
  (ForwDatagrams grows by it) and the program counts it as `off`.

Environment: SLUICE_BUILD names the build directory holding sluice-xdp
(default: build-xdp, then build).  Namespaces, veths and pins are the
test's own and removed after it.
"""
import json
import os
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")


def tool():
    for b in [os.environ.get("SLUICE_BUILD"), os.path.join(ROOT, "build-xdp"),
              os.path.join(ROOT, "build")]:
        if b and os.path.exists(os.path.join(b, "sluice-xdp")):
            return os.path.join(b, "sluice-xdp")
    raise FileNotFoundError("sluice-xdp not built (SLUICE_BUILD)")


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Lab:
    """Three namespaces A - R - B, named after the test's pid."""

    def __init__(self):
        self.tag = f"slr{os.getpid():x}"
        self.ns = {h: self.tag + h for h in "ARB"}
        # veth ends: A's a <-> R's ra, B's b <-> R's rb
        self.a, self.ra = self.tag + "a", self.tag + "ra"
        self.b, self.rb = self.tag + "b", self.tag + "rb"
        self.ip_a, self.ip_b = "10.81.1.2", "10.81.2.2"
        self.ip6_a, self.ip6_b = "fd81:1::2", "fd81:2::2"
        self.pin = f"/sys/fs/bpf/sluice-test-{self.tag}"

    def nsx(self, h, *argv):
        # nsenter, not `ip netns exec`: the latter mounts a fresh /sys and
        # would hide /sys/fs/bpf.
        return ["nsenter", f"--net=/run/netns/{self.ns[h]}", *argv]

    def run(self, h, *argv, check=True):
        return sh(*self.nsx(h, *argv), check=check)

    def create(self):
        for h in "ARB":
            sh("ip", "netns", "add", self.ns[h])
        sh("ip", "link", "add", self.a, "type", "veth", "peer", "name", self.ra)
        sh("ip", "link", "add", self.b, "type", "veth", "peer", "name", self.rb)
        for dev, h in [(self.a, "A"), (self.ra, "R"), (self.b, "B"), (self.rb, "R")]:
            sh("ip", "link", "set", dev, "netns", self.ns[h])
        for h, dev, addrs in [("A", self.a, ["10.81.1.2/24", "fd81:1::2/64"]),
                              ("R", self.ra, ["10.81.1.1/24", "fd81:1::1/64"]),
                              ("R", self.rb, ["10.81.2.1/24", "fd81:2::1/64"]),
                              ("B", self.b, ["10.81.2.2/24", "fd81:2::2/64"])]:
            for addr in addrs:
                sh("ip", "-n", self.ns[h], "addr", "add", addr, "dev", dev,
                   *(["nodad"] if ":" in addr else []))
            sh("ip", "-n", self.ns[h], "link", "set", dev, "up")
        for h in "ARB":
            sh("ip", "-n", self.ns[h], "link", "set", "lo", "up")
        for h, gw, gw6 in [("A", "10.81.1.1", "fd81:1::1"), ("B", "10.81.2.1", "fd81:2::1")]:
            sh("ip", "-n", self.ns[h], "route", "add", "default", "via", gw)
            sh("ip", "-n", self.ns[h], "-6", "route", "add", "default", "via", gw6)
        self.run("R", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.run("R", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        # A frame R's program redirects to ra or rb is handed by
        # veth_xdp_xmit() straight to the peer's receive queue (A's a,
        # B's b), which takes XDP frames only while that queue's NAPI is
        # enabled; otherwise veth_xdp_xmit() drops it and nothing arrives
        # (without the lines below, every routed ping is lost).
        # The peer's NAPI is on when the peer has an XDP program (a
        # trivial XDP_PASS, or sluice itself with an accept-all policy:
        # both tried, both work) or, since Linux 5.13, when GRO is on for
        # it.  GRO keeps A and B plain hosts with no program of their
        # own, so the counters read here are R's alone.  A real NIC needs
        # neither: its driver's ndo_xdp_xmit puts the frame on the wire.
        #
        # And checksum offload off on A's and B's ends: a veth hands its
        # peer a TCP or UDP packet whose checksum is only partial
        # (CHECKSUM_PARTIAL: "the stack trusts it, no wire will see it").
        # The kernel's forwarding keeps that mark; an XDP redirect turns
        # the packet into a bare frame and loses it, so the receiver
        # checks the partial checksum and drops the datagram.  Packets
        # from a real wire carry full checksums.
        for h, dev in [("A", self.a), ("B", self.b)]:
            self.run(h, "ethtool", "-K", dev, "gro", "on", "tx", "off")

    def destroy(self):
        for h in "ARB":
            sh("ip", "netns", "del", self.ns[h], check=False)
        if os.path.isdir(self.pin):
            for f in os.listdir(self.pin):
                os.unlink(os.path.join(self.pin, f))
            os.rmdir(self.pin)

    def xdp(self, *args, check=True):
        return self.run("R", tool(), *args, "--pin-root", self.pin, check=check)

    def stats(self):
        return json.loads(self.xdp("stats", "--json").stdout)

    def fwd(self):
        """R's kernel forwarding counters: (IPv4 ForwDatagrams,
        Ip6OutForwDatagrams), read inside R."""
        snmp = self.run("R", "cat", "/proc/net/snmp").stdout.splitlines()
        ip = [line.split() for line in snmp if line.startswith("Ip: ")]
        v4 = int(ip[1][ip[0].index("ForwDatagrams")])
        snmp6 = self.run("R", "cat", "/proc/net/snmp6").stdout.split()
        v6 = int(snmp6[snmp6.index("Ip6OutForwDatagrams") + 1])
        return v4, v6

    def ping(self, h, dst, count):
        r = self.run(h, "ping", "-c", str(count), "-i", "0.05", "-W", "2", dst,
                     check=False)
        assert r.returncode == 0 and f"{count} received" in r.stdout, r.stdout + r.stderr
        return r

    def udp(self, src, dst_host, dst_ip, port, count, ttl=None):
        """count datagrams src -> dst_ip:port, one socket; returns how many
        the receiver in dst_host got within 1 s of the last."""
        fam = "AF_INET6" if ":" in dst_ip else "AF_INET"
        recv = subprocess.Popen(self.nsx(dst_host, PY, "-c", (
            "import socket,sys\n"
            f"s=socket.socket(socket.{fam},socket.SOCK_DGRAM)\n"
            f"s.bind(('',{port})); s.settimeout(1.0); print('ready',flush=True); n=0\n"
            "try:\n"
            "    while True: s.recv(2048); n+=1\n"
            "except socket.timeout: pass\n"
            "print(n)\n")), stdout=subprocess.PIPE, text=True)
        try:
            assert recv.stdout.readline().strip() == "ready"
            opt = (f"s.setsockopt(socket.IPPROTO_IP,socket.IP_TTL,{ttl})\n"
                   if ttl else "")
            self.run(src, PY, "-c", (
                "import socket,time\n"
                f"s=socket.socket(socket.{fam},socket.SOCK_DGRAM)\n{opt}"
                f"for i in range({count}):\n"
                f"    s.sendto(b'x'*64,('{dst_ip}',{port})); time.sleep(0.002)\n"))
            out, _ = recv.communicate(timeout=10)
        finally:
            if recv.poll() is None:
                recv.kill()
                recv.wait()
        return int(out.split()[-1])

    def capture(self, h, dev, path):
        """tcpdump in h on dev into path, started and listening."""
        p = subprocess.Popen(self.nsx(h, "tcpdump", "-n", "-U", "-i", dev, "-w", path,
                                      "ip or ip6"),
                             stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        assert "listening" in line, line
        return p


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def read_pcap(path):
    """[(src, dst, ttl or hop limit, proto, header checksum ok)] of a pcap,
    through scapy in a subprocess (keeps scapy out of pytest's process)."""
    code = (
        "import json,sys\n"
        "from scapy.all import rdpcap, IP, IPv6, raw\n"
        "out=[]\n"
        f"for p in rdpcap({path!r}):\n"
        "    if IP in p:\n"
        "        ip=p[IP]; c=ip.chksum; ip2=IP(raw(ip)); del ip2.chksum\n"
        "        ok = IP(raw(ip2)).chksum == c\n"
        "        out.append([ip.src, ip.dst, ip.ttl, ip.proto, ok])\n"
        "    elif IPv6 in p:\n"
        "        ip=p[IPv6]; out.append([ip.src, ip.dst, ip.hlim, ip.nh, True])\n"
        "print(json.dumps(out))\n")
    r = sh(PY, "-c", code)
    return json.loads(r.stdout)


def route_count(s, reason):
    return s["route"][reason]["packets"]


def port(s, name):
    return next(p for p in s["ports"] if p["name"] == name)


POLICY = {
    "version": 1,
    "default": "accept",
    "settings": {"conntrack": {"enabled": False}},
    "rules": [
        {"id": "drop-udp-9999", "proto": "udp", "dport": 9999, "action": "drop"},
    ],
}


@pytest.fixture
def lab(tmp_path):
    lb = Lab()
    lb.destroy()
    lb.create()
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps(POLICY))
    lb.policy = str(pol)
    try:
        yield lb
    finally:
        lb.xdp("detach", "--dev", lb.ra, check=False)
        lb.xdp("detach", "--dev", lb.rb, check=False)
        lb.destroy()


def test_router_namespace_routes_in_xdp_not_in_the_kernel_and_kernel_routes_with_route_pass(
        lab, tmp_path):
    for dev in (lab.ra, lab.rb):
        r = lab.xdp("attach", "--dev", dev, "--policy", lab.policy, "--route", "fib")
        assert "native mode" in r.stdout, r.stdout + r.stderr
    assert lab.stats()["routing"] == "fib"

    # Warm-up: the first packets find R's neighbour entries for A and B
    # missing (no_neigh) and go to the kernel, which resolves them.
    lab.ping("A", lab.ip_b, 2)
    lab.ping("B", lab.ip_a, 2)
    lab.ping("A", lab.ip6_b, 2)
    lab.ping("B", lab.ip6_a, 2)
    s0, fwd0 = lab.stats(), lab.fwd()

    cap = str(tmp_path / "b.pcap")
    tcpdump = lab.capture("B", lab.b, cap)
    try:
        lab.ping("A", lab.ip_b, 20)
        lab.ping("B", lab.ip_a, 20)
        lab.ping("A", lab.ip6_b, 10)
        lab.ping("B", lab.ip6_a, 10)
        assert lab.udp("A", "B", lab.ip_b, 7001, 50) == 50
        assert lab.udp("B", "A", lab.ip_a, 7002, 50) == 50
        assert lab.udp("A", "B", lab.ip6_b, 7003, 20) == 20
        time.sleep(0.3)
    finally:
        stop(tcpdump)
    s1, fwd1 = lab.stats(), lab.fwd()

    # Every packet crossed R: 2 x (20 + 20 + 10 + 10) echo requests and
    # replies, 100 + 20 datagrams.  All routed by the program ...
    routed = route_count(s1, "routed") - route_count(s0, "routed")
    assert routed == 2 * 60 + 120, json.dumps(s1["route"], indent=1)
    # ... and none by R's kernel: the kernel FIB answered, the kernel
    # stack never saw them.
    assert fwd1 == fwd0, f"R's kernel forwarded {fwd1[0] - fwd0[0]} IPv4, " \
                         f"{fwd1[1] - fwd0[1]} IPv6 packets"
    # ... on the interface they came in by: ra takes A's requests, A's
    # replies and A's datagrams; rb the same of B's.
    assert port(s1, lab.ra)["routed"] - port(s0, lab.ra)["routed"] == 40 + 20 + 70
    assert port(s1, lab.rb)["routed"] - port(s0, lab.rb)["routed"] == 40 + 20 + 50

    # In B: what came from A left A with TTL 64 (hop limit 64) and
    # arrives with 63, with a correct IPv4 header checksum.
    pkts = [p for p in read_pcap(cap) if p[0] in (lab.ip_a, lab.ip6_a)]
    assert len(pkts) == 20 + 20 + 50 + 10 + 10 + 20, len(pkts)
    assert all(p[2] == 63 for p in pkts), [p for p in pkts if p[2] != 63][:5]
    assert all(p[4] for p in pkts), "bad IPv4 header checksum after the TTL update"

    # A drop rule drops by rule, before routing.
    assert lab.udp("A", "B", lab.ip_b, 9999, 10) == 0
    s2 = lab.stats()
    rule = next(r for r in s2["rules"] if r["id"] == "drop-udp-9999")
    assert rule["packets"] == 10
    assert s2["drops"]["rule"] == 10
    assert route_count(s2, "routed") == route_count(s1, "routed")

    # TTL 1: R's kernel gets the packet and answers ICMP time exceeded
    # (A sees it as a "TTL exceeded" error on its socket).
    r = lab.run("A", PY, "-c", (
        "from scapy.all import IP, UDP, sr1, conf\n"
        "conf.verb=0\n"
        f"a=sr1(IP(dst='{lab.ip_b}',ttl=1)/UDP(dport=7004),timeout=2,iface='{lab.a}')\n"
        "print(a[IP].src if a else 'none', a.type if a else -1)\n"))
    assert r.stdout.split() == ["10.81.1.1", "11"], r.stdout + r.stderr
    s3 = lab.stats()
    assert route_count(s3, "ttl_expired") - route_count(s2, "ttl_expired") == 1

    # Routing off: the same program passes accepted packets and R's
    # kernel routes them.
    lab.xdp("update", "--route", "pass")
    assert lab.stats()["routing"] == "pass"
    fwd3 = lab.fwd()
    lab.ping("A", lab.ip_b, 10)
    assert lab.udp("A", "B", lab.ip_b, 7005, 10) == 10
    lab.ping("A", lab.ip6_b, 5)
    s4, fwd4 = lab.stats(), lab.fwd()
    assert fwd4[0] - fwd3[0] == 2 * 10 + 10
    assert fwd4[1] - fwd3[1] == 2 * 5
    assert route_count(s4, "routed") == route_count(s3, "routed")
    # (every accepted packet counts as off then, R's own neighbour
    # discovery too)
    assert route_count(s4, "off") - route_count(s3, "off") >= 2 * 10 + 10 + 2 * 5

    # And on again, without touching the policy.
    lab.xdp("update", "--route", "fib")
    lab.ping("B", lab.ip_a, 5)
    s5 = lab.stats()
    assert route_count(s5, "routed") - route_count(s4, "routed") == 10
    assert lab.fwd() == fwd4
