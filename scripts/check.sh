#!/bin/bash
# make check: installs what is missing, runs every test (host unit tests,
# golden and real-board device-tree tests, then QEMU boots on both
# architectures), prints each suite's KTAP and ends with one line
# 'N passed, N failed, N skipped'. Exit status 1 on any failure.
#
# usage: check.sh [O=dir] [LLVM=1]
set -uo pipefail
cd "$(dirname "$0")/.."

O=build
make_vars=()
for a in "$@"; do
	case $a in O=*) O=${a#O=} ;; esac
	make_vars+=("$a")
done
out=$O/check
logs=$out/logs
rm -rf "$logs" && mkdir -p "$logs"
start=$SECONDS

scripts/install-deps.sh check || exit 1

# A build failure is a failed test, not a silent stop.
build_step() { # NAME LOG COMMAND...
	local name=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		return 0
	fi
	echo "build step $name failed:" >&2
	tail -n 40 "$log" >&2
	printf 'KTAP version 1\n1..1\nnot ok 1 build-%s\n' "$name" >"$logs/build-$name.ktap"
	return 1
}

section() { echo; echo "=== $* ($((SECONDS - start)) s)"; }

section "host unit tests"
if build_step host "$out/host-build.log" make -j2 "${make_vars[@]}" host-tests; then
	for t in "$O"/host/test_*; do
		name=$(basename "$t")
		run=("$t")
		# test_*_tsan (ThreadSanitizer): its fixed memory layout breaks under
		# the wider mmap randomisation of some kernels, so no ASLR for it.
		if [[ $name == *_tsan ]] && command -v setarch >/dev/null; then
			run=(setarch "$(uname -m)" -R "$t")
		fi
		DTB_DIR=$O/host/dtb "${run[@]}" >"$logs/$name.ktap" 2>"$logs/$name.stderr"
		rc=$?
		cat "$logs/$name.ktap"
		# A crash (sanitizer report, abort) after some output must still count.
		if [ $rc -ne 0 ] && ! grep -q '^not ok' "$logs/$name.ktap"; then
			cat "$logs/$name.stderr"
			printf 'KTAP version 1\n1..1\nnot ok 1 %s-exit-status-%d\n' "$name" "$rc" >>"$logs/$name.ktap"
		fi
	done
	for s in tests/host/*.sh; do
		[ -x "$s" ] || continue
		name=$(basename "$s" .sh)
		section "$name"
		O=$O "$s" >"$logs/$name.ktap" 2>"$logs/$name.stderr"
		rc=$?
		cat "$logs/$name.ktap"
		if [ $rc -ne 0 ] && ! grep -q '^ *not ok' "$logs/$name.ktap"; then
			cat "$logs/$name.stderr"
			printf 'KTAP version 1\n1..1\nnot ok 1 %s-exit-status-%d\n' "$name" "$rc" >>"$logs/$name.ktap"
		fi
	done
fi

# A kernel of configs/NAME.config for $arch, built and booted by boot-matrix.sh
# with STRATEGY (and a hardening tier, if given): the heap's shorter set.
build_and_boot() { # NAME STRATEGY [HARDENING]
	local sout=$O/check-$arch-$1
	if build_step "$arch-$1" "$out/$arch-$1-build.log" \
		make -j2 "${make_vars[@]}" O="$sout" FDTSRC="$O/libfdt" ARCH="$arch" \
		defconfig "$1.config" all; then
		O=$O tests/qemu/boot-matrix.sh "$arch" "$sout/$sub/Image" "$out/qemu-$arch-$1" \
			"${@:2}" | tee "$logs/qemu-$arch-$1.ktap"
	fi
}

for arch in riscv64 arm64; do
	section "$arch: build and boot"
	kout=$O/check-$arch
	sub=riscv
	[ "$arch" = arm64 ] && sub=arm64
	if build_step "$arch" "$out/$arch-build.log" \
		make -j2 "${make_vars[@]}" O="$kout" FDTSRC="$O/libfdt" ARCH="$arch" defconfig all; then
		O=$O tests/qemu/boot-matrix.sh "$arch" "$kout/$sub/Image" "$out/qemu-$arch" |
			tee "$logs/qemu-$arch.ktap"
	fi
	# Every other heap strategy (configs/heap_*.config): built and booted
	# with four harts; the boot log must name it.
	for frag in configs/heap_*.config; do
		name=$(basename "$frag" .config)
		strategy=$(sed -n 's/^# strategy: //p' "$frag")
		[ "$strategy" = "per-hart slab" ] && continue # the default: booted above
		section "$arch: $name ($strategy)"
		build_and_boot "$name" "$strategy"
	done
	# The heap hardening tiers other than the default (configs/harden_*.config)
	# on the default strategy, on both architectures (the host runs the whole
	# tier x strategy matrix); one boot each with four harts, every
	# in-kernel heap suite. A build and a boot: under a minute each.
	for hardening in debug off; do
		strategy="per-hart slab"
		name=harden_$hardening
		section "$arch: $name"
		build_and_boot "$name" "$strategy" "$hardening"
	done
	# Sampled guard pages (configs/guard.config) on the default strategy
	# and tier: the in-kernel guard suite and the heaps' cross-hart suite
	# with sampling; about 10 s of boot.
	section "$arch: guard"
	build_and_boot guard "per-hart slab" "default+guard"
	# MAX_HARTS 512 (configs/harts512.config): 64 harts with the suites,
	# and as many as the firmware starts.
	section "$arch: many harts"
	build_and_boot harts512 --many-harts
done

section "summary"
echo "logs: $logs, total time $((SECONDS - start)) s"
python3 scripts/ktap-summary.py "$logs"/*.ktap
