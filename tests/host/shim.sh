#!/bin/bash
# libmemcore's own tests, for each of the six libraries ($O/host/libmemcore.so,
# libmemcore-<strategy>.so and libmemcore-debug.so): what the library exports (the allocation
# API, nothing else: no libfdt, no mm/), the cost of booting for a program
# that allocates 1 KiB, the C conformance and multi-threaded stress
# programs (tests/shim/, run with LD_PRELOAD), the harts given back by
# threads that exited, and every kind of misuse, which must abort with the
# pointer on stderr and nothing on stdout. The misuses only the debug tier
# catches (an overflow, a write after free, a stale free) are skipped for
# the others; under libmemcore-debug.so every report must also give the
# object's size and call sites in the program's main(). libmemcore-debug.so
# also samples every allocation into guard pages while its pool has room:
# the debug tier's own misuses run there with MEMCORE_GUARD_RATE=0, the
# others sampled, and two more (an overflow, a write after free) must
# fault at the access with a report naming the object. Prints KTAP, one
# suite per library. Real programs are in shim-programs.sh.
#
# usage: O=build tests/host/shim.sh
set -u
cd "$(dirname "$0")/../.."
O=${O:-build}
host=$O/host
bin=$host/shim/test
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

api="__libc_calloc __libc_free __libc_malloc __libc_memalign __libc_pvalloc __libc_realloc __libc_valloc aligned_alloc calloc free mallinfo mallinfo2 malloc malloc_stats malloc_trim malloc_usable_size mallopt memalign posix_memalign pvalloc realloc reallocarray valloc"
misuses="double-free interior foreign usable-size-of-freed realloc-of-freed large-double-free large-interior"
debug_misuses="overflow write-after-free stale-free"
guard_misuses="guard-overflow guard-use-after-free"
libs=("$host/libmemcore.so" "$host"/libmemcore-{hart,block,slabpages,segfit,debug}.so)
nr_tests=$((11 + $(wc -w <<<"$misuses $debug_misuses $guard_misuses")))

. tests/host/ktap-lib.sh

# Whether the report in FILE names its object's size and allocation and free
# sites, both within main() (MAIN is its address; main is under 2 KiB).
in_main() { # MAIN FILE
	local main=$(($1)) a f
	grep -q '(size [0-9]*)' "$2" || return 1
	a=$(grep -o 'allocated at 0x[0-9a-f]*' "$2" | head -1 | sed 's/.* //')
	f=$(grep -o 'freed at 0x[0-9a-f]*' "$2" | head -1 | sed 's/.* //')
	[ -n "$a" ] && [ -n "$f" ] && (( a > main && a < main + 2048 && f > main && f < main + 2048 ))
}

# Whether FILE has the guard pool's fault report WHAT about object PTR, allocated in main().
guard_report() { # WHAT PTR MAIN FILE
	local main=$(($3)) a
	grep -q "^memcore: guard pool: $1 at 0x[0-9a-f]*, .* object $2 (size " "$4" || return 1
	a=$(grep -o 'allocated at 0x[0-9a-f]*' "$4" | head -1 | sed 's/.* //')
	[ -n "$a" ] && (( a > main && a < main + 2048 ))
}

# A C test program's KTAP (one suite), nested under ours; a crash counts as a failure.
nested() { # NAME LIB PROGRAM [ENV...]
	local name=$1 lib=$2 prog=$3 rc
	shift 3
	env "$@" LD_PRELOAD="$lib" timeout 300 "$prog" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep '^    ' "$tmp/out" | sed 's/^/    /'
	if [ $rc -ne 0 ] && ! grep -q '^ *not ok' "$tmp/out"; then
		# a crash: the cases that ran passed, so the crash itself must count
		sed 's/^/        # /' "$tmp/err" | head -20
		echo "        not ok 99 $name-exit-status-$rc"
	fi
	result "$name" $rc
}

echo "KTAP version 1"
echo "1..${#libs[@]}"
i=0
for lib in "${libs[@]}"; do
	i=$((i + 1))
	name=$(basename "$lib" .so)
	n=0 failed=0
	echo "    KTAP version 1"
	echo "    # Subtest: $name"
	echo "    1..$nr_tests"
	if [ ! -f "$lib" ]; then
		for _ in $(seq $nr_tests); do result built 1 "$lib not built (make shim)"; done
		echo "not ok $i $name"
		continue
	fi

	exported=$(nm -D --defined-only "$lib" | awk '{ print $3 }' | LC_ALL=C sort | xargs)
	[ "$exported" = "$api" ]
	result exports-only-the-allocation-api $? "exported: $exported"

	# glibc's own bookkeeping differs: what we add must stay small
	base=$("$bin/tiny")
	ours=$(LD_PRELOAD=$lib "$bin/tiny")
	[ -n "$ours" ] && [ $((ours - base)) -lt 4096 ]
	result boot-costs-under-4-MiB $? "peak RSS of a 1 KiB program: $ours KiB, $base KiB under glibc"

	nested conformance "$lib" "$bin/conformance" MEMCORE_STATS=1
	# many-threads had 150 threads alive at once on 64 harts, main's shared
	# too (its bias ended), then main alone again: its bias back
	if grep -q 'bias off' "$tmp/err"; then
		echo "    ok $((++n)) a-thread-alone-again-holds-the-bias # SKIP $(grep -o 'bias off.*' "$tmp/err")"
	else
		grep -q 'harts in use 1 of [0-9]*, 1 biased' "$tmp/err"
		result a-thread-alone-again-holds-the-bias $? "$(grep 'harts in use' "$tmp/err")"
	fi
	nested stress "$lib" "$bin/stress" MEMCORE_STATS=1
	# the stress made 2 * 10 + 8 * 4 + 100 * 2 threads; only main is left at its exit
	grep -q 'harts in use 1 of ' "$tmp/err"
	result threads-give-their-harts-back $? "$(grep 'harts in use' "$tmp/err")"

	# main waits for a worker that frees main's blocks and exits: queued for
	# main's hart, they must be taken when the worker exits, not left live
	blocks=$(LD_PRELOAD=$lib MEMCORE_STATS=1 timeout 60 "$bin/handback" 2>"$tmp/err")
	live=$(sed -n 's/^memcore: heap \([0-9]*\) blocks live.*/\1/p' "$tmp/err")
	[ -n "$blocks" ] && [ -n "$live" ] && [ "$live" -lt $((blocks / 10)) ]
	result frees-for-a-waiting-thread-are-taken $? "of $blocks: $(grep 'blocks live' "$tmp/err")"

	out=$(LD_PRELOAD=$lib MEMCORE_STATS=0 "$bin/tiny" 2>&1 >/dev/null)
	[ -z "$out" ]
	result silent-when-all-is-well $? "stderr: $out"

	out=$(LD_PRELOAD=$lib /bin/echo hello 2>&1)
	[ "$out" = hello ]
	result runs-a-program $? "echo said: $out"

	# under ulimit -v (1 GB), where reserving 1 TiB of arena and a 128 GiB
	# window failed and the library aborted at start: its reservations take
	# a share of what the limit leaves, and a 100 MiB block still fits
	out=$( (ulimit -v 1000000 && LD_PRELOAD=$lib "$bin/tiny" 100) 2>&1)
	[ -n "$out" ] && [ "$out" -gt 0 ] 2>/dev/null
	result starts-under-a-1-GB-ulimit-v $? "tiny said: $out"

	# under ulimit -d (300 MB), a 50 MiB block grown to 200 MiB with a block
	# after it: the OS refuses the new place's memory, and realloc() says
	# NULL (or succeeds), where it aborted once vmap had moved the block
	out=$( (ulimit -d 300000 && LD_PRELOAD=$lib "$bin/tiny" 50 200) 2>&1)
	[ -n "$out" ] && [ "$out" -gt 0 ] 2>/dev/null
	result realloc-under-a-300-MB-ulimit-d $? "tiny said: $out"

	debug=0
	[ "$name" = libmemcore-debug ] && debug=1
	for m in $misuses $debug_misuses $guard_misuses; do
		if [ $debug = 0 ] && [[ " $debug_misuses $guard_misuses " == *" $m "* ]]; then
			n=$((n + 1))
			echo "    ok $n misuse-$m # SKIP not promised without the debug tier and guard pages (libmemcore-debug.so)"
			continue
		fi
		# the debug tier's own misuses without guard pages, which would catch them first
		rate=1
		[[ " $debug_misuses " == *" $m "* ]] && rate=0
		# in a subshell whose stderr is dropped: bash's own "Aborted" line is noise here
		(MEMCORE_GUARD_RATE=$rate LD_PRELOAD=$lib timeout 60 "$bin/misuse" "$m" >"$tmp/out" \
			2>"$tmp/err"; exit $?) 2>/dev/null
		rc=$?
		read -r op ptr main_at <"$tmp/out"
		if [[ " $guard_misuses " == *" $m "* ]]; then
			[ $rc -eq 134 ] && [ "$(wc -l <"$tmp/out")" = 1 ] &&
				guard_report "$([ $m = guard-overflow ] && echo out-of-bounds || echo use-after-free) write" \
					"$ptr" "$main_at" "$tmp/err"
			result "misuse-$m" $? "exit status $rc; stdout: $(head -3 "$tmp/out" | tr '\n' ' ')" \
				"stderr: $(head -3 "$tmp/err" | tr '\n' ' ')"
			continue
		fi
		# SIGABRT, the call and the pointer on stderr, and stdout just the program's line;
		# the debug tier's reports of its objects also give their size and call sites
		# (not for pointers that are no object's start, nor for objects larger than
		# its quarantine, freed at once: the heap below reports those as before)
		[ $rc -eq 134 ] && grep -q "^memcore: $op($ptr): " "$tmp/err" && [ "$(wc -l <"$tmp/out")" = 1 ] &&
			{ [ $debug = 0 ] || [[ " foreign interior large-interior large-double-free " == *" $m "* ]] ||
				in_main "$main_at" "$tmp/err"; }
		result "misuse-$m" $? "exit status $rc; stdout: $(head -3 "$tmp/out" | tr '\n' ' ')" \
			"stderr: $(head -3 "$tmp/err" | tr '\n' ' ')"
	done

	if [ $failed -eq 0 ]; then echo "ok $i $name"; else echo "not ok $i $name"; fi
done
