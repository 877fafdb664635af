#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Bind NICs to vfio-pci for the dataplane, give them back, and keep the
# choice across reboots.  A wrapper around DPDK's dpdk-devbind.py (package
# dpdk) that adds the checks an operator wants before a NIC disappears.
#
#   nic-bind.sh status                    the network devices and their drivers,
#                                         the saved choices, the default route
#   nic-bind.sh bind [OPTIONS] DEV...     bind DEV (a PCI address such as
#                                         0000:01:00.0, or an interface name)
#                                         to vfio-pci (loads the module)
#   nic-bind.sh unbind [OPTIONS] DEV...   take DEV from its driver and give it
#                                         back to its kernel driver when that
#                                         is known (saved, or --driver)
#   nic-bind.sh apply                     bind every device of the saved file
#                                         again (sluice-nic-bind.service, at boot)
#
# Options:
#   --driver DRV  bind: the driver to bind to (default vfio-pci); unbind:
#                 the kernel driver to give the device back to
#   --persist     also save the choice in the file below (bind adds or
#                 replaces the device's line, unbind removes it), so that
#                 sluice-nic-bind.service applies it at boot
#   --force       do it even to the interface carrying a default route,
#                 or to vfio-pci without an IOMMU
#   --dry-run     print the commands instead of running them (no root needed)
#
# Refusals (exit 1), each with the reason and the fix:
#   - an interface that carries a default route (IPv4 or IPv6, any table):
#     binding or unbinding it cuts this machine off the network;
#   - vfio-pci without an IOMMU (/sys/kernel/iommu_groups empty) and without
#     vfio's no-IOMMU mode: the device would not probe.
# Binding a device already on the driver changes nothing (safe to run again).
#
# The saved file (default /etc/sluice/nic-bind.conf) holds one device a line:
#   PCI-ADDRESS DRIVER KERNEL-DRIVER INTERFACE
# ("-" where unknown); lines starting with # are comments.
#
# Exit status: 0 done, 1 refused or failed, 2 bad command line.
# Environment (for tests): SL_DEVBIND (dpdk-devbind.py to run), SL_SYSFS
# (/sys), SL_NIC_BIND_CONF (the saved file).
set -euo pipefail

prog=nic-bind
sysfs=${SL_SYSFS:-/sys}
conf=${SL_NIC_BIND_CONF:-/etc/sluice/nic-bind.conf}

usage() {
	awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"
}
die() { echo "$prog: $*" >&2; exit 1; }
usage_error() {
	echo "$prog: $*" >&2
	echo "usage: $prog status | bind|unbind [--driver DRV] [--persist] [--force] [--dry-run] DEV... | apply (--help)" >&2
	exit 2
}

find_devbind() {
	if [ -n "${SL_DEVBIND:-}" ]; then
		echo "$SL_DEVBIND"
	elif command -v dpdk-devbind.py >/dev/null; then
		command -v dpdk-devbind.py
	elif [ -x /usr/bin/dpdk-devbind.py ]; then
		echo /usr/bin/dpdk-devbind.py
	else
		die "dpdk-devbind.py not found: install the Debian package dpdk (deploy/install-deps.sh)"
	fi
}

# run CMD...: run it, or print it under --dry-run.
run() {
	if [ -n "$dry_run" ]; then
		echo "would run: $*"
	else
		"$@"
	fi
}

# Interfaces that carry a default route (IPv4 or IPv6, any table), one a line.
default_route_ifaces() {
	{ ip -4 route show table all default 2>/dev/null || true
	  ip -6 route show table all default 2>/dev/null || true
	} | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }' | sort -u
}

carries_default_route() {
	default_route_ifaces | grep -qxF -- "$1"
}

pci_re='^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$'

# The kernel interfaces of PCI device $1 (virtio-net puts them one level
# down, under virtioN/net/).
pci_ifaces() {
	local d=$sysfs/bus/pci/devices/$1 n
	for n in "$d"/net/* "$d"/virtio*/net/*; do
		[ -e "$n" ] && basename "$n"
	done
	return 0
}

# The driver PCI device $1 is bound to, or "-".
pci_driver() {
	local l=$sysfs/bus/pci/devices/$1/driver
	if [ -L "$l" ]; then basename "$(readlink "$l")"; else echo -; fi
}

# resolve DEV: sets dev_pci (0000:bb:dd.f) and dev_ifaces (space separated),
# after the default-route check on an interface name (which runs first, so
# an interface that is no PCI device is still refused for the right reason).
resolve() {
	local arg=$1 link
	dev_ifaces=
	if [[ $arg =~ $pci_re ]]; then
		dev_pci=$(tr 'A-F' 'a-f' <<<"$arg")
		[[ $dev_pci == ????:* ]] || dev_pci=0000:$dev_pci
		[ -e "$sysfs/bus/pci/devices/$dev_pci" ] ||
			die "$arg: no such PCI device (see: $prog status)"
		dev_ifaces=$(pci_ifaces "$dev_pci" | tr '\n' ' ')
	else
		[ -e "$sysfs/class/net/$arg" ] ||
			die "$arg: neither a PCI address nor a network interface (see: $prog status)"
		dev_ifaces=$arg
		check_default_route "$arg"
		link=$sysfs/class/net/$arg/device
		[ -L "$link" ] ||
			die "$arg: not a PCI device (a virtual interface: veth, bridge, tap...); use it with --vdev net_af_packet0,iface=$arg or net_af_xdp instead"
		dev_pci=$(basename "$(readlink -f "$link")")
		if ! [[ $dev_pci =~ $pci_re ]]; then
			# virtio-net: class/net/IF/device is the virtio device; its
			# parent is the PCI function.
			dev_pci=$(basename "$(dirname "$(readlink -f "$link")")")
		fi
		[[ $dev_pci =~ $pci_re ]] && [ -e "$sysfs/bus/pci/devices/$dev_pci" ] ||
			die "$arg: not a PCI device"
		return 0
	fi
	local i
	for i in $dev_ifaces; do
		check_default_route "$i"
	done
}

check_default_route() {
	if carries_default_route "$1"; then
		if [ -n "$force" ]; then
			echo "$prog: warning: $1 carries the default route; going on (--force)" >&2
		else
			die "refusing: $1 carries the default route, and taking it from its kernel driver cuts this machine off the network (and your session with it). Move the default route to another interface first, or pass --force if you know the way back (a console)."
		fi
	fi
}

iommu_ok() {
	[ -n "$(ls -A "$sysfs/kernel/iommu_groups" 2>/dev/null)" ] && return 0
	[ "$(cat "$sysfs/module/vfio/parameters/enable_unsafe_noiommu_mode" 2>/dev/null)" = Y ]
}

ensure_module() {
	local drv=$1 mod=${1//-/_}
	[ -d "$sysfs/bus/pci/drivers/$drv" ] && return 0
	run modprobe "$mod" || die "modprobe $mod failed: is the module built for this kernel ($(uname -r))?"
}

# save_line PCI [LINE]: replace PCI's line in the saved file with LINE
# (remove it when LINE is empty), atomically.
save_line() {
	local pci=$1 line=${2:-} tmp
	if [ -n "$dry_run" ]; then
		if [ -n "$line" ]; then echo "would save in $conf: $line"
		else echo "would remove $pci from $conf"; fi
		return 0
	fi
	mkdir -p "$(dirname "$conf")"
	tmp=$(mktemp "$conf.XXXXXX")
	{
		if [ -f "$conf" ]; then
			awk -v p="$pci" '$1 != p' "$conf"
		else
			echo "# Written by nic-bind.sh --persist; applied at boot by sluice-nic-bind.service."
			echo "# PCI-ADDRESS DRIVER KERNEL-DRIVER INTERFACE   (\"-\": unknown)"
		fi
		[ -n "$line" ] && echo "$line"
	} >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$conf"
	if [ -n "$line" ]; then echo "$prog: saved in $conf: $line"
	else echo "$prog: removed $pci from $conf"; fi
}

# The saved line of PCI, or nothing.
saved_line() {
	[ -f "$conf" ] && awk -v p="$1" '$1 == p { print; exit }' "$conf"
	return 0
}

need_root() {
	[ -n "$dry_run" ] || [ "$(id -u)" -eq 0 ] || die "run as root (or try --dry-run)"
}

do_bind() {
	local arg=$1 cur kdrv
	resolve "$arg"
	cur=$(pci_driver "$dev_pci")
	if [ "$driver" = vfio-pci ] && ! iommu_ok; then
		if [ -n "$force" ]; then
			echo "$prog: warning: no IOMMU and no vfio no-IOMMU mode; binding anyway (--force)" >&2
		else
			die "refusing: $dev_pci: vfio-pci needs an IOMMU ($sysfs/kernel/iommu_groups is empty). On bare metal add intel_iommu=on iommu=pt (Intel) or iommu=pt (AMD) to the kernel command line and reboot; in a VM without a vIOMMU enable vfio's no-IOMMU mode: modprobe vfio enable_unsafe_noiommu_mode=1 (docs/virtio.md)."
		fi
	fi
	kdrv=$cur
	if [ "$cur" = "$driver" ]; then
		# Keep the kernel driver recorded earlier, if any.
		kdrv=$(saved_line "$dev_pci" | awk '{ print $3 }')
		echo "$prog: $dev_pci is already bound to $driver: unchanged"
	else
		ensure_module "$driver"
		local i
		for i in $dev_ifaces; do
			ip link show dev "$i" >/dev/null 2>&1 || continue
			run ip link set dev "$i" down || die "ip link set dev $i down failed"
		done
		run "$devbind" ${force:+--force} --bind="$driver" "$dev_pci" ||
			die "$devbind --bind=$driver $dev_pci failed (its message is above)"
		[ -n "$dry_run" ] || echo "$prog: $dev_pci (${dev_ifaces:-no interface}) bound to $driver (was ${cur/-/no driver})"
	fi
	if [ -n "$persist" ]; then
		local ifn
		ifn=$(awk '{ print $1 }' <<<"$dev_ifaces")
		[ -n "$ifn" ] || ifn=$(saved_line "$dev_pci" | awk '{ print $4 }')
		save_line "$dev_pci" "$dev_pci $driver ${kdrv:--} ${ifn:--}"
	fi
}

do_unbind() {
	local arg=$1 cur back
	resolve "$arg"
	cur=$(pci_driver "$dev_pci")
	back=$driver_given
	[ -n "$back" ] || back=$(saved_line "$dev_pci" | awk '$3 != "-" { print $3 }')
	if [ "$cur" = - ] && [ -z "$back" ]; then
		echo "$prog: $dev_pci has no driver: unchanged"
	elif [ -n "$back" ] && [ "$cur" = "$back" ]; then
		echo "$prog: $dev_pci is already bound to $back: unchanged"
	elif [ -n "$back" ]; then
		ensure_module "$back"
		run "$devbind" ${force:+--force} --bind="$back" "$dev_pci" ||
			die "$devbind --bind=$back $dev_pci failed (its message is above)"
		[ -n "$dry_run" ] || echo "$prog: $dev_pci given back to $back (was ${cur/-/no driver})"
	else
		run "$devbind" ${force:+--force} --unbind "$dev_pci" ||
			die "$devbind --unbind $dev_pci failed (its message is above)"
		[ -n "$dry_run" ] || echo "$prog: $dev_pci unbound from $cur; its kernel driver is not known: give it with --driver DRV (for example ixgbe, i40e, ice, virtio-pci)"
	fi
	if [ -n "$persist" ]; then
		save_line "$dev_pci" ""
	fi
}

do_apply() {
	local n=0 failed=0 pci drv rest
	[ -f "$conf" ] || { echo "$prog: no $conf: nothing to apply"; return 0; }
	while read -r pci drv rest; do
		case "$pci" in ''|'#'*) continue ;; esac
		if ! [[ $pci =~ $pci_re ]] || [ -z "$drv" ]; then
			echo "$prog: $conf: bad line: $pci $drv $rest" >&2
			failed=$((failed + 1))
			continue
		fi
		n=$((n + 1))
		driver=$drv
		if ! (do_bind "$pci"); then
			failed=$((failed + 1))
		fi
	done <"$conf"
	echo "$prog: applied $conf: $n devices, $failed failed"
	[ $failed -eq 0 ]
}

do_status() {
	"$devbind" --status-dev net 2>/dev/null || "$devbind" --status-dev net
	echo
	local r
	r=$(default_route_ifaces | tr '\n' ' ')
	echo "Default route via: ${r:-none}  (nic-bind.sh refuses to take these from the kernel)"
	if iommu_ok; then
		echo "IOMMU: on ($(ls "$sysfs/kernel/iommu_groups" | wc -l) groups, or vfio no-IOMMU mode)"
	else
		echo "IOMMU: off: vfio-pci cannot drive a device (see nic-bind.sh --help)"
	fi
	if [ -f "$conf" ]; then
		echo "Saved for boot ($conf):"
		grep -v '^[[:space:]]*\(#\|$\)' "$conf" | sed 's/^/  /' || echo "  (none)"
	else
		echo "Saved for boot: none ($conf does not exist)"
	fi
}

# --- command line ---------------------------------------------------------
cmd=
driver=vfio-pci
driver_given=
persist=
force=
dry_run=
devs=()
while [ $# -gt 0 ]; do
	case "$1" in
		-h|--help) usage; exit 0 ;;
		--driver) [ $# -ge 2 ] || usage_error "--driver needs a driver name"
			  driver=$2; driver_given=$2; shift ;;
		--driver=*) driver=${1#*=}; driver_given=$driver ;;
		--persist) persist=1 ;;
		--force) force=1 ;;
		--dry-run|-n) dry_run=1 ;;
		-*) usage_error "unknown option '$1'" ;;
		*) if [ -z "$cmd" ]; then cmd=$1; else devs+=("$1"); fi ;;
	esac
	shift
done
[[ $driver =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "--driver: '$driver' is not a driver name"

case "$cmd" in
	status)
		[ ${#devs[@]} -eq 0 ] || usage_error "status takes no devices"
		devbind=$(find_devbind)
		do_status ;;
	bind|unbind)
		[ ${#devs[@]} -gt 0 ] || usage_error "$cmd needs a PCI address or an interface name"
		need_root
		devbind=$(find_devbind)
		for d in "${devs[@]}"; do
			"do_$cmd" "$d"
		done ;;
	apply)
		[ ${#devs[@]} -eq 0 ] || usage_error "apply takes no devices (it reads $conf)"
		need_root
		devbind=$(find_devbind)
		do_apply ;;
	"") usage_error "no command" ;;
	*) usage_error "unknown command '$cmd'" ;;
esac
