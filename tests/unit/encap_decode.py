#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Decode the encapsulated frames of a pcap with two decoders nobody here
wrote, tshark and scapy, and print what each of them sees, one line per
frame and decoder, for test_encap to compare with what it built:

    DECODER N KIND ID sport=S ip=CK df=DF udp=CK ttl=T len=L inner=HEX
        expert=E                                        (on one line)

KIND vxlan|geneve|gre; ID vni=V or key=K (key=- without a key); sport the
outer UDP source port (- for GRE); ip the outer IPv4 header checksum (good,
bad; - over IPv6); udp the outer UDP checksum (good, bad, zero; - for GRE);
len ok when the outer IP and UDP lengths match the frame, else bad; inner
the bytes of the frame the decoder found inside the tunnel; expert
tshark's expert items (none when it has none; always none for scapy).

Exit 0, 77 when tshark or scapy is missing, 1 on any other trouble.
"""
import json
import shutil
import subprocess
import sys

TSHARK_PREFS = [
    "-o", "ip.check_checksum:TRUE",
    "-o", "udp.check_checksum:TRUE",
    "-o", "tcp.check_checksum:TRUE",
    # Single packets of a flow: no sequence analysis notes.
    "-o", "tcp.analyze_sequence_numbers:FALSE",
]

# Wireshark's proto_checksum_enum_e.
CK_STATUS = {"0": "bad", "1": "good", "2": "unverified", "3": "zero"}


def first(v):
    return v[0] if isinstance(v, list) else v


def find_keys(obj, name, out):
    """Every value under the key name (not its _raw twin), anywhere."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == name:
                out.append(v)
            find_keys(v, name, out)
    elif isinstance(obj, list):
        for v in obj:
            find_keys(v, name, out)
    return out


def ck_status(layer, name):
    """The checksum status tshark gives the field name in this layer."""
    found = find_keys(layer, name + ".status", [])
    return CK_STATUS.get(found[0], "?") if len(found) == 1 else "?"


def each_frame(decoder, frames, decode):
    """decode(n, frame) for each frame; a frame it cannot make sense of
    gives a line that says why, which test_encap then reports."""
    lines = []
    for n, frame in enumerate(frames):
        try:
            lines.append(decode(n, frame))
        except (KeyError, IndexError, TypeError, ValueError,
                AttributeError) as e:
            lines.append("%s %d undecodable: %s: %s" %
                         (decoder, n, type(e).__name__, e))
    return lines


def tshark_lines(path):
    cmd = ["tshark", "-r", path, "-T", "json", "-x", "--no-duplicate-keys"]
    out = subprocess.run(cmd + TSHARK_PREFS, check=True,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    return each_frame("tshark", json.loads(out), tshark_one)


def tshark_one(n, pkt):
    L = pkt["_source"]["layers"]
    raw = bytes.fromhex(L["frame_raw"][0])
    protos = L["frame"]["frame.protocols"].split(":")
    # eth:ethertype:ip|ipv6:udp:vxlan|geneve:eth:... or
    # eth:ethertype:ip|ipv6:gre:eth:...
    outer, l4 = protos[2], protos[3]
    kind = protos[4] if l4 == "udp" else l4
    ip = first(L[outer])
    f = {"sport": "-", "ip": "-", "df": "-", "udp": "-"}
    if outer == "ip":
        f["ip"] = ck_status(ip, "ip.checksum")
        f["df"] = ip["ip.flags_tree"]["ip.flags.df"]
        f["ttl"] = ip["ip.ttl"]
        ip_len = int(ip["ip.len"])
    else:
        f["ttl"] = ip["ipv6.hlim"]
        ip_len = int(ip["ipv6.plen"]) + 40
    ok = ip_len == len(raw) - 14
    if l4 == "udp":
        udp = first(L["udp"])
        f["sport"] = udp["udp.srcport"]
        f["udp"] = ck_status(udp, "udp.checksum")
        ok = ok and int(udp["udp.length"]) == ip_len - (
            20 if outer == "ip" else 40)
    if kind == "vxlan":
        ident = "vni=%d" % int(L["vxlan"]["vxlan.vni"], 0)
    elif kind == "geneve":
        ident = "vni=%d" % int(L["geneve"]["geneve.vni"], 0)
    else:
        key = L["gre"].get("gre.key")
        ident = "key=%d" % int(key, 0) if key is not None else "key=-"
    # The inner Ethernet header is the second one; its raw entry gives
    # where tshark found it.
    eth_raw = L["eth_raw"]
    if isinstance(eth_raw[0], str):
        eth_raw = [eth_raw]  # only the outer one
    inner_at = eth_raw[1][1]
    expert = find_keys(L, "_ws.expert", []) + \
        find_keys(L, "_ws.malformed", [])
    return ("tshark %d %s %s sport=%s ip=%s df=%s udp=%s ttl=%s "
            "len=%s inner=%s expert=%s" %
            (n, kind, ident, f["sport"], f["ip"], f["df"], f["udp"],
             f["ttl"], "ok" if ok else "bad", raw[inner_at:].hex(),
             "none" if not expert else
             json.dumps(expert, separators=(",", ":"))))


def scapy_lines(path):
    from scapy.all import rdpcap, raw, load_contrib
    from scapy.layers.inet import IP, UDP, in4_chksum
    from scapy.layers.inet6 import IPv6, in6_chksum
    from scapy.layers.l2 import GRE
    from scapy.layers.vxlan import VXLAN
    from scapy.utils import checksum
    load_contrib("geneve")
    from scapy.contrib.geneve import GENEVE

    def one(n, p):
        frame = raw(p)
        ip = p.payload
        f = {"sport": "-", "ip": "-", "df": "-", "udp": "-"}
        if isinstance(ip, IP):
            hdr = bytearray(frame[14:14 + ip.ihl * 4])
            hdr[10:12] = b"\0\0"
            f["ip"] = "good" if checksum(bytes(hdr)) == ip.chksum else "bad"
            f["df"] = "1" if ip.flags.DF else "0"
            ttl, ip_len, ip_hdr = ip.ttl, ip.len, ip.ihl * 4
        elif isinstance(ip, IPv6):
            ttl, ip_len, ip_hdr = ip.hlim, ip.plen + 40, 40
        else:
            raise ValueError("frame %d: no outer IP" % n)
        ok = ip_len == len(frame) - 14
        l4 = ip.payload
        if isinstance(l4, UDP):
            f["sport"] = str(l4.sport)
            ok = ok and l4.len == ip_len - ip_hdr
            if l4.chksum == 0:
                f["udp"] = "zero"
            else:
                # Recompute over the bytes as they are, checksum zeroed.
                u = bytearray(frame[14 + ip_hdr:14 + ip_hdr + l4.len])
                u[6:8] = b"\0\0"
                if isinstance(ip, IPv6):
                    want = in6_chksum(17, ip, bytes(u))
                else:
                    want = in4_chksum(17, ip, bytes(u))
                want = want or 0xffff
                f["udp"] = "good" if want == l4.chksum else "bad"
            tun = l4.payload
        else:
            tun = l4
        if isinstance(tun, VXLAN):
            kind, ident = "vxlan", "vni=%d" % tun.vni
        elif isinstance(tun, GENEVE):
            kind, ident = "geneve", "vni=%d" % tun.vni
        elif isinstance(tun, GRE):
            kind = "gre"
            ident = "key=%d" % tun.key if tun.key_present else "key=-"
        else:
            kind, ident = type(tun).__name__, "?"
        return ("scapy %d %s %s sport=%s ip=%s df=%s udp=%s ttl=%d "
                "len=%s inner=%s expert=none" %
                (n, kind, ident, f["sport"], f["ip"], f["df"], f["udp"],
                 ttl, "ok" if ok else "bad", raw(tun.payload).hex()))

    return each_frame("scapy", rdpcap(path), one)


def main():
    if len(sys.argv) != 2:
        print("usage: encap_decode.py FILE.pcap", file=sys.stderr)
        return 1
    if shutil.which("tshark") is None:
        print("tshark is not installed", file=sys.stderr)
        return 77
    try:
        import scapy.all  # noqa: F401
    except ImportError:
        print("scapy is not installed for %s" % sys.executable,
              file=sys.stderr)
        return 77
    for line in tshark_lines(sys.argv[1]) + scapy_lines(sys.argv[1]):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
