#!/bin/bash
# make bench-shim: our malloc replacements against glibc's malloc, jemalloc,
# mimalloc and tcmalloc (Debian's, preloaded like ours) on real programs:
# the workloads of tests/host/shim-programs.sh (python3, xz -9, gcc -O2,
# sqlite3, sort, git, dtc; tests/host/shim-workloads.sh says what each
# does), plus the instructions of one malloc(32)/free pair. One markdown
# table, on stdout and in $O/bench-shim.txt; progress on stderr.
#
# What each figure is:
#  - time: wall clock of the whole workload (the preloaded programs and the
#    few unpreloaded helpers around them, e.g. sha256sum), the best of 3
#    runs, one run at a time (sort uses two threads, the rest one).
#  - peak RSS: the largest resident set of any one process of the
#    workload's tree, the largest of the 3 runs: the kernel keeps each
#    process's high-water mark and folds it into its parent's when it is
#    waited for, and GNU time's %M reads the workload shell's (wait4's
#    ru_maxrss). Not the sum of the processes alive at once: in these
#    workloads one process holds nearly all the memory (python3, xz, cc1,
#    sqlite3, sort, git's pack-objects), so this is that process's peak.
#    The floor is the shell's own ~3 MiB (dtc's runs are smaller).
#  - pair: instructions of malloc(32) then free under callgrind
#    (tests/bench/shim_pair.c, gcc -O2): counted inside the loop function
#    only, in a run of N pairs and one of 2N, the difference over N, so
#    start-up, the first call's set-up and lazy binding are left out; net
#    of the same loop around two empty functions (its figure is given).
# A workload whose output differs from glibc's, or that fails, is marked
# in its cell (tests/host/shim-programs.sh is the test; this only warns).
#
# usage: bench-shim.sh [O=dir]
# env: SHIM_LIBS, our libraries (space-separated; default the five
#      $O/host/libmemcore*.so of make shim); BENCH_SHIM_RUNS (default 3);
#      SHIM_WORKLOADS (a subset, e.g. "git dtc").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
O=build
for a in "$@"; do case $a in O=*) O=${a#O=} ;; esac; done
O=$(realpath -m "$O")
root=$PWD

scripts/install-deps.sh bench-shim || exit 1
. tests/host/shim-workloads.sh

runs=${BENCH_SHIM_RUNS:-3}
read -r -a workloads <<<"${SHIM_WORKLOADS:-${shim_workloads[*]}}"
multiarch=/usr/lib/$(gcc -print-multiarch)
ours=(libmemcore libmemcore-hart libmemcore-block libmemcore-slabpages libmemcore-segfit)
read -r -a libs <<<"${SHIM_LIBS:-${ours[*]/%/.so}}"
[ -n "${SHIM_LIBS:-}" ] || libs=("${libs[@]/#/$O/host/}")

# NAME|LIBRARY: the yardsticks, then ours (empty: glibc's malloc)
allocators=("glibc|" "jemalloc|$multiarch/libjemalloc.so.2" "mimalloc|$multiarch/libmimalloc.so.2"
	"tcmalloc|$multiarch/libtcmalloc_minimal.so.4")
for lib in "${libs[@]}"; do
	allocators+=("$(basename "$lib" | sed 's/\.so.*$//')|$(realpath -m "$lib")")
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-shim.XXXXXX") || exit 1
export SHIM_PIDS=$tmp/pids
trap 'shim_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$O/host"
progress() { echo "bench-shim: $*" >&2; }

# One run of a workload: prints "SECONDS MAXRSS-KB STATUS"; its output in
# OUT (stderr in OUT.err). GNU time's %M is wait4's ru_maxrss of the shell
# that runs the workload, which the kernel makes the largest of its own and
# of every descendant's that was waited for.
measure() { # WORKLOAD OUT
	rm -rf "$tmp/work" && mkdir -p "$tmp/work"
	# shellcheck disable=SC2016 # the workload's shell expands them
	/usr/bin/time -o "$tmp/time" -f '%e %M %x' \
		bash -c '. tests/host/shim-workloads.sh && shim_workload "$1" "$2"' _ "$1" "$tmp/work" \
		</dev/null >"$2" 2>"$2.err"
	tail -n 1 "$tmp/time" # after a "Command exited with non-zero status" line
}

# Instructions of callgrind inside pairs() for one run of shim_pair.
pair_cost() { # N malloc|empty
	env ${SHIM_PRELOAD:+LD_PRELOAD="$SHIM_PRELOAD"} valgrind --tool=callgrind --toggle-collect=pairs \
		--callgrind-out-file="$tmp/pair.cg" "$O/host/shim_pair" "$1" "$2" >"$tmp/pair.log" 2>&1 ||
		return 1
	awk '/^(summary|totals):/ { print $2; exit }' "$tmp/pair.cg"
}

# Instructions per pair: (2N pairs - N pairs) / N.
per_pair() { # malloc|empty
	local n=100000 a b
	a=$(pair_cost $n "$1") && b=$(pair_cost $((2 * n)) "$1") || return 1
	awk -v a="$a" -v b="$b" -v n=$n 'BEGIN { printf "%.1f", (b - a) / n }'
}

progress "building $O/host/shim_pair"
gcc -O2 -Wall -Wextra -o "$O/host/shim_pair" tests/bench/shim_pair.c || exit 1
progress "preparing the inputs"
shim_prepare "$root" "$O" "$tmp/input" >&2 || exit 1
export SHIM_TIMEOUT_SCALE=5 # a benchmark: slow is a figure, not a failure
start=$SECONDS
SHIM_PRELOAD="" loop=$(per_pair empty) || { cat "$tmp/pair.log" >&2; exit 1; }

header="| allocator |"
rule="|---|"
for w in "${workloads[@]}"; do
	header+=" $w |"
	rule+="---|"
done
rows=()
for a in "${allocators[@]}"; do
	name=${a%%|*}
	export SHIM_PRELOAD=${a#*|}
	row="| $name |"
	if [ -n "$SHIM_PRELOAD" ] && [ ! -f "$SHIM_PRELOAD" ]; then
		progress "$name: $SHIM_PRELOAD is missing"
		for w in "${workloads[@]}" pair; do row+=" missing |"; done
		rows+=("$row")
		continue
	fi
	for w in "${workloads[@]}"; do
		best="" peak=0 note=""
		for i in $(seq "$runs"); do
			measure "$w" "$tmp/out" >"$tmp/measured"
			read -r t kb rc <"$tmp/measured"
			progress "$name $w run $i: $t s, $((kb / 1024)) MiB, exit $rc"
			[ "$name" = glibc ] && [ "$i" = 1 ] && cp "$tmp/out" "$tmp/glibc-$w.out" && echo "$rc" >"$tmp/glibc-$w.rc"
			if [ "$rc" = 77 ]; then
				note="skipped: $(head -n 1 "$tmp/out")"
			elif [ "$rc" != 0 ]; then
				why=$(grep -a -m 1 '^exit [0-9]' "$tmp/out" || tail -n 1 "$tmp/out")
				note="**failed** (${why:0:80})"
				progress "$name $w failed: $why; stderr: $(head -n 5 "$tmp/out.err")"
			elif [ "$(cat "$tmp/glibc-$w.rc")" = 0 ] && ! cmp -s "$tmp/out" "$tmp/glibc-$w.out"; then
				note="**output differs from glibc's**"
			fi
			[ -n "$note" ] && break
			best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (a == "" || b < a) ? b : a }')
			[ "$kb" -gt "$peak" ] && peak=$kb
		done
		if [ -n "$note" ]; then
			row+=" $note |"
		else
			row+=" $(printf '%.1f s, %d MiB' "$best" $((peak / 1024))) |"
		fi
	done
	if pair=$(per_pair malloc); then
		row+=" $(awk -v p="$pair" -v l="$loop" 'BEGIN { printf "%.0f", p - l }') |"
		progress "$name pair: $pair instructions, $loop of them the loop's"
	else
		row+=" **failed** |"
		progress "$name pair under callgrind failed: $(tail -n 5 "$tmp/pair.log")"
	fi
	rows+=("$row")
done

{
	echo "Real programs with each malloc preloaded (scripts/bench-shim.sh): wall time,"
	echo "best of $runs, and peak RSS of the workload's largest process; pair:"
	echo "instructions per malloc(32)+free under callgrind, net of the loop ($loop)."
	echo
	echo "$header pair (instr.) |"
	echo "$rule---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "$(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d); $((SECONDS - start)) s."
} | tee "$O/bench-shim.txt"
