# SPDX-License-Identifier: BSD-3-Clause
"""Replication benchmark (issue 5): Sluice's replicate (R = 1, 2, 3) and
steer actions beside the same policy without replication and the DPDK
ceiling, in one run.

Run it through `bench/run.sh replication`, which reserves hugepages first.
Same method as bench_dataplane.py (whose helpers it uses): the 10,000-flow
pcap of 64-byte frames from net_pcap (infinite_rx, port 0) with one
busy-polling worker on lcore 1, rates read through DPDK telemetry over a
window after a warm-up, configurations interleaved round by round, medians.

Ports of the Sluice runs: `in` = net_pcap0 (EAL --vdev, port 0), `out` =
net_null0,no-rx=1 (--vdev, port 1), cross-connected; t0..t3 =
net_null_tN,no-rx=1 probed by the dataplane from the policy's `devargs`
(ports 2..5; xconnect to `out`, they never receive); group `tools` = the
four port targets.  Configurations:
  testpmd-io   the ceiling: pcap -> null io forwarding
  norep        default accept
  rep1..rep3   default {replicate: {group: tools, copies: R}}
  steer        default {steer: {group: tools}}
RX rate = packets received on port 0 / window; TX = packets sent on every
other port (out + targets), so TX/RX = 1 + R with replicate, 1 with steer.
Checks per run: clean exit, no TX errors, TX/RX as expected (window), and
the dataplane's exit counters (--stats-file): no drop, replication.failed
0, copies == R x rx_packets of `in` (steered == rx for steer), TX of
out + targets == (1 + R) x rx, every mbuf back.  Then build/test_maglev's
build times.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_dataplane as bd  # noqa: E402
import telemetry  # noqa: E402
import traffic  # noqa: E402

PCAP_PORT, NULL_PORT = bd.PCAP_PORT, bd.NULL_PORT
PREFIX = bd.PREFIX
TARGETS = 4


def policy(action):
    ports = [{"name": "in", "dpdk_port": PCAP_PORT, "mode": "xconnect",
              "peer": "out"},
             {"name": "out", "dpdk_port": NULL_PORT, "mode": "xconnect",
              "peer": "in"}]
    ports += [{"name": f"t{i}", "devargs": f"net_null_t{i},no-rx=1",
               "mode": "xconnect", "peer": "out"} for i in range(TARGETS)]
    return {"version": 1, "ports": ports,
            "groups": [{"name": "tools", "targets": [
                {"kind": "port", "port": f"t{i}"} for i in range(TARGETS)]}],
            "default": action}


CONFIGS = [("norep", "accept", 0),
           ("rep1", {"replicate": {"group": "tools", "copies": 1}}, 1),
           ("rep2", {"replicate": {"group": "tools", "copies": 2}}, 2),
           ("rep3", {"replicate": {"group": "tools", "copies": 3}}, 3),
           ("steer", {"steer": {"group": "tools"}}, "steer")]


def cmd_testpmd(a, prefix):
    return [a.testpmd, *bd.eal("0,1", prefix, a.pcap,
                               ["--log-level=lib.eal:debug"]),
            "--", "--forward-mode=io", "--nb-cores=1", "--rxq=1", "--txq=1",
            "--burst=32"], "stdin"


def cmd_sluice(a, prefix, pol, stats_file):
    return [a.dataplane, *bd.eal("0,1", prefix, a.pcap),
            "--", "--policy", pol, "--mbufs", "65536",
            "--stats-file", stats_file], "sigint"


def snapshot(tm, pid, ports):
    t0 = time.monotonic()
    s = {p: tm.ethdev_stats(p) for p in ports}
    t1 = time.monotonic()
    return {"t": (t0 + t1) / 2, "read_s": t1 - t0, "stats": s,
            "threads": bd.thread_cpu_ticks(pid), "cpus": bd.cpu_times()}


def run_one(a, name, argv, how, log_path):
    """As bench_dataplane.run_one, with RX on port 0 and TX summed over
    every other port."""
    prefix = f"{PREFIX}-{name}"
    with open(log_path, "wb") as log:
        log.write((" ".join(argv) + "\n\n").encode())
        log.flush()
        proc = bd.start(argv, a.nice, stdin=subprocess.PIPE, stdout=log,
                        stderr=subprocess.STDOUT)
    try:
        try:
            tm = telemetry.Telemetry(prefix, timeout=a.start_timeout)
        except telemetry.TelemetryError as err:
            raise bd.BenchError(f"{name}: {err} (exit status {proc.poll()}, "
                                f"log {log_path})") from err
        with tm:
            deadline = time.monotonic() + a.start_timeout
            while tm.ethdev_stats(PCAP_PORT)["ipackets"] == 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise bd.BenchError(f"{name}: nothing received "
                                        f"(log {log_path})")
                time.sleep(0.05)
            ports = sorted(int(p) for p in tm.ethdev_list())
            time.sleep(a.warmup)
            samples = [snapshot(tm, proc.pid, ports)]
            steps = max(1, round(a.seconds))
            for i in range(1, steps + 1):
                time.sleep(max(0.0, samples[0]["t"] + i * a.seconds / steps
                               - time.monotonic()))
                samples.append(snapshot(tm, proc.pid, ports))
    finally:
        status = bd.stop(proc, how)
        shutil.rmtree(os.path.join(telemetry.RUNTIME_DIR, prefix),
                      ignore_errors=True)
    s0, s1 = samples[0], samples[-1]
    dt = s1["t"] - s0["t"]

    def d(port, key):
        return s1["stats"][port][key] - s0["stats"][port][key]
    out_ports = [p for p in ports if p != PCAP_PORT]
    rx = d(PCAP_PORT, "ipackets")
    tx = sum(d(p, "opackets") for p in out_ports)
    busy = max((s1["threads"].get(t, 0) - s0["threads"].get(t, 0)
                for t in s1["threads"]), default=0)
    return {"seconds": dt, "rx_packets": rx, "tx_packets": tx,
            "rx_pps": rx / dt, "tx_pps": tx / dt,
            "tx_by_port": {p: d(p, "opackets") for p in out_ports},
            "ports": ports,
            "other_streams": d(PCAP_PORT, "opackets")
                             + sum(d(p, "ipackets") for p in out_ports),
            "tx_errors": sum(d(p, "oerrors") for p in out_ports),
            "worker_cpu": busy / bd.CLK_TCK / dt,
            "cpu0_busy": bd.busy_fraction(s0["cpus"], s1["cpus"], 0),
            "read_s": max(x["read_s"] for x in samples),
            "exit": status, "log": log_path}


def check(r, copies, stats_file):
    errs = []
    if r["exit"] != 0:
        errs.append(f"exit status {r['exit']}")
    if r["other_streams"]:
        errs.append(f"{r['other_streams']} packets outside the expected streams")
    if r["tx_errors"]:
        errs.append(f"{r['tx_errors']} TX errors")
    if r["rx_packets"] <= 0:
        errs.append("nothing received in the window")
        return errs
    fan = 1 + copies if isinstance(copies, int) else 1
    # Ports are read one after the other: allow what passes in one read.
    slack = 4096 * fan + 2 * r["tx_pps"] * r["read_s"]
    if abs(r["tx_packets"] - fan * r["rx_packets"]) > slack:
        errs.append(f"window: TX {r['tx_packets']} != {fan} x RX "
                    f"{r['rx_packets']}")
    if stats_file is None:
        return errs
    try:
        with open(stats_file) as f:
            st = json.load(f)
    except (OSError, ValueError) as err:
        return errs + [f"no exit counters in {stats_file}: {err}"]
    # Keyed by port id (the stats file names ports by device): in = the
    # pcap port, out = the null port, the targets after them.
    ports = {p["id"]: p for p in st.get("ports", [])}
    rx = ports.get(PCAP_PORT, {}).get("rx_packets", 0)
    tx = {("out" if i == NULL_PORT else p["name"]): p.get("tx_packets", 0)
          for i, p in ports.items() if i != PCAP_PORT}
    rep = st.get("replication", {})
    drops = {k: v for k, v in st.get("drops", {}).items() if v}
    if rx == 0:
        errs.append("the dataplane counted no packet received")
    if drops:
        errs.append(f"dataplane drops {drops}")
    for p in ports.values():
        if p.get("rx_dropped") or p.get("tx_dropped"):
            errs.append(f"port {p['id']} dropped rx {p['rx_dropped']} "
                        f"tx {p['tx_dropped']}")
    if rep.get("failed"):
        errs.append(f"replication.failed {rep['failed']}")
    if rep.get("short"):
        errs.append(f"replication.short {rep['short']}")
    if copies == "steer":
        if rep.get("steered") != rx:
            errs.append(f"steered {rep.get('steered')} != rx {rx}")
        if tx.get("out"):
            errs.append(f"steer: {tx['out']} packets left by out")
    else:
        if rep.get("copies") != copies * rx:
            errs.append(f"copies {rep.get('copies')} != {copies} x rx {rx}")
        if tx.get("out") != rx:
            errs.append(f"out tx {tx.get('out')} != rx {rx}")
    if sum(tx.values()) != fan * rx:
        errs.append(f"exit: tx {sum(tx.values())} != {fan} x rx {rx}")
    mp = st.get("mempool", {})
    if mp and mp.get("size") != mp.get("available_at_exit"):
        errs.append(f"mbufs not returned: {mp}")
    r["dp"] = {"rx": rx, "tx": tx, "replication": rep}
    return errs


def maglev_times(a):
    exe = os.path.join(a.build, "test_maglev")
    if not os.access(exe, os.X_OK):
        return None, []
    argv = [exe]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "1", *argv]
    p = bd.start(argv, a.nice, stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines = [ln.strip() for ln in out.splitlines()
             if re.search(r"build: \d+ targets", ln)]
    return p.returncode, lines


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(
        description="Sluice replicate (R = 1..3) and steer vs the same "
                    "policy without replication vs testpmd io (ceiling); "
                    "net_pcap -> net_null + 4 net_null targets, one worker "
                    "lcore, 64-byte frames, 10k flows.")
    ap.add_argument("--build", default=os.path.join(repo, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--routes", type=int, default=4096,
                    help="only names the cached traffic file (default 4096)")
    ap.add_argument("--only", default="testpmd,norep,rep1,rep2,rep3,steer,maglev",
                    help="configurations to run (default all)")
    ap.add_argument("--nice", type=int, default=-10)
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd"))
    ap.add_argument("--l3fwd", help="ignored (run.sh passes it)")
    ap.add_argument("--json")
    ap.add_argument("--quiet-wait", type=float, default=10)
    ap.add_argument("--start-timeout", type=float, default=60)
    a = ap.parse_args()

    work = os.path.join(a.build, "bench-work")
    logs = os.path.join(work, "logs")
    repdir = os.path.join(work, "replication")
    os.makedirs(logs, exist_ok=True)
    os.makedirs(repdir, exist_ok=True)
    a.dataplane = os.path.join(a.build, "sluice-dataplane")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (hugepages, DPDK runtime directory)")
    a.pcap, _, _ = traffic.ensure(work, a.flows, a.routes)
    only = set(a.only.split(","))

    configs = []   # (name, copies, run(prefix, log), stats_file)
    if "testpmd" in only:
        if a.testpmd:
            configs.append(("testpmd-io", 0, lambda p: cmd_testpmd(a, p), None))
        else:
            print("bench: skipped testpmd-io: dpdk-testpmd not found",
                  file=sys.stderr)
    if not os.access(a.dataplane, os.X_OK):
        print(f"bench: skipped sluice: {a.dataplane} not built",
              file=sys.stderr)
    else:
        for name, action, copies in CONFIGS:
            if name not in only:
                continue
            pol = os.path.join(repdir, f"{name}.json")
            with open(pol, "w") as f:
                json.dump(policy(action), f, indent=1)
            sf = os.path.join(repdir, f"{name}.stats.json")
            configs.append((name, copies,
                            lambda p, pol=pol, sf=sf: cmd_sluice(a, p, pol, sf),
                            sf))

    info = bd.machine()
    print(f"bench: {info.get('Model name', '?')}, {info.get('CPU(s)', '?')} "
          f"CPUs, kernel {info['kernel']}, DPDK {info.get('dpdk', '?')}, "
          f"load average {' '.join(info['loadavg'])}")
    print(f"bench: {a.flows} flows of 64-byte frames ({a.pcap}); policies in "
          f"{repdir}; {a.runs} x {a.seconds:g} s per configuration after "
          f"{a.warmup:g} s warm-up, interleaved; logs in {logs}")

    w = max([12] + [len(c[0]) for c in configs])
    results = {c[0]: [] for c in configs}
    failures = {c[0]: [] for c in configs}
    tsc_hz = None
    for rnd in range(a.runs):
        k = rnd % len(configs) if configs else 0
        for name, copies, make, sf in configs[k:] + configs[:k]:
            log = os.path.join(logs, f"rep-{name}-{rnd + 1}.log")
            waited = bd.wait_for_quiet(a.quiet_wait) if a.quiet_wait else 0
            if sf and os.path.exists(sf):
                os.unlink(sf)
            try:
                argv, how = make(f"{PREFIX}-{name}")
                r = run_one(a, name, argv, how, log)
            except (bd.BenchError, subprocess.SubprocessError, OSError) as err:
                failures[name].append(str(err))
                print(f"  round {rnd + 1} {name:<{w}} FAILED: {err}", flush=True)
                continue
            errs = check(r, copies, sf)
            if name == "testpmd-io" and tsc_hz is None:
                tsc_hz = bd.tsc_hz_from_log(log)
            r.update(errors=errs, waited_s=waited, round=rnd)
            results[name].append(r)
            failures[name].extend(errs)
            dp = r.get("dp", {}).get("replication")
            print(f"  round {rnd + 1} {name:<{w}} RX {r['rx_pps'] / 1e6:6.2f}"
                  f" Mpps  TX {r['tx_pps'] / 1e6:6.2f} Mpps"
                  f"  TX/RX {r['tx_packets'] / r['rx_packets']:.3f}"
                  f"  worker {100 * r['worker_cpu']:5.1f}%"
                  f"  CPU0 {100 * r['cpu0_busy']:5.1f}%"
                  f"{'  exit ' + json.dumps(dp) if dp else ''}"
                  f"{'  CHECK FAILED: ' + '; '.join(errs) if errs else ''}",
                  flush=True)

    mhz = bd.kernel_tsc_mhz()
    if mhz:
        tsc_hz = mhz * 1e6

    def paired(name, base):
        return bd.same_round_ratio(results, name, base, key="rx_pps")

    summary = {}
    for name, rs in results.items():
        ok = [r for r in rs if not r["errors"]]
        if not ok:
            continue
        rx = statistics.median(r["rx_pps"] for r in ok)
        summary[name] = {
            "rx_mpps": rx / 1e6,
            "rx_min": min(r["rx_pps"] for r in ok) / 1e6,
            "rx_max": max(r["rx_pps"] for r in ok) / 1e6,
            "tx_mpps": statistics.median(r["tx_pps"] for r in ok) / 1e6,
            "tx_per_rx": statistics.median(r["tx_packets"] / r["rx_packets"]
                                           for r in ok),
            "cycles": tsc_hz / rx if tsc_hz and rx else None,
            "worker_cpu": statistics.median(r["worker_cpu"] for r in ok),
            "cpu0_busy": statistics.median(r["cpu0_busy"] for r in ok),
            "n": len(ok)}
    ceil = summary.get("testpmd-io", {}).get("rx_mpps")
    print()
    print(f"TSC {tsc_hz / 1e9:.3f} GHz; cycles/pkt = TSC Hz / RX pps of the "
          f"one worker" if tsc_hz else "TSC frequency unknown")
    hdr = (f"{'configuration':<{w}} {'RX Mpps':>8} {'min-max':>13} "
           f"{'TX Mpps':>8} {'TX/RX':>6} {'cyc/pkt':>8} {'x ceiling':>9} "
           f"{'x norep':>17} {'worker':>7} {'CPU0':>6} {'runs':>5}")
    print(hdr)
    print("-" * len(hdr))
    for name, *_ in configs:
        s = summary.get(name)
        if s is None:
            print(f"{name:<{w}} {'failed':>8}   {'; '.join(failures[name])[:300]}")
            continue
        s["x_ceiling"] = s["rx_mpps"] / ceil if ceil else None
        p = paired(name, "norep") if name.startswith(("rep", "steer")) else None
        s["x_norep_same_round"] = p
        xn = f"{p[0]:.2f} ({p[1]:.2f}-{p[2]:.2f})" if p else ""
        cyc = f"{s['cycles']:.1f}" if s["cycles"] else "-"
        print(f"{name:<{w}} {s['rx_mpps']:8.2f} {s['rx_min']:6.2f}-"
              f"{s['rx_max']:<6.2f} {s['tx_mpps']:8.2f} {s['tx_per_rx']:6.3f}"
              f" {cyc:>8} {bd.fmt_ratio(s['x_ceiling']):>9} {xn:>17}"
              f" {100 * s['worker_cpu']:6.1f}% {100 * s['cpu0_busy']:5.1f}%"
              f" {s['n']:>2}/{a.runs}")
    print("x norep: RX(config) / RX(norep) of the same round, median "
          "(min-max); TX = out + the 4 targets.")

    mg = None
    if "maglev" in only:
        rc, lines = maglev_times(a)
        if rc is not None:
            mg = {"exit": rc, "lines": lines}
            print(f"\nMaglev table builds (build/test_maglev, best of its runs,"
                  f" exit {rc}):")
            for ln in lines:
                print(f"  {ln}")

    print("\ntargets (issue 5):")
    s2 = summary.get("rep2")
    p2 = paired("rep2", "norep")
    if s2 and p2:
        ok = p2[0] >= 0.6
        print(f"  R = 2: RX >= 0.6 x norep: {'met' if ok else 'NOT met'} "
              f"(same-round {p2[0]:.2f}, {p2[1]:.2f}-{p2[2]:.2f})")
        print(f"  R = 2: TX per RX {s2['tx_per_rx']:.3f} (the original + 2 "
              f"copies = 3; the issue's 'TX = 2 x RX' counts the copies only:"
              f" copies = {s2['tx_per_rx'] - 1:.3f} x RX)")
    if mg:
        for ln in mg["lines"]:
            m = re.search(r"build: (\d+) targets \((.*?)\), (\d+) entries: "
                          r"([\d.]+) ms", ln)
            if m and m.group(3) == "65537":
                print(f"  Maglev build, M = 65537, N = {m.group(1)} "
                      f"({m.group(2)}): "
                      f"{'met' if float(m.group(4)) <= 2 else 'NOT met'} "
                      f"(<= 2 ms; {m.group(4)} ms)")
        print("  Maglev build, N = 1000: not measured (a group holds at most "
              "256 targets, SL_POLICY_TARGETS_MAX)")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "tsc_hz": tsc_hz, "args": vars(a),
                       "runs": results, "summary": summary,
                       "failures": failures, "maglev": mg}, f, indent=2,
                      default=str)
        print(f"\nbench: figures written to {a.json}")
    if any(failures.values()):
        print("\nbench: some runs failed their checks (see above and the logs)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
