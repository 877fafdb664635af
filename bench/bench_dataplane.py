# SPDX-License-Identifier: BSD-3-Clause
"""Sluice dataplane benchmark: Mpps and cycles per packet beside the DPDK
ceiling (testpmd io forwarding) and DPDK's l3fwd (LPM), in one run.

Run it through bench/run.sh, which reserves hugepages and builds l3fwd
first.  Every configuration forwards the same pcap of 64-byte frames from
net_pcap (infinite_rx) to net_null (no-rx) with one busy-polling worker on
lcore 1, and every one is measured the same way: the null port's
transmitted packets, read twice through DPDK telemetry T seconds apart
after a warm-up.  Configurations are interleaved (run 1 of each, then run 2
of each, ...) so that a slow spell of the machine hits all of them, and the
median of the runs is reported.  Prints figures; fails only when a
configuration cannot be measured or its correctness checks fail.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import telemetry  # noqa: E402
import traffic  # noqa: E402

PCAP_PORT = 0   # net_pcap0 probes first: port 0
NULL_PORT = 1   # net_null0: port 1
PREFIX = "sluice-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# The configurations.  Each returns (argv, how to stop it).

def vdevs(pcap):
    return ["--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1"]


def eal(lcores, prefix, pcap, extra=()):
    return ["-l", lcores, "--no-pci", "--file-prefix", prefix,
            *extra, *vdevs(pcap)]


def cmd_testpmd(a, prefix):
    # -l 0,1 with --nb-cores=1: the main lcore 0 runs the prompt, lcore 1
    # forwards both streams (pcap->null and the empty null->pcap one).
    # EAL debug logs carry the TSC frequency DPDK uses.
    return [a.testpmd, *eal("0,1", prefix, a.pcap,
                            ["--log-level=lib.eal:debug"]),
            "--", "--forward-mode=io", "--nb-cores=1",
            "--rxq=1", "--txq=1", "--burst=32"], "stdin"


def cmd_l3fwd(a, prefix):
    # l3fwd opens one TX queue per lcore on every port and net_pcap has one,
    # so it runs on lcore 1 alone: that lcore is both its main and its only
    # forwarding lcore (its control threads then sit on CPU 0, as for the
    # others).  --parse-ptype: net_pcap sets no packet types, l3fwd then
    # classifies in software (as sluice does).  The queue sizes only size
    # its mbuf pool: net_pcap's infinite_rx keeps a copy of all 10,000
    # frames in mbufs, more than l3fwd's default 8192-mbuf pool.
    return [a.l3fwd, *eal("1", prefix, a.pcap),
            "--", "-p", "0x3", "-L", "-P",
            f"--config=({PCAP_PORT},0,1),({NULL_PORT},0,1)",
            f"--eth-dest={NULL_PORT},02:00:00:00:01:01",
            f"--eth-dest={PCAP_PORT},02:00:00:00:01:00",
            f"--rule_ipv4={a.routes_v4}", f"--rule_ipv6={a.routes_v6}",
            "--parse-ptype",
            "--rx-queue-size", "4096", "--tx-queue-size", "4096"], "sigint"


def cmd_sluice(a, binary, prefix, parser, stats_file):
    return [binary, *eal("0,1", prefix, a.pcap),
            "--", "--xconnect", f"{PCAP_PORT}:{NULL_PORT}",
            "--parser", parser, "--stats-file", stats_file], "sigint"


# ---------------------------------------------------------------------------
# Measuring one run.

def thread_cpu_ticks(pid):
    """{tid: utime+stime ticks} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = int(fields[11]) + int(fields[12])
    return out


def cpu_times():
    """{cpu: (busy, total)} ticks from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                v = [int(x) for x in v[:8]]
                # user nice system idle iowait irq softirq steal
                busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
                out[int(name[3:])] = (busy, sum(v))
    return out


def busy_fraction(c0, c1, cpu):
    busy = c1[cpu][0] - c0[cpu][0]
    total = c1[cpu][1] - c0[cpu][1]
    return busy / total if total else 0.0


def wait_for_quiet(limit, threshold=0.15):
    """Wait (at most limit seconds) until both CPUs are idle: other people's
    compilers share the two cores.  Returns the seconds waited."""
    t0 = time.monotonic()
    c0 = cpu_times()
    while time.monotonic() - t0 < limit:
        time.sleep(0.5)
        c1 = cpu_times()
        if all(busy_fraction(c0, c1, cpu) < threshold for cpu in c1):
            break
        c0 = c1
    return time.monotonic() - t0


def snapshot(tm, pid):
    t0 = time.monotonic()
    s = {p: tm.ethdev_stats(p) for p in (PCAP_PORT, NULL_PORT)}
    t1 = time.monotonic()
    return {"t": (t0 + t1) / 2, "read_s": t1 - t0, "stats": s,
            "threads": thread_cpu_ticks(pid), "cpus": cpu_times()}


def delta(s0, s1, port, key):
    return s1["stats"][port][key] - s0["stats"][port][key]


def stop(proc, how, timeout=60):
    if proc.poll() is None:
        if how == "stdin":
            try:
                proc.stdin.write(b"\n")
                proc.stdin.flush()
            except BrokenPipeError:
                pass
        else:
            proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise BenchError(f"pid {proc.pid} did not stop within {timeout} s "
                         "and was killed")


def start(argv, nice, **kw):
    """Start argv in a session of its own at the given nice value.

    With autogroup scheduling (sched_autogroup_enabled=1, the default) a
    process's nice value only counts against processes of its own session:
    each session's group gets an equal share of a CPU.  So the benchmarked
    process gets a session, and that session's group the nice value too.
    """
    if nice:
        argv = ["nice", "-n", str(nice), *argv]
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    if nice:
        try:
            with open(f"/proc/{proc.pid}/autogroup", "w") as f:
                f.write(str(nice))
        except OSError:
            pass        # no autogroup: the process's nice value is enough
    return proc


def run_one(a, name, argv, how, log_path, before_stop=None):
    """Start argv, measure, stop.  Returns a dict of figures.
    before_stop(proc, log_path), when given, runs after the window while
    the process still forwards; what it returns is kept as "extra"."""
    extra = None
    prefix = f"{PREFIX}-{name}"
    with open(log_path, "wb") as log:
        log.write((" ".join(argv) + "\n\n").encode())
        log.flush()
        proc = start(argv, a.nice, stdin=subprocess.PIPE, stdout=log,
                     stderr=subprocess.STDOUT)
    try:
        try:
            tm = telemetry.Telemetry(prefix, timeout=a.start_timeout)
        except telemetry.TelemetryError as err:
            raise BenchError(f"{name}: {err} (exit status {proc.poll()}, "
                             f"log {log_path})") from err
        with tm:
            deadline = time.monotonic() + a.start_timeout
            while tm.ethdev_stats(NULL_PORT)["opackets"] == 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"{name}: no packet reached the null "
                                     f"port (log {log_path})")
                time.sleep(0.05)
            time.sleep(a.warmup)
            # One sample a second: the window's rate is first to last, the
            # samples show how steady it was.
            samples = [snapshot(tm, proc.pid)]
            steps = max(1, round(a.seconds))
            for i in range(1, steps + 1):
                time.sleep(max(0.0, samples[0]["t"] + i * a.seconds / steps
                               - time.monotonic()))
                samples.append(snapshot(tm, proc.pid))
            if before_stop is not None:
                extra = before_stop(proc, log_path)
    finally:
        status = stop(proc, how)
        # DPDK leaves its runtime directory (config, sockets) behind.
        shutil.rmtree(os.path.join(telemetry.RUNTIME_DIR, prefix),
                      ignore_errors=True)
    s0, s1 = samples[0], samples[-1]
    dt = s1["t"] - s0["t"]
    tx = delta(s0, s1, NULL_PORT, "opackets")
    per_second = [delta(x, y, NULL_PORT, "opackets") / (y["t"] - x["t"])
                  for x, y in zip(samples, samples[1:])]
    # The busiest thread is the worker on lcore 1; its CPU share shows
    # how much of the window other processes took from it.
    busy = max((s1["threads"].get(t, 0) - s0["threads"].get(t, 0)
                for t in s1["threads"]), default=0)
    return {
        "seconds": dt,
        "packets": tx,
        "pps": tx / dt,
        "pps_samples": per_second,
        "rx_packets": delta(s0, s1, PCAP_PORT, "ipackets"),
        # Streams other than pcap -> null must stay empty.
        "other_streams": delta(s0, s1, NULL_PORT, "ipackets")
                         + delta(s0, s1, PCAP_PORT, "opackets"),
        "tx_errors": delta(s0, s1, NULL_PORT, "oerrors"),
        "rx_nombuf": delta(s0, s1, PCAP_PORT, "rx_nombuf"),
        "worker_cpu": busy / CLK_TCK / dt,
        "cpu0_busy": busy_fraction(s0["cpus"], s1["cpus"], 0),
        "read_s": max(x["read_s"] for x in samples),
        "exit": status,
        "log": log_path,
        "extra": extra,
    }


# ---------------------------------------------------------------------------
# Correctness checks after a run.

def check_common(name, r):
    errs = []
    if r["exit"] != 0:
        errs.append(f"exit status {r['exit']}")
    if r["other_streams"] != 0:
        errs.append(f"{r['other_streams']} packets outside pcap->null")
    if r["tx_errors"] != 0:
        errs.append(f"{r['tx_errors']} TX errors on the null port")
    # Forwarded what it received.  The two ports are read one after the
    # other, so the counts may differ by what passes during one read.
    slack = 4096 + 2 * r["pps"] * r["read_s"]
    if abs(r["rx_packets"] - r["packets"]) > slack:
        errs.append(f"received {r['rx_packets']} but sent {r['packets']}")
    return errs


def check_sluice(r, stats_file):
    """The dataplane's own exit counters: every packet parsed and kept."""
    errs = []
    try:
        with open(stats_file) as f:
            st = json.load(f)
    except (OSError, ValueError) as err:
        return [f"no exit counters in {stats_file}: {err}"]
    ports = {p["id"]: p for p in st.get("ports", [])}
    rx = ports.get(PCAP_PORT, {}).get("rx_packets", 0)
    tx = ports.get(NULL_PORT, {}).get("tx_packets", 0)
    drops = {k: v for k, v in st.get("drops", {}).items() if v}
    if rx == 0:
        errs.append("the dataplane counted no packet received")
    if rx != tx:
        errs.append(f"dataplane rx {rx} != tx {tx}")
    if drops:
        errs.append(f"dataplane drops {drops}")
    for p in ports.values():
        if p.get("rx_dropped") or p.get("tx_dropped"):
            errs.append(f"port {p['id']} dropped rx {p['rx_dropped']} "
                        f"tx {p['tx_dropped']}")
    mp = st.get("mempool", {})
    if mp and mp.get("size") != mp.get("available_at_exit"):
        errs.append(f"mbufs not returned: {mp}")
    r["dp_rx"], r["dp_tx"] = rx, tx
    return errs


# ---------------------------------------------------------------------------
# Machine facts.

def tsc_hz_from_log(path):
    with open(path, errors="replace") as f:
        m = re.search(r"TSC frequency is ~(\d+) KHz", f.read())
    return int(m.group(1)) * 1000 if m else None


def run_summary(ok, tsc_hz, key="pps"):
    """One configuration's passing runs (non-empty): median, min and max in
    Mpps, the number of runs, cycles per packet (TSC Hz / median rate of
    the one worker) and the medians of the worker's CPU share and of the
    other CPU's load."""
    med = statistics.median(r[key] for r in ok)
    return {"mpps": med / 1e6,
            "min": min(r[key] for r in ok) / 1e6,
            "max": max(r[key] for r in ok) / 1e6, "n": len(ok),
            "cycles": tsc_hz / med if tsc_hz and med else None,
            "worker_cpu": statistics.median(r["worker_cpu"] for r in ok),
            "cpu0_busy": statistics.median(r["cpu0_busy"] for r in ok)}


def same_round_ratio(results, name, base, key="pps"):
    """name's rate over base's within each round (runs minutes apart), as
    (median, min, max) over the rounds both passed, or None.  The figure a
    slow spell of the machine moves least."""
    by_round = {r["round"]: r[key] for r in results.get(base, [])
                if not r["errors"] and r[key] > 0}
    xs = [r[key] / by_round[r["round"]] for r in results.get(name, [])
          if not r["errors"] and r["round"] in by_round]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None


def kernel_tsc_mhz():
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = (re.findall(r"tsc: Refined TSC clocksource calibration: ([\d.]+) MHz", out)
         or re.findall(r"tsc: Detected ([\d.]+) MHz", out))
    return float(m[-1]) if m else None


def machine():
    info = {"kernel": platform.release()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key in ("Model name", "CPU(s)", "Thread(s) per core",
                    "Hypervisor vendor"):
            m = re.search(rf"^{re.escape(key)}:\s*(.*)$", out, re.M)
            if m:
                info[key] = m.group(1).strip()
    except OSError:
        pass
    try:
        info["dpdk"] = subprocess.run(["pkg-config", "--modversion", "libdpdk"],
                                      capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        info["loadavg"] = f.read().split()[:3]
    return info


# ---------------------------------------------------------------------------
# bench_parse: the parser alone, from memory.

PARSE_LINE = re.compile(
    r"^(?P<workload>.*?)\s+(?P<variant>scalar|sse42|avx2|auto)\s+"
    r"(?P<values>[\d.]+%?(?:\s+[\d.]+%?)*)\s*$")


def parse_bench_parse(text):
    """Rows of bench_parse's table, keyed by its own column names; the
    figure used is its first cycles-per-packet column (the median)."""
    cols, rows = None, []
    for line in text.splitlines():
        if line.startswith("workload"):
            cols = line.split()[2:]
            continue
        m = PARSE_LINE.match(line)
        if not (m and cols):
            continue
        vals = [float(v.rstrip("%")) for v in m["values"].split()]
        row = {"workload": m["workload"].strip(), "variant": m["variant"]}
        row.update(zip(cols, vals))
        cyc = [c for c in cols if c.startswith("cyc")]
        if not cyc:
            continue
        row["cycles"] = row[cyc[0]]
        rows.append(row)
    return rows


def run_bench_parse(a):
    if not (a.bench_parse and os.access(a.bench_parse, os.X_OK)):
        return None
    argv = [a.bench_parse]
    # Same CPU as the dataplane worker.
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "1", *argv]
    proc = start(argv, a.nice, stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    p = subprocess.CompletedProcess(argv, proc.returncode, out, "")
    rows = parse_bench_parse(p.stdout)
    m = re.search(r"about ([\d.]+) x the TSC", p.stdout)
    return {"exit": p.returncode, "output": p.stdout + p.stderr, "rows": rows,
            "core_per_tsc": float(m.group(1)) if m else None}


# ---------------------------------------------------------------------------

def fmt_ratio(x):
    return f"{x:.2f}" if x is not None else "-"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(
        description="Sluice dataplane vs testpmd io (ceiling) vs l3fwd LPM, "
                    "net_pcap -> net_null, one worker lcore, 64-byte frames.")
    ap.add_argument("--build", default=os.path.join(repo, "build"),
                    help="meson build directory (default: build)")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs of each configuration (default 3)")
    ap.add_argument("--seconds", type=float, default=10,
                    help="measured window per run (default 10)")
    ap.add_argument("--warmup", type=float, default=3,
                    help="seconds of traffic before the window (default 3)")
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--routes", type=int, default=4096,
                    help="/24 routes in l3fwd's table (default 4096)")
    ap.add_argument("--parsers", default="scalar,sse42,avx2")
    ap.add_argument("--only", default="testpmd,l3fwd,sluice",
                    help="configurations to run (default all)")
    ap.add_argument("--nice", type=int, default=-10,
                    help="nice value of the benchmarked process and of its "
                         "session's autogroup, so that compilers and tests "
                         "sharing the CPUs yield to it (default -10; 0: off)")
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd"))
    ap.add_argument("--l3fwd", help="l3fwd binary (default: from "
                    "bench/l3fwd/build.sh under BUILD/bench-work)")
    ap.add_argument("--dataplane", dest="extra_dataplane", action="append",
                    default=[], metavar="LABEL=PATH",
                    help="another sluice-dataplane build to measure beside "
                         "BUILD's (A/B comparisons); repeatable")
    ap.add_argument("--json", help="also write every figure to this file")
    ap.add_argument("--quiet-wait", type=float, default=15,
                    help="before each run, wait up to this many seconds for "
                         "both CPUs to go idle (default 15; 0: off)")
    ap.add_argument("--start-timeout", type=float, default=60)
    a = ap.parse_args()

    work = os.path.join(a.build, "bench-work")
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    a.dataplane = os.path.join(a.build, "sluice-dataplane")
    a.bench_parse = os.path.join(a.build, "bench_parse")
    a.l3fwd = a.l3fwd or os.path.join(work, "l3fwd", "l3fwd")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (hugepages, DPDK runtime directory)")
    a.pcap, a.routes_v4, a.routes_v6 = traffic.ensure(work, a.flows, a.routes)
    only = set(a.only.split(","))

    # The configurations, in the order each round runs them.
    configs = []
    missing = []
    if "testpmd" in only:
        if a.testpmd:
            configs.append(("testpmd-io", lambda p: cmd_testpmd(a, p)))
        else:
            missing.append("testpmd-io: dpdk-testpmd not found (Debian "
                           "package dpdk)")
    if "l3fwd" in only:
        if os.access(a.l3fwd, os.X_OK):
            configs.append(("l3fwd-lpm", lambda p: cmd_l3fwd(a, p)))
        else:
            missing.append(f"l3fwd-lpm: {a.l3fwd} missing (bench/l3fwd/build.sh)")
    stats_files = {}
    if "sluice" in only:
        # --dataplane LABEL=PATH adds builds to compare (A/B) beside the
        # one in BUILD.
        binaries = [("sluice", a.dataplane)]
        for extra in a.extra_dataplane:
            label, _, path = extra.partition("=")
            if not path:
                sys.exit(f"bench: --dataplane wants LABEL=PATH, got {extra}")
            binaries.append((f"sluice@{label}", path))
        for label, binary in binaries:
            if not os.access(binary, os.X_OK):
                missing.append(f"{label}-*: {binary} not built "
                               f"(meson setup {a.build} && ninja -C {a.build})")
                continue
            for parser in a.parsers.split(","):
                name = f"{label}-{parser}"
                stats_files[name] = os.path.join(work, f"{name}.stats.json")
                configs.append((name, lambda p, b=binary, parser=parser,
                                n=name: cmd_sluice(a, b, p, parser,
                                                   stats_files[n])))
    for m in missing:
        print(f"bench: skipped {m}", file=sys.stderr)
    if not configs:
        sys.exit("bench: nothing to run")

    info = machine()
    print(f"bench: {info.get('Model name', '?')}, {info.get('CPU(s)', '?')} "
          f"CPUs, kernel {info['kernel']}, DPDK {info.get('dpdk', '?')}, "
          f"load average {' '.join(info['loadavg'])}")
    print(f"bench: {a.flows} flows of 64-byte frames ({a.pcap}), "
          f"{a.runs} x {a.seconds:g} s per configuration after "
          f"{a.warmup:g} s warm-up, interleaved; logs in {logs}")

    w = max(16, max(len(name) for name, _ in configs))   # name column
    results = {name: [] for name, _ in configs}
    failures = {name: [] for name, _ in configs}
    tsc_hz = None
    for rnd in range(a.runs):
        # Rotate the order so no configuration always follows another.
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        for name, make in order:
            prefix = f"{PREFIX}-{name}"
            argv, how = make(prefix)
            if name in stats_files and os.path.exists(stats_files[name]):
                os.unlink(stats_files[name])
            log = os.path.join(logs, f"{name}-{rnd + 1}.log")
            waited = wait_for_quiet(a.quiet_wait) if a.quiet_wait else 0
            try:
                r = run_one(a, name, argv, how, log)
            except BenchError as err:
                failures[name].append(str(err))
                print(f"  round {rnd + 1} {name:<{w}} FAILED: {err}",
                      flush=True)
                continue
            errs = check_common(name, r)
            if name in stats_files:
                errs += check_sluice(r, stats_files[name])
            if name == "testpmd-io" and tsc_hz is None:
                tsc_hz = tsc_hz_from_log(log)
            r["errors"] = errs
            r["waited_s"] = waited
            r["round"] = rnd
            results[name].append(r)
            if errs:
                failures[name].extend(errs)
            print(f"  round {rnd + 1} {name:<{w}} {r['pps'] / 1e6:7.2f} Mpps"
                  f" (1 s samples {min(r['pps_samples']) / 1e6:.2f}-"
                  f"{max(r['pps_samples']) / 1e6:.2f})"
                  f"  worker on CPU {100 * r['worker_cpu']:5.1f}%"
                  f"  CPU0 busy {100 * r['cpu0_busy']:5.1f}%"
                  f"{f'  (waited {waited:.0f} s for quiet)' if waited >= 1 else ''}"
                  f"{'  CHECK FAILED: ' + '; '.join(errs) if errs else ''}",
                  flush=True)

    # The kernel's calibration is finer than EAL's (rounded to 10 MHz on
    # some CPUs); either is the rate the worker's TSC ticks at.
    mhz = kernel_tsc_mhz()
    tsc_src = "kernel calibration" if mhz else "DPDK EAL"
    if mhz:
        tsc_hz = mhz * 1e6
    summary = {}
    for name, rs in results.items():
        ok = [r["pps"] for r in rs if not r["errors"]]
        if not ok:
            continue
        med = statistics.median(ok)
        summary[name] = {"mpps": med / 1e6, "min": min(ok) / 1e6,
                         "max": max(ok) / 1e6, "n": len(ok),
                         "best_1s": max(max(r["pps_samples"]) for r in rs
                                        if not r["errors"]) / 1e6,
                         "cycles": tsc_hz / med if tsc_hz else None,
                         "worker_cpu": statistics.median(
                             r["worker_cpu"] for r in rs),
                         "cpu0_busy": statistics.median(
                             r["cpu0_busy"] for r in rs)}
    ceil = summary.get("testpmd-io", {}).get("mpps")
    l3 = summary.get("l3fwd-lpm", {}).get("mpps")

    print()
    print(f"TSC {tsc_hz / 1e9:.3f} GHz ({tsc_src}); cycles/pkt = TSC Hz / "
          f"pps of the one worker" if tsc_hz
          else "TSC frequency unknown: no cycles/pkt")
    hdr = (f"{'configuration':<{w}} {'Mpps':>7} {'min-max':>13} {'best 1s':>7}"
           f" {'cyc/pkt':>8} {'x ceiling':>9} {'x l3fwd':>8} {'worker CPU':>10}"
           f" {'CPU0 busy':>9} {'runs':>5}")
    print(hdr)
    print("-" * len(hdr))
    for name, _ in configs:
        s = summary.get(name)
        if s is None:
            print(f"{name:<{w}} {'failed':>7}   {'; '.join(failures[name])[:200]}")
            continue
        s["x_ceiling"] = s["mpps"] / ceil if ceil else None
        s["x_l3fwd"] = s["mpps"] / l3 if l3 else None
        cyc = f"{s['cycles']:.1f}" if s["cycles"] else "-"
        print(f"{name:<{w}} {s['mpps']:7.2f} "
              f"{s['min']:6.2f}-{s['max']:<6.2f} {s['best_1s']:7.2f} {cyc:>8}"
              f" {fmt_ratio(s['x_ceiling']):>9} {fmt_ratio(s['x_l3fwd']):>8}"
              f" {100 * s['worker_cpu']:9.1f}% {100 * s['cpu0_busy']:8.1f}%"
              f" {s['n']:>2}/{a.runs}")
    def paired(name, base):
        return same_round_ratio(results, name, base)

    for name in summary:
        summary[name]["paired_x_ceiling"] = paired(name, "testpmd-io")
        summary[name]["paired_x_l3fwd"] = paired(name, "l3fwd-lpm")
    print("Mpps: median of the runs' means over their window; cyc/pkt and "
          "ratios from the medians;\nworker CPU: share of the window the "
          "lcore-1 thread ran; CPU0 busy: load on the other core.")

    parse = run_bench_parse(a)
    if parse is None:
        print(f"\nbench_parse: {a.bench_parse} not built; no parser-only "
              "figures")
    else:
        print("\nbench_parse (the parser alone, from memory; TSC cycles/pkt, "
              "pinned to CPU 1):")
        print(parse["output"].rstrip())

    # Targets of issue 2.
    print("\ntargets (issue 2):")
    for name in summary:
        if not name.startswith("sluice"):
            continue
        s = summary[name]
        t1 = s["x_ceiling"] is not None and s["x_ceiling"] >= 0.8
        t2 = s["x_l3fwd"] is not None and s["x_l3fwd"] > 1.0

        def pr(p):
            return (f"; same-round ratios {p[0]:.2f} ({p[1]:.2f}-{p[2]:.2f})"
                    if p else "")
        print(f"  {name}: >= 0.8 x ceiling: {'met' if t1 else 'NOT met'}"
              f" ({fmt_ratio(s['x_ceiling'])}{pr(s['paired_x_ceiling'])});"
              f" above l3fwd: {'met' if t2 else 'NOT met'}"
              f" ({fmt_ratio(s['x_l3fwd'])}{pr(s['paired_x_l3fwd'])})")
    if parse and parse["rows"]:
        for v in ("sse42", "avx2"):
            rows = [r for r in parse["rows"] if r["variant"] == v]
            if rows:
                met = sum(r["cycles"] <= 12 for r in rows)
                print(f"  bench_parse {v} <= 12 cycles/pkt (median): met on "
                      f"{met} of {len(rows)} workloads: "
                      + ", ".join(f"{r['workload']} {r['cycles']:.1f}"
                                  + (f" (min {r['cyc/pkt(min)']:.1f})"
                                     if "cyc/pkt(min)" in r else "")
                                  for r in rows))

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "tsc_hz": tsc_hz, "tsc_source": tsc_src,
                       "args": {k: v for k, v in vars(a).items()},
                       "runs": results, "summary": summary,
                       "failures": failures,
                       "bench_parse": parse}, f, indent=2, default=str)
        print(f"\nbench: figures written to {a.json}")

    if any(failures.values()):
        print("\nbench: some runs failed their checks (see above and the "
              "logs)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
