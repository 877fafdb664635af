# SPDX-License-Identifier: BSD-3-Clause
"""sluiced under a flood of malformed requests.

More than 10,000 requests that must all be refused, sent as fast as one
client can (8 threads, kept-alive connections, raw sockets where HTTP itself
is broken): truncated JSON and YAML, a wrong value in every field of rules,
routes, groups, ports, settings and the document, bad prefixes, huge
numbers, unknown fields at every level, invalid UTF-8 and control bytes,
bad Content-Lengths, headers without their body, random bytes, deep
nesting, unknown paths and methods, bad headers and query parameters.

What must hold (docs/api.md):
- every reply is a 4xx (a 5xx other than 503/504 is a bug; none of these
  needs the dataplane), within 5 s: nothing hangs;
- a well-formed HTTP request gets a reply with the JSON error object and a
  documented code; only bytes that are not HTTP may be answered by closing
  the connection;
- the generation is unchanged after all of them, and GET /v1/config is
  byte-identical (the state file too);
- memory is flat: VmRSS after the rest is within RSS_SLACK_KIB of VmRSS
  after a warm-up of the first 1,000 (shuffled, so the warm-up holds every
  kind); all of them sent a second time add at most RSS_STEADY_SLACK_KIB;
  and no file descriptor is left open.

A stalled client (a few bytes, then nothing) is closed after
--request-timeout while others are served.

The requests are made from a fixed seed: a failure names its category and
a sample that reproduces it.
"""
import collections
import concurrent.futures
import copy
import json
import os
import random
import socket
import threading
import time

import pytest
import yaml

from sluiced_util import Client, raw_exchange
import sluiced_util


@pytest.fixture
def sluiced(request):
    """Factory of started sluiced processes (sluiced_util.sluiced_factory)."""
    yield from sluiced_util.sluiced_factory(request)


SEED = 20261123
TOTAL_MIN = 10000
WARMUP = 1000
THREADS = 8
# VmRSS may grow this much between the warm-up and the end.  The warm-up
# took every kind of request, so the allocator's arenas and MHD's pools are
# near their high-water mark (measured: +0.7 to +1.4 MiB more over the
# remaining 9,000, as the heap settles).  9,000 requests leaking 512 bytes
# each would add 4.5 MiB: 4 MiB leaves room for the heap settling and none
# for a leak of that size.
RSS_SLACK_KIB = 4096
# Then all of them again: by now the heap is settled (measured: under
# 0.1 MiB per 10,000), so 1 MiB catches a leak of ~100 bytes a request.
RSS_STEADY_SLACK_KIB = 1024
MAX_BODY = 1 << 20

POLICY = {
    "version": 1,
    "ports": [
        {"name": "p0", "devargs": "net_null0", "addresses": ["192.0.2.1/24"]},
        {"name": "p1", "devargs": "net_null1"},
    ],
    "rules": [
        {"id": "web", "proto": "tcp", "dport": 80, "action": "accept"},
        {"id": "ssh", "src": "198.51.100.0/24", "proto": "tcp", "dport": 22,
         "tcp_flags": "syn/syn,ack", "action": "accept"},
        {"id": "mirror", "proto": "udp", "dport": "5000-5100", "ct": ["new"],
         "action": {"replicate": {"group": "g1", "copies": 1}}},
        {"id": "pl", "proto": "tcp", "dport": 8080,
         "payload": {"literal": "GET", "flags": ["caseless"]},
         "action": {"steer": {"group": "tools"}}},
    ],
    "default": "drop",
    "routes": [{"prefix": "10.1.0.0/16", "nexthops": [{"gateway": "192.0.2.254", "port": "p0"}]}],
    "groups": [
        {"name": "g1", "targets": [{"kind": "port", "port": "p1"}]},
        {"name": "tools", "table_size": 257,
         "targets": [{"kind": "vxlan", "remote": "198.51.100.7", "vni": 100}]},
    ],
}

# --- the malformed requests ------------------------------------------------------

# A case: (category, kind, data).  kind "http": data = (method, path, body,
# content_type, headers) sent with http.client; a reply is required.  kind
# "raw": data = (bytes, half_close, reply_required) sent on a new socket.

HUGE = ["1e400", "-1e400", "99999999999999999999999999", "-99999999999999999999999",
        "18446744073709551616", "9223372036854775808", "1.7976931348623157e309",
        "123456789012345678901234567890e10", "NaN", "Infinity", "-Infinity", "0x10",
        "01", "1.", ".5", "+1", "1e", "--1"]

BAD_PREFIXES = ["", "10.0.0.1/8", "10.0.0.0/33", "1.2.3", "1.2.3.4.5/32", "::/129",
                "abc", "10.0.0.0/-1", "10.0.0.0/8/8", "300.0.0.0/8", "fe80::%eth0/64",
                "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0.0/8 ", "2001:db8::1/64", "2001:db8:::/48",
                "10.0.0.0/", "/8", "10.0.0.0/x", "10.0.0.0/1e1", "::ffff:300.1.1.1/128",
                "10.0.0.0\u0000/8", "1o.0.0.0/8", "10.0.0.0/08x", "0.0.0.0/0/0"]

NOT_A_NAME = [None, True, 1.5, -1, [], {}, "", "x" * 64, "-a", "a b", "\u00e4", "a/b"]
JUNK = [None, True, False, 1.5, [], {}, [1], {"a": 1}]


def rule_variants():
    """(field, value) pairs each of which makes the rule {id, proto: tcp,
    action: drop} plus field invalid."""
    v = []
    v += [("id", x) for x in NOT_A_NAME + [2 ** 64, "web"]]
    v += [("comment", x) for x in [None, True, 1, 1.5, [], {}, "c" * 257]]
    for f in ("src", "dst"):
        v += [(f, x) for x in [None, True, 1, [], {}] + BAD_PREFIXES]
    v += [("proto", x) for x in [None, True, -1, 256, 1.5, [], {}, "", "tcpx", "t c p", 2 ** 64]]
    for f in ("sport", "dport"):
        v += [(f, x) for x in [None, True, -1, 65536, 1.5, [], {}, "", "a", "10-5", "1-2-3",
                               {"from": 1}, {"to": 1}, {"from": 5, "to": 1},
                               {"from": 1, "to": 2, "x": 3}, "65536", "1-65536", 2 ** 64,
                               {"from": "1", "to": 2}, "-1"]]
    v += [("in_port", x) for x in [None, True, 1, [], {}, "", "nope", "x" * 16]]
    v += [("vlan", x) for x in [None, True, -1, 4096, 1.5, [], {}, 2 ** 64]]
    v += [("tcp_flags", x) for x in [None, True, 1, [], "", "bogus", "syn/ack", "/", "syn/",
                                     {"mask": ["syn"]}, {"flags": ["bogus"]},
                                     {"flags": ["syn"], "mask": ["ack"]}, {"flags": 1},
                                     {"flags": ["syn"], "x": 1}]]
    v += [("ct", x) for x in [None, True, 1, "bogus", ["new", "new"], "new,established",
                              [1], {}, ["bogus"]]]
    v += [("payload", x) for x in [None, True, 1, "x", [], {}, {"literal": ""},
                                   {"literal": "a", "regex": "b"},
                                   {"regex": "a", "flags": ["bogus"]},
                                   {"literal": "a", "flags": ["dotall"]},
                                   {"regex": "a", "flags": ["ucp"]}, {"literal": "x" * 4097},
                                   {"literal": 1}, {"literal": "a", "x": 1}, {"regex": ""}]]
    v += [("action", x) for x in [None, True, 1, [], {}, "", "bogus", "accept drop",
                                  {"replicate": {}}, {"replicate": {"group": "nope"}},
                                  {"steer": {"group": "g1"}, "replicate": {"group": "g1"}},
                                  {"replicate": {"group": "g1", "copies": 0}},
                                  {"replicate": {"group": "g1", "copies": 17}},
                                  {"replicate": {"group": "g1", "copies": 2}},
                                  {"steer": {"group": "g1", "x": 1}}, {"steer": "g1"},
                                  {"drop": {}}, {"replicate": {"group": "g1", "copies": "1"}}]]
    v += [(f, 1) for f in ("bogus", "ID", "Action", "position ", "")]
    return v


def route_variants():
    """Whole invalid routes."""
    nh = [{"port": "p0"}]
    v = [{"prefix": p, "nexthops": nh} for p in [None, True, 1, [], {}] + BAD_PREFIXES]
    v += [{"prefix": "10.9.0.0/16", "nexthops": x} for x in [
        None, True, 1, "", {}, [], [{}], [None], [{"port": "nope"}],
        [{"port": "p0", "gateway": "2001:db8::1"}], [{"port": "p0", "weight": 0}],
        [{"port": "p0", "weight": 257}], [{"port": "p0", "gateway": "192.0.2.9/32"}],
        [{"port": "p0"}, {"port": "p0"}],
        [{"port": "p0", "gateway": f"192.0.2.{i}"} for i in range(10, 27)],
        [{"port": "p0", "bogus": 1}], [{"gateway": "192.0.2.9"}], [{"port": 0}],
        [{"port": "p0", "gateway": "bogus"}], [{"port": "p0", "weight": "1"}]]]
    v += [{"prefix": "10.1.0.0/16", "nexthops": nh},          # taken: 409
          {"nexthops": nh}, {"prefix": "10.9.0.0/16"}, {"prefix": "10.9.0.0/16", "nexthops": nh,
                                                        "x": 1},
          {"prefix": "2001:db8::/32", "nexthops": [{"port": "p0", "gateway": "192.0.2.9"}]}]
    return v


def target_variants():
    return [None, True, 1, "", {}, [], [{}], [None], [{"kind": "bogus"}], [{"kind": "port"}],
            [{"kind": "port", "port": "nope"}], [{"kind": "vxlan"}],
            [{"kind": "vxlan", "remote": "198.51.100.1", "vni": 16777216}],
            [{"kind": "gre", "remote": "198.51.100.1", "vni": 1}],
            [{"kind": "vxlan", "remote": "198.51.100.1", "key": 1}],
            [{"kind": "port", "port": "p0", "weight": 0}],
            [{"kind": "port", "port": "p0", "state": "bogus"}],
            [{"kind": "vxlan", "remote": "198.51.100.1", "local": "2001:db8::1"}],
            [{"kind": "port", "port": "p0"}, {"kind": "port", "port": "p0"}],
            [{"kind": "vxlan", "remote": f"198.51.{i // 250}.{i % 250 + 1}"} for i in range(257)],
            [{"kind": "vxlan", "remote": "198.51.100.1/32"}],
            [{"kind": "port", "port": "p0", "udp_port": 1}],
            [{"kind": "geneve", "remote": "198.51.100.1", "udp_port": 0}],
            [{"kind": "port", "port": "p0", "x": 1}], [{"kind": "PORT ", "port": "p0"}]]


def group_variants():
    """(group, still invalid without its name) pairs."""
    tg = [{"kind": "port", "port": "p0"}]
    v = [({"name": x, "targets": tg}, False) for x in NOT_A_NAME]
    v += [({"name": "g9", "table_size": x, "targets": tg}, True)
          for x in [None, True, -1, 0, 256, 258, 65536, 16777214, 16777259, 1.5, "65537", 2 ** 64]]
    v += [({"name": "g9", "targets": x}, True) for x in target_variants()]
    v += [({"name": "g9"}, True), ({"targets": tg}, False),
          ({"name": "g9", "targets": tg, "bogus": 1}, True)]
    return v


def port_variants():
    """Invalid port lists (replacing the policy's ports)."""
    p0 = POLICY["ports"][0]
    v = []
    for x in NOT_A_NAME + ["x" * 16, "p0"]:
        v.append([p0, {"name": x, "devargs": "net_null5"}])
    for x in [-1, 65535, 1.5, None, "0", [], 2 ** 64]:
        v.append([p0, {"name": "p1", "dpdk_port": x}])
    v.append([p0, {"name": "p1", "dpdk_port": 0, "devargs": "net_null5"}])
    v.append([{"name": "p0", "dpdk_port": 3}, {"name": "p1", "dpdk_port": 3}])
    for x in [None, 1, [], "net_null0"]:
        v.append([p0, {"name": "p1", "devargs": x}])
    for x in [None, 1, "bogus", "xconnect", "ROUTE "]:
        v.append([p0, {"name": "p1", "devargs": "net_null1", "mode": x}])
    v.append([p0, {"name": "p1", "devargs": "net_null1", "mode": "xconnect", "peer": "nope"}])
    v.append([p0, {"name": "p1", "devargs": "net_null1", "mode": "xconnect", "peer": "p1"}])
    v.append([p0, {"name": "p1", "devargs": "net_null1", "peer": "p0"}])
    v.append([p0, {"name": "p1", "devargs": "net_null1", "mode": "xconnect", "peer": "p0",
                   "addresses": ["198.18.0.1/24"]}])
    for x in [None, "198.18.0.1/24", [1], ["198.18.0.1"], ["bogus"], ["192.0.2.1/24"],
              [f"198.18.{i}.1/24" for i in range(65)], ["198.18.0.1/33"], [None]]:
        v.append([p0, {"name": "p1", "devargs": "net_null1", "addresses": x}])
    v.append([p0, {"name": "p1", "devargs": "net_null1", "bogus": 1}])
    v.append([p0, {"devargs": "net_null1"}])
    return v


def document_variants():
    """Whole invalid documents: settings and top-level fields."""
    docs = []

    def with_(path, value):
        d = copy.deepcopy(POLICY)
        node = d
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = value
        docs.append(d)

    for x in [-1, "xyz", 1.5, None, [], "0xZZ", "0x1ffffffffffffffff", "-5", "1e3"]:
        with_(("settings", "flow_hash_seed"), x)
    for x in ["yes", 1, None, "true"]:
        with_(("settings", "conntrack", "enabled"), x)
    for x in [0, 1023, 268435457, "big", -1, 1.5]:
        with_(("settings", "conntrack", "size"), x)
    for t in ("tcp_syn", "tcp_established", "udp_new", "icmp", "other"):
        for x in [0, 604801, -1, "1", None]:
            with_(("settings", "conntrack", "timeouts", t), x)
    with_(("settings", "conntrack", "timeouts", "tcp_bogus"), 5)
    with_(("settings", "conntrack", "bogus"), 5)
    for k, bad in (("kernel_table", [-1, 4294967296, "main"]), ("icmp_errors", [-1, 1000001]),
                   ("max_routes_ipv4", [1023, 16777217]), ("max_routes_ipv6", [1023, 4194305])):
        for x in bad:
            with_(("settings", "routing", k), x)
    with_(("settings", "routing", "bogus"), 1)
    with_(("settings", "bogus"), 1)
    for x in [None, [], 1, "x"]:
        with_(("settings",), x)
    for x in [2, 0, "1", None, 1.5, -1]:
        with_(("version",), x)
    for x in ["bogus", None, 1, {"steer": {"group": "nope"}}, [], "ACCEPT DROP", {}]:
        with_(("default",), x)
    for k in ("rules", "routes", "groups", "ports"):
        for x in [{}, "x", 1, None, True, [None], [1], [[]]]:
            with_((k,), x)
    for x in [-1, "abc", 1.5, None, [], {}]:
        with_(("generation",), x)
    with_(("bogus",), 1)
    with_(("Rules",), [])
    # A rule still naming a group that is gone; copies above the targets.
    d = copy.deepcopy(POLICY)
    d["groups"] = d["groups"][1:]
    docs.append(d)
    d = copy.deepcopy(POLICY)
    d["rules"][2]["action"]["replicate"]["copies"] = 2
    docs.append(d)
    d = copy.deepcopy(POLICY)
    d["rules"].append(copy.deepcopy(d["rules"][0]))             # id twice
    docs.append(d)
    d = copy.deepcopy(POLICY)
    d["rules"] += [{"proto": "icmp", "action": "drop"}] * 2       # auto id twice
    docs.append(d)
    d = copy.deepcopy(POLICY)
    d["rules"][0]["in_port"] = "p0"
    d["ports"] = d["ports"][1:]
    docs.append(d)
    return docs


def j(x):
    return json.dumps(x, separators=(",", ":")).encode()


def build_cases(rng):
    """The cases, in a fixed order (shuffled by the caller)."""
    cases = []

    def http(cat, method, path, body, ctype="application/json", headers=None):
        cases.append((cat, "http", (method, path, body, ctype, headers or {})))

    def raw(cat, data, half_close=True, reply=False):
        cases.append((cat, "raw", (data, half_close, reply)))

    base_rule = {"id": "fz", "proto": "tcp", "action": "drop"}
    doc = copy.deepcopy(POLICY)

    # Wrong values in every field of a rule: POST, and PUT of the whole
    # document in JSON and in YAML.
    for field, value in rule_variants():
        r = dict(base_rule)
        r[field] = value
        http("rule field", "POST", "/v1/rules", j(r))
        d = copy.deepcopy(doc)
        d["rules"].append(r)
        http("rule field", "PUT", "/v1/config", j(d))
        if field == "id" and value == 2 ** 64:
            continue    # YAML reads it as the id "18446744073709551616"; JSON cannot
        try:
            http("rule field yaml", "PUT", "/v1/config", yaml.safe_dump(d).encode(),
                 "application/yaml")
        except yaml.YAMLError:
            pass
    for route in route_variants():
        http("route", "POST", "/v1/routes", j(route))
        d = copy.deepcopy(doc)
        d["routes"].append(route)
        http("route", "PUT", "/v1/config", j(d))
        http("route yaml", "PUT", "/v1/config", yaml.safe_dump(d).encode(), "application/yaml")
    for group, bad_without_name in group_variants():
        http("group", "POST", "/v1/groups", j(group))
        if bad_without_name:
            # The same body as a replacement of g1 (its name from the path).
            g = dict(group)
            g.pop("name", None)
            http("group", "PUT", "/v1/groups/g1", j(g))
        d = copy.deepcopy(doc)
        d["groups"].append(group)
        http("group", "PUT", "/v1/config", j(d))
        http("group yaml", "PUT", "/v1/config", yaml.safe_dump(d).encode(), "application/yaml")
    for ports in port_variants():
        d = copy.deepcopy(doc)
        d["ports"] = ports
        http("port", "PUT", "/v1/config", j(d))
        http("port yaml", "PUT", "/v1/config", yaml.safe_dump(d).encode(), "application/yaml")
    for d in document_variants():
        http("document", "PUT", "/v1/config", j(d))
        try:
            http("document yaml", "PUT", "/v1/config", yaml.safe_dump(d).encode(),
                 "application/yaml")
        except yaml.YAMLError:
            pass
    for body in (b"[]", b"1", b'"x"', b"null", b"true", b"", b" ", b"\n"):
        for m, p in (("PUT", "/v1/config"), ("POST", "/v1/rules"), ("POST", "/v1/routes"),
                     ("POST", "/v1/groups"), ("PUT", "/v1/groups/g1")):
            http("not an object", m, p, body)
    for body in (b"[]", b"1", b"x", b"~", b"- a\n- b\n", b"", b"---\n...\n", b"a: 1\n---\nb: 2\n",
                 b"a: &x 1\nb: *x\n", b"!!binary aGk=", b"rules: !custom []\n", b"? [a]\n: 1\n",
                 b"version: 1\nversion: 1\n", b"{rules: [{id: a, action: drop}, ]"):
        http("yaml", "PUT", "/v1/config", body, "application/yaml")

    # Truncated JSON at every position: the document, each rule, route, group.
    text = j(doc)
    for n in range(len(text)):
        http("truncated json", "PUT", "/v1/config", text[:n])
    for r in doc["rules"]:
        t = j(r)
        for n in range(len(t)):
            http("truncated json", "POST", "/v1/rules", t[:n])
    for rt in doc["routes"]:
        t = j(rt)
        for n in range(len(t)):
            http("truncated json", "POST", "/v1/routes", t[:n])
    for g in doc["groups"]:
        t = j(g)
        for n in range(len(t)):
            http("truncated json", "POST", "/v1/groups", t[:n])
    # The same JSON as YAML (a flow mapping): cut anywhere, it is unclosed.
    for n in range(1, len(text), 2):
        http("truncated yaml", "PUT", "/v1/config", text[:n], "application/yaml")

    # Huge and malformed numbers in place of numbers.
    for h in HUGE:
        hb = h.encode()
        for tmpl, m, p in (
                (b'{"id":"h","proto":"tcp","dport":%s,"action":"drop"}', "POST", "/v1/rules"),
                (b'{"id":"h","vlan":%s,"action":"drop"}', "POST", "/v1/rules"),
                (b'{"id":%s,"action":"drop"}', "POST", "/v1/rules"),
                (b'{"prefix":"10.9.0.0/16","nexthops":[{"port":"p0","weight":%s}]}', "POST",
                 "/v1/routes"),
                (b'{"name":"g9","table_size":%s,"targets":[{"kind":"port","port":"p0"}]}',
                 "POST", "/v1/groups"),
                    # Documents that stay invalid whatever the number parses
                # to (in YAML, 01, +1 and 0x10 are integers).
                (b'{"version":1,"generation":%s,"rules":[{"id":"x"}]}', "PUT", "/v1/config"),
                (b'{"settings":{"flow_hash_seed":%s},"rules":[{"id":"x"}]}', "PUT",
                 "/v1/config"),
                (b'{"version":%s,"rules":[{"id":"x"}]}', "PUT", "/v1/config"),
                (b'{"rules":[{"id":"x","vlan":%s}]}', "PUT", "/v1/config")):
            http("huge number", m, p, tmpl % hb)
            if m == "PUT":
                http("huge number yaml", m, p, tmpl % hb, "application/yaml")

    # Invalid UTF-8 and control bytes, in strings and between tokens.
    bad_bytes = [b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
                 b"\x80", b"\xc3", b"\xf8\x88\x80\x80\x80"]
    for bb in bad_bytes:
        for tmpl, m, p in ((b'{"id":"a%sb","action":"drop"}', "POST", "/v1/rules"),
                           (b'{"id":"a","comment":"%s","action":"drop"}', "POST", "/v1/rules"),
                           (b'{"prefix":"10.9.0.0/16%s","nexthops":[{"port":"p0"}]}', "POST",
                            "/v1/routes"),
                           (b'{"name":"g%s","targets":[{"kind":"port","port":"p0"}]}', "POST",
                            "/v1/groups"),
                           (b'{"version":1,%s"rules":[]}', "PUT", "/v1/config"),
                           (b'%s{"version":1}', "PUT", "/v1/config"),
                           (b'{"version":1,"rules":[{"id":"%s","action":"drop"}]}', "PUT",
                            "/v1/config")):
            http("invalid utf-8", m, p, tmpl % bb)
            if m == "PUT":
                http("invalid utf-8 yaml", m, p, tmpl % bb, "application/yaml")
    for esc in (rb"\u0000", rb"\ud800", rb"\udc00", rb"\ud800\u0041", rb"\x41", rb"\u12",
                rb"\uZZZZ", b"\\"):
        http("escapes", "POST", "/v1/rules", b'{"id":"a%sb","action":"drop"}' % esc)
        http("escapes", "PUT", "/v1/config",
             b'{"version":1,"rules":[{"id":"a%sb","action":"drop"}]}' % esc)
    # An invalid byte or a control byte at a random place of a valid body:
    # never valid JSON (nor YAML) again.
    bodies = [("PUT", "/v1/config", text)] + \
        [("POST", "/v1/rules", j(dict(r, id="new-" + str(i)))) for i, r in enumerate(doc["rules"])]
    for i in range(2500):
        m, p, b = bodies[i % len(bodies)]
        at = rng.randrange(len(b) + 1)
        ins = rng.choice([b"\xff", b"\x80", b"\xc3", b"\x01", b"\x07", b"\x1f", b"\x00", b"\x0b"])
        http("inserted byte", m, p, b[:at] + ins + b[at:])

    # Unknown fields deep down.
    for path in (("settings", "conntrack", "timeouts"), ("settings", "routing"),
                 ("rules", 2, "action", "replicate"), ("rules", 3, "payload"),
                 ("routes", 0, "nexthops", 0), ("groups", 1, "targets", 0), ("ports", 0),
                 ("rules", 3, "action", "steer")):
        d = copy.deepcopy(doc)
        node = d
        for k in path:
            node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
        node["unknown_field"] = 1
        http("unknown field", "PUT", "/v1/config", j(d))
    for body in (b'{"rules":[],"rules":[]}', b'{"version":1,"version":1}',
                 b'{"rules":[{"id":"a","id":"b","action":"drop"}]}'):
        http("duplicate key", "PUT", "/v1/config", body)
    http("duplicate key", "POST", "/v1/rules", b'{"id":"a","action":"drop","action":"accept"}')

    # Deep nesting.
    for n in (65, 100, 1000, 2047, 2049, 10000, 100000, 300000):
        arr = b"[" * n + b"]" * n
        obj = b'{"a":' * n + b"1" + b"}" * n
        open_only = b"[" * n
        for body in (arr, obj, open_only):
            if len(body) > MAX_BODY:
                continue
            http("deep nesting", "PUT", "/v1/config", body)
            http("deep nesting", "PUT", "/v1/config", body, "application/yaml")
            http("deep nesting", "POST", "/v1/rules", b'{"id":"d","action":' + body + b"}")
        if n <= 700:
            http("deep nesting", "PUT", "/v1/config",
                 b"".join(b"  " * i + b"- \n" for i in range(n)), "application/yaml")
        if n <= 10000:
            http("deep nesting", "PUT", "/v1/config",
                 b'{"version":1,"rules":[{"id":"d","payload":' + arr + b',"action":"drop"}]}')

    # Bodies of random bytes, JSON and YAML.
    for i in range(1500):
        n = rng.choice([1, 2, 3, 8, 64, 500, 4000])
        body = rng.randbytes(n)
        if n <= 3:
            body = b"\x00" + body         # never a valid tiny document ({} would be)
        http("random body", "PUT", "/v1/config", body,
             rng.choice(["application/json", "application/yaml"]))
        http("random body", "POST", rng.choice(["/v1/rules", "/v1/routes", "/v1/groups"]),
             rng.randbytes(n) + b"\xff")

    # Paths, methods, headers, queries.
    for p in ("/", "/v1", "/v2/config", "/v1/rules/", "/v1/nope", "/v1/config/x", "/v1/%zz",
              "/v1/rules/%", "/v1/rules/zz-nope", "/v1/routes/10.99.0.0/16",
              "/v1/groups/zz-nope", "/v1/routes/zz", "/v1/rules/" + "a" * 2000, "/v1/rules/web/x",
              "/v1/./status/..", "//v1/status", "/v1/rules/%2e%2e/config", "/metrics/",
              "/v1/rules/%ff",
              "/v1/groups/%c0%af", "/v1/routes/%ed%a0%80"):
        for m in ("DELETE", "PATCH", "PUT"):
            if m == "PUT" and p in ("/v1/groups/zz-nope",):
                continue
            http("path", m, p, None if m == "DELETE" else b"[")
    for m in ("PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO", "get", "PROPFIND"):
        for p in ("/v1/config", "/v1/rules", "/v1/status", "/v1/groups/g1"):
            http("method", m, p, None)
    for ctype in ("text/plain", "application/xml", "application/jsonx", "json", "yaml",
                  "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                  "application/octet-stream", "*/*", "application/*", "text/json"):
        for m, p in (("PUT", "/v1/config"), ("POST", "/v1/rules"), ("PUT", "/v1/groups/g1")):
            http("content type", m, p, j(doc if p == "/v1/config" else
                                          {"id": "ct", "action": "drop"}), ctype)
    # Only generations that are malformed or not the current one (1): the
    # bodies are valid, so a generation taken as 1 would change the state.
    for h in ('"1', '"-1"', '"1.0"', '""', '"0"', '"7"', '"99999999999999999999"', "x" * 300,
              '"0x1"', '" 1"'):
        for m, p, b in (("PUT", "/v1/config", j(doc)), ("DELETE", "/v1/rules/web", None),
                        ("POST", "/v1/rules", j({"id": "im", "action": "drop"})),
                        ("DELETE", "/v1/groups/tools", None)):
            http("if-match", m, p, b, headers={"If-Match": h})
    for q in ("generation=abc", "generation=-1", "generation=", "generation=0", "generation=7",
              "generation=1.0", "generation=0x1", "generation=1&generation=2",
              "generation=99999999999999999999999"):
        for m, p, b in (("PUT", "/v1/config", j(doc)), ("DELETE", "/v1/rules/web", None),
                        ("POST", "/v1/routes", j({"prefix": "10.9.0.0/16",
                                                  "nexthops": [{"port": "p0"}]}))):
            if q == "generation=1&generation=2" or q == "generation=":
                continue     # which one a server reads is its choice
            http("generation query", m, p + "?" + q, b)
    http("too large", "PUT", "/v1/config", b"[" * (MAX_BODY + 1))
    http("too large", "POST", "/v1/rules", b'{"id":"big","comment":"' + b"c" * MAX_BODY + b'"}')

    # Broken HTTP on raw sockets.
    B = b'{"id":"x","action":"drop","vlan":5000}'
    for cl in (b"abc", b"-1", b"1e3", b"0x10", b"99999999999999999999", b"", b"5 5",
               b"18446744073709551616", b"+5", b"5,5", b"1048577", b"%d" % (MAX_BODY * 4)):
        for m, p in ((b"POST", b"/v1/rules"), (b"PUT", b"/v1/config")):
            raw("content-length", m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                b"application/json\r\nContent-Length: " + cl + b"\r\n\r\n" + B)
    for cls in ((b"5", b"6"), (b"38", b"5"), (b"38", b"38x")):
        raw("content-length", b"POST /v1/rules HTTP/1.1\r\nHost: x\r\nContent-Length: " + cls[0] +
            b"\r\nContent-Length: " + cls[1] + b"\r\n\r\n" + B)
    raw("content-length", b"POST /v1/rules HTTP/1.1\r\nHost: x\r\nContent-Length: 38\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + B)
    raw("content-length", b"POST /v1/rules HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked"
        b"\r\n\r\n26\r\n" + B + b"\r\n0\r\n\r\n")
    # A shorter Content-Length than the body: the body is cut (invalid) and
    # the rest is a second, broken request.
    for n in (1, 5, 20, 37):
        raw("content-length", b"POST /v1/rules HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % n + B, reply=True)
    # Headers, then less body than announced (or none), then the end.
    for n, sent in ((100, b""), (100, B), (MAX_BODY, B), (10, b"{")):
        raw("headers without body", b"PUT /v1/config HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n" % n + sent)
    for m in (b"PUT /v1/config", b"POST /v1/rules", b"POST /v1/groups", b"PUT /v1/groups/g1"):
        raw("headers without body", m + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            reply=True)
        raw("headers without body", m + b" HTTP/1.1\r\nHost: x\r\n\r\n", reply=True)
        raw("headers without body", m + b" HTTP/1.0\r\n\r\n", reply=True)
    # Broken framing around requests that are refused even when a lenient
    # parser takes them (a bad body, a rule that is not there).
    bad_put = b"PUT /v1/config HTTP/1.1"
    for data in (b"DELETE /v1/rules/zz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
                 b"DELETE /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                 bad_put + b"\r\nHost: x\r\nbad header\r\nContent-Length: 1\r\n\r\n[",
                 bad_put + b"\r\nHost: x\r\n: empty-name\r\nContent-Length: 1\r\n\r\n[",
                 b"PUT /v1/config\r\nContent-Length: 1\r\n\r\n[", b"PUT\r\n\r\n", b"\r\n\r\n",
                 b" /v1/config HTTP/1.1\r\nContent-Length: 1\r\n\r\n[",
                 bad_put + b"\r\nHost: x\r\n X: folded\r\nContent-Length: 1\r\n\r\n[",
                 bad_put + b"\nHost: x\nContent-Length: 1\n\n[",
                 bad_put + b"\r\nHost: x\r\nHost: y\r\nContent-Length: 1\r\n\r\n[",
                 b"DELETE /v1/rules/zz HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n",
                 bad_put + b"\r\nHost: x\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00\x01\x02",
                 bad_put + b"\r\nHost: x\xff\r\nContent-Length: 1\r\n\r\n[",
                 b"PUT /v1/con\xffig HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n[",
                 b"PUT /v1/config\x00 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n[",
                 b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 60):  # a TLS hello
        raw("broken http", data)
    # Random bytes, and random bytes after a request line.
    for i in range(600):
        n = rng.choice([1, 2, 10, 100, 1000, 5000])
        raw("random bytes", rng.randbytes(n))
        if i % 3 == 0:
            raw("random bytes", b"POST /v1/rules HTTP/1.1\r\n" + rng.randbytes(n) + b"\r\n\r\n")
    return cases


# --- sending ---------------------------------------------------------------------

class Outcome:
    __slots__ = ("cat", "status", "reason", "error_ok", "sample", "elapsed")

    def __init__(self, cat, status, reason, error_ok, sample, elapsed):
        self.cat, self.status, self.reason = cat, status, reason
        self.error_ok, self.sample, self.elapsed = error_ok, sample, elapsed


def error_shape_ok(r):
    """The JSON error object with a documented code for its status."""
    err = r.error
    return (err is not None and isinstance(err.get("message"), str) and
            err.get("code") in sluiced_util.ERROR_CODES.get(r.status, ()))


def describe(case):
    cat, kind, data = case
    if kind == "http":
        m, p, b, ct, h = data
        return f"{m} {p} {ct} {h} {(b or b'')[:160]!r}"
    return repr(data[0][:200])


class Sender:
    """Sends cases from several threads, one kept-alive client each.

    A raw case that needs no reply (bytes that may not be a whole request)
    waits RAW_WAIT s for one: the server may rightly wait for the rest until
    --request-timeout; test_stalled_clients_... covers that it then closes.
    """

    RAW_WAIT = 0.5

    def __init__(self, api_sock):
        self.api_sock = api_sock
        self.local = threading.local()
        self.clients = []
        self.lock = threading.Lock()

    def client(self):
        c = getattr(self.local, "client", None)
        if c is None:
            c = self.local.client = Client(unix=self.api_sock, timeout=5)
            with self.lock:
                self.clients.append(c)
        return c

    def close(self):
        for c in self.clients:
            c.close()

    def send(self, case):
        cat, kind, data = case
        t = time.monotonic()
        try:
            if kind == "http":
                m, p, b, ct, h = data
                r = self.client().request(m, p, b, headers=h, content_type=ct if b is not None
                                          else None)
                return Outcome(cat, r.status, None, error_shape_ok(r), case,
                               time.monotonic() - t)
            payload, half_close, reply = data
            try:
                status, r = raw_exchange(self.api_sock, payload, half_close=half_close,
                                         timeout=5 if reply else self.RAW_WAIT)
            except socket.timeout:
                if reply:
                    raise
                return Outcome(cat, None, "pending", True, case, time.monotonic() - t)
            if status is None:
                return Outcome(cat, None, "closed" if not reply else "closed without a reply",
                               not reply, case, time.monotonic() - t)
            ok = error_shape_ok(r) if r.header("content-type", "").startswith(
                "application/json") else None
            return Outcome(cat, status, None, ok, case, time.monotonic() - t)
        except socket.timeout:
            self.local.client = None
            return Outcome(cat, None, "hang: no reply and no close in 5 s", False, case,
                           time.monotonic() - t)
        except Exception as e:   # noqa: BLE001 - any other failure is a result too
            self.local.client = None
            return Outcome(cat, None, f"{type(e).__name__}: {e}", False, case,
                           time.monotonic() - t)

    def run(self, cases):
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            return list(ex.map(self.send, cases, chunksize=16))


@pytest.fixture(scope="module")
def flood(request):
    """Start sluiced with POLICY, send every case, and record what came back."""
    sd = sluiced_util.Sluiced(args=["--rate", "1000000", "--max-body", str(MAX_BODY),
                                    "--request-timeout", "2"])
    sd.start()
    try:
        c = sd.client()
        r = c.put("/v1/config", POLICY)
        assert r.status == 200 and r.json["generation"] == 1, r
        before = c.get("/v1/config").body
        fds_before = sd.open_fds()
        rng = random.Random(SEED)
        cases = build_cases(rng)
        rng.shuffle(cases)
        assert len(cases) >= TOTAL_MIN, len(cases)
        sender = Sender(sd.api_sock)
        t0 = time.monotonic()
        first = sender.run(cases[:WARMUP])
        rss_warm = sd.rss_kib()
        rest = sender.run(cases[WARMUP:])
        elapsed = time.monotonic() - t0
        rss_end = sd.rss_kib()
        again = sender.run(cases)
        rss_again = sd.rss_kib()
        sender.close()
        c = sd.client()
        res = {
            "sd": sd, "cases": cases, "outcomes": first + rest, "elapsed": elapsed,
            "again": again, "rss_warm": rss_warm, "rss_end": rss_end, "rss_again": rss_again,
            "before": before, "after": c.get("/v1/config").body,
            "generation": c.generation(), "state": sd.state_text(),
            "fds_before": fds_before, "alive": sd.running(),
        }
        c.close()
        yield res
    finally:
        rc = sd.stop()
        failed = any(getattr(i, "rep_call", None) is not None and i.rep_call.failed
                     for i in request.session.items if i.module is request.module)
        if failed:
            print(f"--- {' '.join(sd.argv)}\n--- exit {rc}\n{sd.output[-5000:]}")
        sd.remove()


def summary(bad, limit=3):
    by = collections.defaultdict(list)
    for o in bad:
        by[o.cat].append(o)
    lines = []
    for cat, os_ in sorted(by.items()):
        lines.append(f"{cat}: {len(os_)}")
        for o in os_[:limit]:
            lines.append(f"    {o.status or o.reason}: {describe(o.sample)}")
    return "\n".join(lines)


def test_flood_is_over_ten_thousand_requests_of_every_kind(flood):
    outs = flood["outcomes"]
    assert len(outs) >= TOTAL_MIN
    cats = collections.Counter(o.cat for o in outs)
    print(f"{len(outs)} requests in {flood['elapsed']:.1f} s "
          f"({len(outs) / flood['elapsed']:.0f}/s); by kind: {dict(cats)}")
    print("statuses:", dict(collections.Counter(o.status or o.reason for o in outs)))
    for cat in ("truncated json", "rule field", "route", "group", "port", "document",
                "huge number", "invalid utf-8", "unknown field", "deep nesting", "random body",
                "content-length", "headers without body", "random bytes", "path", "method",
                "content type", "if-match"):
        assert cats[cat] > 0, cat
    # Warm-up holds every kind.
    warm = collections.Counter(o.cat for o in outs[:WARMUP])
    assert len(warm) >= len(cats) - 4, (warm, cats)


def test_the_daemon_survives_the_flood(flood):
    assert flood["alive"], flood["sd"].output[-3000:]


def test_every_malformed_request_is_refused_with_a_4xx_in_time(flood):
    bad = [o for o in flood["outcomes"] + flood["again"]
           if (o.status is not None and not 400 <= o.status < 500) or
           (o.status is None and not o.error_ok)]
    assert not bad, "not a 4xx (or no reply where one was due):\n" + summary(bad)
    slow = [o for o in flood["outcomes"] + flood["again"] if o.elapsed > 4.0]
    assert not slow, "slow replies:\n" + summary(slow)


def test_every_refusal_of_a_wellformed_request_is_a_json_error(flood):
    """The HTTP requests (not the raw bytes, which libmicrohttpd may refuse
    itself) get {"error": {"code", "message", "field"}} with a code of
    docs/api.md's table for their status."""
    bad = [o for o in flood["outcomes"] if o.sample[1] == "http" and o.status is not None and
           not o.error_ok]
    assert not bad, "error replies without the documented error object:\n" + summary(bad)


def test_the_flood_changes_nothing(flood):
    assert flood["generation"] == 1
    assert flood["after"] == flood["before"]
    assert flood["state"] == flood["before"]


def test_memory_and_descriptors_stay_flat(flood):
    grew = flood["rss_end"] - flood["rss_warm"]
    print(f"VmRSS after {WARMUP}: {flood['rss_warm']} KiB; after "
          f"{len(flood['outcomes'])}: {flood['rss_end']} KiB ({grew:+d} KiB)")
    assert grew <= RSS_SLACK_KIB, f"VmRSS grew {grew} KiB over the run"
    steady = flood["rss_again"] - flood["rss_end"]
    print(f"VmRSS after all {len(flood['again'])} again: {flood['rss_again']} KiB "
          f"({steady:+d} KiB)")
    assert steady <= RSS_STEADY_SLACK_KIB, f"VmRSS grew {steady} KiB over the second round"
    sd = flood["sd"]
    deadline = time.monotonic() + 5
    while sd.open_fds() > flood["fds_before"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sd.open_fds() <= flood["fds_before"], os.listdir(f"/proc/{sd.pid}/fd")


# --- slow clients ---------------------------------------------------------------------

STALLS = [
    b"G", b"GET /v1/sta", b"GET /v1/status HTTP/1.1\r\n", b"GET /v1/status HTTP/1.1\r\nHost: x",
    b"GET /v1/status HTTP/1.1\r\nHost: x\r\n",
    b"PUT /v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n",
    b"PUT /v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"rules\": [",
    b"POST /v1/rules HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":",
    b"POST /v1/rules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Le",
    b"",
]


def test_stalled_clients_are_closed_after_the_request_timeout(sluiced):
    """Clients that send a few bytes (or none) and stall are closed by the
    server after --request-timeout (1 s here); meanwhile others are served
    and nothing changes."""
    d = sluiced(args=["--rate", "100000", "--request-timeout", "1"])
    c = d.client()
    assert c.put("/v1/config", POLICY).status == 200
    before = c.get("/v1/config").body
    c.close()
    fds = d.open_fds()
    socks = []
    for i in range(30):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(6)
        s.connect(d.api_sock)
        if STALLS[i % len(STALLS)]:
            s.sendall(STALLS[i % len(STALLS)])
        socks.append(s)
    t0 = time.monotonic()
    # Served while they stall.
    other = Client(unix=d.api_sock, timeout=3)
    for _ in range(20):
        assert other.get("/v1/status").status == 200
    other.close()
    closed = []
    for s in socks:
        try:
            data = s.recv(4096)
            # Either closed with nothing, or a 4xx (408) and then closed.
            if data:
                assert data.startswith(b"HTTP/1.1 4"), data[:100]
            closed.append(time.monotonic() - t0)
        except socket.timeout:
            closed.append(None)
        finally:
            s.close()
    assert None not in closed, f"{closed.count(None)} stalled clients still open after 6 s"
    assert max(closed) < 3.5, closed
    time.sleep(0.2)
    assert d.open_fds() <= fds
    c = d.client()
    assert c.get("/v1/config").body == before


# --- what the flood found, one by one -------------------------------------------------------

@pytest.fixture
def sd_policy(sluiced):
    d = sluiced(args=["--rate", "100000"])
    c = d.client()
    assert c.put("/v1/config", POLICY).status == 200
    return d, c, c.get("/v1/config").body


@pytest.mark.parametrize("method,path,body", [
    ("PUT", "/v1/config", b'{"version":1\x00,"default":"accept"}'),
    ("PUT", "/v1/config", b'{"version":1,"default":"accept","settings":{"flow_hash_seed":5\x00}}'),
    ("POST", "/v1/rules", b'{"id":"a","proto":"tcp","dport":22\x00,"action":"drop"}'),
    ("POST", "/v1/routes", b'{"prefix":"10.9.0.0/16","nexthops":[{"port":"p0","weight":2\x00}]}'),
])
def test_a_nul_byte_in_a_json_body_is_bad_json(sd_policy, method, path, body):
    """A raw NUL is not JSON anywhere (RFC 8259 whitespace is space, tab,
    CR, LF); after a number it must not be skipped."""
    d, c, before = sd_policy
    r = c.request(method, path, body)
    sluiced_util.check_error(r, 400, "bad_json")
    assert c.generation() == 1
    assert c.get("/v1/config").body == before


@pytest.mark.parametrize("body", [
    b"default: accept\nrules: !custom []\n",
    b"default: accept\nrules:\n  - !custom {id: x, action: drop}\n",
    b"!custom {default: accept}\n",
    b"default: accept\nsettings: !x {}\n",
])
def test_a_yaml_tag_outside_the_core_schema_is_refused(sd_policy, body):
    """docs/policy.md: tags outside the core schema are refused
    [yaml_unsupported_tag] - on collections as on scalars (default: !foo x
    is refused with 400)."""
    d, c, before = sd_policy
    r = c.put("/v1/config", body, content_type="application/yaml")
    assert r.status in (400, 422), r
    sluiced_util.check_error(r, r.status)
    assert c.generation() == 1
    assert c.get("/v1/config").body == before
