#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Install every Debian 12 package Sluice needs to build, test and run.
#
#   deploy/install-deps.sh          install what is missing (as root)
#   deploy/install-deps.sh --check  list what is missing, install nothing
#                                   (exit 1 when something is missing)
#   deploy/install-deps.sh --list   print the package list and exit
#
# Safe to run any number of times.  Silent when everything is already
# installed; otherwise it says which packages it installed.  It runs
# `apt-get update` only when a missing package has no install candidate in
# the local package lists (a fresh machine) or when the install fails
# because the lists are stale.
#
# Services: etcd-server and bird2 ship daemons that Debian would start on
# install.  The tests start their own instances on loopback, so while it
# installs packages this script holds service starts back with a temporary
# /usr/sbin/policy-rc.d (only when none exists already).  Nothing is
# disabled: start them yourself if you want them.
set -euo pipefail

prog=install-deps

# One package per line, with why Sluice needs it.
packages=(
	# build
	meson ninja-build pkg-config gcc
	clang llvm lld          # fuzz build, BPF objects (clang -target bpf)
	libclang-rt-14-dev      # ASan/UBSan/libFuzzer runtimes for clang 14
	libdpdk-dev dpdk dpdk-dev  # dpdk-dev: dpdk-testpmd (benchmark ceiling)
	dpdk-doc                # DPDK example sources (l3fwd, benchmark peer)
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libxxhash-dev libjansson-dev libyaml-dev libmicrohttpd-dev
	libcurl4-openssl-dev libmnl-dev libcmocka-dev libpcap-dev
	# test and run
	python3-scapy python3-pytest python3-pytest-timeout tshark tcpdump
	nftables conntrack     # firewall oracle: nft rules, conntrack -F between sets
	xdp-tools              # XDP benchmark peer (xdp-filter, bench/bench_xdp.py)
	iproute2 ethtool iputils-ping procps
	etcd-server etcd-client bird2 wrk
	python3-yaml           # tests: sample policies, Prometheus rules
	systemd kmod           # systemd-analyze verify of deploy/systemd; modprobe
)
# Extra packages for a local need, space separated (not used by Sluice).
# shellcheck disable=SC2206
packages+=(${SL_EXTRA_PACKAGES:-})

usage() {
	awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"
}

mode=install
case "${1:-}" in
	"") ;;
	--check) mode=check ;;
	--list) mode=list ;;
	-h|--help) usage; exit 0 ;;
	*) echo "$prog: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

has_candidate() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

# Hyperscan is packaged for amd64 only; Vectorscan is the same API (libhs)
# for the other architectures.  Either one satisfies the build.
if installed libhyperscan-dev || installed libvectorscan-dev; then
	:
elif has_candidate libhyperscan-dev; then
	packages+=(libhyperscan-dev)
elif has_candidate libvectorscan-dev; then
	packages+=(libvectorscan-dev)
else
	# Neither is known yet (empty package lists): try Hyperscan after the
	# update below, Vectorscan if Hyperscan has no candidate then.
	packages+=(libhyperscan-dev)
fi

if [ "$mode" = list ]; then
	printf '%s\n' "${packages[@]}"
	exit 0
fi

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$mode" = check ]; then
	echo "$prog: missing: ${missing[*]}"
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "$prog: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/sluice-install-deps.XXXXXX)
created_policy=
cleanup() {
	[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
	rm -f "$log"
}
trap cleanup EXIT

apt_quiet() {
	if ! "$@" >>"$log" 2>&1 </dev/null; then
		return 1
	fi
}

apt_update() {
	echo "$prog: apt-get update"
	if ! apt_quiet apt-get -q update; then
		echo "$prog: apt-get update failed:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	updated=1
}

updated=
for p in "${missing[@]}"; do
	if ! has_candidate "$p"; then
		apt_update
		break
	fi
done

# After an update, swap Hyperscan for Vectorscan where Hyperscan does not exist.
if [ -n "$updated" ]; then
	for i in "${!missing[@]}"; do
		if [ "${missing[$i]}" = libhyperscan-dev ] && ! has_candidate libhyperscan-dev \
		   && has_candidate libvectorscan-dev; then
			missing[i]=libvectorscan-dev
		fi
	done
	for p in "${missing[@]}"; do
		if ! has_candidate "$p"; then
			echo "$prog: package $p is not available from the configured apt sources" >&2
			exit 1
		fi
	done
fi

# tshark asks whether non-root users may capture; answer "no" up front.
for p in "${missing[@]}"; do
	if [ "$p" = tshark ]; then
		echo "wireshark-common wireshark-common/install-setuid boolean false" |
			debconf-set-selections
	fi
done

if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# Temporary, from sluice deploy/install-deps.sh\nexit 101\n' \
		>/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi

install() {
	apt_quiet apt-get -q -y -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold install "${missing[@]}"
}

echo "$prog: installing ${missing[*]}"
if ! install; then
	if [ -z "$updated" ]; then
		# Stale package lists (404 on download) are the usual cause.
		apt_update
		install || {
			echo "$prog: apt-get install failed:" >&2
			tail -n 30 "$log" >&2
			exit 1
		}
	else
		echo "$prog: apt-get install failed:" >&2
		tail -n 30 "$log" >&2
		exit 1
	fi
fi

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
	echo "$prog: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "$prog: installed ${missing[*]}"
