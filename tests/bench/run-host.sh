#!/bin/bash
# Host benchmarks (scripts/bench.sh runs this): builds build/host/bench_* at
# -O2 without sanitizers and runs each under callgrind, whose instruction
# counts are exact and repeatable whatever else the machine is doing. Each
# measurement in a program is one callgrind dump labelled
# NAME/OPS/UNIT/LOOP-FUNCTION; this prints one line per dump:
#   host: NAME: X.Y instructions/UNIT (N UNITs), Z.W inside the calls
# where the second figure leaves out the measuring loop's own instructions
# (its calls, argument set-up and checks), and the share of libc's memset
# where it matters (callgrind counts its rep stosb once per byte); then the
# wall-clock figures of a plain run. Below one instruction per unit (a block
# mapping counted per 4 KiB page), X has three decimals and the whole count
# follows N.
#
# usage: [O=dir] run-host.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}

make -s -j2 O="$O" host-bench || exit 1
have_valgrind=true
if ! command -v valgrind >/dev/null; then
	echo "run-host.sh: valgrind is not installed (Debian package valgrind): wall clock only" >&2
	have_valgrind=false
fi

# Instructions of the dump's function FN: inclusive or self.
fn_cost() { # DUMP FN yes|no
	callgrind_annotate --inclusive="$3" --threshold=100 "$1" 2>/dev/null | awk -v fn="$2" '
		/^-- / { exit } # the function table ends where the annotated sources begin
		{ for (i = 2; i < NF; i++)
			if ($i ~ ("[a-z_]*[.][ch]:" fn "$") && $(i + 1) ~ /^[[]/) {
				gsub(",", "", $1); print $1; exit
			}
		}'
}

work=$O/host/bench-out
rm -rf "$work" && mkdir -p "$work"
# Runs PROG under callgrind (with the environment ENV..., e.g. a preloaded
# malloc) and prints a line per dump, then its wall-clock figures.
run_prog() { # PROG TAG [ENV...]
	local prog=$1 tag=$2 name
	shift 2
	name=$(basename "$prog")$tag
	if $have_valgrind; then
		env "$@" valgrind --tool=callgrind --callgrind-out-file="$work/$name.cg" "$prog" \
			>"$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
		for dump in $(ls "$work/$name.cg".* | sort -t. -k3 -n); do
			label=$(sed -n 's/^desc: Trigger: Client Request: //p' "$dump")
			[ -n "$label" ] || continue
			IFS=/ read -r what ops unit fn <<<"$label"
			total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
			incl=$(fn_cost "$dump" "$fn" yes)
			self=$(fn_cost "$dump" "$fn" no)
			# libc's memset is rep stosb, which callgrind counts once per byte
			memset=$(callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
				awk '/^-- / { exit } /memset/ { gsub(",", "", $1); n += $1 } END { print n + 0 }')
			awk -v w="$what" -v t="$total" -v n="$ops" -v u="$unit" -v i="${incl:-0}" -v s="${self:-0}" \
				-v m="$memset" 'BEGIN {
				# below one per unit (a block mapping counted per 4 KiB page), the whole count too
				if (t < n)
					line = sprintf("host: %s: %.3f instructions/%s (%d %ss; %d instructions in all)",
						w, t / n, u, n, u, t)
				else
					line = sprintf("host: %s: %.1f instructions/%s (%d %ss)", w, t / n, u, n, u)
				if (i > s)
					line = line sprintf(", %.1f inside the calls", (i - s) / n)
				if (m * 10 > t)
					line = line sprintf(", %.1f of them in memset", m / n)
				print line
			}'
		done
	fi
	env "$@" "$prog" | sed 's/^native: /host wall clock: /'
}

for prog in "$O"/host/bench_*; do
	[ -x "$prog" ] || continue
	run_prog "$prog" ""
done

# The heap's yardsticks: the same loops through glibc's malloc, and jemalloc's and mimalloc's, preloaded.
run_prog "$O/host/bench_heap_hart" "-glibc" BENCH_MALLOC=glibc
lib=/usr/lib/$(gcc -print-multiarch 2>/dev/null)
for alt in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2; do
	if [ -f "$lib/${alt#*:}" ]; then
		run_prog "$O/host/bench_heap_hart" "-${alt%%:*}" BENCH_MALLOC="${alt%%:*}" LD_PRELOAD="$lib/${alt#*:}"
	else
		echo "host: ${alt%%:*} is not installed ($lib/${alt#*:}): not measured"
	fi
done
