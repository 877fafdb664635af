# SPDX-License-Identifier: BSD-3-Clause
"""deploy/nic-bind.sh without a spare NIC.

The machine's real NIC is never touched: every test runs the script with
SL_DEVBIND pointing to a stand-in for dpdk-devbind.py that records its
arguments (and moves a fake device's driver link), and the bind tests use a
fake sysfs tree (SL_SYSFS) holding one PCI NIC.  What is checked against
the real system: `status` (dpdk-devbind.py's own output and the default
route of `ip route`), and the default-route refusal for a veth that carries
a namespace's default route (the oracle is the kernel's routing table in
that namespace, through `ip netns exec`).
"""
import os
import subprocess

import pytest

import lab

SCRIPT = os.path.join(lab.ROOT, "deploy", "nic-bind.sh")
PCI = "0000:01:00.0"
IFACE = "slfake0"

FAKE_DEVBIND = """#!/bin/bash
# Stand-in for dpdk-devbind.py: log the arguments, move the fake driver link.
echo "$*" >>"$FAKE_LOG"
case "$1" in
	--status-dev) echo "Network devices using kernel driver"; exit 0 ;;
esac
drv=
for a in "$@"; do
	case "$a" in
		--bind=*) drv=${a#*=} ;;
		--unbind) drv=NONE ;;
		--force) ;;
		*) dev=$a ;;
	esac
done
d=$SL_SYSFS/bus/pci/devices/$dev
rm -f "$d/driver"
rm -rf "$d/net"
if [ "$drv" != NONE ]; then
	mkdir -p "$SL_SYSFS/bus/pci/drivers/$drv"
	ln -s "../../../bus/pci/drivers/$drv" "$d/driver"
	if [ "$drv" != vfio-pci ]; then mkdir -p "$d/net/slfake0"; fi
fi
"""


@pytest.fixture
def fake(tmp_path):
    """A fake sysfs with one NIC (PCI, slfake0 on ixgbe), IOMMU on, and the
    stand-in devbind; returns (env, sysfs, log, conf)."""
    sysfs = tmp_path / "sys"
    dev = sysfs / "bus/pci/devices" / PCI
    (dev / "net" / IFACE).mkdir(parents=True)
    for drv in ("ixgbe", "vfio-pci"):
        (sysfs / "bus/pci/drivers" / drv).mkdir(parents=True)
    os.symlink("../../../bus/pci/drivers/ixgbe", dev / "driver")
    (sysfs / "class/net" / IFACE).mkdir(parents=True)
    os.symlink(dev, sysfs / "class/net" / IFACE / "device")
    (sysfs / "kernel/iommu_groups/7").mkdir(parents=True)
    devbind = tmp_path / "devbind"
    devbind.write_text(FAKE_DEVBIND)
    devbind.chmod(0o755)
    log = tmp_path / "devbind.log"
    conf = tmp_path / "etc" / "nic-bind.conf"
    env = dict(os.environ, SL_DEVBIND=str(devbind), SL_SYSFS=str(sysfs),
               SL_NIC_BIND_CONF=str(conf), FAKE_LOG=str(log))
    return env, sysfs, log, conf


def nic_bind(*args, env=None, ns=None):
    argv = [SCRIPT] + list(args)
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def calls(log):
    return log.read_text().splitlines() if log.exists() else []


def driver_of(sysfs):
    link = sysfs / "bus/pci/devices" / PCI / "driver"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def default_route_ifaces():
    out = subprocess.run(["ip", "route", "show", "default"], capture_output=True,
                         text=True).stdout.split()
    return {out[i + 1] for i, w in enumerate(out[:-1]) if w == "dev"}


def test_help_and_argument_errors_exit_2():
    r = nic_bind("--help")
    assert r.returncode == 0 and "nic-bind.sh bind" in r.stdout
    for args in ((), ("bind",), ("frobnicate",), ("status", "eth0"),
                 ("bind", "--bogus", PCI), ("apply", PCI), ("bind", "--driver")):
        r = nic_bind(*args)
        assert r.returncode == 2, (args, r)
        assert "usage:" in r.stderr, (args, r.stderr)


def test_status_shows_devbind_output_and_the_default_route():
    r = nic_bind("status")
    assert r.returncode == 0, r
    assert "Network devices" in r.stdout
    for ifname in default_route_ifaces():
        assert f"Default route via: {ifname}" in r.stdout or ifname in r.stdout, r.stdout
    iommu = bool(os.listdir("/sys/kernel/iommu_groups")) \
        if os.path.isdir("/sys/kernel/iommu_groups") else False
    assert ("IOMMU: on" in r.stdout) == iommu, r.stdout


@pytest.mark.parametrize("verb", ["bind", "unbind"])
def test_refuses_the_interface_carrying_the_default_route(verb, tmp_path, require_root):
    """The real default-route interface(s) of this machine, by name and by PCI
    address, with a stand-in devbind that must never be called."""
    ifaces = default_route_ifaces()
    if not ifaces:
        pytest.skip("this machine has no default route")
    log = tmp_path / "log"
    env = dict(os.environ, SL_DEVBIND="/bin/false", FAKE_LOG=str(log),
               SL_NIC_BIND_CONF=str(tmp_path / "conf"))
    for ifname in ifaces:
        r = nic_bind(verb, ifname, env=env)
        assert r.returncode == 1, r
        assert f"{ifname} carries the default route" in r.stderr, r.stderr
        dev = os.path.realpath(f"/sys/class/net/{ifname}/device")
        pci = os.path.basename(dev)
        if not os.path.exists(f"/sys/bus/pci/devices/{pci}"):
            pci = os.path.basename(os.path.dirname(dev))   # virtio
        if os.path.exists(f"/sys/bus/pci/devices/{pci}"):
            r = nic_bind(verb, pci, env=env)
            assert r.returncode == 1 and "carries the default route" in r.stderr, r
    assert not (tmp_path / "conf").exists()


def test_default_route_check_follows_the_namespace(hosts, tmp_path):
    """A veth with a default route in a namespace is refused for that reason;
    the same veth without one is refused as no PCI device."""
    h, = hosts(1)
    env = dict(os.environ, SL_DEVBIND="/bin/false",
               SL_NIC_BIND_CONF=str(tmp_path / "conf"))
    r = nic_bind("bind", h.ifname, env=env, ns=h.ns)
    assert r.returncode == 1 and "not a PCI device" in r.stderr, r
    lab.sh("ip", "-n", h.ns, "route", "add", "default", "via", "10.77.0.254")
    r = nic_bind("bind", h.ifname, env=env, ns=h.ns)
    assert r.returncode == 1 and f"{h.ifname} carries the default route" in r.stderr, r
    r = nic_bind("unbind", h.ifname, env=env, ns=h.ns)
    assert r.returncode == 1 and "carries the default route" in r.stderr, r


def test_bind_persist_writes_the_boot_file_and_is_idempotent(fake):
    env, sysfs, log, conf = fake
    r = nic_bind("bind", "--persist", IFACE, env=env)
    assert r.returncode == 0, r
    assert calls(log) == [f"--bind=vfio-pci {PCI}"]
    assert driver_of(sysfs) == "vfio-pci"
    lines = [l for l in conf.read_text().splitlines() if not l.startswith("#")]
    assert lines == [f"{PCI} vfio-pci ixgbe {IFACE}"]
    # Again, by PCI address in the short form: nothing to do, same file.
    r = nic_bind("bind", "--persist", PCI[5:], env=env)
    assert r.returncode == 0 and "already bound to vfio-pci" in r.stdout, r
    assert calls(log) == [f"--bind=vfio-pci {PCI}"]
    lines2 = [l for l in conf.read_text().splitlines() if not l.startswith("#")]
    assert lines2 == lines
    # unbind gives it back to the saved kernel driver and forgets it.
    r = nic_bind("unbind", "--persist", PCI, env=env)
    assert r.returncode == 0, r
    assert calls(log)[-1] == f"--bind=ixgbe {PCI}"
    assert driver_of(sysfs) == "ixgbe"
    assert [l for l in conf.read_text().splitlines() if not l.startswith("#")] == []


def test_apply_binds_the_saved_devices_again(fake):
    env, sysfs, log, conf = fake
    conf.parent.mkdir(parents=True)
    conf.write_text(f"# comment\n{PCI} vfio-pci ixgbe {IFACE}\n")
    r = nic_bind("apply", env=env)
    assert r.returncode == 0, r
    assert calls(log) == [f"--bind=vfio-pci {PCI}"]
    assert driver_of(sysfs) == "vfio-pci"
    r = nic_bind("apply", env=env)            # at the next boot: nothing to do
    assert r.returncode == 0 and len(calls(log)) == 1, r
    conf.write_text(f"{PCI} vfio-pci ixgbe {IFACE}\nnot-an-address vfio-pci\n")
    r = nic_bind("apply", env=env)
    assert r.returncode == 1 and "bad line" in r.stderr, r


def test_vfio_without_iommu_is_refused_with_the_fix(fake):
    env, sysfs, log, conf = fake
    os.rmdir(sysfs / "kernel/iommu_groups/7")
    r = nic_bind("bind", PCI, env=env)
    assert r.returncode == 1 and "intel_iommu=on" in r.stderr, r
    assert calls(log) == [] and driver_of(sysfs) == "ixgbe"
    (sysfs / "module/vfio/parameters").mkdir(parents=True)
    (sysfs / "module/vfio/parameters/enable_unsafe_noiommu_mode").write_text("Y\n")
    r = nic_bind("bind", PCI, env=env)
    assert r.returncode == 0 and driver_of(sysfs) == "vfio-pci", r


def test_unknown_devices_and_dry_run(fake):
    env, sysfs, log, conf = fake
    r = nic_bind("bind", "0000:09:00.0", env=env)
    assert r.returncode == 1 and "no such PCI device" in r.stderr, r
    r = nic_bind("bind", "nosuchif0", env=env)
    assert r.returncode == 1 and "neither a PCI address" in r.stderr, r
    r = nic_bind("bind", "--dry-run", "--persist", PCI, env=env)
    assert r.returncode == 0, r
    assert f"would run: {env['SL_DEVBIND']} --bind=vfio-pci {PCI}" in r.stdout
    assert "would save" in r.stdout
    assert calls(log) == [] and not conf.exists() and driver_of(sysfs) == "ixgbe"
