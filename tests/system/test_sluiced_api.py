# SPDX-License-Identifier: BSD-3-Clause
"""sluiced's admin API against docs/api.md and docs/openapi.json.

Each test starts its own sluiced (sluiced_util.Sluiced: a temporary
directory, the unix socket, no dataplane) and talks HTTP/JSON to it.  The
oracles are the documents: the status codes and error codes of api.md's
table, the generation rules (one more per accepted change, none for a
refused or empty one), the state file (equal to GET /v1/config after every
accepted write, before the reply), and the OpenAPI document, whose schemas
the replies must validate against (a small validator below: type,
required, properties, additionalProperties, items, enum, oneOf, nullable,
$ref, minimum/maximum, pattern).

No dataplane is started: stats, trace and capture must answer 503.
"""
import copy
import json
import os
import re
import socket
import time

import pytest
import yaml

import lab
from sluiced_util import ERROR_CODES, check_error, raw_exchange
import sluiced_util


@pytest.fixture
def sluiced(request):
    """Factory of started sluiced processes (sluiced_util.sluiced_factory)."""
    yield from sluiced_util.sluiced_factory(request)


ROOT = lab.ROOT
OPENAPI = os.path.join(ROOT, "docs", "openapi.json")

# A policy that uses every kind of item; ports on null devices.
POLICY = {
    "version": 1,
    "ports": [
        {"name": "p0", "devargs": "net_null0", "addresses": ["192.0.2.1/24", "2001:db8:1::1/64"]},
        {"name": "p1", "devargs": "net_null1"},
    ],
    "rules": [
        {"id": "web", "proto": "tcp", "dport": 80, "action": "accept"},
        {"id": "ssh", "src": "198.51.100.0/24", "proto": "tcp", "dport": 22, "action": "accept"},
        {"id": "dns", "proto": "udp", "dport": 53, "action": "accept"},
        {"id": "mirror", "proto": "udp", "dport": "5000-5100",
         "action": {"replicate": {"group": "g1", "copies": 1}}},
        {"id": "old", "proto": "tcp", "dport": 23, "action": "drop"},
    ],
    "default": "drop",
    "routes": [
        {"prefix": "10.1.0.0/16", "nexthops": [{"gateway": "192.0.2.254", "port": "p0"}]},
        {"prefix": "2001:db8:100::/48", "nexthops": [{"port": "p0"}]},
    ],
    "groups": [
        {"name": "g1", "targets": [{"kind": "port", "port": "p1"}]},
        {"name": "tools", "targets": [{"kind": "vxlan", "remote": "198.51.100.7", "vni": 100}]},
    ],
}

FAST = ["--rate", "100000"]


def policy(**changes):
    p = copy.deepcopy(POLICY)
    p.update(changes)
    return p


@pytest.fixture
def sd(sluiced):
    """A sluiced holding POLICY as generation 1."""
    d = sluiced(args=FAST)
    r = d.client().put("/v1/config", POLICY)
    assert r.status == 200 and r.json["generation"] == 1, r
    return d


def config_bytes(c):
    r = c.get("/v1/config")
    assert r.status == 200, r
    return r.body


def assert_persisted(d, c):
    """The state file holds exactly what GET /v1/config answers."""
    r = c.get("/v1/config")
    assert r.status == 200, r
    assert d.state_text() == r.body
    return r


def assert_unchanged(d, c, gen, body):
    """Generation, GET /v1/config and the state file are as they were."""
    assert c.generation() == gen
    now = config_bytes(c)
    assert now == body
    if os.path.exists(d.state_path):
        assert d.state_text() == body


def etag_of(r):
    m = re.fullmatch(r'(?:W/)?"(\d+)"', r.header("etag", ""))
    assert m, f"no ETag \"N\": {r}"
    return int(m.group(1))


# --- status, config -------------------------------------------------------------

def test_status_reports_version_generation_dataplane_and_counts(sd):
    r = sd.client().get("/v1/status")
    assert r.status == 200, r
    j = r.json
    assert j["version"] == "0.1.0"
    assert j["generation"] == 1 and etag_of(r) == 1
    assert j["state_file"] == sd.state_path
    assert j["dataplane"] == {"connected": False, "pid": None, "policy_generation": None,
                              "in_sync": False, "last_error": None}
    assert j["cluster"] == {"mode": "single", "degraded": False, "members": 1,
                            "node_id": socket.gethostname(), "tables_digest": None,
                            "tables": []}
    assert j["counts"] == {"ports": 2, "rules": 5, "routes": 2, "groups": 2}
    assert isinstance(j["uptime_s"], int) and j["uptime_s"] >= 0


def test_empty_state_is_generation_0_and_writes_no_state_file(sluiced):
    d = sluiced(args=FAST)
    c = d.client()
    r = c.get("/v1/config")
    assert r.status == 200, r
    assert r.json["generation"] == 0 and etag_of(r) == 0
    assert r.json["rules"] == [] and r.json["default"] == "drop"
    assert not os.path.exists(d.state_path)


def test_put_config_json_is_generation_1_with_canonical_state(sd):
    c = sd.client()
    r = c.get("/v1/config")
    j = r.json
    assert j["generation"] == 1 and etag_of(r) == 1
    assert [x["id"] for x in j["rules"]] == ["web", "ssh", "dns", "mirror", "old"]
    # Canonical: defaults written out, port ranges as "LO-HI".
    assert j["rules"][3]["dport"] == "5000-5100"
    assert j["groups"][0]["table_size"] == 65537
    assert j["routes"][0]["nexthops"][0]["weight"] == 1
    assert_persisted(sd, c)


def test_put_config_yaml_gives_the_same_state_as_json(sluiced):
    a, b = sluiced(args=FAST), sluiced(args=FAST)
    ra = a.client().put("/v1/config", POLICY)
    rb = b.client().put("/v1/config", yaml.safe_dump(POLICY), content_type="application/yaml")
    assert ra.status == 200 and rb.status == 200, (ra, rb)
    assert rb.json["generation"] == 1
    assert config_bytes(a.client()) == config_bytes(b.client())


def test_put_config_bad_yaml_is_400_bad_json_with_line_and_column(sluiced):
    d = sluiced(args=FAST)
    c = d.client()
    r = c.put("/v1/config", "rules:\n  - {id: a, action: drop\n", content_type="application/yaml")
    err = check_error(r, 400, "bad_json")
    assert re.search(r"line \d+ column \d+", err["message"]), r
    r = c.put("/v1/config", '{"rules": [\n  {"id": "a",, "action": "drop"}]}')
    err = check_error(r, 400, "bad_json")
    assert re.search(r"line 2 column \d+", err["message"]), r
    assert c.generation() == 0


def test_put_config_invalid_is_422_with_path_and_every_error_in_details(sd):
    c = sd.client()
    before = config_bytes(c)
    bad = policy()
    bad["rules"][2]["dport"] = 70000
    bad["rules"][4]["vlan"] = 5000
    r = c.put("/v1/config", bad)
    err = check_error(r, 422, "invalid", field="rules[2].dport")
    assert {d["field"] for d in err["details"]} == {"rules[2].dport", "rules[4].vlan"}
    assert_unchanged(sd, c, 1, before)


def test_dry_run_shows_the_diff_and_changes_nothing(sd):
    c = sd.client()
    before = config_bytes(c)
    state_before = sd.state_text()
    new = policy()
    new["rules"].append({"id": "extra", "proto": "tcp", "dport": 443, "action": "accept"})
    for q in ("dry_run=1", "dry_run=true"):
        r = c.put("/v1/config?" + q, new)
        assert r.status == 200, r
        assert r.json["dry_run"] is True
        assert r.json["generation"] == 1 and etag_of(r) == 1
        assert r.json["diff"]["rules"]["added"] == ["extra"]
        assert_unchanged(sd, c, 1, before)
        assert sd.state_text() == state_before
    # dry_run=0 is a real apply.
    r = c.put("/v1/config?dry_run=0", new)
    assert r.status == 200 and r.json["generation"] == 2 and "dry_run" not in r.json, r


def test_dry_run_given_without_a_value_changes_nothing(sd):
    """?dry_run (no value) asks for a dry run; it must not apply the change
    (answering it as a dry run, or 400 bad_request, are both safe)."""
    c = sd.client()
    before = config_bytes(c)
    new = policy(default="accept")
    r = c.put("/v1/config?dry_run", new)
    assert r.status in (200, 400), r
    if r.status == 200:
        assert r.json.get("dry_run") is True, r
    assert_unchanged(sd, c, 1, before)


def test_diff_names_added_removed_changed_moved_and_shadowed_rules(sd):
    c = sd.client()
    new = policy()
    rules = {r["id"]: r for r in new["rules"]}
    ssh = dict(rules["ssh"], src="203.0.113.0/24")            # changed
    web2 = {"id": "web2", "src": "10.0.0.0/8", "proto": "tcp", "dport": 80,
            "action": "drop"}                                  # added, shadowed by web
    # dns moved to the front; old removed.
    new["rules"] = [rules["dns"], rules["web"], ssh, rules["mirror"], web2]
    r = c.put("/v1/config?dry_run=1", new)
    assert r.status == 200, r
    d = r.json["diff"]["rules"]
    assert d == {"added": ["web2"], "removed": ["old"], "changed": ["ssh"], "moved": ["dns"],
                 "shadowed": [{"rule": "web2", "by": "web"}]}
    # The same diff when it is applied.
    r = c.put("/v1/config", new)
    assert r.status == 200 and r.json["generation"] == 2, r
    assert r.json["diff"]["rules"] == d


def test_diff_names_routes_groups_ports_default_and_settings(sd):
    c = sd.client()
    new = policy(default="accept")
    new["settings"] = {"flow_hash_seed": 7}
    new["routes"] = [new["routes"][1], {"prefix": "10.2.0.0/16", "nexthops": [{"port": "p1"}]}]
    new["routes"][0] = {"prefix": "2001:db8:100::/48", "nexthops": [{"port": "p1"}]}
    new["groups"][1]["targets"][0]["vni"] = 200
    new["ports"][1]["addresses"] = ["198.18.0.1/24"]
    new["ports"].append({"name": "p2", "devargs": "net_null2"})
    r = c.put("/v1/config?dry_run=1", new)
    assert r.status == 200, r
    d = r.json["diff"]
    assert d["routes"] == {"added": ["10.2.0.0/16"], "removed": ["10.1.0.0/16"],
                           "changed": ["2001:db8:100::/48"]}
    assert d["groups"] == {"added": [], "removed": [], "changed": ["tools"]}
    assert d["ports"] == {"added": ["p2"], "removed": [], "changed": ["p1"]}
    assert d["default_changed"] is True and d["settings_changed"] is True
    assert d["rules"] == {"added": [], "removed": [], "changed": [], "moved": [], "shadowed": []}


def test_put_of_the_same_config_is_a_noop(sd):
    c = sd.client()
    before = config_bytes(c)
    st = os.stat(sd.state_path)
    # The same policy in another spelling: YAML, a numeric port as a string.
    same = policy()
    same["rules"][0]["dport"] = "80"
    for body, ctype in ((POLICY, "application/json"), (same, "application/json"),
                        (yaml.safe_dump(POLICY), "application/yaml"), (before, "application/json")):
        r = c.put("/v1/config", body, content_type=ctype)
        assert r.status == 200, r
        assert r.json["generation"] == 1 and etag_of(r) == 1
        d = r.json["diff"]
        assert not any(d[k][x] for k in ("rules", "routes", "groups", "ports") for x in d[k])
        assert not d["default_changed"] and not d["settings_changed"]
    assert_unchanged(sd, c, 1, before)
    assert os.stat(sd.state_path).st_ino == st.st_ino      # not even rewritten


@pytest.mark.parametrize("how", ["if-match", "if-match-weak", "query"])
def test_put_config_based_on_an_old_generation_is_409(sd, how):
    c = sd.client()
    r = c.put("/v1/config", policy(default="accept"))
    assert r.status == 200 and r.json["generation"] == 2, r
    before = config_bytes(c)
    path, hdrs = "/v1/config", {}
    if how == "if-match":
        hdrs["If-Match"] = '"1"'
    elif how == "if-match-weak":
        hdrs["If-Match"] = 'W/"1"'
    else:
        path += "?generation=1"
    r = c.put(path, POLICY, headers=hdrs)
    check_error(r, 409, "conflict", field="generation")
    assert_unchanged(sd, c, 2, before)
    # A dry run based on an old generation is refused the same way.
    r = c.put(path + ("&" if "?" in path else "?") + "dry_run=1", POLICY, headers=hdrs)
    check_error(r, 409, "conflict", field="generation")
    # Based on the current one, it goes through.
    cur = {"If-Match": '"2"'} if how != "query" else {}
    r = c.put("/v1/config" + ("?generation=2" if how == "query" else ""), POLICY, headers=cur)
    assert r.status == 200 and r.json["generation"] == 3, r


WRITES = [
    ("PUT", "/v1/config", POLICY),
    ("POST", "/v1/rules", {"id": "new", "proto": "tcp", "dport": 8080, "action": "accept"}),
    ("DELETE", "/v1/rules/old", None),
    ("POST", "/v1/routes", {"prefix": "10.9.0.0/16", "nexthops": [{"port": "p1"}]}),
    ("DELETE", "/v1/routes/10.1.0.0/16", None),
    ("POST", "/v1/groups", {"name": "g9", "targets": [{"kind": "port", "port": "p0"}]}),
    ("PUT", "/v1/groups/tools", {"name": "tools", "targets": [{"kind": "port", "port": "p0"}]}),
    ("DELETE", "/v1/groups/tools", None),
]


@pytest.mark.parametrize("method,path,body", WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_every_write_based_on_an_old_generation_is_409_and_changes_nothing(sd, method, path, body):
    c = sd.client()
    r = c.put("/v1/config", policy(default="accept"))      # now generation 2
    assert r.status == 200 and r.json["generation"] == 2, r
    before = config_bytes(c)
    for hdrs, q in (({"If-Match": '"1"'}, ""), ({}, "?generation=1"),
                    ({"If-Match": '"3"'}, ""), ({}, "?generation=0")):
        r = c.request(method, path + q, body, headers=hdrs)
        check_error(r, 409, "conflict", field="generation")
        assert_unchanged(sd, c, 2, before)
    r = c.request(method, path, body, headers={"If-Match": '"2"'})
    assert r.status in (200, 201) and r.json["generation"] == 3, r
    assert_persisted(sd, c)


@pytest.mark.parametrize("hdrs,q", [
    ({"If-Match": "one"}, ""), ({"If-Match": '"-1"'}, ""), ({"If-Match": '"1"x'}, ""),
    ({}, "?generation=abc"), ({}, "?generation=-1"), ({}, "?generation=1.0"),
    ({}, "?generation=99999999999999999999999"), ({"If-Match": '"1"'}, "?generation=2"),
])
def test_a_malformed_generation_is_400_bad_request(sd, hdrs, q):
    c = sd.client()
    before = config_bytes(c)
    r = c.put("/v1/config" + q, policy(default="accept"), headers=hdrs)
    err = check_error(r, 400, "bad_request")
    assert err.get("field") in ("If-Match", "generation"), r
    assert_unchanged(sd, c, 1, before)


# --- rules --------------------------------------------------------------------------

def test_rules_list_in_match_order_with_default(sd):
    r = sd.client().get("/v1/rules")
    assert r.status == 200, r
    assert r.json["generation"] == 1 and etag_of(r) == 1
    assert r.json["default"] == "drop"
    assert [x["id"] for x in r.json["rules"]] == ["web", "ssh", "dns", "mirror", "old"]


def test_post_rule_appends_and_answers_the_stored_rule(sd):
    c = sd.client()
    r = c.post("/v1/rules", {"id": "https", "proto": "TCP", "dport": "443", "action": "ACCEPT"})
    assert r.status == 201, r
    assert r.json == {"generation": 2, "rule": {"id": "https", "proto": "tcp", "dport": 443,
                                                "action": "accept"}}
    assert etag_of(r) == 2
    r = c.get("/v1/rules/https")
    assert r.status == 200 and r.json["position"] == 5, r
    assert_persisted(sd, c)


@pytest.mark.parametrize("pos", [0, 2, 5])
def test_post_rule_at_a_position(sd, pos):
    c = sd.client()
    r = c.post("/v1/rules", {"id": "ins", "proto": "udp", "dport": 123, "action": "accept",
                             "position": pos})
    assert r.status == 201, r
    assert "position" not in r.json["rule"]
    ids = [x["id"] for x in c.get("/v1/rules").json["rules"]]
    assert ids.index("ins") == pos and len(ids) == 6
    assert c.get("/v1/rules/ins").json["position"] == pos


@pytest.mark.parametrize("pos", [-1, 6, 1000, "1", 1.5, None, True])
def test_post_rule_at_a_bad_position_is_400(sd, pos):
    c = sd.client()
    before = config_bytes(c)
    r = c.post("/v1/rules", {"id": "ins", "action": "drop", "position": pos})
    check_error(r, 400, "bad_request", field="position")
    assert_unchanged(sd, c, 1, before)


def test_post_rule_without_id_gets_its_automatic_id(sd):
    c = sd.client()
    r = c.post("/v1/rules", {"proto": "icmp", "action": "drop"})
    assert r.status == 201, r
    rid = r.json["rule"]["id"]
    assert re.fullmatch(r"auto-[0-9a-f]{16}", rid), r
    r2 = c.get("/v1/rules/" + rid)
    assert r2.status == 200 and r2.json["rule"] == r.json["rule"], r2


def test_post_rule_with_a_taken_id_is_409_exists(sd):
    c = sd.client()
    before = config_bytes(c)
    r = c.post("/v1/rules", {"id": "web", "proto": "udp", "dport": 9, "action": "drop"})
    check_error(r, 409, "exists", field="id")
    assert_unchanged(sd, c, 1, before)


def test_post_rule_with_a_taken_numeric_id_is_409_exists(sd):
    """7 and "7" are the same id (docs/policy.md, Rule ids)."""
    c = sd.client()
    r = c.post("/v1/rules", {"id": "7", "proto": "udp", "dport": 7, "action": "drop"})
    assert r.status == 201, r
    before = config_bytes(c)
    r = c.post("/v1/rules", {"id": 7, "proto": "udp", "dport": 9, "action": "drop"})
    check_error(r, 409, "exists", field="id")
    assert_unchanged(sd, c, 2, before)


def test_post_of_an_identical_rule_without_id_is_409_exists(sd):
    """Its automatic id is taken: the id is taken, so 409 exists."""
    c = sd.client()
    r = c.post("/v1/rules", {"proto": "icmp", "action": "drop"})
    assert r.status == 201, r
    before = config_bytes(c)
    r = c.post("/v1/rules", {"proto": "icmp", "action": "drop"})
    check_error(r, 409, "exists", field="id")
    assert_unchanged(sd, c, 2, before)


@pytest.mark.parametrize("body,field", [
    ({"id": "x", "proto": "tcp", "dport": 70000, "action": "drop"}, "dport"),
    ({"id": "x", "proto": "tcp", "action": "drop", "colour": "red"}, "colour"),
    ({"id": "x", "src": "10.0.0.1/8", "action": "drop"}, "src"),
    ({"id": "x", "in_port": "nope", "action": "drop"}, "in_port"),
    ({"id": "x", "action": {"steer": {"group": "nope"}}}, "action.steer.group"),
    ({"id": "x"}, None),
    ({"id": "bad id", "action": "drop"}, "id"),
])
def test_post_invalid_rule_is_422_naming_the_field_of_the_posted_rule(sd, body, field):
    c = sd.client()
    before = config_bytes(c)
    err = check_error(c.post("/v1/rules", body), 422, "invalid")
    if field is not None:
        assert err["field"] == field, err
    else:
        assert not err["field"].startswith("rules["), err
    assert_unchanged(sd, c, 1, before)


def test_get_one_rule_and_its_position(sd):
    r = sd.client().get("/v1/rules/dns")
    assert r.status == 200, r
    assert r.json == {"generation": 1, "position": 2,
                      "rule": {"id": "dns", "proto": "udp", "dport": 53, "action": "accept"}}


def test_delete_rule_then_404(sd):
    c = sd.client()
    r = c.delete("/v1/rules/ssh")
    assert r.status == 200 and r.json == {"generation": 2}, r
    assert etag_of(r) == 2
    assert_persisted(sd, c)
    check_error(c.get("/v1/rules/ssh"), 404, "not_found")
    check_error(c.delete("/v1/rules/ssh"), 404, "not_found")
    assert c.generation() == 2


@pytest.mark.parametrize("path", ["/v1/rules/nope", "/v1/rules/WEB", "/v1/rules/web%00x",
                                  "/v1/rules/web/x", "/v1/rules/%20web"])
def test_a_rule_that_is_not_there_is_404(sd, path):
    c = sd.client()
    before = config_bytes(c)
    r = c.get(path)
    assert r.status in (400, 404), r
    check_error(r, r.status)
    r = c.delete(path)
    assert r.status in (400, 404), r
    check_error(r, r.status)
    assert_unchanged(sd, c, 1, before)


@pytest.mark.parametrize("path", ["/v1/rules/%ff", "/v1/%ff", "/v1/groups/%c3%28",
                                  "/v1/routes/%ed%a0%80"])
def test_a_path_that_is_not_utf8_gets_an_error_reply(sd, path):
    """An invalid UTF-8 path part is 404 (or 400), with the error object;
    the connection must not just be dropped."""
    for method in ("GET", "DELETE"):
        request = f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        status, r = raw_exchange(sd.api_sock, request)
        assert status in (400, 404), f"{method} {path}: {r}"
        check_error(r, status)


# --- routes -------------------------------------------------------------------------

def test_routes_list_get_and_post(sd):
    c = sd.client()
    r = c.get("/v1/routes")
    assert r.status == 200 and [x["prefix"] for x in r.json["routes"]] == \
        ["10.1.0.0/16", "2001:db8:100::/48"], r
    r = c.post("/v1/routes", {"prefix": "2001:DB8:200::/48",
                              "nexthops": [{"port": "p1", "gateway": "2001:DB8:1::FE",
                                            "weight": 3}]})
    assert r.status == 201, r
    assert r.json == {"generation": 2, "route": {"prefix": "2001:db8:200::/48", "nexthops": [
        {"gateway": "2001:db8:1::fe", "port": "p1", "weight": 3}]}}
    assert_persisted(sd, c)
    for path in ("/v1/routes/2001:db8:200::/48", "/v1/routes/2001:db8:200::%2F48"):
        r = c.get(path)
        assert r.status == 200 and r.json["position"] == 2, r
        assert r.json["route"]["prefix"] == "2001:db8:200::/48"


@pytest.mark.parametrize("prefix", ["10.1.0.0/16", "2001:db8:100::/48", "2001:DB8:100::/48",
                                    "2001:db8:100:0::/48", "2001:0db8:0100:0000::/48"])
def test_post_route_with_a_taken_prefix_in_any_spelling_is_409_exists(sd, prefix):
    c = sd.client()
    before = config_bytes(c)
    r = c.post("/v1/routes", {"prefix": prefix, "nexthops": [{"port": "p1"}]})
    check_error(r, 409, "exists", field="prefix")
    assert_unchanged(sd, c, 1, before)


@pytest.mark.parametrize("path", ["/v1/routes/10.1.0.0/16", "/v1/routes/10.1.0.0%2F16",
                                  "/v1/routes/2001:db8:100::/48", "/v1/routes/2001:db8:100::%2f48"])
def test_delete_route(sd, path):
    c = sd.client()
    r = c.delete(path)
    assert r.status == 200 and r.json == {"generation": 2}, r
    assert_persisted(sd, c)
    check_error(c.get(path), 404, "not_found")
    check_error(c.delete(path), 404, "not_found")


@pytest.mark.parametrize("spelling", ["2001:DB8:100::/48", "2001:0db8:0100::/48",
                                      "2001:db8:100:0:0:0:0:0/48"])
def test_a_route_is_found_by_its_prefix_in_any_spelling(sd, spelling):
    """POST says 409 exists for another spelling of a taken prefix, so the
    same spelling names the route for GET and DELETE."""
    c = sd.client()
    r = c.get("/v1/routes/" + spelling)
    assert r.status == 200 and r.json["route"]["prefix"] == "2001:db8:100::/48", r
    r = c.delete("/v1/routes/" + spelling)
    assert r.status == 200 and r.json["generation"] == 2, r


@pytest.mark.parametrize("path", ["/v1/routes/10.9.0.0/16", "/v1/routes/10.1.0.0/17",
                                  "/v1/routes/10.1.0.0", "/v1/routes/not-a-prefix"])
def test_a_route_that_is_not_there_is_404(sd, path):
    c = sd.client()
    for m in ("GET", "DELETE"):
        r = c.request(m, path)
        assert r.status in (400, 404), r
        check_error(r, r.status)
    assert c.generation() == 1


@pytest.mark.parametrize("body,field", [
    ({"prefix": "10.1.0.1/16", "nexthops": [{"port": "p0"}]}, "prefix"),
    ({"prefix": "10.3.0.0/16", "nexthops": []}, "nexthops"),
    ({"prefix": "10.3.0.0/16", "nexthops": [{"port": "nope"}]}, "nexthops[0].port"),
    ({"prefix": "10.3.0.0/16", "nexthops": [{"port": "p0", "gateway": "2001:db8::1"}]},
     "nexthops[0].gateway"),
    ({"prefix": "10.3.0.0/33", "nexthops": [{"port": "p0"}]}, "prefix"),
    ({"nexthops": [{"port": "p0"}]}, None),
])
def test_post_invalid_route_is_422(sd, body, field):
    c = sd.client()
    before = config_bytes(c)
    err = check_error(c.post("/v1/routes", body), 422, "invalid")
    if field:
        assert err["field"] == field, err
    assert_unchanged(sd, c, 1, before)


# --- groups -------------------------------------------------------------------------

def test_groups_get_post_put_delete(sd):
    c = sd.client()
    r = c.get("/v1/groups")
    assert r.status == 200 and [g["name"] for g in r.json["groups"]] == ["g1", "tools"], r
    r = c.get("/v1/groups/tools")
    assert r.status == 200 and r.json["position"] == 1, r
    assert r.json["group"]["targets"][0]["udp_port"] == 4789
    g9 = {"name": "g9", "table_size": 257, "targets": [{"kind": "port", "port": "p0"}]}
    r = c.post("/v1/groups", g9)
    assert r.status == 201 and r.json["generation"] == 2, r
    assert r.json["group"] == {"name": "g9", "table_size": 257, "targets": [
        {"kind": "port", "port": "p0", "weight": 1, "state": "up"}]}
    assert_persisted(sd, c)
    check_error(c.post("/v1/groups", g9), 409, "exists", field="name")
    r = c.put("/v1/groups/g9", {"targets": [{"kind": "gre", "remote": "203.0.113.9", "key": 5}]})
    assert r.status == 200 and r.json["generation"] == 3, r
    assert_persisted(sd, c)
    r = c.get("/v1/groups/g9")
    assert r.json["group"]["targets"] == [{"kind": "gre", "remote": "203.0.113.9", "key": 5,
                                           "weight": 1, "state": "up"}]
    assert r.json["group"]["table_size"] == 65537
    r = c.delete("/v1/groups/g9")
    assert r.status == 200 and r.json == {"generation": 4}, r
    assert_persisted(sd, c)
    check_error(c.get("/v1/groups/g9"), 404, "not_found")
    check_error(c.delete("/v1/groups/g9"), 404, "not_found")
    check_error(c.put("/v1/groups/g9", {"targets": [{"kind": "port", "port": "p0"}]}),
                404, "not_found")
    assert c.generation() == 4


def test_put_group_answers_the_group_as_stored(sd):
    """Like POST (and GET), PUT answers the canonical group."""
    c = sd.client()
    r = c.put("/v1/groups/tools", {"targets": [{"kind": "vxlan", "remote": "198.51.100.8"}]})
    assert r.status == 200, r
    assert r.json["group"] == c.get("/v1/groups/tools").json["group"]


def test_put_group_cannot_rename_it(sd):
    """PUT /v1/groups/tools replaces the group tools; a body naming another
    group is refused (400 or 422) and changes nothing."""
    c = sd.client()
    before = config_bytes(c)
    r = c.put("/v1/groups/tools", {"name": "renamed", "targets": [{"kind": "port", "port": "p0"}]})
    assert r.status in (400, 422), r
    check_error(r, r.status)
    assert_unchanged(sd, c, 1, before)


def test_delete_group_that_a_rule_names_is_422_naming_the_rule(sd):
    c = sd.client()
    before = config_bytes(c)
    err = check_error(c.delete("/v1/groups/g1"), 422, "invalid")
    assert err["field"].startswith("rules[3]"), err          # the rule "mirror"
    assert_unchanged(sd, c, 1, before)
    # Once no rule names it, it can go.
    assert c.delete("/v1/rules/mirror").status == 200
    r = c.delete("/v1/groups/g1")
    assert r.status == 200 and r.json == {"generation": 3}, r


# --- ports, members, dataplane reads, metrics ------------------------------------------

def test_ports_without_a_dataplane_have_no_counters(sd):
    r = sd.client().get("/v1/ports")
    assert r.status == 200, r
    assert r.json["generation"] == 1
    assert [p["name"] for p in r.json["ports"]] == ["p0", "p1"]
    assert r.json["ports"][0] == {"name": "p0", "devargs": "net_null0", "mode": "route",
                                  "addresses": ["192.0.2.1/24", "2001:db8:1::1/64"]}
    assert all("counters" not in p for p in r.json["ports"])


def test_members_of_a_single_node(sd):
    r = sd.client().get("/v1/members")
    assert r.status == 200, r
    assert r.json["mode"] == "single"
    assert len(r.json["members"]) == 1
    m = r.json["members"][0]
    assert m["self"] is True and m["state"] == "alive" and m["id"] == socket.gethostname()


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/v1/stats", None),
    ("POST", "/v1/trace", {"count": 5, "timeout_ms": 100, "filter": {"proto": "tcp"}}),
    ("POST", "/v1/capture", {"port": "p0", "count": 5, "timeout_ms": 100}),
])
def test_dataplane_reads_without_a_dataplane_are_503(sd, method, path, body):
    r = sd.client().request(method, path, body)
    check_error(r, 503, "dataplane_unavailable")


@pytest.mark.parametrize("path,body,field", [
    ("/v1/trace", {"count": 0}, "count"),
    ("/v1/trace", {"count": 1001}, "count"),
    ("/v1/trace", {"count": "5"}, "count"),
    ("/v1/trace", {"timeout_ms": 0}, "timeout_ms"),
    ("/v1/trace", {"filter": []}, "filter"),
    ("/v1/trace", {"bogus": 1}, "bogus"),
    ("/v1/capture", {"count": 5}, "port"),
    ("/v1/capture", {"port": "nope"}, "port"),
])
def test_bad_trace_and_capture_requests_are_422(sd, path, body, field):
    check_error(sd.client().post(path, body), 422, "invalid", field=field)


def test_metrics_are_prometheus_text(sd):
    r = sd.client().get("/metrics")
    assert r.status == 200, r
    assert r.header("content-type").startswith("text/plain")
    text = r.body.decode()
    assert re.search(r"^sluice_generation 1$", text, re.M), text
    assert re.search(r"^sluice_up 1$", text, re.M), text
    for line in text.splitlines():
        assert line.startswith("#") or re.fullmatch(r"sluice_\w+(\{[^}]*\})? \S+", line), line


# --- HTTP: 404, 405, 411, 413, 415, 401, 429 ---------------------------------------------

@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/v2/status", "/v1/status/", "/v1/statuses",
                                  "/V1/status", "/v1//status", "/v1/config/x", "/v1/rules/",
                                  "/metrics/x", "/v1/ports/p0", "/v1/members/x", "/v1/stats/x"])
def test_an_unknown_path_is_404_not_found(sd, path):
    for m in ("GET", "PUT", "POST", "DELETE"):
        r = sd.client().request(m, path, {} if m in ("PUT", "POST") else None)
        check_error(r, 404, "not_found")


ALLOWED = {
    "/v1/status": "GET", "/v1/config": "GET, PUT", "/v1/rules": "GET, POST",
    "/v1/rules/web": "GET, DELETE", "/v1/routes": "GET, POST",
    "/v1/routes/10.1.0.0/16": "GET, DELETE", "/v1/groups": "GET, POST",
    "/v1/groups/g1": "GET, PUT, DELETE", "/v1/ports": "GET", "/v1/members": "GET",
    "/v1/stats": "GET", "/v1/trace": "POST", "/v1/capture": "POST", "/metrics": "GET",
}


@pytest.mark.parametrize("path", sorted(ALLOWED))
def test_a_method_the_resource_lacks_is_405_with_allow(sd, path):
    c = sd.client()
    allowed = set(ALLOWED[path].split(", "))
    for m in ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"):
        if m in allowed:
            continue
        r = c.request(m, path, {} if m in ("PUT", "POST", "PATCH") else None)
        check_error(r, 405, "method_not_allowed")
        assert set(x.strip() for x in r.header("allow", "").split(",")) == allowed, r
    assert c.generation() == 1


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", "application/jsonx",
                                   "application/xml", "json"])
def test_an_unsupported_content_type_is_415(sd, ctype):
    c = sd.client()
    before = config_bytes(c)
    for m, p in (("PUT", "/v1/config"), ("POST", "/v1/rules"), ("POST", "/v1/groups")):
        r = c.request(m, p, json.dumps(POLICY), content_type=ctype)
        check_error(r, 415, "unsupported_media_type")
    assert_unchanged(sd, c, 1, before)


def test_content_type_with_parameters_and_no_content_type_are_json(sd):
    c = sd.client()
    r = c.post("/v1/rules", {"id": "a", "action": "drop"},
               content_type="application/json; charset=utf-8")
    assert r.status == 201, r
    r = c.post("/v1/rules", {"id": "b", "action": "drop"}, content_type=None)
    assert r.status == 201, r


def test_a_chunked_body_is_411(sd):
    c = sd.client()
    before = config_bytes(c)
    body = json.dumps(policy(default="accept")).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    for m, p in (("PUT", "/v1/config"), ("POST", "/v1/rules")):
        status, r = raw_exchange(sd.api_sock, (
            f"{m} {p} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode() + chunked)
        assert status == 411, r
        check_error(r, 411, "length_required")
    assert_unchanged(sd, c, 1, before)


def test_a_body_over_max_body_is_413(sluiced):
    d = sluiced(args=FAST + ["--max-body", "2048"])
    c = d.client()
    big = policy()
    big["rules"] = [{"id": f"r{i}", "proto": "tcp", "dport": i, "action": "accept"}
                    for i in range(1, 100)]
    body = json.dumps(big)
    assert len(body) > 2048
    check_error(c.put("/v1/config", body), 413, "too_large")
    check_error(c.post("/v1/rules", {"id": "x", "comment": "c" * 3000, "action": "drop"}),
                413, "too_large")
    assert c.generation() == 0
    # Just under the limit is taken.
    ok = policy()
    assert len(json.dumps(ok)) < 2048
    assert c.put("/v1/config", ok).status == 200


def test_tcp_listener_needs_the_bearer_token(sluiced):
    d = sluiced(args=FAST, listen=True)
    tok = d.token
    for t in (None, "wrong-token-wrong-token", tok + "x", tok[:-1], ""):
        r = d.tcp_client(token=t).get("/v1/status")
        check_error(r, 401, "unauthorized")
    for hdr in (f"Basic {tok}", f"Bearer  {tok}", tok, f"Bearer {tok} "):
        r = d.tcp_client().get("/v1/status", headers={"Authorization": hdr})
        check_error(r, 401, "unauthorized")
    # Writes too, and they change nothing.
    r = d.tcp_client(token="nope-nope-nope-nope").put("/v1/config", POLICY)
    check_error(r, 401, "unauthorized")
    assert d.client().generation() == 0
    good = d.tcp_client(token=tok)
    r = good.get("/v1/status")
    assert r.status == 200 and r.json["generation"] == 0, r
    r = good.get("/v1/status", headers={"Authorization": f"bearer {tok}"})
    assert r.status == 200, r
    r = good.put("/v1/config", POLICY)
    assert r.status == 200 and r.json["generation"] == 1, r
    # The unix socket needs none (file permissions guard it), mode 0660.
    assert d.client().get("/v1/status").status == 200
    assert os.stat(d.api_sock).st_mode & 0o777 == 0o660


def test_over_the_rate_is_429(sluiced):
    d = sluiced(args=["--rate", "20"])
    c = d.client()
    t = time.monotonic()
    statuses = [c.get("/v1/status") for _ in range(100)]
    elapsed = time.monotonic() - t
    codes = [r.status for r in statuses]
    assert set(codes) <= {200, 429}, codes
    # A burst of 2 x rate (less the readiness probe), what refilled
    # meanwhile, then refusals.
    assert 35 <= codes.count(200) <= 40 + 20 * elapsed + 1, (elapsed, codes)
    assert codes[-1] == 429 or elapsed > 2, codes
    check_error(next(r for r in statuses if r.status == 429), 429, "rate_limited")
    time.sleep(0.3)
    assert c.get("/v1/status").status == 200


def test_etag_is_the_generation_on_every_reply(sd):
    c = sd.client()
    for path in ("/v1/status", "/v1/config", "/v1/rules", "/v1/rules/web", "/v1/routes",
                 "/v1/groups", "/v1/groups/g1", "/v1/ports", "/v1/members", "/metrics"):
        r = c.get(path)
        assert r.status == 200 and etag_of(r) == 1, r
        if isinstance(r.json, dict) and "generation" in r.json:
            assert r.json["generation"] == 1
    r = c.post("/v1/rules", {"id": "e", "action": "drop"})
    assert etag_of(r) == r.json["generation"] == 2
    r = c.get("/v1/nope")
    assert r.status == 404 and etag_of(r) == 2


# --- persistence ------------------------------------------------------------------------

def test_state_file_equals_get_config_after_every_accepted_write(sluiced):
    d = sluiced(args=FAST)
    c = d.client()
    steps = [
        ("PUT", "/v1/config", POLICY),
        ("POST", "/v1/rules", {"id": "a", "proto": "udp", "dport": 1, "action": "drop",
                               "position": 0}),
        ("DELETE", "/v1/rules/old", None),
        ("POST", "/v1/routes", {"prefix": "10.5.0.0/16", "nexthops": [{"port": "p1"}]}),
        ("DELETE", "/v1/routes/10.1.0.0/16", None),
        ("POST", "/v1/groups", {"name": "g2", "targets": [{"kind": "port", "port": "p0"}]}),
        ("PUT", "/v1/groups/g2", {"targets": [{"kind": "port", "port": "p1"}]}),
        ("DELETE", "/v1/groups/g2", None),
        ("PUT", "/v1/config", yaml.safe_dump(policy(default="accept"))),
    ]
    for i, (m, p, b) in enumerate(steps, start=1):
        ctype = "application/yaml" if isinstance(b, str) else "application/json"
        r = c.request(m, p, b, content_type=ctype)
        assert r.status in (200, 201) and r.json["generation"] == i, (m, p, r)
        # Read the file before anything else talks to sluiced: it was
        # written before this reply was sent.
        text = d.state_text()
        assert json.loads(text)["generation"] == i
        assert text == config_bytes(c)
    assert not [f for f in os.listdir(d.state_dir) if f != "state.json"]


def test_a_change_that_cannot_be_persisted_is_refused_and_changes_nothing(sd):
    c = sd.client()
    before = config_bytes(c)
    os.mkdir(sd.state_path + ".tmp")          # the temp file cannot be made
    r = c.put("/v1/config", policy(default="accept"))
    assert r.status >= 500 and r.error is not None, r
    assert_unchanged(sd, c, 1, before)
    os.rmdir(sd.state_path + ".tmp")
    r = c.put("/v1/config", policy(default="accept"))
    assert r.status == 200 and r.json["generation"] == 2, r


def test_a_restart_keeps_the_state_and_its_generation(sluiced):
    d = sluiced(args=FAST)
    c = d.client()
    assert c.put("/v1/config", POLICY).status == 200
    assert c.post("/v1/rules", {"id": "x", "action": "drop"}).status == 201
    before = config_bytes(c)
    assert d.stop() == 0
    assert not os.path.exists(d.api_sock)
    d.start()
    c = d.client()
    assert c.generation() == 2
    assert config_bytes(c) == before
    r = c.delete("/v1/rules/x")
    assert r.status == 200 and r.json["generation"] == 3


def test_the_state_file_wins_over_config_at_restart(sluiced, tmp_path):
    cfg = tmp_path / "sluice.json"
    cfg.write_text(json.dumps(POLICY))
    d = sluiced(config=str(cfg), args=FAST)
    c = d.client()
    r = c.get("/v1/config")
    assert r.json["generation"] == 1 and len(r.json["rules"]) == 5
    assert d.state_text() == r.body           # written at once
    assert c.delete("/v1/rules/old").status == 200
    before = config_bytes(c)
    d.stop()
    d.start()
    assert config_bytes(d.client()) == before


def test_sighup_reloads_config(sluiced, tmp_path):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text(yaml.safe_dump(POLICY))
    d = sluiced(config=str(cfg), args=FAST)
    c = d.client()
    assert c.generation() == 1
    # The same file again: nothing changes.
    d.hup()
    time.sleep(0.3)
    assert c.generation() == 1
    cfg.write_text(yaml.safe_dump(policy(default="accept")))
    d.hup()
    deadline = time.monotonic() + 5
    while c.generation() != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    r = c.get("/v1/config")
    assert r.json["generation"] == 2 and r.json["default"] == "accept", r
    assert d.state_text() == r.body


def test_sighup_with_a_broken_config_keeps_the_generation(sluiced, tmp_path):
    cfg = tmp_path / "sluice.json"
    cfg.write_text(json.dumps(POLICY))
    d = sluiced(config=str(cfg), args=FAST)
    c = d.client()
    before = config_bytes(c)
    bad = policy()
    bad["rules"][0]["dport"] = 70000
    for text in (json.dumps(bad), '{"rules": [', "", "\xff\xfe garbage"):
        cfg.write_text(text)
        d.hup()
        time.sleep(0.3)
        assert d.running(), d.output
        assert_unchanged(d, c, 1, before)
    cfg.unlink()
    d.hup()
    time.sleep(0.3)
    assert d.running(), d.output
    assert_unchanged(d, c, 1, before)


def test_a_corrupt_state_file_stops_the_start_naming_file_and_line(sluiced):
    d = sluiced(args=FAST, start=False)
    os.makedirs(d.state_dir)
    corrupt = b'{"version": 1,\n  "rules": [\n    {"id": "a", "action": "bogus"}\n  ]\n}\n'
    with open(d.state_path, "wb") as f:
        f.write(corrupt)
    d.start(wait=False)
    rc = d.wait_exit()
    assert rc not in (0, None) and rc > 0, d.output
    assert f"{d.state_path}:3:" in d.output, d.output
    # Kept, moved aside, byte for byte.
    aside = [f for f in os.listdir(d.state_dir) if f.startswith("state.json.corrupt")]
    assert len(aside) == 1, os.listdir(d.state_dir)
    with open(os.path.join(d.state_dir, aside[0]), "rb") as f:
        assert f.read() == corrupt
    assert aside[0] in d.output
    # Truncated JSON too.
    with open(d.state_path, "wb") as f:
        f.write(b'{"version": 1,\n  "rules": [\n')
    d.start(wait=False)
    assert d.wait_exit() > 0
    assert f"{d.state_path}:" in d.output


def test_a_corrupt_state_file_never_overwrites_one_moved_aside_before(sluiced):
    """Two corrupt files within one second must both be kept (docs/sluiced.md:
    'it never writes over it')."""
    d = sluiced(args=FAST, start=False)
    os.makedirs(d.state_dir)
    now = int(time.time())
    earlier = {}
    for t in range(now - 1, now + 6):
        p = os.path.join(d.state_dir, f"state.json.corrupt-{t}")
        earlier[p] = f"earlier corrupt file {t}\n".encode()
        with open(p, "wb") as f:
            f.write(earlier[p])
    corrupt = b'{"version": 1, "rules": [{"action": "bogus"}]}\n'
    with open(d.state_path, "wb") as f:
        f.write(corrupt)
    d.start(wait=False)
    assert d.wait_exit() > 0, d.output
    for p, text in earlier.items():
        with open(p, "rb") as f:
            assert f.read() == text, f"{p} was overwritten:\n{d.output}"
    kept = []
    for name in os.listdir(d.state_dir):
        with open(os.path.join(d.state_dir, name), "rb") as f:
            if f.read() == corrupt:
                kept.append(name)
    assert kept, f"the corrupt file is gone: {os.listdir(d.state_dir)}\n{d.output}"


def test_sigterm_stops_it_and_removes_the_socket(sd):
    assert sd.stop() == 0, sd.output
    assert not os.path.exists(sd.api_sock)


# --- request timeouts and connection limits --------------------------------------------------

def test_a_stalled_request_is_closed_after_the_request_timeout(sluiced):
    d = sluiced(args=FAST + ["--request-timeout", "1"])
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(d.api_sock)
    s.sendall(b"PUT /v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"ru")
    t = time.monotonic()
    assert s.recv(100) == b""               # closed, no reply
    assert time.monotonic() - t < 3
    s.close()
    assert d.client().generation() == 0


def test_the_request_timeout_bounds_the_whole_request(sluiced):
    """docs/api.md: '10 s to send a whole request (--request-timeout)'.  A
    client that sends one byte every 0.3 s never idles, but must still be
    cut off once the whole request took longer than the timeout; else
    --max-connections such clients lock the API."""
    d = sluiced(args=FAST + ["--request-timeout", "2", "--max-connections", "4"])
    socks = []
    for _ in range(4):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(0.05)
        s.connect(d.api_sock)
        socks.append(s)
    msg = b"PUT /v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000
    t0 = time.monotonic()
    closed_at = [None] * len(socks)
    i = 0
    while time.monotonic() - t0 < 6 and None in closed_at:
        for k, s in enumerate(socks):
            if closed_at[k] is not None:
                continue
            try:
                s.send(msg[i:i + 1])
                if s.recv(100) == b"":
                    closed_at[k] = time.monotonic() - t0
            except socket.timeout:
                pass
            except OSError:
                closed_at[k] = time.monotonic() - t0
        i += 1
        time.sleep(0.3)
    for s in socks:
        s.close()
    assert None not in closed_at, f"dripping clients still connected after 6 s (sent {i} bytes)"
    assert max(closed_at) < 4.5, closed_at


def test_max_connections_holds_more_back_and_recovers(sluiced):
    """At --max-connections, a further client waits (it is not served while
    the others hold their slots); once they are closed (here: timed out),
    it is served, and so is every later client."""
    d = sluiced(args=FAST + ["--max-connections", "3", "--request-timeout", "1"])
    stalled = []
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.api_sock)
        s.sendall(b"GET /v1/sta")
        stalled.append(s)
    time.sleep(0.2)
    t = time.monotonic()
    try:
        status, r = raw_exchange(d.api_sock, b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
                                 half_close=False, timeout=5)
    except socket.timeout:
        status, r = None, "no reply in 5 s"
    waited = time.monotonic() - t
    for s in stalled:
        s.close()
    assert status == 200, f"the client held back got {r} after {waited:.1f} s"
    assert waited > 0.5, "served while the limit was reached"
    for _ in range(5):
        assert d.client(timeout=3).get("/v1/status").status == 200


def test_the_api_serves_again_after_max_connections_were_open(sluiced):
    """Reaching --max-connections once (clients that connect and close,
    nothing slow) must not stop the API for good."""
    d = sluiced(args=FAST + ["--max-connections", "2"])
    socks = []
    for _ in range(2):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.api_sock)
        socks.append(s)
    time.sleep(0.3)
    for s in socks:
        s.close()
    time.sleep(0.3)
    try:
        r = d.client(timeout=3).get("/v1/status")
    except socket.timeout:
        r = None
    assert r is not None and r.status == 200, "no reply in 3 s: the API no longer accepts"


# --- the OpenAPI document -------------------------------------------------------------------

@pytest.fixture(scope="module")
def openapi():
    with open(OPENAPI) as f:
        return json.load(f)


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def validate(doc, schema, value, path="$"):
    """Errors of value against schema (a subset of OpenAPI 3.0's JSON
    Schema: $ref, type, nullable, enum, required, properties,
    additionalProperties, items, oneOf, anyOf, minimum, maximum, pattern,
    minItems, maxItems, maxLength)."""
    schema = resolve(doc, schema)
    errs = []
    if value is None:
        if schema.get("nullable"):
            return []
        if "type" in schema or "oneOf" in schema:
            return [f"{path}: null"]
    if "oneOf" in schema or "anyOf" in schema:
        alts = schema.get("oneOf") or schema.get("anyOf")
        n = sum(1 for a in alts if not validate(doc, a, value, path))
        if n == 0 or ("oneOf" in schema and n > 1):
            errs.append(f"{path}: {value!r} matches {n} of the alternatives")
        return errs
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: {value!r} is not an integer"]
    elif t == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return [f"{path}: {value!r} is not a number"]
    elif t is not None and not isinstance(value, types[t]):
        return [f"{path}: {value!r} is not {t}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(f"{path}: longer than {schema['maxLength']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{path}: {k} is missing")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errs += validate(doc, props[k], v, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{path}: {k} is not in the schema")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(doc, schema["additionalProperties"], v, f"{path}.{k}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, v in enumerate(value):
                errs += validate(doc, schema["items"], v, f"{path}[{i}]")
    return errs


def test_validator_catches_what_it_claims(openapi):
    """The tiny validator itself: a wrong type, a missing member, an extra
    member, an unknown enum value and a bad item are each caught."""
    err = {"error": {"code": "invalid", "message": "m", "field": "f"}}
    s = {"$ref": "#/components/schemas/Error"}
    assert validate(openapi, s, err) == []
    assert validate(openapi, s, {"error": {"code": "nope", "message": "m"}})
    assert validate(openapi, s, {"error": {"code": "invalid"}})
    assert validate(openapi, s, {"error": {"code": "invalid", "message": 1}})
    assert validate(openapi, s, {"error": {"code": "invalid", "message": "m", "x": 1}})
    assert validate(openapi, {"$ref": "#/components/schemas/RuleList"},
                    {"generation": 1, "default": "drop", "rules": [{"id": "a"}]})
    assert validate(openapi, {"$ref": "#/components/schemas/Action"}, "maybe")


def test_openapi_document_is_consistent(openapi):
    assert openapi["openapi"].startswith("3.0.")
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(openapi)
    for r in refs:
        resolve(openapi, {"$ref": r})               # every $ref resolves
    for path, item in openapi["paths"].items():
        params = set(re.findall(r"\{(\w+)\}", path))
        for m, o in item.items():
            if m == "parameters":
                continue
            assert m in ("get", "put", "post", "delete"), (path, m)
            assert o["responses"], (path, m)
            declared = {resolve(openapi, p)["name"] for p in
                        item.get("parameters", []) + o.get("parameters", [])
                        if resolve(openapi, p)["in"] == "path"}
            assert declared == params, (path, m)
            for code, resp in o["responses"].items():
                resp = resolve(openapi, resp)
                if int(code) >= 400:
                    sch = resp["content"]["application/json"]["schema"]
                    assert sch == {"$ref": "#/components/schemas/Error"}, (path, m, code)
    # Every error code of docs/api.md's table is in the document.
    codes = set(resolve(openapi, {"$ref": "#/components/schemas/Error"})
                ["properties"]["error"]["properties"]["code"]["enum"])
    assert codes == set().union(*ERROR_CODES.values())


# Values for the path parameters of the document: items POLICY holds.
PARAMS = {"id": "web", "prefix": "10.1.0.0/16", "name": "tools"}


def doc_operations(openapi):
    ops = []
    for path, item in openapi["paths"].items():
        for m in item:
            if m != "parameters":
                ops.append((path, m.upper()))
    return ops


def concrete(path):
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


def test_every_documented_operation_is_served(sd, openapi):
    c = sd.client()
    ops = doc_operations(openapi)
    # Deletes last: they remove the items the other operations name.
    for path, m in sorted(ops, key=lambda o: o[1] == "DELETE"):
        # A body that is not JSON: the handler is reached (400) and
        # nothing changes ({} would be a valid, empty policy).
        body = b"[" if m in ("PUT", "POST") else None
        r = c.request(m, concrete(path), body)
        assert r.status not in (404, 405), f"{m} {path}: {r}"
        if r.status >= 400:
            check_error(r, r.status)
        documented = openapi["paths"][path][m.lower()]["responses"]
        assert str(r.status) in documented, f"{m} {path} answered {r.status}, not documented: {r}"


def test_every_served_operation_is_documented(sd, openapi):
    """Probe the documented paths and some undocumented ones with every
    method: what the document lacks must be 404 or 405 (with Allow listing
    exactly the documented methods)."""
    c = sd.client()
    ops = set(doc_operations(openapi))
    undocumented = [
        "/", "/v1", "/v1/", "/v1/config/x", "/v1/status/x", "/v1/ports/p0", "/v1/members/host",
        "/v1/stats/x", "/v1/trace/x", "/v1/capture/x", "/v1/rule", "/v1/route", "/v1/group",
        "/v1/port", "/v1/member", "/v1/version", "/v1/health", "/healthz", "/metrics/x",
        "/v1/metrics", "/v2/status", "/v1/settings", "/v1/dataplane", "/v1/cluster"]
    probes = [(p, concrete(p)) for p in sorted({p for p, _ in ops})] + \
        [(p, p) for p in undocumented]
    for template, path in probes:
        for m in ("GET", "PUT", "POST", "DELETE", "PATCH"):
            body = b"[" if m in ("PUT", "POST", "PATCH") else None
            r = c.request(m, path, body)
            if (template, m) in ops:
                assert r.status not in (404, 405), f"{m} {path}: {r}"
            else:
                assert r.status in (404, 405), f"{m} {path} is served but not documented: {r}"
                check_error(r, r.status)
                if r.status == 405:
                    documented = {mm for pp, mm in ops if pp == template}
                    assert set(x.strip() for x in r.header("allow").split(",")) == documented, r
            if r.status in (200, 201) and m != "GET":
                # A write went through (a DELETE): put the items back.
                assert c.put("/v1/config", POLICY).status == 200


def schema_of(openapi, path, method, status):
    resp = resolve(openapi, openapi["paths"][path][method]["responses"][str(status)])
    return resp["content"]["application/json"]["schema"]


def test_main_replies_validate_against_the_document(sd, openapi):
    c = sd.client()
    checks = [
        ("/v1/status", "get", 200, c.get("/v1/status")),
        ("/v1/config", "get", 200, c.get("/v1/config")),
        ("/v1/rules", "get", 200, c.get("/v1/rules")),
        ("/v1/rules/{id}", "get", 200, c.get("/v1/rules/mirror")),
        ("/v1/routes", "get", 200, c.get("/v1/routes")),
        ("/v1/routes/{prefix}", "get", 200, c.get("/v1/routes/2001:db8:100::/48")),
        ("/v1/groups", "get", 200, c.get("/v1/groups")),
        ("/v1/groups/{name}", "get", 200, c.get("/v1/groups/tools")),
        ("/v1/ports", "get", 200, c.get("/v1/ports")),
        ("/v1/members", "get", 200, c.get("/v1/members")),
        ("/v1/config", "put", 200, c.put("/v1/config?dry_run=1", policy(default="accept"))),
        ("/v1/rules", "post", 201, c.post("/v1/rules", {"proto": "tcp", "dport": "1-2",
                                                        "tcp_flags": "syn/syn,ack",
                                                        "action": {"steer": {"group": "tools"}}})),
        ("/v1/routes", "post", 201, c.post("/v1/routes", {"prefix": "10.7.0.0/16",
                                                          "nexthops": [{"port": "p1"}]})),
        ("/v1/groups", "post", 201, c.post("/v1/groups", {"name": "g7", "targets": [
            {"kind": "geneve", "remote": "2001:db8::7", "vni": 7}]})),
        ("/v1/groups/{name}", "put", 200, c.put("/v1/groups/g7", {"targets": [
            {"kind": "port", "port": "p0", "state": "draining"}]})),
        ("/v1/rules/{id}", "delete", 200, c.delete("/v1/rules/old")),
        ("/v1/routes/{prefix}", "delete", 200, c.delete("/v1/routes/10.7.0.0/16")),
        ("/v1/groups/{name}", "delete", 200, c.delete("/v1/groups/g7")),
        ("/v1/config", "put", 200, c.put("/v1/config", POLICY)),
        ("/v1/stats", "get", 503, c.get("/v1/stats")),
        ("/v1/rules/{id}", "get", 404, c.get("/v1/rules/none")),
        ("/v1/rules", "post", 409, c.post("/v1/rules", {"id": "web", "action": "drop"})),
        ("/v1/rules", "post", 422, c.post("/v1/rules", {"id": "z", "vlan": 4096,
                                                        "action": "drop"})),
        ("/v1/config", "put", 400, c.put("/v1/config", "{")),
        ("/v1/config", "put", 409, c.put("/v1/config?generation=0", POLICY)),
    ]
    for path, m, status, r in checks:
        assert r.status == status, (path, m, r)
        assert r.header("content-type", "").startswith("application/json"), r
        errs = validate(openapi, schema_of(openapi, path, m, status), r.json)
        assert not errs, f"{m.upper()} {path} {status}: {errs}\n{r}"


def test_a_diff_of_thousands_is_cut_to_1000_per_list_with_counts(sluiced):
    """Loading a big table answers with the first 1,000 prefixes and the
    counts, not a reply the size of the table."""
    d = sluiced(args=FAST)
    c = d.client()
    big = dict(POLICY, routes=[{"prefix": f"10.{i // 256}.{i % 256}.0/24",
                                "nexthops": [{"port": "p1"}]} for i in range(2500)])
    r = c.put("/v1/config?dry_run=1", big)
    assert r.status == 200, r
    routes = r.json["diff"]["routes"]
    assert routes["truncated"] is True
    assert routes["counts"] == {"added": 2500, "removed": 0, "changed": 0}
    assert len(routes["added"]) == 1000 and len(set(routes["added"])) == 1000
    assert "truncated" not in r.json["diff"]["rules"]
    assert c.generation() == 0
