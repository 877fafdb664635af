# SPDX-License-Identifier: BSD-3-Clause
"""The demo lab as a test: two hosts in network namespaces, each joined by a
veth pair to an af_packet port of sluice-dataplane, cross-connected 0:1.

One run (ping both ways, then a paced burst of 2000 UDP and 1000 TCP frames
and 40 malformed ones from h1 to h2) feeds every test here.  The oracles are
the hosts' kernels, not the dataplane: the interface counters of both veth
ends, and h2's UDP/TCP statistics (a datagram is counted under Udp NoPorts
only once its checksum verified, so it crossed intact).
"""
import pytest

import lab


@pytest.fixture(scope="module")
def lab_run(require_root, sluice_dataplane, tmp_path_factory):
    """(scenario, dataplane) after the traffic and a clean stop."""
    return lab.run_scenario(sluice_dataplane, str(tmp_path_factory.mktemp("lab")),
                            ["--xconnect", "0:1"])


@pytest.fixture(scope="module")
def stats(lab_run):
    sc, dp = lab_run
    assert dp.returncode == 0, dp.output
    return dp.stats()


def test_ping_crosses_the_dataplane_both_ways(lab_run):
    sc, dp = lab_run
    assert sc.result["ping_h1_h2"], dp.output
    assert sc.result["ping_h2_h1"], dp.output


def test_dataplane_stops_on_sigint_with_every_mbuf_back(lab_run, stats):
    sc, dp = lab_run
    assert dp.returncode == 0, dp.output
    assert stats["mempool"]["available_at_exit"] == stats["mempool"]["size"]


def test_port0_receives_every_frame_h1_sent(lab_run, stats):
    sc, _ = lab_run
    p0 = lab.port_stats(stats, 0)
    assert p0["name"] == "net_af_packet0"
    assert p0["rx_packets"] == sc.delta("h1", "tx_packets")
    assert p0["rx_packets"] == sc.delta("p0", "rx_packets")
    assert p0["rx_bytes"] == sc.delta("p0", "rx_bytes")


def test_every_wellformed_frame_crosses_to_h2_intact(lab_run, stats):
    sc, _ = lab_run
    p0, p1 = lab.port_stats(stats, 0), lab.port_stats(stats, 1)
    assert sc.result["burst_arrived"] == sc.result["burst_sent"]
    assert p1["tx_dropped"] == 0
    assert p1["tx_packets"] == p0["rx_packets"] - p0["rx_dropped"]
    assert sc.delta("h2", "rx_packets") == p1["tx_packets"]
    assert sc.snmp_delta("Udp", "NoPorts") == sc.udp
    assert sc.snmp_delta("Udp", "InCsumErrors") == 0
    assert sc.snmp_delta("Tcp", "InSegs") == sc.tcp


def test_replies_cross_back_from_h2_to_h1(lab_run, stats):
    sc, _ = lab_run
    p0, p1 = lab.port_stats(stats, 0), lab.port_stats(stats, 1)
    assert p1["rx_packets"] == sc.delta("h2", "tx_packets")
    assert p1["rx_dropped"] == 0
    assert p0["tx_packets"] == p1["rx_packets"]
    assert sc.delta("h1", "rx_packets") == p0["tx_packets"]


def test_malformed_frames_are_dropped_under_their_reason(lab_run, stats):
    sc, _ = lab_run
    sent = sc.result["malformed_sent"]
    counted = {k: v for k, v in stats["drops"].items() if v}
    assert counted == sent
    assert lab.port_stats(stats, 0)["rx_dropped"] == sum(sent.values())
