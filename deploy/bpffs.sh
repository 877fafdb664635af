#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Mount the BPF filesystem at /sys/fs/bpf and create /sys/fs/bpf/sluice,
# where the XDP program's maps are pinned (so forwarding survives a restart
# of sluiced).  Safe to run twice; says what it changed.  Neither survives a
# reboot: add `bpffs /sys/fs/bpf bpf defaults 0 0` to /etc/fstab (systemd
# mounts it on its own) and run this again.
set -euo pipefail

prog=bpffs
mnt=/sys/fs/bpf
dir=$mnt/sluice

case "${1:-}" in
	"") ;;
	-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
	*) echo "$prog: no arguments expected" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "$prog: run as root" >&2
	exit 1
fi

changed=0
if awk -v m="$mnt" '$2 == m && $3 == "bpf" { found = 1 } END { exit !found }' /proc/mounts; then
	:
else
	mkdir -p "$mnt"
	if ! mount -t bpf -o mode=0700 bpffs "$mnt"; then
		echo "$prog: could not mount the BPF filesystem at $mnt" \
			"(kernel without CONFIG_BPF_SYSCALL, or no permission)" >&2
		exit 1
	fi
	echo "$prog: mounted bpffs at $mnt"
	changed=1
fi

if [ ! -d "$dir" ]; then
	mkdir -m 0700 "$dir"
	echo "$prog: created $dir"
	changed=1
fi

if [ $changed -eq 0 ]; then
	echo "$prog: bpffs mounted at $mnt and $dir present: nothing needed changing"
fi
