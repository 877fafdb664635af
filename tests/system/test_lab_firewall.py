# SPDX-License-Identifier: BSD-3-Clause
"""The demo lab with its firewall policy (lab.lab_policy()): the same hosts
and traffic as test_lab.py, plus UDP frames to a port a rule drops.  The
hosts' kernels are the oracle for what crossed; the rule's counter and the
`rule` drop reason must count exactly the blocked frames, and conntrack
(on by default) must not disturb anything else."""
import pytest

import lab


@pytest.fixture(scope="module")
def fw_run(require_root, sluice_dataplane, tmp_path_factory):
    tag = lab.unique_tag()
    h1, h2 = lab.make_pair(tag)
    lab.create_pair(h1, h2)
    work = tmp_path_factory.mktemp("labfw")
    policy = work / "policy.json"
    policy.write_text(lab.lab_policy())
    dp = lab.Dataplane(lab.af_packet_vdevs([h1.port_if, h2.port_if]),
                       ["--policy", str(policy)], binary=sluice_dataplane,
                       workdir=str(work))
    try:
        dp.start()
        dp.wait_ready()
        sc = lab.Scenario(h1, h2, udp=500, tcp=200, blocked=100)
        sc.run(log=lambda s: None)
        dp.stop()
        yield sc, dp
    finally:
        if dp.running():
            dp.stop()
        h1.destroy()
        h2.destroy()


def test_lab_with_policy_blocks_exactly_the_rule_s_traffic(fw_run):
    sc, dp = fw_run
    assert dp.returncode == 0, dp.output
    failed = [(what, detail) for what, ok, detail in sc.check(dp.stats()) if not ok]
    assert not failed, failed


def test_blocked_frames_never_reach_h2(fw_run):
    sc, dp = fw_run
    # h2's kernel saw exactly the burst's UDP datagrams (port 9), none of
    # the blocked ones (port 7): Udp NoPorts counts both ports alike.
    assert sc.snmp_delta("Udp", "NoPorts") == sc.udp
