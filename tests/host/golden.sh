#!/bin/bash
# Golden-file tests for dt-memmap: runs the tool on every
# tests/dts/golden/NAME.dts (compiled by the build into $DTB_DIR/golden, or
# here with dtc when missing) and compares stdout + stderr, plus an
# "exit N" line when N is not 0, with tests/dts/golden/NAME.expected.
# NAME.args, when present, holds extra options for the tool (e.g. --harts).
# Prints KTAP; a mismatch shows the diff as diagnostics.
#
# usage: golden.sh [--update]    (env: O=build, DT_MEMMAP, DTB_DIR)
# --update rewrites the .expected files: read every change before keeping it.
set -u
cd "$(dirname "$0")/../.."

O=${O:-build}
tool=$(realpath -m "${DT_MEMMAP:-$O/host/dt-memmap}")
dtbdir=${DTB_DIR:-$O/host/dtb}/golden
update=0
[ "${1:-}" = --update ] && update=1

if [ ! -x "$tool" ]; then
	printf 'KTAP version 1\n1..1\nnot ok 1 golden # %s not built (make tools)\n' "$tool"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The output of one run, as the .expected files hold it.
run_tool() { # DTB [OPTION...]
	local out rc dtb=$1
	shift
	# from the dtb's directory, so messages name the file the same everywhere
	out=$(cd "$(dirname "$dtb")" && "$tool" "$@" "$(basename "$dtb")" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out"
	[ $rc -ne 0 ] && echo "exit $rc"
	return 0
}

cases=(tests/dts/golden/*.dts)
echo "KTAP version 1"
echo "1..${#cases[@]}"
n=0 failed=0
for dts in "${cases[@]}"; do
	n=$((n + 1))
	name=$(basename "$dts" .dts)
	expected=${dts%.dts}.expected
	dtb=$dtbdir/$name.dtb
	if [ ! -f "$dtb" ] || [ "$dts" -nt "$dtb" ]; then
		dtb=$tmp/$name.dtb
		if ! dtc -q -I dts -O dtb -o "$dtb" "$dts" 2>"$tmp/dtc.err"; then
			echo "not ok $n $name"
			sed 's/^/# dtc: /' "$tmp/dtc.err"
			failed=$((failed + 1))
			continue
		fi
	fi
	args=()
	[ -f "${dts%.dts}.args" ] && read -r -a args <"${dts%.dts}.args"
	run_tool "$dtb" "${args[@]}" >"$tmp/$name.out"
	if [ $update = 1 ]; then
		cp "$tmp/$name.out" "$expected"
	fi
	if [ ! -f "$expected" ]; then
		echo "not ok $n $name"
		echo "# $expected is missing; this run gave:"
		sed 's/^/# /' "$tmp/$name.out"
		failed=$((failed + 1))
	elif diff -u "$expected" "$tmp/$name.out" >"$tmp/diff"; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		sed 's/^/# /' "$tmp/diff"
		failed=$((failed + 1))
	fi
done
[ $failed -eq 0 ]
