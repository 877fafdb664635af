# SPDX-License-Identifier: BSD-3-Clause
"""POST /v1/trace and /v1/capture, `sluicectl trace` and `capture`, with
sluiced --backend xdp.

The lab of test_sluiced_xdp.py: hosts A and B, router R, sluiced in R
attached to R's veths ra and rb.  The policy accepts ICMP from A and drops
ICMP from B, so the oracle for every traced packet is its source: A's echo
requests are `icmp-in` (accept), B's replies `drop-b` (drop, by rule) - and
ping, which gets no reply, agrees.  The tests prove:

- `sluicectl trace -c 5` (table and -o json) during a ping shows 5
  packets, each with the rule, verdict and drop reason its source gives,
  on the interface it came in by; a filter takes only B's packets;
- a trace with no traffic returns after its timeout with no packets;
- bad bodies get the DPDK path's 4xx naming the field (count, timeout_ms,
  an unknown member, filter.dport, filter.in_port) and bad JSON a 400;
- a second trace while one runs is answered 409 busy; the next one works;
- after kill -9, the sluiced that adopts the pinned program traces through
  the pinned ring buffer;
- SIGTERM during a trace answers it (504, as the DPDK path answers a
  request the stopping link dropped), exits 0 and leaves the pinned
  program disarmed;
- `sluicectl capture --port ra -c 3` during a ping of 300-byte frames
  writes a pcapng file (read by scapy) of A's 3 echo requests, each cut to
  256 bytes with its length 300; a trace's `in_port` takes only the
  packets that came in by that interface.
"""
import json
import os
import subprocess
import threading
import time

import pytest

import sluiced_util
from test_sluiced_xdp import lab, policy  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")


def quiet(lb):
    """No IPv6 in the lab: router solicitations and MLD reports of the new
    veths would be traced among the pings."""
    for h in "ARB":
        lb.run(h, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        lb.run(h, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")


def trace_policy(lb):
    return policy({"id": "drop-b", "src": lb.ip_b + "/32", "proto": "icmp",
                   "action": "drop"},
                  {"id": "icmp-in", "proto": "icmp", "action": "accept"})


def sluicectl(sd, *args, timeout=30):
    return subprocess.run(
        [os.path.join(sluiced_util.lab.build_dir(), "sluicectl"),
         "--socket", sd.api_sock, *args],
        capture_output=True, text=True, timeout=timeout)


def traced_during_ping(lb, sd, *args):
    """sluicectl trace ARGS while A pings B: its result.  A ping first, so
    that the neighbours are resolved (ARP would be traced too)."""
    lb.ping(1, wait="0.3")
    proc = subprocess.Popen(
        [os.path.join(sluiced_util.lab.build_dir(), "sluicectl"),
         "--socket", sd.api_sock, "trace", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)         # armed before the first packet
    sent, got = lb.ping(6, interval="0.1", wait="0.5")
    out, err = proc.communicate(timeout=30)
    assert (sent, got) == (6, 0), "B's replies must be dropped"
    return proc.returncode, out, err


def check_oracle(lb, packets):
    """Each packet's rule, verdict, drop reason and port from its source."""
    for p in packets:
        src = p["parse"]["src"]
        assert p["parse"]["l3"] == "ipv4" and p["parse"]["proto"] == "icmp", p
        if src == lb.ip_a:
            assert (p["rule"], p["verdict"], p["drop_reason"], p["port"]) == \
                ("icmp-in", "accept", None, lb.ra), p
            assert p["xdp"]["action"] == "pass", p
        else:
            assert src == lb.ip_b, p
            assert (p["rule"], p["verdict"], p["drop_reason"], p["port"]) == \
                ("drop-b", "drop", "rule", lb.rb), p
            assert p["xdp"]["action"] == "drop", p
        assert p["len"] == 98, p


def test_sluicectl_trace_shows_the_rule_the_policy_gives_each_packet(lab):
    quiet(lab)
    sd = lab.start()
    c = sd.client()
    assert c.put("/v1/config", trace_policy(lab)).status == 200
    gen = c.generation()

    rc, out, err = traced_during_ping(lab, sd, "-c", "5", "-o", "json")
    assert rc == 0, err
    reply = json.loads(out)
    assert reply["generation"] == gen
    packets = reply["packets"]
    assert len(packets) == 5, packets
    check_oracle(lab, packets)
    assert {p["rule"] for p in packets} == {"icmp-in", "drop-b"}
    assert all(p["generation"] == gen for p in packets)
    assert [p["ts_ns"] for p in packets] == sorted(p["ts_ns"] for p in packets)

    # The table, unchanged from the DPDK backend's.
    rc, out, err = traced_during_ping(lab, sd, "-c", "4")
    assert rc == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines[0].split()[:3] == ["#", "PORT", "LEN"], out
    assert len(lines) == 5, out
    assert "icmp-in" in out and "drop-b" in out, out

    # A filter: B's packets only.
    rc, out, err = traced_during_ping(lab, sd, "-c", "3", "-o", "json",
                                      "--src", lab.ip_b)
    assert rc == 0, err
    packets = json.loads(out)["packets"]
    assert len(packets) == 3 and all(p["rule"] == "drop-b" for p in packets), \
        packets
    check_oracle(lab, packets)

    # kill -9: the next sluiced adopts the program and reads the pinned
    # ring buffer.
    c.close()
    sd.proc.kill()
    sd.proc.wait()
    sd2 = lab.start()
    assert sd2.client().get("/v1/status").json["xdp"]["adopted"] is True
    rc, out, err = traced_during_ping(lab, sd2, "-c", "5", "-o", "json")
    assert rc == 0, err
    packets = json.loads(out)["packets"]
    assert len(packets) == 5, packets
    check_oracle(lab, packets)


def test_trace_without_traffic_returns_after_its_timeout_with_nothing(lab):
    quiet(lab)
    sd = lab.start()
    c = sd.client()
    assert c.put("/v1/config", trace_policy(lab)).status == 200
    t0 = time.monotonic()
    r = c.post("/v1/trace", {"count": 5, "timeout_ms": 600})
    took = time.monotonic() - t0
    assert r.status == 200, r
    assert r.json["packets"] == [], r.json
    assert 0.55 <= took < 3, took
    out = sluicectl(sd, "trace", "-c", "2", "--wait", "0.3")
    assert out.returncode == 0, out.stderr
    assert "no packets within 0.3 s" in out.stdout, out.stdout


def test_bad_trace_bodies_are_refused_naming_the_field(lab):
    sd = lab.start()
    c = sd.client()
    assert c.put("/v1/config", trace_policy(lab)).status == 200
    for body, field in [({"count": 0}, "count"),
                        ({"count": "5"}, "count"),
                        ({"timeout_ms": 0}, "timeout_ms"),
                        ({"bogus": 1}, "bogus"),
                        ({"filter": []}, "filter"),
                        ({"filter": {"dport": "http"}}, "filter.dport"),
                        ({"filter": {"ct": "new"}}, "filter.ct"),
                        ({"filter": {"in_port": "nope"}}, "filter.in_port")]:
        sluiced_util.check_error(c.post("/v1/trace", body), 422, "invalid",
                                 field)
    sluiced_util.check_error(c.post("/v1/trace", "{not json"), 400,
                             "bad_json")


def test_second_trace_while_one_runs_is_busy(lab):
    quiet(lab)
    sd = lab.start()
    c = sd.client()
    assert c.put("/v1/config", trace_policy(lab)).status == 200
    first = {}

    def run_first():
        first["r"] = sd.client().post("/v1/trace",
                                      {"count": 5, "timeout_ms": 1500})

    t = threading.Thread(target=run_first)
    t.start()
    time.sleep(0.5)
    r = c.post("/v1/trace", {"count": 1, "timeout_ms": 100})
    sluiced_util.check_error(r, 409, "busy")
    out = sluicectl(sd, "trace", "-c", "1", "--wait", "0.1")
    assert out.returncode == 1 and "busy" in out.stderr, (out.stdout, out.stderr)
    t.join(timeout=10)
    assert first["r"].status == 200 and first["r"].json["packets"] == []
    r = c.post("/v1/trace", {"count": 1, "timeout_ms": 100})
    assert r.status == 200, r


def test_capture_at_a_port_gives_its_packets_first_bytes_as_pcapng(lab, tmp_path):
    from scapy.all import ICMP, IP, rdpcap
    quiet(lab)
    sd = lab.start()
    c = sd.client()
    pol = trace_policy(lab)
    pol["ports"] = [{"name": lab.ra, "dpdk_port": 0},
                    {"name": lab.rb, "dpdk_port": 1}]
    assert c.put("/v1/config", pol).status == 200, \
        c.put("/v1/config", pol)
    lab.ping(1, wait="0.3")
    out = tmp_path / "ra.pcapng"
    proc = subprocess.Popen(
        [os.path.join(sluiced_util.lab.build_dir(), "sluicectl"),
         "--socket", sd.api_sock, "capture", "--port", lab.ra, "-c", "3",
         "-w", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    # 300-byte echo requests: the file keeps their first 256 bytes.
    lab.run("A", "ping", "-n", "-q", "-c", "4", "-i", "0.1", "-W", "0.5",
            "-s", "258", lab.ip_b, check=False)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    pkts = rdpcap(str(out))
    assert len(pkts) == 3, pkts
    for p in pkts:
        assert len(p) == 256 and p.wirelen == 300, (len(p), p.wirelen)
        assert p[IP].src == lab.ip_a and p[ICMP].type == 8, p.summary()

    # A trace's in_port names the interface of that port: only what came
    # in by rb.
    rc, out, err = traced_during_ping(lab, sd, "-c", "3", "-o", "json",
                                      "--in-port", lab.rb)
    assert rc == 0, err
    packets = json.loads(out)["packets"]
    assert len(packets) == 3 and all(p["port"] == lab.rb for p in packets), \
        packets
    check_oracle(lab, packets)


def test_sigterm_during_a_trace_answers_it_and_disarms_the_program(lab):
    quiet(lab)
    sd = lab.start()
    c = sd.client()
    assert c.put("/v1/config", trace_policy(lab)).status == 200
    got = {}

    def run_trace():
        got["r"] = sd.client().post("/v1/trace",
                                    {"count": 5, "timeout_ms": 20000})

    t = threading.Thread(target=run_trace)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    assert sd.stop() == 0
    t.join(timeout=10)
    assert time.monotonic() - t0 < 5
    sluiced_util.check_error(got["r"], 504, "timeout")
    assert "stopping" in got["r"].error["message"]
    # The program traces no more: the budget is 0 (sl_trace, pinned).
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                          os.path.join(lab.pin, "sl_trace")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    value = bytes(int(x, 16) for x in json.loads(out.stdout)[0]["value"])
    budget = int.from_bytes(value[:8], "little", signed=True)
    assert budget <= 0, budget

