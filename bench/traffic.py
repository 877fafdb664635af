# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark's traffic and route files, made once with scapy.

    traffic.py OUTDIR [--flows N] [--routes N]

Writes, unless already there with the same parameters:
  OUTDIR/traffic-<f>f-<r>r.pcap one 60-byte frame (64 on the wire with the
                                FCS) per flow: IPv4, half UDP and half TCP,
                                every 5-tuple distinct, in shuffled order;
                                destination addresses spread over <routes>
                                /24 prefixes of 10.0.0.0/8
  OUTDIR/routes-<routes>.v4     l3fwd's route file: each of those /24s to
                                port 1 (the null port)
  OUTDIR/routes.v6              one IPv6 route (l3fwd reads its default
                                tables unless it gets both files)
The pcap stays under the build directory, never in git.  Deterministic: the
same parameters give the same bytes.
"""
import argparse
import os
import random
import sys

FRAME_LEN = 60          # without the 4-byte FCS
DST_MAC = "02:00:00:00:00:01"
SRC_MAC = "02:00:00:00:00:02"
EGRESS_PORT = 1


def route_prefix(i):
    """The i-th /24 of 10.0.0.0/8, as three octets."""
    return (10, (i >> 8) & 0xFF, i & 0xFF)


def make_pcap(path, flows, routes, seed=2):
    # Imported here so that the route files need no scapy.
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

    rng = random.Random(seed)
    seen = set()
    pkts = []
    while len(pkts) < flows:
        a, b, c = route_prefix(rng.randrange(routes))
        dst = f"{a}.{b}.{c}.{rng.randrange(1, 255)}"
        src = f"172.{16 + rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        proto = "udp" if len(pkts) % 2 == 0 else "tcp"
        sport = rng.randrange(1024, 65536)
        dport = rng.choice((53, 80, 443, 8080, rng.randrange(1, 65536)))
        key = (src, dst, proto, sport, dport)
        if key in seen:
            continue
        seen.add(key)
        l4 = (UDP(sport=sport, dport=dport) if proto == "udp"
              else TCP(sport=sport, dport=dport, flags="A",
                       seq=rng.getrandbits(32), ack=rng.getrandbits(32)))
        pkt = Ether(dst=DST_MAC, src=SRC_MAC) / IP(src=src, dst=dst, ttl=64) / l4
        pad = FRAME_LEN - len(pkt)
        # The payload fills the frame, so IP total length covers it all
        # (as pktgen and T-Rex build minimum-size frames).
        pkt = pkt / Raw(bytes(pad))
        assert len(bytes(pkt)) == FRAME_LEN
        pkts.append(pkt)
    rng.shuffle(pkts)
    for i, pkt in enumerate(pkts):
        pkt.time = 1_700_000_000 + i / 1e6     # fixed stamps: same bytes
    tmp = path + ".tmp"
    wrpcap(tmp, pkts)
    os.replace(tmp, path)


def write_routes(outdir, routes):
    v4 = os.path.join(outdir, f"routes-{routes}.v4")
    if not os.path.exists(v4):
        with open(v4 + ".tmp", "w") as f:
            for i in range(routes):
                a, b, c = route_prefix(i)
                f.write(f"R{a}.{b}.{c}.0/24 {EGRESS_PORT}\n")
        os.replace(v4 + ".tmp", v4)
    v6 = os.path.join(outdir, "routes.v6")
    if not os.path.exists(v6):
        with open(v6, "w") as f:
            f.write(f"R2001:db8::/32 {EGRESS_PORT}\n")
    return v4, v6


def ensure(outdir, flows=10000, routes=4096):
    """Make what is missing; return (pcap, routes_v4, routes_v6)."""
    if routes > 65536:
        raise ValueError("at most 65536 /24 routes in 10.0.0.0/8")
    os.makedirs(outdir, exist_ok=True)
    pcap = os.path.join(outdir, f"traffic-{flows}f-{routes}r.pcap")
    if not os.path.exists(pcap):
        print(f"traffic: writing {flows} flows to {pcap} (scapy, once)",
              file=sys.stderr)
        make_pcap(pcap, flows, routes)
    v4, v6 = write_routes(outdir, routes)
    return pcap, v4, v6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--routes", type=int, default=4096)
    a = ap.parse_args()
    for p in ensure(a.outdir, a.flows, a.routes):
        print(p)


if __name__ == "__main__":
    main()
