# SPDX-License-Identifier: BSD-3-Clause
"""Network-namespace lab: hosts, veth pairs and sluice-dataplane processes.

Shared by the system tests (through the fixtures in conftest.py) and by the
demo lab (deploy/lab.sh runs ``lab.py demo``).  Needs root, iproute2 and
ethtool; scapy only for building frames.  Run it with the Debian python,
/usr/bin/python3.

The topology the demo builds, and test_lab.py checks::

    netns h1                 root namespace                  netns h2
    eth0 10.77.0.1/24 ---veth--- p0 [net_af_packet0]
                                     sluice-dataplane --xconnect 0:1
                                    p1 [net_af_packet1] ---veth--- eth0 10.77.0.2/24

Each host is a network namespace whose ``eth0`` is one end of a veth pair;
the other end stays in the root namespace and becomes a DPDK port through
the af_packet PMD.  IPv6 is off and the neighbours are static, so the hosts
send nothing on their own: every frame that crosses was sent on purpose,
and the kernel's interface counters are an exact oracle for the dataplane's.
"""
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Offloads that leave partial checksums or merged super-frames in the skb:
# an af_packet socket would see (and forward) frames that the receiving
# kernel then rejects.  Off on every veth end of the lab.
OFFLOADS_OFF = ["tx", "off", "rx", "off", "gso", "off", "tso", "off", "gro", "off"]

# Frames of each malformed kind the burst sends, and the drop reason
# (include/sluice/drop_reason.h) each must be counted under.
MALFORMED_COPIES = 5

_echo = False


def set_echo(on):
    """Print every command the lab runs (the demo does, tests do not)."""
    global _echo
    _echo = on


def build_dir():
    """Build directory holding sluice-dataplane: $SLUICE_BUILD, else build/."""
    return os.path.abspath(os.environ.get("SLUICE_BUILD") or os.path.join(ROOT, "build"))


def dataplane_binary():
    return os.path.join(build_dir(), "sluice-dataplane")


def is_root():
    return os.geteuid() == 0


def sh(*cmd, ns=None, check=True, quiet=False):
    """Run a command (in network namespace ns when given); return its stdout."""
    argv = [str(c) for c in cmd]
    if ns is not None:
        argv = ["ip", "netns", "exec", ns] + argv
    if _echo and not quiet:
        print("+ " + " ".join(argv), flush=True)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


# --- names -----------------------------------------------------------------

_counter = itertools.count()


def unique_tag():
    """A tag unique to this process and call: 'slt' + pid (6 hex) + n (2 hex).

    Interface names are at most 15 characters, so the tag is 11 and a name
    adds at most 4 (veth: tag + 'p0'; netns: 'slt-<pid>-<n>-h1').  The pid
    in the name lets cleanup_stale() remove what a killed run left behind.
    """
    pid = os.getpid() & 0xFFFFFF
    while True:
        n = next(_counter) & 0xFF
        tag = f"slt{pid:06x}{n:02x}"
        if not os.path.exists(f"/sys/class/net/{tag}p0") and \
           not os.path.exists(f"/run/netns/slt-{pid:x}-{n}-h1"):
            return tag


def _tag_netns(tag, host):
    return f"slt-{int(tag[3:9], 16):x}-{int(tag[9:11], 16)}-{host}"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale():
    """Delete test namespaces and veths whose owning process is gone."""
    removed = []
    for ns in list_netns():
        m = re.fullmatch(r"slt-([0-9a-f]+)-\d+-h\d+", ns)
        if m and not _pid_alive(int(m.group(1), 16)):
            sh("ip", "netns", "del", ns, check=False)
            removed.append(ns)
    for ifname in os.listdir("/sys/class/net"):
        m = re.fullmatch(r"slt([0-9a-f]{6})[0-9a-f]{2}p\d", ifname)
        if m and not _pid_alive(int(m.group(1), 16)):
            sh("ip", "link", "del", ifname, check=False)
            removed.append(ifname)
    return removed


def list_netns():
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


# --- hosts -----------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_libc = None


def _setns(fd):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Host:
    """A network namespace with one veth pair to the root namespace.

    ns       namespace name
    port_if  the veth end left in the root namespace (the DPDK port)
    addr     address with prefix length on the namespace's eth0
    mac      MAC address of the namespace's eth0
    """

    def __init__(self, ns, port_if, addr, mac):
        self.ns = ns
        self.port_if = port_if
        self.addr = addr
        self.ip = addr.split("/")[0]
        self.mac = mac
        self.ifname = "eth0"

    def __repr__(self):
        return f"Host({self.ns}, {self.ip}, port {self.port_if})"

    def exists(self):
        return self.ns in list_netns() or os.path.exists(f"/sys/class/net/{self.port_if}")

    def create(self):
        sh("ip", "netns", "add", self.ns)
        # No IPv6 (router solicitations, MLD, DAD): the host stays silent.
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1", ns=self.ns, quiet=True)
        sh("ip", "link", "add", self.port_if, "type", "veth", "peer", "name",
           self.ifname, "netns", self.ns)
        sh("sysctl", "-qw", f"net.ipv6.conf.{self.port_if}.disable_ipv6=1", quiet=True)
        sh("ip", "-n", self.ns, "link", "set", self.ifname, "address", self.mac)
        sh("ip", "-n", self.ns, "addr", "add", self.addr, "dev", self.ifname)
        sh("ethtool", "-K", self.port_if, *OFFLOADS_OFF)
        sh("ethtool", "-K", self.ifname, *OFFLOADS_OFF, ns=self.ns)
        sh("ip", "link", "set", self.port_if, "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up", quiet=True)
        sh("ip", "-n", self.ns, "link", "set", self.ifname, "up")
        return self

    def destroy(self):
        """Delete the namespace and the veth pair; quiet if already gone."""
        if os.path.exists(f"/sys/class/net/{self.port_if}"):
            sh("ip", "link", "del", self.port_if, check=False)
        if self.ns in list_netns():
            sh("ip", "netns", "del", self.ns, check=False)

    def add_neighbour(self, other):
        """Static ARP entry for another host: no ARP traffic in the lab."""
        sh("ip", "-n", self.ns, "neigh", "replace", other.ip, "lladdr", other.mac,
           "nud", "permanent", "dev", self.ifname)

    # Counters ----------------------------------------------------------

    def link_stats(self):
        """rx/tx packets and bytes of the host's eth0 (inside the namespace)."""
        info = json.loads(sh("ip", "-n", self.ns, "-s", "-j", "link", "show",
                             self.ifname, quiet=True))[0]
        s = info["stats64"]
        return {"rx_packets": s["rx"]["packets"], "rx_bytes": s["rx"]["bytes"],
                "tx_packets": s["tx"]["packets"], "tx_bytes": s["tx"]["bytes"]}

    def port_stats(self):
        """rx/tx packets and bytes of the root-namespace end (the DPDK port)."""
        out = {}
        for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes"):
            with open(f"/sys/class/net/{self.port_if}/statistics/{k}") as f:
                out[k] = int(f.read())
        return out

    def snmp(self):
        """The host's /proc/net/snmp as {'Udp': {'NoPorts': n, ...}, ...}."""
        lines = sh("cat", "/proc/net/snmp", ns=self.ns, quiet=True).splitlines()
        out = {}
        for head, vals in zip(lines[::2], lines[1::2]):
            proto, names = head.split(":", 1)
            out[proto] = dict(zip(names.split(), map(int, vals.split(":", 1)[1].split())))
        return out

    # Traffic -----------------------------------------------------------

    def ping(self, dst, count=3, interval=0.2, wait=2):
        """ping from this host; returns (ok, output)."""
        argv = ["ip", "netns", "exec", self.ns, "ping", "-n", "-c", str(count),
                "-i", str(interval), "-W", str(wait), dst]
        if _echo:
            print("+ " + " ".join(argv), flush=True)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr

    def raw_socket(self):
        """An AF_PACKET socket bound to the host's eth0, usable from here.

        The socket is created inside the namespace (setns on this thread
        only, then back), so frames sent on it leave the host's eth0 exactly
        as if a program in the host had sent them.
        """
        here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        there = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            _setns(there)
            try:
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                s.bind((self.ifname, 0))
            finally:
                _setns(here)
        finally:
            os.close(here)
            os.close(there)
        return s


def make_host(tag, index, subnet="10.77.0"):
    """Host number index (1, 2, ...) of a unique_tag(); not created yet.

    Its address is subnet.index/24, its MAC 02:00:0a:4d:00:<index>, its
    root-namespace veth end <tag>p<index - 1>.
    """
    return Host(_tag_netns(tag, f"h{index}"), f"{tag}p{index - 1}",
                f"{subnet}.{index}/24", f"02:00:0a:4d:00:{index:02x}")


def make_pair(tag, subnet="10.77.0"):
    """Hosts h1 (.1) and h2 (.2) of a unique_tag(); not created yet.

    h1's veth becomes DPDK port 0 and h2's port 1 when passed in that order
    to af_packet_vdevs().
    """
    return make_host(tag, 1, subnet), make_host(tag, 2, subnet)


def create_pair(h1, h2):
    """Create both hosts with static neighbours; destroys both on failure."""
    try:
        h1.create()
        h2.create()
        h1.add_neighbour(h2)
        h2.add_neighbour(h1)
    except BaseException:
        h1.destroy()
        h2.destroy()
        raise


# --- the dataplane process -------------------------------------------------

def default_lcores():
    """The first two CPUs this process may run on: main lcore + one worker."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError("sluice-dataplane needs two CPUs (a main lcore and a worker)")
    return f"{cpus[0]},{cpus[1]}"


def eal_args(prefix, lcores=None, hugepages=False, mem_mb=512, log_level=None):
    """EAL arguments for a private instance that probes no PCI device.

    Without hugepages (the default for tests) EAL takes mem_mb of ordinary
    memory (--no-huge); with hugepages it uses /dev/hugepages
    (deploy/hugepages.sh).  The file prefix keeps concurrent instances apart.
    """
    args = ["-l", lcores or default_lcores(), "--no-pci", "--file-prefix", prefix]
    if hugepages:
        args += ["--huge-dir", "/dev/hugepages"]
    else:
        args += ["--no-huge", "-m", str(mem_mb)]
    if log_level:
        args += ["--log-level", log_level]
    return args


def af_packet_vdevs(ifaces, framecnt=2048):
    """--vdev values making each interface a port: ports 0, 1, ... in order.

    framecnt: frames in the socket's RX ring (the PMD's default is 512).
    """
    return [f"net_af_packet{i},iface={name},framecnt={framecnt}"
            for i, name in enumerate(ifaces)]


class Dataplane:
    """One sluice-dataplane process.

    dp = Dataplane(vdevs, ["--xconnect", "0:1"], workdir=tmp)
    dp.start(); dp.wait_ready()
    ...
    rc = dp.stop()          # SIGINT, then SIGTERM, then SIGKILL
    dp.output, dp.stats()   # everything it printed; its --stats-file JSON

    vdevs    --vdev values (af_packet_vdevs() for veths); ports in that order
    args     the dataplane's own options (after "--"); --stats-file is added
    prefix   EAL --file-prefix (default: unique); its /var/run/dpdk/<prefix>
             directory is removed on stop()
    eal      a whole EAL argument list instead of eal_args(prefix, lcores,
             hugepages); give it the same --file-prefix as prefix
    netns    run it in that network namespace (`ip netns exec`, which execs:
             the process is still the dataplane itself, so pid and signals
             reach it directly)
    """

    # Logged once per port when it has started (dataplane/port.c).
    READY_RE = re.compile(r"port (\d+) \([^)]*\): \d+ rx queue")

    def __init__(self, vdevs, args=(), workdir=None, prefix=None, eal=None,
                 lcores=None, hugepages=False, binary=None, stats_file=True,
                 netns=None):
        self.prefix = prefix or "sl-" + unique_tag()
        self.workdir = workdir or tempfile.mkdtemp(prefix=self.prefix + ".")
        self.binary = binary or dataplane_binary()
        self.vdevs = list(vdevs)
        self.log_path = os.path.join(self.workdir, f"{self.prefix}.log")
        self.stats_path = os.path.join(self.workdir, f"{self.prefix}.stats.json") \
            if stats_file else None
        self.eal = list(eal) if eal is not None else \
            eal_args(self.prefix, lcores=lcores, hugepages=hugepages)
        app = list(args)
        if self.stats_path:
            app += ["--stats-file", self.stats_path]
        self.netns = netns
        self.argv = ([] if netns is None else ["ip", "netns", "exec", netns]) + \
            [self.binary] + self.eal
        for v in self.vdevs:
            self.argv += ["--vdev", v]
        self.argv += ["--"] + app
        self.proc = None
        self.returncode = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError(
                f"{self.binary} not found: build it first (deploy/build.sh), "
                "or point SLUICE_BUILD at a build directory")
        if os.path.exists(self.stats_path or ""):
            os.unlink(self.stats_path)
        if _echo:
            print("+ " + " ".join(self.argv), flush=True)
        self._log = open(self.log_path, "w")
        # A session of its own: a Ctrl-C at the terminal reaches the lab,
        # which then stops the dataplane itself and still reads its counters.
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def output(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=30, ports=None):
        """Wait until every port has started (ports defaults to the vdev count)."""
        want = len(self.vdevs) if ports is None else ports
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                self._close_log()
                raise RuntimeError(
                    f"sluice-dataplane exited with {self.proc.returncode} before it "
                    f"was ready:\n{self.output}")
            started = {m.group(1) for m in self.READY_RE.finditer(self.output)}
            if len(started) >= want:
                # The workers are launched right after the last port starts.
                time.sleep(0.2)
                return self
            time.sleep(0.05)
        raise TimeoutError(f"sluice-dataplane not ready after {timeout} s:\n{self.output}")

    def stop(self, sig=signal.SIGINT, timeout=20):
        """Stop it with sig (SIGTERM, then SIGKILL if it hangs); return the exit code.

        A SIGKILL is reported as a negative code (-9): a hang is a failure.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            for s, t in ((None, timeout), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if s is not None:
                    self.proc.send_signal(s)
                try:
                    self.proc.wait(t)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.returncode = self.proc.wait()
        self._close_log()
        # EAL's runtime directory (config, sockets) for this file prefix.
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        return self.returncode

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def stats(self):
        """The --stats-file JSON written on exit."""
        with open(self.stats_path) as f:
            return json.load(f)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def port_stats(stats, port_id):
    """The entry of the counters JSON for one port id."""
    for p in stats["ports"]:
        if p["id"] == port_id:
            return p
    raise KeyError(f"port {port_id} not in the counters: {stats['ports']}")


# --- traffic -----------------------------------------------------------------

def burst_frames(src, dst, udp=2000, tcp=1000):
    """Well-formed UDP and TCP SYN frames from host src to host dst.

    Ports are closed on dst, so its kernel counts each UDP datagram under
    Udp NoPorts and answers each SYN with a RST (Tcp InSegs/OutRsts).
    Returns a list of bytes.
    """
    from scapy.all import IP, TCP, UDP, Ether, Raw

    eth = Ether(src=src.mac, dst=dst.mac)
    ip = IP(src=src.ip, dst=dst.ip)
    frames = [bytes(eth / ip / UDP(sport=10000 + i % 1000, dport=9) /
                    Raw(b"sluice" * (1 + i % 200)))
              for i in range(udp)]
    frames += [bytes(eth / ip / TCP(sport=20000 + i, dport=9, flags="S", seq=i))
               for i in range(tcp)]
    return frames


def malformed_frames(src, dst):
    """[(drop reason name, frame bytes)]: one frame per kind of breakage.

    Every frame is at least an Ethernet header long (a packet socket cannot
    send less) and addressed to dst, so only the dataplane's parser stands
    between it and dst.
    """
    from scapy.all import IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw

    eth = Ether(src=src.mac, dst=dst.mac)
    ip = IP(src=src.ip, dst=dst.ip)

    def patched(pkt, offset, value):
        b = bytearray(bytes(pkt))
        b[offset:offset + len(value)] = value
        return bytes(b)

    l3 = len(eth)
    udp = eth / ip / UDP(sport=1, dport=9) / Raw(b"u" * 16)
    tcp = eth / ip / TCP(sport=1, dport=9) / Raw(b"t" * 16)
    return [
        ("ipv4_bad_ihl", patched(udp, l3, b"\x43")),
        ("ipv4_bad_version", patched(udp, l3, b"\x55")),
        ("ipv4_bad_total_len", patched(udp, l3 + 2, (1400).to_bytes(2, "big"))),
        ("ipv4_truncated", bytes(eth / ip)[:l3 + 12]),
        ("tcp_bad_data_offset", patched(tcp, l3 + 20 + 12, b"\x20")),
        ("udp_bad_len", patched(udp, l3 + 20 + 4, (4).to_bytes(2, "big"))),
        ("vlan_too_many", bytes(eth / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) /
                                ip / UDP())),
        ("ipv6_bad_payload_len",
         patched(eth / IPv6(src="fd00::1", dst="fd00::2") / UDP() / Raw(b"6" * 8),
                 l3 + 4, (900).to_bytes(2, "big"))),
    ]


def send_paced(sock, frames, delivered, chunk=128, timeout=10.0):
    """Send frames in chunks, each once the previous one has crossed.

    delivered() returns how many of the frames have arrived at the far side
    so far (for example the far host's rx counter minus its value before).
    Pacing keeps the PMD's socket ring (a few thousand frames) from
    overflowing when the sender and the worker share a CPU.  Returns the
    number delivered at the end; a chunk that does not fully arrive within
    timeout ends the wait early rather than the run.
    """
    sent = 0
    for i in range(0, len(frames), chunk):
        for f in frames[i:i + chunk]:
            sock.send(f)
        sent += len(frames[i:i + chunk])
        deadline = time.monotonic() + timeout
        while delivered() < sent and time.monotonic() < deadline:
            time.sleep(0.001)
    return delivered()


def send_all(sock, frames, gap=0.0005):
    """Send frames that will not arrive anywhere (the dataplane drops them)."""
    for f in frames:
        sock.send(f)
        time.sleep(gap)


def settle(hosts, quiet=0.3, timeout=5.0):
    """Wait until the counters of no host's veth moved for `quiet` seconds."""
    def snap():
        return [h.port_stats() for h in hosts]
    last, since = snap(), time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = snap()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


# --- the scenario the demo and test_lab.py share ----------------------------

# The lab's firewall policy: everything crosses but UDP to port 7, which
# the rule "block-udp-echo" drops.  The burst uses port 9, so the blocked
# frames are a separate, known count.
LAB_BLOCKED_PORT = 7
LAB_BLOCKED_RULE = "block-udp-echo"


def lab_policy():
    """The demo lab's policy (docs/policy.md), as JSON text."""
    return json.dumps({
        "version": 1,
        "ports": [
            {"name": "h1", "dpdk_port": 0, "mode": "xconnect", "peer": "h2"},
            {"name": "h2", "dpdk_port": 1, "mode": "xconnect", "peer": "h1"},
        ],
        "rules": [
            {"id": LAB_BLOCKED_RULE, "proto": "udp", "dport": LAB_BLOCKED_PORT,
             "action": "drop"},
            {"id": "lab-hosts", "src": "10.77.0.0/24", "action": "accept"},
        ],
        "default": "drop",
    }, indent=2)


def blocked_frames(src, dst, n):
    """UDP frames to the port the lab policy blocks."""
    from scapy.all import IP, UDP, Ether, Raw

    eth = Ether(src=src.mac, dst=dst.mac)
    return [bytes(eth / IP(src=src.ip, dst=dst.ip) /
                  UDP(sport=30000 + i, dport=LAB_BLOCKED_PORT) / Raw(b"blocked"))
            for i in range(n)]


class Scenario:
    """Ping both ways, then a burst from h1 to h2, with kernel-side oracles.

    With blocked > 0 (the dataplane runs lab_policy()), that many UDP frames
    to the blocked port follow the burst and must be dropped by its rule.
    run() returns a result dict; the dataplane's counters are compared with
    it in check() once the dataplane has stopped.
    """

    def __init__(self, h1, h2, udp=2000, tcp=1000, malformed_copies=MALFORMED_COPIES,
                 blocked=0):
        self.h1, self.h2 = h1, h2
        self.udp, self.tcp, self.copies = udp, tcp, malformed_copies
        self.blocked = blocked
        self.result = {}

    def snapshot(self):
        return {"h1": self.h1.link_stats(), "h2": self.h2.link_stats(),
                "p0": self.h1.port_stats(), "p1": self.h2.port_stats(),
                "h2_snmp": self.h2.snmp()}

    def run(self, log=print):
        h1, h2, r = self.h1, self.h2, self.result
        r["before"] = self.snapshot()

        ok1, out1 = h1.ping(h2.ip, count=3)
        log(out1.rstrip())
        ok2, out2 = h2.ping(h1.ip, count=3)
        log(out2.rstrip())
        r["ping_h1_h2"], r["ping_h2_h1"] = ok1, ok2

        frames = burst_frames(h1, h2, self.udp, self.tcp)
        bad = [(reason, f) for reason, f in malformed_frames(h1, h2)
               for _ in range(self.copies)]
        # Frames the dataplane sent into h2's veth: a sysfs read, cheap
        # enough to poll between chunks.
        base = h2.port_stats()["tx_packets"]
        sock = h1.raw_socket()
        t0 = time.monotonic()
        try:
            got = send_paced(sock, frames, lambda: h2.port_stats()["tx_packets"] - base)
            send_all(sock, [f for _, f in bad])
            send_all(sock, blocked_frames(h1, h2, self.blocked))
        finally:
            sock.close()
        secs = time.monotonic() - t0
        settle([h1, h2])
        r["after"] = self.snapshot()
        r["burst_sent"] = len(frames)
        r["burst_arrived"] = got
        r["malformed_sent"] = {}
        for reason, _ in bad:
            r["malformed_sent"][reason] = r["malformed_sent"].get(reason, 0) + 1
        log(f"burst: sent {self.udp} UDP + {self.tcp} TCP SYN frames h1 -> h2 in "
            f"{secs:.2f} s; {got} arrived at h2; then "
            f"{len(bad)} malformed frames ({len(r['malformed_sent'])} kinds x {self.copies})")
        if self.blocked:
            log(f"firewall: sent {self.blocked} UDP frames to port {LAB_BLOCKED_PORT}, "
                f"which rule {LAB_BLOCKED_RULE} drops")
        return r

    def delta(self, where, key):
        return self.result["after"][where][key] - self.result["before"][where][key]

    def snmp_delta(self, proto, key):
        a, b = self.result["after"]["h2_snmp"], self.result["before"]["h2_snmp"]
        return a[proto][key] - b[proto][key]

    def check(self, stats):
        """Compare the dataplane's counters with the kernel's; [(what, ok, detail)]."""
        p0, p1 = port_stats(stats, 0), port_stats(stats, 1)
        bad_total = sum(self.result["malformed_sent"].values())
        checks = []

        def check(what, got, want):
            checks.append((what, got == want, f"{got} (expected {want})"))

        checks.append(("ping h1 -> h2", self.result["ping_h1_h2"], ""))
        checks.append(("ping h2 -> h1", self.result["ping_h2_h1"], ""))
        check("port 0 rx = frames h1 sent", p0["rx_packets"], self.delta("h1", "tx_packets"))
        check("port 0 rx = frames the kernel delivered to p0", p0["rx_packets"],
              self.delta("p0", "rx_packets"))
        check("port 1 rx = frames h2 sent", p1["rx_packets"], self.delta("h2", "tx_packets"))
        check("port 0 rx dropped = malformed + blocked frames sent", p0["rx_dropped"],
              bad_total + self.blocked)
        check("port 1 tx = port 0 rx - dropped", p1["tx_packets"],
              p0["rx_packets"] - p0["rx_dropped"])
        check("port 0 tx = port 1 rx - dropped", p0["tx_packets"],
              p1["rx_packets"] - p1["rx_dropped"])
        check("h2 received = port 1 tx", self.delta("h2", "rx_packets"), p1["tx_packets"])
        check("h1 received = port 0 tx", self.delta("h1", "rx_packets"), p0["tx_packets"])
        check("UDP datagrams h2's kernel accepted", self.snmp_delta("Udp", "NoPorts"), self.udp)
        check("UDP checksum errors at h2", self.snmp_delta("Udp", "InCsumErrors"), 0)
        check("TCP segments h2's kernel accepted", self.snmp_delta("Tcp", "InSegs"), self.tcp)
        for reason, n in sorted(self.result["malformed_sent"].items()):
            check(f"drops[{reason}]", stats["drops"].get(reason), n)
        if self.blocked:
            rules = {r["id"]: r for r in stats.get("rules", [])}
            check("drops[rule] = blocked frames sent", stats["drops"].get("rule"),
                  self.blocked)
            check(f"rule {LAB_BLOCKED_RULE} counted the blocked frames",
                  rules.get(LAB_BLOCKED_RULE, {}).get("packets"), self.blocked)
        other = {k: v for k, v in stats["drops"].items()
                 if v and k not in self.result["malformed_sent"] and
                 not (k == "rule" and self.blocked)}
        checks.append(("no other drop reason counted", not other, str(other)))
        m = stats["mempool"]
        check("mbufs back in the pool at exit", m["available_at_exit"], m["size"])
        return checks


def run_scenario(binary, workdir, args, **scenario):
    """Hosts, a dataplane with args, one Scenario(**scenario) and a clean
    stop; returns (scenario, dataplane).  The hosts are gone afterwards."""
    h1, h2 = make_pair(unique_tag())
    create_pair(h1, h2)
    dp = Dataplane(af_packet_vdevs([h1.port_if, h2.port_if]), args,
                   binary=binary, workdir=workdir)
    try:
        dp.start()
        dp.wait_ready()
        sc = Scenario(h1, h2, **scenario)
        sc.run(log=lambda s: None)
        dp.stop()
        return sc, dp
    finally:
        if dp.running():
            dp.stop()
        h1.destroy()
        h2.destroy()


# --- the demo (deploy/lab.sh) ------------------------------------------------

DEMO_TAG = "sl-lab-"             # veths sl-lab-p0, sl-lab-p1
DEMO_NS = ("sl-lab-h1", "sl-lab-h2")
DEMO_PREFIX = "sl-lab"
DEMO_RUN_DIR = "/run/sluice-lab"
DEMO_PIDFILE = os.path.join(DEMO_RUN_DIR, "dataplane.pid")
DEMO_SLUICED_PIDFILE = os.path.join(DEMO_RUN_DIR, "sluiced.pid")


def demo_hosts():
    h1 = Host(DEMO_NS[0], "sl-lab-p0", "10.77.0.1/24", "02:00:0a:4d:00:01")
    h2 = Host(DEMO_NS[1], "sl-lab-p1", "10.77.0.2/24", "02:00:0a:4d:00:02")
    return h1, h2


def _is_our_dataplane(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return (os.path.basename(argv[0]) == b"sluice-dataplane" and
            DEMO_PREFIX.encode() in argv)


def _is_our_sluiced(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return (os.path.basename(argv[0]) == b"sluiced" and
            any(a.startswith(b"/tmp/sluice-lab.") for a in argv))


def _stop_recorded(pidfile, is_ours, what, say):
    """SIGTERM (then SIGKILL) the process a pidfile names, if it is ours."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    if pid and is_ours(pid):
        say(f"lab: stopping the {what} a previous lab left running (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    if os.path.exists(pidfile):
        os.unlink(pidfile)


def demo_cleanup(say=print):
    """Remove what a demo left: its dataplane and sluiced (by pidfile),
    namespaces, veths."""
    _stop_recorded(DEMO_PIDFILE, _is_our_dataplane, "dataplane", say)
    _stop_recorded(DEMO_SLUICED_PIDFILE, _is_our_sluiced, "sluiced", say)
    for h in demo_hosts():
        if h.exists():
            say(f"lab: removing {h.ns} and {h.port_if}")
            h.destroy()
    shutil.rmtree(f"/var/run/dpdk/{DEMO_PREFIX}", ignore_errors=True)


def sluicectl(workdir, *args):
    """Run sluicectl against the demo's sluiced; (exit status, output)."""
    r = subprocess.run([os.path.join(build_dir(), "sluicectl"), "--socket",
                        os.path.join(workdir, "api.sock"), *args],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def start_sluiced(workdir, policy):
    """sluiced with the lab policy as its --config, its state, API socket
    and dataplane socket in workdir; returns the process once its API
    answers."""
    log = open(os.path.join(workdir, "sluiced.log"), "w")
    argv = [os.path.join(build_dir(), "sluiced"), "--config", policy,
            "--state-dir", os.path.join(workdir, "state"),
            "--api-socket", os.path.join(workdir, "api.sock"),
            "--dp-socket", os.path.join(workdir, "dp.sock")]
    if _echo:
        print("+ " + " ".join(argv), flush=True)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    os.makedirs(DEMO_RUN_DIR, exist_ok=True)
    with open(DEMO_SLUICED_PIDFILE, "w") as f:
        f.write(f"{proc.pid}\n")
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"sluiced exited with {proc.returncode}; "
                               f"log {workdir}/sluiced.log")
        if sluicectl(workdir, "status")[0] == 0:
            return proc
        time.sleep(0.05)
    raise RuntimeError(f"sluiced did not answer; log {workdir}/sluiced.log")


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def demo(hugepages=True, hold=False):
    """Build the lab, show traffic crossing, print counters, clean up.

    sluiced owns the lab's policy and pushes it to the dataplane
    (--controller); sluicectl shows the state and the counters while the
    dataplane runs.  Returns the exit status: 0 when all traffic crossed as
    expected.
    """
    set_echo(True)
    h1, h2 = demo_hosts()
    dp = None
    sd = None

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C even where the caller started us with SIGINT ignored (a
    # background job of a script); SIGTERM and SIGHUP clean up the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    demo_cleanup()
    try:
        print("lab: two hosts (network namespaces) joined by veth pairs to the dataplane")
        create_pair(h1, h2)
        workdir = tempfile.mkdtemp(prefix="sluice-lab.")
        policy = os.path.join(workdir, "lab-policy.json")
        with open(policy, "w") as f:
            f.write(lab_policy())
        print(f"lab: firewall policy {policy}: UDP to port {LAB_BLOCKED_PORT} is dropped "
              f"by rule {LAB_BLOCKED_RULE}, the hosts' traffic is accepted (conntrack on)")
        sd = start_sluiced(workdir, policy)
        print(f"lab: sluiced running (pid {sd.pid}) with that policy as its state, "
              f"log {workdir}/sluiced.log")
        dp = Dataplane(af_packet_vdevs([h1.port_if, h2.port_if]),
                       ["--controller", os.path.join(workdir, "dp.sock")],
                       workdir=workdir, prefix=DEMO_PREFIX, hugepages=hugepages)
        dp.start()
        os.makedirs(DEMO_RUN_DIR, exist_ok=True)
        with open(DEMO_PIDFILE, "w") as f:
            f.write(f"{dp.pid}\n")
        dp.wait_ready()
        print(f"lab: sluice-dataplane running (pid {dp.pid}), policy pushed by "
              f"sluiced, log {dp.log_path}")
        print("\n$ sluicectl status\n" + sluicectl(workdir, "status")[1])

        sc = Scenario(h1, h2, blocked=100)
        sc.run()
        for cmd in (["stats"], ["rule", "list"]):
            print(f"\n$ sluicectl {' '.join(cmd)}\n" + sluicectl(workdir, *cmd)[1])
        if hold:
            print("\nlab: holding; try for example\n"
                  f"  ip netns exec {h1.ns} ping {h2.ip}\n"
                  f"  ip netns exec {h2.ns} tcpdump -ni eth0\n"
                  "Ctrl-C stops the dataplane, prints its counters and cleans up.",
                  flush=True)
            try:
                while dp.running():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        print("\nlab: stopping the dataplane (SIGINT), then sluiced")
        rc = dp.stop()
        stop_process(sd)
        out = dp.output
        print("\n--- sluice-dataplane output (EAL lines left out) ---")
        print("\n".join(l for l in out.splitlines()
                        if not l.startswith(("EAL:", "TELEMETRY:"))))
        if rc != 0:
            print(f"lab: FAILED: sluice-dataplane exited with {rc}")
            return 1
        if hold:
            # Traffic of your own went through: nothing exact to check.
            shutil.rmtree(workdir, ignore_errors=True)
            return 0
        checks = sc.check(dp.stats())
        print("\nlab: checks (dataplane counters against the hosts' kernels):")
        for what, ok, detail in checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
        failed = [c for c in checks if not c[1]]
        if failed:
            print(f"lab: FAILED: {len(failed)} of {len(checks)} checks; "
                  f"the dataplane's log stays in {dp.log_path}")
            return 1
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"lab: traffic crossed the dataplane both ways; all {len(checks)} checks passed")
        return 0
    except KeyboardInterrupt:
        print("\nlab: interrupted")
        return 130
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        print(f"lab: FAILED: {e}")
        return 1
    finally:
        if dp is not None and dp.running():
            dp.stop()
        stop_process(sd)
        print("lab: cleaning up")
        demo_cleanup(say=lambda s: None)
        set_echo(False)


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the demo lab (deploy/lab.sh)")
    d.add_argument("--no-huge", action="store_true",
                   help="run EAL without hugepages (--no-huge -m 512)")
    d.add_argument("--hold", action="store_true",
                   help="keep the lab up after the demo traffic until Ctrl-C")
    sub.add_parser("cleanup", help="remove a leftover demo lab and stale test namespaces")
    a = ap.parse_args(argv)
    if not is_root():
        print("lab.py: needs root (network namespaces, DPDK)", file=sys.stderr)
        return 1
    if a.cmd == "demo":
        return demo(hugepages=not a.no_huge, hold=a.hold)
    demo_cleanup()
    for name in cleanup_stale():
        print(f"lab: removed stale {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
