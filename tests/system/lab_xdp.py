# SPDX-License-Identifier: BSD-3-Clause
"""The demo lab on the XDP backend: sluiced enforces the lab's policy with
the XDP program on a router namespace's veths (deploy/lab.sh --backend xdp).

    sl-labx-h1                 sl-labx-r (router)                 sl-labx-h2
    eth0 10.78.1.2/24 --veth-- x1 10.78.1.1   x2 10.78.2.1 --veth-- eth0 10.78.2.2/24
                               xm (no address)
                                 |  veth
                               eth0 of sl-labx-mon (a monitoring tool)

sluiced runs in sl-labx-r with `--backend xdp --xdp-dev x1,x2,xm
--xdp-route fib`: the program judges every packet that enters the router,
routes what it accepts between the two subnets itself (bpf_fib_lookup, the
router's kernel FIB and neighbours), and sends a copy of UDP port 5000 to
the monitor (replicate to the group "mon").  The demo:

  1. pings h1 -> h2 (routed in XDP, both ways);
  2. sends 200 UDP datagrams to port 5000 and 100 to port 6000: h2 gets all
     of them, the monitor gets a copy of exactly the 200, byte for byte
     what h1 sent;
  3. tries 20 TCP connections to port 22: the firewall drops every SYN;
  4. shows `sluicectl status`, `stats` and `rule list`;
  5. checks every counter against what was sent.

    /usr/bin/python3 tests/system/lab_xdp.py demo [--hold]
    /usr/bin/python3 tests/system/lab_xdp.py cleanup

Exit status 0 when the traffic crossed and every check held.  The lab
removes only its own namespaces (sl-labx-*), pins (/sys/fs/bpf/sluice-lab)
and the sluiced it started.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NS = {"h1": "sl-labx-h1", "r": "sl-labx-r", "h2": "sl-labx-h2", "mon": "sl-labx-mon"}
PIN_ROOT = "/sys/fs/bpf/sluice-lab"
RUN_DIR = "/run/sluice-lab-xdp"
PIDFILE = os.path.join(RUN_DIR, "sluiced.pid")
H1, H2 = "10.78.1.2", "10.78.2.2"
UDP_MIRRORED, UDP_PLAIN, SSH_TRIES = 200, 100, 20

POLICY = {
    "version": 1,
    "settings": {"flow_hash_seed": 0x5eed},
    "ports": [{"name": "x1"}, {"name": "x2"}, {"name": "xm"}],
    "groups": [{"name": "mon", "targets": [{"kind": "port", "port": "xm"}]}],
    "rules": [
        {"id": "no-ssh", "proto": "tcp", "dport": 22, "action": "drop"},
        {"id": "mirror-5000", "proto": "udp", "dport": 5000,
         "action": {"replicate": {"group": "mon", "copies": 1}}},
        {"id": "icmp", "proto": "icmp", "action": "accept"},
    ],
    "default": "accept",
}


def build_dir():
    return os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))


def sh(*argv, check=True, ns=None):
    if ns is not None:
        # nsenter, not `ip netns exec`: that mounts a fresh /sys and would
        # hide /sys/fs/bpf from sluiced.
        argv = ("nsenter", f"--net=/run/netns/{NS[ns]}") + argv
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def _our_sluiced(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return os.path.basename(argv[0]) == b"sluiced" and PIN_ROOT.encode() in argv


def cleanup(say=print):
    """Remove what a lab left: its sluiced (by pidfile), namespaces, pins."""
    try:
        with open(PIDFILE) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    if pid and _our_sluiced(pid):
        say(f"lab: stopping the sluiced a previous lab left running (pid {pid})")
        os.kill(pid, signal.SIGKILL)
    if os.path.exists(PIDFILE):
        os.unlink(PIDFILE)
    for ns in NS.values():
        if os.path.exists(f"/run/netns/{ns}"):
            say(f"lab: removing {ns}")
            sh("ip", "netns", "del", ns, check=False)
    if os.path.isdir(PIN_ROOT):
        # Deleting the namespaces detached the program; the pins still
        # hold its maps.
        for f in os.listdir(PIN_ROOT):
            os.unlink(os.path.join(PIN_ROOT, f))
        os.rmdir(PIN_ROOT)


def create():
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for host, rdev in (("h1", "x1"), ("h2", "x2"), ("mon", "xm")):
        sh("ip", "link", "add", "sl-labx-" + rdev, "type", "veth", "peer", "name",
           "sl-labx-e" + rdev[1])
        sh("ip", "link", "set", "sl-labx-" + rdev, "netns", NS["r"])
        sh("ip", "-n", NS["r"], "link", "set", "sl-labx-" + rdev, "name", rdev)
        sh("ip", "link", "set", "sl-labx-e" + rdev[1], "netns", NS[host])
        sh("ip", "-n", NS[host], "link", "set", "sl-labx-e" + rdev[1], "name", "eth0")
        sh("ip", "-n", NS[host], "link", "set", "eth0", "up")
        sh("ip", "-n", NS["r"], "link", "set", rdev, "up")
    for host, addr, net in (("h1", H1, "10.78.1"), ("h2", H2, "10.78.2")):
        sh("ip", "-n", NS[host], "addr", "add", addr + "/24", "dev", "eth0")
        sh("ip", "-n", NS[host], "route", "add", "default", "via", net + ".1")
        sh("ip", "-n", NS["r"], "addr", "add", net + ".1/24", "dev", "x" + host[1])
        # A frame that XDP redirects into a veth reaches the peer only
        # while the peer's NAPI runs (GRO on); and XDP keeps no partial
        # checksum, so the hosts send full ones (docs/xdp.md, "Routing").
        sh("ethtool", "-K", "eth0", "gro", "on", "tx", "off", ns=host)
    sh("ethtool", "-K", "eth0", "gro", "on", ns="mon")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns="r")


class Sluiced:
    """sluiced in the router namespace, on the XDP backend."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.sock = os.path.join(workdir, "api.sock")
        self.proc = None

    def start(self):
        policy = os.path.join(self.workdir, "lab.json")
        with open(policy, "w") as f:
            json.dump(POLICY, f, indent=1)
        argv = ["nsenter", f"--net=/run/netns/{NS['r']}",
                os.path.join(build_dir(), "sluiced"), "--config", policy,
                "--state-dir", os.path.join(self.workdir, "state"),
                "--api-socket", self.sock,
                "--backend", "xdp", "--xdp-dev", "x1,x2,xm", "--xdp-route", "fib",
                "--xdp-pin-root", PIN_ROOT]
        print("+ " + " ".join(argv[2:]), flush=True)
        with open(os.path.join(self.workdir, "sluiced.log"), "w") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        os.makedirs(RUN_DIR, exist_ok=True)
        with open(PIDFILE, "w") as f:
            f.write(f"{self.proc.pid}\n")
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"sluiced exited with {self.proc.returncode}:\n"
                                   + self.log())
            if self.ctl("status", show=False)[0] == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("sluiced did not answer:\n" + self.log())

    def log(self):
        with open(os.path.join(self.workdir, "sluiced.log"), errors="replace") as f:
            return f.read()

    def ctl(self, *args, show=True):
        r = subprocess.run([os.path.join(build_dir(), "sluicectl"), "--socket", self.sock,
                            *args], capture_output=True, text=True, timeout=30)
        if show:
            print(f"$ sluicectl {' '.join(args)}\n{r.stdout}{r.stderr}", flush=True)
        return r.returncode, r.stdout

    def stats(self):
        rc, out = self.ctl("-o", "json", "stats", show=False)
        if rc != 0:
            raise RuntimeError("sluicectl stats failed: " + out)
        return json.loads(out)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.exists(PIDFILE):
            os.unlink(PIDFILE)


class Capture:
    """tcpdump on a namespace's eth0 into a pcap file."""

    def __init__(self, host, path, bpf_filter):
        self.path = path
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{NS[host]}", "tcpdump", "-i", "eth0",
             "-U", "-n", "-w", path, bpf_filter],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on" once its socket is bound.
        self.proc.stderr.readline()

    def frames(self):
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        from scapy.all import rdpcap
        return [bytes(p) for p in rdpcap(self.path)]


SENDER = r"""
import socket, sys
port, n, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(tag + b"%06d" % i, (sys.argv[4], port))
"""


def send_udp(port, n, tag):
    sh("/usr/bin/python3", "-c", SENDER, str(port), str(n), tag, H2, ns="h1")


def try_ssh(n):
    """n TCP connection attempts to h2 port 22 that must time out."""
    code = ("import socket\nfor i in range(%d):\n"
            " s = socket.socket(); s.settimeout(0.05)\n"
            " try: s.connect(('%s', 22))\n"
            " except OSError: pass\n"
            " s.close()\n") % (n, H2)
    sh("/usr/bin/python3", "-c", code, ns="h1")


def rule_packets(stats, rid):
    return next(r["packets"] for r in stats["rules"] if r["id"] == rid)


def demo(hold=False):
    """Returns a list of failed checks (empty: all held)."""
    cleanup()
    workdir = tempfile.mkdtemp(prefix="sluice-lab-xdp.")
    sd = Sluiced(workdir)
    failed = []

    def check(ok, what):
        print(f"  [{'ok' if ok else 'FAILED'}] {what}", flush=True)
        if not ok:
            failed.append(what)

    try:
        create()
        sd.start()
        sd.ctl("status")
        before = sd.stats()

        print("\n== ping h1 -> h2 across the router (routed in XDP)", flush=True)
        r = sh("ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", H2, ns="h1",
               check=False)
        print(r.stdout.strip().splitlines()[-2] if r.stdout else r.stderr)
        check(r.returncode == 0 and " 0% packet loss" in r.stdout, "ping h1 -> h2: no loss")

        print(f"\n== {UDP_MIRRORED} datagrams to port 5000 (mirrored), "
              f"{UDP_PLAIN} to port 6000", flush=True)
        cap_h2 = Capture("h2", os.path.join(workdir, "h2.pcap"), "udp")
        cap_mon = Capture("mon", os.path.join(workdir, "mon.pcap"), "udp")
        cap_h1 = Capture("h1", os.path.join(workdir, "h1.pcap"), "udp")
        send_udp(5000, UDP_MIRRORED, "mirrored")
        send_udp(6000, UDP_PLAIN, "plain")
        print(f"\n== {SSH_TRIES} TCP connections to port 22 (the firewall drops them)",
              flush=True)
        try_ssh(SSH_TRIES)
        sent, got_h2, got_mon = cap_h1.frames(), cap_h2.frames(), cap_mon.frames()

        from scapy.all import Ether, UDP
        to_5000 = [f for f in sent if Ether(f).haslayer(UDP) and Ether(f)[UDP].dport == 5000]
        h2_5000 = [f for f in got_h2 if Ether(f)[UDP].dport == 5000]
        h2_6000 = [f for f in got_h2 if Ether(f)[UDP].dport == 6000]
        check(len(to_5000) == UDP_MIRRORED, f"h1 sent {UDP_MIRRORED} datagrams to port 5000")
        check(len(h2_5000) == UDP_MIRRORED and len(h2_6000) == UDP_PLAIN,
              f"h2 got all {UDP_MIRRORED} + {UDP_PLAIN} "
              f"(got {len(h2_5000)} + {len(h2_6000)})")
        check(got_mon == to_5000,
              f"the monitor got one copy of each port-5000 datagram, byte for byte "
              f"as h1 sent it (got {len(got_mon)})")

        print("", flush=True)
        sd.ctl("stats")
        sd.ctl("rule", "list")
        after = sd.stats()
        d = {rid: rule_packets(after, rid) - rule_packets(before, rid)
             for rid in ("no-ssh", "mirror-5000", "icmp")}
        check(d["mirror-5000"] == UDP_MIRRORED,
              f"rule mirror-5000 counted {UDP_MIRRORED} (counted {d['mirror-5000']})")
        check(d["no-ssh"] >= SSH_TRIES, f"rule no-ssh dropped every SYN ({d['no-ssh']})")
        # and h2's port-unreachable errors for the datagrams nobody reads
        check(d["icmp"] >= 10,
              f"rule icmp counted the 5 echo requests and 5 replies ({d['icmp']})")
        copies = after["replication"]["copies"] - before["replication"]["copies"]
        check(copies == UDP_MIRRORED, f"sluiced counted {UDP_MIRRORED} copies ({copies})")
        lost = {k: v - before["xdp"]["replicate"][k]
                for k, v in after["xdp"]["replicate"].items() if k != "copies"}
        check(not any(lost.values()), f"no copy short, failed or stale ({lost})")
        routed = (sum(p["routed"] for p in after["ports"])
                  - sum(p["routed"] for p in before["ports"]))
        check(routed >= 10 + UDP_PLAIN,
              f"the program routed the pings and port-6000 datagrams itself ({routed})")
        if hold:
            print("\nlab: up (Ctrl-C ends it)", flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
    except Exception as e:
        failed.append(f"lab error: {e}")
        print(f"lab: {e}", file=sys.stderr)
    finally:
        sd.stop()
        cleanup(say=lambda *_: None)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nlab: {'every check held' if not failed else 'FAILED: ' + '; '.join(failed)}")
    return failed


def main(argv):
    if len(argv) < 2 or argv[1] not in ("demo", "cleanup"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "cleanup":
        cleanup()
        return 0
    return 1 if demo(hold="--hold" in argv[2:]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
