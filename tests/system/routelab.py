# SPDX-License-Identifier: BSD-3-Clause
"""Routing lab: a router namespace, one neighbour namespace per routed port,
random route tables, the kernel FIB as the oracle, and frame capture.

    netns h1 (in)        netns h0 (the router)                netns h2..hN
    eth0 ---veth--- vin0 [port in0]  sluice-dataplane  [port eg1] veg1 ---veth--- eth0
                         twin in0 (TAP)               twin eg1 (TAP)

The router namespace holds sluice-dataplane (run there with `ip netns exec`),
the veth ends that are its af_packet ports (v<port>), and the kernel TAP
twins the dataplane creates (named like the ports, with their MACs and
addresses).  The kernel of that namespace is the oracle: the same routes
go into its table ORACLE_TABLE, an `ip rule` there makes `ip route get`
consult it, and a last rule sends every address no route covers to table
MISS_TABLE (`default dev lo`), so `ip route get fibmatch ADDR` answers every
address with exactly one route: the matched prefix and all its next hops.

The veth ends in the router namespace belong to the dataplane alone: IPv6
and ARP are off on them and an ingress tc filter drops every frame after
the packet taps (the dataplane's af_packet sockets) have seen it, so the
router namespace's own kernel never answers a frame that arrives there; it
talks to the neighbours only through the twins, as in production.

RouteLab(router="kernel") builds the same topology with the kernel itself
as the router (the veth ends take the ports' names and addresses, IP
forwarding on): a reference that checks this harness without Sluice.

Names come from lab.unique_tag(), so lab.cleanup_stale() removes what a
killed run leaves behind (the router namespace is h0; deleting it deletes
the veths and twins in it).  Run with the Debian python, /usr/bin/python3.
"""
import ipaddress
import json
import os
import re
import select
import socket
import struct
import subprocess
import time

import lab

ORACLE_TABLE = 4242          # the kernel table holding the test's routes
MISS_TABLE = 4243            # default dev lo: "no route" as an answer
ORACLE_RULE_PREF = 100       # before main (32766): the test's routes win
MISS_RULE_PREF = 40000       # after main and default

TAG = b"SLrt"                # marks every test frame; then a 32-bit index
ETH_P_ALL = 3
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33

# Spaces no random route may overlap: the ports' subnets (10/8,
# 2001:db8::/32: the router namespace's own connected routes must win in its
# kernel too), and what is never routed (martians, link-local, multicast).
EXCLUDED4 = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")]
EXCLUDED6 = [ipaddress.ip_network(n) for n in (
    "::/8", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8")]


# --- addressing ---------------------------------------------------------------

def _v6(text):
    """An IPv6 address as iproute2 and ipaddress write it."""
    return str(ipaddress.IPv6Address(text))


class Gateway:
    """A next-hop router on a port: IPv4 and IPv6 address, one MAC.

    Nothing answers for it: its neighbour entries are pinned in the router
    namespace, and the frames Sluice sends it are captured in the port's
    neighbour namespace, where the destination MAC names it.
    """

    def __init__(self, port, k):
        self.port = port
        self.k = k
        self.ip4 = f"10.1.{port.index}.{16 + k}"
        self.ip6 = _v6(f"2001:db8:{port.index:x}::{16 + k:x}")
        self.mac = f"02:6a:00:00:{port.index:02x}:{k:02x}"

    def ip(self, family):
        return self.ip4 if family == 4 else self.ip6

    def __repr__(self):
        return f"gw {self.ip4}/{self.ip6} ({self.mac}) on {self.port.name}"


class Port:
    """A routed port: index i, name, MAC 02:5e:00:00:i:01, 10.1.i.1/24 and
    2001:db8:i::1/64; its neighbour has .2/::2 and MAC 02:5e:00:00:i:02."""

    def __init__(self, index, name, gateways=0):
        self.index = index
        self.name = name
        self.mac = f"02:5e:00:00:{index:02x}:01"
        self.ip4 = f"10.1.{index}.1"
        self.ip6 = _v6(f"2001:db8:{index:x}::1")
        self.addr4 = self.ip4 + "/24"
        self.addr6 = self.ip6 + "/64"
        self.host_ip4 = f"10.1.{index}.2"
        self.host_ip6 = _v6(f"2001:db8:{index:x}::2")
        self.host_mac = f"02:5e:00:00:{index:02x}:02"
        self.gateways = [Gateway(self, k) for k in range(gateways)]
        self.veth = None          # the end in the router namespace (set by RouteLab)
        self.ns = None            # the neighbour namespace

    def ip(self, family):
        return self.ip4 if family == 4 else self.ip6

    def host_ip(self, family):
        return self.host_ip4 if family == 4 else self.host_ip6

    def __repr__(self):
        return f"Port({self.name}, {self.addr4}, {self.addr6})"


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


# --- namespaces ---------------------------------------------------------------

def socket_in(ns, family=socket.AF_PACKET, type=socket.SOCK_RAW, proto=0):
    """A socket created inside network namespace ns (setns on this thread
    only, then back), usable from here."""
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        lab._setns(there)
        try:
            return socket.socket(family, type, proto)
        finally:
            lab._setns(here)
    finally:
        os.close(here)
        os.close(there)


def packet_socket(ns, ifname="eth0", rcvbuf=64 << 20):
    s = socket_in(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
    s.bind((ifname, 0))
    return s


class RouteLab:
    """The router namespace, its ports and their neighbour namespaces.

    ports      [(name, gateway count)]: port 0 is the ingress one by
               convention (no gateways), the others egress
    router     "sluice" (the dataplane routes; see start_dataplane()) or
               "kernel" (the router namespace's kernel routes: a reference)
    hosts_ip   give the neighbours their addresses (.2, ::2, IPv6 on) and
               default routes via the port; without, they are silent sinks
    """

    def __init__(self, ports, router="sluice", hosts_ip=False):
        assert router in ("sluice", "kernel")
        self.tag = lab.unique_tag()
        self.router = router
        self.hosts_ip = hosts_ip
        self.ns = lab._tag_netns(self.tag, "h0")
        self.ports = [Port(i, name, gws) for i, (name, gws) in enumerate(ports)]
        for p in self.ports:
            p.veth = p.name if router == "kernel" else "v" + p.name
            p.ns = lab._tag_netns(self.tag, f"h{p.index + 1}")
            assert len(p.veth) <= 15 and len(p.name) <= 15
        self.by_name = {p.name: p for p in self.ports}
        self.gateways = [g for p in self.ports for g in p.gateways]
        self.gw_by_mac = {mac_bytes(g.mac): g for g in self.gateways}
        self.dp = None

    # Commands ------------------------------------------------------------

    def sh(self, *cmd, check=True):
        """A command in the router namespace; its stdout."""
        return lab.sh(*cmd, ns=self.ns, check=check, quiet=True)

    def batch(self, lines, check=True, json_out=False):
        """`ip -batch -` in the router namespace; stdout."""
        argv = ["ip", "-n", self.ns] + (["-j"] if json_out else []) + ["-batch", "-"]
        r = subprocess.run(argv, input="".join(l + "\n" for l in lines),
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr[-2000:]}")
        return r.stdout

    # Building and tearing down -------------------------------------------

    def create(self):
        try:
            self._create()
        except BaseException:
            self.destroy()
            raise
        return self

    def _create(self):
        sh = lab.sh
        sh("ip", "netns", "add", self.ns)
        self.sh("ip", "link", "set", "lo", "up")
        # The twins come up with IPv6 (ND through the exception path) but
        # ask for no router advertisements.
        self.sh("sysctl", "-qw", "net.ipv6.conf.default.accept_ra=0",
                "net.ipv6.conf.all.accept_ra=0",
                "net.ipv6.conf.default.router_solicitations=0")
        for p in self.ports:
            sh("ip", "netns", "add", p.ns)
            sh("ip", "-n", p.ns, "link", "set", "lo", "up")
            if not self.hosts_ip:
                sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                   "net.ipv6.conf.default.disable_ipv6=1", ns=p.ns, quiet=True)
            else:
                sh("sysctl", "-qw", "net.ipv6.conf.default.accept_ra=0",
                   "net.ipv6.conf.all.accept_ra=0",
                   "net.ipv6.conf.default.router_solicitations=0",
                   "net.ipv6.conf.default.accept_dad=0", ns=p.ns, quiet=True)
            sh("ip", "-n", self.ns, "link", "add", p.veth, "type", "veth",
               "peer", "name", "eth0", "netns", p.ns)
            self.sh("ip", "link", "set", p.veth, "address", p.mac)
            sh("ip", "-n", p.ns, "link", "set", "eth0", "address", p.host_mac)
            self.sh("ethtool", "-K", p.veth, *lab.OFFLOADS_OFF)
            sh("ethtool", "-K", "eth0", *lab.OFFLOADS_OFF, ns=p.ns, quiet=True)
            if self.router == "sluice":
                # The dataplane's alone: see the module docstring.
                self.sh("sysctl", "-qw", f"net.ipv6.conf.{p.veth}.disable_ipv6=1")
                self.sh("ip", "link", "set", p.veth, "arp", "off")
                self.sh("tc", "qdisc", "add", "dev", p.veth, "clsact")
                # classic BPF "ret #2" in direct-action mode: TC_ACT_SHOT
                self.sh("tc", "filter", "add", "dev", p.veth, "ingress", "bpf", "da",
                        "bytecode", "1,6 0 0 2")
            else:
                self.sh("ip", "addr", "add", p.addr4, "dev", p.veth)
                self.sh("ip", "-6", "addr", "add", p.addr6, "dev", p.veth, "nodad")
            self.sh("ip", "link", "set", p.veth, "up")
            sh("ip", "-n", p.ns, "link", "set", "eth0", "up")
            if self.hosts_ip:
                sh("ip", "-n", p.ns, "addr", "add", p.host_ip4 + "/24", "dev", "eth0")
                sh("ip", "-n", p.ns, "-6", "addr", "add", p.host_ip6 + "/64",
                   "dev", "eth0", "nodad")
                sh("ip", "-n", p.ns, "route", "add", "default", "via", p.ip4)
                sh("ip", "-n", p.ns, "-6", "route", "add", "default", "via", p.ip6)
        if self.router == "kernel":
            self.sh("sysctl", "-qw", "net.ipv4.ip_forward=1",
                    "net.ipv6.conf.all.forwarding=1",
                    "net.ipv4.conf.all.send_redirects=0")
        # The oracle: table ORACLE_TABLE before main; misses end in MISS_TABLE.
        for fam in ("-4", "-6"):
            self.sh("ip", fam, "rule", "add", "pref", ORACLE_RULE_PREF,
                    "lookup", ORACLE_TABLE)
            self.sh("ip", fam, "route", "add", "default", "dev", "lo",
                    "table", MISS_TABLE)
            # iif lo: lookups of the namespace's own (`ip route get`), not
            # forwarded packets (the kernel reference router must not
            # forward a miss to lo)
            self.sh("ip", fam, "rule", "add", "pref", MISS_RULE_PREF, "iif", "lo",
                    "lookup", MISS_TABLE)

    def destroy(self):
        """Stop the dataplane if running; delete every namespace (and so
        every veth and twin); quiet if already gone."""
        if self.dp is not None and self.dp.running():
            self.dp.stop()
        have = set(lab.list_netns())
        for ns in [self.ns] + [p.ns for p in self.ports]:
            if ns in have:
                lab.sh("ip", "netns", "del", ns, check=False)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()

    # The dataplane --------------------------------------------------------

    def policy(self, routes=(), kernel_table=0, icmp_errors=None, framecnt=4096,
               max_routes=None):
        """The policy (a dict): every port routed with its addresses and an
        af_packet devargs on its veth, accept everything, routes static."""
        routing = {}
        if kernel_table:
            routing["kernel_table"] = kernel_table
        if icmp_errors is not None:
            routing["icmp_errors"] = icmp_errors
        if max_routes:
            routing["max_routes_ipv4"], routing["max_routes_ipv6"] = max_routes
        doc = {"version": 1,
               "ports": [{"name": p.name, "mode": "route",
                          "devargs": f"net_af_packet{p.index},iface={p.veth},"
                                     f"framecnt={framecnt}",
                          "addresses": [p.addr4, p.addr6]} for p in self.ports],
               "default": "accept"}
        if routing:
            doc["settings"] = {"routing": routing}
        if routes:
            doc["routes"] = [r.policy() if isinstance(r, Route) else r for r in routes]
        return doc

    # The neighbours ---------------------------------------------------------

    def host_sh(self, port, *cmd, check=True):
        """A command in a port's neighbour namespace; its stdout."""
        return lab.sh(*cmd, ns=port.ns, check=check, quiet=True)

    def ping(self, port, dst, count=3, interval=0.2, wait=2):
        """ping from a port's neighbour; ([icmp_seq answered], output)."""
        argv = ["ip", "netns", "exec", port.ns, "ping", "-n", "-c", str(count),
                "-i", str(interval), "-W", str(wait), str(dst)]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        out = r.stdout + r.stderr
        seqs = sorted({int(m.group(1)) for m in
                       re.finditer(r"bytes from .*icmp_seq=(\d+)", r.stdout)})
        return seqs, out

    def neighbour(self, ip, dev, ns=None):
        """The kernel's neighbour entry for ip on dev (router namespace
        unless ns), as `ip -j neigh` gives it, or None."""
        out = lab.sh("ip", "-j", "neigh", "show", str(ip), "dev", dev,
                     ns=ns or self.ns, quiet=True)
        entries = json.loads(out or "[]")
        return entries[0] if entries else None

    def snmp(self, ns=None):
        """/proc/net/snmp and snmp6 of a namespace (router unless ns), flat:
        {'Icmp.InEchos': n, 'Icmp6InEchos': n, ...}."""
        out = {}
        lines = lab.sh("cat", "/proc/net/snmp", ns=ns or self.ns, quiet=True).splitlines()
        for head, vals in zip(lines[::2], lines[1::2]):
            proto, names = head.split(":", 1)
            for k, v in zip(names.split(), vals.split(":", 1)[1].split()):
                out[f"{proto}.{k}"] = int(v)
        for line in lab.sh("cat", "/proc/net/snmp6", ns=ns or self.ns, quiet=True).splitlines():
            k, v = line.split()
            out[k] = int(v)
        return out

    def start_dataplane(self, binary, workdir, policy, stats_interval=1, mem_mb=1024,
                        timeout=60):
        """Write the policy, start sluice-dataplane in the router namespace,
        wait for every port and twin to start and the twins to be up with
        their addresses (IPv6 ones past DAD)."""
        assert self.router == "sluice"
        path = os.path.join(workdir, f"{self.tag}-policy.json")
        with open(path, "w") as f:
            json.dump(policy, f)
        prefix = "sl-" + self.tag
        self.dp = lab.Dataplane([], ["--policy", path, "--stats-interval", str(stats_interval)],
                                workdir=workdir, prefix=prefix, binary=binary,
                                eal=lab.eal_args(prefix, mem_mb=mem_mb), netns=self.ns)
        self.dp.start()
        self.dp.wait_ready(timeout=timeout, ports=2 * len(self.ports))
        self.wait_twins(timeout=timeout)
        return self.dp

    def wait_twins(self, timeout=30):
        """Each twin exists, is up, has the port's MAC and both addresses,
        none tentative."""
        deadline = time.monotonic() + timeout
        missing = None
        while time.monotonic() < deadline:
            if self.dp is not None and not self.dp.running():
                raise RuntimeError(f"sluice-dataplane exited with {self.dp.proc.returncode}:"
                                   f"\n{self.dp.output}")
            links = {l["ifname"]: l for l in json.loads(self.sh("ip", "-j", "addr", "show"))}
            missing = []
            for p in self.ports:
                l = links.get(p.name)
                if l is None:
                    missing.append(f"{p.name}: no such interface")
                    continue
                addrs = {(a["local"], a["prefixlen"]): a for a in l.get("addr_info", [])}
                if l.get("address") != p.mac:
                    missing.append(f"{p.name}: MAC {l.get('address')}, not {p.mac}")
                if "UP" not in l.get("flags", []):
                    missing.append(f"{p.name}: not up")
                for ip, plen in ((p.ip4, 24), (p.ip6, 64)):
                    a = addrs.get((ip, plen))
                    if a is None:
                        missing.append(f"{p.name}: no {ip}/{plen}")
                    elif a.get("tentative"):
                        missing.append(f"{p.name}: {ip} tentative")
            if not missing:
                return
            time.sleep(0.1)
        raise TimeoutError(f"twins not ready after {timeout} s: {missing}")

    def pin_gateways(self):
        """Permanent neighbour entries for every gateway, on the twins."""
        lines = []
        for g in self.gateways:
            for fam in (4, 6):
                lines.append(f"neigh replace {g.ip(fam)} lladdr {g.mac} "
                             f"dev {g.port.name} nud permanent")
        self.batch(lines)
        return len(lines)

    # The dataplane's periodic stats -----------------------------------------

    # printed after the counters; whole lines only (a print may be half
    # written when the log is read)
    ROUTES_RE = re.compile(r"^routes: ipv4 (\d+) ipv6 (\d+) \(static (\d+), kernel (\d+)\), "
                           r"neighbours (\d+)(?:, kernel routes not mirrored (\d+))?[^\n]*\n",
                           re.M)

    def route_counts(self):
        """The last `routes:` line the dataplane printed, as a dict, or None."""
        m = None
        for m in self.ROUTES_RE.finditer(self.dp.output):
            pass
        if m is None:
            return None
        return dict(zip(("ipv4", "ipv6", "static", "kernel", "neighbours", "not_mirrored"),
                        (int(g or 0) for g in m.groups())))

    def wait_route_counts(self, timeout=60, **want):
        """Wait until the `routes:` line shows want (keys of route_counts();
        a value may be a callable predicate).  Returns (counts, seconds)."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.dp.running():
                raise RuntimeError(f"sluice-dataplane exited with {self.dp.proc.returncode}:"
                                   f"\n{self.dp.output[-5000:]}")
            last = self.route_counts()
            if last is not None and all(
                    (v(last[k]) if callable(v) else last[k] == v) for k, v in want.items()):
                return last, time.monotonic() - t0
            time.sleep(0.1)
        raise TimeoutError(f"routes line still {last} after {timeout} s, want {want}; "
                           f"output tail:\n{self.dp.output[-3000:]}")

    DROPS_HEAD = "drop reasons:"

    def periodic_drops(self, timeout=10):
        """The drop counters of the dataplane's periodic stats, by name,
        from the first print written after this call (so they include
        everything the dataplane had done before it).  A print is complete
        once the routes line that follows its counters is there."""
        n0 = len(self.dp.output)
        deadline = time.monotonic() + timeout
        while True:
            out = self.dp.output
            i = out.find(self.DROPS_HEAD, n0)
            if i >= 0 and self.ROUTES_RE.search(out, i):
                break
            if time.monotonic() > deadline or not self.dp.running():
                raise TimeoutError(f"no stats print in {timeout} s (is --stats-interval "
                                   f"set?):\n{out[-3000:]}")
            time.sleep(0.05)
        drops = {}
        for line in out[i + len(self.DROPS_HEAD):].splitlines()[1:]:
            m = re.match(r"^\s+([a-z0-9_]+)\s+(\d+)\s", line)
            if not m:
                break
            drops[m.group(1)] = int(m.group(2))
        return drops


# --- route tables -------------------------------------------------------------

class Route:
    """prefix (ip_network) and nexthops [(Gateway, weight)]."""

    def __init__(self, prefix, nexthops):
        self.prefix = prefix
        self.nexthops = nexthops

    @property
    def family(self):
        return self.prefix.version

    def ip_nexthops(self):
        fam = self.family
        if len(self.nexthops) == 1:
            g, _ = self.nexthops[0]
            return f"via {g.ip(fam)} dev {g.port.name}"
        return " ".join(f"nexthop via {g.ip(fam)} dev {g.port.name} weight {w}"
                        for g, w in self.nexthops)

    def ip_line(self, op="add", table=ORACLE_TABLE):
        """An `ip -batch` line (table before the prefix: multipath wants it)."""
        if op == "del":
            return f"route del table {table} {self.prefix}"
        return f"route {op} table {table} {self.prefix} {self.ip_nexthops()}"

    def policy(self):
        fam = self.family
        return {"prefix": str(self.prefix),
                "nexthops": [{"gateway": g.ip(fam), "port": g.port.name, "weight": w}
                             for g, w in self.nexthops]}

    def __repr__(self):
        return f"{self.prefix} {self.ip_nexthops()}"


def _overlaps_excluded(net):
    ex = EXCLUDED4 if net.version == 4 else EXCLUDED6
    return any(net.overlaps(e) for e in ex)


def _random_subnet(rng, base, plen):
    bits = base.max_prefixlen
    host = rng.getrandbits(plen - base.prefixlen) if plen > base.prefixlen else 0
    addr = int(base.network_address) | (host << (bits - plen))
    return ipaddress.ip_network((addr, plen))


def random_address_in(rng, prefix):
    return _random_subnet(rng, prefix, prefix.max_prefixlen).network_address


def random_nexthops(rng, gateways, ecmp_share):
    if rng.random() < ecmp_share:
        n = rng.randint(2, min(4, len(gateways)))
        return [(g, rng.randint(1, 4)) for g in rng.sample(gateways, n)]
    return [(rng.choice(gateways), 1)]


def random_table(rng, family, n, gateways, ecmp_share=0.15, nested_share=0.55,
                 existing=()):
    """n distinct random routes of one family, overlapping on purpose.

    A share of the prefixes is nested in an earlier one (1-12 bits longer),
    the rest drawn anew, with a length drawn over every length the allowed
    space offers (v4 2-32, v6 2-128, weighted towards the usual ones).  No
    prefix overlaps EXCLUDED4/6.  Next hops: one gateway, or with
    probability ecmp_share 2-4 of them with weights 1-4.
    """
    bits = 32 if family == 4 else 128
    top = ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    usual = list(range(8, 25)) if family == 4 else list(range(16, 65))
    taken = {r.prefix for r in existing}
    routes = []
    tries = 0
    while len(routes) < n:
        tries += 1
        if tries > 200 * n:
            raise RuntimeError(f"cannot draw {n} IPv{family} routes")
        if routes and rng.random() < nested_share:
            parent = rng.choice(routes).prefix
            if parent.prefixlen >= bits:
                continue
            plen = rng.randint(parent.prefixlen + 1, min(bits, parent.prefixlen + 12))
            net = _random_subnet(rng, parent, plen)
        else:
            plen = rng.choice(usual) if rng.random() < 0.6 else rng.randint(2, bits)
            net = _random_subnet(rng, top, plen)
        if net in taken or _overlaps_excluded(net):
            continue
        taken.add(net)
        routes.append(Route(net, random_nexthops(rng, gateways, ecmp_share)))
    return routes


def random_unicast(rng, family):
    """A random address outside EXCLUDED4/6."""
    bits = 32 if family == 4 else 128
    while True:
        a = ipaddress.ip_address(rng.getrandbits(bits)) if family == 4 else \
            ipaddress.IPv6Address(rng.getrandbits(bits))
        net = ipaddress.ip_network((int(a), bits))
        if not _overlaps_excluded(net):
            return a


def random_destinations(rng, routes, n, family, outside_share=0.05):
    """n distinct addresses: half inside a route of a prefix length drawn
    uniformly over the lengths the table has (so every length class gets
    destinations, short ones too), most of the rest inside a route drawn
    uniformly, outside_share anywhere.  A more specific route may of course
    cover the address: the oracle says which route it falls under."""
    by_len = {}
    for r in routes:
        by_len.setdefault(r.prefix.prefixlen, []).append(r)
    lens = sorted(by_len)
    out = set()
    while len(out) < n:
        x = rng.random()
        if x < outside_share or not routes:
            a = random_unicast(rng, family)
        else:
            r = rng.choice(by_len[rng.choice(lens)]) if x < 0.5 + outside_share / 2 \
                else rng.choice(routes)
            a = random_address_in(rng, r.prefix)
        out.add(a)
    out = sorted(out)
    rng.shuffle(out)
    return out


def unrouted_destinations(rlab, rng, family, n, routes, avoid=()):
    """n distinct addresses no route covers: random ones that no prefix of
    routes covers (a quick local pre-filter), kept only where the oracle
    agrees (EXCLUDED4/6 left out)."""
    bits = 32 if family == 4 else 128
    by_len = {}
    for r in routes:
        if r.family == family:
            by_len.setdefault(r.prefix.prefixlen, set()).add(
                int(r.prefix.network_address) >> (bits - r.prefix.prefixlen))
    found = []
    have = set(avoid)
    for _ in range(20):
        cand = []
        while len(cand) < 2 * (n - len(found)):
            a = random_unicast(rng, family)
            x = int(a)
            if a not in have and \
                    not any((x >> (bits - plen)) in nets for plen, nets in by_len.items()):
                cand.append(a)
                have.add(a)
        for a, ans in zip(cand, oracle(rlab, cand)):
            if ans.prefix is None:
                found.append(a)
                if len(found) == n:
                    return found
    raise RuntimeError(f"only {len(found)} unrouted IPv{family} addresses found")


# --- the oracle ---------------------------------------------------------------

class Answer:
    """What the kernel FIB says about one address: prefix (ip_network) or
    None for no route, nexthops [(gateway ip str, dev, weight)]."""

    def __init__(self, prefix, nexthops):
        self.prefix = prefix
        self.nexthops = nexthops

    def __repr__(self):
        if self.prefix is None:
            return "no route"
        return f"{self.prefix} -> " + ", ".join(f"{g} dev {d}" + (f" w{w}" if w != 1 else "")
                                                 for g, d, w in self.nexthops)


def oracle(rlab, addrs, chunk=50000):
    """`ip route get fibmatch ADDR` in the router namespace for each address
    (one `ip -j -batch -` per chunk); [Answer] in the same order."""
    dec = json.JSONDecoder()
    answers = []
    for i in range(0, len(addrs), chunk):
        part = addrs[i:i + chunk]
        out = rlab.batch([f"route get fibmatch {a}" for a in part], json_out=True)
        pos, got = 0, []
        while True:
            while pos < len(out) and out[pos].isspace():
                pos += 1
            if pos >= len(out):
                break
            obj, pos = dec.raw_decode(out, pos)
            got.append(obj[0])
        if len(got) != len(part):
            raise RuntimeError(f"ip route get: {len(got)} answers to {len(part)} questions")
        for a, r in zip(part, got):
            table = str(r.get("table"))
            if table == str(MISS_TABLE):
                answers.append(Answer(None, []))
                continue
            if table != str(ORACLE_TABLE):
                raise RuntimeError(f"ip route get fibmatch {a}: answered from table "
                                   f"{table}: {r}")
            dst = r["dst"]
            prefix = ipaddress.ip_network("0.0.0.0/0" if dst == "default" and a.version == 4
                                          else "::/0" if dst == "default" else
                                          dst if "/" in dst else f"{dst}/{a.max_prefixlen}")
            if "nexthops" in r:
                nhs = [(n["gateway"], n["dev"], n.get("weight", 1)) for n in r["nexthops"]]
            else:
                nhs = [(r["gateway"], r["dev"], 1)]
            answers.append(Answer(prefix, nhs))
    return answers


def cover_length_classes(rlab, rng, routes, dests, answers, per_class=20, tries=4000):
    """Destinations for the prefix lengths of routes that no answer has yet.

    A short prefix can be almost entirely covered by more specific routes;
    up to `tries` random addresses inside the routes of each such length are
    put to the oracle and up to per_class that it answers with a route of
    that length are kept.  Returns (destinations, answers, lengths still
    without one: shadowed, untestable)."""
    lengths = {(r.family, r.prefix.prefixlen) for r in routes}
    got = {(a.prefix.version, a.prefix.prefixlen) for a in answers if a.prefix is not None}
    have = set(dests)
    new_d, new_a, shadowed = [], [], []
    for fam, plen in sorted(lengths - got):
        mine = [r for r in routes if r.family == fam and r.prefix.prefixlen == plen]
        cand = list({random_address_in(rng, rng.choice(mine).prefix)
                     for _ in range(tries)} - have)
        found = 0
        for a, ans in zip(cand, oracle(rlab, cand)):
            if ans.prefix is not None and ans.prefix.prefixlen == plen:
                new_d.append(a)
                new_a.append(ans)
                have.add(a)
                found += 1
                if found == per_class:
                    break
        if not found:
            shadowed.append((fam, plen))
    return new_d, new_a, shadowed


# --- frames -------------------------------------------------------------------

def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_packet(src, dst, ttl, sport, dport, payload, ident=0):
    """An IPv4 or IPv6 UDP packet (no Ethernet header), checksums filled."""
    src, dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    ulen = 8 + len(payload)
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 17, ulen)
    else:
        pseudo = src.packed + dst.packed + struct.pack("!IxxxB", ulen, 17)
    u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + u) or 0xFFFF
    u = u[:6] + struct.pack("!H", c) + u[8:]
    if src.version == 4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident & 0xFFFF, 0, ttl, 17, 0,
                        src.packed, dst.packed)
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    else:
        h = struct.pack("!IHBB16s16s", 0x60000000, ulen, 17, ttl, src.packed, dst.packed)
    return h + u


def ether(dst_mac, src_mac, pkt):
    et = 0x0800 if pkt[0] >> 4 == 4 else 0x86DD
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", et) + pkt


def routed(pkt):
    """pkt as a router must forward it: TTL / hop limit minus 1 and the IPv4
    header checksum recomputed (what RFC 1624's incremental update must
    equal)."""
    b = bytearray(pkt)
    if b[0] >> 4 == 4:
        b[8] -= 1
        b[10:12] = b"\0\0"
        ihl = (b[0] & 0xF) * 4
        b[10:12] = struct.pack("!H", csum(bytes(b[:ihl])))
    else:
        b[7] -= 1
    return bytes(b)


def tag_payload(index, size=18):
    return TAG + struct.pack("!I", index) + b"\0" * (size - 8)


def frame_index(frame):
    """The test index carried by a captured frame, or None (not ours)."""
    et = frame[12:14]
    off = 14 + 20 + 8 if et == b"\x08\x00" else 14 + 40 + 8 if et == b"\x86\xdd" else None
    if off is None or frame[off:off + 4] != TAG:
        return None
    return struct.unpack("!I", frame[off + 4:off + 8])[0]


# --- sending and capturing ------------------------------------------------------

class Capture:
    """AF_PACKET sockets on the eth0 of some neighbours; frames kept per port.

    frames[port name] = [bytes] of every frame that came in (outgoing ones
    left out); tagged counts the frames carrying TAG.
    """

    def __init__(self, ports):
        self.ports = list(ports)
        self.socks = {}
        for p in self.ports:
            s = packet_socket(p.ns)
            s.setblocking(False)
            self.socks[s.fileno()] = (p, s)
        self.frames = {p.name: [] for p in self.ports}
        self.tagged = 0

    def drain(self, wait=0.0):
        """Read whatever is queued (waiting up to `wait` s for the first);
        returns how many frames were read."""
        n = 0
        r, _, _ = select.select(list(self.socks), [], [], wait)
        for fd in r:
            p, s = self.socks[fd]
            keep = self.frames[p.name]
            while True:
                try:
                    data, addr = s.recvfrom(4096)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                keep.append(data)
                n += 1
                if frame_index(data) is not None:
                    self.tagged += 1
        return n

    def close(self):
        for _, s in self.socks.values():
            s.close()
        self.socks = {}


def send_captured(sock, frames, capture, expect, chunk=256, stall=0.3, max_stalls=30):
    """Send frames in chunks, draining the capture between them.

    expect[i]: True when frame i should leave by a captured port.  After
    each chunk, wait until the capture holds as many tagged frames as the
    chunks so far should have produced, or until nothing arrived for
    `stall` seconds (a lost frame costs one stall, not the run).  Pacing
    keeps the dataplane's af_packet ring from overflowing.  After
    max_stalls stalls the rest is not sent (a router that loses everything
    would otherwise take minutes to fail).  Returns (seconds, stalls, sent).
    """
    t0 = time.monotonic()
    stalls = 0
    want = 0
    sent = 0
    for i in range(0, len(frames), chunk):
        if stalls >= max_stalls:
            break
        part = frames[i:i + chunk]
        for f in part:
            sock.send(f)
        sent += len(part)
        want += sum(1 for e in expect[i:i + chunk] if e)
        last = time.monotonic()
        while capture.tagged < want:
            if capture.drain(wait=0.01):
                last = time.monotonic()
            elif time.monotonic() - last > stall:
                stalls += 1
                break
    # the rest, and anything late or unexpected
    last = time.monotonic()
    while time.monotonic() - last < stall:
        if capture.drain(wait=0.05):
            last = time.monotonic()
    return time.monotonic() - t0, stalls, sent


# --- the FIB check ----------------------------------------------------------------

class Probe:
    """One test frame: index, destination, flow, TTL, the oracle's answer,
    the frame sent and the IP packet a correct router emits."""

    __slots__ = ("index", "dst", "sport", "dport", "ttl", "answer", "frame", "expected")

    @property
    def flow(self):
        return (self.dst, self.sport, self.dport)


def build_probes(rng, ingress, dests, answers, ecmp_repeats=1, first_index=0):
    """A probe per destination (random ports and TTL 2-255), plus
    ecmp_repeats more of the same flow for each destination whose route is
    ECMP (to check that a flow sticks to one next hop), shuffled."""
    probes = []
    idx = first_index
    for d, a in zip(dests, answers):
        fam = d.version
        sport, dport = rng.randint(1024, 65535), rng.randint(1, 65535)
        for _ in range(1 + (ecmp_repeats if len(a.nexthops) > 1 else 0)):
            p = Probe()
            p.index, p.dst, p.sport, p.dport = idx, d, sport, dport
            p.ttl = rng.randint(2, 255)
            p.answer = a
            pkt = udp_packet(ingress.host_ip(fam), d, p.ttl, sport, dport,
                             tag_payload(idx), ident=idx)
            p.frame = ether(ingress.mac, ingress.host_mac, pkt)
            p.expected = routed(pkt)
            probes.append(p)
            idx += 1
    rng.shuffle(probes)
    return probes


class FibReport:
    """The comparison of what left the router with the oracle.

    counts: sent, routed (oracle), unrouted (oracle), forwarded (captured),
    ecmp_flows; problems[kind] = [description]: any entry is a failure.
    """

    KINDS = ("lost", "forwarded_without_route", "wrong_nexthop", "unknown_dst_mac",
             "bad_src_mac", "ttl", "ipv4_checksum", "altered", "duplicate",
             "ecmp_flow_split")

    def __init__(self):
        self.counts = {}
        self.problems = {k: [] for k in self.KINDS}
        self.ecmp_positions = {}   # position of the chosen next hop -> flows
        self.classes = {}          # (family, prefix length) -> probes matched

    def failures(self):
        return {k: v for k, v in self.problems.items() if v}

    def summary(self, examples=5):
        lines = [", ".join(f"{k} {v}" for k, v in self.counts.items())]
        for k, v in self.failures().items():
            lines.append(f"{k}: {len(v)}, e.g.")
            lines += ["    " + s for s in v[:examples]]
        return "\n".join(lines)


def check_probes(rlab, probes, capture):
    """Compare each captured frame with its probe's oracle answer."""
    rep = FibReport()
    by_index = {p.index: p for p in probes}
    seen = {}
    flows = {}
    ports = rlab.by_name
    for pname, frames in capture.frames.items():
        port = ports[pname]
        for f in frames:
            idx = frame_index(f)
            if idx is None or idx not in by_index:
                continue
            p = by_index[idx]
            fam = p.dst.version
            if idx in seen:
                rep.problems["duplicate"].append(f"{p.dst} (index {idx}) on {pname} and "
                                                  f"{seen[idx]}")
                continue
            seen[idx] = pname
            ans = p.answer
            if ans.prefix is None:
                rep.problems["forwarded_without_route"].append(
                    f"{p.dst}: no route in the kernel, left by {pname} to {mac_str(f[0:6])}")
                continue
            gw = rlab.gw_by_mac.get(f[0:6])
            if gw is None or gw.port is not port:
                rep.problems["unknown_dst_mac"].append(
                    f"{p.dst}: left by {pname} to {mac_str(f[0:6])}, no gateway of "
                    f"that port; kernel: {ans}")
                continue
            got = (gw.ip(fam), pname)
            allowed = [(g, d) for g, d, _ in ans.nexthops]
            if got not in allowed:
                rep.problems["wrong_nexthop"].append(
                    f"{p.dst}: via {got[0]} dev {got[1]}; kernel: {ans}")
                continue
            flows.setdefault(p.flow, set()).add(got)
            if len(allowed) > 1:
                pos = allowed.index(got)
                rep.ecmp_positions.setdefault(len(allowed), {}).setdefault(pos, 0)
                rep.ecmp_positions[len(allowed)][pos] += 1
            key = (fam, ans.prefix.prefixlen)
            rep.classes[key] = rep.classes.get(key, 0) + 1
            if f[6:12] != mac_bytes(port.mac):
                rep.problems["bad_src_mac"].append(
                    f"{p.dst}: source MAC {mac_str(f[6:12])}, port {pname} has {port.mac}")
            ip = f[14:14 + len(p.expected)]
            if ip != p.expected:
                ttl_off = 8 if fam == 4 else 7
                if len(ip) < len(p.expected):
                    rep.problems["altered"].append(f"{p.dst}: {len(f)} bytes, truncated")
                elif ip[ttl_off] != p.expected[ttl_off]:
                    rep.problems["ttl"].append(f"{p.dst}: TTL sent {p.ttl}, "
                                               f"got {ip[ttl_off]}")
                elif fam == 4 and csum(ip[:20]) != 0:
                    rep.problems["ipv4_checksum"].append(
                        f"{p.dst}: header checksum {ip[10:12].hex()}, "
                        f"should be {p.expected[10:12].hex()}")
                else:
                    rep.problems["altered"].append(
                        f"{p.dst}: sent {p.expected.hex()}, got {ip.hex()}")
    for p in probes:
        if p.answer.prefix is not None and p.index not in seen:
            rep.problems["lost"].append(f"{p.dst} (index {p.index}, {p.answer})")
    for flow, hops in flows.items():
        if len(hops) > 1:
            rep.problems["ecmp_flow_split"].append(f"flow {flow}: {sorted(hops)}")
    routed = sum(1 for p in probes if p.answer.prefix is not None)
    rep.counts = {
        "sent": len(probes),
        "sent_ipv4": sum(1 for p in probes if p.dst.version == 4),
        "sent_ipv6": sum(1 for p in probes if p.dst.version == 6),
        "routed": routed,
        "unrouted": len(probes) - routed,
        "forwarded": len(seen),
        "ecmp_flows": len({p.flow for p in probes if len(p.answer.nexthops) > 1}),
    }
    return rep


# --- ICMP errors as the sender's kernel sees them -----------------------------------

IP_RECVERR = 11
IPV6_RECVERR = 25
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3


class IcmpError:
    """One ICMP error the sender's kernel matched to its UDP socket (it
    checks the quoted addresses and ports) and queued with IP_RECVERR."""

    def __init__(self, errno_, origin, type_, code, offender):
        self.errno, self.origin, self.type, self.code = errno_, origin, type_, code
        self.offender = offender

    def __repr__(self):
        return (f"IcmpError(type {self.type} code {self.code} from {self.offender}, "
                f"errno {self.errno})")


def _read_errqueue(s, family):
    out = []
    while True:
        try:
            _, anc, _, _ = s.recvmsg(512, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return out
        for level, typ, data in anc:
            if (level, typ) not in ((socket.SOL_IP, IP_RECVERR),
                                    (socket.IPPROTO_IPV6, IPV6_RECVERR)):
                continue
            e, origin, t, c, _pad, _info, _data = struct.unpack_from("=IBBBBII", data)
            if family == 4:
                off = socket.inet_ntop(socket.AF_INET, data[16 + 4:16 + 8])
            else:
                off = socket.inet_ntop(socket.AF_INET6, data[16 + 8:16 + 24])
            out.append(IcmpError(e, origin, t, c, off))


def udp_probe(ns, family, dst, hops=64, count=1, dport=33434, wait=1.0, gap=0.0):
    """Send count UDP datagrams from a socket in namespace ns with TTL /
    hop limit `hops`; collect the ICMP errors its kernel queues for it until
    `wait` seconds after the last send.  Returns (errors, datagrams sent,
    source port, seconds the sending took)."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    s = socket_in(ns, af, socket.SOCK_DGRAM)
    try:
        if family == 4:
            s.setsockopt(socket.SOL_IP, socket.IP_TTL, hops)
            s.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        s.bind(("0.0.0.0" if family == 4 else "::", 0))
        sport = s.getsockname()[1]
        errors, sent = [], 0
        t0 = time.monotonic()
        for i in range(count):
            # a queued error is also reported (once) by the next send
            for _ in range(2):
                try:
                    s.sendto(b"sluice-probe %d" % i, (str(dst), dport))
                    sent += 1
                    break
                except OSError:
                    continue
            errors += _read_errqueue(s, family)
            if gap:
                time.sleep(gap)
        secs = time.monotonic() - t0
        deadline = time.monotonic() + wait
        while True:
            errors += _read_errqueue(s, family)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        return errors, sent, sport, secs
    finally:
        s.close()
