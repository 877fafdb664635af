# SPDX-License-Identifier: BSD-3-Clause
"""deploy/grafana/sluice-dashboard.json and deploy/prometheus/: every metric
a dashboard query or an alert rule uses exists in sluiced's /metrics.

The oracle is a real scrape: sluiced with its TCP listener and bearer token
(as deploy/prometheus/sluice.yml scrapes it) and a dataplane attached with
--controller, so the dataplane's counters (ports, drops, rules, replication)
are in the exposition too.  Metric names are taken out of the PromQL
expressions by their sluice_ prefix (and the node-level `up`, which
Prometheus itself provides).
"""
import json
import os
import re
import time

import pytest
import yaml

import lab
from sluiced_util import sluiced  # noqa: F401 (the fixture)

DASHBOARD = os.path.join(lab.ROOT, "deploy", "grafana", "sluice-dashboard.json")
SCRAPE = os.path.join(lab.ROOT, "deploy", "prometheus", "sluice.yml")
ALERTS = os.path.join(lab.ROOT, "deploy", "prometheus", "sluice-alerts.yml")

NAME = re.compile(r"\bsluice_[a-z0-9_]+\b")


def dashboard_exprs():
    d = json.load(open(DASHBOARD))
    exprs = []
    for p in d["panels"]:
        assert p.get("targets"), f"panel {p['title']!r} has no query"
        exprs += [t["expr"] for t in p["targets"]]
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            exprs.append(v["definition"])
    return exprs


def alert_exprs():
    doc = yaml.safe_load(open(ALERTS))
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def exposed_names(text):
    """Metric names of a Prometheus text exposition (samples and TYPE lines)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def wait_in_sync(sd, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sd.client().get("/v1/status")
        if r.status == 200 and r.json["dataplane"]["in_sync"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the dataplane is not in sync:\n{sd.output}")


def test_scrape_config_matches_sluiced_listener():
    doc = yaml.safe_load(open(SCRAPE))
    job, = [j for j in doc["scrape_configs"] if j["job_name"] == "sluice"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
    assert job["static_configs"][0]["targets"]
    assert "sluice-alerts.yml" in doc["rule_files"]


def test_dashboard_is_importable_json():
    d = json.load(open(DASHBOARD))
    assert d["title"] and d["uid"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in d["panels"])
    for want in ("rx", "tx", "drops", "rule", "connected", "sync", "cluster"):
        assert want in titles, want


def test_every_metric_the_dashboard_and_alerts_use_is_exposed(
        sluiced, host_pair, dataplane, tmp_path):  # noqa: F811
    h1, h2 = host_pair
    cfg = tmp_path / "lab.json"
    cfg.write_text(lab.lab_policy())
    sd = sluiced(config=str(cfg), listen=True)
    dp = dataplane(lab.af_packet_vdevs([h1.port_if, h2.port_if]),
                   ["--controller", sd.dp_sock], ready=False)
    dp.wait_ready(timeout=60)
    wait_in_sync(sd)
    ok, out = h1.ping(h2.ip, count=3, interval=0.05)
    assert ok, out

    # As Prometheus scrapes it: TCP with the bearer token.
    r = sd.tcp_client(token=sd.token).get("/metrics")
    assert r.status == 200, r
    assert r.header("content-type").startswith("text/plain")
    text = r.body.decode()
    exposed = exposed_names(text)
    # The dataplane's part is there (not only sluiced's gauges).
    assert 'sluice_port_rx_packets_total{port="h1"}' in text, text[:2000]
    assert "sluice_dataplane_connected 1" in text

    used = {}
    for where, exprs in (("dashboard", dashboard_exprs()), ("alerts", alert_exprs())):
        for e in exprs:
            for name in NAME.findall(e):
                used.setdefault(name, set()).add(where)
    assert len(used) >= 15, sorted(used)
    missing = {n: sorted(w) for n, w in used.items() if n not in exposed}
    assert not missing, f"used but not in /metrics: {missing}"
    assert dp.stop() == 0, dp.output
