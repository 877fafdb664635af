# SPDX-License-Identifier: BSD-3-Clause
"""The XDP benchmark (issue 7): packets per second that each datapath
handles on the same veth traffic, in one run.

    sudo bench/run.sh xdp [options]          (or /usr/bin/python3 bench/bench_xdp.py)

Topology: two network namespaces of its own joined by a veth pair,
`<tag>s` (veth `<tag>vs`, the sender) and `<tag>r` (veth `<tag>vr`, the
receiver, where every datapath under test runs).  Both go away at the end,
with every pin, program and nftables table this script made.

The sender: bench_send (bench/bench_xdp_progs.bpf.c, compiled here with
clang) run through BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on the
sender's veth, pinned to --tx-cpu.  XDP_TX there is a redirect out of the veth
into the receiver's ring; when the receiver falls behind, the full ring
drops the frame and the sender goes on (trafgen aborts there).  Each frame
is flow k of --rules flows, round robin: UDP from 10.10.0.0 + k to
10.11.0.2 port 10000 + k, 64 bytes on the wire (60 + FCS).

Where the receiver runs (--mode):
  one-cpu (default)  the receiving veth's NAPI runs in the sender's softirq
                     on the sender's CPU (--tx-cpu, default 1): after each
                     batch of 64 frames the receiver drains the ring, so
                     nothing is dropped for want of room and 1/pps is the
                     cost of one frame, both ends; above xdp-drop's it is
                     the datapath's own cost (column +ns).  On a shared
                     2-core machine this is the robust mode: one core,
                     no cross-CPU page recycling.
  two-cpu            threaded NAPI, its kthread pinned to --rx-cpu: sender
                     and receiver a core each.  The sender outruns slow
                     receivers and the frames dropped on a full ring go
                     back to the sender's page pool under its lock, which
                     the receiver contends for: slow datapaths look slower.
                     Each run also prints the share of the window the NAPI
                     thread ran and Mpps per core.
The datapaths, each counted at the receiver:

  xdp-drop       bench_drop: count, XDP_DROP (the ceiling)
  xdp-filter     xdp-tools' xdp-filter, native, the --rules source addresses
                 in src mode (it matches one field per lookup, so it cannot
                 say "this source to that port": it matches less);
                 counted by `xdp-filter status`
  nft-chain      bench_pass (XDP_PASS into the stack) and a netdev ingress
                 chain of the --rules rules "ip saddr A udp dport P drop",
                 one after the other; a named counter in front counts
  nft-set        the same with one rule over a concatenated set,
                 "ip saddr . udp dport @blocked drop": nftables' best form
  sluice-xdp     Sluice's XDP program (sluice-xdp attach, native) with the
                 --rules rules {"src": A/32, "proto": "udp", "dport": P,
                 "action": "drop"} and connection tracking off, stateless
                 like the others; counted by its per-interface counters
  sluice-xdp-ct  the same with connection tracking on (the policy default;
                 65,536 flows): each frame is also looked up in the flow
                 table (it creates no flow: it is dropped)

Every frame matches one rule (flow k: rule k), so every datapath drops
every frame: the figure is the cost of classifying, not of the kernel
stack.  Each datapath is checked to have dropped what it counted (no frame
fell to the default or got past the filter).

Rounds: round 1 of every datapath, then round 2, ..., each datapath set up,
sender started, --warmup seconds, counters read --seconds apart, torn down.
The table shows the median of the rounds in Mpps, the range, and the ratios
to xdp-drop, to xdp-filter and to nft-set.  Figures only: it fails when a
datapath cannot be measured or its check fails, never on a ratio.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
FLOW_SRC_BASE = 0x0A0A0000      # 10.10.0.0, as in bench_xdp_progs.bpf.c
FLOW_DPORT_BASE = 10000
RCV_ADDR = "10.11.0.2"
SND_ADDR = "10.11.0.1"
DATAPATHS = ["xdp-drop", "xdp-filter", "nft-chain", "nft-set", "sluice-xdp",
             "sluice-xdp-ct"]


class BenchError(RuntimeError):
    pass


def sh(*argv, check=True, input=None):
    r = subprocess.run(argv, capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(argv[:6])}{' ...' if len(argv) > 6 else ''}: "
                         f"exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


# ---------------------------------------------------------------------------
# libbpf through ctypes: enough to load an object, run a program and read
# per-CPU counters, without a C helper to build.

class BpfTestRunOpts(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t),
                ("data_in", ctypes.c_void_p),
                ("data_out", ctypes.c_void_p),
                ("data_size_in", ctypes.c_uint32),
                ("data_size_out", ctypes.c_uint32),
                ("ctx_in", ctypes.c_void_p),
                ("ctx_out", ctypes.c_void_p),
                ("ctx_size_in", ctypes.c_uint32),
                ("ctx_size_out", ctypes.c_uint32),
                ("retval", ctypes.c_uint32),
                ("repeat", ctypes.c_int),
                ("duration", ctypes.c_uint32),
                ("flags", ctypes.c_uint32),
                ("cpu", ctypes.c_uint32),
                ("batch_size", ctypes.c_uint32)]


class XdpMd(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint32), ("data_end", ctypes.c_uint32),
                ("data_meta", ctypes.c_uint32),
                ("ingress_ifindex", ctypes.c_uint32),
                ("rx_queue_index", ctypes.c_uint32),
                ("egress_ifindex", ctypes.c_uint32)]


class Libbpf:
    def __init__(self):
        name = ctypes.util.find_library("bpf") or "libbpf.so.1"
        self.lib = ctypes.CDLL(name, use_errno=True)
        L = self.lib
        L.bpf_object__open_file.restype = ctypes.c_void_p
        L.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        L.bpf_object__load.argtypes = [ctypes.c_void_p]
        L.bpf_object__close.argtypes = [ctypes.c_void_p]
        L.bpf_object__find_program_by_name.restype = ctypes.c_void_p
        L.bpf_object__find_program_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        L.bpf_object__find_map_by_name.restype = ctypes.c_void_p
        L.bpf_object__find_map_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        L.bpf_program__fd.argtypes = [ctypes.c_void_p]
        L.bpf_map__fd.argtypes = [ctypes.c_void_p]
        L.bpf_map_lookup_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        L.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.c_uint64]
        L.bpf_prog_test_run_opts.argtypes = [ctypes.c_int, ctypes.POINTER(BpfTestRunOpts)]
        L.bpf_xdp_attach.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint32,
                                     ctypes.c_void_p]
        L.bpf_xdp_detach.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p]
        L.libbpf_num_possible_cpus.argtypes = []
        self.ncpus = L.libbpf_num_possible_cpus()

    def open_load(self, path):
        obj = self.lib.bpf_object__open_file(path.encode(), None)
        if not obj:
            raise BenchError(f"cannot open {path}: {os.strerror(ctypes.get_errno())}")
        ret = self.lib.bpf_object__load(obj)
        if ret != 0:
            raise BenchError(f"cannot load {path}: {os.strerror(-ret)}")
        return obj

    def prog_fd(self, obj, name):
        p = self.lib.bpf_object__find_program_by_name(obj, name.encode())
        if not p:
            raise BenchError(f"no program {name}")
        return self.lib.bpf_program__fd(p)

    def map_fd(self, obj, name):
        m = self.lib.bpf_object__find_map_by_name(obj, name.encode())
        if not m:
            raise BenchError(f"no map {name}")
        return self.lib.bpf_map__fd(m)

    def update_u32(self, fd, key, value):
        k, v = ctypes.c_uint32(key), ctypes.c_uint32(value)
        if self.lib.bpf_map_update_elem(fd, ctypes.byref(k), ctypes.byref(v), 0) != 0:
            raise BenchError(f"map update: {os.strerror(ctypes.get_errno())}")

    def percpu_u64_sum(self, fd, key=0):
        k = ctypes.c_uint32(key)
        v = (ctypes.c_uint64 * self.ncpus)()
        if self.lib.bpf_map_lookup_elem(fd, ctypes.byref(k), v) != 0:
            raise BenchError(f"map lookup: {os.strerror(ctypes.get_errno())}")
        return sum(v)

    def test_run_live(self, prog_fd, frame, ifindex, repeat, batch):
        buf = ctypes.create_string_buffer(frame, len(frame))
        ctx = XdpMd(data=0, data_end=len(frame), ingress_ifindex=ifindex)
        o = BpfTestRunOpts(sz=ctypes.sizeof(BpfTestRunOpts),
                           data_in=ctypes.cast(buf, ctypes.c_void_p).value,
                           data_size_in=len(frame),
                           ctx_in=ctypes.cast(ctypes.pointer(ctx), ctypes.c_void_p).value,
                           ctx_size_in=ctypes.sizeof(ctx),
                           repeat=repeat, flags=BPF_F_TEST_XDP_LIVE_FRAMES,
                           batch_size=batch)
        ret = self.lib.bpf_prog_test_run_opts(prog_fd, ctypes.byref(o))
        if ret != 0:
            err = ctypes.get_errno()
            if err == 4:        # EINTR: a signal ended the run early
                return False
            raise BenchError(f"BPF_PROG_RUN: {os.strerror(err)}")
        return True

    def xdp_attach(self, ifindex, prog_fd):
        ret = self.lib.bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, None)
        if ret != 0:
            raise BenchError(f"XDP attach to ifindex {ifindex}: {os.strerror(-ret)}")

    def xdp_detach(self, ifindex):
        self.lib.bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, None)


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:     # CLONE_NEWNET
            raise BenchError(f"setns {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# The sender, a child process in the sender's namespace: bench_xdp.py
# --sender.  Runs until SIGTERM, then prints the frames it offered.

def checksum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def template_frame(dst_mac, src_mac):
    payload = bytes(18)                 # 14 + 20 + 8 + 18 = 60 bytes
    udp = struct.pack("!HHHH", 9, FLOW_DPORT_BASE, 8 + len(payload), 0) + payload
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                               bytes([10, 10, 0, 0]), bytes(map(int, RCV_ADDR.split(".")))))
    ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
    return dst_mac + src_mac + b"\x08\x00" + bytes(ip) + udp


def run_sender(a):
    bpf = Libbpf()
    obj = bpf.open_load(a.obj)
    prog = bpf.prog_fd(obj, "bench_send")
    bpf.update_u32(bpf.map_fd(obj, "bench_cfg"), 0, a.rules)
    frame = template_frame(bytes.fromhex(a.dst_mac.replace(":", "")),
                           bytes.fromhex(a.src_mac.replace(":", "")))
    ifindex = socket_ifindex(a.dev)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sent, t0 = 0, time.monotonic()
    chunk = 1 << 20
    while not stop:
        if bpf.test_run_live(prog, frame, ifindex, chunk, a.batch):
            sent += chunk
    dt = time.monotonic() - t0
    # frames of the interrupted chunk are not known: the counter says
    cnt = bpf.percpu_u64_sum(bpf.map_fd(obj, "bench_count"))
    print(json.dumps({"offered": cnt, "seconds": dt}), flush=True)


def socket_ifindex(dev):
    import socket
    return socket.if_nametoindex(dev)


# ---------------------------------------------------------------------------
# The lab

class Lab:
    def __init__(self, a):
        self.a = a
        self.tag = f"slbx{os.getpid() % 100000}"
        self.ns_s, self.ns_r = self.tag + "s", self.tag + "r"
        self.vs, self.vr = self.tag + "vs", self.tag + "vr"
        self.pin = f"/sys/fs/bpf/{self.tag}"
        self.work = tempfile.mkdtemp(prefix="sluice-bench-xdp-")
        self.root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.bpf = Libbpf()

    def create(self):
        sh("ip", "netns", "add", self.ns_s)
        sh("ip", "netns", "add", self.ns_r)
        sh("ip", "link", "add", self.vs, "netns", self.ns_s, "type", "veth",
           "peer", "name", self.vr, "netns", self.ns_r)
        for ns, dev, addr in [(self.ns_s, self.vs, SND_ADDR), (self.ns_r, self.vr, RCV_ADDR)]:
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # veth's ndo_xdp_xmit drops every frame unless the receiving veth
        # has NAPI on: an XDP program does that, and so does GRO, which
        # keeps it on between two datapaths.
        sh("ip", "netns", "exec", self.ns_r, "ethtool", "-K", self.vr, "gro", "on")
        # No IPv6 on the veths: router solicitations and MLD reports would
        # be judged too (and fall to Sluice's default rule).
        for ns, dev in [(self.ns_s, self.vs), (self.ns_r, self.vr)]:
            sh("ip", "netns", "exec", ns, "sysctl", "-qw",
               f"net.ipv6.conf.{dev}.disable_ipv6=1")
        if self.a.mode == "two-cpu":
            sh("ip", "netns", "exec", self.ns_r, "sh", "-c",
               f"echo 1 > /sys/class/net/{self.vr}/threaded")
        self.mac_s = self.mac(self.ns_s, self.vs)
        self.mac_r = self.mac(self.ns_r, self.vr)
        # This process lives in the receiver's namespace from here on:
        # every tool it runs (nft, xdp-filter, sluice-xdp) sees the
        # receiving veth; nsenter --net keeps /sys/fs/bpf (ip netns exec
        # would mount a fresh /sys).
        setns(f"/run/netns/{self.ns_r}")
        self.ifindex_r = socket_ifindex(self.vr)

    def mac(self, ns, dev):
        out = json.loads(sh("ip", "-n", ns, "-j", "link", "show", dev).stdout)
        return out[0]["address"]

    def napi_pids(self):
        """The NAPI kthreads of the receiving veth (napi/<dev>-<id>)."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if comm.startswith(f"napi/{self.vr}"):
                pids.append(int(p))
        return pids

    def pin_napi(self):
        for pid in self.napi_pids():
            sh("taskset", "-p", "-c", str(self.a.rx_cpu), str(pid), check=False)

    def destroy(self):
        setns_fd(self.root_ns)
        for ns in (self.ns_s, self.ns_r):
            sh("ip", "netns", "del", ns, check=False)
        if os.path.isdir(self.pin):
            shutil.rmtree(self.pin, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)


def setns_fd(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns(fd, 0x40000000)


# ---------------------------------------------------------------------------
# The datapaths: setup() installs, count() reads what it handled,
# check() says what it let through (must be 0), teardown() removes.

def flow(k):
    a = FLOW_SRC_BASE + k
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}", FLOW_DPORT_BASE + k


class XdpProg:
    """bench_drop or bench_pass attached natively to the receiving veth."""

    def __init__(self, lab, name):
        self.lab, self.name = lab, name

    def setup(self):
        bpf = self.lab.bpf
        self.obj = bpf.open_load(self.lab.obj)
        self.fd = bpf.prog_fd(self.obj, self.name)
        self.cnt = bpf.map_fd(self.obj, "bench_count")
        bpf.xdp_attach(self.lab.ifindex_r, self.fd)

    def count(self):
        return self.lab.bpf.percpu_u64_sum(self.cnt)

    def teardown(self):
        self.lab.bpf.xdp_detach(self.lab.ifindex_r)
        self.lab.bpf.lib.bpf_object__close(self.obj)


class XdpDrop:
    def __init__(self, lab):
        self.p = XdpProg(lab, "bench_drop")

    def setup(self):
        self.p.setup()

    def count(self):
        return self.p.count()

    def let_through(self):
        return 0

    def teardown(self):
        self.p.teardown()


class XdpFilter:
    def __init__(self, lab):
        self.lab = lab

    def setup(self):
        dev = self.lab.vr
        sh("xdp-filter", "load", "--mode", "native", "--features", "ipv4,udp", dev)
        for k in range(self.lab.a.rules):
            sh("xdp-filter", "ip", "--mode", "src", flow(k)[0])
        self.base = self.counts()

    def counts(self):
        """{action: packets} from `xdp-filter status`."""
        out = sh("xdp-filter", "status").stdout
        c = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 2 and f[0] in ("XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
                                        "XDP_REDIRECT") and f[1].isdigit():
                c[f[0]] = int(f[1])
        if "XDP_DROP" not in c:
            raise BenchError(f"cannot read xdp-filter status:\n{out}")
        return c

    def count(self):
        return sum(self.counts().values())

    def let_through(self):
        c = self.counts()
        return c.get("XDP_PASS", 0) - self.base.get("XDP_PASS", 0)

    def teardown(self):
        sh("xdp-filter", "unload", self.lab.vr, check=False)


class Nft:
    def __init__(self, lab, form):
        self.lab, self.form = lab, form
        self.table = lab.tag

    def setup(self):
        n, dev = self.lab.a.rules, self.lab.vr
        self.xdp = XdpProg(self.lab, "bench_pass")
        self.xdp.setup()
        lines = [f"table netdev {self.table} {{",
                 "  counter seen { }", "  counter missed { }"]
        if self.form == "set":
            lines.append("  set blocked { type ipv4_addr . inet_service; elements = {")
            lines.append(",\n".join(f"    {flow(k)[0]} . {flow(k)[1]}" for k in range(n)))
            lines.append("  } }")
        lines.append(f"  chain in {{ type filter hook ingress device {dev} priority 0;")
        lines.append("    counter name seen")
        if self.form == "set":
            lines.append("    ip saddr . udp dport @blocked drop")
        else:
            lines += [f"    ip saddr {flow(k)[0]} udp dport {flow(k)[1]} drop"
                      for k in range(n)]
        lines += ["    counter name missed", "  }", "}"]
        path = os.path.join(self.lab.work, f"nft-{self.form}.nft")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        sh("nft", "-f", path)

    def counter(self, name):
        out = json.loads(sh("nft", "-j", "list", "counter", "netdev", self.table,
                            name).stdout)
        for o in out["nftables"]:
            if "counter" in o:
                return o["counter"]["packets"]
        raise BenchError(f"no counter {name}")

    def count(self):
        return self.counter("seen")

    def let_through(self):
        return self.counter("missed")

    def teardown(self):
        sh("nft", "delete", "table", "netdev", self.table, check=False)
        self.xdp.teardown()


class Sluice:
    def __init__(self, lab, ct=False):
        self.lab, self.ct = lab, ct

    def tool(self, *args, check=True):
        return sh(self.lab.sluice_xdp, *args, "--pin-root", self.lab.pin, check=check)

    def setup(self):
        n = self.lab.a.rules
        pol = {"version": 1, "default": "accept",
               "settings": {"conntrack": {"enabled": self.ct, "size": 65536}},
               "rules": [{"id": f"r{k}", "src": f"{flow(k)[0]}/32", "proto": "udp",
                          "dport": flow(k)[1], "action": "drop"} for k in range(n)]}
        path = os.path.join(self.lab.work, "sluice.json")
        with open(path, "w") as f:
            json.dump(pol, f)
        out = self.tool("attach", "--dev", self.lab.vr, "--policy", path).stdout
        if "native mode" not in out:
            raise BenchError(f"sluice-xdp did not attach natively: {out}")
        self.base = self.stats()

    def stats(self):
        return json.loads(self.tool("stats", "--json").stdout)

    def count(self):
        s = self.stats()
        return sum(p["rx_packets"] for p in s["ports"] if p["name"] == self.lab.vr)

    def let_through(self):
        s = self.stats()
        d = next(r for r in s["rules"] if r["id"] == "default")
        d0 = next(r for r in self.base["rules"] if r["id"] == "default")
        return d["packets"] - d0["packets"]

    def teardown(self):
        self.tool("detach", "--dev", self.lab.vr, check=False)


def make(lab, name):
    return {"xdp-drop": lambda: XdpDrop(lab),
            "xdp-filter": lambda: XdpFilter(lab),
            "nft-chain": lambda: Nft(lab, "chain"),
            "nft-set": lambda: Nft(lab, "set"),
            "sluice-xdp": lambda: Sluice(lab),
            "sluice-xdp-ct": lambda: Sluice(lab, ct=True)}[name]()


# ---------------------------------------------------------------------------

def start_sender(lab):
    a = lab.a
    argv = ["nsenter", f"--net=/run/netns/{lab.ns_s}",
            "taskset", "-c", str(a.tx_cpu), sys.executable, os.path.abspath(__file__),
            "--sender", "--obj", lab.obj, "--dev", lab.vs, "--rules", str(a.rules),
            "--dst-mac", lab.mac_r, "--src-mac", lab.mac_s, "--batch", str(a.batch)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_sender(p):
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    if p.returncode != 0:
        raise BenchError(f"sender failed ({p.returncode}): {err}")
    return json.loads(out.strip().splitlines()[-1])


def cpu_times():
    with open("/proc/stat") as f:
        cpus = {}
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                p = line.split()
                v = list(map(int, p[1:]))
                cpus[int(p[0][3:])] = (sum(v), v[3] + v[4])   # total, idle+iowait
    return cpus


def task_ticks(pids):
    """user + system clock ticks of these tasks."""
    t = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                f = f.read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
        except (OSError, IndexError, ValueError):
            pass
    return t


def measure(lab, name):
    dp = make(lab, name)
    dp.setup()
    snd = None
    try:
        snd = start_sender(lab)
        time.sleep(0.3)
        lab.pin_napi()
        time.sleep(lab.a.warmup)
        if snd.poll() is not None:
            raise BenchError(f"sender exited: {snd.stderr.read()}")
        napi = lab.napi_pids()
        through0 = dp.let_through()
        c0, t0, cpu0, n0 = dp.count(), time.monotonic(), cpu_times(), task_ticks(napi)
        time.sleep(lab.a.seconds)
        c1, t1, cpu1, n1 = dp.count(), time.monotonic(), cpu_times(), task_ticks(napi)
        through = dp.let_through() - through0
        s = stop_sender(snd)
        snd = None
    finally:
        if snd is not None:
            snd.kill()
            snd.wait()
        dp.teardown()
    busy = {c: 1 - (cpu1[c][1] - cpu0[c][1]) / max(1, cpu1[c][0] - cpu0[c][0]) for c in cpu1}
    other = next((c for c in busy if c != lab.a.tx_cpu), lab.a.tx_cpu)
    pps = (c1 - c0) / (t1 - t0)
    if c1 - c0 <= 0:
        raise BenchError(f"{name}: nothing counted at the receiver")
    if through > (c1 - c0) / 10000:
        raise BenchError(f"{name}: {through} of {c1 - c0} frames were not dropped by a "
                         "rule (the traffic should match a rule each)")
    # The share of the window the receiving NAPI thread ran: on a shared
    # machine other tasks take CPU time from it, and pps / share is what
    # one busy core would handle.
    share = (n1 - n0) / CLK_TCK / (t1 - t0) if napi else 1.0
    return {"pps": pps, "offered_pps": s["offered"] / s["seconds"],
            "napi_share": share, "pps_per_core": pps / share if share > 0 else 0,
            "rx_cpu_busy": busy.get(lab.a.rx_cpu if lab.a.mode == "two-cpu" else other, 0),
            "tx_cpu_busy": busy.get(lab.a.tx_cpu, 0)}


def verifier_insns(lab):
    """processed instructions of Sluice's program, from a verbose load."""
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="meson build directory with sluice-xdp (default: build)")
    ap.add_argument("--rules", type=int, default=1000, help="rules and flows (default 1000)")
    ap.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--seconds", type=float, default=3.0, help="measured window per run")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds before the window")
    ap.add_argument("--only", default=",".join(DATAPATHS),
                    help=f"comma-separated subset of {','.join(DATAPATHS)}")
    ap.add_argument("--tx-cpu", type=int, default=1, help="the sender's CPU (default 1)")
    ap.add_argument("--rx-cpu", type=int, default=0,
                    help="two-cpu: the receiving veth's NAPI thread CPU (default 0)")
    ap.add_argument("--mode", choices=["one-cpu", "two-cpu"], default="one-cpu",
                    help="one-cpu (default): the receiving veth's NAPI runs in the "
                    "sender's softirq, on its CPU; two-cpu: threaded NAPI on --rx-cpu")
    ap.add_argument("--batch", type=int, default=64, help="sender batch size (default 64)")
    ap.add_argument("--json", help="write the results here too")
    # the sender child
    ap.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--obj", help=argparse.SUPPRESS)
    ap.add_argument("--dev", help=argparse.SUPPRESS)
    ap.add_argument("--dst-mac", help=argparse.SUPPRESS)
    ap.add_argument("--src-mac", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sender:
        run_sender(a)
        return 0

    if os.geteuid() != 0:
        print("bench_xdp: run as root (BPF, namespaces)", file=sys.stderr)
        return 1
    names = [n for n in a.only.split(",") if n]
    for n in names:
        if n not in DATAPATHS:
            ap.error(f"unknown datapath {n}")
    if "xdp-filter" in names and shutil.which("xdp-filter") is None:
        print("bench_xdp: xdp-filter missing: apt-get install xdp-tools "
              "(deploy/install-deps.sh lists it)", file=sys.stderr)
        return 1
    sluice_xdp = os.path.join(a.build, "sluice-xdp")
    if any(n.startswith("sluice-xdp") for n in names) and \
            not os.access(sluice_xdp, os.X_OK):
        print(f"bench_xdp: {sluice_xdp} not built (ninja -C {a.build})", file=sys.stderr)
        return 1

    lab = Lab(a)
    lab.sluice_xdp = sluice_xdp
    results = {n: [] for n in names}
    try:
        lab.obj = os.path.join(lab.work, "bench_xdp_progs.bpf.o")
        multiarch = sh("gcc", "-print-multiarch", check=False).stdout.strip()
        sh("clang", "-target", "bpf", "-O2", "-g", "-Wall",
           *(["-idirafter", f"/usr/include/{multiarch}"] if multiarch else []),
           "-c", os.path.join(HERE, "bench_xdp_progs.bpf.c"), "-o", lab.obj)
        lab.create()
        for r in range(a.runs):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                m = measure(lab, n)
                results[n].append(m)
                if a.mode == "one-cpu":
                    where = (f"CPU {a.tx_cpu} {m['tx_cpu_busy'] * 100:.0f}% busy, the "
                             f"other CPU {m['rx_cpu_busy'] * 100:.0f}%")
                else:
                    where = (f"NAPI thread ran {m['napi_share'] * 100:.0f}% of the "
                             f"window: {m['pps_per_core'] / 1e6:.3f} Mpps per core")
                print(f"# round {r + 1} {n:<13} {m['pps'] / 1e6:7.3f} Mpps "
                      f"(offered {m['offered_pps'] / 1e6:.2f} Mpps; {where})", flush=True)
    finally:
        lab.destroy()

    med = {n: statistics.median(m["pps"] for m in results[n]) for n in names}
    print()
    where = (f"sender and receiver on CPU {a.tx_cpu}" if a.mode == "one-cpu" else
             f"sender on CPU {a.tx_cpu}, receiving NAPI thread on CPU {a.rx_cpu}")
    print(f"XDP benchmark: {a.rules} rules, 64-byte UDP frames over veth, {where}, "
          f"median of {a.runs} x {a.seconds:g} s")
    print(f"kernel {platform.release()}, {os.cpu_count()} CPUs")
    print(f"{'datapath':<13} {'Mpps':>8} {'min-max':>15} {'ns/pkt':>7} {'+ns':>6} "
          f"{'x xdp-drop':>10} {'x xdp-filter':>12} {'x nft-set':>10}")
    for n in names:
        ps = [m["pps"] / 1e6 for m in results[n]]

        def ratio(ref):
            return f"{med[n] / med[ref]:.2f}" if ref in med and med[ref] > 0 else "-"
        # with one CPU doing both ends, 1/pps is the cost of a frame; above
        # xdp-drop's it is the datapath's own cost
        extra = (f"{1e9 / med[n] - 1e9 / med['xdp-drop']:6.1f}"
                 if "xdp-drop" in med and a.mode == "one-cpu" else f"{'-':>6}")
        print(f"{n:<13} {med[n] / 1e6:8.3f} {min(ps):7.3f}-{max(ps):<7.3f} "
              f"{1e9 / med[n]:7.1f} {extra} "
              f"{ratio('xdp-drop'):>10} {ratio('xdp-filter'):>12} {ratio('nft-set'):>10}")
    if "sluice-xdp" in med:
        for ref, want in [("nft-set", 5.0), ("xdp-filter", 2.0)]:
            if ref in med and med[ref] > 0:
                x = med["sluice-xdp"] / med[ref]
                ceil = (f"; {want:g} x {ref} would be {want * med[ref] / 1e6:.1f} Mpps, "
                        f"xdp-drop's ceiling is {med['xdp-drop'] / 1e6:.1f}"
                        if "xdp-drop" in med else "")
                print(f"target sluice-xdp >= {want:g} x {ref}: {x:.2f} x "
                      f"({'met' if x >= want else 'NOT met'}{ceil})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rules": a.rules, "runs": results, "median_pps": med,
                       "kernel": platform.release()}, f, indent=2)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench_xdp: {e}", file=sys.stderr)
        sys.exit(1)
