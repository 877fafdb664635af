# SPDX-License-Identifier: BSD-3-Clause
"""Replication to tunnel targets, end to end (issue 5): a routed packet and
its VXLAN, GENEVE or GRE copy, as tshark and scapy decode them.

    h1 (in0 neighbour) -- in0 [sluice-dataplane, routed] up1 -- h2 (capture)

Frames to 198.51.100.0/24 enter in0; the route sends them out of up1 via
the gateway 10.1.1.16; the default action replicates one copy to a tunnel
target whose remote is up1's neighbour 10.1.1.2, reached by the connected
route.  In h2 both arrive: the routed original (to the gateway's MAC) and
the encapsulated copy (to the neighbour's MAC).  tshark (Debian's) and
scapy each decode the copy: the tunnel kind, VNI or key, the outer
addresses (source: up1's address, from the route to the remote), valid
outer checksums, and an inner frame equal to the frame as sent.
"""
import shutil
import subprocess
import time

import pytest
from scapy.all import GRE, IP, UDP, Ether, wrpcap
from scapy.contrib.geneve import GENEVE
from scapy.layers.vxlan import VXLAN

import lab
import routelab as rl

TSHARK = shutil.which("tshark")

pytestmark = [
    pytest.mark.skipif(not lab.is_root(), reason="needs root (netns, DPDK)"),
    pytest.mark.skipif(TSHARK is None, reason="needs tshark"),
]

PORTS = [("in0", 0), ("up1", 1)]
N = 40

TARGETS = {
    "vxlan": {"kind": "vxlan", "vni": 4242},
    "geneve": {"kind": "geneve", "vni": 777},
    "gre": {"kind": "gre", "key": 99},
}


def is_routed(f, gw):
    return f[:6] == rl.mac_bytes(gw.mac)


def is_copy(f, up):
    """IPv4 to the neighbour carrying UDP (VXLAN, GENEVE) or GRE."""
    return f[:6] == rl.mac_bytes(up.host_mac) and f[12:14] == b"\x08\x00" and \
        f[23] in (17, 47)


def inner_frame(f, kind):
    p = Ether(f)
    layer = {"gre": GRE, "vxlan": VXLAN, "geneve": GENEVE}[kind]
    return bytes(p[layer].payload) if layer in p else None


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_tunnel_copy_decodes_in_tshark_and_scapy(tmp_path, kind):
    rlab = rl.RouteLab(PORTS, hosts_ip=True).create()
    try:
        inp, up = rlab.ports
        gw = up.gateways[0]
        target = dict(TARGETS[kind], remote=up.host_ip4)
        policy = rlab.policy(routes=[{"prefix": "198.51.100.0/24",
                                      "nexthops": [{"gateway": gw.ip4, "port": "up1"}]}],
                             max_routes=(65536, 16384))
        policy["default"] = {"replicate": {"group": "taps", "copies": 1}}
        policy["groups"] = [{"name": "taps", "targets": [target]}]
        rlab.start_dataplane(lab.dataplane_binary(), str(tmp_path), policy)
        rlab.pin_gateways()
        rlab.batch([f"neigh replace {up.host_ip4} lladdr {up.host_mac} dev up1 nud permanent"])
        time.sleep(0.3)

        cap = rl.packet_socket(up.ns)
        cap.settimeout(0.2)
        tx = rl.packet_socket(inp.ns)
        sent = []
        for i in range(N):
            pkt = rl.udp_packet(inp.host_ip4, f"198.51.100.{1 + i}", 64, 40000 + i, 5000,
                                rl.tag_payload(i))
            frame = rl.ether(inp.mac, inp.host_mac, pkt)
            sent.append(frame)
            tx.send(frame)
        got = []
        deadline = time.monotonic() + 3
        filler = 0
        while time.monotonic() < deadline:
            try:
                f = cap.recv(65535)
            except OSError:
                # af_packet hands a burst's last frames to the kernel when
                # its queue is next used: keep a trickle going meanwhile.
                pkt = rl.udp_packet(inp.host_ip4, "198.51.100.250", 64, 39999, 5000,
                                    rl.tag_payload(1000 + filler))
                tx.send(rl.ether(inp.mac, inp.host_mac, pkt))
                filler += 1
                continue
            if is_routed(f, gw) and rl.frame_index(f) >= N:
                continue
            got.append(f)
        rc = rlab.dp.stop()
        assert rc == 0, rlab.dp.output[-3000:]
    finally:
        rlab.destroy()

    to_gw = [f for f in got if is_routed(f, gw)]
    # The copies of the test frames (accepted traffic of the neighbours
    # themselves, such as ND, is replicated too, and so are the fillers).
    sent_set = set(sent)
    copies = [f for f in got if is_copy(f, up) and inner_frame(f, kind) in sent_set]
    st = rlab.dp.stats()
    missing = sorted(set(range(N)) - {rl.frame_index(f) for f in to_gw})
    assert len(to_gw) == N, f"{len(to_gw)} routed of {N}, missing {missing}; {st['ports']}"
    assert len(copies) == N, f"{len(copies)} copies of {N}"
    assert {inner_frame(f, kind) for f in copies} == sent_set
    # (copies of the neighbours' own ND from before the tunnel's neighbour
    # was pinned may have failed: those are counted, not ours)
    assert st["replication"]["copies"] >= N

    # scapy: the tunnel, its id, the outer addresses, the inner frame.
    by_inner = set(sent)
    for f in copies:
        p = Ether(f)
        assert p[IP].src == up.ip4 and p[IP].dst == up.host_ip4
        assert p[IP].flags.DF
        chk = p[IP].chksum
        del p[IP].chksum
        assert Ether(bytes(p))[IP].chksum == chk
        if kind == "gre":
            assert p[GRE].key_present == 1 and p[GRE].key == 99
            assert p[GRE].proto == 0x6558
            inner = bytes(p[GRE].payload)
        else:
            assert 49152 <= p[UDP].sport <= 65535
            if kind == "vxlan":
                assert p[UDP].dport == 4789 and p[VXLAN].vni == 4242
                inner = bytes(p[VXLAN].payload)
            else:
                assert p[UDP].dport == 6081 and p[GENEVE].vni == 777
                inner = bytes(p[GENEVE].payload)
        assert inner in by_inner

    # tshark: decode the same frames and read the fields it names.
    pcap = tmp_path / "copies.pcap"
    wrpcap(str(pcap), [Ether(f) for f in copies])
    field = {"vxlan": "vxlan.vni", "geneve": "geneve.vni", "gre": "gre.key"}[kind]
    r = subprocess.run([TSHARK, "-r", str(pcap), "-T", "fields", "-e", field,
                        "-e", "ip.src", "-e", "ip.dst", "-e", "udp.dstport",
                        "-E", "separator=,", "-E", "aggregator=;",
                        "-o", "ip.check_checksum:TRUE"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = [l.split(",") for l in r.stdout.splitlines() if l.strip()]
    assert len(rows) == N
    want_id = {"vxlan": 4242, "geneve": 777, "gre": 99}[kind]
    for row in rows:
        assert int(row[0], 0) == want_id, row    # tshark prints some in hex
        # outer then inner IP header
        assert row[1].split(";") == [up.ip4, inp.host_ip4], row
        assert row[2].split(";")[0] == up.host_ip4, row
    r = subprocess.run([TSHARK, "-r", str(pcap), "-o", "ip.check_checksum:TRUE",
                        "-Y", "ip.checksum.status == \"Bad\" || _ws.expert.severity >= 6"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr      # a bad filter must not pass as "no bad frames"
    assert r.stdout.strip() == "", r.stdout
