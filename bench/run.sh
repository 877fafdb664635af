#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The Sluice dataplane benchmark: one entry point.
#
#   bench/run.sh [bench_dataplane.py options]            (as root)
#   bench/run.sh firewall [bench_firewall.py options]    (issue 3)
#   bench/run.sh route [bench_route.py options]          (issue 4)
#   bench/run.sh replication [bench_replication.py options] (issue 5)
#   bench/run.sh api [bench_api.py options]              (issue 6)
#   bench/run.sh xdp [bench_xdp.py options]              (issue 7)
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

script=bench_dataplane.py
json=results.json
if [ "${1:-}" = firewall ]; then
	# The firewall benchmark (issue 3): testpmd io, l3fwd --lookup acl,
	# sluice-dataplane --policy (1k/10k/100k rules, conntrack on/off),
	# OVS-DPDK with the same rules as OpenFlow flows, 1k Hyperscan
	# literals, bench_fw.  bench/README.md, "Firewall".
	shift
	script=bench_firewall.py
	json=results-firewall.json
elif [ "${1:-}" = route ]; then
	# The routing benchmark (issue 4): testpmd io, l3fwd LPM and FIB and
	# sluice-dataplane with a 1M-route Internet-shaped table, load times
	# from the policy and from a kernel table (bench_route.py says how;
	# results: bench/ROUTE_RESULTS.md, for docs/PERFORMANCE.md).
	shift
	script=bench_route.py
	json=results-route.json
elif [ "${1:-}" = replication ]; then
	# The replication benchmark (issue 5): testpmd io, sluice-dataplane
	# with no replication, replicate R = 1, 2, 3 and steer to 4 net_null
	# targets, then test_maglev's table build times (results:
	# bench/REPLICATION_RESULTS.md).
	shift
	script=bench_replication.py
	json=results-replication.json
elif [ "${1:-}" = api ]; then
	# The control-plane benchmark (issue 6): PUT /v1/config of 10k rules
	# and of 1M routes, request to active in the dataplane, and GET
	# /v1/status latency with wrk at 1,000 requests a second.
	shift
	script=bench_api.py
	json=results-api.json
elif [ "${1:-}" = xdp ]; then
	# The XDP benchmark (issue 7): XDP_DROP, xdp-filter, nftables (a chain
	# and a set) and sluice-xdp with 1k rules on one veth pair, fed by a
	# BPF_PROG_RUN live-frames sender.  No hugepages, DPDK or scapy: it
	# runs here and now (bench_xdp.py --help says how).
	shift
	mkdir -p "$build/bench-work"
	exec "$python" "$here/bench_xdp.py" --build "$build" \
		--json "$build/bench-work/results-xdp.json" "$@"
fi

case " $* " in
*" -h "*|*" --help "*) exec "$python" "$here/$script" --help ;;
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

if [ "$script" = bench_api.py ]; then
	# No DPDK peer: the figures are times and latencies of sluiced.
	exec "$python" "$here/$script" --build "$build" \
		--json "$build/bench-work/$json" "$@"
fi

l3fwd=$("$here/l3fwd/build.sh" "$build/bench-work/l3fwd" | tail -1)

if [ "$script" = bench_route.py ]; then
	# l3fwd compiles in its table sizes (65,536 routes with build.sh's
	# patch): a second build from build.sh's patched sources plus
	# l3fwd/l3fwd-lpm-1m.patch holds 2M routes in LPM and FIB mode and
	# prints one line per table instead of one per route.
	src=$(dirname "$l3fwd")/src
	out=$build/bench-work/l3fwd-lpm1m
	stamp=$(cat "$(dirname "$l3fwd")/stamp" "$here/l3fwd/l3fwd-lpm-1m.patch" |
		sha256sum | cut -c1-16)
	if [ ! -x "$out/l3fwd" ] || [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ]; then
		echo "bench: building l3fwd with room for 1M routes in $out" >&2
		rm -rf "$out"
		mkdir -p "$out"
		cp -r "$src" "$out/src"
		rm -rf "$out/src/l3fwd/build"
		(cd "$out/src/l3fwd" && patch -p1 --forward --quiet) \
			<"$here/l3fwd/l3fwd-lpm-1m.patch"
		make -C "$out/src/l3fwd" -j"$(nproc)" shared >"$out/make.log" 2>&1 || {
			tail -30 "$out/make.log" >&2
			echo "bench: make failed (log: $out/make.log)" >&2
			exit 1
		}
		cp "$out/src/l3fwd/build/l3fwd-shared" "$out/l3fwd"
		echo "$stamp" >"$out/stamp"
	fi
	l3fwd=$out/l3fwd
fi

if [ "$script" = bench_firewall.py ]; then
	# OVS with DPDK is only a peer to measure against: installed here,
	# never started by systemd (bench_firewall.py runs its own
	# ovsdb-server and ovs-vswitchd under build/bench-work/ovs and stops
	# them by PID).
	if [ ! -x /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk ]; then
		echo "bench: installing Open vSwitch with DPDK (Debian package" \
			"openvswitch-switch-dpdk) as the OVS-DPDK peer;" \
			"SLUICE_BENCH_NO_INSTALL=1 skips it" >&2
		if [ -z "${SLUICE_BENCH_NO_INSTALL:-}" ]; then
			DEBIAN_FRONTEND=noninteractive apt-get install -y \
				--no-install-recommends openvswitch-switch-dpdk >&2 ||
				echo "bench: openvswitch-switch-dpdk did not install;" \
					"the OVS-DPDK runs will be skipped" >&2
		fi
	fi
fi

exec "$python" "$here/$script" --build "$build" --l3fwd "$l3fwd" \
	--json "$build/bench-work/$json" "$@"
