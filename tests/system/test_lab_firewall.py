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
    work = tmp_path_factory.mktemp("labfw")
    policy = work / "policy.json"
    policy.write_text(lab.lab_policy())
    return lab.run_scenario(sluice_dataplane, str(work), ["--policy", str(policy)],
                            udp=500, tcp=200, blocked=100)


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
