# SPDX-License-Identifier: BSD-3-Clause
"""Routing's exception path, neighbour resolution, ICMP errors and martians
(issue 4), with the neighbours' and the router namespace's kernels as the
oracles.

Two routed ports: in0 (10.1.0.1/24, 2001:db8::1/64) facing host "in"
(10.1.0.2, 2001:db8::2) and eg1 (10.1.1.1/24, 2001:db8:1::1/64) facing host
"out" (10.1.1.2 and .3, 2001:db8:1::2 and ::3; 198.51.100.9 and
2001:db8:dead::9 on its loopback).  Static routes: 198.51.100.0/24 via
10.1.1.3, 2001:db8:dead::/48 via 2001:db8:1::3, and 192.0.2.0/24 via
10.1.1.4, 2001:db8:f00::/48 via 2001:db8:1::4, gateways nobody answers for
(TestMartians: default routes via the out host instead).  No neighbour
entry is pinned anywhere: ARP and ND go through the twins.  Where the
kernel's behaviour is the reference (TTL before neighbour resolution,
quoting, which sources and destinations are martian), it is Linux's
(ip_forward, ip_route_input_slow, ip6_rcv_core).

ICMP errors are checked where the sender's kernel sees them: a UDP socket
with IP_RECVERR / IPV6_RECVERR gets an error only when the kernel accepted
the ICMP message (checksum) and matched its quoted header to the socket
(addresses, protocol, ports).  Drop counters come from the dataplane's
periodic stats (--stats-interval 1), read before and after each case.
"""
import errno
import ipaddress
import os
import time

import pytest

import routelab as rl

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns and DPDK")

PORTS = [("in0", 0), ("eg1", 0)]
ROUTED4, ROUTED6 = "198.51.100.9", "2001:db8:dead::9"      # the out host's loopback
GW4, GW6 = "10.1.1.3", "2001:db8:1::3"                     # the out host's 2nd addresses
UNROUTED4, UNROUTED6 = "203.0.113.9", "2001:db8:beef::9"
# routed via a gateway nobody answers for: the next hop never resolves
DEAD4, DEAD6 = "192.0.2.9", "2001:db8:f00::9"
DEAD_GW4, DEAD_GW6 = "10.1.1.4", "2001:db8:1::4"
RATE = 20                                                   # icmp_errors per second

STATIC_ROUTES = [
    {"prefix": "198.51.100.0/24", "nexthops": [{"gateway": GW4, "port": "eg1"}]},
    {"prefix": "2001:db8:dead::/48", "nexthops": [{"gateway": GW6, "port": "eg1"}]},
    {"prefix": "192.0.2.0/24", "nexthops": [{"gateway": DEAD_GW4, "port": "eg1"}]},
    {"prefix": "2001:db8:f00::/48", "nexthops": [{"gateway": DEAD_GW6, "port": "eg1"}]},
]
DEFAULT_ROUTES = [
    {"prefix": "0.0.0.0/0", "nexthops": [{"gateway": "10.1.1.2", "port": "eg1"}]},
    {"prefix": "::/0", "nexthops": [{"gateway": "2001:db8:1::2", "port": "eg1"}]},
]


def build_lab(binary, workdir, routes, icmp_errors):
    rlab = rl.RouteLab(PORTS, hosts_ip=True).create()
    try:
        out = rlab.ports[1]
        rlab.host_sh(out, "ip", "addr", "add", GW4 + "/24", "dev", "eth0")
        rlab.host_sh(out, "ip", "-6", "addr", "add", GW6 + "/64", "dev", "eth0", "nodad")
        rlab.host_sh(out, "ip", "addr", "add", ROUTED4 + "/32", "dev", "lo")
        rlab.host_sh(out, "ip", "-6", "addr", "add", ROUTED6 + "/128", "dev", "lo")
        rlab.start_dataplane(binary, workdir, rlab.policy(routes=routes,
                                                          icmp_errors=icmp_errors))
    except BaseException:
        rlab.destroy()
        raise
    return rlab


def stop_lab(rlab):
    rc = rlab.dp.stop()
    out = rlab.dp.output
    rlab.destroy()
    assert rc == 0, f"sluice-dataplane exited with {rc}:\n{out[-4000:]}"


def tail(rlab):
    return "\n--- dataplane output tail\n" + rlab.dp.output[-3000:]


def drops_delta(before, after):
    d = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
    return {k: v for k, v in d.items() if v}


def warm(rlab, family, via=None):
    """The in host and the dataplane know each other (ping of in0); with
    via, the next hop towards that address is resolved too (ping until it
    answers)."""
    inp = rlab.ports[0]
    seqs, out = rlab.ping(inp, inp.ip(family), count=1, wait=2)
    assert seqs, out + tail(rlab)
    if via is not None:
        resolve_path(rlab, via)


def resolve_path(rlab, dst, rounds=3):
    """Ping dst from the in host until the last echo of a round of 10 is
    answered: every neighbour on the way is resolved."""
    for _ in range(rounds):
        seqs, out = rlab.ping(rlab.ports[0], dst, count=10, interval=0.1, wait=1)
        if seqs and seqs[-1] == 10:
            return
    raise AssertionError(f"{dst} does not answer after {rounds} rounds:\n{out}" + tail(rlab))


@pytest.fixture(scope="class")
def xlab(request, sluice_dataplane, tmp_path_factory):
    routes, icmp = request.cls.ROUTES, request.cls.ICMP_ERRORS
    rlab = build_lab(sluice_dataplane, str(tmp_path_factory.mktemp("route-x")), routes, icmp)
    yield rlab
    stop_lab(rlab)


class TestExceptionPath:
    ROUTES = STATIC_ROUTES
    ICMP_ERRORS = RATE

    @pytest.mark.parametrize("family", [4, 6])
    def test_ping_of_the_ingress_port_address_is_answered_by_the_kernel_through_the_twin(
            self, xlab, family):
        inp = xlab.ports[0]
        key = "Icmp.InEchos" if family == 4 else "Icmp6InEchos"
        before = xlab.snmp()[key]
        seqs, out = xlab.ping(inp, inp.ip(family), count=3)
        assert seqs == [1, 2, 3], out + tail(xlab)
        # the router namespace's kernel took the echoes (through the twin) ...
        assert xlab.snmp()[key] - before == 3
        # ... and its ARP / ND answer left by the port: the in host resolved
        # the port address to the port's MAC
        n = xlab.neighbour(inp.ip(family), "eth0", ns=inp.ns)
        assert n is not None and n.get("lladdr") == inp.mac, n

    @pytest.mark.parametrize("family", [4, 6])
    def test_ping_of_the_other_port_address_is_answered_by_the_kernel(self, xlab, family):
        """An address of eg1, from the host on in0: it is the appliance's."""
        inp, eg = xlab.ports
        seqs, out = xlab.ping(inp, eg.ip(family), count=3)
        assert seqs == [1, 2, 3], out + tail(xlab)

    @pytest.mark.parametrize("family,dst,gw", [
        (4, "10.1.1.2", "10.1.1.2"), (6, "2001:db8:1::2", "2001:db8:1::2"),
        (4, ROUTED4, GW4), (6, ROUTED6, GW6)],
        ids=["on-link-4", "on-link-6", "gateway-4", "gateway-6"])
    def test_traffic_to_an_unresolved_neighbour_passes_once_the_kernel_resolved_it(
            self, xlab, family, dst, gw):
        """No neighbour entry for the next hop at first: the first echo
        requests may be dropped as no_neigh while the twin's kernel asks;
        from the first answer on, every one passes.  (The dataplane may
        have had the kernel resolve a gateway of a route before any
        traffic: such an entry is deleted first, which the dataplane must
        follow too.)"""
        inp, eg = xlab.ports
        warm(xlab, family)
        if xlab.neighbour(gw, eg.name) is not None:
            xlab.sh("ip", "neigh", "del", gw, "dev", eg.name)
        assert xlab.neighbour(gw, eg.name) is None
        d0 = xlab.periodic_drops()
        count = 20
        seqs, out = xlab.ping(inp, dst, count=count, interval=0.1, wait=1)
        d1 = xlab.periodic_drops()
        delta = drops_delta(d0, d1)
        print(f"\n{dst} via {gw}: answered {seqs}; drops {delta}")
        assert seqs, out + tail(xlab)
        assert seqs == list(range(seqs[0], count + 1)), \
            f"echoes lost after the first answer: {seqs}" + tail(xlab)
        assert seqs[0] <= 5, f"the first answer only to echo {seqs[0]}"
        lost = count - len(seqs)
        assert delta.get("no_neigh", 0) == lost, \
            f"{lost} echoes lost, drops {delta}" + tail(xlab)
        assert set(delta) <= {"no_neigh"}, delta
        n = xlab.neighbour(gw, eg.name)
        assert n is not None and n.get("lladdr") == eg.host_mac, \
            f"the twin's kernel has {n} for {gw}"

    @pytest.mark.parametrize("family", [4, 6])
    def test_ttl_1_gets_time_exceeded_from_the_ingress_port_quoting_the_packet(
            self, xlab, family):
        inp = xlab.ports[0]
        dst = ROUTED4 if family == 4 else ROUTED6
        warm(xlab, family, via=dst)
        cap = rl.Capture([inp])
        d0 = xlab.periodic_drops()
        try:
            errors, sent, sport, _ = rl.udp_probe(inp.ns, family, dst, hops=1, count=3,
                                                  gap=0.1)
            cap.drain(wait=0.2)
        finally:
            cap.close()
        d1 = xlab.periodic_drops()
        want = (11, 0) if family == 4 else (3, 0)
        origin = rl.SO_EE_ORIGIN_ICMP if family == 4 else rl.SO_EE_ORIGIN_ICMP6
        assert len(errors) == sent == 3, f"{errors} for {sent} probes" + tail(xlab)
        for e in errors:
            assert (e.origin, e.type, e.code) == (origin,) + want, e
            assert e.offender == inp.ip(family), e
            assert e.errno == errno.EHOSTUNREACH, e
        assert drops_delta(d0, d1) == {"ttl_expired": 3}, drops_delta(d0, d1)
        # the messages themselves, as they arrived at the in host
        msgs = icmp_errors_in(cap.frames[inp.name], family)
        assert len(msgs) == 3, msgs
        for src_mac, src, t, c, q in msgs:
            assert src_mac == inp.mac and src == inp.ip(family) and (t, c) == want
            assert (q["src"], q["dst"], q["proto"], q["sport"], q["dport"]) == \
                (inp.host_ip(family), dst, 17, sport, 33434), q
        print(f"\nquoted TTL / hop limit: {sorted({q['ttl'] for *_, q in msgs})}")

    @pytest.mark.parametrize("family", [4, 6])
    def test_ttl_1_to_an_unresolved_next_hop_still_gets_time_exceeded(self, xlab, family):
        """The packet can never leave, so the TTL decides (as in the
        kernel: ip_forward checks the TTL before the neighbour): time
        exceeded, counted as ttl_expired, not no_neigh."""
        inp = xlab.ports[0]
        warm(xlab, family)
        dst = DEAD4 if family == 4 else DEAD6
        d0 = xlab.periodic_drops()
        errors, sent, _, _ = rl.udp_probe(inp.ns, family, dst, hops=1, count=3, gap=0.1)
        d1 = xlab.periodic_drops()
        want = (11, 0) if family == 4 else (3, 0)
        assert [(e.type, e.code) for e in errors] == [want] * sent, \
            f"{errors} for {sent} probes; drops {drops_delta(d0, d1)}" + tail(xlab)
        assert drops_delta(d0, d1) == {"ttl_expired": 3}, drops_delta(d0, d1)

    @pytest.mark.parametrize("family", [4, 6])
    def test_no_route_gets_destination_unreachable(self, xlab, family):
        inp = xlab.ports[0]
        warm(xlab, family)
        dst = UNROUTED4 if family == 4 else UNROUTED6
        d0 = xlab.periodic_drops()
        errors, sent, sport, _ = rl.udp_probe(inp.ns, family, dst, count=3, gap=0.1)
        d1 = xlab.periodic_drops()
        want = (3, 0) if family == 4 else (1, 0)
        assert len(errors) == sent == 3, f"{errors} for {sent} probes" + tail(xlab)
        for e in errors:
            assert (e.type, e.code) == want, e
            assert e.offender == inp.ip(family), e
            assert e.errno == errno.ENETUNREACH, e
        assert drops_delta(d0, d1) == {"no_route": 3}, drops_delta(d0, d1)

    @pytest.mark.parametrize("family", [4, 6])
    def test_icmp_errors_are_rate_limited_but_every_drop_counted(self, xlab, family):
        """200 TTL-expired probes spread over about a second: about RATE
        errors come back (at least half the rate, at most the rate plus a
        burst of RATE), and all 200 drops are counted."""
        inp = xlab.ports[0]
        dst = ROUTED4 if family == 4 else ROUTED6
        warm(xlab, family, via=dst)
        time.sleep(1.1)
        d0 = xlab.periodic_drops()
        errors, sent, _, secs = rl.udp_probe(inp.ns, family, dst, hops=1, count=200,
                                             gap=0.005, wait=1.0)
        d1 = xlab.periodic_drops()
        lo, hi = 0.5 * RATE * secs, RATE * secs + RATE
        print(f"\n{sent} probes in {secs:.2f} s: {len(errors)} ICMP errors back "
              f"(limit {RATE}/s)")
        assert sent == 200
        assert lo <= len(errors) <= hi, \
            f"{len(errors)} errors in {secs:.2f} s, limit {RATE}/s" + tail(xlab)
        assert drops_delta(d0, d1) == {"ttl_expired": sent}, drops_delta(d0, d1)


def dst_mac(dst, unicast):
    """The destination MAC a host uses for dst: the multicast mapping
    (RFC 1112, RFC 2464) for a multicast address, else `unicast`."""
    a = ipaddress.ip_address(dst)
    if not a.is_multicast:
        return unicast
    if a.version == 4:
        b = a.packed
        return "01:00:5e:%02x:%02x:%02x" % (b[1] & 0x7F, b[2], b[3])
    return "33:33:" + ":".join(f"{x:02x}" for x in a.packed[12:])


def icmp_errors_in(frames, family):
    """ICMP(v6) errors in captured frames: [(src MAC, src, type, code,
    quoted {src, dst, proto, ttl, sport, dport})]."""
    from scapy.all import ICMP, IP, Ether, IPerror, IPerror6, IPv6, UDPerror
    from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6TimeExceeded

    out = []
    for f in frames:
        p = Ether(f)
        if family == 4 and ICMP in p and IPerror in p:
            q = p[IPerror]
            u = p[UDPerror] if UDPerror in p else None
            out.append((p.src, p[IP].src, p[ICMP].type, p[ICMP].code,
                        {"src": q.src, "dst": q.dst, "proto": q.proto, "ttl": q.ttl,
                         "sport": u.sport if u else None, "dport": u.dport if u else None}))
        elif family == 6 and IPerror6 in p and \
                (ICMPv6TimeExceeded in p or ICMPv6DestUnreach in p):
            icmp = p[ICMPv6TimeExceeded] if ICMPv6TimeExceeded in p else p[ICMPv6DestUnreach]
            q = p[IPerror6]
            u = p[UDPerror] if UDPerror in p else None
            out.append((p.src, p[IPv6].src, icmp.type, icmp.code,
                        {"src": q.src, "dst": q.dst, "proto": q.nh, "ttl": q.hlim,
                         "sport": u.sport if u else None, "dport": u.dport if u else None}))
    return out


class TestIcmpErrorsOff:
    ROUTES = STATIC_ROUTES
    ICMP_ERRORS = 0

    @pytest.mark.parametrize("family", [4, 6])
    def test_no_icmp_errors_when_off_but_every_drop_counted(self, xlab, family):
        inp = xlab.ports[0]
        warm(xlab, family, via=ROUTED4 if family == 4 else ROUTED6)
        cap = rl.Capture([inp])
        d0 = xlab.periodic_drops()
        try:
            e1, n1, _, _ = rl.udp_probe(inp.ns, family,
                                        ROUTED4 if family == 4 else ROUTED6,
                                        hops=1, count=5, gap=0.05, wait=0)
            e2, n2, _, _ = rl.udp_probe(inp.ns, family,
                                        UNROUTED4 if family == 4 else UNROUTED6,
                                        count=5, gap=0.05, wait=1.0)
            cap.drain(wait=0.2)
        finally:
            cap.close()
        d1 = xlab.periodic_drops()
        assert (n1, n2) == (5, 5)
        assert e1 == [] and e2 == [], e1 + e2
        assert icmp_errors_in(cap.frames[inp.name], family) == []
        assert drops_delta(d0, d1) == {"ttl_expired": 5, "no_route": 5}, drops_delta(d0, d1)


# (name, family, source or None for the in host, destination)
MARTIANS = [
    ("dst-loopback-4", 4, None, "127.0.0.1"),
    ("dst-zeronet-4", 4, None, "0.1.2.3"),
    ("src-loopback-4", 4, "127.0.0.1", "10.1.1.2"),
    ("src-multicast-4", 4, "224.0.0.5", "10.1.1.2"),
    ("src-broadcast-4", 4, "255.255.255.255", "10.1.1.2"),
    ("src-zero-4", 4, "0.0.0.0", "10.1.1.2"),
    ("dst-loopback-6", 6, None, "::1"),
    ("dst-unspecified-6", 6, None, "::"),
    ("src-loopback-6", 6, "::1", "2001:db8:1::2"),
    ("src-multicast-6", 6, "ff0e::1", "2001:db8:1::2"),
]


class TestMartians:
    """Default routes via the out host cover every destination, so nothing
    but the martian check keeps these from being forwarded."""

    ROUTES = DEFAULT_ROUTES
    ICMP_ERRORS = RATE

    @pytest.fixture(scope="class")
    def warm_lab(self, xlab):
        eg = xlab.ports[1]
        for fam in (4, 6):
            warm(xlab, fam, via=eg.host_ip(fam))
        return xlab

    def _send(self, rlab, family, src, dst, n=3):
        """n tagged UDP frames from the in host; [frames seen at the out
        host], [ICMP errors seen at the in host], drops over the run."""
        inp, eg = rlab.ports
        cap = rl.Capture([inp, eg])
        sock = rl.packet_socket(inp.ns)
        d0 = rlab.periodic_drops()
        try:
            for i in range(n):
                pkt = rl.udp_packet(src or inp.host_ip(family), dst, 64, 40000 + i, 9,
                                    rl.tag_payload(i))
                sock.send(rl.ether(dst_mac(dst, inp.mac), inp.host_mac, pkt))
                time.sleep(0.02)
            time.sleep(0.3)
            cap.drain(wait=0.2)
        finally:
            sock.close()
            cap.close()
        d1 = rlab.periodic_drops()
        fwd = [f for f in cap.frames[eg.name] if rl.frame_index(f) is not None]
        return fwd, icmp_errors_in(cap.frames[inp.name], family), drops_delta(d0, d1)

    @pytest.mark.parametrize("name,family,src,dst", MARTIANS, ids=[m[0] for m in MARTIANS])
    def test_martian_is_counted_and_not_forwarded(self, warm_lab, name, family, src, dst):
        fwd, icmp, drops = self._send(warm_lab, family, src, dst)
        assert not fwd, f"{len(fwd)} of 3 forwarded to the out host" + tail(warm_lab)
        assert not icmp, f"ICMP errors about martians: {icmp}"
        assert drops == {"martian": 3}, drops

    @pytest.mark.parametrize("family,dst", [(4, "224.0.0.1"), (6, "ff02::1"),
                                            (6, "fe80::1:2")],
                             ids=["ll-multicast-4", "ll-multicast-6", "link-local-6"])
    def test_link_local_destination_is_not_routed(self, warm_lab, family, dst):
        """Link-local multicast goes to the twin, link-local unicast never
        leaves its link: neither may come out of eg1."""
        fwd, _, drops = self._send(warm_lab, family, None, dst)
        print(f"\n{dst}: drops {drops}")
        assert not fwd, f"{len(fwd)} of 3 forwarded to the out host; drops {drops}"
