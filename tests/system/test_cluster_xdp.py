# SPDX-License-Identifier: BSD-3-Clause
"""Cluster groups on the XDP backend (docs/cluster.md, docs/sluiced.md "The
XDP backend"): a sluiced with --backend xdp runs the policy derived from
the live members, as the DPDK dataplane does, and again when they change.

    S (10.93.0.2) -- L (10.93.0.1 | 10.93.1.1) -- R (10.93.1.2, 10.93.1.3)
                     L (10.93.9.2) -- root (10.93.9.1: etcd)

etcd (Debian's etcd-server) runs in the root namespace, on loopback and on
a veth to L.  Three sluiced join it: "gw" in L with --backend xdp on L's
two veths and no --underlay (it is a member but no group's target), and
"m1", "m2" in the root namespace with the DPDK backend and no dataplane,
whose --underlay addresses 10.93.1.2 and 10.93.1.3 are R's.  The policy
steers UDP to port 7001 into the cluster group "peers" of VXLAN members
(VNI 42).  S sends flows with scapy; the oracles are a capture in R
(tcpdump, decoded by scapy) and etcd's member keys.  The test proves:

- with m1 and m2 alive, every flow reaches R VXLAN-encapsulated (VNI 42,
  from 10.93.1.1) to a live member's underlay, each flow to one member
  every time, the flows spread over both, each to the member the DPDK
  path picks (the Maglev table sluice-cluster-tables derives with
  sluiced's code, and the flow hash); gw's /v1/stats counts them as
  `encapsulated`; gw's cluster tables digest is the DPDK nodes';
- once m2 is killed (its lease expires: etcd and gw's /v1/members say so),
  no frame goes to 10.93.1.3 and its flows moved to m1;
- once m2 is back, the flows spread over both again;
- on the XDP node, steer and replicate to the cluster group are accepted
  and applied (judged derived: the members' tunnels).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from sluiced_util import Client, Sluiced
from test_cluster import ETCD, TTL, Etcd, derive, members, status, tables_tool, wait_for
from test_xdp_route import PY, sh
from test_xdp_steer import flow_hash, udp4_key

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root"),
    pytest.mark.skipif(not os.access(ETCD, os.X_OK), reason="needs etcd (Debian: etcd-server)"),
]

SEED = 0x5EED0C1A55E7
SRC, VIP, PORT, VNI = "10.93.0.2", "10.93.5.100", 7001, 42
L_UNDER, M1, M2 = "10.93.1.1", "10.93.1.2", "10.93.1.3"
ETCD_HOST, L_ETCD = "10.93.9.1", "10.93.9.2"
FLOWS = 64
TABLE = 257      # the group's Maglev table size
M64 = (1 << 64) - 1
PREFIX = "/sluice/members/"

# One JSON object per VXLAN frame of a capture: outer addresses, VNI, the
# inner UDP source port (the flow).
DECODE = r"""
import json, sys
from scapy.all import rdpcap, IP, UDP
from scapy.layers.vxlan import VXLAN
out = []
for p in rdpcap(sys.argv[1]):
    if IP in p and UDP in p and VXLAN in p and p[UDP].dport == 4789:
        inner = p[VXLAN].payload
        if IP in inner and UDP in inner:
            out.append({"src": p[IP].src, "dst": p[IP].dst, "vni": p[VXLAN].vni,
                        "flow": inner[UDP].sport, "dport": inner[UDP].dport})
print(json.dumps(out))
"""


class LabEtcd(Etcd):
    """One etcd member that also listens on the veth to L."""

    def __init__(self):
        super().__init__(1)

    @property
    def lab_endpoint(self):
        return f"http://{ETCD_HOST}:{self.client[0]}"

    def argv(self, i):
        a = super().argv(i)
        k = a.index("--listen-client-urls")
        a[k + 1] = f"{self.endpoints[i]},{self.lab_endpoint}"
        return a

    def member_ids(self):
        """The member keys etcd holds: ids, sorted."""
        end = PREFIX[:-1] + chr(ord(PREFIX[-1]) + 1)
        r = self.call(0, "/v3/kv/range", {"key": base64.b64encode(PREFIX.encode()).decode(),
                                          "range_end": base64.b64encode(end.encode()).decode()})
        return sorted(base64.b64decode(kv["key"]).decode()[len(PREFIX):]
                      for kv in r.get("kvs", []))


class Lab:
    """S - L - R and root - L, named after the test's pid."""

    def __init__(self):
        self.tag = f"sxc{os.getpid():x}"
        self.ns = {h: self.tag + h for h in "SLR"}
        self.s, self.ls = self.tag + "s", self.tag + "ls"
        self.lr, self.r = self.tag + "lr", self.tag + "r"
        self.ce, self.lc = self.tag + "ce", self.tag + "lc"
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
        sh("ip", "link", "add", self.ce, "type", "veth", "peer", "name", self.lc)
        sh("ip", "link", "set", self.lc, "netns", self.ns["L"])
        for h, dev in [("S", self.s), ("L", self.ls), ("L", self.lr), ("R", self.r)]:
            self.run(h, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
            sh("ip", "-n", self.ns[h], "link", "set", dev, "up")
        sh("ip", "-n", self.ns["S"], "addr", "add", SRC + "/24", "dev", self.s)
        sh("ip", "-n", self.ns["L"], "addr", "add", "10.93.0.1/24", "dev", self.ls)
        sh("ip", "-n", self.ns["L"], "addr", "add", L_UNDER + "/24", "dev", self.lr)
        sh("ip", "-n", self.ns["R"], "addr", "add", M1 + "/24", "dev", self.r)
        sh("ip", "-n", self.ns["R"], "addr", "add", M2 + "/24", "dev", self.r)
        sh("ip", "addr", "add", ETCD_HOST + "/30", "dev", self.ce)
        sh("ip", "link", "set", self.ce, "up")
        sh("ip", "-n", self.ns["L"], "addr", "add", L_ETCD + "/30", "dev", self.lc)
        sh("ip", "-n", self.ns["L"], "link", "set", self.lc, "up")
        self.run("L", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # A veth takes redirected frames only while its peer's NAPI is on.
        self.run("R", "ethtool", "-K", self.r, "gro", "on")

    def destroy(self):
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", self.ce, check=False)
        if os.path.isdir(self.pin):
            for f in os.listdir(self.pin):
                os.unlink(os.path.join(self.pin, f))
            os.rmdir(self.pin)

    def mac(self, h, dev):
        return json.loads(self.run(h, "ip", "-j", "link", "show", dev).stdout)[0]["address"]

    def policy(self, path, ports=True):
        doc = {
            "version": 1,
            "default": "accept",
            "settings": {"flow_hash_seed": f"{SEED:#x}", "conntrack": {"enabled": False}},
            "groups": [{"name": "peers", "table_size": TABLE,
                        "cluster": {"kind": "vxlan", "vni": VNI}}],
            "rules": [{"id": "svc", "proto": "udp", "dport": PORT,
                       "action": {"steer": {"group": "peers"}}}],
        }
        if ports:
            doc["ports"] = [{"name": self.ls}, {"name": self.lr}]
        with open(path, "w") as f:
            json.dump(doc, f)
        return doc

    def send_flows(self, n, times=2):
        """n UDP flows (source ports 30000..) from S to the service, each
        frame sent `times` times, in order."""
        self.run("S", PY, "-c", (
            "from scapy.all import conf, sendp, Ether, IP, UDP\n"
            "conf.verb = 0\n"
            f"fs = [Ether(src={self.mac('S', self.s)!r}, dst={self.mac('L', self.ls)!r}) / "
            f"IP(src={SRC!r}, dst={VIP!r}) / UDP(sport=30000 + i, dport={PORT}) / "
            f"bytes(range(32)) for i in range({n})]\n"
            f"sendp(fs * {times}, iface={self.s!r}, inter=0.002)\n"))

    def capture(self, path):
        """tcpdump in R, listening (immediate mode: see test_xdp_tunnel)."""
        p = subprocess.Popen(self.nsx("R", "tcpdump", "-n", "-U", "--immediate-mode",
                                      "-i", self.r, "-w", path, "udp port 4789"),
                             stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        assert "listening" in line, line
        return p

    def flows_seen(self, tmp, n):
        """Send n flows twice with a capture in R: the decoded frames."""
        path = os.path.join(tmp, f"cap-{time.monotonic_ns()}.pcap")
        cap = self.capture(path)
        try:
            self.send_flows(n)
            time.sleep(0.5)
        finally:
            cap.send_signal(signal.SIGINT)
            cap.wait(10)
        return json.loads(sh(PY, "-c", DECODE, path).stdout)


class GwSluiced(Sluiced):
    """sluiced in L's namespace (nsenter execs it: pid is sluiced's)."""

    def __init__(self, lab, config, etcd):
        super().__init__(config=config, args=[
            "--backend", "xdp", "--xdp-dev", f"{lab.ls},{lab.lr}",
            "--xdp-pin-root", lab.pin, "--etcd", etcd.lab_endpoint,
            "--node-id", "gw", "--lease-ttl", str(TTL)])
        self.lab = lab

    @property
    def argv(self):
        return self.lab.nsx("L", *super().argv)


def member_node(name, underlay, config, etcd):
    return Sluiced(config=config, args=[
        "--etcd", etcd.endpoints[0], "--node-id", name, "--underlay", underlay,
        "--lease-ttl", str(TTL)]).start()


def owners(frames):
    """{flow: set of outer destinations}, checking each frame's tunnel."""
    seen = {}
    for f in frames:
        assert f["src"] == L_UNDER and f["vni"] == VNI and f["dport"] == PORT, f
        seen.setdefault(f["flow"], set()).add(f["dst"])
    return seen


def splitmix64(s):
    """bench/cluster_tables.c's splitmix64: (next state, value)."""
    s = (s + 0x9E3779B97F4A7C15) & M64
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return s, z ^ (z >> 31)


def dpdk_picks(policy_path, member_list):
    """{flow: underlay} for the test's flows as the DPDK path picks them:
    the Maglev table sluice-cluster-tables derives with sluiced's code
    (read back entry by entry through the owners of its pseudo-random
    flow hashes), indexed by the flow hash of each flow's key."""
    n = 8000
    got = derive(policy_path, member_list, n)["peers"]
    table, s = [None] * TABLE, 1
    for owner in got["owners"]:
        s, h = splitmix64(s)
        table[h % TABLE] = owner
    assert None not in table, "not every table entry read back"
    return {sp: got["targets"][table[flow_hash(udp4_key(SRC, sp, VIP, PORT), SEED) % TABLE]]
            for sp in range(30000, 30000 + FLOWS)}


def xdp_status(sd):
    return status(sd)["xdp"]


def encapsulated(sd):
    r = Client(unix=sd.api_sock, timeout=5)
    try:
        s = r.get("/v1/stats")
        assert s.status == 200, s
        return s.json["xdp"]["steer"]["encapsulated"]
    finally:
        r.close()


@pytest.fixture
def setup(request):
    lab = Lab()
    lab.destroy()
    tmp = tempfile.mkdtemp(prefix="sxc-", dir="/tmp")
    etcd = LabEtcd()
    nodes = {}
    try:
        lab.create()
        lab.policy(os.path.join(tmp, "gw.json"))
        lab.policy(os.path.join(tmp, "member.json"), ports=False)
        etcd.start_all()
        yield lab, etcd, nodes, tmp
    finally:
        rep = getattr(request.node, "rep_call", None)
        failed = rep is not None and rep.failed
        for name, sd in nodes.items():
            if sd.running():
                sd.proc.kill()
                sd.proc.wait()
            sd._close_log()
            if failed:
                print(f"--- {name}: {' '.join(sd.argv)}\n{sd.output[-4000:]}")
            sd.remove()
        if failed:
            print(etcd.logs())
        etcd.remove()
        lab.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


def test_xdp_node_steers_cluster_group_flows_to_live_members_only(setup):
    lab, etcd, nodes, tmp = setup
    if not os.access(tables_tool(), os.X_OK):
        pytest.fail(f"{tables_tool()} not built (ninja -C BUILD sluice-cluster-tables)",
                    pytrace=False)
    member_cfg = os.path.join(tmp, "member.json")
    nodes["m1"] = member_node("m1", M1, member_cfg, etcd)
    nodes["m2"] = member_node("m2", M2, member_cfg, etcd)
    nodes["gw"] = gw = GwSluiced(lab, os.path.join(tmp, "gw.json"), etcd).start(timeout=30)
    want = ["gw", "m1", "m2"]
    wait_for("3 members in etcd and on gw",
             lambda: etcd.member_ids() == want and [m["id"] for m in members(gw)] == want, 10)
    # gw runs the tables the DPDK nodes derive (the same code, the same set).
    digests = wait_for("one tables digest", lambda: (lambda ds: ds if len(ds) == 1 else None)(
        {status(sd)["cluster"]["tables_digest"] for sd in nodes.values()}), 5)
    assert None not in digests
    st = status(gw)["cluster"]
    assert st["tables"][0]["group"] == "peers" and st["tables"][0]["targets"] == 2, st
    xs = xdp_status(gw)
    assert xs["last_error"] is None and xs["policy_digest"], xs

    # L's kernel resolves both underlay neighbours (XDP does not ARP).
    for addr in (M1, M2):
        lab.run("L", "ping", "-c", "1", "-W", "2", addr)

    # 1. Two members: each flow to one live member, both used.
    e0 = encapsulated(gw)
    frames = lab.flows_seen(tmp, FLOWS)
    seen = owners(frames)
    assert len(frames) == 2 * FLOWS and len(seen) == FLOWS, (len(frames), len(seen))
    assert all(len(dsts) == 1 for dsts in seen.values()), seen
    by = {f: dsts.pop() for f, dsts in seen.items()}
    assert set(by.values()) == {M1, M2}, by
    # ... and each to the member the DPDK path's table picks.
    member_cfg_picks = dpdk_picks(member_cfg, members(gw))
    assert by == member_cfg_picks, {f: (by[f], member_cfg_picks[f]) for f in by
                                    if by[f] != member_cfg_picks[f]}
    assert encapsulated(gw) - e0 == 2 * FLOWS
    print(f"two members: {sum(v == M1 for v in by.values())} flows to m1, "
          f"{sum(v == M2 for v in by.values())} to m2")

    # 2. m2 dies: its lease expires, gw re-derives and switches its maps.
    digest = xs["policy_digest"]    # of the set {gw, m1, m2}
    nodes["m2"].proc.send_signal(signal.SIGKILL)
    nodes["m2"].proc.wait()
    t0 = time.monotonic()
    wait_for("m2 gone from etcd and gw",
             lambda: etcd.member_ids() == ["gw", "m1"]
             and [m["id"] for m in members(gw)] == ["gw", "m1"], TTL + 3)
    wait_for("gw applied the new set", lambda: xdp_status(gw)["policy_digest"] != digest, 2)
    print(f"m2 dropped and applied after {time.monotonic() - t0:.2f} s (TTL {TTL} s)")
    assert xdp_status(gw)["last_error"] is None
    after = owners(lab.flows_seen(tmp, FLOWS))
    assert len(after) == FLOWS and all(d == {M1} for d in after.values()), after

    # 3. m2 is back: the flows spread over both again.
    nodes["m2"] = member_node("m2", M2, member_cfg, etcd)
    wait_for("m2 back on gw", lambda: [m["id"] for m in members(gw)] == want, 5)
    # The set of 1 again: the effective policy of 1 again.
    wait_for("gw applied it", lambda: xdp_status(gw)["policy_digest"] == digest, 2)
    back = owners(lab.flows_seen(tmp, FLOWS))
    assert {d for v in back.values() for d in v} == {M1, M2}
    # Maglev with the same set: the same picks as in 1.
    assert {f: v.pop() for f, v in back.items()} == by


def test_xdp_node_judges_the_derived_policy_and_applies_steer_and_replicate(setup):
    lab, etcd, nodes, tmp = setup
    nodes["m1"] = member_node("m1", M1, os.path.join(tmp, "member.json"), etcd)
    nodes["gw"] = gw = GwSluiced(lab, os.path.join(tmp, "gw.json"), etcd).start(timeout=30)
    wait_for("m1 on gw", lambda: [m["id"] for m in members(gw)] == ["gw", "m1"], 10)
    c = gw.client()
    doc = c.get("/v1/config").json
    # Steer to the cluster group on another port: accepted and applied.
    doc["rules"][0]["dport"] = PORT + 1
    r = c.put("/v1/config", doc)
    assert r.status == 200, r
    xs = xdp_status(gw)
    assert xs["last_error"] is None and xs["policy_generation"] == doc["generation"] + 1, xs
    # Replicate to it: copies to the members' VXLAN tunnels, which the XDP
    # backend makes too (sluice_tc_rep): accepted and applied.
    doc = c.get("/v1/config").json
    doc["rules"][0]["action"] = {"replicate": {"group": "peers", "copies": 1}}
    r = c.put("/v1/config", doc)
    assert r.status == 200, r
    xs = xdp_status(gw)
    assert xs["last_error"] is None and xs["policy_generation"] == doc["generation"] + 1, xs
