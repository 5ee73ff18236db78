#!/bin/bash
# make bench: the benchmarks, as instructions per operation.
#  - host: the portable allocators and the page mapper (both PTE formats)
#    built without sanitizers, counted by callgrind (exact and repeatable,
#    whatever else the machine does);
#  - QEMU, both arches: the kernel booted with "bench" under -icount
#    shift=0, where the hart's counters count guest instructions exactly;
#    then with "bench=smp" on two harts under MTTCG, where the cycle
#    counter is time: cross-hart frees and 1 vs 2 hart throughput.
# Each figure comes with a baseline measured in the same run.
#
# usage: bench.sh [O=dir]
set -uo pipefail
cd "$(dirname "$0")/.."
O=build
for a in "$@"; do case $a in O=*) O=${a#O=} ;; esac; done

scripts/install-deps.sh bench || exit 1

if [ -x tests/bench/run-host.sh ]; then
	echo "=== host (callgrind)"
	O=$O tests/bench/run-host.sh || exit 1
fi

for arch in riscv64 arm64; do
	echo "=== $arch (QEMU -icount shift=0)"
	sub=riscv
	[ $arch = arm64 ] && sub=arm64
	kout=$O/bench-$arch
	make -s -j2 O="$kout" FDTSRC="$O/libfdt" ARCH=$arch defconfig all >"$kout.log" 2>&1 || { tail -20 "$kout.log"; exit 1; }
	scripts/qemu-run.sh --arch $arch --image "$kout/$sub/Image" --mem 4G --append bench \
		--timeout 300 -- -icount shift=0,sleep=off | tr -d '\r' | grep '^bench: ' |
		grep -v -e '^bench: start' -e '^bench: done' | sed "s/^bench: /$arch: /"
	# two harts at once: without -icount (which runs one hart at a time), cycles are time
	echo "=== $arch (QEMU -smp 2, MTTCG)"
	scripts/qemu-run.sh --arch $arch --image "$kout/$sub/Image" --mem 1G --smp 2 --append bench=smp \
		--timeout 300 -- -accel tcg,thread=multi | tr -d '\r' | grep '^bench: ' |
		grep -v -e '^bench: start' -e '^bench: done' | sed "s/^bench: /$arch: /"
done
