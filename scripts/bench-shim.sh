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
# A second table: multi-threaded workloads of tests/bench/shim_threads.c
# (gcc -O2 -pthread), one program, each workload a fixed amount of work
# done by T = BENCH_SHIM_THREADS threads (default 4, on however many cores;
# objects of random sizes from a per-thread xorshift, every object filled
# when allocated and checked before it is freed):
#  handoff     producers malloc 16..512 B objects and pass them through
#              lock-free rings to consumers, which free them: every free is
#              a cross-thread free (half the threads produce, half consume).
#  churn       8000 short-lived threads, T at a time: each frees the 50
#              objects a thread of the previous round left, mallocs 200 of
#              16..512 B, frees 150 and leaves 50 to the next round.
#  larson      after larson: each thread replaces random objects of 16..1024
#              B in its 1000 slots; every 1/40 of its steps it hands the
#              slots to a new thread and exits, which frees the old one's.
#  smallsizes  each thread frees and mallocs at random over 4000 slots of
#              8..256 B (steps of 8), ~2000 live, with bursts of 32 mallocs.
# Cells: millions of objects malloc'ed (and freed) per second of the
# program's own clock (the measured part: threads started to all objects
# freed), the best of the runs, and the process's peak RSS (GNU time's %M),
# the largest of the runs; runs interleave the allocators, so a change in
# the machine's load falls on all of them. The last column is the first of
# our libraries (libmemcore, the per-hart heaps) against jemalloc: its
# throughput and its peak RSS as multiples of jemalloc's. A wrong object
# (the program exits 1 and says which), a crash, or a run that outlives
# SHIM_THREAD_TIMEOUT (default 60 s; a hang) is marked in its cell.
#
# A third table: tests/bench/shim_regrow.c, realloc() growing a buffer from
# 64 KiB to 512 MiB by doubling, 3 times, with a block allocated after each
# step (one that lands right after the buffer keeps it from growing in
# place): seconds (best of the runs) and peak RSS under each allocator.
#
# usage: bench-shim.sh [O=dir]
# env: SHIM_LIBS, our libraries (space-separated; default the five
#      $O/host/libmemcore*.so of make shim); BENCH_SHIM_RUNS (default 3);
#      SHIM_WORKLOADS (a subset, e.g. "git dtc"); SHIM_THREAD_WORKLOADS (a
#      subset of "handoff churn larson smallsizes", "none" for no second
#      table); BENCH_SHIM_THREADS (default 4); SHIM_THREAD_TIMEOUT (seconds
#      per run, default 60).
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
thread_all=(handoff churn larson smallsizes)
read -r -a thread_workloads <<<"${SHIM_THREAD_WORKLOADS:-${thread_all[*]}}"
[ "${thread_workloads[*]}" = none ] && thread_workloads=()
for w in "${thread_workloads[@]}"; do
	case " ${thread_all[*]} " in *" $w "*) ;; *)
		echo "bench-shim: SHIM_THREAD_WORKLOADS: no workload '$w' (${thread_all[*]}, none)" >&2
		exit 2
		;;
	esac
done
threads=${BENCH_SHIM_THREADS:-4}
thread_timeout=${SHIM_THREAD_TIMEOUT:-60}
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

# One run of shim_threads: prints "MOPS MAXRSS-KB STATUS" (STATUS 124: timed
# out; 128+N: signal N); its output in OUT (stderr in OUT.err). No shell
# between GNU time and the program (its RSS would be the floor), timeout in
# the foreground (a ^C reaches the program).
measure_threads() { # WORKLOAD OUT
	local kb rc sig mops
	# shellcheck disable=SC2086 # an empty preload is no argument
	/usr/bin/time -o "$tmp/time" -f '%M %x' timeout --foreground -k 5 "$thread_timeout" \
		env ${SHIM_PRELOAD:+LD_PRELOAD="$SHIM_PRELOAD"} "$O/host/shim_threads" -t "$threads" "$1" \
		</dev/null >"$2" 2>"$2.err"
	read -r kb rc < <(tail -n 1 "$tmp/time")
	# GNU time gives 0 for a command a signal ended, and says so on a line of its own
	sig=$(sed -n 's/^Command terminated by signal \([0-9]*\).*/\1/p' "$tmp/time")
	[ -n "$sig" ] && rc=$((128 + sig))
	mops=$(sed -n "s/^$1 ops=[0-9]* seconds=[0-9.]* mops=\([0-9.]*\)\$/\1/p" "$2")
	[ "$rc" = 0 ] && [ -z "$mops" ] && rc=255 # no figure: a failure all the same
	echo "${mops:-0} ${kb:-0} ${rc:-255}"
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

progress "building $O/host/shim_pair and shim_threads"
gcc -O2 -Wall -Wextra -o "$O/host/shim_pair" tests/bench/shim_pair.c || exit 1
gcc -O2 -Wall -Wextra -pthread -o "$O/host/shim_threads" tests/bench/shim_threads.c || exit 1
gcc -O2 -Wall -Wextra -o "$O/host/shim_regrow" tests/bench/shim_regrow.c || exit 1
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

# The threads' table: runs interleave the allocators (run 1 of each, then
# run 2...); a cell that failed once is not run again.
declare -A tbest tpeak tnote
ref_name=${allocators[4]%%|*} # the first of ours: libmemcore, per-hart
for w in "${thread_workloads[@]}"; do
	for i in $(seq "$runs"); do
		for a in "${allocators[@]}"; do
			name=${a%%|*}
			k="$w|$name"
			export SHIM_PRELOAD=${a#*|}
			[ -n "${tnote[$k]:-}" ] && continue
			if [ -n "$SHIM_PRELOAD" ] && [ ! -f "$SHIM_PRELOAD" ]; then
				tnote[$k]=missing
				continue
			fi
			measure_threads "$w" "$tmp/out" >"$tmp/measured"
			read -r mops kb rc <"$tmp/measured"
			progress "$name $w (threads) run $i: $mops Mops/s, $((kb / 1024)) MiB, exit $rc"
			if [ "$rc" != 0 ]; then
				why=$(head -n 1 "$tmp/out.err")
				why=${why#"shim_threads $w: "}
				if [ "$rc" = 124 ]; then
					tnote[$k]="**hung** (killed after ${thread_timeout} s)"
				elif [ "$rc" = 137 ]; then
					tnote[$k]="**killed** (SIGKILL: the timeout's, TERM ignored, or the OOM killer)"
				elif [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
					tnote[$k]="**crashed** (SIG$(kill -l $((rc - 128))))"
				else
					tnote[$k]="**failed** (exit $rc: ${why:0:80})"
				fi
				progress "$name $w (threads) failed, exit $rc; stderr: $(head -n 5 "$tmp/out.err")"
				continue
			fi
			tbest[$k]=$(awk -v a="${tbest[$k]:-}" -v b="$mops" 'BEGIN { print (a == "" || b > a) ? b : a }')
			[ "$kb" -gt "${tpeak[$k]:-0}" ] && tpeak[$k]=$kb
		done
	done
done
theader="| workload |"
trule="|---|"
for a in "${allocators[@]}"; do
	theader+=" ${a%%|*} |"
	trule+="---|"
done
theader+=" $ref_name / jemalloc |"
trule+="---|"
trows=()
for w in "${thread_workloads[@]}"; do
	row="| $w |"
	for a in "${allocators[@]}"; do
		k="$w|${a%%|*}"
		if [ -n "${tnote[$k]:-}" ]; then
			row+=" ${tnote[$k]} |"
		else
			row+=" $(awk -v m="${tbest[$k]}" -v kb="${tpeak[$k]}" \
				'BEGIN { printf "%.2f Mops/s, %.1f MiB", m, kb / 1024 }') |"
		fi
	done
	r="$w|$ref_name" j="$w|jemalloc"
	if [ -n "${tbest[$r]:-}" ] && [ -n "${tbest[$j]:-}" ] && [ -z "${tnote[$r]:-}${tnote[$j]:-}" ]; then
		row+=" $(awk -v a="${tbest[$r]}" -v b="${tbest[$j]}" -v ka="${tpeak[$r]}" -v kb="${tpeak[$j]}" \
			'BEGIN { printf "%.2fx Mops/s, %.2fx MiB", a / b, ka / kb }') |"
	else
		row+=" n/a |"
	fi
	trows+=("$row")
done

# The realloc table: one row per allocator, runs interleaved as above.
declare -A rbest rpeak rnote
for i in $(seq "$runs"); do
	for a in "${allocators[@]}"; do
		name=${a%%|*}
		export SHIM_PRELOAD=${a#*|}
		[ -n "${rnote[$name]:-}" ] && continue
		if [ -n "$SHIM_PRELOAD" ] && [ ! -f "$SHIM_PRELOAD" ]; then
			rnote[$name]=missing
			continue
		fi
		# shellcheck disable=SC2086 # an empty preload is no argument
		/usr/bin/time -o "$tmp/time" -f '%M %x' timeout -k 5 "$thread_timeout" \
			env ${SHIM_PRELOAD:+LD_PRELOAD="$SHIM_PRELOAD"} "$O/host/shim_regrow" \
			</dev/null >"$tmp/out" 2>"$tmp/out.err"
		read -r kb rc < <(tail -n 1 "$tmp/time")
		secs=$(sed -n 's/^regrow seconds=\([0-9.]*\) .*/\1/p' "$tmp/out")
		if [ "${rc:-1}" != 0 ] || [ -z "$secs" ]; then
			rnote[$name]="**failed** ($(head -n 1 "$tmp/out.err"))"
			continue
		fi
		progress "$name regrow run $i: $secs s, $((kb / 1024)) MiB"
		rbest[$name]=$(awk -v a="${rbest[$name]:-}" -v b="$secs" 'BEGIN { print (a == "" || b < a) ? b : a }')
		[ "$kb" -gt "${rpeak[$name]:-0}" ] && rpeak[$name]=$kb
	done
done
rrows=()
for a in "${allocators[@]}"; do
	name=${a%%|*}
	if [ -n "${rnote[$name]:-}" ]; then
		rrows+=("| $name | ${rnote[$name]} |")
	else
		rrows+=("| $name | $(printf '%.2f s, %d MiB' "${rbest[$name]}" $((rpeak[$name] / 1024))) |")
	fi
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
	if [ ${#thread_workloads[@]} -gt 0 ]; then
		echo "Threads (tests/bench/shim_threads.c, $threads threads): millions of objects"
		echo "malloc'ed and freed per second, best of $runs, and the process's peak RSS,"
		echo "largest of $runs; last column: $ref_name's throughput and peak RSS as multiples"
		echo "of jemalloc's."
		echo
		echo "$theader"
		echo "$trule"
		printf '%s\n' "${trows[@]}"
		echo
	fi
	echo "realloc() growing a buffer to 512 MiB by doubling, 3 times (tests/bench/shim_regrow.c):"
	echo "seconds, best of $runs, and peak RSS."
	echo
	echo "| allocator | regrow |"
	echo "|---|---|"
	printf '%s\n' "${rrows[@]}"
	echo
	echo "$(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d); $((SECONDS - start)) s."
} | tee "$O/bench-shim.txt"
