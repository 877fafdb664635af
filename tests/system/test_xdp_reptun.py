# SPDX-License-Identifier: BSD-3-Clause
"""Replicate to tunnel targets in XDP: sluice_tc_rep encapsulates each
copy for a remote node while the kernel routes the original.

    S (10.92.0.2) -- L (10.92.0.1 | 10.92.1.1, fd92:1::1) -- R (10.92.1.2, fd92:1::2)
                     |-- M (monitor, no address)

L has forwarding on and runs sluice-xdp on its three veths.  Its policy replicates UDP to port 7000 with copies 3 to a group
of three targets: the port toward M, VXLAN over IPv4 to R (VNI 4242,
local 10.92.1.1) and GENEVE over IPv6 to R (VNI 77, no `local`: the
source is the one L's kernel picks, fd92:1::1).  With copies equal to the
live targets, every packet goes to all three, whatever its flow hash.  S
sends UDP frames of many lengths (0 to 1,300 bytes of payload, so the
IPv6 UDP checksum crosses its 512-byte chunks) to R's address.  The
oracles are tcpdump captures in R and M decoded by scapy, which nobody
here wrote:

- while L's kernel knows no MAC of R, a frame's two tunnel copies are
  counted `no_neigh` and `failed`, its port copy goes, and nothing
  tunnelled reaches R;
- once L has resolved R (a ping each way), each frame reaches R three
  times: as the original, routed by L's kernel (the IP packet S sent
  with TTL 63, its payload byte for byte), and as one copy per tunnel:
  from L's MAC to R's, with the tunnel's outer addresses and VNI, UDP
  destination port 4789 or 6081 and a source port in 49152-65535; outer
  IPv4 with DF, TTL 64 and a valid header checksum, outer IPv6 with hop
  limit 64, a non-zero flow label and a valid UDP checksum; the inner
  frame byte for byte the frame S sent (Ethernet header included);
- M gets each frame once, byte for byte as S sent it;
- a VLAN-tagged frame (the kernel keeps the tag out of the data at TC
  ingress) has its tag in each tunnel copy's inner frame, byte for byte
  as S sent it;
- the counters are exact: copies 3 per frame, nothing failed, stale or
  short, no tunnel reason, every frame `replicated`;
- with L's MTU toward R at 1,400, a frame of 1,392 bytes (its outer
  packets 1,428 and 1,448 bytes) gets its port copy, and its tunnel
  copies are counted `too_big` and `failed`;
- all of it with sluice-xdp in native and, in a second run, generic mode.

Environment: SLUICE_BUILD names the build directory holding sluice-xdp
(default: build-xdp, then build).  Namespaces, veths and pins are the
test's own and removed after it.
"""
import json
import os
import random
import subprocess
import time

import pytest

from test_xdp_route import PY, sh, stop
from test_xdp_tunnel import DECODE, L4, L6, R4, R6, SRC, Lab

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")

SEED = 0x5EEDC0FFEE123457
PORT, FRAMES = 7000, 60
TARGETS = [
    {"kind": "vxlan", "vni": 4242, "remote": R4, "local": L4},
    {"kind": "geneve", "vni": 77, "remote": R6},
]
# what R must see of each tunnel copy: (kind, outer source, destination,
# VNI, UDP destination port)
WANT = [("vxlan", L4, R4, 4242, 4789), ("geneve", L6, R6, 77, 6081)]
REP_REASONS = ["copies", "short", "failed", "stale", "no_route", "no_neigh",
               "too_big", "encap_failed"]

# The frames in a capture that are not tunnelled: UDP to PORT, the IP
# packet as hex, with the sender's MAC.
PLAIN = r"""
import json, sys
from scapy.all import rdpcap, raw, Ether, IP, UDP
out = []
for p in rdpcap(sys.argv[1]):
    if IP in p and UDP in p and p[UDP].dport == %d and p[Ether].type == 0x800:
        out.append({"eth_src": p[Ether].src, "frame": raw(p).hex(),
                    "ip": raw(p[IP]).hex()})
print(json.dumps(out))
""" % PORT


class RepLab(Lab):
    """test_xdp_tunnel.py's S - L - R, and a monitor M on L."""

    def __init__(self):
        super().__init__()
        self.tag = f"slr{os.getpid():x}"
        self.ns = {h: self.tag + h for h in "SLRM"}
        self.s, self.ls = self.tag + "s", self.tag + "ls"
        self.lr, self.r = self.tag + "lr", self.tag + "r"
        self.lm, self.m = self.tag + "lm", self.tag + "m"
        self.pin = f"/sys/fs/bpf/sluice-test-{self.tag}"

    def create(self):
        super().create()
        sh("ip", "link", "add", self.lm, "type", "veth", "peer", "name", self.m)
        sh("ip", "link", "set", self.lm, "netns", self.ns["L"])
        sh("ip", "link", "set", self.m, "netns", self.ns["M"])
        self.run("M", "sysctl", "-qw", f"net.ipv6.conf.{self.m}.disable_ipv6=1")
        self.run("L", "sysctl", "-qw", f"net.ipv6.conf.{self.lm}.disable_ipv6=1")
        sh("ip", "-n", self.ns["L"], "link", "set", self.lm, "up")
        sh("ip", "-n", self.ns["M"], "link", "set", self.m, "up")
        self.run("M", "ethtool", "-K", self.m, "gro", "on")

    def rep_policy(self, path):
        path.write_text(json.dumps({
            "version": 1,
            "default": "accept",
            "settings": {"flow_hash_seed": f"{SEED:#x}",
                         "conntrack": {"enabled": False}},
            "ports": [{"name": self.ls}, {"name": self.lr}, {"name": self.lm}],
            "rules": [{"id": "rep", "proto": "udp", "dport": PORT,
                       "action": {"replicate": {"group": "g", "copies": 3}}}],
            "groups": [{"name": "g", "targets":
                        [{"kind": "port", "port": self.lm}] + TARGETS}],
        }))
        return str(path)

    def capture_on(self, h, dev, path):
        p = subprocess.Popen(
            self.nsx(h, "tcpdump", "-n", "-U", "--immediate-mode", "-i", dev,
                     "-w", path, "ip or ip6"),
            stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        assert "listening" in line, line
        return p


def frames(lab, n, rng, vlan=None):
    """n UDP frames from S to R's address, each of another flow, payloads
    of many lengths, with a VLAN tag if `vlan`; as bytes."""
    tag = f"Dot1Q(vlan={vlan}) / " if vlan is not None else ""
    code = (
        "import json\n"
        "from scapy.all import Dot1Q, Ether, IP, UDP, raw\n"
        "out = []\n"
        f"for sport, n in {[(21000 + i, rng.randrange(0, 1300)) for i in range(n)]!r}:\n"
        f"    f = Ether(src={lab.mac('S', lab.s)!r}, dst={lab.mac('L', lab.ls)!r}) / {tag}"
        f"IP(src={SRC!r}, dst={R4!r}) / UDP(sport=sport, dport={PORT}) / "
        "bytes((sport + i) % 256 for i in range(n))\n"
        "    out.append(raw(f).hex())\n"
        "print(json.dumps(out))\n")
    return [bytes.fromhex(h) for h in json.loads(sh(PY, "-c", code).stdout)]


def routed(ip_hexes):
    """The IP packets S sent, as L's kernel forwards them: TTL 63, header
    checksum updated (scapy recomputes it)."""
    code = (
        "import json, sys\n"
        "from scapy.all import IP, raw\n"
        "out = []\n"
        "for h in json.loads(sys.argv[1]):\n"
        "    p = IP(bytes.fromhex(h)); p.ttl -= 1; del p.chksum\n"
        "    out.append(raw(IP(raw(p))).hex())\n"
        "print(json.dumps(out))\n")
    return json.loads(sh(PY, "-c", code, json.dumps(ip_hexes)).stdout)


@pytest.fixture
def lab():
    lb = RepLab()
    lb.destroy()
    lb.create()
    try:
        yield lb
    finally:
        for dev in [lb.ls, lb.lr, lb.lm]:
            lb.xdp("detach", "--dev", dev, check=False)
        lb.destroy()


def rep(s, why):
    return s["replicate"][why]["packets"]


@pytest.mark.parametrize("mode", ["native", "generic"])
def test_replicate_encapsulates_copies_for_tunnel_targets_as_scapy_decodes_them(lab, tmp_path, mode):
    pol = lab.rep_policy(tmp_path / "reptun.json")
    for dev in [lab.ls, lab.lr, lab.lm]:
        r = lab.xdp("attach", "--dev", dev, "--policy", pol,
                    *(["--generic"] if mode == "generic" else []))
        assert f"{mode} mode" in r.stdout, r.stdout + r.stderr
    rng = random.Random(SEED)

    # 1. L's kernel knows no MAC of R: the tunnel copies cannot go.
    lab.run("L", "ip", "neigh", "flush", "dev", lab.lr)
    s0 = lab.stats()
    lab.send(frames(lab, 1, rng))
    time.sleep(0.3)
    s1 = lab.stats()
    d = {w: rep(s1, w) - rep(s0, w) for w in REP_REASONS}
    assert d == {"copies": 1, "short": 0, "failed": 2, "stale": 0,
                 "no_route": 0, "no_neigh": 2, "too_big": 0,
                 "encap_failed": 0}, json.dumps(s1["replicate"])

    # 2. Once L has resolved R both ways, every copy goes.
    lab.run("L", "ping", "-c", "1", "-W", "2", R4)
    lab.run("L", "ping", "-6", "-c", "1", "-W", "2", R6)
    sent = frames(lab, FRAMES, rng)
    cap_r, cap_m = str(tmp_path / "r.pcap"), str(tmp_path / "m.pcap")
    t_r = lab.capture_on("R", lab.r, cap_r)
    t_m = lab.capture_on("M", lab.m, cap_m)
    try:
        s1 = lab.stats()
        lab.send(sent)
        time.sleep(0.5)
    finally:
        stop(t_r)
        stop(t_m)
    s2 = lab.stats()
    l_mac, r_mac = lab.mac("L", lab.lr), lab.mac("R", lab.r)
    sent_hex = sorted(f.hex() for f in sent)

    # the tunnel copies at R
    got = [x for x in json.loads(sh(PY, "-c", DECODE, cap_r).stdout)
           if x["eth_src"] == l_mac]
    for kind, src, dst, vni, dport in WANT:
        mine = [x for x in got if x["kind"] == kind and x["src"] == src
                and x["dst"] == dst and x["id"] == vni]
        assert sorted(x["inner"] for x in mine) == sent_hex, \
            f"{kind}: {len(mine)} copies at R, {FRAMES} sent"
        for x in mine:
            assert (x["eth_src"], x["eth_dst"]) == (l_mac, r_mac), x
            assert x["ttl"] == 64 and x["len_ok"], x
            assert x["dport"] == dport and x["udp_len_ok"], x
            assert 49152 <= x["sport"] <= 65535, x
            if x["fam"] == 4:
                assert x["df"] and x["ip_ok"] and x["udp_ck"] == 0, x
            else:
                assert x["fl"] != 0 and x["udp_ok"], x
            if kind == "vxlan":
                assert x["flags"] == 0x08, x	# I: the VNI is valid
            else:
                assert x["flags"] == 0x6558, x	# transparent Ethernet bridging
        print(f"{kind}: {len(mine)} copies decoded at R, {src} -> {dst}, "
              f"VNI {vni}, inner frames identical")
    assert len(got) == 2 * FRAMES, f"{len(got)} tunnelled frames at R"

    # the originals at R, routed by L's kernel
    plain = [x for x in json.loads(sh(PY, "-c", PLAIN, cap_r).stdout)
             if x["eth_src"] == l_mac]
    want_ip = sorted(routed([h[28:] for h in sent_hex]))
    assert sorted(x["ip"] for x in plain) == want_ip, \
        f"{len(plain)} originals at R, {FRAMES} sent"

    # the port copies at M
    at_m = json.loads(sh(PY, "-c", PLAIN, cap_m).stdout)
    assert sorted(x["frame"] for x in at_m) == sent_hex, \
        f"{len(at_m)} copies at M, {FRAMES} sent"

    d = {w: rep(s2, w) - rep(s1, w) for w in REP_REASONS}
    assert d == {"copies": 3 * FRAMES, "short": 0, "failed": 0, "stale": 0,
                 "no_route": 0, "no_neigh": 0, "too_big": 0,
                 "encap_failed": 0}, json.dumps(s2["replicate"])
    assert s2["route"]["replicated"]["packets"] \
        - s1["route"]["replicated"]["packets"] == FRAMES

    # 3. A VLAN-tagged frame: the kernel keeps the tag out of the data at
    # TC ingress; each tunnel copy's inner frame has it back, byte for
    # byte as S sent it.  (L's kernel drops the original: no VLAN device.)
    tagged = frames(lab, 10, rng, vlan=5)
    cap_t = str(tmp_path / "t.pcap")
    t_r = lab.capture_on("R", lab.r, cap_t)
    try:
        s2 = lab.stats()
        lab.send(tagged)
        time.sleep(0.5)
    finally:
        stop(t_r)
    s3 = lab.stats()
    got = [x for x in json.loads(sh(PY, "-c", DECODE, cap_t).stdout)
           if x["eth_src"] == l_mac]
    for kind, src, dst, vni, dport in WANT:
        mine = [x for x in got if x["kind"] == kind and x["dst"] == dst]
        assert sorted(x["inner"] for x in mine) == sorted(f.hex() for f in tagged), \
            f"{kind}: {len(mine)} tagged copies at R, {len(tagged)} sent"
        assert all(x["len_ok"] and x.get("udp_ok", True) is not False for x in mine)
    d = {w: rep(s3, w) - rep(s2, w) for w in REP_REASONS}
    assert d == {"copies": 3 * len(tagged), "short": 0, "failed": 0,
                 "stale": 0, "no_route": 0, "no_neigh": 0, "too_big": 0,
                 "encap_failed": 0}, json.dumps(s3["replicate"])
    s2 = s3

    # 4. An outer packet above the egress MTU: too_big (DF is set, as in
    # the DPDK path); the port copy goes.
    lab.run("L", "ip", "link", "set", lab.lr, "mtu", "1400")
    big = frames(lab, 2, random.Random(1))
    big = [f[:34] + f[34:42] + bytes(1350) for f in big]
    big = json.loads(sh(PY, "-c", (
        "import json, sys\n"
        "from scapy.all import Ether, IP, UDP, raw\n"
        "out = []\n"
        "for h in json.loads(sys.argv[1]):\n"
        "    p = Ether(bytes.fromhex(h)); del p[IP].len; del p[IP].chksum\n"
        "    del p[UDP].len; del p[UDP].chksum\n"
        "    out.append(raw(Ether(raw(p))).hex())\n"
        "print(json.dumps(out))\n"), json.dumps([f.hex() for f in big])).stdout)
    lab.send([bytes.fromhex(h) for h in big])
    time.sleep(0.3)
    s3 = lab.stats()
    d = {w: rep(s3, w) - rep(s2, w) for w in REP_REASONS}
    assert d == {"copies": 2, "short": 0, "failed": 4, "stale": 0,
                 "no_route": 0, "no_neigh": 0, "too_big": 4,
                 "encap_failed": 0}, json.dumps(s3["replicate"])
