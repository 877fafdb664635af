# SPDX-License-Identifier: BSD-3-Clause
"""Rule sets and traffic of the firewall benchmark (issue 3), made once.

    fwrules.py OUTDIR [--rules N,...] [--flows N]

One random rule set per size, written three ways so that every firewall
sees the same rules in the same order:
  OUTDIR/fw-<n>.rules.json       the rules alone (the source of the others)
  OUTDIR/fw-<n>-ct<on|off>.json  Sluice policy (docs/policy.md), xconnect 0:1
  OUTDIR/fw-<n>.acl4, .acl6      l3fwd --lookup acl rule files
  OUTDIR/fw-<n>.ofp              ovs-ofctl add-flows file (ports expanded to
                                 value/mask pairs; priority in rule order)
and the traffic:
  OUTDIR/fw-traffic-<f>f.pcap    <f> flows of 60-byte frames (64 on the
                                 wire), IPv4, half UDP and half TCP (ACK),
                                 each flow once in each direction (request
                                 first), so conntrack sees it established
  OUTDIR/hs-rules-<k>.json       <k> Hyperscan literal rules (accept) and a
  OUTDIR/hs-none.json            policy without them, same traffic
  OUTDIR/hs-traffic.pcap         TCP port-80 frames of 512 and 1500 bytes,
                                 HTTP-ish payloads, ~1% holding a literal

Rules are ClassBench-like random 5-tuples: source and destination prefixes
/8-/32 (a quarter of the destinations inside the traffic's 10.0.0.0/8, so the
ACL tries walk deep along the traffic's addresses), tcp or udp, a
destination port (3/4) or range (1/4), half with a source port range;
accept or drop at random.  No random rule can match the traffic in either
direction (their address pairs never overlap the traffic's); the last two
rules accept it (172.16.0.0/12 <-> 10.0.0.0/8), the default drops.  So each
benchmark packet walks the ACL to a rule at the end of the list and is
forwarded.  Deterministic: the same parameters give the same bytes.
"""
import argparse
import ipaddress
import json
import os
import random
import sys

FRAME_LEN = 60
DST_MAC = "02:00:00:00:00:01"
SRC_MAC = "02:00:00:00:00:02"
CLIENTS = ipaddress.ip_network("172.16.0.0/12")
SERVERS = ipaddress.ip_network("10.0.0.0/8")
OF_IN, OF_OUT = 1, 2        # OpenFlow port numbers (ofport_request)
L3FWD_OUT = 1               # l3fwd / DPDK port id of the null port

PORTS = [{"name": "in", "dpdk_port": 0, "mode": "xconnect", "peer": "out"},
         {"name": "out", "dpdk_port": 1, "mode": "xconnect", "peer": "in"}]


def rand_prefix(rng, lo=8, hi=32, inside=None):
    if inside is None:
        plen = rng.randint(lo, hi)
        addr = rng.getrandbits(32)
    else:
        plen = rng.randint(max(lo, inside.prefixlen), hi)
        addr = int(inside.network_address) | (
            rng.getrandbits(32) & ((1 << (32 - inside.prefixlen)) - 1))
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    return ipaddress.ip_network((addr & mask, plen))


def may_match_traffic(src, dst):
    return ((src.overlaps(CLIENTS) and dst.overlaps(SERVERS))
            or (src.overlaps(SERVERS) and dst.overlaps(CLIENTS)))


def random_rules(n, seed=3):
    rng = random.Random(seed * 1000003 + n)
    rules = []
    while len(rules) < n - 2:
        src = rand_prefix(rng)
        dst = (rand_prefix(rng, 16, 32, SERVERS) if rng.random() < 0.25
               else rand_prefix(rng))
        if may_match_traffic(src, dst):
            continue
        lo = rng.randrange(1, 60000)
        dport = (lo, lo) if rng.random() < 0.75 else (lo, lo + rng.randrange(1, 1000))
        if rng.random() < 0.5:
            sport = (1024, 65535) if rng.random() < 0.5 else (
                lambda s: (s, s + rng.randrange(1, 5000)))(rng.randrange(1024, 60000))
        else:
            sport = None
        rules.append({"id": f"r{len(rules)}", "src": str(src), "dst": str(dst),
                      "proto": rng.choice(("tcp", "udp")), "sport": sport,
                      "dport": dport,
                      "action": rng.choice(("accept", "drop"))})
    rules.append({"id": "traffic-fwd", "src": str(CLIENTS), "dst": str(SERVERS),
                  "proto": None, "sport": None, "dport": None, "action": "accept"})
    rules.append({"id": "traffic-rev", "src": str(SERVERS), "dst": str(CLIENTS),
                  "proto": None, "sport": None, "dport": None, "action": "accept"})
    return rules


def port_str(r):
    lo, hi = r
    return lo if lo == hi else f"{lo}-{hi}"


def sluice_policy(rules, conntrack):
    out = []
    for r in rules:
        j = {"id": r["id"], "src": r["src"], "dst": r["dst"]}
        if r["proto"]:
            j["proto"] = r["proto"]
        if r["sport"]:
            j["sport"] = port_str(r["sport"])
        if r["dport"]:
            j["dport"] = port_str(r["dport"])
        j["action"] = r["action"]
        out.append(j)
    return {"version": 1, "settings": {"conntrack": {"enabled": conntrack}},
            "ports": PORTS, "rules": out, "default": "drop"}


def l3fwd_acl(rules):
    """l3fwd's ACL file: '@' lines deny, 'R' lines route to a port; the
    line order is the priority order (l3fwd_acl.c: MAX_PRIORITY - line)."""
    lines = []
    for r in rules:
        sp = r["sport"] or (0, 65535)
        dp = r["dport"] or (0, 65535)
        proto = {"tcp": "6/0xff", "udp": "17/0xff", None: "0/0x00"}[r["proto"]]
        body = (f"{r['src']} {r['dst']} {sp[0]} : {sp[1]} "
                f"{dp[0]} : {dp[1]} {proto}")
        lines.append(f"R{body} {L3FWD_OUT}" if r["action"] == "accept"
                     else f"@{body}")
    # l3fwd's IPv6 parser takes the eight groups written out, and wants
    # one route line per file.
    v6 = [f"R2001:db8:0:0:0:0:0:0/32 0:0:0:0:0:0:0:0/0 0 : 65535 0 : 65535 "
          f"0/0x00 {L3FWD_OUT}"]
    return "\n".join(lines) + "\n", "\n".join(v6) + "\n"


def range_masks(lo, hi):
    """[lo, hi] as a list of (value, mask) prefix blocks."""
    out = []
    while lo <= hi:
        size = lo & -lo if lo else 1 << 16
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, (0xFFFF & ~(size - 1))))
        lo += size
    return out


def ovs_flows(rules):
    """OpenFlow flows, highest priority first; a port range becomes one
    flow per value/mask block (OpenFlow matches no ranges)."""
    lines = []
    prio = len(rules) + 10
    if prio > 65535:
        raise ValueError("OpenFlow priorities stop at 65535")
    for r in rules:
        act = f"output:{OF_OUT}" if r["action"] == "accept" else "drop"
        base = f"priority={prio},{r['proto'] or 'ip'},nw_src={r['src']},nw_dst={r['dst']}"
        sps = range_masks(*r["sport"]) if r["sport"] else [None]
        dps = range_masks(*r["dport"]) if r["dport"] else [None]
        for sp in sps:
            for dp in dps:
                m = base
                if sp:
                    m += f",tp_src={sp[0]:#x}/{sp[1]:#x}"
                if dp:
                    m += f",tp_dst={dp[0]:#x}/{dp[1]:#x}"
                lines.append(f"{m},actions={act}")
        prio -= 1
    lines.append("priority=0,actions=drop")
    return "\n".join(lines) + "\n"


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def ensure_rules(outdir, n):
    """Files of the n-rule set; returns their paths."""
    p = {"policy_on": os.path.join(outdir, f"fw-{n}-cton.json"),
         "policy_off": os.path.join(outdir, f"fw-{n}-ctoff.json"),
         "acl4": os.path.join(outdir, f"fw-{n}.acl4"),
         "acl6": os.path.join(outdir, f"fw-{n}.acl6"),
         "ofp": os.path.join(outdir, f"fw-{n}.ofp")}
    if all(os.path.exists(v) for v in p.values()):
        return p
    print(f"fwrules: writing the {n}-rule set under {outdir}", file=sys.stderr)
    rules = random_rules(n)
    write(p["policy_on"], json.dumps(sluice_policy(rules, True)))
    write(p["policy_off"], json.dumps(sluice_policy(rules, False)))
    a4, a6 = l3fwd_acl(rules)
    write(p["acl4"], a4)
    write(p["acl6"], a6)
    if n + 10 <= 65535:
        write(p["ofp"], ovs_flows(rules))
    else:
        write(p["ofp"], "")     # too many for OpenFlow priorities
    return p


def ensure_traffic(outdir, flows, seed=5):
    path = os.path.join(outdir, f"fw-traffic-{flows}f.pcap")
    if os.path.exists(path):
        return path
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap
    print(f"fwrules: writing {flows} bidirectional flows to {path} (scapy, once)",
          file=sys.stderr)
    rng = random.Random(seed)
    seen, pairs = set(), []
    while len(pairs) < flows:
        c = str(CLIENTS.network_address + rng.randrange(1, CLIENTS.num_addresses - 1))
        s = f"10.{rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        proto = "udp" if len(pairs) % 2 == 0 else "tcp"
        sport = rng.randrange(1024, 65536)
        dport = rng.choice((53, 80, 443, 8080, rng.randrange(1, 65536)))
        key = (c, s, proto, sport, dport)
        if key in seen:
            continue
        seen.add(key)
        pair = []
        for src, dst, sp, dp in ((c, s, sport, dport), (s, c, dport, sport)):
            l4 = (UDP(sport=sp, dport=dp) if proto == "udp"
                  else TCP(sport=sp, dport=dp, flags="A",
                           seq=rng.getrandbits(32), ack=rng.getrandbits(32)))
            pkt = Ether(dst=DST_MAC, src=SRC_MAC) / IP(src=src, dst=dst, ttl=64) / l4
            pkt = pkt / Raw(bytes(FRAME_LEN - len(pkt)))
            assert len(bytes(pkt)) == FRAME_LEN
            pair.append(pkt)
        pairs.append(pair)
    rng.shuffle(pairs)
    pkts = []
    # Blocks of 64 flows: their requests, then their replies in another
    # order, so every reply follows its request.
    for i in range(0, flows, 64):
        blk = pairs[i:i + 64]
        pkts += [p[0] for p in blk]
        rev = [p[1] for p in blk]
        rng.shuffle(rev)
        pkts += rev
    for i, pkt in enumerate(pkts):
        pkt.time = 1_700_000_000 + i / 1e6
    wrpcap(path + ".tmp", pkts)
    os.replace(path + ".tmp", path)
    return path


HS_FRAMES = 4000


def hs_literals(k, seed=7):
    rng = random.Random(seed)
    words = ("admin", "login", "cart", "static", "img", "api", "v2", "user",
             "search", "report", "export", "auth", "token", "upload")
    out = set()
    while len(out) < k:
        out.add(f"/{rng.choice(words)}/{rng.choice(words)}-{rng.getrandbits(32):08x}")
    return sorted(out)


def ensure_hyperscan(outdir, k=1000, seed=9):
    """(policy with k literal rules, policy without, pcap, frames, bytes)."""
    p_hs = os.path.join(outdir, f"hs-rules-{k}.json")
    p_none = os.path.join(outdir, "hs-none.json")
    pcap = os.path.join(outdir, "hs-traffic.pcap")
    lits = hs_literals(k)
    if not os.path.exists(p_hs):
        rules = [{"id": f"hs{i}", "proto": "tcp", "dport": 80,
                  "payload": {"literal": lit}, "action": "accept"}
                 for i, lit in enumerate(lits)]
        base = {"version": 1, "ports": PORTS, "default": "accept"}
        write(p_hs, json.dumps({**base, "rules": rules}))
        write(p_none, json.dumps({**base, "rules": []}))
    if not os.path.exists(pcap):
        from scapy.all import IP, TCP, Ether, Raw, wrpcap
        print(f"fwrules: writing {pcap} (scapy, once)", file=sys.stderr)
        rng = random.Random(seed)
        words = ("index", "news", "product", "category", "page", "item",
                 "shop", "blog", "media", "assets", "docs", "help")
        pkts = []
        for i in range(HS_FRAMES):
            size = 512 if i % 2 == 0 else 1500
            path = "/" + "/".join(rng.choice(words) for _ in range(3))
            if rng.random() < 0.01:
                path = rng.choice(lits) + path
            hdr = Ether(dst=DST_MAC, src=SRC_MAC) / IP(
                src=f"172.16.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                dst=f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}") / TCP(
                sport=rng.randrange(1024, 65536), dport=80, flags="PA")
            body = (f"GET {path}?id={rng.getrandbits(40)} HTTP/1.1\r\n"
                    f"Host: www.example{rng.randrange(100)}.com\r\n"
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) "
                    "Gecko/20100101 Firefox/115.0\r\n"
                    "Accept: text/html,application/xhtml+xml,application/xml;"
                    "q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
                    "Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n"
                    "Cookie: session=")
            room = size - len(hdr) - 4
            body = body[:room]
            body += "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                            for _ in range(room - len(body))) + "\r\n\r\n"
            pkt = hdr / Raw(body.encode())
            assert len(bytes(pkt)) == size, (len(bytes(pkt)), size)
            pkt.time = 1_700_000_000 + i / 1e6
            pkts.append(pkt)
        wrpcap(pcap + ".tmp", pkts)
        os.replace(pcap + ".tmp", pcap)
    return p_hs, p_none, pcap


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--rules", default="1000,10000,100000")
    ap.add_argument("--flows", type=int, default=10000)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for n in a.rules.split(","):
        for v in ensure_rules(a.outdir, int(n)).values():
            print(v)
    print(ensure_traffic(a.outdir, a.flows))
    for v in ensure_hyperscan(a.outdir):
        print(v)


if __name__ == "__main__":
    main()
