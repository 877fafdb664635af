#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The demo lab: takes a fresh Debian 12 machine (as root) to sluiced and
# sluice-dataplane forwarding between two hosts, shows traffic crossing,
# prints the counters (sluicectl and the dataplane's own) and cleans
# everything up.
#
#   deploy/lab.sh [--backend dpdk|xdp] [--hold] [--no-huge] [--no-setup]
#
#   netns sl-lab-h1                root namespace                netns sl-lab-h2
#   eth0 10.77.0.1/24 --veth-- sl-lab-p0 = port 0 (net_af_packet0)
#                      sluiced --config lab policy  <- sluicectl
#                                  | pushes the policy (--controller)
#                                  sluice-dataplane, ports 0 and 1 cross-connected
#                              sl-lab-p1 = port 1 (net_af_packet1) --veth-- eth0 10.77.0.2/24
#
# Steps: install the Debian packages (deploy/install-deps.sh), build build/
# (deploy/build.sh), reserve 2 MB hugepages (deploy/hugepages.sh); then
# tests/system/lab.py creates the hosts and veth pairs, starts sluiced with
# the lab's firewall policy and the dataplane connected to it (EAL: -l
# <first two CPUs> --no-pci --huge-dir /dev/hugepages), pings both ways,
# sends a paced burst of 2000 UDP and 1000 TCP frames plus 40 malformed
# ones and 100 the policy drops from h1 to h2, shows `sluicectl status`,
# `stats` and `rule list`, stops the dataplane with SIGINT and sluiced,
# prints the dataplane's counters, and checks them against the hosts'
# kernel counters.
#
#   --backend xdp  the same policy job on the XDP backend instead
#               (tests/system/lab_xdp.py): sluiced --backend xdp on a router
#               namespace between 10.78.1.0/24 and 10.78.2.0/24 judges
#               every packet, routes in XDP and copies UDP port 5000 to a
#               monitor namespace; no DPDK, no hugepages
#   --hold      keep the lab up after the demo traffic, until Ctrl-C
#   --no-huge   run EAL without hugepages (--no-huge -m 512)
#   --no-setup  skip installing, building and reserving hugepages
#
# Exit status 0 when the traffic crossed and every check held.  A lab left
# over from a killed run is removed first; on exit or Ctrl-C the lab stops
# only the dataplane and sluiced it started and deletes only its own
# namespaces and veths (the sl-lab-* names above).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

hold=
huge=1
backend=dpdk
setup=1
while [ $# -gt 0 ]; do
	a=$1
	shift
	case "$a" in
		--backend)
			backend=${1:-}
			shift || true
			case "$backend" in
				dpdk|xdp) ;;
				*) echo "lab: --backend takes dpdk or xdp" >&2; exit 2 ;;
			esac
			;;
		--hold) hold=1 ;;
		--no-huge) huge= ;;
		--no-setup) setup= ;;
		-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
		*) echo "lab: unknown argument '$a' (see --help)" >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "lab: run as root (network namespaces, veth pairs, DPDK)" >&2
	exit 1
fi

if [ -n "$setup" ]; then
	deploy/install-deps.sh
	deploy/build.sh -q release
	if [ -n "$huge" ] && [ "$backend" = dpdk ]; then
		deploy/hugepages.sh
	fi
	if [ "$backend" = xdp ]; then
		deploy/bpffs.sh
	fi
fi

if [ "$backend" = xdp ]; then
	trap '/usr/bin/python3 tests/system/lab_xdp.py cleanup >/dev/null 2>&1 || true' EXIT
	args=(demo)
	[ -n "$hold" ] && args+=(--hold)
	/usr/bin/python3 tests/system/lab_xdp.py "${args[@]}"
	exit $?
fi

args=(demo)
[ -n "$hold" ] && args+=(--hold)
[ -z "$huge" ] && args+=(--no-huge)

# lab.py cleans up after itself; this is the safety net for a lab.py that
# was killed outright.  It only touches the sl-lab-* objects and the
# dataplane recorded in /run/sluice-lab/dataplane.pid.
trap '/usr/bin/python3 tests/system/lab.py cleanup >/dev/null 2>&1 || true' EXIT

/usr/bin/python3 tests/system/lab.py "${args[@]}"
