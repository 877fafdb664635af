#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Configure (once) and build Sluice in one or more build directories.
#
#   deploy/build.sh [-q] [release] [asan] [fuzz] [all]    (default: release)
#
#   release  build/       default options (buildtype=debugoptimized)
#   asan     build-asan/  -Db_sanitize=address,undefined -Db_lundef=false
#   fuzz     build-fuzz/  CC=clang, -Dfuzz=true, ASan+UBSan; builds only the
#                         libFuzzer targets (executables named fuzz_*)
#
# An existing build directory is reused: only the options above that differ
# are set again (a build-fuzz made without clang is wiped), and ninja itself
# re-runs meson when a meson.build changed.  -q sends the compiler output to
# <dir>/sluice-build.log and prints its tail on failure.
# Run from anywhere; the directories are made in the repository root.
set -euo pipefail

prog=build
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

quiet=
kinds=()
for a in "$@"; do
	case "$a" in
		-q|--quiet) quiet=1 ;;
		release|asan|fuzz) kinds+=("$a") ;;
		all) kinds+=(release asan fuzz) ;;
		-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
		*) echo "$prog: unknown argument '$a'" >&2; exit 2 ;;
	esac
done
[ ${#kinds[@]} -eq 0 ] && kinds=(release)

# Print "key=value" for each option and the C compiler id of a build dir.
current_config() {
	/usr/bin/python3 - "$1" <<-'EOF'
	import json, os, subprocess, sys
	d = sys.argv[1]
	opts = json.loads(subprocess.check_output(
	    ["meson", "introspect", d, "--buildoptions"]))
	for o in opts:
	    v = o["value"]
	    if isinstance(v, list):
	        v = ",".join(v)
	    elif isinstance(v, bool):
	        v = str(v).lower()
	    print(f"{o['name']}={v}")
	# meson 1.0 does not introspect compilers: read the compile commands.
	try:
	    cmds = json.load(open(f"{d}/compile_commands.json"))
	    cc = os.path.basename(cmds[0]["command"].split()[0]) if cmds else ""
	except (OSError, ValueError, KeyError):
	    cc = ""
	print("compiler=" + ("clang" if cc.startswith("clang") else cc))
	EOF
}

# run LOG CMD...: run a command, its output to LOG when quiet.
run() {
	local log=$1
	shift
	if [ -n "$quiet" ]; then
		if ! "$@" >>"$log" 2>&1 </dev/null; then
			echo "$prog: failed: $*" >&2
			tail -n 60 "$log" >&2
			return 1
		fi
	else
		"$@" </dev/null
	fi
}

# configure DIR COMPILER OPTION...: meson setup DIR, or when DIR is already
# configured, set only the options that differ (other options a developer
# chose stay).  COMPILER "" means whatever meson picks (CC from the
# environment, else cc); a directory made with another compiler than the one
# required is wiped, since meson cannot change compilers.
configure() {
	local dir=$1 compiler=$2
	shift 2
	local log=$dir.setup.log
	rm -f "$log"
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		local cfg opt differ=()
		if ! cfg=$(current_config "$dir" 2>/dev/null); then
			echo "$prog: $dir: unreadable configuration, wiping it"
			rm -rf "$dir"
		elif [ -n "$compiler" ] && ! grep -qx "compiler=$compiler" <<<"$cfg"; then
			echo "$prog: $dir: not configured with $compiler, wiping it"
			rm -rf "$dir"
		else
			for opt in "$@"; do
				grep -qx -- "${opt#-D}" <<<"$cfg" || differ+=("$opt")
			done
			if [ ${#differ[@]} -gt 0 ]; then
				echo "$prog: meson configure $dir ${differ[*]}"
				run "$log" meson configure "$dir" "${differ[@]}" || return 1
			fi
			rm -f "$log"
			return 0
		fi
	fi
	echo "$prog: meson setup $dir${*:+ $*}"
	local env=()
	if [ "$compiler" = clang ]; then
		env=(CC=clang)
		# lld links the instrumented binaries noticeably faster.
		command -v ld.lld >/dev/null && env+=(CC_LD=lld)
	fi
	run "$log" env "${env[@]}" meson setup "$dir" "$@" || return 1
	rm -f "$log"
}

# Executables named fuzz_* that the build declares (paths relative to DIR).
fuzz_targets() {
	/usr/bin/python3 - "$1" <<-'EOF'
	import json, os, subprocess, sys
	d = sys.argv[1]
	for t in json.loads(subprocess.check_output(
	        ["meson", "introspect", d, "--targets"])):
	    if t["type"] == "executable" and t["name"].startswith("fuzz_"):
	        for f in t["filename"]:
	            print(os.path.relpath(f, os.path.abspath(d)))
	EOF
}

build() {
	local kind=$1 dir compiler opts=()
	case "$kind" in
		release) dir=build compiler= ;;
		asan) dir=build-asan compiler=
		      opts=("-Db_sanitize=address,undefined" -Db_lundef=false) ;;
		fuzz) dir=build-fuzz compiler=clang
		      opts=(-Dfuzz=true "-Db_sanitize=address,undefined" -Db_lundef=false) ;;
	esac
	configure "$dir" "$compiler" "${opts[@]}" || return 1
	local log=$dir/sluice-build.log
	rm -f "$log"
	local start=$SECONDS targets=()
	if [ "$kind" = fuzz ]; then
		# Re-run meson first if a meson.build changed, so that the
		# target list below is current.
		run "$log" ninja -C "$dir" build.ninja || return 1
		mapfile -t targets < <(fuzz_targets "$dir")
		if [ ${#targets[@]} -eq 0 ]; then
			echo "$prog: $dir: the build declares no fuzz targets"
			return 0
		fi
	fi
	run "$log" ninja -C "$dir" "${targets[@]}" || return 1
	echo "$prog: $dir: built in $((SECONDS - start)) s"
}

status=0
for k in "${kinds[@]}"; do
	build "$k" || status=1
done
exit $status
