# SPDX-License-Identifier: BSD-3-Clause
"""Replicate in XDP: sluice-xdp on a router namespace sends each flow's
copies to two of three monitors while the kernel routes the original.

    A (10.83.1.2) -- R -- B (10.83.2.2)
                     |-- M1, M2, M3 (monitors, no address)

R has forwarding on and `sluice-xdp attach --route fib` on its five veths
(ra, rb toward the hosts, rm1..rm3 toward the monitors), in native mode
and, in a second run, in generic mode: both must hand the XDP metadata on
to the skb for the TC program.  The policy replicates UDP to port 7000
with copies 2 to the group rm1, rm2, rm3 (weights 1, 2, 1; 257 entries).
A sends one datagram from each of 120 source ports.  The oracles:

- the kernel FIB: every original reaches B, routed by R's kernel (its
  ForwDatagrams grows by them; XDP cannot redirect a packet it hands to
  TC), and the program counts them `replicated`;
- the group's Maglev table read back from the pinned sl_mag (a steer rule
  to the same group, which no packet meets, makes the program hold it),
  with the flow hash written out in Python (test_xdp_steer.py) and
  sl_maglev_pick's walk written out below: each flow's copies reach
  exactly the two monitors it names, and the pinned replica table says
  the same;
- A's own capture: every copy is byte for byte the frame A sent;
- the counters: copies = 2 per flow, nothing short, failed or stale;
  after `update` with rm2 and rm3 down, one copy per flow, all counted
  short; with rm3's interface deleted, its copies are counted failed and
  the others still go;
- the TC filter stays after the tool exits, a later `attach` adopts it
  (same program id), and `detach` removes it with the clsact qdisc.

Environment: SLUICE_BUILD names the build directory holding sluice-xdp
(default: build-xdp, then build).  Namespaces, veths and pins are the
test's own and removed after it.
"""
import json
import os
import subprocess

import pytest

from test_xdp_route import PY, sh, tool
from test_xdp_steer import flow_hash, udp4_key

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")

SEED = 0x0123456789ABCDEF
IP_A, IP_B, PORT, FLOWS, SIZE, COPIES = "10.83.1.2", "10.83.2.2", 7000, 120, 257, 2

# A sniffer on one interface: every IPv4 UDP frame to PORT, as hex, until
# 1.5 s pass without one.  `outgoing`: only frames the host sends.
SNIFF = (
    "import socket,json,sys\n"
    "dev,outgoing=sys.argv[1],sys.argv[2]=='1'\n"
    "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\n"
    "s.bind((dev,0)); s.settimeout(1.5); print('ready',flush=True)\n"
    "got=[]\n"
    "try:\n"
    "    while True:\n"
    "        f,a=s.recvfrom(65535)\n"
    "        if outgoing and a[2]!=socket.PACKET_OUTGOING: continue\n"
    f"        if len(f)>=42 and f[12:14]==b'\\x08\\x00' and f[23]==17 and int.from_bytes(f[36:38],'big')=={PORT}:\n"
    "            got.append(f.hex())\n"
    "except socket.timeout: pass\n"
    "print(json.dumps(got))\n")

RECV = (
    "import socket,json\n"
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
    f"s.bind(('',{PORT})); s.settimeout(1.5); print('ready',flush=True)\n"
    "got=[]\n"
    "try:\n"
    "    while True: got.append(s.recvfrom(2048)[1][1])\n"
    "except socket.timeout: pass\n"
    "print(json.dumps(got))\n")


def maglev_pick(table, n_live, h, copies):
    """sl_maglev_pick (include/sluice/maglev.h), written out."""
    want = min(copies, n_live)
    if want == 0:
        return []
    pos = h % len(table)
    out = [table[pos]]
    for _ in range(len(table) - 1):
        if len(out) == want:
            break
        pos = (pos + 1) % len(table)
        if table[pos] not in out:
            out.append(table[pos])
    return out


def sport_of(frame_hex):
    f = bytes.fromhex(frame_hex)
    return int.from_bytes(f[34:36], "big")


class Lab:
    def __init__(self):
        self.tag = f"slp{os.getpid():x}"
        self.ns = {h: self.tag + h for h in ["A", "R", "B", "M1", "M2", "M3"]}
        self.a, self.ra = self.tag + "a", self.tag + "ra"
        self.b, self.rb = self.tag + "b", self.tag + "rb"
        self.m = [self.tag + f"m{i}" for i in (1, 2, 3)]
        self.rm = [self.tag + f"rm{i}" for i in (1, 2, 3)]
        self.pin = f"/sys/fs/bpf/sluice-test-{self.tag}"

    def nsx(self, h, *argv):
        return ["nsenter", f"--net=/run/netns/{self.ns[h]}", *argv]

    def run(self, h, *argv, check=True):
        return sh(*self.nsx(h, *argv), check=check)

    def create(self):
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        pairs = [(self.a, "A", self.ra), (self.b, "B", self.rb)] + [
            (self.m[i], f"M{i + 1}", self.rm[i]) for i in range(3)]
        for end, h, rend in pairs:
            sh("ip", "link", "add", end, "type", "veth", "peer", "name", rend)
            sh("ip", "link", "set", end, "netns", self.ns[h])
            sh("ip", "link", "set", rend, "netns", self.ns["R"])
            # No IPv6: no router solicitations or MLD reports in the counts.
            for hh, dev in [(h, end), ("R", rend)]:
                self.run(hh, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
                sh("ip", "-n", self.ns[hh], "link", "set", dev, "up")
        for h, dev, addr in [("A", self.a, IP_A + "/24"), ("R", self.ra, "10.83.1.1/24"),
                             ("R", self.rb, "10.83.2.1/24"), ("B", self.b, IP_B + "/24")]:
            sh("ip", "-n", self.ns[h], "addr", "add", addr, "dev", dev)
        sh("ip", "-n", self.ns["A"], "route", "add", "default", "via", "10.83.1.1")
        sh("ip", "-n", self.ns["B"], "route", "add", "default", "via", "10.83.2.1")
        self.run("R", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Full checksums from A, so that the frame A's capture shows is
        # the frame on the wire (a veth otherwise leaves the UDP checksum
        # partial, for the receiver to trust).
        self.run("A", "ethtool", "-K", self.a, "tx", "off")

    def destroy(self):
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)
        if os.path.isdir(self.pin):
            for f in os.listdir(self.pin):
                os.unlink(os.path.join(self.pin, f))
            os.rmdir(self.pin)

    def devs(self):
        return [self.ra, self.rb] + self.rm

    def xdp(self, *args, check=True):
        return self.run("R", tool(), *args, "--pin-root", self.pin, check=check)

    def stats(self):
        return json.loads(self.xdp("stats", "--json").stdout)

    def forwarded(self):
        snmp = self.run("R", "cat", "/proc/net/snmp").stdout.splitlines()
        ip = [line.split() for line in snmp if line.startswith("Ip: ")]
        return int(ip[1][ip[0].index("ForwDatagrams")])

    def policy(self, path, states):
        path.write_text(json.dumps({
            "version": 1,
            "default": "accept",
            "settings": {"flow_hash_seed": f"{SEED:#x}",
                         "conntrack": {"enabled": False}},
            "ports": [{"name": n} for n in self.devs()],
            "rules": [
                {"id": "tap", "proto": "udp", "dport": PORT,
                 "action": {"replicate": {"group": "mon", "copies": COPIES}}},
                # no packet meets it: it makes the program hold the
                # group's Maglev table in sl_mag, the test's oracle
                {"id": "table", "proto": "udp", "dport": 7999,
                 "action": {"steer": {"group": "mon"}}}],
            "groups": [{"name": "mon", "table_size": SIZE, "targets": [
                {"kind": "port", "port": self.rm[i], "weight": w, "state": st}
                for i, (w, st) in enumerate(zip([1, 2, 1], states))]}],
        }))
        return str(path)

    # ---- the pinned maps ----

    def inner_entries(self, outer):
        """{key: value bytes} of the active set's inner map of `outer`."""
        def raw(v):
            return bytes(int(x, 16) for x in v)

        ctl = json.loads(sh("bpftool", "-j", "map", "dump", "pinned",
                            f"{self.pin}/sl_ctl").stdout)[0]
        active = ctl["formatted"]["value"]["active"] if "formatted" in ctl \
            else ctl["value"]["active"]
        r = json.loads(sh("bpftool", "-j", "map", "lookup", "pinned",
                          f"{self.pin}/{outer}", "key", str(active), "0", "0",
                          "0").stdout)
        inner = r.get("inner_map_id")
        if inner is None:
            inner = int.from_bytes(raw(r["value"]), "little")
        return {int.from_bytes(raw(e["key"]), "little"): raw(e["value"])
                for e in json.loads(sh("bpftool", "-j", "map", "dump", "id",
                                       str(inner)).stdout)}

    @staticmethod
    def flat(chunks):
        out = []
        for k in sorted(chunks):
            v = chunks[k]
            out += [int.from_bytes(v[2 * j:2 * j + 2], "little") for j in range(32)]
        return out

    def maglev(self):
        """The group's Maglev table (steered group 0) and its live count."""
        g = self.inner_entries("sl_grp")[0]
        n_live = int.from_bytes(g[8:12], "little")
        return self.flat(self.inner_entries("sl_mag"))[:SIZE], n_live

    def replica(self):
        """Replica table 0: {pos: [target]} (struct sl_xdp_rep_group)."""
        g = self.inner_entries("sl_rgrp")[0]
        chunk, size = (int.from_bytes(g[i:i + 4], "little") for i in (0, 4))
        copies, want = (int.from_bytes(g[i:i + 2], "little") for i in (12, 14))
        assert (size, copies) == (SIZE, COPIES)
        e = self.flat(self.inner_entries("sl_rtab"))[chunk * 32:]
        return {p: e[p * want:(p + 1) * want] for p in range(size)}

    # ---- traffic ----

    def send_and_capture(self, sports, monitors=(0, 1, 2)):
        """One datagram from each source port; returns (A's frames,
        [frames at M1, M2, M3] (none where not in monitors), sports B
        got)."""
        procs = {"A": subprocess.Popen(self.nsx("A", PY, "-c", SNIFF, self.a, "1"),
                                       stdout=subprocess.PIPE, text=True),
                 "B": subprocess.Popen(self.nsx("B", PY, "-c", RECV),
                                       stdout=subprocess.PIPE, text=True)}
        for i in monitors:
            procs[f"M{i + 1}"] = subprocess.Popen(
                self.nsx(f"M{i + 1}", PY, "-c", SNIFF, self.m[i], "0"),
                stdout=subprocess.PIPE, text=True)
        try:
            for p in procs.values():
                assert p.stdout.readline().strip() == "ready"
            self.run("A", PY, "-c", (
                "import socket,time\n"
                f"for sp in {list(sports)}:\n"
                "    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "    s.bind(('',sp))\n"
                f"    s.sendto(b'flow %d' % sp,('{IP_B}',{PORT})); s.close(); time.sleep(0.002)\n"))
            out = {h: json.loads(p.communicate(timeout=20)[0].split("\n")[-2])
                   for h, p in procs.items()}
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return out["A"], [out.get(f"M{i + 1}", []) for i in range(3)], out["B"]

    def tc_prog_ids(self, dev):
        """Program ids of the BPF filters on dev's ingress (bpftool)."""
        r = json.loads(self.run("R", "bpftool", "-j", "net", "show", "dev", dev).stdout)
        return [f["id"] for e in r for f in e.get("tc", []) if f.get("kind") == "clsact/ingress"]

    def has_clsact(self, dev):
        return "clsact" in self.run("R", "tc", "qdisc", "show", "dev", dev).stdout


@pytest.fixture
def lab():
    lb = Lab()
    lb.destroy()
    lb.create()
    try:
        yield lb
    finally:
        for dev in lb.devs():
            lb.xdp("detach", "--dev", dev, check=False)
        lb.destroy()


def check_copies(lab, sports, frames_a, at_m, got_b, expect):
    """Every original reached B; each flow's copies reached exactly the
    monitors expect[sport] names, byte for byte A's frame."""
    assert sorted(got_b) == sorted(sports), f"B got {len(got_b)} of {len(sports)}"
    sent = {sport_of(f): f for f in frames_a}
    assert sorted(sent) == sorted(sports)
    for i in range(3):
        want = sorted(sp for sp in sports if i in expect[sp])
        got = sorted(sport_of(f) for f in at_m[i])
        assert got == want, f"M{i + 1}: {len(got)} copies, the table says {len(want)}"
        for f in at_m[i]:
            assert f == sent[sport_of(f)], "a copy differs from the frame A sent"
    return [len(at_m[i]) for i in range(3)]


@pytest.mark.parametrize("mode", ["native", "generic"])
def test_replicate_sends_each_flow_to_the_monitors_the_maglev_table_names(lab, tmp_path, mode):
    pol = lab.policy(tmp_path / "p1.json", ["up", "up", "up"])
    for dev in lab.devs():
        r = lab.xdp("attach", "--dev", dev, "--policy", pol, "--route", "fib",
                    *(["--generic"] if mode == "generic" else []))
        assert f"{mode} mode" in r.stdout, r.stdout + r.stderr
    # the TC filter outlives the tool; an attach again adopts it
    ids = {dev: lab.tc_prog_ids(dev) for dev in lab.devs()}
    assert all(len(v) == 1 for v in ids.values()), ids
    lab.xdp("attach", "--dev", lab.ra, "--policy", pol)
    assert lab.tc_prog_ids(lab.ra) == ids[lab.ra]

    table, n_live = lab.maglev()
    assert n_live == 3 and sorted(set(table)) == [0, 1, 2]
    replica = lab.replica()
    sports = range(30000, 30000 + FLOWS)
    expect = {}
    for sp in sports:
        h = flow_hash(udp4_key(IP_A, sp, IP_B, PORT), SEED)
        picks = maglev_pick(table, n_live, h, COPIES)
        assert replica[h % SIZE] == picks      # the pinned replica table
        expect[sp] = set(picks)

    s0, fwd0 = lab.stats(), lab.forwarded()
    frames_a, at_m, got_b = lab.send_and_capture(sports)
    per_m = check_copies(lab, sports, frames_a, at_m, got_b, expect)
    print(f"{mode}: copies per monitor (M1, M2, M3): {per_m}")
    assert all(n > 0 for n in per_m)
    s1 = lab.stats()

    def delta(sec, name):
        return s1[sec][name]["packets"] - s0[sec][name]["packets"]

    assert delta("replicate", "copies") == COPIES * FLOWS, json.dumps(s1["replicate"])
    for name in ("short", "failed", "stale"):
        assert delta("replicate", name) == 0, json.dumps(s1["replicate"])
    assert delta("route", "replicated") == FLOWS
    assert delta("route", "routed") == 0
    assert lab.forwarded() - fwd0 >= FLOWS    # the kernel routed the originals
    tap = next(r for r in s1["rules"] if r["id"] == "tap")
    assert tap["packets"] >= FLOWS

    # rm2 and rm3 down: one live target, one copy per flow, all short
    lab.xdp("update", "--policy", lab.policy(tmp_path / "p2.json", ["up", "down", "down"]))
    sports2 = range(31000, 31000 + FLOWS)
    frames_a, at_m, got_b = lab.send_and_capture(sports2)
    check_copies(lab, sports2, frames_a, at_m, got_b, {sp: {0} for sp in sports2})
    s2 = lab.stats()
    assert s2["replicate"]["short"]["packets"] - s1["replicate"]["short"]["packets"] == FLOWS
    assert s2["replicate"]["copies"]["packets"] - s1["replicate"]["copies"]["packets"] == FLOWS

    # rm3 gone (its veth deleted) under the first policy: the copies for
    # it fail and are counted, the others still go
    lab.xdp("update", "--policy", pol)
    lab.run("R", "ip", "link", "del", lab.rm[2])
    sports3 = range(32000, 32000 + FLOWS)
    expect3 = {}
    for sp in sports3:
        h = flow_hash(udp4_key(IP_A, sp, IP_B, PORT), SEED)
        expect3[sp] = set(maglev_pick(table, n_live, h, COPIES))
    frames_a, at_m, got_b = lab.send_and_capture(sports3, monitors=(0, 1))
    check_copies(lab, sports3, frames_a, at_m, got_b,
                 {sp: expect3[sp] - {2} for sp in sports3})
    lost = sum(2 in expect3[sp] for sp in sports3)
    s3 = lab.stats()
    assert s3["replicate"]["failed"]["packets"] - s2["replicate"]["failed"]["packets"] == lost
    assert s3["replicate"]["copies"]["packets"] - s2["replicate"]["copies"]["packets"] \
        == COPIES * FLOWS - lost

    # detach takes the filter and the clsact qdisc sluice created (and
    # forgets those of an interface that is gone)
    lab.xdp("detach", "--dev", lab.rm[2])
    for dev in lab.devs()[:-1]:
        lab.xdp("detach", "--dev", dev)
        assert lab.tc_prog_ids(dev) == [] and not lab.has_clsact(dev), dev
    assert not os.path.exists(lab.pin)
