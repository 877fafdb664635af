#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build DPDK's l3fwd example out of tree, as the peer for bench/run.sh.
#
#   bench/l3fwd/build.sh [OUTDIR]     (default build/bench-work/l3fwd)
#
# Copies the example sources that Debian's dpdk-doc ships
# (/usr/share/dpdk/examples/l3fwd and ../common) into OUTDIR/src, applies
# l3fwd-virtual-ports.patch, and builds OUTDIR/l3fwd with the example's own
# Makefile (pkg-config libdpdk, -O3, DPDK's -march).  The patch does three
# things and nothing else:
#   1. masks the requested RX/TX offloads to what the device offers
#      (l3fwd asks for RX checksum offload, which net_pcap and net_null
#      refuse; 22.11 already masks the RSS hash functions);
#   2. raises IPV4/IPV6_L3FWD_LPM_MAX_RULES from 1024 to 65536 so that the
#      benchmark's route file (4096 routes) loads;
#   3. raises MAX_ACL_RULE_NUM (--lookup acl) from 100000 to 200000 so the
#      firewall benchmark's 100,000-rule file plus its route lines loads.
# DPDK's source is never committed here: only the patch.  Rebuilds only
# when the sources, the patch or this script changed.  Prints the path of
# the binary on its last line.
set -euo pipefail

prog=l3fwd-build
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
examples=${DPDK_EXAMPLES:-/usr/share/dpdk/examples}
out=${1:-$repo/build/bench-work/l3fwd}
patchfile=$here/l3fwd-virtual-ports.patch

if [ ! -f "$examples/l3fwd/main.c" ]; then
	echo "$prog: $examples/l3fwd is missing: install the Debian package dpdk-doc" >&2
	exit 1
fi
if ! pkg-config --exists libdpdk; then
	echo "$prog: pkg-config finds no libdpdk: install the Debian package libdpdk-dev" >&2
	exit 1
fi
for tool in make cc patch; do
	if ! command -v "$tool" >/dev/null; then
		echo "$prog: '$tool' is missing: install the Debian package build-essential (and patch)" >&2
		exit 1
	fi
done

# Fingerprint of everything the binary depends on.
stamp=$( { cat "$examples"/l3fwd/* "$examples"/common/*.h 2>/dev/null
	   cat "$patchfile" "$0"; pkg-config --modversion libdpdk; } | sha256sum | cut -c1-16)
if [ -x "$out/l3fwd" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$prog: $out/l3fwd is up to date" >&2
	echo "$out/l3fwd"
	exit 0
fi

rm -rf "$out/src"
mkdir -p "$out/src"
cp -r "$examples/l3fwd" "$out/src/l3fwd"
cp -r "$examples/common" "$out/src/common"
if ! (cd "$out/src/l3fwd" && patch -p1 --forward --quiet <"$patchfile"); then
	echo "$prog: $patchfile does not apply to $examples/l3fwd" \
		"(DPDK $(pkg-config --modversion libdpdk)); the patch is for 22.11" >&2
	exit 1
fi
# The patch must have taken: a silent no-op would leave l3fwd refusing the
# route file or the ports.
grep -q 'IPV4_L3FWD_LPM_MAX_RULES         (1 << 16)' "$out/src/l3fwd/l3fwd_lpm.c"
grep -q 'rxmode.offloads &= dev_info.rx_offload_capa' "$out/src/l3fwd/main.c"
grep -q 'MAX_ACL_RULE_NUM	200000' "$out/src/l3fwd/l3fwd_acl.h"

echo "$prog: building l3fwd (DPDK $(pkg-config --modversion libdpdk)) in $out/src/l3fwd" >&2
make -C "$out/src/l3fwd" -j"$(nproc)" shared >"$out/make.log" 2>&1 || {
	tail -30 "$out/make.log" >&2
	echo "$prog: make failed (log: $out/make.log)" >&2
	exit 1
}
cp "$out/src/l3fwd/build/l3fwd-shared" "$out/l3fwd"
echo "$stamp" >"$out/stamp"
echo "$out/l3fwd"
