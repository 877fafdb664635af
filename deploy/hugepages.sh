#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Reserve 2 MB hugepages for DPDK and mount hugetlbfs.
#
#   deploy/hugepages.sh [N]      N pages of 2 MB (default 1024 = 2 GiB)
#
# Safe to run twice: it only raises the reservation (it never shrinks one
# that is already N or larger, since running DPDK processes may hold those
# pages) and mounts /dev/hugepages only when nothing is mounted there.  It
# prints what it changed, or that nothing needed changing.  Exits 1 when the
# kernel reserves fewer pages than asked (free memory too fragmented or too
# small), leaving the reservation as it was: reserve them at boot instead
# (kernel command line `hugepages=N`), or ask for fewer.
#
# The reservation does not survive a reboot.  To make it permanent add
# `vm.nr_hugepages = N` to /etc/sysctl.d/ and the mount to /etc/fstab:
#   nodev /dev/hugepages hugetlbfs pagesize=2M 0 0
set -euo pipefail

prog=hugepages
want=${1:-1024}
mnt=/dev/hugepages
sysdir=/sys/kernel/mm/hugepages/hugepages-2048kB

case "$want" in
	-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
	''|*[!0-9]*) echo "$prog: N must be a number of 2 MB pages, got '$want'" >&2; exit 2 ;;
esac
want=$((10#$want))

if [ ! -d "$sysdir" ]; then
	echo "$prog: this kernel has no 2 MB hugepage support ($sysdir is missing)" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "$prog: run as root" >&2
	exit 1
fi

changed=0
have=$(cat "$sysdir/nr_hugepages")
if [ "$have" -ge "$want" ]; then
	echo "$prog: $have 2 MB pages reserved (asked for $want): unchanged"
else
	reserve() {
		if ! { echo "$1" >"$sysdir/nr_hugepages"; } 2>/dev/null; then
			echo "$prog: cannot write $sysdir/nr_hugepages" \
				"(read-only /sys: a container without privileges?)" >&2
			exit 1
		fi
		cat "$sysdir/nr_hugepages"
	}
	got=$(reserve "$want")
	if [ "$got" -lt "$want" ]; then
		# Fragmented memory: compact it and try once more.
		echo 1 >/proc/sys/vm/compact_memory 2>/dev/null || true
		got=$(reserve "$want")
	fi
	if [ "$got" -lt "$want" ]; then
		# Give back what a failed request took: a partial reservation
		# only locks memory away from everything else.
		reserve "$have" >/dev/null
		free_mb=$(awk '/MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
		echo "$prog: the kernel reserved only $got of $want 2 MB pages" \
			"(MemAvailable ${free_mb} MB): free memory is too small or too" \
			"fragmented; ask for fewer pages, or reserve them at boot with" \
			"hugepages=$want on the kernel command line" >&2
		exit 1
	fi
	echo "$prog: reserved $got 2 MB pages (was $have)"
	changed=1
fi

if awk -v m="$mnt" '$2 == m && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; then
	echo "$prog: hugetlbfs already mounted at $mnt: unchanged"
else
	mkdir -p "$mnt"
	if ! mount -t hugetlbfs -o pagesize=2M nodev "$mnt"; then
		echo "$prog: could not mount hugetlbfs at $mnt" >&2
		exit 1
	fi
	echo "$prog: mounted hugetlbfs at $mnt"
	changed=1
fi

free=$(cat "$sysdir/free_hugepages")
echo "$prog: $free of $(cat "$sysdir/nr_hugepages") pages free$([ $changed -eq 0 ] && echo '; nothing needed changing')"
