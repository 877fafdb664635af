# SPDX-License-Identifier: BSD-3-Clause
"""deploy/systemd/: the units pass `systemd-analyze verify` (systemd need not
be PID 1 for that), with the install paths pointed at this build's binaries
and this checkout's scripts, and they say what the operator guide says they
do: ordering, restart policy, shared runtime directory, capabilities each
explained.
"""
import configparser
import os
import re
import shutil
import subprocess

import pytest

import lab

UNIT_DIR = os.path.join(lab.ROOT, "deploy", "systemd")
UNITS = sorted(f[:-3] for f in os.listdir(UNIT_DIR) if f.endswith(".service.in"))


def substituted(text):
    return (text.replace("@BINDIR@", lab.build_dir())
                .replace("@LIBEXECDIR@", os.path.join(lab.ROOT, "deploy"))
                .replace("@DOCDIR@", os.path.join(lab.ROOT, "docs")))


def read_unit(name):
    with open(os.path.join(UNIT_DIR, name + ".in")) as f:
        return f.read()


def parse(name):
    """The unit as {section: {key: [values]}} (keys may repeat)."""
    out, sec = {}, None
    text = re.sub(r"\\\n", " ", read_unit(name))
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            sec = out.setdefault(line.strip("[]"), {})
            continue
        k, v = line.split("=", 1)
        sec.setdefault(k, []).append(v)
    return out


@pytest.fixture(scope="module")
def installed_units(tmp_path_factory):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze not found (package systemd)", pytrace=False)
    for exe in ("sluiced", "sluice-dataplane"):
        if not os.access(os.path.join(lab.build_dir(), exe), os.X_OK):
            pytest.fail(f"{exe} not built in {lab.build_dir()}", pytrace=False)
    d = tmp_path_factory.mktemp("units")
    for u in UNITS:
        (d / u).write_text(substituted(read_unit(u)))
    return d


def test_there_are_the_units_the_guide_names():
    assert set(UNITS) >= {"sluiced.service", "sluice-dataplane.service",
                          "sluice-hugepages.service", "sluice-nic-bind.service"}


def test_units_pass_systemd_analyze_verify_without_a_warning(installed_units):
    paths = [str(installed_units / u) for u in UNITS]
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"] + paths,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # Unknown keys, bad values and missing commands are only warnings.
    assert r.stderr.strip() == "", r.stderr


def test_verify_catches_a_broken_unit(installed_units, tmp_path):
    """The check above is not vacuous: a typo'd key and a missing binary fail."""
    bad = substituted(read_unit("sluiced.service")).replace(
        "Restart=on-failure", "Restart=on-failure\nRestartSecs=1").replace(
        "/sluiced ", "/sluiced-missing ")
    (tmp_path / "sluiced.service").write_text(bad)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(tmp_path / "sluiced.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "RestartSecs" in r.stderr, r


def test_meson_configured_units_have_every_placeholder_filled():
    for u in UNITS:
        p = os.path.join(lab.build_dir(), u)
        if not os.path.exists(p):
            pytest.skip(f"{lab.build_dir()} was configured before the units existed")
        text = open(p).read()
        assert "@" not in re.sub(r"\$\{?\w+\}?", "", text.split("\n[Unit]")[1]), p


def test_dataplane_follows_sluiced_without_being_bound_to_it():
    dp = parse("sluice-dataplane.service")
    after = " ".join(dp["Unit"]["After"]).split()
    wants = " ".join(dp["Unit"]["Wants"]).split()
    assert "sluiced.service" in after and "sluiced.service" in wants
    assert "sluice-hugepages.service" in " ".join(dp["Unit"]["Requires"])
    # It must keep forwarding while sluiced restarts: no Requires/BindsTo.
    for k in ("Requires", "BindsTo", "PartOf"):
        assert "sluiced.service" not in " ".join(dp["Unit"].get(k, []))
    for u in ("sluiced.service", "sluice-dataplane.service"):
        s = parse(u)["Service"]
        assert s["Restart"] == ["on-failure"], u
        assert s["RuntimeDirectory"] == ["sluice"], u
        assert s["RuntimeDirectoryPreserve"] == ["yes"], u
        assert s["User"] == ["sluice"], u
        assert any("/etc/sluice/sluice.env" in v for v in s["EnvironmentFile"]), u
    assert parse("sluiced.service")["Service"]["StateDirectory"] == ["sluice"]


@pytest.mark.parametrize("unit", ["sluiced.service", "sluice-dataplane.service"])
def test_every_capability_granted_is_explained(unit):
    s = parse(unit)["Service"]
    caps = s["CapabilityBoundingSet"][0].split()
    assert caps and caps == s["AmbientCapabilities"][0].split()
    comments = "\n".join(l for l in read_unit(unit).splitlines() if l.startswith("#"))
    for c in caps:
        assert c in comments, f"{unit}: {c} granted with no comment saying why"
    assert "CAP_SYS_ADMIN" not in caps


def test_env_template_sets_what_the_units_read():
    env = open(os.path.join(UNIT_DIR, "sluice.env")).read()
    keys = set(re.findall(r"^([A-Z_]+)=", env, re.M))
    used = set()
    for u in UNITS:
        used |= set(re.findall(r"\$\{?(SLUICE[A-Z_]*)\}?", read_unit(u)))
    assert used <= keys, used - keys
