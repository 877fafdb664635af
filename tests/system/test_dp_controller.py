# SPDX-License-Identifier: BSD-3-Clause
"""The dataplane side of the sluiced <-> dataplane protocol (--controller).

A fake sluiced written here from the spec (include/sluice/dp_proto.h,
docs/dp-protocol.md) listens on a unix socket and drives a real
sluice-dataplane: 4-byte big-endian length + JSON frames, a body frame
after a message with body_len.  Traffic comes from a pcap replayed for ever
(net_pcap infinite_rx) into port "in", cross-connected to a net_null port
"out"; what the rules did to it is read back from the stats replies, whose
counters the --stats-file check of test_dataplane_pcap.py already ties to
the packets.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest
from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="DPDK needs root")

FRAME_MAX = 256 << 20


class Conn:
    """One accepted connection from the dataplane, speaking the framing."""

    def __init__(self, sock):
        self.sock = sock
        self.seq = 0
        self.early = []     # replies read while waiting for another seq

    def close(self):
        self.sock.close()

    def send_frame(self, data):
        self.sock.sendall(struct.pack("!I", len(data)) + data)

    def send(self, msg, body=None):
        msg = dict(msg)
        if body is not None:
            msg["body_len"] = len(body)
        self.send_frame(json.dumps(msg).encode())
        if body is not None:
            self.send_frame(body)

    def _read_exact(self, n, timeout):
        buf = b""
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"read {len(buf)} of {n} bytes")
            self.sock.settimeout(left)
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("the dataplane closed the connection")
            buf += chunk
        return buf

    def read_frame(self, timeout=10):
        (n,) = struct.unpack("!I", self._read_exact(4, timeout))
        assert n <= FRAME_MAX
        return self._read_exact(n, timeout)

    def recv(self, timeout=10):
        """(message, body or None)."""
        msg = json.loads(self.read_frame(timeout))
        assert msg["v"] == 1, msg
        body = self.read_frame(timeout) if "body_len" in msg else None
        if body is not None:
            assert len(body) == msg["body_len"]
        return msg, body

    def request(self, type_, body=None, timeout=15, **fields):
        """Send a request; return (reply, reply body)."""
        self.seq += 1
        seq = self.seq
        self.send(dict(v=1, type=type_, seq=seq, **fields), body)
        return self.wait_reply(seq, timeout)

    def wait_reply(self, seq, timeout=15):
        for i, (m, b) in enumerate(self.early):
            if m["seq"] == seq:
                del self.early[i]
                return m, b
        deadline = time.monotonic() + timeout
        while True:
            m, b = self.recv(max(0.1, deadline - time.monotonic()))
            assert m["type"] == "reply", m
            if m["seq"] == seq:
                return m, b
            self.early.append((m, b))

    def closed_by_peer(self, timeout=5):
        """True once the dataplane has closed this connection."""
        try:
            while True:
                self.read_frame(timeout)
        except EOFError:
            return True
        except (TimeoutError, socket.timeout):
            return False


class FakeSluiced:
    """A listening unix socket at path; accept() gives a Conn."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)

    def accept(self, timeout=10):
        """The next connection and its hello."""
        self.sock.settimeout(timeout)
        s, _ = self.sock.accept()
        c = Conn(s)
        hello, body = c.recv()
        assert hello["type"] == "hello" and hello["seq"] == 0 and body is None, hello
        return c, hello

    def close(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


@pytest.fixture
def sockdir():
    # Short: a unix socket path has at most 107 bytes.
    d = tempfile.mkdtemp(prefix="sl-dpc-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def policy(generation, rules, default="accept", ports=None):
    return json.dumps({
        "version": 1, "generation": generation, "default": default,
        "rules": rules,
        "ports": ports or [
            {"name": "in", "dpdk_port": 0, "mode": "xconnect", "peer": "out"},
            {"name": "out", "dpdk_port": 1, "mode": "xconnect", "peer": "in"}],
    }).encode()


DNS_DROP = [{"id": "dns", "proto": "udp", "dport": 53, "action": "drop"}]
DNS_ACCEPT = [{"id": "dns", "proto": "udp", "dport": 53, "action": "accept"}]


def traffic(tmp_path, malformed=False):
    """A pcap of UDP to port 53 and TCP to port 80, replayed for ever; with
    malformed, one IPv4 frame whose header length is 16 bytes too."""
    pkts = []
    for i in range(32):
        ip = IP(src="10.0.0.1", dst="10.0.0.2")
        pkts.append(Ether() / ip / UDP(sport=1000 + i, dport=53) / Raw(b"q" * 18))
        pkts.append(Ether() / ip / TCP(sport=2000 + i, dport=80, flags="A") / Raw(b"h" * 6))
    if malformed:
        b = bytearray(bytes(Ether() / IP(src="10.0.0.9", dst="10.0.0.2") / UDP() / Raw(b"m" * 20)))
        b[14] = 0x44
        pkts.append(Ether(bytes(b)))
    path = tmp_path / "in.pcap"
    wrpcap(str(path), pkts)
    return [f"net_pcap0,rx_pcap={path},infinite_rx=1", "net_null0,no-rx=1"]


def stats(conn):
    r, _ = conn.request("stats")
    assert r["ok"], r
    return r["stats"]


def port(st, name_prefix):
    return next(p for p in st["ports"] if p["name"].startswith(name_prefix))


def rule_packets(st, rule_id):
    return next(r["packets"] for r in st["rules"] if r["id"] == rule_id)


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def test_without_policy_waits_for_push_then_serves_push_stats_and_reconnects(
        dataplane, tmp_path, sockdir):
    path = os.path.join(sockdir, "dp.sock")
    ctl = FakeSluiced(path)
    dp = dataplane(traffic(tmp_path), ["--controller", path], ready=False)
    try:
        c, hello = ctl.accept()
        assert hello["pid"] == dp.pid
        assert hello["policy_generation"] is None
        assert hello["fw_generation"] == 0 and hello["ports"] == []

        # Waiting: nothing is set up and only push is served.
        wait_for(lambda: "waiting for sluiced at " + path in dp.output, what="waiting note")
        assert not dp.READY_RE.search(dp.output)
        r, _ = c.request("stats")
        assert not r["ok"] and "first push" in r["error"]

        # A first push this dataplane cannot bind is refused; it waits on.
        bad = policy(1, DNS_DROP, ports=[
            {"name": "in", "dpdk_port": 7, "mode": "xconnect", "peer": "out"},
            {"name": "out", "dpdk_port": 1, "mode": "xconnect", "peer": "in"}])
        r, _ = c.request("push", bad)
        assert not r["ok"] and "dpdk_port 7 was not probed" in r["error"], r

        # The first good push: answered once its generation is built.
        r, _ = c.request("push", policy(1, DNS_DROP))
        assert r["ok"] and r["policy_generation"] == 1 and r["fw_generation"] == 1, r
        dp.wait_ready(ports=2)

        # Drop rule in force: the DNS half is dropped by rule "dns" (the
        # counters are read while the worker runs: sums may lag a little).
        time.sleep(0.3)
        st = stats(c)
        assert set(st) >= {"ports", "drops", "rules", "workers", "policy", "mempool"}
        assert st["policy"]["generation"] == 1
        assert st["mempool"]["size"] > 0 and "available" in st["mempool"]
        assert rule_packets(st, "dns") > 0 and st["drops"]["rule"] > 0
        assert port(st, "net_pcap")["rx_dropped"] > 0

        # Push the accept: the same traffic now leaves by "out", none dropped.
        r, _ = c.request("push", policy(2, DNS_ACCEPT))
        assert r["ok"] and r["policy_generation"] == 2 and r["fw_generation"] == 2, r
        time.sleep(0.1)
        before = stats(c)
        time.sleep(0.3)
        st = stats(c)
        assert st["policy"]["generation"] == 2 and st["policy"]["reloads"] == 1
        assert st["drops"]["rule"] == before["drops"]["rule"]
        in_rx = port(st, "net_pcap")["rx_packets"]
        sent = port(st, "net_null")["tx_packets"] - port(before, "net_null")["tx_packets"]
        got = in_rx - port(before, "net_pcap")["rx_packets"]
        assert got > 0 and abs(sent - got) <= 2 * 256    # a burst or two in flight
        # the rule counters run on over the swap: "dns" counts the drops too
        assert rule_packets(st, "dns") > before["drops"]["rule"]

        # A push that changes the ports is refused; generation 2 stays.
        moved = policy(3, DNS_DROP, ports=[
            {"name": "in", "dpdk_port": 1, "mode": "xconnect", "peer": "out"},
            {"name": "out", "dpdk_port": 0, "mode": "xconnect", "peer": "in"}])
        r, _ = c.request("push", moved)
        assert not r["ok"] and "the ports changed: restart the dataplane" in r["error"], r
        # An invalid document is refused with the field's path.
        r, _ = c.request("push", b'{"version": 1, "rules": [{"dport": 70000, "action": "drop"}]}')
        assert not r["ok"] and "rules[0]" in r["error"], r
        r, _ = c.request("push")
        assert not r["ok"] and "body" in r["error"]
        r, _ = c.request("frobnicate")
        assert r == {"v": 1, "type": "reply", "seq": c.seq, "ok": False,
                     "error": "unknown type"}
        st = stats(c)
        assert st["policy"]["generation"] == 2 and port(st, "net_pcap")["rx_packets"] > in_rx

        # sluiced goes away: forwarding goes on, the outage is logged once.
        out_before = port(st, "net_null")["tx_packets"]
        c.close()
        ctl.close()
        time.sleep(2.5)
        assert dp.output.count("lost sluiced at " + path) == 1, dp.output
        assert "cannot reach sluiced" not in dp.output
        ctl = FakeSluiced(path)
        c, hello = ctl.accept(timeout=5)
        assert hello["policy_generation"] == 2 and hello["fw_generation"] == 2
        assert hello["ports"] == ["in", "out"]
        st = stats(c)
        assert port(st, "net_null")["tx_packets"] > out_before
        assert st["policy"]["generation"] == 2

        # Frames that break the protocol close the connection; it comes back.
        for frame in (b"this is not json", b"[1, 2]",
                      json.dumps({"v": 2, "type": "stats", "seq": 1}).encode()):
            c.send_frame(frame)
            assert c.closed_by_peer(), frame
            c.close()
            c, hello = ctl.accept(timeout=5)
            assert hello["policy_generation"] == 2
        c.sock.sendall(struct.pack("!I", FRAME_MAX + 1))
        assert c.closed_by_peer()
        c.close()
        c, hello = ctl.accept(timeout=5)
        assert stats(c)["policy"]["generation"] == 2
        assert "not a JSON object" in dp.output and "protocol version is not 1" in dp.output
        assert "over the size limit" in dp.output

        assert dp.stop() == 0, dp.output
        final = dp.stats()
        assert final["mempool"]["available_at_exit"] == final["mempool"]["size"]
        assert final["policy"]["generation"] == 2
    finally:
        ctl.close()


def test_policy_file_and_controller_start_from_the_file_then_take_pushes(
        dataplane, tmp_path, sockdir):
    path = os.path.join(sockdir, "dp.sock")
    ctl = FakeSluiced(path)
    pf = tmp_path / "policy.json"
    pf.write_bytes(policy(7, DNS_DROP))
    try:
        dp = dataplane(traffic(tmp_path), ["--policy", str(pf), "--controller", path])
        c, hello = ctl.accept()
        assert hello["policy_generation"] == 7 and hello["fw_generation"] == 1
        assert hello["ports"] == ["in", "out"]
        r, _ = c.request("push", policy(8, DNS_ACCEPT))
        assert r["ok"] and r["policy_generation"] == 8 and r["fw_generation"] == 2, r
        # The same generation again rebuilds (sluiced decides what to push).
        r, _ = c.request("push", policy(8, DNS_ACCEPT))
        assert r["ok"] and r["policy_generation"] == 8 and r["fw_generation"] == 3, r
        # SIGHUP still reloads the file through the same path.
        dp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "policy generation 4 in force" in dp.output, what="reload")
        assert stats(c)["policy"]["generation"] == 4
        assert dp.stop() == 0, dp.output
    finally:
        ctl.close()


def test_without_sluiced_the_wait_logs_every_5s_and_sigterm_stops_it(
        dataplane, tmp_path, sockdir):
    path = os.path.join(sockdir, "absent.sock")
    dp = dataplane(traffic(tmp_path), ["--controller", path], ready=False)
    wait_for(lambda: "cannot reach sluiced at " + path in dp.output, what="first attempt")
    time.sleep(1.5)
    out = dp.output
    assert out.count("cannot reach sluiced") == 1, out     # once, not every second
    assert out.count("waiting for sluiced at") == 1, out   # every 5 s
    t0 = time.monotonic()
    assert dp.stop(signal.SIGTERM, timeout=5) == 0, dp.output
    assert time.monotonic() - t0 < 2


def test_trace_and_capture_follow_the_next_packets_that_match(dataplane, tmp_path, sockdir):
    path = os.path.join(sockdir, "dp.sock")
    ctl = FakeSluiced(path)
    pf = tmp_path / "policy.json"
    pf.write_bytes(policy(3, DNS_DROP))
    try:
        dp = dataplane(traffic(tmp_path, malformed=True), ["--policy", str(pf), "--controller", path])
        c, _ = ctl.accept()

        # The DNS half: dropped by rule "dns", each with its 5-tuple.
        r, _ = c.request("trace", count=5, timeout_ms=5000,
                         filter={"proto": "udp", "dport": 53, "src": "10.0.0.0/24"})
        assert r["ok"] and len(r["packets"]) == 5, r
        for p in r["packets"]:
            assert p["port"] == "in" and p["len"] == 60 and p["verdict"] == "drop"
            assert p["rule"] == "dns" and p["drop_reason"] == "rule" and p["egress"] is None
            assert p["generation"] == 1
            assert p["parse"]["l3"] == "ipv4" and p["parse"]["proto"] == "udp"
            assert p["parse"]["src"] == "10.0.0.1" and p["parse"]["dst"] == "10.0.0.2"
            assert p["parse"]["dport"] == 53 and 1000 <= p["parse"]["sport"] < 1032
            assert p["ct"] in ("new", "established")
        assert [p["ts_ns"] for p in r["packets"]] == sorted(p["ts_ns"] for p in r["packets"])
        assert abs(r["packets"][0]["ts_ns"] / 1e9 - time.time()) < 60

        # The TCP half: accepted by the default, out of "out".
        r, _ = c.request("trace", count=3, filter={"proto": "tcp", "in_port": "in"})
        assert r["ok"] and len(r["packets"]) == 3, r
        for p in r["packets"]:
            assert p["verdict"] == "accept" and p["rule"] == "default"
            assert p["egress"] == "out" and p["drop_reason"] is None
            assert p["parse"]["proto"] == "tcp" and p["parse"]["dport"] == 80

        # No filter: the malformed frame shows up, dropped by the parser.
        r, _ = c.request("trace", count=200)
        assert r["ok"] and len(r["packets"]) == 200
        bad = [p for p in r["packets"] if p["drop_reason"] == "ipv4_bad_ihl"]
        assert bad and all(p["rule"] is None and p["verdict"] == "drop" for p in bad)
        assert bad[0]["parse"] == {"l3": "ipv4"}

        # A trace nothing matches answers at its timeout, and requests sent
        # meanwhile are answered first.
        c.seq += 1
        trace_seq = c.seq
        t0 = time.monotonic()
        c.send({"v": 1, "type": "trace", "seq": trace_seq, "count": 5, "timeout_ms": 700,
                "filter": {"dst": "192.0.2.0/24"}})
        assert stats(c)["policy"]["generation"] == 1
        r, _ = c.wait_reply(trace_seq)
        assert r["ok"] and r["packets"] == [] and time.monotonic() - t0 >= 0.6

        # Requests that are wrong say which field.
        for req, needle in [({"filter": {"dport": 70000, "proto": "udp"}}, "filter.dport"),
                            ({"filter": {"payload": {"literal": "x"}}}, "filter.payload"),
                            ({"filter": {"in_port": "nope"}}, "filter.in_port"),
                            ({"count": 0}, "count"), ({"timeout_ms": "soon"}, "timeout_ms")]:
            r, _ = c.request("trace", **req)
            assert not r["ok"] and needle in r["error"], (req, r)
        r, _ = c.request("capture", count=1)
        assert not r["ok"] and "port" in r["error"], r

        # Four at once at most; each answers on its own.
        seqs = []
        for _ in range(4):
            c.seq += 1
            seqs.append(c.seq)
            c.send({"v": 1, "type": "trace", "seq": c.seq, "count": 1, "timeout_ms": 500,
                    "filter": {"dst": "192.0.2.1"}})
        r, _ = c.request("trace", count=1)
        assert not r["ok"] and "busy" in r["error"], r
        for q in seqs:
            r, _ = c.wait_reply(q)
            assert r["ok"] and r["packets"] == []

        # Capture: 20 UDP packets of port "in" as pcapng, read by tshark.
        r, body = c.request("capture", port="in", count=20, timeout_ms=5000,
                            filter={"proto": "udp"})
        assert r["ok"] and r["packets"] == 20 and body is not None, r
        out = tmp_path / "cap.pcapng"
        out.write_bytes(body)
        assert body[:4] == b"\x0a\x0d\x0d\x0a"
        t = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.len",
                            "-e", "ip.src", "-e", "udp.dstport", "-e", "frame.interface_name"],
                           capture_output=True, text=True, timeout=60)
        assert t.returncode == 0, t.stderr
        rows = [ln.split("\t") for ln in t.stdout.splitlines()]
        assert len(rows) == 20 and all(row == ["60", "10.0.0.1", "53", "in"] for row in rows), rows
        # A capture of a port with nothing arriving: an empty file.
        r, body = c.request("capture", port="out", count=5, timeout_ms=300)
        assert r["ok"] and r["packets"] == 0, r
        out.write_bytes(body)
        t = subprocess.run(["tshark", "-r", str(out)], capture_output=True, text=True, timeout=60)
        assert t.returncode == 0 and t.stdout == "", t.stderr

        # A trace in progress is dropped with the connection; the next one
        # works on the new connection.
        c.send({"v": 1, "type": "trace", "seq": 99, "count": 1, "timeout_ms": 60000,
                "filter": {"dst": "192.0.2.1"}})
        time.sleep(0.1)
        c.close()
        c, _ = ctl.accept(timeout=5)
        r, _ = c.request("trace", count=1, filter={"proto": "tcp"})
        assert r["ok"] and len(r["packets"]) == 1

        assert dp.stop() == 0, dp.output
        final = dp.stats()
        assert final["mempool"]["available_at_exit"] == final["mempool"]["size"]
    finally:
        ctl.close()


def test_a_controller_path_too_long_for_a_unix_socket_is_refused(sluice_dataplane):
    import lab
    prefix = "sl-" + lab.unique_tag()
    r = subprocess.run([sluice_dataplane] + lab.eal_args(prefix) +
                       ["--vdev", "net_null0", "--", "--controller", "/tmp/" + "x" * 120],
                       capture_output=True, text=True, timeout=30)
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
    assert r.returncode == 2 and "--controller" in r.stderr, r.stdout + r.stderr
