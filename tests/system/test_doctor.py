# SPDX-License-Identifier: BSD-3-Clause
"""sluicectl doctor tells the truth about this host and changes nothing.

Each finding is compared with an oracle read independently here:
/proc/meminfo and /proc/mounts (hugepages, bpffs), /sys/kernel/iommu_groups,
/proc/cmdline (isolated cores), ethtool -k (offloads), a running sluiced
(reachable or not), a real etcd on loopback (healthy or not reachable).
The exit code is 1 exactly when some check failed, 2 for a bad command line.
"""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

import lab
from sluiced_util import sluiced, free_tcp_port  # noqa: F401 (the fixture)

SLUICECTL = os.path.join(lab.build_dir(), "sluicectl")
NO_SOCKET = "/nonexistent/sluice-api.sock"


@pytest.fixture(scope="module", autouse=True)
def _binary():
    if not os.access(SLUICECTL, os.X_OK):
        pytest.fail(f"{SLUICECTL} not built", pytrace=False)


def doctor(*args, env_file=""):
    """Run doctor -o json with no options file unless given; (rc, doc)."""
    argv = [SLUICECTL, "doctor", "-o", "json", "--env", env_file] + list(args)
    if "--socket" not in args:
        argv += ["--socket", NO_SOCKET]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1), r
    doc = json.loads(r.stdout)
    return r.returncode, doc


def check(doc, name):
    found = [c for c in doc["checks"] if c["check"] == name]
    assert len(found) == 1, (name, doc["checks"])
    return found[0]


def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def mounted(fstype, where=None):
    for line in open("/proc/mounts"):
        dev, mnt, typ = line.split()[:3]
        if typ == fstype and (where is None or mnt == where):
            return mnt
    return None


def test_exit_code_and_summary_follow_the_checks():
    rc, doc = doctor()
    fails = [c for c in doc["checks"] if c["status"] == "fail"]
    assert rc == (1 if fails else 0)
    assert doc["ready"] is (rc == 0)
    for lv in ("ok", "warn", "fail", "skip"):
        assert doc["summary"][lv] == sum(c["status"] == lv for c in doc["checks"])
    for c in doc["checks"]:
        assert c["status"] in ("ok", "warn", "fail", "skip"), c
        assert c["message"], c
        if c["status"] in ("warn", "fail"):
            assert c.get("fix"), f"no fix for {c}"


def test_hugepages_match_proc_meminfo_and_mounts():
    rc, doc = doctor()
    c = check(doc, "hugepages")
    total = meminfo("HugePages_Total")
    mnt = mounted("hugetlbfs")
    if not total:
        assert c["status"] == "fail" and "no hugepages" in c["message"]
    elif not mnt:
        assert c["status"] == "fail" and "no hugetlbfs" in c["message"]
    else:
        assert c["status"] in ("ok", "warn"), c
        assert f"{total} pages of {meminfo('Hugepagesize')} kB" in c["message"]
        assert mnt in c["message"]


def test_iommu_reported_as_the_kernel_has_it():
    rc, doc = doctor()
    c = check(doc, "iommu")
    groups = os.listdir("/sys/kernel/iommu_groups") \
        if os.path.isdir("/sys/kernel/iommu_groups") else []
    if groups:
        assert c["status"] == "ok" and f"{len(groups)} IOMMU groups" in c["message"]
    else:
        assert c["status"] in ("warn", "fail"), c
        assert "no IOMMU" in c["message"]
        assert "intel_iommu=on" in c.get("fix", "") or "no-IOMMU mode is on" in c["message"]


def test_no_iommu_fails_when_a_pci_nic_is_to_be_driven():
    groups = os.listdir("/sys/kernel/iommu_groups") \
        if os.path.isdir("/sys/kernel/iommu_groups") else []
    pcis = os.listdir("/sys/bus/pci/devices") if os.path.isdir("/sys/bus/pci/devices") else []
    if groups or not pcis:
        pytest.skip("this host has an IOMMU, or no PCI device to name")
    rc, doc = doctor("--nic", pcis[0], "--lcores", "0,1")
    assert rc == 1 and check(doc, "iommu")["status"] == "fail"


def test_bpffs_matches_proc_mounts():
    rc, doc = doctor()
    c = check(doc, "bpffs")
    if mounted("bpf", "/sys/fs/bpf"):
        assert c["status"] == "ok" and "mounted at /sys/fs/bpf" in c["message"]
    else:
        assert c["status"] == "warn" and "no BPF file system" in c["message"]


def test_isolated_cores_match_the_kernel_command_line():
    rc, doc = doctor("--lcores", "0,1")
    c = check(doc, "isolated-cores")
    cmdline = open("/proc/cmdline").read().split()
    iso = [w for w in cmdline if w.startswith(("isolcpus=", "nohz_full="))]
    if not iso:
        assert c["status"] == "warn" and "no isolcpus=" in c["message"]
    else:
        assert iso[0].split("=", 1)[1] in c["message"]


def kernel_nics():
    """Interfaces with a PCI device behind them, as doctor finds them."""
    out = []
    for ifname in sorted(os.listdir("/sys/class/net")):
        if os.path.exists(f"/sys/class/net/{ifname}/device"):
            out.append(ifname)
    return out


def test_offloads_and_driver_match_ethtool():
    nics = kernel_nics()
    if not nics or not shutil.which("ethtool"):
        pytest.skip("no PCI network interface or no ethtool")
    ifname = nics[0]
    rc, doc = doctor("--xdp", ifname, "--lcores", "0,1")
    k = subprocess.run(["ethtool", "-k", ifname], capture_output=True, text=True).stdout
    feats = dict(line.strip().split(": ", 1) for line in k.splitlines()[1:] if ": " in line)
    c = check(doc, f"offloads {ifname}")
    lro = feats.get("large-receive-offload", "off").startswith("on")
    gro = feats.get("generic-receive-offload", "off").startswith("on")
    if lro:
        assert c["status"] == "fail" and "LRO is on" in c["message"]
    elif gro:
        assert c["status"] == "warn" and "GRO is on" in c["message"]
        assert f"ethtool -K {ifname} gro off" in c["fix"]
    else:
        assert c["status"] == "ok"
    drv = os.path.basename(os.readlink(f"/sys/class/net/{ifname}/device/driver"))
    n = check(doc, f"nic {ifname}")
    assert drv in n["message"], n
    queues = len([q for q in os.listdir(f"/sys/class/net/{ifname}/queues")
                  if q.startswith("rx-")])
    r = check(doc, f"rss {ifname}")
    assert f"{queues} RX queue" in r["message"], r
    assert (r["status"] == "warn") == (queues < 1), r     # one worker: --lcores 0,1


def test_a_nic_on_its_kernel_driver_is_not_ready_for_dpdk():
    nics = [n for n in kernel_nics()
            if os.path.islink(f"/sys/class/net/{n}/device/driver")]
    if not nics:
        pytest.skip("no PCI network interface")
    rc, doc = doctor("--nic", nics[0], "--lcores", "0,1")
    c = check(doc, f"nic {nics[0]}")
    assert c["status"] == "fail" and "nic-bind.sh bind" in c["fix"], c
    assert rc == 1
    rc, doc = doctor("--nic", "nosuchnic0")
    assert rc == 1 and check(doc, "nic nosuchnic0")["status"] == "fail"


def test_sluiced_reachable_or_not(sluiced):  # noqa: F811
    rc, doc = doctor()
    c = check(doc, "sluiced")
    assert c["status"] == "warn" and "no socket there" in c["message"], c
    sd = sluiced()
    rc, doc = doctor("--socket", sd.api_sock)
    c = check(doc, "sluiced")
    assert "answers, generation 0" in c["message"], c
    assert c["status"] == "warn" and "dataplane not connected" in c["message"], c


@pytest.fixture
def etcd(tmp_path):
    if not shutil.which("etcd"):
        pytest.fail("etcd not installed (package etcd-server)", pytrace=False)
    port, peer = free_tcp_port(), free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "etcd.log", "w")
    p = subprocess.Popen(["etcd", "--name", "doctor", "--data-dir", str(tmp_path / "etcd"),
                          "--listen-client-urls", url, "--advertise-client-urls", url,
                          "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                          "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                          "--initial-cluster", f"doctor=http://127.0.0.1:{peer}"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


def test_etcd_endpoints_healthy_or_unreachable(etcd):
    dead = f"http://127.0.0.1:{free_tcp_port()}"
    for _ in range(50):         # etcd answers /health once it has a leader
        rc, doc = doctor("--etcd", etcd)
        if check(doc, f"etcd {etcd}")["status"] == "ok":
            break
        time.sleep(0.2)
    assert check(doc, f"etcd {etcd}")["status"] == "ok", doc
    rc, doc = doctor("--etcd", f"{etcd},{dead}")
    assert check(doc, f"etcd {etcd}")["status"] == "ok"
    c = check(doc, f"etcd {dead}")
    assert c["status"] == "fail" and "not reachable" in c["message"]
    assert rc == 1
    rc, doc = doctor()
    assert check(doc, "etcd")["status"] == "skip"


def test_options_file_supplies_nics_lcores_and_etcd(tmp_path):
    dead = f"http://127.0.0.1:{free_tcp_port()}"
    env = tmp_path / "sluice.env"
    env.write_text('SLUICED_OPTS="--config /etc/sluice/sluice.yaml --etcd '
                   f'{dead} --node-id n1"\n'
                   'SLUICE_EAL_ARGS="-l 0,1 --file-prefix x -a nosuchnic0"\n')
    r = subprocess.run([SLUICECTL, "doctor", "--env", str(env), "--socket", NO_SOCKET],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r
    assert f"options from {env}" in r.stdout
    assert f"fail  etcd {dead}" in r.stdout, r.stdout
    assert "fail  nic nosuchnic0" in r.stdout, r.stdout


def test_usage_errors_exit_2():
    for args in (["--lcores", "x"], ["extra"], ["--xdp", "a b"], ["--bogus"],
                 ["--env", "/nonexistent/env"]):
        r = subprocess.run([SLUICECTL, "doctor"] + args, capture_output=True, text=True)
        assert r.returncode == 2, (args, r)
        assert "usage: sluicectl doctor" in r.stderr, (args, r.stderr)


def snapshot():
    """What doctor must not change: mounts, hugepages, offloads, links."""
    k = {n: subprocess.run(["ethtool", "-k", n], capture_output=True, text=True).stdout
         for n in kernel_nics()} if shutil.which("ethtool") else {}
    return (open("/proc/mounts").read(), meminfo("HugePages_Total"),
            sorted(os.listdir("/sys/class/net")), k,
            subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout)


def test_doctor_changes_nothing():
    before = snapshot()
    doctor("--xdp", ",".join(kernel_nics()) or "lo", "--lcores", "0,1",
           "--etcd", f"http://127.0.0.1:{free_tcp_port()}")
    assert snapshot() == before


def test_doctor_is_in_help_the_man_page_and_the_completion():
    r = subprocess.run([SLUICECTL, "help"], capture_output=True, text=True)
    assert "\n  doctor" in r.stdout
    man = open(os.path.join(lab.ROOT, "docs", "sluicectl.1")).read()
    assert '.SS "doctor' in man
    for flag in ("nic", "lcores", "xdp", "etcd", "env"):
        assert f"\\-\\-{flag}" in man, flag
    comp = open(os.path.join(lab.ROOT, "deploy", "bash-completion", "sluicectl")).read()
    assert " doctor " in comp and "_sluicectl_flags_doctor=" in comp
