#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The test command: takes a fresh Debian 12 machine (as root) to a test run.
#
#   deploy/test.sh [--quick] [--no-setup] [--fuzz-seconds N]
#
#   1. setup    deploy/install-deps.sh, deploy/hugepages.sh, deploy/bpffs.sh
#   2. build    build/ (release), build-asan/ (ASan+UBSan), build-fuzz/
#               (clang, libFuzzer), by deploy/build.sh; existing ones reused
#   3. unit     meson test --suite unit, in build-asan/ and in build/
#   4. fuzz     every fuzz_* executable of build-fuzz/ for N seconds (default
#               60, or $SL_FUZZ_SECONDS) from a scratch copy of its seed
#               corpus tests/fuzz/corpus/<name without fuzz_>/
#   5. system   /usr/bin/python3 -m pytest tests/system (root; against build/)
#
# Every meson test, fuzz target and pytest test counts once; a setup or
# build step counts only when it fails.  The run prints a summary per stage
# and ends with the line "N passed, N failed"; the exit status is 1 when
# anything failed.
#
#   --quick           no fuzz build, no fuzzing
#   --no-setup        skip step 1 (no root needed for steps 2-4)
#   --fuzz-seconds N  fuzz each target N seconds (0: only replay the corpus)
#
# Environment: SL_FUZZ_SECONDS (default 60), SL_HUGEPAGES (pages for
# hugepages.sh, default 1024), SL_PYTEST_ARGS (extra pytest arguments),
# SL_TEST_TIMEOUT (seconds before one system test counts as hung, default
# 900).
# Crashes found by fuzzing are kept in build-fuzz/fuzz-artifacts/<target>/.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
PY=/usr/bin/python3

quick=
setup=1
fuzz_seconds=${SL_FUZZ_SECONDS:-60}
while [ $# -gt 0 ]; do
	case "$1" in
		--quick) quick=1 ;;
		--no-setup) setup= ;;
		--fuzz-seconds) fuzz_seconds=${2:-}; shift ;;
		--fuzz-seconds=*) fuzz_seconds=${1#*=} ;;
		-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
		*) echo "test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$fuzz_seconds" in
	''|*[!0-9]*) echo "test: --fuzz-seconds needs a number of seconds" >&2; exit 2 ;;
esac

# Sanitizer reports fail the test that triggered them.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:print_summary=1}
export PYTHONDONTWRITEBYTECODE=1

total_pass=0
total_fail=0
summary=()
tmp=$(mktemp -d /tmp/sluice-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
start_all=$SECONDS

banner() {
	printf '\n=== %s ===\n' "$*"
}

# record STAGE PASSED FAILED SKIPPED SECONDS [NOTE]
record() {
	local line
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	line=$(printf '%-22s %4d passed %4d failed %4d skipped %5ds' "$1" "$2" "$3" "$4" "$5")
	summary+=("$line${6:+  ($6)}")
}

# step NAME CMD...: a setup or build step; counts one failure if it fails.
failed_steps=()
step() {
	local name=$1 t=$SECONDS
	shift
	banner "$name"
	if "$@"; then
		return 0
	fi
	record "$name" 0 1 0 $((SECONDS - t)) "failed: $*"
	failed_steps+=("$name")
	return 1
}

# --- 1. setup --------------------------------------------------------------
if [ -n "$setup" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "test: setup needs root (run as root, or pass --no-setup)" >&2
		exit 2
	fi
	step "install-deps" deploy/install-deps.sh
	step "hugepages" deploy/hugepages.sh "${SL_HUGEPAGES:-1024}"
	step "bpffs" deploy/bpffs.sh
fi

# --- 2. build --------------------------------------------------------------
build_ok() { [ -z "${built_fail[$1]:-}" ]; }
declare -A built_fail=()
kinds=(release asan)
[ -z "$quick" ] && kinds+=(fuzz)
for k in "${kinds[@]}"; do
	step "build $k" deploy/build.sh -q "$k" || built_fail[$k]=1
done

# --- 3. unit tests ---------------------------------------------------------
# unit_tests DIR LABEL
unit_tests() {
	local dir=$1 label=$2 t=$SECONDS rc counts p f s
	local log=$dir/meson-logs/testlog.json
	banner "unit tests: $label ($dir)"
	rm -f "$log"
	meson test -C "$dir" --suite unit --print-errorlogs --no-rebuild </dev/null
	rc=$?
	counts=$("$PY" - "$log" <<-'EOF'
	import json, sys
	p = f = s = 0
	try:
	    lines = open(sys.argv[1]).read().splitlines()
	except FileNotFoundError:
	    lines = []          # no unit tests defined
	for line in lines:
	    r = json.loads(line)["result"]
	    if r in ("OK", "EXPECTEDFAIL"):
	        p += 1
	    elif r == "SKIP":
	        s += 1
	    else:
	        f += 1
	print(p, f, s)
	EOF
	)
	read -r p f s <<<"$counts"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		record "unit ($label)" "$p" 1 "$s" $((SECONDS - t)) "meson test exited $rc"
	else
		record "unit ($label)" "$p" "$f" "$s" $((SECONDS - t))
	fi
}
build_ok asan && unit_tests build-asan "asan+ubsan"
build_ok release && unit_tests build "release"

# --- 4. fuzz ---------------------------------------------------------------
fuzz() {
	local t=$SECONDS p=0 f=0 exe name corpus work art log rc note=""
	local -a exes=()
	if [ "$fuzz_seconds" -eq 0 ]; then
		banner "fuzz: replaying each target's seed corpus"
	else
		banner "fuzz: ${fuzz_seconds} s per target"
	fi
	mapfile -t exes < <(find build-fuzz -type f -executable -name 'fuzz_*' \
		-not -path '*.p/*' | sort)
	if [ ${#exes[@]} -eq 0 ]; then
		echo "no fuzz targets in build-fuzz"
		record "fuzz" 0 0 0 $((SECONDS - t)) "no targets"
		return
	fi
	for exe in "${exes[@]}"; do
		name=$(basename "$exe")
		corpus=tests/fuzz/corpus/${name#fuzz_}
		work=$tmp/corpus-$name
		art=build-fuzz/fuzz-artifacts/$name
		log=$tmp/$name.log
		mkdir -p "$work" "$art"
		# A scratch copy: new inputs never land in the committed corpus.
		if [ -d "$corpus" ]; then
			cp -R "$corpus"/. "$work"/
		else
			echo "$name: warning: no seed corpus at $corpus"
			note="seed corpus missing for $name"
		fi
		local -a extra=()
		[ -f "tests/fuzz/${name#fuzz_}.dict" ] && extra+=("-dict=tests/fuzz/${name#fuzz_}.dict")
		local seeds
		seeds=$(find "$work" -type f | wc -l)
		# -max_total_time=0 would mean "no limit": 0 replays the seeds only.
		if [ "$fuzz_seconds" -eq 0 ]; then
			extra+=(-runs=0)
		else
			extra+=(-max_total_time="$fuzz_seconds")
		fi
		"$exe" -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix="$art/" "${extra[@]}" "$work" >"$log" 2>&1 </dev/null
		rc=$?
		if [ $rc -eq 0 ]; then
			p=$((p + 1))
			printf '%-28s ok    %s seeds, %s runs, corpus now %s inputs\n' "$name" "$seeds" \
				"$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
				"$(find "$work" -type f | wc -l)"
		else
			f=$((f + 1))
			printf '%-28s FAIL  exit %d; last lines of its log:\n' "$name" $rc
			tail -n 40 "$log"
			echo "artifacts (reproduce with: $exe FILE): $(find "$art" -type f | tr '\n' ' ')"
		fi
	done
	record "fuzz" "$p" "$f" 0 $((SECONDS - t)) "$note"
}
if [ -z "$quick" ]; then
	if build_ok fuzz; then
		fuzz
	fi
fi

# --- 5. system tests -------------------------------------------------------
system_tests() {
	local t=$SECONDS rc xml=$tmp/pytest.xml counts p f s
	banner "system tests (pytest tests/system, build/)"
	# A hung test fails after SL_TEST_TIMEOUT seconds instead of holding CI.
	local -a tmo=()
	"$PY" -c 'import pytest_timeout' 2>/dev/null && tmo=(--timeout="${SL_TEST_TIMEOUT:-900}")
	# shellcheck disable=SC2086
	SLUICE_BUILD=$root/build "$PY" -m pytest tests/system -v -rfEs \
		-p no:cacheprovider --junitxml="$xml" "${tmo[@]}" ${SL_PYTEST_ARGS:-} </dev/null
	rc=$?
	counts=$("$PY" - "$xml" <<-'EOF'
	import sys
	import xml.etree.ElementTree as ET
	try:
	    root = ET.parse(sys.argv[1]).getroot()
	except (FileNotFoundError, ET.ParseError):
	    print(0, 0, 0)
	    sys.exit()
	suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
	n = f = s = 0
	for su in suites:
	    n += int(su.get("tests", 0))
	    f += int(su.get("failures", 0)) + int(su.get("errors", 0))
	    s += int(su.get("skipped", 0))
	print(n - f - s, f, s)
	EOF
	)
	read -r p f s <<<"$counts"
	case $rc in
		0) record "system" "$p" "$f" "$s" $((SECONDS - t)) ;;
		5) record "system" 0 0 0 $((SECONDS - t)) "no tests collected" ;;
		*) if [ "$f" -eq 0 ]; then
			record "system" "$p" 1 "$s" $((SECONDS - t)) "pytest exited $rc"
		   else
			record "system" "$p" "$f" "$s" $((SECONDS - t))
		   fi ;;
	esac
}
if build_ok release; then
	[ "$(id -u)" -ne 0 ] && echo "test: not root: the system tests will skip"
	system_tests
fi

# --- summary ---------------------------------------------------------------
banner "summary ($((SECONDS - start_all)) s)"
for line in "${summary[@]}"; do
	echo "$line"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
