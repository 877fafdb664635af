# SPDX-License-Identifier: BSD-3-Clause
"""The routing benchmark's inputs (issue 4): an Internet-shaped IPv4 table
and 10,000 flows routed by it, made once.

    routes.py OUTDIR [--routes N] [--flows N] [--gateways N] [--seed N]

Writes, under OUTDIR, unless already there with the same parameters and the
same version of this file (OUTDIR/<base>.stamp):
  <base>.v4            l3fwd's --rule_ipv4 file: "R<prefix>/<len> 1" (port 1,
                       the null port), the format of l3fwd's
                       lpm_route_parse.c in DPDK 22.11
  <base>.v6            one IPv6 route (l3fwd reads its compiled-in tables
                       unless it gets both files)
  <base>.json          Sluice policy (docs/policy.md): the pcap port "rin"
                       and the null port "rout" in route mode, no rules,
                       default accept, conntrack off, no ICMP errors, the N
                       routes as static routes, each to one of the gateways
                       on "rout"
  <base>-reload.json   the same with 10,000 routes moved to another gateway
                       and 10,000 new /24s (a changed policy for SIGHUP)
  <base>-kernel.json   the same ports, no static routes, routes mirrored
                       from kernel table KERNEL_TABLE
  <base>.ip            `ip -batch` lines: the N routes into that table, via
                       the same gateways, dev rout, in address order (the
                       first flow's route comes last: pick_destinations)
  <base>-meta.json     what the harness needs: ports, gateways and their
                       MACs, the counts per prefix length of the table and
                       of the traffic's destinations
  <base>-<f>f.pcap     <f> flows, one 60-byte frame each (64 on the wire):
                       IPv4, half UDP and half TCP ACK, every 5-tuple
                       distinct, shuffled; each destination is a host inside
                       a route of the table (so every packet is routed)
where <base> is rt-<N>-g<gateways>-s<seed>.  Deterministic: the same
parameters give the same bytes.  Nothing here needs root; only the pcap
needs scapy.

The table's shape.  Prefix lengths follow the global IPv4 BGP table of
2023-24 (about 950k-1M entries): the prefix-length distribution that Geoff
Huston publishes for the table seen from AS6447/Route Views
(bgp.potaroo.net, "BGP in 2023", APNIC blog, January 2024) and that the
CIDR Report (www.cidr-report.org) tabulates: about 60 % /24, then /22
(~12 %), /23 (~11 %), /21 (~5.5 %), /20 (~4.5 %), /19 (~2.6 %), /18
(~1.5 %), /16 (~1.3 %), /17 (~0.9 %), and under 0.5 % in all from /8 to
/15; nothing longer than /24 (operators filter it).  LENGTH_SHARE below
holds these shares rounded; they are the facts taken from those reports,
the prefixes themselves are random.  About half of the real table is
more-specifics of other announced prefixes (Huston, same reports): so is
half of this one (NEST_SHARE), which gives rte_lpm nested prefixes to
resolve.  Prefixes lie in unicast space outside the special-purpose blocks
(RFC 6890), so none collides with the ports' own subnets.
"""
import argparse
import hashlib
import ipaddress
import json
import os
import random
import sys

# Prefixes per million of the table, by length (see the docstring); /24
# takes the rest (605,730 per million, 60.6 %).
LENGTH_SHARE = {8: 15, 9: 15, 10: 40, 11: 100, 12: 300, 13: 600, 14: 1200,
                15: 2000, 16: 13000, 17: 8500, 18: 14500, 19: 26000,
                20: 46000, 21: 54000, 22: 120000, 23: 108000}
NEST_SHARE = 0.5        # share of prefixes placed inside a shorter one

# RFC 6890 special-purpose blocks and multicast/reserved: no route there.
SPECIAL = [ipaddress.ip_network(p) for p in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
    "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3")]
SPECIAL_RANGES = [(int(n.network_address), int(n.broadcast_address))
                  for n in SPECIAL]

# The appliance's ports (docs/policy.md): DPDK port 0 is the pcap port,
# 1 the null port, both routed.  The names are also the TAP twins' names.
IN_PORT, OUT_PORT = "rin", "rout"
IN_ADDR, OUT_ADDR = "192.0.2.1/24", "198.51.100.1/24"
GW_BASE = int(ipaddress.ip_address("198.51.100.10"))
GW_MAC = "02:00:00:00:01:{:02x}"
KERNEL_TABLE = 100
L3FWD_OUT = 1           # l3fwd's egress: the null port's DPDK id
RELOAD_CHANGES = 10000  # routes moved, and new /24s added, in -reload.json

FRAME_LEN = 60          # without the 4-byte FCS
SRC_MAC = "02:00:00:00:00:02"
# net_pcap gives its port this fixed MAC (DPDK 22.11 drivers/net/pcap,
# eth_addr of an rx_pcap port): frames are addressed to the router's port.
PCAP_PORT_MAC = "02:70:63:61:70:00"


def special(addr, plen):
    lo = addr
    hi = addr | ((1 << (32 - plen)) - 1)
    return any(lo <= s_hi and s_lo <= hi for s_lo, s_hi in SPECIAL_RANGES)


def mask(plen):
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF


def length_counts(n):
    counts = {p: round(s * n / 1e6) for p, s in LENGTH_SHARE.items()}
    counts[24] = n - sum(counts.values())
    if counts[24] < 0:
        raise ValueError(f"{n} routes: too few for the distribution")
    return counts


def make_table(n, seed):
    """[(addr, plen)], all distinct, made in order of length (shortest
    first, so that a prefix can be placed inside a shorter one)."""
    rng = random.Random(seed)
    counts = length_counts(n)
    table = []
    seen = set()
    for plen in sorted(counts):
        shorter = len(table)        # everything so far is shorter
        made = 0
        while made < counts[plen]:
            if shorter and rng.random() < NEST_SHARE:
                pa, pl = table[rng.randrange(shorter)]
                addr = pa | (rng.getrandbits(plen - pl) << (32 - plen))
            else:
                addr = rng.getrandbits(32) & mask(plen)
            if (addr, plen) in seen or special(addr, plen):
                continue
            seen.add((addr, plen))
            table.append((addr, plen))
            made += 1
    return table


def prefix_str(addr, plen):
    return f"{ipaddress.IPv4Address(addr)}/{plen}"


def gateway(i):
    return str(ipaddress.IPv4Address(GW_BASE + i))


def ports():
    return [{"name": IN_PORT, "dpdk_port": 0, "mode": "route",
             "addresses": [IN_ADDR]},
            {"name": OUT_PORT, "dpdk_port": 1, "mode": "route",
             "addresses": [OUT_ADDR]}]


def policy(routes, kernel_table=0):
    """routes: [(addr, plen, gateway index)].  No ICMP errors: packets
    without a route yet (the kernel table filling) are only dropped and
    counted, so every packet out of the dataplane is one that came in."""
    settings = {"conntrack": {"enabled": False},
                "routing": {"icmp_errors": 0}}
    if kernel_table:
        settings["routing"]["kernel_table"] = kernel_table
    return {"version": 1, "settings": settings, "ports": ports(),
            "rules": [], "default": "accept",
            "routes": [{"prefix": prefix_str(a, p),
                        "nexthops": [{"gateway": gateway(g),
                                      "port": OUT_PORT}]}
                       for a, p, g in routes]}


def pick_destinations(table, flows, rng):
    """Destinations of the flows: half picked as the table is shaped (a
    route at random, so ~60 % inside /24s), half with a prefix length
    picked evenly among the lengths the table has, then a route of it;
    then a random host of that route.  A host may fall inside a nested
    more-specific route: it is routed all the same.

    table is in address order, the order of the route files.  The first
    flow goes to the last route, which no other route is more specific
    than (one would sort after it): that flow is forwarded only once the
    last line of the file is in force, so when a file is fed in order
    (ip -batch into the kernel table), "every flow forwarded" times the
    whole table."""
    by_len = {}
    for a, p in table:
        by_len.setdefault(p, []).append(a)
    lengths = sorted(by_len)
    a, p = table[-1]
    out = [(a | rng.getrandbits(32 - p), p)]
    for i in range(1, flows):
        if i % 2 == 0:
            a, p = table[rng.randrange(len(table))]
        else:
            p = lengths[rng.randrange(len(lengths))]
            a = by_len[p][rng.randrange(len(by_len[p]))]
        out.append((a | rng.getrandbits(32 - p), p))
    return out


def make_pcap(path, dests, seed):
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

    rng = random.Random(seed)
    seen = set()
    pkts = []
    for dst, _ in dests:
        while True:
            src = (f"172.{16 + rng.randrange(16)}.{rng.randrange(256)}."
                   f"{rng.randrange(1, 255)}")
            proto = "udp" if len(pkts) % 2 == 0 else "tcp"
            sport = rng.randrange(1024, 65536)
            dport = rng.choice((53, 80, 443, 8080, rng.randrange(1, 65536)))
            key = (src, dst, proto, sport, dport)
            if key not in seen:
                break
        seen.add(key)
        l4 = (UDP(sport=sport, dport=dport) if proto == "udp"
              else TCP(sport=sport, dport=dport, flags="A",
                       seq=rng.getrandbits(32), ack=rng.getrandbits(32)))
        pkt = (Ether(dst=PCAP_PORT_MAC, src=SRC_MAC)
               / IP(src=src, dst=str(ipaddress.IPv4Address(dst)), ttl=64) / l4)
        pkt = pkt / Raw(bytes(FRAME_LEN - len(pkt)))
        assert len(bytes(pkt)) == FRAME_LEN
        pkts.append(pkt)
    rng.shuffle(pkts)
    for i, pkt in enumerate(pkts):
        pkt.time = 1_700_000_000 + i / 1e6     # fixed stamps: same bytes
    wrpcap(path + ".tmp", pkts)
    os.replace(path + ".tmp", path)


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)


def reload_routes(routes, gateways, rng):
    """A changed table: RELOAD_CHANGES routes to the next gateway, as many
    new /24s (not in the table, outside special space)."""
    out = list(routes)
    k = min(RELOAD_CHANGES, len(out))
    for i in rng.sample(range(len(out)), k):
        a, p, g = out[i]
        out[i] = (a, p, (g + 1) % gateways)
    seen = {(a, p) for a, p, _ in out}
    added = 0
    while added < k:
        a = rng.getrandbits(32) & mask(24)
        if (a, 24) in seen or special(a, 24):
            continue
        seen.add((a, 24))
        out.append((a, 24, rng.randrange(gateways)))
        added += 1
    return out


def ensure(outdir, n=1_000_000, flows=10_000, gateways=16, seed=1):
    """Make what is missing; return a dict of the paths and the meta data
    (the contents of <base>-meta.json)."""
    if not 1 <= gateways <= 200:
        raise ValueError("1-200 gateways (198.51.100.10 and up)")
    os.makedirs(outdir, exist_ok=True)
    base = os.path.join(outdir, f"rt-{n}-g{gateways}-s{seed}")
    files = {"v4": base + ".v4", "v6": base + ".v6",
             "policy": base + ".json", "policy_reload": base + "-reload.json",
             "policy_kernel": base + "-kernel.json", "ip": base + ".ip",
             "meta": base + "-meta.json",
             "pcap": f"{base}-{flows}f.pcap"}
    with open(__file__, "rb") as f:
        version = hashlib.sha256(f.read()).hexdigest()[:16]
    stamp = f"{version} {n} {flows} {gateways} {seed}\n"
    stamp_path = base + ".stamp"
    try:
        with open(stamp_path) as f:
            fresh = f.read() == stamp
    except OSError:
        fresh = False
    if fresh and all(os.path.exists(p) for p in files.values()):
        with open(files["meta"]) as f:
            return dict(json.load(f), files=files)

    print(f"routes: writing a {n}-route table and {flows} flows under "
          f"{outdir} (once)", file=sys.stderr)
    rng = random.Random(seed * 7919 + 1)
    table = make_table(n, seed)
    # Written in address order, as a RIB dump (`ip route`, `show ip bgp`)
    # lists them; the gateways are drawn in that order.
    table.sort()
    routes = [(a, p, rng.randrange(gateways)) for a, p in table]

    write(files["v4"], "".join(f"R{prefix_str(a, p)} {L3FWD_OUT}\n"
                               for a, p, _ in routes))
    write(files["v6"], f"R2001:db8::/32 {L3FWD_OUT}\n")
    write_json(files["policy"], policy(routes))
    write_json(files["policy_reload"], policy(reload_routes(routes, gateways,
                                                            rng)))
    write_json(files["policy_kernel"], policy([], KERNEL_TABLE))
    write(files["ip"], "".join(
        f"route add {prefix_str(a, p)} via {gateway(g)} dev {OUT_PORT} "
        f"table {KERNEL_TABLE} proto static\n" for a, p, g in routes))

    dests = pick_destinations(table, flows, random.Random(seed * 31 + 7))
    make_pcap(files["pcap"], dests, seed * 131 + 5)

    counts = {}
    for _, p in table:
        counts[p] = counts.get(p, 0) + 1
    dest_counts = {}
    for _, p in dests:
        dest_counts[p] = dest_counts.get(p, 0) + 1
    meta = {"routes": n, "flows": flows, "seed": seed,
            "in_port": {"name": IN_PORT, "dpdk_port": 0, "address": IN_ADDR},
            "out_port": {"name": OUT_PORT, "dpdk_port": 1,
                         "address": OUT_ADDR},
            "gateways": [{"ip": gateway(i), "mac": GW_MAC.format(i)}
                         for i in range(gateways)],
            "kernel_table": KERNEL_TABLE,
            "reload_changes": RELOAD_CHANGES,
            "reload_routes": n + RELOAD_CHANGES,
            "length_counts": {str(k): v for k, v in sorted(counts.items())},
            "dest_length_counts": {str(k): v for k, v in
                                   sorted(dest_counts.items())}}
    write_json(files["meta"], meta)
    write(stamp_path, stamp)
    return dict(meta, files=files)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--routes", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--gateways", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = ensure(a.outdir, a.routes, a.flows, a.gateways, a.seed)
    print("prefix lengths of the table:", ", ".join(
        f"/{k} {v}" for k, v in r["length_counts"].items()))
    print("prefix lengths of the flows' routes:", ", ".join(
        f"/{k} {v}" for k, v in r["dest_length_counts"].items()))
    for k, p in r["files"].items():
        print(f"{k}: {p}")


if __name__ == "__main__":
    main()
