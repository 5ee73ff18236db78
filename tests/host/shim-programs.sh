#!/bin/bash
# Real programs from Debian on our malloc replacements: python3, gcc -O2,
# sqlite3, git, xz -9, sort and dtc (tests/host/shim-workloads.sh says what
# each does) run with each $O/host/libmemcore*.so preloaded (the debug
# hardening tier's libmemcore-debug.so included: every program, it costs
# 30 s of CPU more, python3's 16 s against glibc's 7.5 the longest), and once with
# glibc's malloc (no preload), whose run is the reference: under each
# library every program must exit with the same status and print exactly
# the same. The unit and conformance tests drive the heaps through our own
# calls; these are other people's programs, with their own patterns
# (Python's millions of small objects, gcc's obstacks, sqlite's page cache,
# xz's 674 MiB, sort's threads, realloc everywhere).
#
# One KTAP test per (program, library). A failure shows the exit status,
# the start of the diff with glibc's output and the start of stderr; a
# library that prints on stderr but whose output and exit match passes, with
# its stderr shown. A program that fails under glibc fails every one of its
# tests, saying so; git's are skipped outside a git checkout. Seven
# workloads times six runs, two at a time (longest first: the machine has
# two cores), took 85 s with the five libraries (78 s with jemalloc,
# mimalloc and tcmalloc standing in). Every program has a hard timeout, and
# a workload stops at its first failing program, so a hang costs one
# timeout; an interruption ends every program it started.
#
# usage: O=build tests/host/shim-programs.sh
# env: O; SHIM_LIBS, the libraries to preload (space-separated paths;
#      default the six $O/host/libmemcore*.so that make shim builds), e.g.
#      SHIM_LIBS=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2; SHIM_JOBS
#      (runs at once, default 2); SHIM_WORKLOADS (a subset, e.g. "git dtc").
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
O=$(realpath -m "${O:-build}")
. tests/host/ktap-lib.sh
. tests/host/shim-workloads.sh

lib_names=(libmemcore libmemcore-hart libmemcore-block libmemcore-slabpages libmemcore-segfit
	libmemcore-debug)
read -r -a libs <<<"${SHIM_LIBS:-${lib_names[*]/%/.so}}"
[ -n "${SHIM_LIBS:-}" ] || libs=("${libs[@]/#/$O/host/}")
read -r -a workloads <<<"${SHIM_WORKLOADS:-${shim_workloads[*]}}"
max_jobs=${SHIM_JOBS:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shim-programs.XXXXXX") || exit 1
export SHIM_PIDS=$tmp/pids
# an interruption ends the runs and their programs
trap 'kill $(jobs -p) 2>/dev/null; shim_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
start=$EPOCHREALTIME

# run 0 is glibc's malloc, run i the library libs[i-1]
preload=("")
label=(glibc)
for lib in "${libs[@]}"; do
	preload+=("$(realpath -m "$lib")")
	label+=("$(basename "$lib" | sed 's/\.so.*$//')")
done

seconds_since() { # EPOCHREALTIME
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# One run of a workload, in the background: its stdout, stderr, status and
# wall time in $tmp/RUN-WORKLOAD.{out,err,rc,time}.
run_one() { # RUN WORKLOAD
	local r=$1 w=$2 base=$tmp/$1-$2 t0=$EPOCHREALTIME
	# the debug tier fills and checks every object's poison and redzones, and
	# guards one allocation in one: up to 10x glibc's time (sqlite3: 31 s alone
	# on the 2-core machine of 2026-12-06, 60 s beside another run)
	local scale=${SHIM_TIMEOUT_SCALE:-1}
	[[ ${label[$r]} == *-debug ]] && scale=$((scale * 3))
	mkdir -p "$base.work"
	SHIM_TIMEOUT_SCALE=$scale SHIM_PRELOAD=${preload[$r]} shim_workload "$w" "$base.work" \
		>"$base.out" 2>"$base.err"
	echo $? >"$base.rc"
	seconds_since "$t0" >"$base.time"
	rm -rf "$base.work"
	echo "shim-programs: $w ${label[$r]}: exit $(cat "$base.rc"), $(cat "$base.time") s" >&2
}

echo "shim-programs: preparing the inputs" >&2
shim_prepare "$root" "$O" "$tmp/input" >&2 || {
	printf 'KTAP version 1\n1..1\nnot ok 1 shim-programs # cannot prepare the inputs\n'
	exit 1
}

# Longest workloads first, glibc's run of each first; SHIM_JOBS at a time.
running=0
for w in "${workloads[@]}"; do
	for r in "${!preload[@]}"; do
		[ "$r" = 0 ] || [ -f "${preload[$r]}" ] || continue
		if [ $running -ge "$max_jobs" ]; then
			wait -n
			running=$((running - 1))
		fi
		run_one "$r" "$w" &
		running=$((running + 1))
	done
done
wait

# The first lines of FILE, as diagnostic arguments.
lines_of() { # FILE COUNT
	head -n "$2" "$1" | cut -c1-200
}

echo "KTAP version 1"
echo "1..1"
echo "    KTAP version 1"
echo "    # Subtest: shim-programs"
echo "    1..$((${#workloads[@]} * ${#libs[@]}))"
for w in "${workloads[@]}"; do
	gl=$tmp/0-$w
	g_rc=$(cat "$gl.rc" 2>/dev/null || echo none)
	times="glibc $(cat "$gl.time" 2>/dev/null) s"
	for r in "${!preload[@]}"; do
		[ "$r" = 0 ] && continue
		name="$w-${label[$r]}"
		b=$tmp/$r-$w
		if [ "$g_rc" = 77 ]; then
			n=$((n + 1))
			echo "    ok $n $name # SKIP $(head -n 1 "$gl.out")"
			continue
		fi
		if [ ! -f "${preload[$r]}" ]; then
			result "$name" 1 "${preload[$r]} is missing (make shim)"
			continue
		fi
		times+=", ${label[$r]} $(cat "$b.time") s"
		rc=$(cat "$b.rc")
		if [ "$g_rc" != 0 ]; then
			mapfile -t diag < <(echo "it fails under glibc's malloc too (exit $g_rc):"
				grep -a '^exit [0-9]' "$gl.out"; tail -n 3 "$gl.out" | cut -c1-200
				echo "glibc's stderr:"; lines_of "$gl.err" 10)
			result "$name" 1 "${diag[@]}"
			continue
		fi
		if [ "$rc" = "$g_rc" ] && cmp -s "$gl.out" "$b.out"; then
			if [ -s "$b.err" ] && ! cmp -s "$gl.err" "$b.err"; then
				echo "    # stderr (exit and output as under glibc):"
				lines_of "$b.err" 10 | sed 's/^/    #   /'
			fi
			result "$name" 0
			continue
		fi
		mapfile -t diag < <(echo "exit $rc (under glibc: $g_rc)"
			grep -a '^exit [0-9]' "$b.out"
			echo "stdout differs from glibc's (diff -u glibc ${label[$r]}, first lines):"
			diff -u --label glibc --label "${label[$r]}" "$gl.out" "$b.out" >"$b.diff"
			lines_of "$b.diff" 15
			echo "stderr:"; lines_of "$b.err" 10)
		result "$name" 1 "${diag[@]}"
	done
	echo "    # time $w: $times"
done
echo "    # total wall time $(seconds_since "$start") s (runs at once: $max_jobs)"
[ $failed = 0 ] && echo "ok 1 shim-programs" || echo "not ok 1 shim-programs"
[ $failed = 0 ]
