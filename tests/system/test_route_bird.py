# SPDX-License-Identifier: BSD-3-Clause
"""BIRD feeds the dataplane through a kernel table (issue 4, "Route sources").

BIRD 2 (Debian's bird2), run in the dataplane's own network namespace,
exports static routes into kernel table 100, which the policy mirrors
(settings.routing.kernel_table).  The routes' next hops are on the subnet of
a routed port's twin, so BIRD installs them out of the twin and the
dataplane turns them into routes out of the port.  The oracle is BIRD and
the kernel: what `ip -j route show table 100` lists must be exactly what the
dataplane reports as mirrored, after BIRD starts, after a reconfiguration
that withdraws half the routes and adds others, and after BIRD stops (its
routes go away with it).

Ports are net_null: no traffic is needed to see the table; the FIB test
(test_route_fib.py) checks forwarding against the kernel.
"""
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import lab

BIRD = shutil.which("bird") or "/usr/sbin/bird"
TABLE = 100

pytestmark = [
    pytest.mark.skipif(not lab.is_root(), reason="needs root (netns, TAP twins)"),
    pytest.mark.skipif(not os.access(BIRD, os.X_OK), reason="needs bird2"),
]

ROUTES_RE = re.compile(r"routes: ipv4 (\d+) ipv6 (\d+) \(static (\d+), kernel (\d+)\)")


def bird_conf(prefixes):
    routes = "\n".join(f"  route {p} via 10.71.0.{2 + i % 3};"
                       for i, p in enumerate(prefixes))
    routes6 = "\n".join(f"  route {p} via 2001:db8:71::{2 + i % 3};"
                        for i, p in enumerate(p6 for p6 in PREFIXES6))
    return f"""
router id 10.71.0.1;
ipv4 table t4;
ipv6 table t6;
protocol device {{ }}
protocol static s4 {{
  ipv4 {{ table t4; }};
{routes}
}}
protocol static s6 {{
  ipv6 {{ table t6; }};
{routes6}
}}
protocol kernel k4 {{
  kernel table {TABLE};
  ipv4 {{ table t4; export all; import none; }};
}}
protocol kernel k6 {{
  kernel table {TABLE};
  ipv6 {{ table t6; export all; import none; }};
}}
"""


PREFIXES6 = [f"2001:db8:{0x100 + i:x}::/48" for i in range(50)]


def prefixes(first, n):
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    return [str(ipaddress.IPv4Network((base + (first + i) * 256, 24))) for i in range(n)]


def kernel_table(ns):
    out = []
    for fam in ("-4", "-6"):
        r = subprocess.run(["ip", "-n", ns, "-j", fam, "route", "show", "table", str(TABLE)],
                           capture_output=True, text=True, check=True)
        out += [e["dst"] for e in json.loads(r.stdout or "[]")]
    return sorted(out)


def last_routes_line(dp):
    m = None
    for m in ROUTES_RE.finditer(dp.output):
        pass
    return None if m is None else tuple(int(x) for x in m.groups())


def wait_kernel_count(dp, want, timeout=20):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = last_routes_line(dp)
        if got is not None and got[3] == want:
            return got
        time.sleep(0.3)
    raise AssertionError(f"dataplane reports {got}, want kernel {want}")


@pytest.fixture
def dp_netns():
    tag = lab.unique_tag()
    ns = lab._tag_netns(tag, "h1")
    lab.sh("ip", "netns", "add", ns)
    lab.sh("ip", "-n", ns, "link", "set", "lo", "up")
    yield ns
    lab.sh("ip", "netns", "del", ns, check=False)


def test_bird_routes_reach_the_dataplane_through_the_kernel_table(dp_netns, tmp_path):
    ns = dp_netns
    policy = {
        "version": 1, "default": "accept",
        "settings": {"routing": {"kernel_table": TABLE, "max_routes_ipv4": 65536,
                                 "max_routes_ipv6": 16384}},
        "ports": [{"name": "bird0", "devargs": "net_null0,no-rx=1",
                   "addresses": ["10.71.0.1/24", "2001:db8:71::1/64"]}],
    }
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    first = prefixes(0, 300)
    conf = tmp_path / "bird.conf"
    conf.write_text(bird_conf(first))
    dp = lab.Dataplane([], ["--policy", str(tmp_path / "policy.json"),
                            "--stats-interval", "1"],
                       workdir=str(tmp_path), netns=ns)
    bird = None
    try:
        dp.start()
        dp.wait_ready(ports=2)     # the null port and its twin
        wait_kernel_count(dp, 0)
        # `ip netns exec` execs BIRD: the pid is BIRD's own.
        bird = subprocess.Popen(["ip", "netns", "exec", ns, BIRD, "-f", "-c", str(conf),
                                 "-s", str(tmp_path / "bird.ctl"),
                                 "-P", str(tmp_path / "bird.pid")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        want = len(first) + len(PREFIXES6)
        got = wait_kernel_count(dp, want)
        assert len(kernel_table(ns)) == want
        assert got[3] == want

        # Withdraw half, add 200 others: BIRD reconfigures in place.
        second = first[::2] + prefixes(1000, 200)
        conf.write_text(bird_conf(second))
        subprocess.run(["birdc", "-s", str(tmp_path / "bird.ctl"), "configure"],
                       capture_output=True, check=True, timeout=10)
        want = len(second) + len(PREFIXES6)
        wait_kernel_count(dp, want)
        assert len(kernel_table(ns)) == want

        # BIRD stopping removes its routes from the kernel, and so from
        # the dataplane.
        bird.send_signal(signal.SIGTERM)
        bird.wait(timeout=10)
        bird = None
        assert kernel_table(ns) == []
        wait_kernel_count(dp, 0)
    finally:
        if bird is not None:
            bird.kill()
            bird.wait()
        rc = dp.stop()
    assert rc == 0, dp.output[-3000:]
    st = dp.stats()
    assert st["routing"]["kernel"] == 0
    assert st["routing"]["kernel_not_mirrored"] == 0
    assert st["routing"]["connected"] >= 2
