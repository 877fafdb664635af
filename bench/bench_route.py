# SPDX-License-Identifier: BSD-3-Clause
"""Routing benchmark (issue 4): Sluice routing through a 1M-route IPv4 table
shaped like the Internet's, beside the DPDK ceiling and DPDK's l3fwd (LPM)
with the same table, in one run; and how long 1M routes take to come into
force from the policy and from a kernel routing table.

Run it through `bench/run.sh route`, which reserves hugepages and builds
l3fwd (with room for 1M routes) first.  Same method as bench_dataplane.py,
whose helpers it uses: net_pcap (infinite_rx) -> net_null (no-rx), one
busy-polling worker on lcore 1, rates from the null port's transmitted
packets over a window after a warm-up, configurations interleaved round by
round, medians.  Inputs from routes.py (cached under BUILD/bench-work/route).

Configurations:
  testpmd-io         the ceiling, on the same 64-byte traffic
  l3fwd-lpm-1M       l3fwd -L with the 1M routes (rte_lpm)
  l3fwd-fib-1M       l3fwd --lookup fib with them (rte_fib DIR-24-8)
  sluice-route-1M    sluice-dataplane --policy: the 1M routes as static
                     routes, both ports routed; then SIGHUP with a changed
                     table (10k routes moved, 10k added): reload time
  sluice-kernel-1M   sluice-dataplane mirroring kernel table 100: the 1M
                     routes are fed with `ip -batch` while it forwards;
                     times until all are in force, then a forwarding window

Sluice runs in a network namespace of its own (its TAP twins and the
kernel routes stay out of the host), created before and deleted after each
run.  The twins exist only once it runs, so the gateways' neighbours
(`ip neigh replace GW lladdr MAC dev rout nud permanent`) are added as soon
as its log says the routes are in force; packets before that are dropped
as no_neigh, which the checks allow only outside the window.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_dataplane as bd  # noqa: E402
import routes  # noqa: E402
import telemetry  # noqa: E402

PCAP_PORT, NULL_PORT = bd.PCAP_PORT, bd.NULL_PORT
PREFIX = bd.PREFIX
NETNS = "sluice-bench-route"

# The dataplane's log lines (dataplane/router.c, control.c).
RE_IN_FORCE = re.compile(
    r"routes in force: ipv4 (\d+) ipv6 \d+ \(static (\d+), kernel (\d+)\)"
    r".*? in ([\d.]+) ms")
RE_STATS = re.compile(
    r"routes: ipv4 (\d+) ipv6 \d+ \(static (\d+), kernel (\d+)\)")
RE_GEN = re.compile(r"policy generation (\d+) in force")
RE_RELOAD_FAIL = re.compile(r"reload of .*keeping generation")
RE_LOADED = re.compile(r"reload: .* loaded in ([\d.]+) ms")
RE_EAL = re.compile(r"(EAL|TELEMETRY): ")


def sh(*argv, check=True, timeout=120, **kw):
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise bd.BenchError(f"{' '.join(argv)[:200]}: "
                            f"{(p.stderr or p.stdout).strip()[-300:]}")
    return p


# ---------------------------------------------------------------------------
# The network namespace Sluice runs in.

def netns_delete():
    if os.path.exists(f"/run/netns/{NETNS}"):
        sh("ip", "netns", "delete", NETNS, check=False)


def netns_create():
    """A fresh namespace: loopback up, IPv6 off on new interfaces (so the
    twins send no router or multicast listener solicitations out through
    the ports)."""
    netns_delete()
    sh("ip", "netns", "add", NETNS)
    sh("ip", "-n", NETNS, "link", "set", "lo", "up")
    sh("ip", "netns", "exec", NETNS, "sysctl", "-qw",
       "net.ipv6.conf.all.disable_ipv6=1",
       "net.ipv6.conf.default.disable_ipv6=1")


def in_netns(argv):
    return ["ip", "netns", "exec", NETNS, *argv]


# ---------------------------------------------------------------------------
# Command lines.

def cmd_l3fwd(a, prefix, lookup):
    """bench_dataplane's l3fwd command (lcore 1 alone, --parse-ptype, pool
    sized by the queue sizes) with the 1M-route files and the l3fwd built
    with room for them; lookup "lpm" (-L) or "fib"."""
    argv, how = bd.cmd_l3fwd(a, prefix)
    if lookup == "fib":
        argv[argv.index("-L")] = "--lookup=fib"
    return argv, how


def cmd_sluice(a, prefix, policy, stats_file, binary=None):
    # Its DEBUG lines (user1) time a reload's policy load.
    return in_netns([binary or a.dataplane, *bd.eal("0,1", prefix, a.pcap,
                                          ["--log-level=user1:debug"]),
                     "--", "--policy", policy, "--mbufs", "65536",
                     "--stats-interval", "1",
                     "--stats-file", stats_file]), "sigint"


# ---------------------------------------------------------------------------
# Following a Sluice run from its start.

class Watcher(threading.Thread):
    """Reads the dataplane's log as it grows (every 5 ms), from just before
    the process starts: when the routes are first in force (start-up load
    time), then adds the gateways' neighbours to the twin; keeps every
    periodic "routes:" line with the time it appeared."""

    def __init__(self, log_path, neigh_batch):
        super().__init__(daemon=True)
        self.log_path = log_path
        self.neigh_batch = neigh_batch
        self.t0 = time.monotonic()
        self.stop_ev = threading.Event()
        self.in_force = None        # (t, ipv4, static, kernel, ms)
        self.neigh_t = None
        self.neigh_error = None
        self.stats = []             # [(t, ipv4, static, kernel)]
        self.lines = []             # [(t, line)] until the routes are in
        self.text = ""

    def run(self):
        pos = 0
        while not self.stop_ev.is_set():
            try:
                with open(self.log_path, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
            except OSError:
                chunk = ""
            now = time.monotonic() - self.t0
            if chunk:
                self.text += chunk
                for line in chunk.splitlines():
                    if self.in_force is None:
                        self.lines.append((now, line))
                    m = RE_IN_FORCE.search(line)
                    if m and self.in_force is None:
                        self.in_force = (now, *map(int, m.groups()[:3]),
                                         float(m.group(4)))
                    m = RE_STATS.search(line)
                    if m:
                        self.stats.append((now, *map(int, m.groups())))
            if self.in_force is not None and self.neigh_t is None:
                self.add_neighbours()
            self.stop_ev.wait(0.005)

    def startup(self):
        """Start-up phases, from the times the log lines appeared (5 ms
        apart at best): EAL (exec to its last EAL or TELEMETRY line), the
        policy file (decoded and validated without a word in the log:
        until the next line, the first twin's or "parser:"), then the rest
        (twins, firewall and route table builds: until "routes in
        force")."""
        if self.in_force is None:
            return {}
        eal = [i for i, (_, line) in enumerate(self.lines)
               if RE_EAL.match(line)]
        if not eal or eal[-1] + 1 >= len(self.lines):
            return {}
        t_eal = self.lines[eal[-1]][0]
        t_next = self.lines[eal[-1] + 1][0]
        return {"eal_s": t_eal, "policy_load_s": t_next - t_eal,
                "tables_s": self.in_force[0] - t_next}

    def add_neighbours(self):
        p = subprocess.run(["ip", "-n", NETNS, "-batch", "-"],
                           input=self.neigh_batch, capture_output=True,
                           text=True)
        self.neigh_t = time.monotonic() - self.t0
        if p.returncode != 0:
            self.neigh_error = p.stderr.strip()[-300:]

    def stop(self):
        self.stop_ev.set()
        self.join()


def neigh_batch(meta):
    """The gateways' neighbours, `nud noarp`, not `nud permanent`: the
    dataplane asks the kernel to resolve a next hop it has no MAC for
    (RTM_NEWNEIGH with NTF_USE), and recent kernels (the
    NEIGH_UPDATE_F_USE path of __neigh_update, since about 5.16; seen on
    6.18) clear NUD_PERMANENT from an existing entry on NTF_USE, which
    then goes INCOMPLETE and FAILED: requests queued by the first packets,
    sent just after these entries appear, undo them.  NOARP entries are as
    valid, never probed, and NTF_USE leaves them alone; with a few of them
    (under gc_thresh1, 128) the kernel never collects them."""
    dev = meta["out_port"]["name"]
    return "".join(f"neigh replace {g['ip']} lladdr {g['mac']} dev {dev} "
                   "nud noarp\n" for g in meta["gateways"])


def wait_for(cond, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise bd.BenchError(f"{what}: the dataplane exited "
                                f"({proc.returncode})")
        if time.monotonic() > deadline:
            raise bd.BenchError(f"{what}: not within {timeout:g} s")
        time.sleep(0.01)


def reload_hook(a, policy_link, changed_policy, timeout=120):
    """before_stop hook of sluice-route-1M: point the policy file at the
    changed table, SIGHUP, and time from the signal until the log says
    the new generation is in force (load, firewall build, swap, routes
    applied), while the worker forwards."""
    def hook(proc, log_path):
        start_size = os.path.getsize(log_path)
        tmp = policy_link + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(changed_policy, tmp)
        os.replace(tmp, policy_link)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        while time.monotonic() - t0 < timeout:
            with open(log_path, errors="replace") as f:
                f.seek(start_size)
                text = f.read()
            if RE_GEN.search(text):
                dt = time.monotonic() - t0
                m = RE_IN_FORCE.search(text)
                ld = RE_LOADED.search(text)
                return {"reload_s": dt,
                        "reload_load_ms": float(ld.group(1)) if ld else None,
                        "reload_routes": int(m.group(1)) if m else None,
                        "reload_routes_ms": float(m.group(4)) if m else None}
            if RE_RELOAD_FAIL.search(text):
                return {"reload_error": text.strip()[-300:]}
            time.sleep(0.005)
        return {"reload_error": f"no 'in force' within {timeout} s"}
    return hook


# ---------------------------------------------------------------------------
# Checks of Sluice runs.

def check_route(r, stats_file, allowed, neighbours):
    """The dataplane's exit counters: every packet it received (pcap port,
    and the twins: the kernel's ARP requests for unresolved gateways) left
    by a port or was dropped for one of the allowed reasons (before the
    window: check_common saw rx == tx within it), nothing else dropped, no
    port dropped on TX, every mbuf back."""
    errs = []
    try:
        with open(stats_file) as f:
            st = json.load(f)
    except (OSError, ValueError) as err:
        return [f"no exit counters in {stats_file}: {err}"]
    ports = st.get("ports", [])
    rx = sum(p.get("rx_packets", 0) for p in ports)
    tx = sum(p.get("tx_packets", 0) for p in ports)
    drops = {k: v for k, v in st.get("drops", {}).items() if v}
    ok_drops = sum(v for k, v in drops.items() if k in allowed)
    bad = {k: v for k, v in drops.items() if k not in allowed}
    if rx == 0:
        errs.append("the dataplane counted no packet received")
    if bad:
        errs.append(f"dataplane drops {bad}")
    if rx != tx + ok_drops:
        errs.append(f"dataplane rx {rx} != tx {tx} + drops {ok_drops}")
    for p in ports:
        if p.get("tx_dropped"):
            errs.append(f"port {p['id']} tx_dropped {p['tx_dropped']}")
    mp = st.get("mempool", {})
    if mp and mp.get("size") != mp.get("available_at_exit"):
        errs.append(f"mbufs not returned: {mp}")
    rt = st.get("routing", {})
    if rt.get("neighbours", 0) < neighbours:
        errs.append(f"{rt.get('neighbours')} of {neighbours} neighbours "
                    "known at exit")
    r["dp_rx"], r["dp_tx"], r["dp_drops"] = rx, tx, drops
    r["dp_routing"] = rt
    return errs


# ---------------------------------------------------------------------------
# A Sluice run with its namespace and watcher.

def run_sluice(a, name, policy, log, stats_file, allowed, before_stop=None,
               binary=None):
    if os.path.exists(stats_file):
        os.unlink(stats_file)
    netns_create()
    w = Watcher(log, neigh_batch(a.meta))
    try:
        argv, how = cmd_sluice(a, f"{PREFIX}-{name}", policy, stats_file,
                               binary)
        # The log exists before run_one writes to it; the watcher starts
        # reading it right away, so its clock starts with the process.
        open(log, "w").close()
        w.start()
        r = bd.run_one(a, name, argv, how, log, before_stop)
    finally:
        w.stop()
        netns_delete()
    r["errors_extra"] = []
    if w.in_force is None:
        r["errors_extra"].append("no 'routes in force' line in the log")
    else:
        t, v4, static, kernel, ms = w.in_force
        r["load"] = {"start_to_in_force_s": t, "routes_ipv4": v4,
                     "static": static, "kernel": kernel, "build_ms": ms,
                     "neigh_s": w.neigh_t, **w.startup()}
    if w.neigh_error:
        r["errors_extra"].append(f"neighbours: {w.neigh_error}")
    r["errors_extra"] += check_route(r, stats_file, allowed,
                                     len(a.meta["gateways"]))
    return r


def run_kernel(a, name, log, stats_file):
    """sluice-kernel-1M: start the dataplane mirroring the (empty) kernel
    table, add the neighbours, then feed the 1M routes with `ip -batch`
    (on CPU 0, beside the dataplane's control thread); record when ip is
    done and the periodic reports (--stats-interval 1) around the moment
    the mirror has them all; then measure a forwarding window as run_one
    does."""
    if os.path.exists(stats_file):
        os.unlink(stats_file)
    prefix = f"{PREFIX}-{name}"
    n = a.meta["routes"]
    netns_create()
    open(log, "w").close()
    w = Watcher(log, neigh_batch(a.meta))
    w.start()
    argv, how = cmd_sluice(a, prefix, a.files["policy_kernel"], stats_file)
    extra = {}
    with open(log, "ab") as f:
        f.write((" ".join(argv) + "\n\n").encode())
        f.flush()
        proc = bd.start(argv, a.nice, stdin=subprocess.PIPE, stdout=f,
                        stderr=subprocess.STDOUT)
    ip = None
    try:
        try:
            tm = telemetry.Telemetry(prefix, timeout=a.start_timeout)
        except telemetry.TelemetryError as err:
            raise bd.BenchError(f"{name}: {err} (log {log})") from err
        with tm:
            wait_for(lambda: w.neigh_t is not None, a.start_timeout,
                     f"{name}: routes in force and neighbours", proc)
            time.sleep(0.5)     # the neighbours reach it over netlink
            ip_argv = ["ip", "-n", NETNS, "-batch", a.files["ip"]]
            if shutil.which("taskset"):
                ip_argv = ["taskset", "-c", "0", *ip_argv]
            t0 = time.monotonic()
            ip = subprocess.Popen(ip_argv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            t_ip = None
            deadline = t0 + a.kernel_timeout

            def kernel_all():
                return any(s[3] >= n for s in w.stats)
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise bd.BenchError(f"{name}: the dataplane exited "
                                        f"({proc.returncode}, log {log})")
                if t_ip is None and ip.poll() is not None:
                    t_ip = time.monotonic()
                    if ip.returncode != 0:
                        raise bd.BenchError(f"{name}: ip -batch failed: "
                                            f"{ip.stderr.read()[-300:]}")
                if t_ip is not None and kernel_all():
                    break
                time.sleep(0.05)
            else:
                raise bd.BenchError(f"{name}: the dataplane did not report "
                                    f"{n} kernel routes within "
                                    f"{a.kernel_timeout:g} s (log {log})")
            # The periodic reports (1 s apart) bracket the moment the
            # mirror had every route: the last one short of it, the first
            # one with all.  Times from ip's start; "lag" is the first
            # report with all minus ip's end (negative: the mirror had
            # them all before ip had exited and been noticed).
            first_all = next(s for s in w.stats if s[3] >= n)
            short = [s for s in w.stats if s[0] < first_all[0]]
            extra = {"ip_batch_s": t_ip - t0,
                     "reported_all_s": first_all[0] + w.t0 - t0,
                     "reported_short_s": (short[-1][0] + w.t0 - t0
                                          if short else None),
                     "lag_s": first_all[0] + w.t0 - t_ip,
                     "kernel_routes": first_all[3]}
            # A forwarding window with the mirrored table.
            time.sleep(a.warmup)
            snaps = [bd.snapshot(tm, proc.pid)]
            steps = max(1, round(a.seconds))
            for i in range(1, steps + 1):
                time.sleep(max(0.0, snaps[0]["t"] + i * a.seconds / steps
                               - time.monotonic()))
                snaps.append(bd.snapshot(tm, proc.pid))
    finally:
        if ip is not None and ip.poll() is None:
            ip.kill()
            ip.wait()
        status = bd.stop(proc, how)
        w.stop()
        shutil.rmtree(os.path.join(telemetry.RUNTIME_DIR, prefix),
                      ignore_errors=True)
        netns_delete()
    s0, s1 = snaps[0], snaps[-1]
    dt = s1["t"] - s0["t"]
    tx = bd.delta(s0, s1, NULL_PORT, "opackets")
    busy = max((s1["threads"].get(t, 0) - s0["threads"].get(t, 0)
                for t in s1["threads"]), default=0)
    r = {"seconds": dt, "packets": tx, "pps": tx / dt,
         "pps_samples": [bd.delta(x, y, NULL_PORT, "opackets")
                         / (y["t"] - x["t"]) for x, y in zip(snaps, snaps[1:])],
         "rx_packets": bd.delta(s0, s1, PCAP_PORT, "ipackets"),
         "other_streams": bd.delta(s0, s1, NULL_PORT, "ipackets")
                          + bd.delta(s0, s1, PCAP_PORT, "opackets"),
         "tx_errors": bd.delta(s0, s1, NULL_PORT, "oerrors"),
         "worker_cpu": busy / bd.CLK_TCK / dt,
         "cpu0_busy": bd.busy_fraction(s0["cpus"], s1["cpus"], 0),
         "read_s": max(x["read_s"] for x in snaps),
         "exit": status, "log": log, "extra": extra,
         "errors_extra": []}
    if w.in_force:
        r["load"] = {"start_to_in_force_s": w.in_force[0],
                     "build_ms": w.in_force[4], "neigh_s": w.neigh_t}
    if w.neigh_error:
        r["errors_extra"].append(f"neighbours: {w.neigh_error}")
    if extra.get("kernel_routes") != n:
        r["errors_extra"].append(f"kernel routes {extra.get('kernel_routes')}"
                                 f" != {n}")
    r["errors_extra"] += check_route(r, stats_file, {"no_neigh", "no_route"},
                                     len(a.meta["gateways"]))
    return r


# ---------------------------------------------------------------------------

def fmt(x, f="{:.2f}"):
    return f.format(x) if x is not None else "-"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(
        description="Sluice routing with a 1M-route Internet-shaped IPv4 "
                    "table vs testpmd io (ceiling) vs l3fwd LPM (and FIB) "
                    "with the same table, net_pcap -> net_null, one worker "
                    "lcore, 64-byte frames, 10k flows; load times of 1M "
                    "routes from the policy and from a kernel table.")
    ap.add_argument("--build", default=os.path.join(repo, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--routes", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--gateways", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="testpmd,l3fwd,fib,sluice,kernel",
                    help="configurations to run (default all: testpmd, "
                         "l3fwd, fib, sluice, kernel); add noreload to "
                         "skip sluice's SIGHUP with a changed table")
    ap.add_argument("--nice", type=int, default=-10)
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd"))
    ap.add_argument("--l3fwd", help="l3fwd built with room for 1M routes "
                    "(run.sh: bench/l3fwd/l3fwd-lpm-1m.patch)")
    ap.add_argument("--dataplane", dest="extra_dataplane", action="append",
                    default=[], metavar="LABEL=PATH",
                    help="another sluice-dataplane build measured beside "
                         "BUILD's as sluice@LABEL-route-1M (A/B); repeatable")
    ap.add_argument("--json")
    ap.add_argument("--quiet-wait", type=float, default=10)
    ap.add_argument("--start-timeout", type=float, default=300,
                    help="seconds a process may take to forward its first "
                         "packet (l3fwd adds 1M routes to rte_lpm one by "
                         "one: about a minute)")
    ap.add_argument("--kernel-timeout", type=float, default=300,
                    help="seconds for ip -batch and the mirror (default 300)")
    a = ap.parse_args()

    a.work = os.path.join(a.build, "bench-work")
    logs = os.path.join(a.work, "logs")
    os.makedirs(logs, exist_ok=True)
    a.dataplane = os.path.join(a.build, "sluice-dataplane")
    a.l3fwd = a.l3fwd or os.path.join(a.work, "l3fwd-lpm1m", "l3fwd")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (hugepages, namespaces, DPDK)")
    meta = routes.ensure(os.path.join(a.work, "route"), a.routes, a.flows,
                         a.gateways, a.seed)
    a.meta, a.files = meta, meta["files"]
    a.pcap = a.files["pcap"]
    a.routes_v4, a.routes_v6 = a.files["v4"], a.files["v6"]
    only = set(a.only.split(","))

    # (name, run(log) -> result, extra checks(result) -> errors)
    configs, missing = [], []

    def telemetry_cfg(name, make):
        configs.append((name, lambda log: bd.run_one(
            a, name, *make(f"{PREFIX}-{name}"), log)))

    if "testpmd" in only:
        if a.testpmd:
            telemetry_cfg("testpmd-io", lambda p: bd.cmd_testpmd(a, p))
        else:
            missing.append("testpmd: dpdk-testpmd not found (package dpdk)")
    have_l3fwd = os.access(a.l3fwd, os.X_OK)
    for key, lookup in (("l3fwd", "lpm"), ("fib", "fib")):
        if key not in only:
            continue
        if have_l3fwd:
            telemetry_cfg(f"l3fwd-{lookup}-1M",
                          lambda p, lk=lookup: cmd_l3fwd(a, p, lk))
        else:
            missing.append(f"l3fwd-{lookup}: {a.l3fwd} missing (bench/run.sh "
                           "route builds it)")
    have_dp = os.access(a.dataplane, os.X_OK)
    if not have_dp and only & {"sluice", "kernel"}:
        missing.append(f"sluice: {a.dataplane} not built (ninja -C {a.build})")
    binaries = [("sluice", a.dataplane)] if have_dp else []
    for extra in a.extra_dataplane:
        label, _, path = extra.partition("=")
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"bench: --dataplane wants LABEL=PATH of a binary, "
                     f"got {extra}")
        binaries.append((f"sluice@{label}", path))
    for label, binary in binaries if "sluice" in only else ():
        name = f"{label}-route-1M"
        stats = os.path.join(a.work, f"{name}.stats.json")
        link = os.path.join(a.work, "route", f"policy-{label}.json")

        def run_static(log, name=name, stats=stats, link=link, binary=binary):
            # The dataplane reads the policy through a symlink, so that the
            # reload hook can switch it to the changed table atomically.
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(a.files["policy"], link)
            hook = (None if "noreload" in only else
                    reload_hook(a, link, a.files["policy_reload"]))
            return run_sluice(a, name, link, log, stats, {"no_neigh"}, hook,
                              binary)
        configs.append((name, run_static))
    if "kernel" in only and have_dp:
        name = "sluice-kernel-1M"
        stats = os.path.join(a.work, f"{name}.stats.json")
        configs.append((name, lambda log, name=name, stats=stats:
                        run_kernel(a, name, log, stats)))
    for m in missing:
        print(f"bench: skipped {m}", file=sys.stderr)
    if not configs:
        sys.exit("bench: nothing to run")

    info = bd.machine()
    print(f"bench: {info.get('Model name', '?')}, {info.get('CPU(s)', '?')} "
          f"CPUs, kernel {info['kernel']}, DPDK {info.get('dpdk', '?')}, "
          f"load average {' '.join(info['loadavg'])}")
    print(f"bench: {meta['routes']} IPv4 routes (prefix lengths "
          + ", ".join(f"/{k} {v}" for k, v in meta["length_counts"].items())
          + f"), {meta['flows']} flows of 64-byte frames ({a.pcap}); "
          f"{a.runs} x {a.seconds:g} s per configuration after "
          f"{a.warmup:g} s warm-up, interleaved; logs in {logs}")

    w = max([16] + [len(c[0]) for c in configs])
    results = {c[0]: [] for c in configs}
    failures = {c[0]: [] for c in configs}
    tsc_hz = None
    for rnd in range(a.runs):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        for name, run in order:
            log = os.path.join(logs, f"route-{name}-{rnd + 1}.log")
            waited = bd.wait_for_quiet(a.quiet_wait) if a.quiet_wait else 0
            try:
                r = run(log)
            except (bd.BenchError, subprocess.SubprocessError, OSError) as err:
                failures[name].append(str(err))
                print(f"  round {rnd + 1} {name:<{w}} FAILED: {err}",
                      flush=True)
                continue
            errs = bd.check_common(name, r) + r.pop("errors_extra", [])
            if r["packets"] <= 0:
                errs.append("nothing reached the null port in the window")
            if name == "testpmd-io" and tsc_hz is None:
                tsc_hz = bd.tsc_hz_from_log(log)
            if name.startswith("l3fwd"):
                with open(log, errors="replace") as f:
                    m = re.search(r"(?:LPM|FIB): (\d+) IPv4 routes added in "
                                  r"([\d.]+) s", f.read())
                if m:
                    r["load"] = {"routes_ipv4": int(m.group(1)),
                                 "build_ms": float(m.group(2)) * 1e3}
            r.update(errors=errs, waited_s=waited, round=rnd)
            results[name].append(r)
            failures[name].extend(errs)
            note = ""
            ld = r.get("load") or {}
            if "build_ms" in ld:
                note += f"  table built in {ld['build_ms']:.0f} ms"
            if "start_to_in_force_s" in ld:
                note += (f" (start -> in force "
                         f"{ld['start_to_in_force_s']:.2f} s)")
            ex = r.get("extra") or {}
            if "reload_s" in ex:
                note += (f"  reload {ex['reload_s']:.2f} s (routes "
                         f"{fmt(ex['reload_routes_ms'], '{:.0f}')} ms)")
            elif "reload_error" in ex:
                note += f"  reload FAILED: {ex['reload_error'][:100]}"
            if "ip_batch_s" in ex:
                note += (f"  ip -batch {ex['ip_batch_s']:.1f} s; all "
                         f"{ex['kernel_routes']} reported at "
                         f"{ex['reported_all_s']:.1f} s (previous report "
                         f"{fmt(ex['reported_short_s'], '{:.1f}')} s)")
            if r.get("dp_drops"):
                note += f"  drops before the window {r['dp_drops']}"
            print(f"  round {rnd + 1} {name:<{w}} {r['pps'] / 1e6:7.2f} Mpps"
                  f"  worker on CPU {100 * r['worker_cpu']:5.1f}%"
                  f"  CPU0 busy {100 * r['cpu0_busy']:5.1f}%{note}"
                  f"{'  CHECK FAILED: ' + '; '.join(errs) if errs else ''}",
                  flush=True)

    mhz = bd.kernel_tsc_mhz()
    if mhz:
        tsc_hz = mhz * 1e6
    summary = {}
    for name, rs in results.items():
        ok = [r for r in rs if not r["errors"]]
        if not ok:
            continue
        summary[name] = bd.run_summary(ok, tsc_hz)

    def paired(name, base):
        return bd.same_round_ratio(results, name, base)

    ceil = summary.get("testpmd-io", {}).get("mpps")
    l3 = summary.get("l3fwd-lpm-1M", {}).get("mpps")
    print()
    print(f"TSC {tsc_hz / 1e9:.3f} GHz; cycles/pkt = TSC Hz / pps of the one "
          f"worker" if tsc_hz else "TSC frequency unknown")
    hdr = (f"{'configuration':<{w}} {'Mpps':>7} {'min-max':>13} {'cyc/pkt':>8}"
           f" {'x ceiling':>9} {'x l3fwd':>8} {'worker CPU':>10}"
           f" {'CPU0 busy':>9} {'runs':>5}")
    print(hdr)
    print("-" * len(hdr))
    for name, _ in configs:
        s = summary.get(name)
        if s is None:
            print(f"{name:<{w}} {'failed':>7}   "
                  f"{'; '.join(failures[name])[:300]}")
            continue
        s["x_ceiling"] = s["mpps"] / ceil if ceil else None
        s["x_l3fwd"] = s["mpps"] / l3 if l3 else None
        s["paired_x_ceiling"] = paired(name, "testpmd-io")
        s["paired_x_l3fwd"] = paired(name, "l3fwd-lpm-1M")
        print(f"{name:<{w}} {s['mpps']:7.2f} {s['min']:6.2f}-{s['max']:<6.2f}"
              f" {fmt(s['cycles'], '{:.1f}'):>8} {fmt(s['x_ceiling']):>9}"
              f" {fmt(s['x_l3fwd']):>8} {100 * s['worker_cpu']:9.1f}%"
              f" {100 * s['cpu0_busy']:8.1f}% {s['n']:>2}/{a.runs}")
    for name, _ in configs:
        s = summary.get(name)
        if s and name != "testpmd-io" and (s["paired_x_ceiling"]
                                           or s["paired_x_l3fwd"]):
            print(f"  {name}: same-round ratios, median (min-max): "
                  + "; ".join(f"x {k} {p[0]:.2f} ({p[1]:.2f}-{p[2]:.2f})"
                              for k, p in (("ceiling", s["paired_x_ceiling"]),
                                           ("l3fwd", s["paired_x_l3fwd"]))
                              if p))
    print("Mpps: median of the runs' means over their window; cyc/pkt and "
          "ratios from the medians.")

    # Load times, medians over the runs that produced them.
    def med(name, path):
        xs = []
        for r in results.get(name, []):
            v = r
            for k in path:
                v = (v or {}).get(k)
            if v is not None:
                xs.append(v)
        return (statistics.median(xs), min(xs), max(xs), len(xs)) \
            if xs else None

    loads = {}
    print("\nload times of the 1M-route table (median (min-max) over runs):")
    for label, name, path, unit in (
            ("l3fwd LPM: rte_lpm_add of every route", "l3fwd-lpm-1M",
             ("load", "build_ms"), "ms"),
            ("l3fwd FIB: rte_fib_add of every route", "l3fwd-fib-1M",
             ("load", "build_ms"), "ms"),
            ("Sluice, policy at start: process start -> 'routes in force'",
             "sluice-route-1M", ("load", "start_to_in_force_s"), "s"),
            ("Sluice, of which EAL init (exec -> its last log line)",
             "sluice-route-1M", ("load", "eal_s"), "s"),
            ("Sluice, of which the policy file (decode, validate, bind)",
             "sluice-route-1M", ("load", "policy_load_s"), "s"),
            ("Sluice, of which the tables (firewall, routes)",
             "sluice-route-1M", ("load", "tables_s"), "s"),
            ("Sluice, of which the route table's build (its log)",
             "sluice-route-1M", ("load", "build_ms"), "ms"),
            ("Sluice, SIGHUP with a changed table -> 'generation in force'",
             "sluice-route-1M", ("extra", "reload_s"), "s"),
            ("Sluice, of which loading the policy file (its log)",
             "sluice-route-1M", ("extra", "reload_load_ms"), "ms"),
            ("Sluice, of which applying the routes (its log)",
             "sluice-route-1M", ("extra", "reload_routes_ms"), "ms"),
            ("kernel: ip -batch of 1M routes into table "
             f"{meta['kernel_table']}", "sluice-kernel-1M",
             ("extra", "ip_batch_s"), "s"),
            ("Sluice, kernel table: first 1 s report with all 1M, from "
             "ip's start", "sluice-kernel-1M", ("extra", "reported_all_s"),
             "s"),
            ("Sluice, kernel table: that report minus ip's end",
             "sluice-kernel-1M", ("extra", "lag_s"), "s")):
        m = med(name, path)
        if m is None:
            continue
        loads[label] = m
        f = "{:.0f}" if unit == "ms" else "{:.2f}"
        print(f"  {label}: {f.format(m[0])} {unit} "
              f"({f.format(m[1])}-{f.format(m[2])}, {m[3]} runs)")

    print("\ntargets (issue 4):")
    sl = summary.get("sluice-route-1M")
    if sl and l3:
        p = sl["paired_x_l3fwd"]
        x = sl["mpps"] / l3
        print(f"  forwarding with 1M routes >= l3fwd LPM: "
              f"{'met' if x >= 1.0 else 'NOT met'} ({x:.2f} x"
              + (f"; same-round {p[0]:.2f} ({p[1]:.2f}-{p[2]:.2f})" if p
                 else "") + ")")
    rl = med("sluice-route-1M", ("extra", "reload_s"))
    st = med("sluice-route-1M", ("load", "start_to_in_force_s"))
    kr = med("sluice-kernel-1M", ("extra", "lag_s"))
    if rl or kr:
        parts = []
        if rl:
            parts.append(f"policy reload {rl[0]:.2f} s")
        if st:
            parts.append(f"policy at start {st[0]:.2f} s after exec")
        if kr:
            ip = med("sluice-kernel-1M", ("extra", "ip_batch_s"))
            parts.append(f"kernel table: all mirrored by {kr[0]:+.2f} s after"
                         f" ip -batch ended (1 s reports), ip itself took "
                         f"{ip[0]:.0f} s")
        # The requests: a SIGHUP with a changed policy, and the kernel's
        # own changes (how far the mirror trails them); the start is
        # shown for information.
        worst = max((x[0] for x in (rl, kr) if x), default=0)
        print(f"  1M routes active <= 2 s after the request: "
              f"{'met' if worst <= 2 else 'NOT met'} ({'; '.join(parts)})")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "tsc_hz": tsc_hz,
                       "args": {k: v for k, v in vars(a).items()
                                if k != "meta"},
                       "table": {k: v for k, v in meta.items()
                                 if k != "files"},
                       "runs": results, "summary": summary, "loads": loads,
                       "failures": failures}, f, indent=2, default=str)
        print(f"\nbench: figures written to {a.json}")
    if any(failures.values()):
        print("\nbench: some runs failed their checks (see above and the logs)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
