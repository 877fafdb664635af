# SPDX-License-Identifier: BSD-3-Clause
"""Routing against the kernel FIB as the oracle (issue 4).

Random tables of SL_ROUTE_FIB_ROUTES (default 10,000) IPv4 and as many IPv6
routes - every prefix length the allowed space offers, more than half of
them nested in another, 15 % ECMP over 2-4 gateways with weights 1-4 - via
12 gateways on 4 egress ports go both into a table of the router
namespace's kernel and into Sluice: as the policy's static routes
(TestStaticRoutes) or through the dataplane mirroring that kernel table
(TestKernelTable).  Then one UDP frame per destination, SL_ROUTE_FIB_DESTS
(default 50,000) per family drawn inside the routes plus 2,500 per family
that no route covers, and one more frame of the same flow for each
destination under an ECMP route, enter the ingress port; what leaves the
egress ports is captured in their neighbour namespaces.

For every destination the egress port and the gateway (named by the
destination MAC) must be the next hop `ip route get fibmatch` answers in the
router namespace - any of them for an ECMP route, the same one for every
frame of a flow; the frame must be the sent one with TTL / hop limit minus 1
and a valid IPv4 header checksum; frames without a route must be dropped
and counted as no_route, and nothing else may be dropped.  Every prefix
length of the table must be the answer for some destination (addresses are
topped up through the oracle; a length whose routes are entirely covered by
more specific ones is reported as shadowed), and scapy recomputes the
checksums of 4,000 forwarded frames.  The kernel-table
variant then deletes, replaces and adds 1,000 routes per family while the
dataplane runs and checks about 11,500 destinations again, 9,000 of them in
the changed prefixes.

The first test runs the same harness with the router namespace's kernel as
the router: when it fails, the harness is wrong, not Sluice.

SL_TEST_SEED changes the tables and destinations.
"""
import os
import random
import time

import pytest

import routelab as rl

SEED = int(os.environ.get("SL_TEST_SEED", "20261123"))
N_ROUTES = int(os.environ.get("SL_ROUTE_FIB_ROUTES", "10000"))
N_DESTS = int(os.environ.get("SL_ROUTE_FIB_DESTS", "50000"))
N_UNROUTED = 2500
N_CHANGES = 1000

# port 0 receives the probes; ports 1-4 have 2, 3, 4 and 3 gateways
PORTS = [("in0", 0), ("eg1", 2), ("eg2", 3), ("eg3", 4), ("eg4", 3)]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns and DPDK")


def scapy_checksum_failures(frames, limit):
    """scapy's verdict on up to `limit` captured frames: recompute the IPv4
    header checksum and the UDP checksum of each; [(frame, what)] wrong."""
    from scapy.all import IP, UDP, Ether, IPv6

    bad = []
    for f in frames[:limit]:
        p = Ether(f)
        ip = p[IP] if IP in p else p[IPv6]
        if IP in p:
            c = p[IP].chksum
            del p[IP].chksum
            if Ether(bytes(p))[IP].chksum != c:
                bad.append((f, "ipv4 header checksum"))
                continue
            p = Ether(f)
        c = p[UDP].chksum
        del p[UDP].chksum
        if Ether(bytes(p))[UDP].chksum != c:
            bad.append((f, f"udp checksum ({ip.dst})"))
    return bad


def check_against_oracle(rlab, routes, rng, dests_per_family, unrouted_per_family,
                         extra_dests=(), stats=True, label=""):
    """Probe the router with destinations drawn from routes (and
    extra_dests), compare with the oracle; returns the FibReport, with
    report.drops the dataplane's drop counters over the run."""
    t0 = time.monotonic()
    dests = []
    for fam in (4, 6):
        fam_routes = [r for r in routes if r.family == fam]
        dests += rl.random_destinations(rng, fam_routes, dests_per_family, fam)
    have = set(dests)
    dests += [d for d in dict.fromkeys(extra_dests) if d not in have]
    for fam in (4, 6):
        dests += rl.unrouted_destinations(rlab, rng, fam, unrouted_per_family, routes,
                                          avoid=dests)
    t_draw = time.monotonic() - t0
    t0 = time.monotonic()
    answers = rl.oracle(rlab, dests)
    more, more_answers, shadowed = rl.cover_length_classes(rlab, rng, routes, dests, answers)
    dests += more
    answers += more_answers
    t_oracle = time.monotonic() - t0
    probes = rl.build_probes(rng, rlab.ports[0], dests, answers)
    drops0 = rlab.periodic_drops() if stats else {}
    cap = rl.Capture(rlab.ports[1:])
    sock = rl.packet_socket(rlab.ports[0].ns)
    try:
        secs, stalls, sent = rl.send_captured(sock, [p.frame for p in probes], cap,
                                        [p.answer.prefix is not None for p in probes])
    finally:
        sock.close()
        cap.close()
    drops1 = rlab.periodic_drops() if stats else {}
    rep = rl.check_probes(rlab, probes, cap)
    rep.drops = {k: drops1.get(k, 0) - drops0.get(k, 0) for k in set(drops0) | set(drops1)}
    rep.drops = {k: v for k, v in rep.drops.items() if v}
    rep.cap = cap
    rep.shadowed = shadowed
    if sent < len(probes):
        rep.problems["lost"].insert(0, f"sending stopped after {stalls} stalls: "
                                       f"{sent} of {len(probes)} frames sent")
    other = sum(1 for fs in cap.frames.values() for f in fs if rl.frame_index(f) is None)
    print(f"\n{label}: {len(dests)} destinations ({t_draw:.1f} s to draw), oracle "
          f"`ip route get fibmatch` {t_oracle:.1f} s; {len(probes)} frames sent and "
          f"captured in {secs:.1f} s ({len(probes) / secs:,.0f} frames/s, {stalls} stalls); "
          f"{other} other frames on the egress ports")
    print(f"{label}: {rep.summary()}")
    print(f"{label}: {len(rep.classes)} prefix length classes answered; {len(more)} "
          f"destinations added for classes the draw missed; shadowed (every address "
          f"tried fell under a more specific route): {shadowed}")
    print(f"{label}: dataplane drops over the run: {rep.drops}")
    shares = {n: {pos: c for pos, c in sorted(d.items())}
              for n, d in sorted(rep.ecmp_positions.items())}
    print(f"{label}: ECMP next hop chosen, by route width -> position -> frames: {shares}")
    return rep


def assert_report(rep, routes, rlab, stats=True):
    out = rlab.dp.output[-4000:] if rlab.dp is not None else ""
    assert not rep.failures(), rep.summary(examples=10) + "\n--- dataplane output tail\n" + out
    c = rep.counts
    assert c["forwarded"] == c["routed"], rep.summary()
    if stats:
        assert rep.drops == {"no_route": c["unrouted"]}, \
            f"drops over the run {rep.drops}, expected only no_route {c['unrouted']}"
        assert c["forwarded"] + rep.drops["no_route"] == c["sent"]
    # every prefix length the table has was the answer for some destination
    lengths = {(r.family, r.prefix.prefixlen) for r in routes} - set(rep.shadowed)
    missing = sorted(lengths - set(rep.classes))
    assert not missing, f"prefix length classes no destination fell under: {missing}"
    # ECMP: flows spread over more than one next hop position
    assert all(len(d) > 1 for d in rep.ecmp_positions.values()), rep.ecmp_positions
    # scapy recomputes the checksums of a sample of what left
    sample = [f for fs in rep.cap.frames.values() for f in fs if rl.frame_index(f) is not None]
    random.Random(1).shuffle(sample)
    bad = scapy_checksum_failures(sample, 4000)
    assert not bad, bad[:5]


def make_routes(rlab, rng):
    return (rl.random_table(rng, 4, N_ROUTES, rlab.gateways) +
            rl.random_table(rng, 6, N_ROUTES, rlab.gateways))


def install_kernel(rlab, routes, op="add"):
    t0 = time.monotonic()
    rlab.batch([r.ip_line(op) for r in routes])
    return time.monotonic() - t0


# --- the harness, with the kernel as the router ---------------------------------

def test_harness_agrees_with_the_kernel_routing_the_same_table():
    """The router namespace's kernel routes (forwarding on, the veth ends
    as its interfaces): it must agree with its own FIB on every frame, so
    generation, oracle parsing, pacing, capture and comparison are right."""
    rng = random.Random(SEED)
    with rl.RouteLab(PORTS, router="kernel") as rlab:
        rlab.pin_gateways()
        routes = (rl.random_table(rng, 4, 2000, rlab.gateways) +
                  rl.random_table(rng, 6, 2000, rlab.gateways))
        install_kernel(rlab, routes)
        rep = check_against_oracle(rlab, routes, rng, 5000, 300, stats=False,
                                   label="kernel router")
        assert_report(rep, routes, rlab, stats=False)


# --- Sluice ---------------------------------------------------------------------

class FibLab:
    """The router namespace with sluice-dataplane, N_ROUTES routes per
    family in the oracle table and in Sluice (static or mirrored)."""

    def __init__(self, variant, binary, workdir):
        self.variant = variant
        self.rng = random.Random(SEED + (0 if variant == "static" else 1))
        self.rlab = rl.RouteLab(PORTS).create()
        try:
            self._start(binary, workdir)
        except BaseException:
            self.close()
            raise

    def _start(self, binary, workdir):
        rlab = self.rlab
        self.routes = make_routes(rlab, self.rng)
        static = self.variant == "static"
        policy = rlab.policy(routes=self.routes if static else (),
                             kernel_table=0 if static else rl.ORACLE_TABLE, icmp_errors=0)
        t0 = time.monotonic()
        rlab.start_dataplane(binary, workdir, policy)
        t_start = time.monotonic() - t0
        self.neighbours = rlab.pin_gateways()
        t_install = install_kernel(rlab, self.routes)
        n = len(self.routes)
        counts, t_wait = rlab.wait_route_counts(
            static=n if static else 0, kernel=0 if static else n,
            neighbours=lambda x: x >= self.neighbours)
        print(f"\n{self.variant}: dataplane up with twins in {t_start:.1f} s; kernel table "
              f"({n} routes) installed in {t_install:.1f} s; dataplane shows {counts} "
              f"{t_wait:.1f} s later")
        self.counts = counts
        assert counts["not_mirrored"] == 0, counts

    def close(self):
        self.rlab.destroy()


@pytest.fixture(scope="class")
def fib_lab(request, sluice_dataplane, tmp_path_factory):
    fl = FibLab(request.cls.VARIANT, sluice_dataplane,
                str(tmp_path_factory.mktemp(f"route-{request.cls.VARIANT}")))
    yield fl
    rc = fl.rlab.dp.stop()
    out = fl.rlab.dp.output
    fl.close()
    assert rc == 0, f"sluice-dataplane exited with {rc}:\n{out[-4000:]}"


class TestStaticRoutes:
    """Variant A: the routes are the policy's static routes."""

    VARIANT = "static"

    def test_every_destination_leaves_by_the_kernel_fib_next_hop(self, fib_lab):
        rep = check_against_oracle(fib_lab.rlab, fib_lab.routes, fib_lab.rng, N_DESTS,
                                   N_UNROUTED, label="static routes")
        assert_report(rep, fib_lab.routes, fib_lab.rlab)


class TestKernelTable:
    """Variant B: the dataplane mirrors the kernel table."""

    VARIANT = "kernel"

    def test_every_destination_leaves_by_the_kernel_fib_next_hop(self, fib_lab):
        rep = check_against_oracle(fib_lab.rlab, fib_lab.routes, fib_lab.rng, N_DESTS,
                                   N_UNROUTED, label="kernel table")
        assert_report(rep, fib_lab.routes, fib_lab.rlab)

    def test_kernel_table_changes_reach_the_dataplane(self, fib_lab):
        """Delete, replace (new next hops) and add N_CHANGES routes per
        family while the dataplane runs; once its routes line shows the
        new counts, about 11,500 destinations (9,000 in changed prefixes)
        must again follow `ip route get`."""
        rlab, rng = fib_lab.rlab, random.Random(SEED + 2)
        routes = fib_lab.routes
        deleted, replaced, added = [], [], []
        for fam in (4, 6):
            mine = [r for r in routes if r.family == fam]
            picked = rng.sample(mine, 2 * N_CHANGES)
            deleted += picked[:N_CHANGES]
            for r in picked[N_CHANGES:]:
                while True:
                    nhs = rl.random_nexthops(rng, rlab.gateways, 0.15)
                    if {g for g, _ in nhs} != {g for g, _ in r.nexthops}:
                        break
                replaced.append(rl.Route(r.prefix, nhs))
            added += rl.random_table(rng, fam, N_CHANGES, rlab.gateways, existing=mine)
        total = len(routes)

        t_del = install_kernel(rlab, deleted, "del")
        c1, w1 = rlab.wait_route_counts(kernel=total - len(deleted))
        t_mod = install_kernel(rlab, replaced, "replace")
        t_add = install_kernel(rlab, added, "add")
        c2, w2 = rlab.wait_route_counts(kernel=total - len(deleted) + len(added))
        assert c2["not_mirrored"] == 0, c2
        print(f"\nchanges: {len(deleted)} deletes ({t_del:.2f} s in the kernel), the "
              f"dataplane showed {c1} {w1:.2f} s later; {len(replaced)} replaces "
              f"({t_mod:.2f} s) and {len(added)} adds ({t_add:.2f} s), it showed {c2} "
              f"{w2:.2f} s later")

        gone = {r.prefix for r in deleted}
        now = {r.prefix: r for r in routes if r.prefix not in gone}
        now.update({r.prefix: r for r in replaced})
        now.update({r.prefix: r for r in added})
        # destinations: 1,500 per family in each changed set, plus the table
        extra = []
        for group in (deleted, replaced, added):
            for fam in (4, 6):
                mine = [r for r in group if r.family == fam]
                for _ in range(1500):
                    extra.append(rl.random_address_in(rng, rng.choice(mine).prefix))
        rep = check_against_oracle(rlab, list(now.values()), rng, 1000, 500,
                                   extra_dests=extra, label="after the changes")
        assert rep.counts["sent"] - rep.counts["ecmp_flows"] >= 10000
        assert not rep.failures(), rep.summary(examples=10) + \
            "\n--- dataplane output tail\n" + rlab.dp.output[-4000:]
        assert rep.drops == {"no_route": rep.counts["unrouted"]}, rep.drops
