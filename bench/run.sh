#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The Sluice dataplane benchmark: one entry point.
#
#   bench/run.sh [bench_dataplane.py options]     (as root)
#
# Reserves 2 MB hugepages (deploy/hugepages.sh), builds DPDK's l3fwd out of
# tree (bench/l3fwd/build.sh), makes the traffic pcap once (scapy, under
# the build directory), then runs bench/bench_dataplane.py with the Debian
# python: testpmd io forwarding (the ceiling), l3fwd LPM and
# sluice-dataplane once per parser variant, net_pcap -> net_null, one
# worker lcore, 64-byte frames; prints Mpps, cycles per packet and ratios,
# then bench_parse's figures when build/bench_parse exists.
# Options: bench/run.sh --help.  BUILD=DIR picks the meson build directory
# (default build); the Sluice binaries are not built here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${BUILD:-$repo/build}
python=${PYTHON:-/usr/bin/python3}

case " $* " in
*" -h "*|*" --help "*) exec "$python" "$here/bench_dataplane.py" --help ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (hugepages and DPDK need it)" >&2
	exit 1
fi
if ! "$python" -c 'import scapy' 2>/dev/null; then
	echo "bench: $python has no scapy: install the Debian package python3-scapy" >&2
	exit 1
fi

if [ -x "$repo/deploy/hugepages.sh" ]; then
	"$repo/deploy/hugepages.sh" 1024
else
	# Inline fallback while deploy/hugepages.sh is not there.
	if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt 1024 ]; then
		echo 1024 >/proc/sys/vm/nr_hugepages
	fi
	if ! awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" { f = 1 } END { exit !f }' /proc/mounts; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	fi
fi

l3fwd=$("$here/l3fwd/build.sh" "$build/bench-work/l3fwd" | tail -1)

exec "$python" "$here/bench_dataplane.py" --build "$build" --l3fwd "$l3fwd" \
	--json "$build/bench-work/results.json" "$@"
