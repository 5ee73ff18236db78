#!/bin/bash
# Kconfig and build-system tests: defconfig per ARCH, savedefconfig and
# olddefconfig round trips (the heap hardening choice's too), and that a
# changed option rebuilds only the objects that use it. Prints KTAP.
#
# usage: O=build tests/host/kconfig.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
work=${O:-build}/kconfig-test
rm -rf "$work"
mkdir -p "$work"
. tests/host/ktap-lib.sh

mk() { make --no-print-directory O="$work" FDTSRC="${O:-build}/libfdt" "$@"; }

echo "KTAP version 1"
echo "1..1"
echo "    KTAP version 1"
echo "    # Subtest: kconfig"
echo "    1..12"

for arch in riscv64 arm64; do
	sub=riscv symbol=CONFIG_RISCV
	[ $arch = arm64 ] && sub=arm64 symbol=CONFIG_ARM64
	mk ARCH=$arch defconfig >"$work/$arch.log" 2>&1
	grep -q "^$symbol=y" "$work/$sub/.config" && grep -q '^CONFIG_HEAP_PER_HART_SLAB=y' "$work/$sub/.config" &&
		grep -q '^CONFIG_HEAP_HARDEN_DEFAULT=y' "$work/$sub/.config"
	result "defconfig-$arch" $? "$(tail -3 "$work/$arch.log")"
done

# savedefconfig writes only what differs from the defaults; loading it back
# must give the same .config.
cfg=$work/riscv/.config
sed -i 's/^CONFIG_MAX_HARTS=.*/CONFIG_MAX_HARTS=4/' "$cfg"
mk ARCH=riscv64 olddefconfig >/dev/null 2>&1
grep -q '^CONFIG_MAX_HARTS=4$' "$cfg"
result "olddefconfig-keeps-values" $?
cp "$cfg" "$work/before.config"
mk ARCH=riscv64 savedefconfig >/dev/null 2>&1
grep -q '^CONFIG_MAX_HARTS=4$' "$work/riscv/defconfig" && ! grep -q 'CONFIG_SERIAL_NS16550' "$work/riscv/defconfig"
result "savedefconfig-is-minimal" $? "$(cat "$work/riscv/defconfig" 2>/dev/null)"
mk ARCH=riscv64 riscv64_defconfig >/dev/null 2>&1 # back to the default ...
mk ARCH=riscv64 defconfig_file="$work/riscv/defconfig" defconfig >/dev/null 2>&1 # ... and to the saved one
diff <(grep '^CONFIG' "$work/before.config") <(grep '^CONFIG' "$cfg") >"$work/roundtrip.diff"
result "savedefconfig-round-trip" $? "$(head -5 "$work/roundtrip.diff")"

# The hardening tier from its fragment, through savedefconfig and back.
mk ARCH=riscv64 defconfig harden_debug.config >/dev/null 2>&1
grep -q '^CONFIG_HEAP_HARDEN_DEBUG=y$' "$cfg" && grep -q '^CONFIG_HEAP_QUARANTINE_KB=1024$' "$cfg" &&
	mk ARCH=riscv64 savedefconfig >/dev/null 2>&1 &&
	grep -q '^CONFIG_HEAP_HARDEN_DEBUG=y$' "$work/riscv/defconfig" &&
	! grep -q 'QUARANTINE' "$work/riscv/defconfig" &&
	mk ARCH=riscv64 defconfig_file="$work/riscv/defconfig" defconfig >/dev/null 2>&1 &&
	grep -q '^CONFIG_HEAP_HARDEN_DEBUG=y$' "$cfg" && mk ARCH=riscv64 olddefconfig >/dev/null 2>&1 &&
	grep -q '^CONFIG_HEAP_HARDEN_DEBUG=y$' "$cfg"
result "hardening-choice-round-trip" $? "$(grep -E 'HARDEN|QUARANTINE' "$cfg" "$work/riscv/defconfig")"
cp "$work/before.config" "$cfg" # back to the saved one
mk ARCH=riscv64 olddefconfig >/dev/null 2>&1

# A build, then a change of one option: only what uses it is rebuilt.
mk ARCH=riscv64 -j2 >"$work/build1.log" 2>&1
test -f "$work/riscv/Image"
result "build-from-config" $? "$(tail -5 "$work/build1.log")"
sleep 1
sed -i 's/^CONFIG_CMDLINE=.*/CONFIG_CMDLINE="changed"/' "$cfg"
mk ARCH=riscv64 V=1 >"$work/build2.log" 2>&1
rebuilt=$(grep -oE -- '-o [^ ]+\.o' "$work/build2.log" | awk '{print $2}' | sed "s|$work/riscv/||" | sort -u | tr '\n' ' ')
[ "$rebuilt" = "lib/cmdline.o " ]
result "config-change-rebuilds-only-users" $? "rebuilt: ${rebuilt:-nothing}" "expected: lib/cmdline.o"

# The same with a config goal first and two jobs (make olddefconfig all): the
# first build after the change must see it, whatever order make takes.
sleep 1
sed -i 's/^CONFIG_CMDLINE=.*/CONFIG_CMDLINE="changed again"/' "$cfg"
mk ARCH=riscv64 V=1 -j2 olddefconfig all >"$work/build3.log" 2>&1
rebuilt=$(grep -oE -- '-o [^ ]+\.o' "$work/build3.log" | awk '{print $2}' | sed "s|$work/riscv/||" | sort -u | tr '\n' ' ')
[ "$rebuilt" = "lib/cmdline.o " ] && grep -q '"changed again"' "$work/riscv/include/generated/autoconf.h"
result "config-change-then-build-in-one-make" $? "rebuilt: ${rebuilt:-nothing}" "expected: lib/cmdline.o"

# make clean removes what was built and keeps the configuration it says it keeps.
mk ARCH=riscv64 clean >"$work/clean.log" 2>&1
[ ! -e "$work/riscv/Image" ] && [ ! -e "$work/riscv/lib/cmdline.o" ] &&
	grep -q '"changed again"' "$cfg" && grep -q "kept $cfg" "$work/clean.log"
result "clean-keeps-the-config" $? "$(cat "$work/clean.log")" "$(ls -a "$work/riscv")"

# After make clean, make run builds, boots without the tests and shows what was
# set up, and leaves a compile_commands.json that covers every heap strategy;
# make test-run runs the tests.
mk ARCH=riscv64 -j2 run >"$work/run.log" 2>&1 && mk ARCH=riscv64 test-run >"$work/test-run.log" 2>&1 &&
	! grep -q 'KTAP' "$work/run.log" && grep -q '^memcore: boot complete' "$work/run.log" &&
	grep -q '^kmap: W^X holds' "$work/run.log" && grep -q '^heap: strategy' "$work/run.log" &&
	grep -Eq '^# kernel tests: [0-9]+ passed, 0 failed' "$work/test-run.log" &&
	(for f in mm/heap/hart/heap_hart.c mm/heap/block/heap_block.c mm/heap/slabpages/heap_slabpages.c mm/heap/segfit/heap_segfit.c; do
		grep -q "\"file\":\"$f\"" "$work/compile_commands.json" || exit 1
	done)
result "run-after-clean-shows-the-boot-test-run-tests" $? "$(tail -3 "$work/run.log")" \
	"$(tail -3 "$work/test-run.log")"

# Another toolchain (LLVM=1 after gcc), then gcc again: each rebuilds every object.
mk ARCH=riscv64 -j2 >"$work/build4.log" 2>&1 &&
	mk ARCH=riscv64 LLVM=1 V=1 -j2 >"$work/build5.log" 2>&1 &&
	mk ARCH=riscv64 V=1 -j2 >"$work/build6.log" 2>&1
ok=$?
llvm=$(grep -c -- '^clang .* -c lib/cmdline.c' "$work/build5.log")
gcc=$(grep -c -- '^riscv64-linux-gnu-gcc .* -c lib/cmdline.c' "$work/build6.log")
[ $ok = 0 ] && [ "$llvm" = 1 ] && [ "$gcc" = 1 ]
result "toolchain-change-rebuilds" $? "clang compiled lib/cmdline.c $llvm time(s), then gcc $gcc" \
	"$(tail -3 "$work/build5.log")"

[ $failed = 0 ] && echo "ok 1 kconfig" || echo "not ok 1 kconfig"
[ $failed = 0 ]
