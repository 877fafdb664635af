# SPDX-License-Identifier: BSD-3-Clause
"""The firewall against nftables as the oracle.

Random rule sets are written twice: as a Sluice policy and as an nftables
forward chain in a network namespace that routes between two veths.  The
same packets, each tagged with its index, go through both: the kernel
forwards what its chain accepts (captured on the far veth), Sluice in pcap
mode writes what its policy accepts.  The two sets of tags must be equal.

Connection tracking is part of it: the stateful sets build real flows
(requests, replies, replies without a request, TCP handshakes and
mid-stream packets) and match on `ct`.

SL_NFT_SETS / SL_NFT_PACKETS scale it (defaults: 50 sets, 10,000 packets).
"""
import ipaddress
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
import uuid

import pytest

import lab
from scapy.all import ICMP, IP, TCP, UDP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, Raw
from scapy.layers.sctp import SCTP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))
DATAPLANE = os.path.join(BUILD, "sluice-dataplane")
N_SETS = int(os.environ.get("SL_NFT_SETS", "50"))
N_PACKETS = int(os.environ.get("SL_NFT_PACKETS", "10000"))
SEED = int(os.environ.get("SL_TEST_SEED", "20261122"))
TAG = b"SLT!"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns and DPDK")

GW4, GW6 = "192.0.2.2", "2001:db8:ffff::2"
GW_MAC = "02:00:00:00:ff:02"


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Router:
    """A namespace that forwards from veth a to veth b through an nft chain."""

    def __init__(self):
        # lab's names, so that lab.cleanup_stale() removes what a killed
        # run leaves behind
        tag = lab.unique_tag()
        self.ns = lab._tag_netns(tag, "h0")
        self.a_out, self.a_in = f"{tag}p0", f"{tag}i0"
        self.b_out, self.b_in = f"{tag}p1", f"{tag}i1"
        sh("ip", "netns", "add", self.ns)
        for out, inn in ((self.a_out, self.a_in), (self.b_out, self.b_in)):
            sh("ip", "link", "add", out, "type", "veth", "peer", "name", inn)
            sh("ip", "link", "set", inn, "netns", self.ns)
            sh("ip", "link", "set", out, "up")
            for feat in ("tx", "rx", "gro", "gso", "tso"):
                sh("ethtool", "-K", out, feat, "off", check=False)
        ns = ["ip", "netns", "exec", self.ns]
        for cmd in [
            ["ip", "link", "set", "lo", "up"],
            ["ip", "link", "set", self.a_in, "up"],
            ["ip", "link", "set", self.b_in, "up"],
            ["ip", "addr", "add", "198.51.100.1/24", "dev", self.a_in],
            ["ip", "addr", "add", "192.0.2.1/24", "dev", self.b_in],
            ["ip", "-6", "addr", "add", "2001:db8:fffe::1/64", "dev", self.a_in, "nodad"],
            ["ip", "-6", "addr", "add", "2001:db8:ffff::1/64", "dev", self.b_in, "nodad"],
            ["ip", "route", "add", "default", "via", GW4],
            ["ip", "-6", "route", "add", "default", "via", GW6],
            ["ip", "neigh", "add", GW4, "lladdr", GW_MAC, "dev", self.b_in, "nud", "permanent"],
            ["ip", "-6", "neigh", "add", GW6, "lladdr", GW_MAC, "dev", self.b_in, "nud", "permanent"],
            ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
            ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
            ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"],
            ["sysctl", "-qw", f"net.ipv4.conf.{self.a_in}.rp_filter=0"],
            ["sysctl", "-qw", "net.ipv4.conf.all.accept_local=1"],
            ["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_be_liberal=1"],
        ]:
            sh(*(ns + cmd))
        self.a_in_mac = sh(*ns, "cat", f"/sys/class/net/{self.a_in}/address").stdout.strip()

    def load(self, nft_text):
        ns = ["ip", "netns", "exec", self.ns]
        sh(*ns, "nft", "flush", "ruleset")
        sh(*ns, "conntrack", "-F")
        r = subprocess.run(ns + ["nft", "-f", "-"], input=nft_text, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr + nft_text[:2000]

    def verdicts(self, frames):
        """Indexes of the frames the namespace forwarded."""
        rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        rx.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        rx.bind((self.b_out, 0))
        rx.settimeout(0.3)
        seen = set()
        done = threading.Event()

        def reader():
            while not done.is_set():
                try:
                    data = rx.recv(4096)
                except socket.timeout:
                    continue
                k = data.find(TAG)
                if k >= 0:
                    seen.add(struct.unpack("!I", data[k + 4:k + 8])[0])

        t = threading.Thread(target=reader)
        t.start()
        tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        tx.bind((self.a_out, 0))
        for i, f in enumerate(frames):
            tx.send(f)
            if i % 200 == 199:
                time.sleep(0.002)  # keep the veth backlog from overflowing
        time.sleep(0.5)
        done.set()
        t.join()
        tx.close()
        rx.close()
        return seen

    def close(self):
        sh("ip", "netns", "del", self.ns, check=False)
        for out in (self.a_out, self.b_out):
            sh("ip", "link", "del", out, check=False)


@pytest.fixture(scope="module")
def router():
    r = Router()
    yield r
    r.close()


# ---- random rules -----------------------------------------------------

PROTOS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}


def v4_pool(rng):
    return f"10.{rng.randrange(4)}.{rng.randrange(4)}.{rng.randrange(1, 255)}"


def v6_pool(rng):
    return f"2001:db8:{rng.randrange(4):x}:{rng.randrange(4):x}::{rng.randrange(1, 255):x}"


def rand_prefix(rng, fam):
    addr = v4_pool(rng) if fam == 4 else v6_pool(rng)
    plen = rng.randrange(8, 33) if fam == 4 else rng.randrange(32, 129)
    return str(ipaddress.ip_network(f"{addr}/{plen}", strict=False))


def rand_range(rng):
    lo = rng.randrange(1200)
    if rng.random() < 0.5:
        return (lo, lo)
    return (lo, lo + rng.randrange(300))


def rand_rule(rng, with_ct):
    fam = rng.choice([4, 6])
    r = {"action": rng.choice(["accept", "drop"])}
    if rng.random() < 0.5:
        r["src"] = rand_prefix(rng, fam)
    if rng.random() < 0.5:
        r["dst"] = rand_prefix(rng, fam)
    proto = rng.choice(["tcp", "udp", "sctp", "icmp", None])
    if proto == "icmp" and fam == 6:
        proto = "icmpv6"
    if proto == "icmp" and "src" not in r and "dst" not in r and rng.random() < 0.5:
        proto = "icmpv6"
    if proto:
        r["proto"] = proto
    if proto in ("tcp", "udp", "sctp"):
        if rng.random() < 0.6:
            r["dport"] = rand_range(rng)
        if rng.random() < 0.3:
            r["sport"] = rand_range(rng)
    if proto == "tcp" and rng.random() < 0.2:
        r["tcp_flags"] = (rng.choice(["syn", "ack"]), ["syn", "ack"])
    if with_ct and rng.random() < 0.5:
        r["ct"] = rng.sample(["new", "established", "invalid"], rng.randrange(1, 3))
    return r


def sluice_policy(rules, default):
    out = []
    for i, r in enumerate(rules):
        j = {"id": f"r{i}", "action": r["action"]}
        for k in ("src", "dst", "proto"):
            if k in r:
                j[k] = r[k]
        for k in ("sport", "dport"):
            if k in r:
                lo, hi = r[k]
                j[k] = lo if lo == hi else f"{lo}-{hi}"
        if "tcp_flags" in r:
            j["tcp_flags"] = {"flags": [r["tcp_flags"][0]], "mask": r["tcp_flags"][1]}
        if "ct" in r:
            j["ct"] = r["ct"]
        out.append(j)
    return {"version": 1, "default": default, "rules": out}


def nft_rule(r):
    parts = []
    fam = None
    for k in ("src", "dst"):
        if k in r:
            fam = 6 if ":" in r[k] else 4
            parts.append(f"{'ip' if fam == 4 else 'ip6'} {'saddr' if k == 'src' else 'daddr'} {r[k]}")
    proto = r.get("proto")
    if proto:
        parts.append(f"meta l4proto {proto}")
        if proto == "icmp":
            parts.insert(0, "meta nfproto ipv4")
        if proto == "icmpv6":
            parts.insert(0, "meta nfproto ipv6")
    for k in ("sport", "dport"):
        if k in r:
            lo, hi = r[k]
            parts.append(f"{proto} {k} {lo}" if lo == hi else f"{proto} {k} {lo}-{hi}")
    if "tcp_flags" in r:
        flag, mask = r["tcp_flags"]
        parts.append(f"tcp flags & ({'|'.join(mask)}) == {flag}")
    if "ct" in r:
        parts.append("ct state { " + ", ".join(r["ct"]) + " }")
    parts.append(r["action"])
    return " ".join(parts)


def nft_ruleset(rules, default):
    body = "\n".join("    " + nft_rule(r) for r in rules)
    return (f"table inet sl {{\n  chain slfwd {{\n    type filter hook forward priority 0; policy {default};\n"
            f"{body}\n  }}\n}}\n")


# ---- packets ------------------------------------------------------------

def tag(i):
    return TAG + struct.pack("!I", i) + b"pad-pad-"


def l4(rng, proto, sport, dport, i, flags=None):
    if proto == "tcp":
        return TCP(sport=sport, dport=dport, flags=flags or rng.choice(["S", "A", "PA", "SA", "FA", "R"]),
                   seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32)) / Raw(tag(i))
    if proto == "udp":
        return UDP(sport=sport, dport=dport) / Raw(tag(i))
    return SCTP(sport=sport, dport=dport) / Raw(tag(i))


def rand_packet(rng, i, mac):
    fam = rng.choice([4, 6])
    src, dst = (v4_pool(rng), v4_pool(rng)) if fam == 4 else (v6_pool(rng), v6_pool(rng))
    ip = IP(src=src, dst=dst, ttl=64) if fam == 4 else IPv6(src=src, dst=dst, hlim=64)
    kind = rng.choice(["tcp", "udp", "sctp", "icmp"])
    if kind == "icmp":
        body = (ICMP(type=8, id=rng.randrange(65536)) if fam == 4
                else ICMPv6EchoRequest(id=rng.randrange(65536))) / Raw(tag(i))
    else:
        body = l4(rng, kind, rng.randrange(1500), rng.randrange(1500), i)
    return bytes(Ether(src="02:00:00:00:aa:01", dst=mac) / ip / body)


def flow_packets(rng, start, mac):
    """A few packets of one flow in order: real request/reply sequences."""
    fam = rng.choice([4, 6])
    a, b = (v4_pool(rng), v4_pool(rng)) if fam == 4 else (v6_pool(rng), v6_pool(rng))
    IPC = (lambda s, d: IP(src=s, dst=d, ttl=64)) if fam == 4 else (lambda s, d: IPv6(src=s, dst=d, hlim=64))
    sp, dp = rng.randrange(1024, 1500), rng.randrange(1, 1200)
    kind = rng.choice(["tcp", "udp", "icmp", "tcp-pickup", "reply-only"])
    seq = []
    i = start
    eth = Ether(src="02:00:00:00:aa:01", dst=mac)
    if kind == "tcp":
        x, y = rng.randrange(1 << 31), rng.randrange(1 << 31)
        for s, d, so, do, fl, sq, ak in [(a, b, sp, dp, "S", x, 0), (b, a, dp, sp, "SA", y, x + 1),
                                         (a, b, sp, dp, "A", x + 1, y + 1),
                                         (a, b, sp, dp, "PA", x + 1, y + 1),
                                         (b, a, dp, sp, "PA", y + 1, x + 13)]:
            seq.append(bytes(eth / IPC(s, d) / TCP(sport=so, dport=do, flags=fl, seq=sq, ack=ak,
                                                   window=65535) / Raw(tag(i))))
            i += 1
    elif kind == "tcp-pickup":
        x, y = rng.randrange(1 << 31), rng.randrange(1 << 31)
        for s, d, so, do, sq, ak in [(a, b, sp, dp, x, y), (b, a, dp, sp, y, x + 12)]:
            seq.append(bytes(eth / IPC(s, d) / TCP(sport=so, dport=do, flags="A", seq=sq, ack=ak,
                                                   window=65535) / Raw(tag(i))))
            i += 1
    elif kind == "udp":
        for s, d, so, do in [(a, b, sp, dp), (a, b, sp, dp), (b, a, dp, sp), (a, b, sp, dp)]:
            seq.append(bytes(eth / IPC(s, d) / UDP(sport=so, dport=do) / Raw(tag(i))))
            i += 1
    elif kind == "icmp":
        ident = rng.randrange(65536)
        req = ICMP(type=8, id=ident) if fam == 4 else ICMPv6EchoRequest(id=ident)
        rep = ICMP(type=0, id=ident) if fam == 4 else ICMPv6EchoReply(id=ident)
        seq.append(bytes(eth / IPC(a, b) / req / Raw(tag(i))))
        seq.append(bytes(eth / IPC(b, a) / rep / Raw(tag(i + 1))))
        i += 2
    else:  # a reply with no request: ct invalid (ICMP) or new (UDP)
        ident = rng.randrange(65536)
        rep = ICMP(type=0, id=ident) if fam == 4 else ICMPv6EchoReply(id=ident)
        seq.append(bytes(eth / IPC(b, a) / rep / Raw(tag(i))))
        i += 1
    return seq


def write_pcap(path, frames):
    """A classic pcap of raw frames (scapy's writer re-dissects each one)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def sluice_verdicts(tmp_path, frames, policy):
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps(policy))
    inp, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(inp, frames)
    if out.exists():
        out.unlink()
    r = subprocess.run([DATAPLANE, "-l", "0,1", "--no-pci", "--no-huge", "-m", "512",
                        "--file-prefix", "sl-nft-" + uuid.uuid4().hex[:6], "--no-telemetry",
                        "--log-level", "lib.eal:error",
                        "--vdev", f"net_pcap0,rx_pcap={inp},tx_pcap={out}", "--",
                        "--oneshot", "--idle-ms", "100", "--policy", str(pol),
                        "--mbufs", str(max(16383, 2 * len(frames) + 8191))],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = set()
    data = out.read_bytes()
    # pcap: 24-byte header, then 16-byte record headers
    off = 24
    while off < len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + caplen]
        k = pkt.find(TAG)
        if k >= 0:
            seen.add(struct.unpack("!I", pkt[k + 4:k + 8])[0])
        off += 16 + caplen
    return seen


def compare(router, tmp_path, rules, default, frames, label):
    router.load(nft_ruleset(rules, default))
    want = router.verdicts(frames)
    got = sluice_verdicts(tmp_path, frames, sluice_policy(rules, default))
    if want != got:
        only_k = sorted(want - got)[:5]
        only_s = sorted(got - want)[:5]
        detail = [f"{label}: kernel passed {len(want)}, sluice {len(got)}",
                  f"kernel only: {only_k}", f"sluice only: {only_s}"]
        for i in only_k + only_s:
            detail.append(f"#{i}: {Ether(frames[i]).summary()}")
        detail.append(nft_ruleset(rules, default)[:3000])
        pytest.fail("\n".join(detail))
    return want


def test_stateless_rule_sets_agree_with_nftables(router, tmp_path):
    rng = random.Random(SEED)
    passed_total = 0
    for s in range(N_SETS):
        rules = [rand_rule(rng, with_ct=False) for _ in range(rng.randrange(1, 201))]
        default = rng.choice(["accept", "drop"])
        frames = [rand_packet(rng, i, router.a_in_mac) for i in range(N_PACKETS)]
        passed_total += len(compare(router, tmp_path, rules, default, frames, f"set {s}"))
    # the sets must exercise both verdicts
    assert 0 < passed_total < N_SETS * N_PACKETS


def test_stateful_rule_sets_agree_with_nftables(router, tmp_path):
    rng = random.Random(SEED + 1)
    n_sets = max(5, N_SETS // 5)
    for s in range(n_sets):
        rules = [rand_rule(rng, with_ct=True) for _ in range(rng.randrange(1, 60))]
        # the classic stateful shape first, sometimes
        if rng.random() < 0.5:
            rules.insert(0, {"action": "accept", "ct": ["established"]})
        default = rng.choice(["accept", "drop"])
        frames = []
        while len(frames) < N_PACKETS // 2:
            frames += flow_packets(rng, len(frames), router.a_in_mac)
        compare(router, tmp_path, rules, default, frames, f"stateful set {s}")


def test_reply_is_allowed_only_after_the_request(router, tmp_path):
    rules = [{"action": "accept", "ct": ["established"]},
             {"action": "accept", "src": "10.0.0.0/16", "ct": ["new"]}]
    mac = router.a_in_mac
    eth = Ether(src="02:00:00:00:aa:01", dst=mac)
    frames = [
        # reply first: no flow yet, from outside 10.0/16: dropped
        bytes(eth / IP(src="10.1.0.5", dst="10.0.0.5") / UDP(sport=53, dport=4000) / Raw(tag(0))),
        # request from inside: new, allowed
        bytes(eth / IP(src="10.0.0.5", dst="10.1.0.5") / UDP(sport=4000, dport=53) / Raw(tag(1))),
        # the same reply now: established, allowed
        bytes(eth / IP(src="10.1.0.5", dst="10.0.0.5") / UDP(sport=53, dport=4000) / Raw(tag(2))),
    ]
    # both agree (compare), and it is the request and the later reply
    assert compare(router, tmp_path, rules, "drop", frames, "reply after request") == {1, 2}
