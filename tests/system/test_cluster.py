# SPDX-License-Identifier: BSD-3-Clause
"""Cluster membership on etcd (docs/cluster.md), with etcd itself as the
oracle: a 3-member etcd cluster from Debian's etcd-server, started on
loopback with ports and data directories of its own, and 3 sluiced nodes
that join it.  No dataplane is needed: the tables a node builds show in
/v1/status as digests, and sluice-cluster-tables derives the same tables
from a member list with sluiced's own code to count the flows that move.

    SL_CLUSTER_SOAK=1   also the long run: 10 minutes of one node's
                        keepalives through a lossy, slow link (netem, root)
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

import lab
from sluiced_util import Client, Sluiced, free_tcp_port, sluiced  # noqa: F401 (fixture)

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
TTL = 3
FLOWS = 100_000

POLICY = {
    "settings": {"flow_hash_seed": 7},
    "groups": [{"name": "peers", "cluster": {"kind": "vxlan", "vni": 42}}],
    "rules": [{"id": "dns", "proto": "udp", "dport": 53,
               "action": {"replicate": {"group": "peers", "copies": 2}}}],
}

pytestmark = pytest.mark.skipif(not os.access(ETCD, os.X_OK),
                                reason="needs etcd (Debian: etcd-server)")


def tables_tool():
    return os.path.join(lab.build_dir(), "sluice-cluster-tables")


# --- etcd -----------------------------------------------------------------------

class Etcd:
    """A loopback etcd cluster of n members, in a directory of its own."""

    def __init__(self, n=3):
        self.dir = tempfile.mkdtemp(prefix="sletcd-", dir="/tmp")
        self.names = [f"e{i}" for i in range(n)]
        self.client = [free_tcp_port() for _ in range(n)]
        self.peer = [free_tcp_port() for _ in range(n)]
        self.procs = [None] * n
        self.token = "sl-" + os.urandom(6).hex()

    @property
    def endpoints(self):
        return [f"http://127.0.0.1:{p}" for p in self.client]

    def argv(self, i):
        cluster = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer))
        return [ETCD, "--name", self.names[i],
                "--data-dir", os.path.join(self.dir, self.names[i]),
                "--listen-client-urls", self.endpoints[i],
                "--advertise-client-urls", self.endpoints[i],
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.token,
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--logger", "zap", "--log-level", "error"]

    def start(self, i):
        log = open(os.path.join(self.dir, f"{self.names[i]}.log"), "a")
        self.procs[i] = subprocess.Popen(self.argv(i), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start_all(self):
        for i in range(len(self.names)):
            self.start(i)
        self.wait_healthy()

    def call(self, i, path, body, timeout=1.0):
        req = urllib.request.Request(self.endpoints[i] + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def wait_healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(self.call(i, "/v3/kv/range", {"key": "AA=="})["header"]
                       for i, p in enumerate(self.procs) if p is not None):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError("etcd not healthy:\n" + self.logs())

    def leader(self):
        for i, p in enumerate(self.procs):
            if p is None:
                continue
            st = self.call(i, "/v3/maintenance/status", {})
            if st.get("leader") == st["header"]["member_id"]:
                return i
        raise RuntimeError("no etcd leader")

    def kill(self, i):
        p = self.procs[i]
        if p is not None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            self.procs[i] = None

    def kill_all(self):
        for i in range(len(self.procs)):
            self.kill(i)

    def logs(self):
        out = []
        for n in self.names:
            try:
                with open(os.path.join(self.dir, f"{n}.log"), errors="replace") as f:
                    out.append(f"--- {n}\n" + f.read()[-3000:])
            except FileNotFoundError:
                pass
        return "\n".join(out)

    def remove(self):
        self.kill_all()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- nodes ------------------------------------------------------------------------

def start_node(i, etcd, policy_path, capacity=1, extra=()):
    # Each node lists the endpoints from a different one, as operators
    # spread clients.
    eps = etcd.endpoints[i % 3:] + etcd.endpoints[:i % 3]
    sd = Sluiced(config=policy_path, args=[
        "--etcd", ",".join(eps), "--node-id", f"node{i}",
        "--underlay", f"10.99.0.{i + 1}", "--capacity", str(capacity),
        "--lease-ttl", str(TTL), *extra])
    return sd.start()


def get(sd, path):
    """One request on a connection of its own, closed after (polling
    with sd.client() would keep every connection open)."""
    c = Client(unix=sd.api_sock, timeout=5)
    try:
        return c.get(path)
    finally:
        c.close()


def status(sd):
    r = get(sd, "/v1/status")
    assert r.status == 200, r
    return r.json


def members(sd):
    r = get(sd, "/v1/members")
    assert r.status == 200, r
    return r.json["members"]


def wait_for(what, cond, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(step)


def converged(nodes, n):
    """All nodes see n members and one tables digest: that digest."""
    sts = [status(sd)["cluster"] for sd in nodes]
    digests = {s["tables_digest"] for s in sts}
    if all(s["members"] == n and not s["degraded"] for s in sts) and len(digests) == 1:
        return digests.pop()
    return None


def derive(policy_path, member_list, flows=0):
    """sluice-cluster-tables: {group: {digest, targets, owners}}."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(member_list, f)
    try:
        out = subprocess.run([tables_tool(), policy_path, f.name, str(flows)],
                             check=True, capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout)


@pytest.fixture
def policy_path():
    d = tempfile.mkdtemp(prefix="slpol-", dir="/tmp")
    path = os.path.join(d, "policy.json")
    with open(path, "w") as f:
        json.dump(POLICY, f)
    yield path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def cluster(request, policy_path):
    """(etcd, [node0, node1, node2]), converged."""
    if not os.access(tables_tool(), os.X_OK):
        pytest.fail(f"{tables_tool()} not built (ninja -C BUILD sluice-cluster-tables)",
                    pytrace=False)
    etcd = Etcd(3)
    nodes = []
    try:
        etcd.start_all()
        nodes = [start_node(i, etcd, policy_path, capacity=1 + i % 2) for i in range(3)]
        wait_for("3 members everywhere", lambda: converged(nodes, 3), 15)
        yield etcd, nodes
    finally:
        rep = getattr(request.node, "rep_call", None)
        failed = rep is not None and rep.failed
        for sd in nodes:
            sd.stop()
            if failed:
                print(f"--- {' '.join(sd.argv)}\n{sd.output[-4000:]}")
        if failed:
            print(etcd.logs())
        for sd in nodes:
            sd.remove()
        etcd.remove()


# --- single node ------------------------------------------------------------------

def test_single_node_is_its_own_cluster_group(sluiced, policy_path):
    sd = sluiced(config=policy_path, args=["--underlay", "192.0.2.7", "--node-id", "solo"])
    st = status(sd)["cluster"]
    assert st["mode"] == "single" and st["degraded"] is False and st["members"] == 1
    assert st["tables"][0]["group"] == "peers" and st["tables"][0]["targets"] == 1
    ms = members(sd)
    assert ms == [{"id": "solo", "underlay": "192.0.2.7", "capacity": 1, "self": True,
                   "state": "alive"}]
    # The operator's document keeps no targets; the tables are the tool's.
    cfg = sd.client().get("/v1/config").json
    assert "targets" not in cfg["groups"][0] and cfg["groups"][0]["cluster"]["vni"] == 42
    tool = derive(policy_path, ms)
    assert tool["peers"]["digest"] == st["tables"][0]["digest"]
    assert tool["peers"]["targets"] == ["192.0.2.7"]
    text = get(sd, "/metrics").body.decode()
    assert "sluice_cluster_degraded 0" in text and "sluice_cluster_members 1" in text


def test_a_cluster_group_with_targets_is_refused(sluiced, policy_path):
    sd = sluiced(config=policy_path)
    bad = json.loads(json.dumps(POLICY))
    bad["groups"][0]["targets"] = [{"kind": "vxlan", "remote": "192.0.2.1", "vni": 1}]
    r = sd.client().put("/v1/config", bad)
    assert r.status == 422 and r.json["error"]["field"] == "groups[0].targets", r
    r = sd.client().put("/v1/config", {"groups": [{"name": "g", "cluster": {"kind": "port"}}]})
    assert r.status == 422 and r.json["error"]["field"] == "groups[0].cluster.kind", r


# --- three nodes ------------------------------------------------------------------

def test_members_converge_and_tables_are_identical(cluster, policy_path):
    etcd, nodes = cluster
    d = converged(nodes, 3)
    for i, sd in enumerate(nodes):
        ms = members(sd)
        assert [m["id"] for m in ms] == ["node0", "node1", "node2"]
        assert [m["self"] for m in ms] == [j == i for j in range(3)]
        assert [m["capacity"] for m in ms] == [1, 2, 1]
    st = status(nodes[0])["cluster"]
    assert st["mode"] == "etcd" and st["tables_digest"] == d
    # The digest is the one of the table sluiced's code derives offline.
    tool = derive(policy_path, members(nodes[0]))
    assert [status(sd)["cluster"]["tables"][0]["digest"] for sd in nodes] == \
        [tool["peers"]["digest"]] * 3
    # And etcd holds what the nodes registered.
    kvs = etcd.call(0, "/v3/kv/range", {"key": "L3NsdWljZS9tZW1iZXJzLw==",  # /sluice/members/
                                        "range_end": "L3NsdWljZS9tZW1iZXJzMA=="})["kvs"]
    assert len(kvs) == 3 and all(int(kv["lease"]) != 0 for kv in kvs)


def test_kill9_of_a_node_drops_it_within_ttl_and_moves_only_its_flows(cluster, policy_path):
    etcd, nodes = cluster
    before_members = members(nodes[0])
    before = derive(policy_path, before_members, FLOWS)["peers"]
    d0 = converged(nodes, 3)

    dead = nodes[2]
    dead.proc.send_signal(signal.SIGKILL)
    t0 = time.monotonic()
    dead.proc.wait()
    wait_for("node2 dropped by the others",
             lambda: all(status(sd)["cluster"]["members"] == 2 for sd in nodes[:2]), TTL + 1)
    took = time.monotonic() - t0
    d1 = wait_for("the survivors agree", lambda: converged(nodes[:2], 2), 2)
    assert d1 != d0
    print(f"node dropped after {took:.2f} s (TTL {TTL} s)")

    after_members = members(nodes[0])
    assert [m["id"] for m in after_members] == ["node0", "node1"]
    after = derive(policy_path, after_members, FLOWS)["peers"]
    assert after["digest"] == status(nodes[1])["cluster"]["tables"][0]["digest"]
    owner_b = [before["targets"][o] for o in before["owners"]]
    owner_a = [after["targets"][o] for o in after["owners"]]
    dead_addr = "10.99.0.3"
    share = sum(1 for o in owner_b if o == dead_addr)
    moved = [(b, a) for b, a in zip(owner_b, owner_a) if b != a]
    moved_other = sum(1 for b, _ in moved if b != dead_addr)
    print(f"dead node's share {share / FLOWS:.4f}, moved {len(moved) / FLOWS:.4f}, "
          f"of them not its flows {moved_other}")
    # Every flow of the dead node moved; of the others, only Maglev's churn.
    assert share > 0 and all(a != dead_addr for a in owner_a)
    assert moved_other <= FLOWS * 0.005, moved_other


def test_killing_the_etcd_leader_flaps_no_member(cluster):
    etcd, nodes = cluster
    changes = [status(sd)["cluster"]["member_changes"] for sd in nodes]
    digest = converged(nodes, 3)
    etcd.kill(etcd.leader())
    deadline = time.monotonic() + 2 * TTL + 1
    while time.monotonic() < deadline:
        for sd in nodes:
            st = status(sd)["cluster"]
            assert st["members"] == 3 and st["tables_digest"] == digest, st
        time.sleep(0.05)
    assert [status(sd)["cluster"]["member_changes"] for sd in nodes] == changes
    wait_for("sessions steady again",
             lambda: all(status(sd)["cluster"]["session"] == "steady" for sd in nodes), 10)


def test_without_etcd_nodes_are_degraded_and_recover_without_restart(cluster):
    etcd, nodes = cluster
    digest = converged(nodes, 3)
    config = [get(sd, "/v1/config").body for sd in nodes]
    etcd.kill_all()
    wait_for("degraded everywhere",
             lambda: all(status(sd)["cluster"]["degraded"] for sd in nodes), 2 * TTL)
    time.sleep(TTL + 1)    # past every lease
    for sd, cfg in zip(nodes, config):
        st = status(sd)["cluster"]
        # The last member set and tables stay in force; the API serves.
        assert st["members"] == 3 and st["tables_digest"] == digest, st
        assert get(sd, "/v1/config").body == cfg
        text = get(sd, "/metrics").body.decode()
        assert "sluice_cluster_degraded 1" in text, text
    pids = [sd.pid for sd in nodes]
    etcd.start_all()
    wait_for("recovered", lambda: converged(nodes, 3) == digest, 20, step=0.1)
    assert [sd.pid for sd in nodes] == pids and all(sd.running() for sd in nodes)
    for sd in nodes:
        assert "sluice_cluster_degraded 0" in get(sd, "/metrics").body.decode()


def test_a_node_that_stops_is_dropped_and_a_new_one_joins(cluster, policy_path):
    """SIGTERM revokes the lease (others drop the node at once); a node that
    starts joins everyone's tables."""
    etcd, nodes = cluster
    nodes[1].stop()
    wait_for("node1 dropped", lambda: converged([nodes[0], nodes[2]], 2), 2)
    sd = start_node(1, etcd, policy_path, capacity=2)
    nodes[1] = sd
    wait_for("node1 back", lambda: converged(nodes, 3), 5)


# --- shared desired state (PREFIX/config/shared) -----------------------------------

SHARED_RULE = {"id": "shared-ssh", "proto": "tcp", "dport": 22, "action": "drop"}


def call(sd, method, path, body=None, headers=None):
    c = Client(unix=sd.api_sock, timeout=10)
    try:
        return c.request(method, path, body, headers=headers)
    finally:
        c.close()


def shared(sd):
    r = get(sd, "/v1/cluster/config")
    assert r.status == 200, r
    return r.json


def effective_rule_ids(sd):
    r = get(sd, "/v1/config/effective")
    assert r.status == 200, r
    return [x["id"] for x in r.json.get("rules", [])]


def shared_everywhere(nodes, rev):
    """Every node runs shared revision rev (applied, no error)."""
    return all(status(sd)["cluster"]["shared"]["revision"] == rev for sd in nodes)


def test_a_shared_rule_written_on_one_node_is_active_on_all(cluster):
    _, nodes = cluster
    rev0 = shared(nodes[0])["revision"]
    r = call(nodes[0], "PUT", "/v1/cluster/config", {"rules": [SHARED_RULE]},
             headers={"If-Match": f'"{rev0}"'})
    # The writer answers once its own watch has applied the change.
    assert r.status == 200 and r.json["applied"], r
    rev = r.json["revision"]
    assert rev > rev0 and r.header("etag") == f'"{rev}"'
    assert "shared-ssh" in effective_rule_ids(nodes[0])
    wait_for("shared rule everywhere", lambda: shared_everywhere(nodes, rev), 5)
    for sd in nodes:
        ids = effective_rule_ids(sd)
        assert ids[0] == "shared-ssh" and "dns" in ids, ids     # shared first
        # The local document (GET /v1/config, /v1/rules) is the node's own.
        local = [x["id"] for x in get(sd, "/v1/config").json["rules"]]
        assert local == ["dns"], local
        assert shared(sd)["rules"][0]["id"] == "shared-ssh"
        assert "sluice_cluster_shared_revision %d" % rev in get(sd, "/metrics").body.decode()
    # A local write leaves the shared part alone; the local API cannot
    # take a shared item's name.
    r = call(nodes[1], "POST", "/v1/rules", {"id": "shared-ssh", "proto": "udp",
                                             "action": "drop"})
    assert r.status == 409 and r.error["code"] == "exists", r
    r = call(nodes[1], "POST", "/v1/rules", {"id": "local-1", "proto": "udp", "dport": 9,
                                             "action": "drop"})
    assert r.status == 201, r
    ids = effective_rule_ids(nodes[1])
    assert ids == ["shared-ssh", "dns", "local-1"], ids
    # Removing it from the shared document removes it everywhere.
    r = call(nodes[2], "PUT", "/v1/cluster/config", {}, headers={"If-Match": f'"{rev}"'})
    assert r.status == 200, r
    wait_for("removed everywhere", lambda: shared_everywhere(nodes, r.json["revision"]), 5)
    assert all("shared-ssh" not in effective_rule_ids(sd) for sd in nodes)


def test_two_concurrent_conflicting_shared_writes_one_wins_one_gets_409(cluster):
    import threading
    _, nodes = cluster
    rev0 = shared(nodes[0])["revision"]
    out = {}

    def write(i):
        rule = dict(SHARED_RULE, dport=1000 + i)
        out[i] = call(nodes[i], "PUT", "/v1/cluster/config", {"rules": [rule]},
                      headers={"If-Match": f'"{rev0}"'})

    for _ in range(3):
        ts = [threading.Thread(target=write, args=(i,)) for i in (0, 1)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = sorted(out[i].status for i in (0, 1))
        assert codes == [200, 409], out
        lost = out[0] if out[0].status == 409 else out[1]
        won = out[1] if lost is out[0] else out[0]
        assert lost.error["code"] == "conflict" and lost.error["field"] == "revision", lost
        rev0 = won.json["revision"]
        wait_for("winner everywhere", lambda: shared_everywhere(nodes, rev0), 5)
        dports = {shared(sd)["rules"][0]["dport"] for sd in nodes}
        assert len(dports) == 1, dports
    # No If-Match: based on what the node has seen; a stale base is a 409.
    r = call(nodes[0], "PUT", "/v1/cluster/config?revision=1", {"rules": []})
    assert r.status == 409 and r.error["field"] == "revision", r


def test_a_shared_change_invalid_on_one_node_is_refused_there_only(cluster):
    _, nodes = cluster
    # node2 has a local rule whose id the shared document will take.
    r = call(nodes[2], "POST", "/v1/rules", dict(SHARED_RULE, dport=2222))
    assert r.status == 201, r
    gen2 = status(nodes[2])["generation"]
    # The writer judges it against its own local document: fine there.
    r = call(nodes[0], "PUT", "/v1/cluster/config", {"rules": [SHARED_RULE]})
    assert r.status == 200 and r.json["applied"], r
    rev = r.json["revision"]
    wait_for("applied on 0 and 1", lambda: shared_everywhere(nodes[:2], rev), 5)

    def refused():
        st = status(nodes[2])["cluster"]["shared"]
        return st if st["error"] and st["error"]["revision"] == rev else None
    st = wait_for("refused on node2", refused, 5)
    assert st["error"]["code"] == "invalid" and st["error"]["field"].startswith("rules["), st
    assert st["revision"] < rev
    # Never half-applied: node2's state did not change at all.
    assert status(nodes[2])["generation"] == gen2
    assert [x.get("dport") for x in get(nodes[2], "/v1/config/effective").json["rules"]
            if x["id"] == "shared-ssh"] == [2222]
    text = get(nodes[2], "/metrics").body.decode()
    assert "sluice_cluster_shared_refused 1" in text and \
        "sluice_cluster_shared_refusals_total 1" in text, text
    # A write through node2 itself is refused before it reaches etcd.
    r = call(nodes[2], "PUT", "/v1/cluster/config", {"rules": [SHARED_RULE]})
    assert r.status == 422, r
    # The operator removes the clash: node2 takes the shared state.
    r = call(nodes[2], "DELETE", "/v1/rules/shared-ssh")
    assert r.status == 200, r
    wait_for("node2 catches up", lambda: shared_everywhere(nodes, rev), 5)
    assert status(nodes[2])["cluster"]["shared"]["error"] is None
    assert "sluice_cluster_shared_refused 0" in get(nodes[2], "/metrics").body.decode()


def test_shared_state_survives_etcd_restart_and_a_node_restart_without_etcd(cluster):
    etcd, nodes = cluster
    r = call(nodes[1], "PUT", "/v1/cluster/config", {"rules": [SHARED_RULE]})
    assert r.status == 200, r
    rev = r.json["revision"]
    wait_for("everywhere", lambda: shared_everywhere(nodes, rev), 5)
    etcd.kill_all()
    wait_for("degraded everywhere",
             lambda: all(status(sd)["cluster"]["degraded"] for sd in nodes), 2 * TTL)
    # Writes need etcd: 503, nothing changes.
    r = call(nodes[0], "PUT", "/v1/cluster/config", {"rules": []})
    assert r.status == 503 and r.error["code"] == "etcd_unavailable", r
    # A node restarted while etcd is away keeps the shared state (shared.json).
    nodes[0].stop()
    nodes[0].start()
    assert effective_rule_ids(nodes[0])[0] == "shared-ssh"
    assert status(nodes[0])["cluster"]["shared"]["revision"] == rev
    assert [x["id"] for x in get(nodes[0], "/v1/config").json["rules"]] == ["dns"]
    etcd.start_all()
    wait_for("recovered", lambda: converged(nodes, 3), 20, step=0.1)
    assert shared_everywhere(nodes, rev)
    assert all(effective_rule_ids(sd)[0] == "shared-ssh" for sd in nodes)
    r = call(nodes[0], "PUT", "/v1/cluster/config", {"rules": []},
             headers={"If-Match": f'"{rev}"'})
    assert r.status == 200, r


@pytest.mark.skipif(os.environ.get("SL_CLUSTER_SOAK") != "1",
                    reason="the 10-minute soak: SL_CLUSTER_SOAK=1")
def test_soak_no_false_removals_under_loss_and_delay(cluster):
    """10 minutes with 5 % loss and 100 ms delay on loopback's egress for
    node2's etcd traffic: no member set change anywhere."""
    if os.geteuid() != 0:
        pytest.skip("netem needs root")
    etcd, nodes = cluster
    changes = [status(sd)["cluster"]["member_changes"] for sd in nodes]
    ports = etcd.client
    # Shape only the packets to etcd's client ports that come from node2's
    # sockets: mark them by owner with nftables? Loopback has no owner
    # match at tc level, so every etcd client packet is shaped: harsher.
    subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio"], check=True)
    try:
        subprocess.run(["tc", "qdisc", "add", "dev", "lo", "parent", "1:3", "handle", "30:",
                        "netem", "delay", "100ms", "loss", "5%"], check=True)
        for p in ports:
            subprocess.run(["tc", "filter", "add", "dev", "lo", "parent", "1:0", "protocol", "ip",
                            "u32", "match", "ip", "dport", str(p), "0xffff", "flowid", "1:3"],
                           check=True)
        end = time.monotonic() + 600
        while time.monotonic() < end:
            for sd in nodes:
                assert status(sd)["cluster"]["members"] == 3
            time.sleep(1)
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
    assert [status(sd)["cluster"]["member_changes"] for sd in nodes] == changes
