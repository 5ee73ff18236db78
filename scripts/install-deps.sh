#!/bin/sh
# Installs, from Debian's archive, whatever the build and the tests need and
# this machine lacks. Only missing packages are installed; nothing is
# downloaded from anywhere else.
#
# usage: install-deps.sh [build|run|check|shim|debug|bench|bench-shim|llvm] ...
set -eu

need=""
want() { # want PACKAGE PATH-OR-COMMAND
	case $2 in
	/*) [ -e "$2" ] && return 0 ;;
	*) command -v "$2" >/dev/null 2>&1 && return 0 ;;
	esac
	case " $need " in *" $1 "*) ;; *) need="$need $1" ;; esac
}

build() {
	want gcc-riscv64-linux-gnu riscv64-linux-gnu-gcc
	want gcc-aarch64-linux-gnu aarch64-linux-gnu-gcc
	want gcc gcc
	want make make
	want python3-kconfiglib /usr/lib/python3/dist-packages/kconfiglib.py
	want linux-source-6.1 /usr/src/linux-source-6.1.tar.xz
	want device-tree-compiler dtc
	want xz-utils xz
}

run() {
	build
	want qemu-system-misc qemu-system-riscv64
	want qemu-system-arm qemu-system-aarch64
	want opensbi /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
	want u-boot-qemu /usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin
	want u-boot-tools mkimage
	want mtools mcopy
	want fdisk sfdisk
}

# the real programs tests/host/shim-programs.sh runs on our malloc
shim() {
	want python3 /usr/bin/python3
	want gcc gcc
	want sqlite3 sqlite3
	want git git
	want xz-utils xz
	want device-tree-compiler dtc
}

for what in "${@:-build}"; do
	case $what in
	build) build ;;
	run) run ;;
	check)
		run
		shim
		want tmux tmux # tests/host/menuconfig.sh drives make menuconfig through it
		want clang clang # tests/host/example.sh builds examples/hosted with gcc and clang
		;;
	shim) shim ;;
	debug) run; want gdb-multiarch gdb-multiarch ;;
	bench)
		run
		want valgrind valgrind
		# the heap benchmark's yardsticks, preloaded into the same loops
		want libjemalloc2 "/usr/lib/$(gcc -print-multiarch)/libjemalloc.so.2"
		want libmimalloc2.0 "/usr/lib/$(gcc -print-multiarch)/libmimalloc.so.2"
		;;
	bench-shim)
		shim
		want valgrind valgrind
		want time /usr/bin/time # peak RSS of a workload
		# the yardsticks, preloaded into the same programs as ours
		want libjemalloc2 "/usr/lib/$(gcc -print-multiarch)/libjemalloc.so.2"
		want libmimalloc2.0 "/usr/lib/$(gcc -print-multiarch)/libmimalloc.so.2"
		want libtcmalloc-minimal4 "/usr/lib/$(gcc -print-multiarch)/libtcmalloc_minimal.so.4"
		;;
	llvm) want clang clang; want lld ld.lld; want llvm llvm-objcopy ;;
	*) echo "install-deps.sh: unknown set '$what'" >&2; exit 2 ;;
	esac
done

[ -z "$need" ] && exit 0

echo "install-deps: installing:$need"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: not root; please run: sudo apt-get install$need" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; an install that fails on stale
# lists is retried once after an update.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
	apt-get update -q
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need </dev/null ||
	{ apt-get update -q && apt-get install -y -q --no-install-recommends $need </dev/null; }
