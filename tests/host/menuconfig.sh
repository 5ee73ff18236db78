#!/bin/bash
# make menuconfig, driven through tmux as a user would: the heap strategy
# choice is there with its help, switching it and saving rebuilds only the
# strategy's objects, the kernel built with it boots and names it, and
# savedefconfig / olddefconfig keep the choice. Prints KTAP.
#
# usage: O=build tests/host/menuconfig.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
work=${O:-build}/menuconfig-test
cfg=$work/riscv/.config
session=menuconfig-test-$$
rm -rf "$work"
mkdir -p "$work"
. tests/host/ktap-lib.sh

mk() { make --no-print-directory O="$work" FDTSRC="${O:-build}/libfdt" ARCH=riscv64 "$@"; }

screen() { tmux capture-pane -t "$session" -p; }

# Waits up to 20 s for the screen to show TEXT (a fixed string); false if it never does.
wait_for() {
	for _ in $(seq 100); do
		screen | grep -qF -- "$1" && return 0
		sleep 0.2
	done
	return 1
}

keys() { tmux send-keys -t "$session" "$@"; }

echo "KTAP version 1"
echo "1..1"
echo "    KTAP version 1"
echo "    # Subtest: menuconfig"
echo "    1..6"

mk defconfig >"$work/defconfig.log" 2>&1
mk -j2 >"$work/build1.log" 2>&1 || tail -5 "$work/build1.log"
sleep 1 # a second apart: make compares timestamps

tmux new-session -d -s "$session" -x 120 -y 40 \
	"make --no-print-directory O=$work ARCH=riscv64 menuconfig 2>$work/menuconfig.err; echo menuconfig-exited; sleep 60"
trap 'tmux kill-session -t "$session" 2>/dev/null' EXIT
shown=1
if wait_for "Memory management"; then
	keys /
	wait_for "Jump to symbol" && keys -l HEAP_SEGREGATED_FIT
	wait_for 'HEAP_SEGREGATED_FIT(=n)' && keys Enter
	wait_for "Kernel heap strategy" && keys '?'
	wait_for "Help:" && screen | grep -q "0xDEADBEEF" && shown=0
	screen >"$work/help.screen"
	keys Escape
	wait_for "(X) Per-hart slab heaps" && keys Space # the cursor is on the one jumped to
	wait_for "Segregated fit (PatchworkOS heap))" && keys S
	wait_for "Filename to save configuration to" && keys Enter
	wait_for "Configuration saved" && keys Enter
	keys Q
	wait_for "menuconfig-exited"
fi
result "menuconfig-shows-the-choice-with-help" $shown "$(grep -v '^ *$' "$work/help.screen" 2>/dev/null | head -12)"
grep -q '^CONFIG_HEAP_SEGREGATED_FIT=y' "$cfg" && grep -q '^# CONFIG_HEAP_PER_HART_SLAB is not set' "$cfg"
result "menuconfig-selects-segregated-fit" $? "$(screen | grep -v '^ *$' | tail -8)" "$(grep HEAP "$cfg")"

# Only the new strategy's files are compiled; nothing else mentions the choice.
mk -j2 V=1 >"$work/build2.log" 2>&1
rebuilt=$(grep -oE -- '-o [^ ]+\.o' "$work/build2.log" | awk '{print $2}' | sed "s|$work/riscv/||" | sort -u | tr '\n' ' ')
[ "$rebuilt" = "mm/heap/heap_global.o mm/heap/segfit/heap_segfit.o " ]
result "switch-rebuilds-only-the-strategy" $? "rebuilt: ${rebuilt:-nothing}" \
	"expected: mm/heap/heap_global.o mm/heap/segfit/heap_segfit.o" "$(tail -3 "$work/build2.log")"

scripts/qemu-run.sh --arch riscv64 --image "$work/riscv/Image" --workdir "$work/qemu" --smp 2 \
	--timeout 120 >"$work/boot.log" 2>&1
grep -q 'heap: strategy segregated fit, 2 harts' "$work/boot.log" &&
	grep -q '^# kernel tests: [0-9]* passed, 0 failed' "$work/boot.log"
result "boot-names-the-strategy" $? "$(grep -E 'heap: strategy|kernel tests' "$work/boot.log")"

mk savedefconfig >/dev/null 2>&1
cp "$cfg" "$work/menuconfig.config"
mk defconfig >/dev/null 2>&1 # back to the per-hart default ...
mk defconfig_file="$work/riscv/defconfig" defconfig >/dev/null 2>&1 # ... and to the saved one
grep -q '^CONFIG_HEAP_SEGREGATED_FIT=y' "$work/riscv/defconfig" &&
	diff <(grep '^CONFIG' "$work/menuconfig.config") <(grep '^CONFIG' "$cfg") >/dev/null
result "savedefconfig-round-trips-the-choice" $? "$(cat "$work/riscv/defconfig")"

mk olddefconfig >/dev/null 2>&1
grep -q '^CONFIG_HEAP_SEGREGATED_FIT=y' "$cfg"
result "olddefconfig-keeps-the-choice" $? "$(grep HEAP "$cfg")"

[ $failed = 0 ] && echo "ok 1 menuconfig" || echo "not ok 1 menuconfig"
[ $failed = 0 ]
