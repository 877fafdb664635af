# SPDX-License-Identifier: BSD-3-Clause
"""Firewall benchmark (issue 3): Sluice's firewall beside the DPDK ceiling,
DPDK's l3fwd in ACL mode and Open vSwitch with DPDK, with the same rules.

Run it through `bench/run.sh firewall`, which reserves hugepages and builds
l3fwd first.  Same method as bench_dataplane.py (whose helpers it uses):
net_pcap (infinite_rx) -> net_null (no-rx), one busy-polling worker on
lcore 1, rates from the null port's transmitted packets over a window after
a warm-up, configurations interleaved round by round, medians.

Configurations (rule sets and traffic from fwrules.py):
  testpmd-io          the ceiling, on the same 64-byte traffic
  l3fwd-acl-<n>       l3fwd --lookup acl with the n rules as '@'/'R' lines
  sluice-<n>-ct<on|off>   sluice-dataplane --policy, conntrack on / off
  ovs-<n>             ovs-vswitchd (DPDK) with the n rules as OpenFlow flows
  hs: testpmd-io-hs, sluice-hs-none, sluice-hs-1000 on 512/1500-byte
      HTTP-ish frames: the cost of 1,000 Hyperscan literals, in Gbit/s
Then build/bench_fw (build times, new flows/s, memory per million flows)
and the reload time of the running dataplane under load (SIGHUP, from its
log: "built in X ms" and the moment "in force" appears).
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_dataplane as bd  # noqa: E402
import fwrules  # noqa: E402

PCAP_PORT, NULL_PORT = bd.PCAP_PORT, bd.NULL_PORT
PREFIX = bd.PREFIX
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
HS_FRAME_BYTES = (512 + 1500) / 2 + 4     # mean frame of hs-traffic, + FCS


# ---------------------------------------------------------------------------
# Command lines.

def cmd_testpmd(a, prefix, pcap):
    return [a.testpmd, *bd.eal("0,1", prefix, pcap,
                               ["--log-level=lib.eal:debug"]),
            "--", "--forward-mode=io", "--nb-cores=1", "--rxq=1", "--txq=1",
            "--burst=32", "--total-num-mbufs=65536"], "stdin"


def cmd_l3fwd_acl(a, prefix, files):
    # As bench_dataplane's l3fwd LPM run (lcore 1 alone, --parse-ptype),
    # with --lookup acl.  The queue sizes only size its mbuf pool:
    # infinite_rx holds all 20,000 frames of the capture in mbufs.
    return [a.l3fwd, *bd.eal("1", prefix, a.pcap),
            "--", "-p", "0x3", "-P", "--lookup=acl",
            f"--config=({PCAP_PORT},0,1),({NULL_PORT},0,1)",
            f"--eth-dest={NULL_PORT},02:00:00:00:01:01",
            f"--eth-dest={PCAP_PORT},02:00:00:00:01:00",
            f"--rule_ipv4={files['acl4']}", f"--rule_ipv6={files['acl6']}",
            "--parse-ptype",
            "--rx-queue-size", "8192", "--tx-queue-size", "8192"], "sigint"


def cmd_sluice(a, prefix, pcap, policy, stats_file):
    return [a.dataplane, *bd.eal("0,1", prefix, pcap),
            "--", "--policy", policy, "--mbufs", "65536",
            "--stats-file", stats_file], "sigint"


# ---------------------------------------------------------------------------
# Checks and extras of Sluice runs.

def rule_counts(stats_file):
    with open(stats_file) as f:
        st = json.load(f)
    return {r["id"]: r.get("packets", 0) for r in st.get("rules", [])}


def check_fw(r, stats_file, kind, conntrack):
    """bench_dataplane's checks (rx == tx, no drop, mbufs back) and the
    rule counters: the traffic was accepted by the two rules at the end of
    the list (fw) or ~1% by a payload rule (hs)."""
    errs = bd.check_sluice(r, stats_file)
    try:
        rules = rule_counts(stats_file)
    except (OSError, ValueError, KeyError) as err:
        return errs + [f"no rule counters: {err}"]
    if kind == "fw":
        deep = rules.get("traffic-fwd", 0) + rules.get("traffic-rev", 0)
        other = sum(v for k, v in rules.items()
                    if not k.startswith("traffic-"))
        r["rule_hits"] = {"deep": deep, "other": other}
        if other:
            errs.append(f"{other} packets matched a random rule")
        # Without conntrack every packet walks the ACL to the deep rules;
        # with it, the verdict cache may answer without counting there.
        if not conntrack and deep != r.get("dp_rx"):
            errs.append(f"deep rules counted {deep} of {r.get('dp_rx')}")
    else:
        hs = sum(v for k, v in rules.items() if k.startswith("hs"))
        r["rule_hits"] = {"payload": hs,
                          "share": hs / r["dp_rx"] if r.get("dp_rx") else 0}
    return errs


def reload_timer(timeout=120):
    """before_stop hook: SIGHUP the dataplane (it rebuilds the same file)
    and time, from its log, the build and the moment the new generation is
    in force, while the worker keeps forwarding."""
    def hook(proc, log_path):
        start_size = os.path.getsize(log_path)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        built = None
        while time.monotonic() - t0 < timeout:
            with open(log_path, errors="replace") as f:
                f.seek(start_size)
                text = f.read()
            m = re.search(r"policy generation \d+: .* built in ([\d.]+) ms", text)
            if m:
                built = float(m.group(1))
            if re.search(r"policy generation \d+ in force", text):
                return {"reload_s": time.monotonic() - t0, "build_ms": built}
            if re.search(r"reload of .*keeping generation", text):
                return {"reload_error": text.strip()[-300:]}
            time.sleep(0.01)
        return {"reload_error": f"no 'in force' within {timeout} s"}
    return hook


# ---------------------------------------------------------------------------
# Open vSwitch with DPDK, started privately under WORK/ovs.

class Ovs:
    def __init__(self, a, name, files, log):
        self.a = a
        self.dir = os.path.join(a.work, "ovs")
        self.db = os.path.join(self.dir, "conf.db")
        self.sock = "unix:" + os.path.join(self.dir, "db.sock")
        self.files = files
        self.log = log
        self.prefix = f"{PREFIX}-{name}"
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir,
                        OVS_DBDIR=self.dir, OVS_SYSCONFDIR=self.dir)

    def sh(self, *argv, check=True, timeout=300):
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        with open(self.log, "a") as f:
            f.write(f"$ {' '.join(argv)[:300]}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        if check and p.returncode:
            raise bd.BenchError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''}"
                                f" failed: {p.stderr.strip()[-300:]} (log {self.log})")
        return p.stdout

    def vsctl(self, *args, **kw):
        return self.sh("ovs-vsctl", f"--db={self.sock}", "--timeout=120",
                       *args, **kw)

    def pid(self, name):
        try:
            with open(os.path.join(self.dir, f"{name}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.sh("ovsdb-tool", "create", self.db, OVS_SCHEMA)
        self.sh("ovsdb-server", self.db, f"--remote=p{self.sock}",
                f"--pidfile={self.dir}/ovsdb-server.pid", "--detach",
                f"--log-file={self.dir}/ovsdb-server.log",
                f"--unixctl={self.dir}/ovsdb-server.ctl")
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true",
                   "other_config:dpdk-lcore-mask=0x1",
                   "other_config:pmd-cpu-mask=0x2",
                   f'other_config:dpdk-extra="--no-pci --file-prefix={self.prefix}"')
        # The main thread and its helpers on CPU 0; the PMD thread pins
        # itself to core 1 (pmd-cpu-mask).
        argv = [OVS_VSWITCHD, self.sock,
                f"--pidfile={self.dir}/ovs-vswitchd.pid", "--detach",
                f"--log-file={self.dir}/ovs-vswitchd.log",
                f"--unixctl={self.dir}/ovs-vswitchd.ctl"]
        if shutil.which("taskset"):
            argv = ["taskset", "-c", "0", *argv]
        if self.a.nice:
            argv = ["nice", "-n", str(self.a.nice), *argv]
        self.sh(*argv, timeout=180)
        self.vsctl("add-br", "br0", "--", "set", "bridge", "br0",
                   "datapath_type=netdev", "fail_mode=secure")
        # Rules first, then the null port, then the pcap port: traffic only
        # starts with every flow in place.
        self.sh("ovs-ofctl", "del-flows", "br0")
        t0 = time.monotonic()
        self.sh("ovs-ofctl", "add-flows", "br0", self.files["ofp"], timeout=600)
        self.add_flows_s = time.monotonic() - t0
        self.n_flows = int(self.sh("ovs-ofctl", "dump-aggregate", "br0").split(
            "flow_count=")[1].split()[0])
        self.vsctl("add-port", "br0", "p1", "--", "set", "Interface", "p1",
                   "type=dpdk", "options:dpdk-devargs=net_null0,no-rx=1",
                   f"ofport_request={fwrules.OF_OUT}")
        self.vsctl("add-port", "br0", "p0", "--", "set", "Interface", "p0",
                   "type=dpdk",
                   f"options:dpdk-devargs=net_pcap0,rx_pcap={self.a.pcap},infinite_rx=1",
                   f"ofport_request={fwrules.OF_IN}")

    def appctl(self, *args, **kw):
        return self.sh("ovs-appctl", "-t", f"{self.dir}/ovs-vswitchd.ctl",
                       *args, **kw)

    def stats(self):
        """Live port counters (the Interface table's statistics column is
        refreshed only every 5 s)."""
        out = self.appctl("dpctl/show", "-s")
        st, port = {}, None
        for line in out.splitlines():
            m = re.match(r"\s*port \d+: (\S+)", line)
            if m:
                port = m.group(1)
                st[port] = {}
                continue
            m = re.match(r"\s*(RX|TX) packets:(\d+).*?(?:dropped:(\d+))?", line)
            if m and port:
                k = m.group(1).lower()
                st[port][f"{k}_packets"] = int(m.group(2))
                m2 = re.search(r"dropped:(\d+)", line)
                st[port][f"{k}_dropped"] = int(m2.group(1)) if m2 else 0
                m2 = re.search(r"errors:(\d+)", line)
                st[port][f"{k}_errors"] = int(m2.group(1)) if m2 else 0
        return {PCAP_PORT: st.get("p0", {}), NULL_PORT: st.get("p1", {})}

    def stop(self):
        for name in ("ovs-vswitchd", "ovsdb-server"):
            pid = self.pid(name)
            if not pid:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(300):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(os.path.join(bd.telemetry.RUNTIME_DIR, self.prefix),
                      ignore_errors=True)


def run_ovs(a, name, files, log):
    ovs = Ovs(a, name, files, log)
    with open(log, "w") as f:
        f.write(f"ovs {name}: {files['ofp']}\n")
    try:
        ovs.start()
        deadline = time.monotonic() + a.start_timeout
        while ovs.stats()[NULL_PORT].get("tx_packets", 0) == 0:
            if time.monotonic() > deadline:
                raise bd.BenchError(f"{name}: no packet reached the null port "
                                    f"(log {log}, {ovs.dir}/ovs-vswitchd.log)")
            time.sleep(0.2)
        # Its flow caches fill through upcalls at first: a longer warm-up
        # (--ovs-warmup), and the PMD's own figures from the window only.
        time.sleep(max(a.warmup, a.ovs_warmup))
        ovs.appctl("dpif-netdev/pmd-stats-clear", check=False)
        pid = ovs.pid("ovs-vswitchd")

        def snap():
            t0 = time.monotonic()
            s = ovs.stats()
            t1 = time.monotonic()
            return {"t": (t0 + t1) / 2, "read_s": t1 - t0, "stats": s,
                    "threads": bd.thread_cpu_ticks(pid), "cpus": bd.cpu_times()}
        samples = [snap()]
        steps = max(1, round(a.seconds))
        for i in range(1, steps + 1):
            time.sleep(max(0.0, samples[0]["t"] + i * a.seconds / steps
                           - time.monotonic()))
            samples.append(snap())
        pmd = ovs.appctl("dpif-netdev/pmd-stats-show", check=False)
    finally:
        ovs.stop()
    s0, s1 = samples[0], samples[-1]
    dt = s1["t"] - s0["t"]

    def d(port, key):
        return s1["stats"][port].get(key, 0) - s0["stats"][port].get(key, 0)
    tx = d(NULL_PORT, "tx_packets")
    busy = max((s1["threads"].get(t, 0) - s0["threads"].get(t, 0)
                for t in s1["threads"]), default=0)
    m = re.search(r"avg processing cycles per packet: ([\d.]+)", pmd)
    return {"seconds": dt, "packets": tx, "pps": tx / dt,
            "pps_samples": [(y["stats"][NULL_PORT]["tx_packets"]
                             - x["stats"][NULL_PORT]["tx_packets"])
                            / (y["t"] - x["t"]) for x, y in zip(samples, samples[1:])],
            "rx_packets": d(PCAP_PORT, "rx_packets"),
            "other_streams": d(NULL_PORT, "rx_packets") + d(PCAP_PORT, "tx_packets"),
            "tx_errors": d(NULL_PORT, "tx_errors"),
            "rx_dropped": d(PCAP_PORT, "rx_dropped"),
            "worker_cpu": busy / bd.CLK_TCK / dt,
            "cpu0_busy": bd.busy_fraction(s0["cpus"], s1["cpus"], 0),
            "read_s": max(x["read_s"] for x in samples),
            "exit": 0, "log": log,
            "extra": {"add_flows_s": ovs.add_flows_s, "openflow_flows": ovs.n_flows,
                      "pmd_cycles_per_pkt": float(m.group(1)) if m else None}}


# ---------------------------------------------------------------------------
# bench_fw.

def run_bench_fw(a):
    exe = os.path.join(a.build, "bench_fw")
    if not os.access(exe, os.X_OK):
        return None
    argv = [exe, "-l", "1", "--no-pci", "--file-prefix", f"{PREFIX}-benchfw",
            "--no-telemetry", "--", "--rules", a.rules]
    proc = bd.start(argv, a.nice, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shutil.rmtree(os.path.join(bd.telemetry.RUNTIME_DIR, f"{PREFIX}-benchfw"),
                  ignore_errors=True)
    res = {"exit": proc.returncode, "output": out, "rules": {}}
    for m in re.finditer(r"(\d+) rules: load\s+([\d.]+) ms, build\s+([\d.]+) ms,"
                         r" classify\s+([\d.]+) cycles", out):
        res["rules"][int(m.group(1))] = {"load_ms": float(m.group(2)),
                                         "build_ms": float(m.group(3)),
                                         "classify_cycles": float(m.group(4))}
    m = re.search(r"([\d.]+) M new flows/s, lookup of known flows ([\d.]+) "
                  r"cycles/packet, ([\d.]+) MB per million flows", out)
    if m:
        res["new_mflows_s"] = float(m.group(1))
        res["known_lookup_cycles"] = float(m.group(2))
        res["mb_per_mflows"] = float(m.group(3))
    return res


# ---------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(
        description="Sluice firewall vs testpmd io (ceiling) vs l3fwd ACL vs "
                    "OVS-DPDK, same rules, net_pcap -> net_null, one worker "
                    "lcore, 64-byte frames, 10k flows.")
    ap.add_argument("--build", default=os.path.join(repo, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--rules", default="1000,10000,100000",
                    help="rule-set sizes (default 1000,10000,100000)")
    ap.add_argument("--ovs-rules", default="10000",
                    help="sizes OVS runs with (default 10000; OpenFlow "
                         "priorities stop at 65535)")
    ap.add_argument("--only", default="testpmd,l3fwd,sluice,ovs,hs,benchfw,reload",
                    help="parts to run (default all)")
    ap.add_argument("--ovs-warmup", type=float, default=10,
                    help="warm-up of OVS runs, whose flow caches fill "
                         "through upcalls (default 10 s)")
    ap.add_argument("--nice", type=int, default=-10)
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd"))
    ap.add_argument("--l3fwd")
    ap.add_argument("--json")
    ap.add_argument("--quiet-wait", type=float, default=10)
    ap.add_argument("--start-timeout", type=float, default=300)
    a = ap.parse_args()

    a.work = os.path.join(a.build, "bench-work")
    fwdir = os.path.join(a.work, "fw")
    logs = os.path.join(a.work, "logs")
    os.makedirs(logs, exist_ok=True)
    a.dataplane = os.path.join(a.build, "sluice-dataplane")
    a.l3fwd = a.l3fwd or os.path.join(a.work, "l3fwd", "l3fwd")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (hugepages, DPDK runtime directory)")
    only = set(a.only.split(","))
    sizes = [int(x) for x in a.rules.split(",")]
    ovs_sizes = [int(x) for x in a.ovs_rules.split(",") if x]
    os.makedirs(fwdir, exist_ok=True)
    files = {n: fwrules.ensure_rules(fwdir, n) for n in sizes}
    a.pcap = fwrules.ensure_traffic(fwdir, a.flows)
    hs_policy, hs_none, hs_pcap = fwrules.ensure_hyperscan(fwdir)

    # (name, kind, run(prefix, log) -> result, check(result) -> errors)
    configs = []
    missing = []
    stats = {}

    def telemetry_cfg(name, make, check=None, before_stop=None):
        def run(prefix, log):
            argv, how = make(prefix)
            if name in stats and os.path.exists(stats[name]):
                os.unlink(stats[name])
            return bd.run_one(a, name, argv, how, log, before_stop)
        configs.append((name, run, check))

    if "testpmd" in only:
        if a.testpmd:
            telemetry_cfg("testpmd-io", lambda p: cmd_testpmd(a, p, a.pcap))
        else:
            missing.append("testpmd: dpdk-testpmd not found (package dpdk)")
    if "l3fwd" in only:
        if os.access(a.l3fwd, os.X_OK):
            for n in sizes:
                telemetry_cfg(f"l3fwd-acl-{n}",
                              lambda p, n=n: cmd_l3fwd_acl(a, p, files[n]))
        else:
            missing.append(f"l3fwd: {a.l3fwd} missing (bench/l3fwd/build.sh)")
    have_dp = os.access(a.dataplane, os.X_OK)
    if not have_dp:
        missing.append(f"sluice: {a.dataplane} not built (ninja -C {a.build})")
    if "sluice" in only and have_dp:
        for n in sizes:
            for ct in (True, False):
                name = f"sluice-{n}-ct{'on' if ct else 'off'}"
                stats[name] = os.path.join(a.work, f"{name}.stats.json")
                pol = files[n]["policy_on" if ct else "policy_off"]
                hook = (reload_timer() if ct and "reload" in only
                        and n >= 10000 else None)
                telemetry_cfg(name,
                              lambda p, pol=pol, name=name: cmd_sluice(
                                  a, p, a.pcap, pol, stats[name]),
                              lambda r, name=name, ct=ct: check_fw(
                                  r, stats[name], "fw", ct), hook)
    if "ovs" in only:
        if not os.access(OVS_VSWITCHD, os.X_OK):
            missing.append(f"ovs: {OVS_VSWITCHD} missing (package "
                           "openvswitch-switch-dpdk; bench/run.sh firewall "
                           "installs it)")
        else:
            for n in ovs_sizes:
                if n not in files:
                    files[n] = fwrules.ensure_rules(fwdir, n)
                configs.append((f"ovs-{n}",
                                lambda prefix, log, n=n: run_ovs(
                                    a, f"ovs-{n}", files[n], log), None))
    if "hs" in only:
        if a.testpmd:
            telemetry_cfg("testpmd-io-hs", lambda p: cmd_testpmd(a, p, hs_pcap))
        if have_dp:
            for name, pol in (("sluice-hs-none", hs_none),
                              ("sluice-hs-1000", hs_policy)):
                stats[name] = os.path.join(a.work, f"{name}.stats.json")
                telemetry_cfg(name,
                              lambda p, pol=pol, name=name: cmd_sluice(
                                  a, p, hs_pcap, pol, stats[name]),
                              lambda r, name=name: check_fw(
                                  r, stats[name], "hs", True))
    for m in missing:
        print(f"bench: skipped {m}", file=sys.stderr)

    info = bd.machine()
    print(f"bench: {info.get('Model name', '?')}, {info.get('CPU(s)', '?')} "
          f"CPUs, kernel {info['kernel']}, DPDK {info.get('dpdk', '?')}, "
          f"load average {' '.join(info['loadavg'])}")
    print(f"bench: {a.flows} flows x 2 directions of 64-byte frames "
          f"({a.pcap}); rules {a.rules} ({fwdir}); {a.runs} x {a.seconds:g} s "
          f"per configuration after {a.warmup:g} s warm-up, interleaved; "
          f"logs in {logs}")

    w = max([16] + [len(c[0]) for c in configs])
    results = {c[0]: [] for c in configs}
    failures = {c[0]: [] for c in configs}
    tsc_hz = None
    for rnd in range(a.runs):
        order = (configs[rnd % len(configs):] + configs[:rnd % len(configs)]
                 if configs else [])
        for name, run, check in order:
            log = os.path.join(logs, f"{name}-{rnd + 1}.log")
            waited = bd.wait_for_quiet(a.quiet_wait) if a.quiet_wait else 0
            try:
                r = run(f"{PREFIX}-{name}", log)
            except (bd.BenchError, subprocess.SubprocessError, OSError) as err:
                failures[name].append(str(err))
                print(f"  round {rnd + 1} {name:<{w}} FAILED: {err}", flush=True)
                continue
            errs = bd.check_common(name, r)
            if r["packets"] <= 0:
                errs.append("nothing reached the null port in the window")
            if check:
                errs += check(r)
            if name == "testpmd-io" and tsc_hz is None:
                tsc_hz = bd.tsc_hz_from_log(log)
            r.update(errors=errs, waited_s=waited, round=rnd)
            results[name].append(r)
            failures[name].extend(errs)
            ex = r.get("extra") or {}
            note = ""
            if "reload_s" in ex:
                note = (f"  reload {ex['reload_s']:.2f} s (build "
                        f"{ex['build_ms']:.0f} ms)")
            elif "reload_error" in ex:
                note = f"  reload FAILED: {ex['reload_error'][:100]}"
            if "openflow_flows" in ex:
                note = (f"  {ex['openflow_flows']} OpenFlow flows (add-flows "
                        f"{ex['add_flows_s']:.1f} s), pmd "
                        f"{ex['pmd_cycles_per_pkt']} cyc/pkt")
            if "rule_hits" in r:
                note += f"  rule hits {r['rule_hits']}"
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
        med = statistics.median(r["pps"] for r in ok)
        if med <= 0:
            failures[name].append("nothing forwarded")
            continue
        summary[name] = bd.run_summary(ok, tsc_hz)
        if name.endswith("-hs") or "-hs-" in name:
            summary[name]["gbps"] = med * HS_FRAME_BYTES * 8 / 1e9

    def paired(name, base):
        return bd.same_round_ratio(results, name, base)

    ceil = summary.get("testpmd-io", {}).get("mpps")
    print()
    print(f"TSC {tsc_hz / 1e9:.3f} GHz; cycles/pkt = TSC Hz / pps of the one "
          f"worker" if tsc_hz else "TSC frequency unknown")
    hdr = (f"{'configuration':<{w}} {'Mpps':>7} {'min-max':>13} {'cyc/pkt':>8}"
           f" {'x ceiling':>9} {'Gbit/s':>7} {'worker CPU':>10} {'CPU0 busy':>9}"
           f" {'runs':>5}")
    print(hdr)
    print("-" * len(hdr))
    for name, _, _ in configs:
        s = summary.get(name)
        if s is None:
            print(f"{name:<{w}} {'failed':>7}   {'; '.join(failures[name])[:300]}")
            continue
        base = summary.get("testpmd-io-hs" if "hs" in name else "testpmd-io",
                           {}).get("mpps")
        s["x_ceiling"] = s["mpps"] / base if base else None
        cyc = f"{s['cycles']:.1f}" if s["cycles"] else "-"
        gb = f"{s['gbps']:.2f}" if "gbps" in s else ""
        print(f"{name:<{w}} {s['mpps']:7.2f} {s['min']:6.2f}-{s['max']:<6.2f}"
              f" {cyc:>8} {bd.fmt_ratio(s['x_ceiling']):>9} {gb:>7}"
              f" {100 * s['worker_cpu']:9.1f}% {100 * s['cpu0_busy']:8.1f}%"
              f" {s['n']:>2}/{a.runs}")
    print("Gbit/s: frames of the hs traffic (512 and 1500 bytes, + 4 FCS) "
          "times Mpps.")

    fw = run_bench_fw(a) if "benchfw" in only else None
    if fw:
        print("\nbench_fw (no ports; build of a generation, classify, "
              "conntrack):")
        print(fw["output"].rstrip())

    reloads = {}
    for name, rs in results.items():
        xs = [r["extra"]["reload_s"] for r in rs
              if (r.get("extra") or {}).get("reload_s") is not None]
        bs = [r["extra"]["build_ms"] for r in rs
              if (r.get("extra") or {}).get("build_ms") is not None]
        if xs:
            reloads[name] = {"reload_s": statistics.median(xs),
                             "max_s": max(xs),
                             "build_ms": statistics.median(bs) if bs else None}
            print(f"reload under load, {name}: SIGHUP -> 'in force' "
                  f"{reloads[name]['reload_s']:.2f} s median (max "
                  f"{reloads[name]['max_s']:.2f}), of which build "
                  f"{reloads[name]['build_ms']:.0f} ms")

    print("\ntargets (issue 3):")
    n10 = 10000
    sl = summary.get(f"sluice-{n10}-cton")
    l3 = summary.get(f"l3fwd-acl-{n10}")
    ov = summary.get(f"ovs-{n10}")

    def tgt(label, ok, detail):
        print(f"  {label}: {'met' if ok else 'NOT met'} ({detail})")
    if sl and l3:
        p = paired(f"sluice-{n10}-cton", f"l3fwd-acl-{n10}")
        x = sl["mpps"] / l3["mpps"]
        tgt(">= 1.5 x l3fwd ACL, 10k rules, conntrack on", x >= 1.5,
            f"{x:.2f} x; same-round {p[0]:.2f} ({p[1]:.2f}-{p[2]:.2f})"
            if p else f"{x:.2f} x")
    if sl and ov:
        p = paired(f"sluice-{n10}-cton", f"ovs-{n10}")
        x = sl["mpps"] / ov["mpps"]
        tgt(">= 5 x OVS-DPDK, 10k rules", x >= 5,
            f"{x:.2f} x; same-round {p[0]:.2f} ({p[1]:.2f}-{p[2]:.2f})"
            if p else f"{x:.2f} x")
    if fw and 100000 in fw["rules"]:
        b = fw["rules"][100000]["build_ms"] / 1e3
        rl = reloads.get("sluice-100000-cton")
        tgt("100k rules built and swapped <= 5 s", b <= 5 and
            (rl is None or rl["reload_s"] <= 5),
            f"bench_fw build {b:.2f} s" + (f"; dataplane SIGHUP -> in force "
                                          f"{rl['reload_s']:.2f} s" if rl else ""))
    if fw and "new_mflows_s" in fw:
        tgt(">= 2 M new flows/s", fw["new_mflows_s"] >= 2,
            f"{fw['new_mflows_s']:.2f} M/s (bench_fw)")
        tgt("<= 200 MB per million flows", fw["mb_per_mflows"] <= 200,
            f"{fw['mb_per_mflows']:.1f} MB (bench_fw)")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "tsc_hz": tsc_hz, "args": vars(a),
                       "runs": results, "summary": summary, "failures": failures,
                       "bench_fw": fw, "reloads": reloads}, f, indent=2,
                      default=str)
        print(f"\nbench: figures written to {a.json}")
    if any(failures.values()):
        print("\nbench: some runs failed their checks (see above and the logs)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
