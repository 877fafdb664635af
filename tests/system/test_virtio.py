# SPDX-License-Identifier: BSD-3-Clause
"""Virtio without a VM: the dataplane's port 0 is a virtio-user device (the
guest side of virtio, DPDK's net_virtio_user) whose vhost-user backend is a
second DPDK process, dpdk-testpmd with a net_vhost port, forwarding (io mode)
between that vhost port and an af_packet port on h1's veth:

    netns h1                      testpmd                        sluice-dataplane
    eth0 10.77.0.1 --veth-- af_packet <-io-> net_vhost0 ==vhost-user socket==
        net_virtio_user0 = port 0 "h1" --policy-- port 1 "h2" (af_packet) --veth-- eth0 10.77.0.2  netns h2

The policy is the demo lab's (lab.lab_policy(): h1 and h2 cross-connected,
UDP to port 7 dropped by rule).  Oracles: the hosts' kernels (ping replies
both ways), the dataplane's per-port counters on the virtio-user port (rx and
tx), and the rule's counter for the frames the policy drops, which h2 must
never see.  This is the recipe of docs/virtio.md ("virtio-user to a
vhost-user switch"), with testpmd as the switch.

The virtio-user side shares its memory with the backend, so the dataplane
runs on hugepages with --single-file-segments (deploy/hugepages.sh);
testpmd copies out of that memory and runs on plain memory (--no-huge).
Both processes have their own --file-prefix; on a two-CPU machine they
share the two CPUs.
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import lab

TESTPMD = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"


def free_hugepages():
    try:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            return int(f.read())
    except OSError:
        return 0


class VhostSwitch:
    """dpdk-testpmd as the vhost-user switch, stopped by SIGINT."""

    def __init__(self, sock, iface, workdir):
        self.prefix = "sl-" + lab.unique_tag() + "-pmd"
        self.log_path = os.path.join(workdir, "testpmd.log")
        self.argv = [TESTPMD, "-l", lab.default_lcores(), "--no-pci",
                     "--file-prefix", self.prefix, "--no-huge", "-m", "512",
                     "--vdev", f"net_vhost0,iface={sock},client=1,queues=1",
                     "--vdev", f"net_af_packet0,iface={iface},framecnt=2048",
                     "--", "--forward-mode=io", "--auto-start",
                     "--stats-period", "1", "--total-num-mbufs", "16384"]
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_forwarding(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"testpmd exited {self.proc.returncode}:\n{self.output}")
            if "io packet forwarding" in self.output:
                return
            time.sleep(0.2)
        raise TimeoutError(f"testpmd does not forward:\n{self.output}")

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        return self.proc.returncode


@pytest.fixture
def testpmd(tmp_path):
    made = []

    def start(sock, iface):
        t = VhostSwitch(sock, iface, str(tmp_path))
        made.append(t)
        return t.start()

    yield start
    for t in made:
        t.stop()


def test_virtio_user_to_vhost_user_carries_traffic_both_ways_through_the_policy(
        host_pair, dataplane, testpmd, tmp_path):
    if not os.access(TESTPMD, os.X_OK):
        pytest.fail(f"{TESTPMD} not found (Debian package dpdk)", pytrace=False)
    if free_hugepages() < 128:
        pytest.skip("needs 128 free 2 MB hugepages for the shared virtio memory "
                    "(deploy/hugepages.sh)")
    h1, h2 = host_pair
    policy = tmp_path / "policy.json"
    policy.write_text(lab.lab_policy())
    sock = f"/tmp/{lab.unique_tag()}.vhost.sock"
    prefix = "sl-" + lab.unique_tag()
    eal = ["-l", lab.default_lcores(), "--no-pci", "--file-prefix", prefix,
           "--huge-dir", "/dev/hugepages", "--single-file-segments", "-m", "256"]
    vdevs = [f"net_virtio_user0,path={sock},server=1,queues=1",
             lab.af_packet_vdevs([h2.port_if])[0].replace("net_af_packet0", "net_af_packet1")]
    try:
        # The virtio-user port in server mode waits, during EAL's probe,
        # for the backend to connect: start both, then wait for both.
        dp = dataplane(vdevs, ["--policy", str(policy)], prefix=prefix, eal=eal,
                       ready=False)
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            assert dp.running(), dp.output
            time.sleep(0.1)
        pmd = testpmd(sock, h1.port_if)
        dp.wait_ready(timeout=60)
        pmd.wait_forwarding()

        # Both ways: h1 -> h2 crosses testpmd then the virtio-user port in;
        # h2 -> h1 leaves the dataplane by the virtio-user port.
        deadline = time.monotonic() + 20
        while True:     # the vhost-user link comes up within a few seconds
            ok, out = h1.ping(h2.ip, count=1, wait=1)
            if ok or time.monotonic() > deadline:
                break
        assert ok, f"no ping across virtio-user:\n{out}\n{dp.output}\n{pmd.output}"
        ok, out = h1.ping(h2.ip, count=10, interval=0.05)
        assert ok and " 0% packet loss" in out, out
        ok, out = h2.ping(h1.ip, count=10, interval=0.05)
        assert ok and " 0% packet loss" in out, out

        blocked = 50
        s = h1.raw_socket()
        try:
            lab.send_all(s, lab.blocked_frames(h1, h2, blocked), gap=0.002)
        finally:
            s.close()
        time.sleep(1)
        assert pmd.stop() == 0, pmd.output
        assert dp.stop() == 0, dp.output
        stats = dp.stats()
    finally:
        if os.path.exists(sock):
            os.unlink(sock)

    port0 = lab.port_stats(stats, 0)
    port1 = lab.port_stats(stats, 1)
    assert "virtio_user" in port0["name"], port0
    # In by virtio: h1's echo requests and replies (21) and the blocked
    # frames; out by virtio: h2's requests and replies (20).
    assert port0["rx_packets"] >= 21 + blocked, port0
    assert port0["tx_packets"] >= 20, port0
    assert port1["rx_packets"] >= 20 and port1["tx_packets"] >= 20, port1
    rules = {r["id"]: r for r in stats["rules"]}
    assert rules[lab.LAB_BLOCKED_RULE]["packets"] == blocked, rules
    assert stats["drops"]["rule"] >= blocked, stats["drops"]
    # The blocked frames never reached h2: its port sent only what was let through.
    assert port1["tx_packets"] <= port0["rx_packets"] - blocked
    assert stats["mempool"]["available_at_exit"] == stats["mempool"]["size"]
    m = re.search(r"Forward statistics for port 0.*?TX-packets: (\d+)", pmd.output, re.S)
    assert m and int(m.group(1)) >= 20, pmd.output[-3000:]
