#!/bin/bash
# make bench: the benchmarks, as instructions per operation.
#  - host: the portable allocators and the page mapper (both PTE formats)
#    built without sanitizers, counted by callgrind (exact and repeatable,
#    whatever else the machine does);
#  - QEMU, both arches, a kernel per heap strategy: booted with "bench"
#    under -icount shift=0, where the hart's counters count guest
#    instructions exactly; then with "bench=smp" on up to four harts (no
#    more than the host's cores) under MTTCG, where the cycle counter is
#    time: cross-hart frees and 1, 2 and 4 hart throughput.
# Each figure comes with a baseline measured in the same run.
#
# About 10 minutes on two cores: the host part 2, the QEMU part 8 (8 kernels
# to build, 22 boots). Each step says where it is and how long it has run.
#
# usage: bench.sh [O=dir] [--host-only]     (make bench; make bench-host: the host part)
set -uo pipefail
cd "$(dirname "$0")/.."
O=build host_only=0
for a in "$@"; do
	case $a in
	O=*) O=${a#O=} ;;
	--host-only) host_only=1 ;;
	*) echo "usage: bench.sh [O=dir] [--host-only]" >&2; exit 2 ;;
	esac
done

scripts/install-deps.sh bench || exit 1

# Everything below also goes to $O/bench.txt; the heap strategies' table is made from it at the end.
mkdir -p "$O"
exec > >(tee "$O/bench.txt")

# Progress on stderr (the table on stdout): step, what, time so far.
steps=$((1 + (1 - host_only) * (2 * $(ls configs/heap_*.config | wc -l) * 2 + 2 * 3))) step=0
start=$SECONDS about=$((host_only ? 120 : 600))
progress() {
	step=$((step + 1))
	echo "bench: [$step/$steps] $* ($((SECONDS - start)) s so far; about $about s in all)" >&2
}

if [ -x tests/bench/run-host.sh ]; then
	progress "host: the allocators and the mapper under callgrind"
	echo "=== host (callgrind)"
	O=$O tests/bench/run-host.sh || exit 1
fi
[ $host_only = 1 ] && exit 0

# Harts at once: up to 4, no more than the host has cores. More vCPUs than
# cores measure the host's scheduler: a vCPU holding a lock is descheduled
# while the others spin (a strategy with one lock took minutes for what
# one hart does in a second).
harts=$(nproc)
[ "$harts" -gt 4 ] && harts=4
[ "$harts" -lt 2 ] && harts=2
[ "$harts" -lt 4 ] && echo "bench: $(nproc) host cores: throughput on $harts harts, 4 harts not measured"

# Every heap strategy (configs/heap_*.config) on each arch: one kernel each.
for arch in riscv64 arm64; do
	sub=riscv
	[ $arch = arm64 ] && sub=arm64
	for frag in configs/heap_*.config; do
		name=$(basename "$frag" .config)
		kout=$O/bench-$arch-$name
		make -s -j2 O="$kout" FDTSRC="$O/libfdt" ARCH=$arch defconfig "$name.config" all \
			>"$kout.log" 2>&1 || { tail -20 "$kout.log"; exit 1; }
		# the buddy's and the mapper's benchmarks once, with the default; the heap's with each
		what=bench=heap
		[ "$name" = heap_hart ] && what=bench
		progress "$arch $name: instructions under -icount"
		echo "=== $arch $name (QEMU -icount shift=0)"
		scripts/qemu-run.sh --arch $arch --image "$kout/$sub/Image" --mem 4G --append $what \
			--timeout 600 -- -icount shift=0,sleep=off | tr -d '\r' | grep '^bench: ' |
			grep -v -e '^bench: start' -e '^bench: done' | sed "s/^bench: /$arch $name: /"
		# harts at once: without -icount (which runs one hart at a time), cycles are time
		progress "$arch $name: $harts harts at once"
		echo "=== $arch $name (QEMU -smp $harts, MTTCG)"
		scripts/qemu-run.sh --arch $arch --image "$kout/$sub/Image" --mem 1G --smp $harts --append bench=smp \
			--timeout 600 -- -accel tcg,thread=multi | tr -d '\r' | grep '^bench: ' |
			grep -v -e '^bench: start' -e '^bench: done' | sed "s/^bench: /$arch $name: /"
	done
done

# The buddy's set-up per GiB at 1, 64 and 512 GiB of RAM (the default
# kernel, bench=setup: it stops once the buddy is up): it must stay linear.
# Untouched guest RAM costs the host nothing (reserve=off); the metadata,
# 16 bytes a frame, is written: 2 GiB of host memory at 512 GiB.
for arch in riscv64 arm64; do
	sub=riscv
	[ $arch = arm64 ] && sub=arm64
	echo "=== $arch buddy set-up per GiB (QEMU -icount shift=0)"
	for mem in 1G 64G 512G; do
		progress "$arch: the buddy's set-up at $mem"
		scripts/qemu-run.sh --arch $arch --image "$O/bench-$arch-heap_hart/$sub/Image" --mem $mem \
			--append bench=setup --timeout 600 -- -icount shift=0,sleep=off \
			-object memory-backend-ram,id=r,size=$mem,reserve=off -machine memory-backend=r |
			tr -d '\r' | grep '^bench: buddy-setup' | sed "s/^bench: /$arch $mem: /"
	done
done

echo "=== the heap strategies side by side (scripts/bench-table.py $O/bench.txt)"
scripts/bench-table.py "$O/bench.txt"
