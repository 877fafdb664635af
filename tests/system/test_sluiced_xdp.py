# SPDX-License-Identifier: BSD-3-Clause
"""sluiced --backend xdp on a router namespace between two hosts.

    A (10.82.<n>.2/24) --veth-- R (.1 on both sides) --veth-- B (10.82.<m>.2/24)

sluiced runs in R with `--backend xdp --xdp-dev ra,rb` and a private pin
root under /sys/fs/bpf; R's kernel forwards what the program passes (the
program's routing stays off), so the veth XDP_REDIRECT caveats of
test_xdp_route.py do not apply.  The oracle is the traffic the test sends
and what arrives.  The tests prove:

- a drop rule written through the API drops (ping fails, the rule's
  counter in /v1/stats and /metrics counts it), and removing it through the
  API lets the traffic through again;
- a policy with a payload rule is refused with 422 naming the DPDK backend
  and its af_xdp port, and nothing is persisted (the generation stays);
- kill -9 of sluiced while a ping runs through R loses no reply: the
  program stays attached, and the restarted sluiced adopts the pinned
  program (its log says so) instead of reattaching, with the rule
  counters going on from where they were;
- /v1/status says "backend": "xdp" with the devices and their mode;
- SIGTERM leaves the program attached and pinned (forwarding goes on).

Environment: SLUICE_BUILD names the build directory holding sluiced built
with -Dxdp=true.  Namespaces, veths and pins are the test's own and are
removed after it.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import sluiced_util

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Lab:
    """Hosts A and B, router R; sluiced attaches to R's ra and rb."""

    def __init__(self):
        pid = os.getpid()
        n = pid % 100
        self.tag = f"sdx{pid:x}"
        self.ns = {h: f"{self.tag}{h}" for h in "ARB"}
        self.a, self.ra = self.tag + "a", self.tag + "ra"
        self.b, self.rb = self.tag + "b", self.tag + "rb"
        self.net_a, self.net_b = f"10.82.{2 * n}", f"10.82.{2 * n + 1}"
        self.ip_a, self.ip_b = self.net_a + ".2", self.net_b + ".2"
        self.pin = f"/sys/fs/bpf/sluice-test-{self.tag}"

    def run(self, h, *argv, check=True):
        # nsenter, not `ip netns exec`: the latter mounts a fresh /sys and
        # would hide /sys/fs/bpf.
        return sh("nsenter", f"--net=/run/netns/{self.ns[h]}", *argv, check=check)

    def create(self):
        for h in "ARB":
            sh("ip", "netns", "add", self.ns[h])
        sh("ip", "link", "add", self.a, "type", "veth", "peer", "name", self.ra)
        sh("ip", "link", "add", self.b, "type", "veth", "peer", "name", self.rb)
        for dev, h in [(self.a, "A"), (self.ra, "R"), (self.b, "B"), (self.rb, "R")]:
            sh("ip", "link", "set", dev, "netns", self.ns[h])
        for h, dev, ip, gw in [("A", self.a, self.ip_a, self.net_a + ".1"),
                               ("B", self.b, self.ip_b, self.net_b + ".1")]:
            sh("ip", "-n", self.ns[h], "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", self.ns[h], "link", "set", dev, "up")
            sh("ip", "-n", self.ns[h], "route", "add", "default", "via", gw)
        for dev, net in [(self.ra, self.net_a), (self.rb, self.net_b)]:
            sh("ip", "-n", self.ns["R"], "addr", "add", net + ".1/24", "dev", dev)
            sh("ip", "-n", self.ns["R"], "link", "set", dev, "up")
        for h in "ARB":
            sh("ip", "-n", self.ns[h], "link", "set", "lo", "up")
        self.run("R", "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def destroy(self):
        for h in "ARB":
            sh("ip", "netns", "del", self.ns[h], check=False)
        if os.path.isdir(self.pin):
            for f in os.listdir(self.pin):
                os.unlink(os.path.join(self.pin, f))
            os.rmdir(self.pin)

    def xdp_mode(self, dev):
        out = sh("ip", "-n", self.ns["R"], "-d", "link", "show", dev).stdout
        if "xdpgeneric" in out:
            return "generic"
        if "prog/xdp" in out or " xdp " in out:
            return "native"
        return None

    def prog_id(self, dev):
        out = json.loads(sh("ip", "-n", self.ns["R"], "-j", "-d", "link", "show",
                            dev).stdout)
        return out[0].get("xdp", {}).get("prog", {}).get("id")

    def ping(self, count, interval="0.2", wait="1"):
        r = self.run("A", "ping", "-n", "-q", "-c", str(count), "-i", interval,
                     "-W", wait, self.ip_b, check=False)
        return parse_ping(r.stdout)


def parse_ping(out):
    """(transmitted, received) from ping's summary."""
    for line in out.splitlines():
        if "packets transmitted" in line:
            f = line.split(",")
            return int(f[0].split()[0]), int(f[1].split()[0])
    raise AssertionError(f"no ping summary in:\n{out}")


class XdpSluiced(sluiced_util.Sluiced):
    """sluiced in R's namespace (nsenter execs it: pid is sluiced's)."""

    def __init__(self, lab, workdir):
        super().__init__(workdir=workdir, args=[
            "--backend", "xdp", "--xdp-dev", f"{lab.ra},{lab.rb}",
            "--xdp-pin-root", lab.pin])
        self.lab = lab

    @property
    def argv(self):
        return ["nsenter", f"--net=/run/netns/{self.lab.ns['R']}"] + super().argv


@pytest.fixture
def lab():
    lb = Lab()
    lb.destroy()
    lb.create()
    workdir = tempfile.mkdtemp(prefix="sdx-", dir="/tmp")
    lb.daemons = []

    def start():
        sd = XdpSluiced(lb, workdir)
        lb.daemons.append(sd)
        return sd.start(timeout=30)

    lb.start = start
    try:
        yield lb
    finally:
        for sd in lb.daemons:
            if sd.running():
                sd.proc.kill()
                sd.proc.wait()
            sd._close_log()
        log = os.path.join(workdir, "sluiced.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print(f.read())
        shutil.rmtree(workdir, ignore_errors=True)
        lb.destroy()


ACCEPT_ICMP = {"id": "icmp-in", "proto": "icmp", "action": "accept"}


def policy(*rules):
    return {"version": 1, "default": "accept", "rules": list(rules)}


def rule(stats, rid):
    return next(r for r in stats["rules"] if r["id"] == rid)


def test_xdp_backend_drops_by_api_rule_refuses_payload_and_adopts_after_kill(lab):
    sd = lab.start()
    c = sd.client()
    st = c.get("/v1/status").json
    assert st["backend"] == "xdp", st
    assert {d["name"] for d in st["xdp"]["devices"]} == {lab.ra, lab.rb}
    assert all(d["mode"] in ("native", "generic") for d in st["xdp"]["devices"])
    assert st["xdp"]["adopted"] is False
    assert lab.xdp_mode(lab.ra) == "native" and lab.xdp_mode(lab.rb) == "native"
    prog = lab.prog_id(lab.ra)
    assert os.path.exists(os.path.join(lab.pin, "prog"))
    # sluicectl says which backend runs where.
    out = subprocess.run([os.path.join(sluiced_util.lab.build_dir(), "sluicectl"),
                          "--socket", sd.api_sock, "status"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert f"backend:     xdp on {st['xdp']['devices'][0]['name']} (native)" \
        in out.stdout, out.stdout

    # A drop rule through the API drops, and is counted under its id.
    drop = {"id": "drop-a", "src": lab.ip_a + "/32", "proto": "icmp",
            "action": "drop"}
    r = c.put("/v1/config", policy(drop, ACCEPT_ICMP))
    assert r.status == 200, r
    assert lab.ping(3, wait="0.5") == (3, 0)
    s = c.get("/v1/stats").json
    assert rule(s, "drop-a")["packets"] == 3, s
    assert rule(s, "drop-a")["bytes"] > 0
    assert s["drops"]["rule"] >= 3
    assert any(p["port"] == lab.ra and p["dropped"] >= 3 for p in s["ports"]), s
    m = c.get("/metrics").body.decode()
    assert 'sluice_rule_packets_total{rule="drop-a"} 3' in m, m

    # Removing it lets the traffic through.
    r = c.delete("/v1/rules/drop-a")
    assert r.status in (200, 204), r
    assert lab.ping(3) == (3, 3)
    s = c.get("/v1/stats").json
    assert rule(s, "icmp-in")["packets"] >= 6     # requests and replies

    # A payload rule is refused before it is persisted (a dry run too).
    gen = c.generation()
    state = sd.state_text()
    payload = policy({"id": "pl", "proto": "tcp", "payload": {"literal": "admin"},
                      "action": "drop"}, ACCEPT_ICMP)
    sluiced_util.check_error(c.put("/v1/config?dry_run=1", payload), 422, "invalid")
    r = c.put("/v1/config", payload)
    sluiced_util.check_error(r, 422, "invalid")
    msg = r.error["message"]
    assert "DPDK backend" in msg and "af_xdp" in msg, msg
    assert c.generation() == gen
    assert sd.state_text() == state

    # kill -9 under traffic: the pinned program forwards on; the next
    # sluiced adopts it (no reattach: the same program id), no reply lost.
    before = rule(c.get("/v1/stats").json, "icmp-in")["packets"]
    c.close()
    ping = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{lab.ns['A']}", "ping", "-n", "-q",
         "-c", "60", "-i", "0.05", "-W", "2", lab.ip_b],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.8)
    sd.proc.kill()
    sd.proc.wait()
    assert lab.xdp_mode(lab.ra) == "native"
    sd2 = lab.start()
    out, _ = ping.communicate(timeout=30)
    sent, got = parse_ping(out)
    assert sent == 60 and got == 60, out
    assert "adopted the program pinned under" in sd2.output, sd2.output
    assert lab.prog_id(lab.ra) == prog
    c2 = sd2.client()
    st = c2.get("/v1/status").json
    assert st["xdp"]["adopted"] is True
    assert st["generation"] == gen
    s = c2.get("/v1/stats").json
    assert rule(s, "icmp-in")["packets"] >= before + 120, s

    # SIGTERM leaves the program attached and pinned: forwarding goes on.
    assert sd2.stop() == 0
    assert lab.xdp_mode(lab.ra) == "native"
    assert os.path.exists(os.path.join(lab.pin, "prog"))
    assert lab.ping(2) == (2, 2)


@pytest.mark.parametrize("args, needle", [
    (["--backend", "xdp"], "--xdp-dev"),
    (["--backend", "xdp", "--xdp-dev", "lo", "--xdp-route", "bgp"], "want fib or pass"),
    (["--xdp-route", "fib"], "goes with --backend xdp"),
], ids=["no-devices", "bad-route", "route-without-xdp"])
def test_xdp_backend_usage_errors(lab, tmp_path, args, needle):
    sd = XdpSluiced(lab, str(tmp_path))
    sd.args = args
    sd.start(wait=False)
    assert sd.wait_exit() == 2
    assert needle in sd.output


def test_xdp_generic_flag_attaches_in_generic_mode_and_status_says_so(lab):
    sd = XdpSluiced(lab, tempfile.mkdtemp(prefix="sdx-", dir="/tmp"))
    sd.args.append("--xdp-generic")
    lab.daemons.append(sd)
    try:
        sd.start(timeout=30)
        c = sd.client()
        st = c.get("/v1/status").json
        assert [d["mode"] for d in st["xdp"]["devices"]] == ["generic", "generic"], st
        assert lab.xdp_mode(lab.ra) == "generic"
        # An empty state's default action is drop, as on the DPDK path.
        assert lab.ping(1, wait="0.5") == (1, 0)
        assert c.put("/v1/config", policy(ACCEPT_ICMP)).status == 200
        assert lab.ping(2) == (2, 2)
        assert rule(c.get("/v1/stats").json, "icmp-in")["packets"] >= 4
    finally:
        sd.stop()
        shutil.rmtree(sd.workdir, ignore_errors=True)
