# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures for the system tests: hosts in network namespaces, veth pairs
and sluice-dataplane processes, each with names unique to the test and
removed after it.  The work is done by lab.py; see its docstring for the
topology.

    def test_something(host_pair, dataplane):
        h1, h2 = host_pair                       # created, static neighbours
        dp = dataplane(lab.af_packet_vdevs([h1.port_if, h2.port_if]),
                       ["--xconnect", "0:1"])    # started and ready
        ok, out = h1.ping(h2.ip)
        assert dp.stop() == 0, dp.output
        stats = dp.stats()                       # the --stats-file JSON

Environment: SLUICE_BUILD names the build directory holding
sluice-dataplane (default: build/ in the repository).  Tests that need root
are skipped, with the reason, when not run as root; a missing binary is an
error, not a skip.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test item, so fixtures can tell at
    # teardown whether the test failed (and print the dataplane's output).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


@pytest.fixture(scope="session", autouse=True)
def _remove_stale_lab_objects():
    """Namespaces and veths of an earlier run that was killed."""
    if lab.is_root():
        lab.cleanup_stale()
    yield


@pytest.fixture(scope="session", autouse=True)
def _remove_dpdk_runtime_dirs():
    """The EAL runtime directories (/var/run/dpdk/PREFIX) that this session's
    dataplanes created; DPDK leaves them behind on exit."""
    root = "/var/run/dpdk"
    before = set(os.listdir(root)) if os.path.isdir(root) else set()
    yield
    if not os.path.isdir(root):
        return
    import fcntl
    import shutil
    for name in set(os.listdir(root)) - before:
        if not name.startswith("sl-"):
            continue
        # A running DPDK primary holds a lock on its config file: leave the
        # directory of a dataplane that is still up (another session's).
        config = os.path.join(root, name, "config")
        try:
            with open(config, "rb+") as f:
                fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)


@pytest.fixture(scope="session")
def require_root():
    if not lab.is_root():
        pytest.skip("needs root: network namespaces, veth pairs and DPDK")


@pytest.fixture(scope="session")
def sluice_dataplane(require_root):
    """Path of the sluice-dataplane binary under test."""
    path = lab.dataplane_binary()
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: build it (deploy/build.sh) or set SLUICE_BUILD",
                    pytrace=False)
    return path


@pytest.fixture
def hosts(require_root):
    """Factory: hosts(n=2, subnet="10.77.0") -> [Host] created for this test.

    Host i (from 1) has subnet.i/24 on its eth0, MAC 02:00:0a:4d:00:0i and a
    static neighbour entry for each other host of the same call.  Every
    namespace and veth made is deleted after the test.
    """
    made = []

    def make(n=2, subnet="10.77.0"):
        tag = lab.unique_tag()
        group = [lab.make_host(tag, i + 1, subnet) for i in range(n)]
        for h in group:
            made.append(h)
            h.create()
        for a in group:
            for b in group:
                if a is not b:
                    a.add_neighbour(b)
        return group

    yield make
    for h in made:
        h.destroy()


@pytest.fixture
def host_pair(hosts):
    """(h1, h2): two hosts, 10.77.0.1 and 10.77.0.2, for port 0 and port 1."""
    return tuple(hosts(2))


@pytest.fixture
def dataplane(request, sluice_dataplane, tmp_path):
    """Factory: dataplane(vdevs, args=(), ready=True, **kw) -> lab.Dataplane.

    Starts sluice-dataplane with the given --vdev values and application
    arguments, a unique --file-prefix, --no-pci, --no-huge (pass
    hugepages=True for /dev/hugepages) and --stats-file in tmp_path; waits
    until every port has started unless ready=False.  Whatever the test did
    not stop is stopped after it (SIGINT); the output of each dataplane is
    printed when the test failed.
    """
    started = []

    def start(vdevs, args=(), ready=True, **kw):
        kw.setdefault("workdir", str(tmp_path))
        dp = lab.Dataplane(vdevs, args, binary=sluice_dataplane, **kw)
        started.append(dp)
        dp.start()
        if ready:
            dp.wait_ready()
        return dp

    yield start
    for dp in started:
        if dp.proc is not None and dp.returncode is None:
            dp.stop()
        if _failed(request):
            print(f"--- {' '.join(dp.argv)}\n--- exit {dp.returncode}\n{dp.output}")
