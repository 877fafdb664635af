# SPDX-License-Identifier: BSD-3-Clause
"""sluicectl against the real sluiced.

Each test starts its own `sluiced` (sluiced_util.Sluiced: SLUICE_BUILD/
sluiced, default build/, on a unix socket in a directory of its own), with
no dataplane unless it says so, and drives it only through `sluicectl`
(SLUICE_BUILD/sluicectl): exit codes
0/1/2/3, -o json output, the rule, route and group commands, apply -f with
its diff, the config round trip, If-Match through --generation, and the TCP
listener with a bearer token.  The tests marked `dataplane` also start a
sluice-dataplane (DPDK, root) that connects to sluiced, for stats.

    SLUICE_BUILD=build-ctl-cli /usr/bin/python3 -m pytest tests/system/test_sluicectl.py -v
"""
import json
import os
import socket
import subprocess
import time

import pytest

import lab
from sluiced_util import sluiced  # noqa: F401 (the fixture)

SLUICECTL = os.path.join(lab.build_dir(), "sluicectl")

POLICY_YAML = """\
version: 1
ports:
  - {name: wan0, dpdk_port: 0, addresses: [192.0.2.1/24]}
  - {name: lan0, dpdk_port: 1, addresses: [10.1.0.1/16]}
rules:
  - id: ssh-in
    comment: operators only
    src: 198.51.100.0/24
    proto: tcp
    dport: 22
    tcp_flags: "syn/syn,ack"
    in_port: wan0
    action: accept
  - {proto: udp, dport: 1024-65535, ct: [established, related], action: accept}
  - id: web
    proto: tcp
    dport: 80
    action: {replicate: {group: mirrors, copies: 1}}
  - {id: dns, proto: udp, dport: 53, action: accept}
  - {id: ntp, proto: udp, dport: 123, action: accept}
default: drop
routes:
  - prefix: 0.0.0.0/0
    nexthops: [{gateway: 192.0.2.254, port: wan0}]
groups:
  - name: mirrors
    targets:
      - {kind: vxlan, vni: 100, remote: 198.51.100.7}
      - {kind: port, port: lan0}
"""


@pytest.fixture(scope="session")
def sluicectl():
    """Path of the sluicectl under test; missing is a failure."""
    if not os.access(SLUICECTL, os.X_OK):
        pytest.fail(f"{SLUICECTL} not found: build it (ninja -C BUILD sluicectl) "
                    "or set SLUICE_BUILD", pytrace=False)
    return SLUICECTL


def run_ctl(*args, stdin=None, env=None, timeout=30):
    """sluicectl with args and no SLUICE_* variables but those of env."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    full_env.update(env or {})
    return subprocess.run([SLUICECTL] + list(args), input=stdin, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


class Ctl:
    """sluicectl pointed at one sluiced (sluiced_util.Sluiced) by --socket."""

    def __init__(self, sd):
        self.sd = sd

    def ctl(self, *args, stdin=None, env=None, timeout=30):
        """A CompletedProcess."""
        return run_ctl("--socket", self.sd.api_sock, *args, stdin=stdin, env=env,
                       timeout=timeout)

    def ok(self, *args, **kw):
        """sluicectl that must exit 0; its stdout."""
        r = self.ctl(*args, **kw)
        assert r.returncode == 0, f"sluicectl {' '.join(args)}: exit {r.returncode}\n{r.stderr}"
        return r.stdout

    def json(self, *args):
        return json.loads(self.ok("-o", "json", *args))

    def generation(self):
        return self.json("status")["generation"]


@pytest.fixture
def daemon(sluiced, sluicectl):
    """sluicectl against a started sluiced with an empty state."""
    return Ctl(sluiced())


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "sluice.yaml"
    path.write_text(POLICY_YAML)
    return str(path)


# ----------------------------------------------------------------------------
# Exit codes

def test_status_exits_0_and_its_json_output_parses(daemon):
    r = daemon.ctl("status")
    assert r.returncode == 0, r.stderr
    assert "generation:" in r.stdout and "dataplane:   not connected" in r.stdout
    st = daemon.json("status")
    assert st["generation"] == 0
    assert st["dataplane"]["connected"] is False
    assert st["counts"] == {"ports": 0, "rules": 0, "routes": 0, "groups": 0}


def test_every_read_command_answers_json_that_parses(daemon, policy_file):
    daemon.ok("apply", "-f", policy_file)
    for cmd in (["status"], ["rule", "list"], ["rule", "show", "web"],
                ["route", "list"], ["group", "list"], ["group", "show", "mirrors"],
                ["port", "list"], ["members"], ["config", "get"]):
        doc = daemon.json(*cmd)
        assert isinstance(doc, dict), cmd
    assert daemon.json("members")["members"][0]["self"] is True
    assert [p["name"] for p in daemon.json("port", "list")["ports"]] == ["wan0", "lan0"]


def test_no_daemon_at_the_socket_exits_3(sluicectl, tmp_path):
    r = run_ctl("--socket", str(tmp_path / "none.sock"), "status")
    assert r.returncode == 3
    assert "no socket there" in r.stderr
    # The same through the environment.
    r = run_ctl("rule", "list", env={"SLUICE_SOCKET": str(tmp_path / "none.sock")})
    assert r.returncode == 3


def test_a_socket_nobody_listens_on_exits_3(sluicectl, tmp_path):
    path = str(tmp_path / "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()               # the file stays, nothing listens
    r = run_ctl("--socket", path, "status")
    assert r.returncode == 3
    assert "connection refused" in r.stderr


def test_a_daemon_that_never_answers_exits_3_after_the_timeout(sluicectl, tmp_path):
    path = str(tmp_path / "mute.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)             # accepts (in the backlog), never answers
    try:
        t0 = time.monotonic()
        r = run_ctl("--socket", path, "--timeout", "0.5", "status")
        assert r.returncode == 3
        assert "no answer within 0.5 s" in r.stderr
        assert time.monotonic() - t0 < 5
    finally:
        s.close()


def test_a_stopped_daemon_exits_3(sluiced, sluicectl):
    sd = sluiced()
    assert run_ctl("--socket", sd.api_sock, "status").returncode == 0
    sd.stop()
    assert run_ctl("--socket", sd.api_sock, "status").returncode == 3


BAD_COMMAND_LINES = [
    ([], "no command"),
    (["frobnicate"], 'no command "frobnicate"'),
    (["rule"], '"rule" needs a subcommand'),
    (["rule", "frob"], 'no command "rule frob"'),
    (["--bogus", "status"], "unknown option --bogus"),
    (["status", "--bogus"], "unknown option --bogus"),
    (["status", "extra"], 'unexpected "extra"'),
    (["-o", "yaml", "status"], "-o takes json or table"),
    (["--timeout", "soon", "status"], "--timeout takes seconds"),
    (["--generation", "3", "rule", "list"], "--generation applies to commands that change state"),
    (["--generation", "x", "rule", "del", "a"], "--generation takes a generation number"),
    (["rule", "add", "--dport"], "--dport needs a value"),
    (["rule", "add", "--dport", "22"], "rule add needs --action"),
    (["rule", "add", "--action", "accept", "--group", "g"], "--group goes with"),
    (["rule", "add", "--action", "drop", "--copies", "2"], "--copies goes with"),
    (["rule", "add", "--action", "drop", "dport", "22"], 'unexpected "dport"'),
    (["rule", "del"], "missing the rule's ID"),
    (["route", "add", "10.0.0.0/8"], "a route needs a next hop"),
    (["route", "add", "10.0.0.0/8", "via"], '"via" needs a value'),
    (["route", "add", "10.0.0.0/8", "gw", "1.2.3.4"], '"gw": expected via, dev or weight'),
    (["group", "add", "g"], "a group needs a target"),
    (["group", "add", "g", "weight", "2"], "before any target"),
    (["apply"], "apply needs -f FILE"),
    (["apply", "sluice.yaml"], "the file comes with -f"),
    (["capture", "--port", "wan0"], "capture needs --port PORT and -w FILE"),
    (["trace", "-c", "0"], "-c takes a packet count"),
    (["trace", "color", "red"], '"color" is not a filter field'),
    (["--socket", "/x", "--url", "http://127.0.0.1:1", "status"], "exclude each other"),
    (["--url", "127.0.0.1:8470", "status"], "--url takes http://HOST:PORT"),
]


@pytest.mark.parametrize("argv,message", BAD_COMMAND_LINES,
                         ids=[" ".join(a) or "nothing" for a, _ in BAD_COMMAND_LINES])
def test_bad_command_line_exits_2_with_a_usage_line_and_sends_nothing(daemon, argv, message):
    before = daemon.generation()
    # Lines that say where to connect themselves go without --socket.
    r = run_ctl(*argv) if "--url" in argv else daemon.ctl(*argv)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert "usage: sluicectl" in r.stderr
    assert daemon.generation() == before


def test_help_exits_0_and_lists_every_command(sluicectl):
    r = run_ctl("help")
    assert r.returncode == 0
    for name in ("apply", "config get", "rule add", "rule del", "rule list", "route add",
                 "route del", "route list", "group list", "group show", "group add",
                 "group del", "port list", "stats", "trace", "capture", "status",
                 "members"):
        assert f"\n  {name}" in r.stdout, name
    r = run_ctl("rule", "add", "--help")
    assert r.returncode == 0 and "--tcp-flags" in r.stdout and "--socket" in r.stdout


def test_a_rule_the_server_rejects_exits_1_with_code_field_and_message(daemon):
    before = daemon.generation()
    r = daemon.ctl("rule", "add", "--id", "bad", "--proto", "udp", "--dport", "70000",
                    "--action", "accept")
    assert r.returncode == 1
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: invalid: ") and "dport" in first and "70000" in first
    assert daemon.generation() == before
    assert daemon.json("rule", "list")["rules"] == []


# ----------------------------------------------------------------------------
# Rules, routes, groups

def test_rule_add_list_show_del_round_trip(daemon, policy_file):
    daemon.ok("apply", "-f", policy_file)
    g0 = daemon.generation()
    out = daemon.ok("rule", "add", "--id", "syn-scan", "--proto", "tcp",
                     "--sport", "1000-2000", "--dport", "8080", "--in-port", "wan0",
                     "--vlan", "10", "--tcp-flags", "syn,!ack", "--ct", "new,established",
                     "--src", "203.0.113.0/24", "--dst", "10.1.0.0/16",
                     "--comment", "half open", "--action", "drop", "--position", "0")
    assert out == f"added rule syn-scan (generation {g0 + 1})\n"
    daemon.ok("rule", "add", "--id", "to-pool", "--src", "10.0.0.0/8",
               "--action", "steer", "--group", "mirrors")
    daemon.ok("rule", "add", "--id", "copy-get", "--proto", "tcp", "--dport", "80",
               "--regex", "^GET /admin", "--payload-flags", "caseless",
               "--action", "replicate", "--group", "mirrors", "--copies", "2",
               "--position", "1")

    rules = daemon.json("rule", "list")["rules"]
    ids = [r["id"] for r in rules]
    assert ids[:2] == ["syn-scan", "copy-get"] and ids[-1] == "to-pool"
    syn = rules[0]
    assert syn["tcp_flags"] == "syn/syn,ack"
    assert syn["ct"] == ["new", "established"]
    assert (syn["sport"], syn["dport"], syn["vlan"]) == ("1000-2000", 8080, 10)
    assert (syn["in_port"], syn["src"], syn["dst"]) == ("wan0", "203.0.113.0/24", "10.1.0.0/16")
    assert (syn["comment"], syn["action"]) == ("half open", "drop")
    assert rules[1]["action"] == {"replicate": {"group": "mirrors", "copies": 2}}
    assert rules[1]["payload"] == {"regex": "^GET /admin", "flags": ["caseless"]}
    assert rules[-1]["action"] == {"steer": {"group": "mirrors"}}

    table = daemon.ok("rule", "list")
    lines = table.splitlines()
    assert lines[0].split() == ["#", "ID", "MATCH", "ACTION", "COMMENT"]
    assert lines[1].split()[:2] == ["0", "syn-scan"]
    assert "tcp-flags=syn/syn,ack" in lines[1] and "half open" in lines[1]
    assert "replicate mirrors x2" in lines[2]
    assert lines[-1] == "default: drop"

    show = daemon.json("rule", "show", "copy-get")
    assert show["position"] == 1 and show["rule"]["id"] == "copy-get"
    assert "position:  1" in daemon.ok("rule", "show", "copy-get")

    out = daemon.ok("rule", "del", "syn-scan")
    assert out == f"deleted rule syn-scan (generation {g0 + 4})\n"
    assert "syn-scan" not in [r["id"] for r in daemon.json("rule", "list")["rules"]]
    r = daemon.ctl("rule", "del", "syn-scan")
    assert r.returncode == 1 and r.stderr.startswith("error: not_found: ")
    r = daemon.ctl("rule", "add", "--id", "dns", "--action", "drop")
    assert r.returncode == 1 and r.stderr.startswith("error: exists: ")


def test_route_add_list_del_with_ecmp_and_ipv6(daemon, policy_file):
    daemon.ok("apply", "-f", policy_file)
    daemon.ok("route", "add", "10.2.0.0/16", "via", "10.1.0.254", "dev", "lan0",
               "weight", "3", "via", "192.0.2.253", "dev", "wan0")
    daemon.ok("route", "add", "10.3.0.0/16", "dev", "lan0")
    daemon.ok("route", "add", "2001:db8:1::/48", "dev", "wan0")
    routes = {r["prefix"]: r["nexthops"] for r in daemon.json("route", "list")["routes"]}
    assert routes["10.2.0.0/16"] == [
        {"gateway": "10.1.0.254", "port": "lan0", "weight": 3},
        {"gateway": "192.0.2.253", "port": "wan0", "weight": 1}]
    assert routes["10.3.0.0/16"] == [{"port": "lan0", "weight": 1}]
    assert "2001:db8:1::/48" in routes

    table = daemon.ok("route", "list").splitlines()
    assert table[0].split() == ["PREFIX", "VIA", "DEV", "WEIGHT"]
    i = next(i for i, line in enumerate(table) if line.startswith("10.2.0.0/16"))
    assert table[i].split() == ["10.2.0.0/16", "10.1.0.254", "lan0", "3"]
    assert table[i + 1].split() == ["192.0.2.253", "wan0", "1"]
    assert any(line.split() == ["10.3.0.0/16", "on-link", "lan0", "1"] for line in table)

    daemon.ok("route", "del", "10.2.0.0/16")
    daemon.ok("route", "del", "2001:db8:1::/48")
    prefixes = [r["prefix"] for r in daemon.json("route", "list")["routes"]]
    assert prefixes == ["0.0.0.0/0", "10.3.0.0/16"]
    r = daemon.ctl("route", "del", "10.9.0.0/16")
    assert r.returncode == 1 and r.stderr.startswith("error: not_found: ")
    # A next hop through a port that does not exist: the server's word.
    r = daemon.ctl("route", "add", "10.4.0.0/16", "dev", "nope0")
    assert r.returncode == 1 and r.stderr.startswith("error: invalid: ")


def test_group_add_show_replace_del(daemon, policy_file):
    daemon.ok("apply", "-f", policy_file)
    daemon.ok("group", "add", "pool", "--table-size", "257", "port", "lan0", "weight", "2",
               "gre", "203.0.113.9", "key", "7", "vxlan", "203.0.113.10", "vni", "5",
               "state", "draining")
    g = daemon.json("group", "show", "pool")
    g = g.get("group", g)
    assert g["table_size"] == 257
    kinds = [(t["kind"], t.get("port") or t.get("remote")) for t in g["targets"]]
    assert kinds == [("port", "lan0"), ("gre", "203.0.113.9"), ("vxlan", "203.0.113.10")]
    assert g["targets"][0]["weight"] == 2 and g["targets"][1]["key"] == 7
    assert g["targets"][2]["vni"] == 5 and g["targets"][2]["state"] == "draining"
    show = daemon.ok("group", "show", "pool")
    assert "draining" in show and "203.0.113.9 key 7" in show
    assert any(line.split()[:2] == ["pool", "3"]
               for line in daemon.ok("group", "list").splitlines())

    r = daemon.ctl("group", "add", "pool", "port", "wan0")
    assert r.returncode == 1 and r.stderr.startswith("error: exists: ")
    daemon.ok("group", "add", "pool", "--replace", "port", "wan0")
    g = daemon.json("group", "show", "pool")
    assert [t["port"] for t in g.get("group", g)["targets"]] == ["wan0"]
    daemon.ok("group", "del", "pool")
    assert [x["name"] for x in daemon.json("group", "list")["groups"]] == ["mirrors"]
    # mirrors is still named by the rule "web": refused, with the rule's path.
    r = daemon.ctl("group", "del", "mirrors")
    assert r.returncode == 1 and "rules[2]" in r.stderr


# ----------------------------------------------------------------------------
# apply and config

def test_apply_yaml_then_config_get_and_apply_again_is_a_noop(daemon, policy_file, tmp_path):
    out = daemon.ok("apply", "-f", policy_file)
    assert "rules:\n  added     ssh-in\n" in out
    assert out.endswith("applied: generation 1\n")
    first = daemon.ok("config", "get")
    doc = json.loads(first)
    assert doc["generation"] == 1
    assert [r["id"] for r in doc["rules"]][0] == "ssh-in"
    assert doc["rules"][1]["id"].startswith("auto-")

    dumped = tmp_path / "dumped.json"
    dumped.write_text(first)
    again = daemon.json("apply", "-f", str(dumped))
    diff = again["diff"]
    for part in ("rules", "routes", "groups", "ports"):
        for kind, items in diff[part].items():
            assert items == [], (part, kind, items)
    assert not diff["default_changed"] and not diff["settings_changed"]
    assert again["generation"] == 1
    assert daemon.ok("config", "get") == first
    assert daemon.ok("apply", "-f", str(dumped)) == "no changes\napplied: generation 1\n"


def test_apply_reads_stdin_and_names_without_suffix(daemon, tmp_path):
    daemon.ok("apply", "-f", "-", stdin=POLICY_YAML)
    assert daemon.generation() == 1
    # A name without .yaml/.json that starts with '{' is JSON.
    doc = json.loads(daemon.ok("config", "get"))
    doc["default"] = "accept"
    plain = tmp_path / "policy"
    plain.write_text(json.dumps(doc))
    assert "default action changed" in daemon.ok("apply", "-f", str(plain))
    assert daemon.json("rule", "list")["default"] == "accept"


def test_dry_run_prints_the_diff_and_changes_nothing(daemon, policy_file, tmp_path):
    daemon.ok("apply", "-f", policy_file)
    before = daemon.ok("config", "get")
    # Against the applied policy (ssh-in, auto-..., web, dns, ntp):
    # ssh-in removed, dns moved to the top, ntp changed (port 124), web2
    # added behind web, which matches all it does (shadowed), a route
    # added, the default changed.
    doc = json.loads(before)
    rules = {r["id"]: r for r in doc["rules"]}
    auto = next(r for r in doc["rules"] if r["id"].startswith("auto-"))
    web2 = {"id": "web2", "proto": "tcp", "dport": 80, "src": "10.0.0.0/8",
            "action": "drop"}
    doc["rules"] = [rules["dns"], auto, rules["web"], dict(rules["ntp"], dport=124), web2]
    doc["default"] = "accept"
    doc["routes"].append({"prefix": "10.9.0.0/16", "nexthops": [{"port": "lan0"}]})
    cand = tmp_path / "next.json"
    cand.write_text(json.dumps(doc))

    r = daemon.ctl("apply", "-f", str(cand), "--dry-run")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "rules:\n" in out
    assert "  added     web2\n" in out
    assert "  removed   ssh-in\n" in out
    assert "  changed   ntp\n" in out
    assert "  moved     dns\n" in out
    assert "  shadowed  web2 (by web: it can never match)\n" in out
    assert "default action changed\n" in out
    assert "routes:\n  added     10.9.0.0/16\n" in out
    assert out.endswith("dry run: nothing applied (generation 1)\n")
    assert daemon.ok("config", "get") == before

    j = daemon.json("apply", "-f", str(cand), "--dry-run")
    assert j["dry_run"] is True and j["diff"]["rules"]["added"] == ["web2"]
    assert daemon.ok("config", "get") == before


def test_apply_of_an_invalid_file_exits_1_naming_the_field_and_line(daemon, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY_YAML.replace("{id: dns, proto: udp, dport: 53,",
                                       "{id: dns, proto: udp, dport: 70000,"))
    r = daemon.ctl("apply", "-f", str(bad))
    assert r.returncode == 1
    assert r.stderr.startswith("error: invalid: rules[3].dport: ")
    # The same check here gives the line and column in the file.
    assert f"{bad}:19:" in r.stderr
    assert daemon.generation() == 0


def test_stale_generation_exits_1_with_the_conflict_and_changes_nothing(daemon, policy_file):
    daemon.ok("apply", "-f", policy_file)
    g = daemon.generation()
    daemon.ok("--generation", str(g), "rule", "add", "--id", "a", "--action", "drop")
    assert daemon.generation() == g + 1
    for argv in (["rule", "add", "--id", "b", "--action", "drop"],
                 ["rule", "del", "a"],
                 ["route", "del", "0.0.0.0/0"],
                 ["apply", "-f", policy_file]):
        r = daemon.ctl("--generation", str(g), *argv)
        assert r.returncode == 1, argv
        first = r.stderr.splitlines()[0]
        assert first.startswith("error: conflict: generation: "), first
        assert str(g) in first and str(g + 1) in first
    assert daemon.generation() == g + 1
    assert [r["id"] for r in daemon.json("rule", "list")["rules"]][-1] == "a"


# ----------------------------------------------------------------------------
# The TCP listener

def test_tcp_listener_needs_the_token(sluiced, sluicectl):
    sd = sluiced(listen=True)   # --listen 127.0.0.1:PORT --token-file
    url = f"http://127.0.0.1:{sd.port}"
    r = run_ctl("--url", url, "status")
    assert r.returncode == 1 and r.stderr.startswith("error: unauthorized: ")
    r = run_ctl("--url", url, "--token", "wrong-token-wrong-token", "status")
    assert r.returncode == 1 and r.stderr.startswith("error: unauthorized: ")
    assert run_ctl("--url", url, "--token-file", sd.token_file, "status").returncode == 0
    assert run_ctl("--url", url, "--token", sd.token, "status").returncode == 0
    r = run_ctl("-o", "json", "rule", "list",
                env={"SLUICE_URL": url + "/", "SLUICE_TOKEN": sd.token})
    assert r.returncode == 0 and json.loads(r.stdout)["rules"] == []
    # --socket on the command line wins over SLUICE_URL.
    assert run_ctl("--socket", sd.api_sock, "status",
                   env={"SLUICE_URL": url}).returncode == 0
    # Nothing listens on TCP there any more: exit 3.
    sd.stop()
    r = run_ctl("--url", url, "--token", sd.token, "status")
    assert r.returncode == 3 and r.stderr.startswith(f"error: cannot reach sluiced at {url}")


# ----------------------------------------------------------------------------
# Reads that need the dataplane

def test_stats_trace_capture_without_a_dataplane_exit_1(daemon, policy_file, tmp_path):
    daemon.ok("apply", "-f", policy_file)
    out = tmp_path / "cap.pcapng"
    for argv in (["stats"], ["trace", "-c", "1", "--wait", "0.2"],
                 ["capture", "--port", "wan0", "-c", "1", "-w", str(out), "--wait", "0.2"]):
        r = daemon.ctl(*argv)
        assert r.returncode == 1, argv
        assert r.stderr.startswith("error: dataplane_unavailable: "), r.stderr
    assert not out.exists()


DP_POLICY = """\
version: 1
ports:
  - {name: in, dpdk_port: 0, mode: xconnect, peer: out}
  - {name: out, dpdk_port: 1, mode: xconnect, peer: in}
rules:
  - {id: dns, proto: udp, dport: 53, action: drop}
  - {id: web, proto: tcp, dport: 80, action: accept}
default: accept
"""


@pytest.fixture
def sluiced_with_dataplane(sluiced, sluicectl, dataplane, tmp_path):
    """sluicectl against a sluiced started from DP_POLICY, with a
    sluice-dataplane (root, DPDK) connected to it, forwarding a pcap of
    UDP/53 and TCP/80 replayed for ever from port "in" to port "out"."""
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

    pkts = []
    for i in range(16):
        ip = IP(src="10.0.0.1", dst="10.0.0.2")
        pkts.append(Ether() / ip / UDP(sport=1000 + i, dport=53) / Raw(b"q" * 18))
        pkts.append(Ether() / ip / TCP(sport=2000 + i, dport=80, flags="A") / Raw(b"h" * 6))
    pcap = tmp_path / "in.pcap"
    wrpcap(str(pcap), pkts)
    config = tmp_path / "sluice.yaml"
    config.write_text(DP_POLICY)
    d = Ctl(sluiced(config=str(config)))
    dataplane([f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"],
              ["--controller", d.sd.dp_sock])
    deadline = time.monotonic() + 20
    while not d.json("status")["dataplane"]["in_sync"]:
        assert time.monotonic() < deadline, d.sd.output
        time.sleep(0.1)
    return d


def test_stats_prints_ports_drop_reasons_and_rule_counters(sluiced_with_dataplane):
    d = sluiced_with_dataplane
    deadline = time.monotonic() + 10
    while True:
        st = d.json("stats")
        rules = {r["id"]: r for r in st["rules"]}
        if rules["dns"]["packets"] > 0 and rules["web"]["packets"] > 0:
            break
        assert time.monotonic() < deadline, st
        time.sleep(0.1)
    out = d.ok("stats")
    blocks = out.split("\n\n")
    assert blocks[0].splitlines()[0].split()[:3] == ["PORT", "RX", "PACKETS"]
    assert len(blocks[0].splitlines()) == 1 + len(st["ports"])
    # Only the reasons that counted: the table, or "drops: none".
    nonzero = [k for k, v in st["drops"].items() if v]
    if nonzero:
        assert blocks[1].startswith("DROP REASON")
        for k in nonzero:
            assert f"\n{k} " in blocks[1]
    else:
        assert blocks[1].startswith("drops: none")
    rule_rows = {line.split()[0]: line.split() for line in blocks[2].splitlines()[1:]}
    assert rule_rows["dns"][1] == "drop" and int(rule_rows["dns"][2]) > 0
    assert rule_rows["web"][1] == "accept" and int(rule_rows["web"][2]) > 0


def test_port_list_shows_counters_while_the_dataplane_is_connected(sluiced_with_dataplane):
    # docs/api.md: GET /v1/ports gives each policy port with "counters"
    # while the dataplane is connected.  The policy names the ports "in"
    # and "out"; the dataplane's own names are its devices' (net_pcap0).
    d = sluiced_with_dataplane
    ports = d.json("port", "list")["ports"]
    assert [p["name"] for p in ports] == ["in", "out"]
    assert all("counters" in p for p in ports), ports
    table = d.ok("port", "list").splitlines()
    assert table[0].split()[:6] == ["NAME", "DEVICE", "MODE", "ADDRESSES", "RX", "PACKETS"]
    assert table[1].split()[:5] == ["in", "port", "0", "xconnect", "to"]


def test_trace_follows_packets_that_match_the_filter(sluiced_with_dataplane):
    d = sluiced_with_dataplane
    j = d.json("trace", "-c", "3", "--wait", "5", "proto", "udp", "dport", "53")
    assert len(j["packets"]) == 3, j
    for pkt in j["packets"]:
        assert pkt["rule"] == "dns" and pkt["verdict"] == "drop", pkt
    rows = d.ok("trace", "-c", "2", "--proto", "tcp", "--dport", "80").splitlines()
    assert rows[0].split()[:4] == ["#", "PORT", "LEN", "FLOW"]
    assert len(rows) == 3 and all(" web " in r and "accept" in r for r in rows[1:])


def test_capture_writes_a_pcapng_that_tshark_reads(sluiced_with_dataplane, tmp_path):
    d = sluiced_with_dataplane
    out = tmp_path / "in.pcapng"
    r = d.ctl("capture", "--port", "in", "-c", "5", "-w", str(out), "--dport", "53",
              "--proto", "udp")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("5 packets (") and str(out) in r.stdout
    # tshark is the oracle: the file is pcapng, with 5 UDP/53 packets.
    t = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "udp.dstport"],
                       capture_output=True, text=True, timeout=60)
    assert t.returncode == 0, t.stderr
    assert t.stdout.split() == ["53"] * 5
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
