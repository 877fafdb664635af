# SPDX-License-Identifier: BSD-3-Clause
"""deploy/examples/ never rot: sluiced accepts each sample policy as its
--config (the policy library validates it whole, or sluiced refuses to
start), serves back what the file says, and knows every flag of each
sample's SLUICED_OPTS.
"""
import glob
import os
import re
import shlex
import subprocess

import pytest
import yaml

import lab
from sluiced_util import sluiced, sluiced_binary  # noqa: F401 (the fixture)

EXAMPLES = os.path.join(lab.ROOT, "deploy", "examples")
POLICIES = sorted(glob.glob(os.path.join(EXAMPLES, "*", "*.yaml")))
ENVS = sorted(glob.glob(os.path.join(EXAMPLES, "*", "*.env"))) + \
    [os.path.join(lab.ROOT, "deploy", "systemd", "sluice.env")]


def test_each_sample_has_a_policy_and_options():
    for d in ("firewall-router", "packet-broker", "cluster"):
        assert glob.glob(os.path.join(EXAMPLES, d, "*.yaml")), d
        assert glob.glob(os.path.join(EXAMPLES, d, "*.env")), d


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: os.path.relpath(p, EXAMPLES))
def test_sluiced_accepts_the_sample_policy(sluiced, path):  # noqa: F811
    sd = sluiced(config=path)
    c = sd.client()
    assert c.generation() == 1, sd.output
    got = c.get("/v1/config").json
    want = yaml.safe_load(open(path))
    assert [p["name"] for p in got.get("ports", [])] == \
        [p["name"] for p in want.get("ports", [])]
    assert [r["id"] for r in got.get("rules", [])] == \
        [r["id"] for r in want.get("rules", [])]
    assert got.get("default", "drop") == want.get("default", "drop")
    assert len(got.get("routes", [])) == len(want.get("routes", []))
    assert [g["name"] for g in got.get("groups", [])] == \
        [g["name"] for g in want.get("groups", [])]


def env_values(path):
    """KEY=VALUE lines of a systemd environment file (quotes removed)."""
    out = {}
    for line in open(path):
        m = re.match(r'^([A-Z_]+)=(.*)$', line.strip())
        if m:
            out.setdefault(m.group(1), []).append(" ".join(shlex.split(m.group(2))))
    return out


@pytest.mark.parametrize("path", ENVS, ids=lambda p: os.path.relpath(p, lab.ROOT))
def test_sluiced_knows_every_flag_of_the_sample_options(path):
    if not os.access(sluiced_binary(), os.X_OK):
        pytest.fail(f"{sluiced_binary()} not built", pytrace=False)
    helptext = subprocess.run([sluiced_binary(), "--help"], capture_output=True,
                              text=True).stdout
    text = open(path).read()
    # The commented alternatives of the template count too.
    opts = re.findall(r'^#?SLUICED_OPTS="([^"]*)"', text, re.M)
    assert opts, path
    flags = {w.split("=")[0] for o in opts for w in o.split() if w.startswith("--")}
    missing = {f for f in flags if f not in helptext}
    cluster = {"--etcd", "--node-id"}
    assert not missing - cluster, f"{path}: sluiced --help has no {sorted(missing)}"
    # Each EAL line names a file prefix, so two DPDK processes never share one.
    for v in env_values(path).get("SLUICE_EAL_ARGS", []):
        assert "--file-prefix" in v, v
    if missing:
        # The cluster flags come with the etcd work (docs/sluiced.md).
        pytest.skip(f"this sluiced has no cluster flags yet: {sorted(missing)}")
