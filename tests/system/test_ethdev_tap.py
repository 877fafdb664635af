# SPDX-License-Identifier: BSD-3-Clause
"""sluice-dataplane on net_tap ports: the dataplane creates two TAP
interfaces, the test moves each into a host namespace of its own, and the
hosts ping each other through the dataplane's cross-connect.  (af_packet
ports are covered by the lab tests, pcap and null by test_dataplane_pcap.)
"""
import subprocess
import time

import lab


def test_hosts_on_tap_ports_ping_through_the_dataplane(require_root, sluice_dataplane,
                                                       tmp_path):
    tag = lab.unique_tag()
    taps = [f"{tag}t{i}" for i in range(2)]
    nss = [lab._tag_netns(tag, f"h{i + 1}") for i in range(2)]
    dp = lab.Dataplane([f"net_tap{i},iface={taps[i]}" for i in range(2)],
                       ["--xconnect", "0:1"], binary=sluice_dataplane,
                       workdir=str(tmp_path))
    try:
        for ns in nss:
            lab.sh("ip", "netns", "add", ns)
        dp.start()
        dp.wait_ready()
        for i in range(2):
            lab.sh("ip", "link", "set", taps[i], "netns", nss[i])
            lab.sh("ip", "addr", "add", f"10.81.0.{i + 1}/24", "dev", taps[i], ns=nss[i])
            lab.sh("ip", "link", "set", taps[i], "up", ns=nss[i])
            lab.sh("ip", "link", "set", "lo", "up", ns=nss[i])
        time.sleep(0.5)
        r = subprocess.run(["ip", "netns", "exec", nss[0], "ping", "-c", "3", "-W", "2",
                            "10.81.0.2"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert dp.stop() == 0, dp.output
        stats = dp.stats()
        p0, p1 = lab.port_stats(stats, 0), lab.port_stats(stats, 1)
        # every echo request and reply crossed: at least 3 each way
        assert p1["tx_packets"] >= 3 and p0["tx_packets"] >= 3
        assert stats["mempool"]["available_at_exit"] == stats["mempool"]["size"]
        assert sum(v for k, v in stats["drops"].items() if k != "tx_full") == 0
    finally:
        if dp.running():
            dp.stop()
        for ns in nss:
            lab.sh("ip", "netns", "del", ns, check=False)
