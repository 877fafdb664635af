# SPDX-License-Identifier: BSD-3-Clause
"""The control-plane benchmark (issue 6): how long a change takes from the
API request to being active in the dataplane, and the API's latency.

    bench/run.sh api [--runs N] [--rules N] [--routes N] [--wrk-seconds S]

1. Rules: sluiced starts with the firewall benchmark's two xconnect ports
   (bench/fwrules.py, dpdk_port 0 and 1 = net_null0 and net_null1) and a
   sluice-dataplane connected to it (--controller).  Each run PUTs the
   10,000-rule policy with a different comment on its first rule (so every
   run is a new generation that the dataplane rebuilds whole) and times
     reply   request sent -> 200 received (validated, diffed, persisted)
     active  request sent -> GET /v1/status says the dataplane runs it
             (polled every 2 ms)
2. Routes: the same with the routing benchmark's 1M-route table
   (bench/routes.py), alternating with its reload variant, after a restart
   of both daemons with that policy's route-mode ports.
3. API latency: wrk (Debian's, not wrk2: no fixed-rate option) on
   GET /v1/status over the TCP listener with the bearer token; a Lua delay()
   holds each of the connections to --rate requests a second in all, and
   wrk --latency reports the percentiles.

Medians over the runs; the target of issue 6 is 10k rules active <= 1 s
and p99 <= 5 ms.  Prints a table and writes --json.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TOKEN = "bench-token-0123456789abcdef"
TCP_PORT = 18470


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=600):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Api:
    def __init__(self, sock_path):
        self.sock_path = sock_path

    def call(self, method, url, body=None):
        conn = UnixHTTPConnection(self.sock_path)
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, url, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, json.loads(data) if data else None


def wait_for(pred, timeout, what, step=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


class Daemons:
    """sluiced and a sluice-dataplane connected to it, in work/dir."""

    def __init__(self, a, name, config):
        self.dir = os.path.join(a.work, name)
        os.makedirs(self.dir, exist_ok=True)
        state = os.path.join(self.dir, "state")
        subprocess.run(["rm", "-rf", state], check=True)
        self.api_sock = os.path.join(self.dir, "api.sock")
        self.dp_sock = os.path.join(self.dir, "dp.sock")
        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.sluiced_log = open(os.path.join(self.dir, "sluiced.log"), "w")
        self.sluiced = subprocess.Popen(
            [os.path.join(a.build, "sluiced"), "--config", config,
             "--state-dir", state, "--api-socket", self.api_sock,
             "--dp-socket", self.dp_sock,
             "--listen", f"127.0.0.1:{TCP_PORT}", "--token-file", token_file,
             "--max-body", str(1 << 30), "--rate", "1000000"],
            stdout=self.sluiced_log, stderr=subprocess.STDOUT)
        self.api = Api(self.api_sock)
        wait_for(lambda: self.api.call("GET", "/v1/status")[0] == 200, 120,
                 "sluiced")
        self.dp_log = open(os.path.join(self.dir, "dataplane.log"), "w")
        self.dp = subprocess.Popen(
            [os.path.join(a.build, "sluice-dataplane"), "-l", "0,1",
             "--no-pci", "--file-prefix", "sl_bench_api",
             "--vdev", "net_null0", "--vdev", "net_null1",
             "--", "--controller", self.dp_sock],
            stdout=self.dp_log, stderr=subprocess.STDOUT)
        wait_for(self.in_sync, 300, "the dataplane to run the first push",
                 step=0.05)

    def status(self):
        return self.api.call("GET", "/v1/status")[1]

    def in_sync(self):
        return self.status()["dataplane"]["in_sync"]

    def stop(self):
        for p in (self.dp, self.sluiced):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.sluiced_log.close()
        self.dp_log.close()


def timed_apply(d, body):
    """(reply s, active s) of one PUT /v1/config."""
    t0 = time.monotonic()
    status, reply = d.api.call("PUT", "/v1/config", body)
    t1 = time.monotonic()
    if status != 200:
        raise RuntimeError(f"PUT /v1/config: {status} {reply}")
    gen = reply["generation"]

    def active():
        dp = d.status()["dataplane"]
        if dp["last_error"]:
            raise RuntimeError(f"dataplane refused: {dp['last_error']}")
        return dp["policy_generation"] == gen
    wait_for(active, 600, f"generation {gen} in the dataplane")
    return t1 - t0, time.monotonic() - t0


def variants(policy, n):
    """n distinct documents of policy: the first rule's comment differs
    (or, without rules, a comment on a catch-nothing rule)."""
    out = []
    for i in range(n):
        p = json.loads(json.dumps(policy))
        rules = p.setdefault("rules", [])
        if rules:
            rules[0]["comment"] = f"bench run {i}"
        else:
            rules.append({"id": "bench-marker", "comment": f"run {i}",
                          "src": "192.0.2.1/32", "action": "drop"})
        out.append(json.dumps(p))
    return out


def measure(d, bodies):
    rows = []
    for b in bodies:
        reply, active = timed_apply(d, b)
        rows.append({"reply_s": reply, "active_s": active})
        print(f"    reply {reply * 1e3:9.1f} ms   active "
              f"{active * 1e3:9.1f} ms", flush=True)
    return {"runs": rows,
            "reply_median_s": statistics.median(r["reply_s"] for r in rows),
            "active_median_s": statistics.median(r["active_s"] for r in rows)}


def bench_rules(a):
    subprocess.run([sys.executable, os.path.join(HERE, "fwrules.py"),
                    a.work, "--rules", str(a.rules)], check=True,
                   stdout=subprocess.DEVNULL)
    policy_path = os.path.join(a.work, f"fw-{a.rules}-ctoff.json")
    with open(policy_path) as f:
        policy = json.load(f)
    start = dict(policy, rules=[])
    start_path = os.path.join(a.work, "api-start-fw.json")
    with open(start_path, "w") as f:
        json.dump(start, f)
    d = Daemons(a, "api-rules", start_path)
    try:
        print(f"  {a.rules} rules, {a.runs} runs:", flush=True)
        return measure(d, variants(policy, a.runs)), d
    except BaseException:
        d.stop()
        raise


def bench_routes(a):
    subprocess.run([sys.executable, os.path.join(HERE, "routes.py"),
                    a.work, "--routes", str(a.routes)], check=True,
                   stdout=subprocess.DEVNULL)
    base = os.path.join(a.work, f"rt-{a.routes}-g16-s1")
    with open(base + ".json") as f:
        p1 = json.load(f)
    with open(base + "-reload.json") as f:
        p2 = json.load(f)
    start_path = os.path.join(a.work, "api-start-rt.json")
    with open(start_path, "w") as f:
        json.dump(dict(p1, routes=[]), f)
    d = Daemons(a, "api-routes", start_path)
    try:
        print(f"  {a.routes} routes, {a.route_runs} runs:", flush=True)
        bodies = [json.dumps(p1 if i % 2 == 0 else p2)
                  for i in range(a.route_runs)]
        return measure(d, bodies)
    finally:
        d.stop()


WRK_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)


def bench_wrk(a, d):
    conns = 4
    delay_ms = max(1, round(conns * 1000 / a.rate))
    script = os.path.join(d.dir, "status.lua")
    with open(script, "w") as f:
        f.write(f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
                f"function delay() return {delay_ms} end\n")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{a.wrk_seconds}s", "--latency",
         "-s", script, f"http://127.0.0.1:{TCP_PORT}/v1/status"],
        capture_output=True, text=True, check=True).stdout
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    lat = {m[0]: float(m[1]) * scale[m[2]] for m in WRK_LATENCY.findall(out)}
    rps = float(WRK_RPS.search(out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    print(out, flush=True)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "connections": conns, "delay_ms": delay_ms}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--route-runs", type=int, default=3)
    ap.add_argument("--rules", type=int, default=10000)
    ap.add_argument("--routes", type=int, default=1000000)
    ap.add_argument("--no-routes", action="store_true")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.work = os.path.abspath(a.work or os.path.join(a.build, "bench-work"))
    os.makedirs(a.work, exist_ok=True)

    results = {}
    rules, d = bench_rules(a)
    results["rules"] = rules
    try:
        print(f"  wrk GET /v1/status at {a.rate}/s for {a.wrk_seconds} s:",
              flush=True)
        results["wrk"] = bench_wrk(a, d)
    finally:
        d.stop()
    if not a.no_routes:
        results["routes"] = bench_routes(a)

    print()
    print(f"{'what':40} {'median':>12}")
    print(f"{f'{a.rules} rules: request -> reply':40} "
          f"{rules['reply_median_s'] * 1e3:9.1f} ms")
    print(f"{f'{a.rules} rules: request -> active':40} "
          f"{rules['active_median_s'] * 1e3:9.1f} ms   (target <= 1000 ms)")
    if "routes" in results:
        r = results["routes"]
        print(f"{f'{a.routes} routes: request -> reply':40} "
              f"{r['reply_median_s'] * 1e3:9.1f} ms")
        print(f"{f'{a.routes} routes: request -> active':40} "
              f"{r['active_median_s'] * 1e3:9.1f} ms")
    w = results["wrk"]
    print(f"{'GET /v1/status p50 / p99':40} {w['p50_ms']:9.3f} / "
          f"{w['p99_ms']:.3f} ms at {w['rps']:.0f} req/s "
          f"(target p99 <= 5 ms)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
