# SPDX-License-Identifier: BSD-3-Clause
"""The demo lab on the XDP backend (tests/system/lab_xdp.py, the same run
that `deploy/lab.sh --backend xdp` shows): sluiced --backend xdp on a router
namespace judges, routes in XDP between two subnets and replicates to a
monitor namespace.  The oracles are the hosts: what h1's capture shows it
sent, what h2 and the monitor captured, ping's own count; then the rule
counters sluiced reports are checked against that traffic."""
import os

import pytest

import lab_xdp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="XDP needs root")


def test_xdp_lab_firewall_routing_and_replication_hold():
    if not os.path.exists(os.path.join(lab_xdp.build_dir(), "sluice-xdp")):
        pytest.skip("built without the XDP datapath (-Dxdp=false)")
    failed = lab_xdp.demo()
    assert failed == []
    # The lab removed what it made.
    for ns in lab_xdp.NS.values():
        assert not os.path.exists(f"/run/netns/{ns}")
    assert not os.path.exists(lab_xdp.PIN_ROOT)
