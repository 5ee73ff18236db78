#!/bin/bash
# Boots one architecture's kernel through every firmware route and machine
# shape the platform must handle, and prints one KTAP document: a test per
# boot whose subtests are the kernel's own KTAP suites plus the runner's
# checks of the boot (exit status, complete test output, expected messages).
#
# usage: boot-matrix.sh riscv64|arm64 IMAGE WORKDIR [STRATEGY [HARDENING] | --many-harts]
# env: BOOT_ONLY=REGEX runs only the boots whose names it matches; O (scripts/linux-dtb.sh's cache)
#   With STRATEGY (a heap strategy's name as the boot log gives it, the
#   image built with it), a shorter set: four harts, direct, through the
#   firmware (OpenSBI on riscv64, entered at EL2 on arm64) and through
#   U-Boot, the heap's suites on that strategy.
#   With HARDENING too (a heap hardening tier, "off" or "debug", the image
#   built with it): one boot, direct with four harts, every in-kernel heap
#   suite (the conformance suite among them) under that tier. HARDENING
#   TIER+guard: an image with sampled guard pages (configs/guard.config),
#   one such boot with the suites that can run with sampling on.
#   --many-harts: an image of configs/harts512.config, booted on many harts.
set -uo pipefail

arch=$1 image=$2 workdir=$3 strategy=${4:-} hardening=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
run=$here/../../scripts/qemu-run.sh
mkdir -p "$workdir"

boots=0
declare -a results

# boot NAME KIND [qemu-run options...]
#   KIND pass:           the kernel's tests must all pass and QEMU exit 0
#   KIND pass:REGEX      ... and the log must match REGEX
#   KIND fail:REGEX      QEMU must exit non-zero and the log match REGEX
boot() {
	local name=$1 kind=$2
	shift 2
	local log=$workdir/$name.log rc n=0 ok=1
	[[ $name =~ ${BOOT_ONLY:-.} ]] || return 0 # BOOT_ONLY=REGEX: just the boots it matches
	boots=$((boots + 1))
	local t0=$SECONDS
	"$run" --arch "$arch" --image "$image" --workdir "$workdir/$name" "$@" >"$log" 2>&1
	rc=$?
	tr -d '\r' <"$log" >"$log.txt"

	echo "    KTAP version 1"
	echo "    # Subtest: $arch-$name"
	case $kind in
	pass | pass:*)
		# The kernel's own KTAP document, nested one level down.
		local ktap
		ktap=$(awk '/^KTAP version 1/ {on = 1} /^# kernel tests:/ {on = 0} on' "$log.txt")
		if [ -n "$ktap" ]; then
			printf '%s\n' "$ktap" | sed 's/^/    /'
			n=$(printf '%s\n' "$ktap" | grep -c '^\(ok\|not ok\) ')
		fi
		check "$((++n))" "exit-status-0" test "$rc" = 0 || ok=0
		check "$((++n))" "kernel-tests-complete" grep -q '^# kernel tests: [0-9]* passed, 0 failed' "$log.txt" || ok=0
		if [ "$kind" != pass ]; then
			check "$((++n))" "log-says" grep -Eq "${kind#pass:}" "$log.txt" || ok=0
		fi
		;;
	fail:*)
		local pattern=${kind#fail:}
		check "$((++n))" "exit-status-failure" test "$rc" != 0 -a "$rc" != 124 || ok=0
		check "$((++n))" "reported-clearly" grep -Eq "$pattern" "$log.txt" || ok=0
		;;
	esac
	if [ "$ok" = 0 ]; then
		echo "    # $name: QEMU exit status $rc after $((SECONDS - t0)) s; last lines of $log:"
		tail -n 25 "$log.txt" | sed 's/^/    # | /'
	fi
	echo "$([ $ok = 1 ] && echo ok || echo 'not ok') $boots $arch-$name # $((SECONDS - t0)) s"
}

# check NUM NAME COMMAND...: one leaf result from a command's exit status.
check() {
	local num=$1 name=$2
	shift 2
	if "$@"; then
		echo "    ok $num $name"
	else
		echo "    not ok $num $name"
		return 1
	fi
}

expect() { # the command-line expectations the kernel's boot tests read
	echo "test.ram=$1 test.banks=$2 test.harts=$3${4:+ $4}"
}

# U-Boot ran a boot command by itself and booti started us.
UBOOT_SAYS='Starting kernel'

echo "KTAP version 1"
if [ "$strategy" = --many-harts ]; then
	# An image built with MAX_HARTS 512 (configs/harts512.config). riscv64:
	# 64 harts with the suites about harts (smp, heap_smp, boot-harts: the
	# per-hart ones share their rounds among the harts online; the others,
	# which look at one hart's memory, run in the other boots), and
	# 128, tests off, the most Debian's OpenSBI 1.1 starts (its hart masks
	# are 128 bits). arm64: 64 harts with the same suites, and 512 (QEMU
	# virt's most), tests off: its idle harts sleep in wfi, woken by a GICv3
	# SGI (as QEMU's TCG runs wfe, a busy yield, 64 idle cores starved a lock
	# holder of two host CPUs for minutes, and 512 took many more to come
	# up). Every suite passes on 64 in 90 to 230 s, and the hart suites on
	# 512 in 50 s or in minutes: vCPU threads hand a ticket lock on at the
	# host scheduler's pace, too slow and uneven for make check.
	# arm64's 64 run on one TCG thread (thread=single, the vCPUs in turn):
	# QEMU makes every broadcast TLBI (tlbi vaae1is, a large block's unmap)
	# wait until all vCPU threads have stopped, which 64 threads on two
	# host CPUs took 2 to 140 s of heap_smp for; in turn, 10 s. The boots
	# of 4 harts keep MTTCG's parallel vCPUs. riscv64's shootdowns are SBI
	# IPIs, which such a thread services slower still (heap_smp passed
	# 300 s), so riscv64 keeps MTTCG.
	case $arch in
	riscv64)
		boot smp64-tests pass:'smp: 64 of 64 harts online' --boot direct --mem 1G --smp 64 \
			--timeout 300 --append "$(expect 1G 1 64 \
			test.skip=heap_conformance,heap,buddy-boot,kmap,heap_guard)"
		boot smp128-firmware-limit pass:'smp: 128 of 128 harts online' --boot direct --mem 1G \
			--smp 128 --timeout 300 --append "$(expect 1G 1 128 test.skip=all)"
		;;
	arm64)
		boot smp64-tests pass:'smp: 64 of 64 harts online' --boot direct --mem 1G --smp 64 \
			--timeout 300 --append "$(expect 1G 1 64 \
			test.skip=heap_conformance,heap,buddy-boot,kmap,heap_guard)" \
			-- -accel tcg,thread=single
		boot smp512 pass:'smp: 512 of 512 harts online' --boot direct --mem 1G --smp 512 \
			--timeout 120 --append "$(expect 1G 1 512 test.skip=all)"
		;;
	esac
	echo "1..$boots"
	exit 0
fi
if [ -n "$hardening" ]; then
	tier=${hardening%+guard} name=harden-${hardening%+guard} skip=
	says="heap: strategy ${strategy//+/\\+}, 4 harts, hardening $tier"
	if [ "$tier" != "$hardening" ]; then
		# Sampled guard pages (configs/guard.config): the guard suite, and
		# the cross-hart suite with sampling on. Left to the other boots:
		# the suites that look inside the strategy or misuse the heap on
		# purpose (a sampled object faults there, as it should), and those
		# that never allocate (kmap, buddy: half a minute).
		says="$says, guard pages: 1 in [0-9]+"
		name=guard-$tier
		skip=test.skip=heap,heap_conformance,buddy-boot,kmap
	fi
	boot "$name-direct-m256M-smp4" pass:"$says" --boot direct --mem 256M --smp 4 --timeout 240 \
		--append "$(expect 256M 1 4 $skip)"
	# A real overflow of a sampled object, no probe: the panic names it.
	[ -n "$skip" ] && boot guard-crash fail:'PANIC: heap: guard pool: out-of-bounds write at 0x[0-9a-f]+, 1 byte\(s\) after the end of live object 0x[0-9a-f]+ \(size 128, at \+128\); allocated at 0x' \
		--boot direct --mem 256M --smp 4 --append "$(expect 256M 1 4 "$skip,heap_smp test.guard_crash")"
	echo "1..$boots"
	exit 0
fi
if [ -n "$strategy" ]; then
	says="heap: strategy ${strategy//+/\\+}, 4 harts" # an ERE: "slab + pages"
	boot heap-direct-m256M-smp4 pass:"$says" --boot direct --mem 256M --smp 4 --timeout 240 --append "$(expect 256M 1 4)"
	# Through the firmware the other suites run again, the conformance suite
	# (half of such a boot under TCG) once, above.
	once=test.skip=heap_conformance
	case $arch in
	riscv64) boot heap-fw_dynamic-m512M-smp4 pass:"$says" --boot fw_dynamic --mem 512M --smp 4 --timeout 240 \
		--append "$(expect 512M 1 4 $once)" ;;
	arm64) boot heap-el2-m512M-smp4 pass:"$says" --boot direct --cpu max --machine virtualization=on --timeout 240 \
		--mem 512M --smp 4 --append "$(expect 512M 1 4 $once)" ;;
	esac
	boot heap-uboot-m256M-smp4 pass:"$UBOOT_SAYS" --boot uboot --mem 256M --smp 4 --timeout 240 \
		--append "$(expect 256M 1 4 $once)"
	echo "1..$boots"
	exit 0
fi
case $arch in
riscv64)
	# The widest translation mode the hart takes: QEMU 7.2's harts take all three.
	boot direct-m128M-smp1 pass:'mmu: sv57, 5 levels' --boot direct --mem 128M --smp 1 \
		--append "$(expect 128M 1 1 test.mmu=sv57)"
	boot fw_dynamic-m1G-smp4 pass --boot fw_dynamic --mem 1G --smp 4 --append "$(expect 1G 1 4)"
	# test.big: a 2 GiB allocation (16 s more under TCG: 37 s on a quiet host), so more than 60 s
	boot fw_jump-m5G-smp4 pass --boot fw_jump --mem 5G --smp 4 --timeout 180 --append "$(expect 5G 1 4 test.big)"
	# NUMA nodes are adjacent in QEMU, so they merge into one RAM range: the
	# total proves every memory node was read; the numa suite (test.numa)
	# that each hart's memory comes from its node, then the nearest. QEMU
	# 7.2 riscv virt aborts with more than two NUMA sockets, so four nodes,
	# one of them without memory, come from a DTB of ours.
	boot fw_jump-m6G-smp2-numa2 pass --boot fw_jump --mem 6G --smp 2 --numa 2 --numa-dist 0-1=30 \
		--append "$(expect 6G 1 2 test.numa=2)"
	boot direct-dtb-numa4-memoryless-node pass --boot direct --mem 1G --smp 4 \
		--dtb-add "$here/numa4-riscv64.dtsi" --append "$(expect 1G 1 4 test.numa=4)"
	# Two banks with a hole between them, told by a DTB of ours.
	boot direct-dtb-two-banks pass --boot direct --mem 512M --smp 1 \
		--dtb-add "$here/two-banks-riscv64.dtsi" --append "$(expect 384M 2 1)"
	# Narrower modes than the widest (above), as Linux's no5lvl and no4lvl ask; the
	# conformance suite, which never looks at addresses, runs in the other boots.
	boot direct-sv48-no5lvl pass:'mmu: sv48, 4 levels' --boot direct --mem 256M --smp 2 \
		--append "$(expect 256M 1 2 'no5lvl test.mmu=sv48 test.skip=heap_conformance')"
	boot direct-sv39-no4lvl pass:'mmu: sv39, 3 levels' --boot direct --mem 256M --smp 2 \
		--append "$(expect 256M 1 2 'no4lvl test.mmu=sv39 test.skip=heap_conformance')"
	# RAM beyond Sv39's 240 GiB direct map (a 300 GiB guest, untouched pages cost the host
	# nothing): left out with one line, not a fault of the early heap placed up there;
	# in Sv57 the direct map holds it all (78643200 frames).
	boot direct-m300G-sv39-beyond-the-direct-map pass:'RAM at or above 240 GiB left out' \
		--boot direct --mem 300G --smp 2 --append "no4lvl test.skip=all" -- \
		-object memory-backend-ram,id=r,size=300G,reserve=off -machine memory-backend=r
	boot direct-m300G-sv57-all-mapped pass:'buddy: 78643200 frames' --boot direct --mem 300G \
		--smp 2 --append "test.skip=all" -- \
		-object memory-backend-ram,id=r,size=300G,reserve=off -machine memory-backend=r
	# More banks than the buddy once took (64): every one taken, none left out.
	# (arm64: QEMU's virt rewrites /memory from -m in any DTB it is given.)
	boot direct-dtb-100-banks pass:'buddy: [0-9]+ frames in 100 bank' --boot direct --mem 512M \
		--smp 2 --dtb-add "$here/many-banks-riscv64.dtsi" --append "$(expect 178M 100 2)"
	boot direct-dtb-reserved pass --boot direct --mem 1G --smp 2 \
		--dtb-add "$here/resv-riscv64.dtsi" --append "$(expect 1G 1 2 \
		test.resv=test_nomap@90000000:no-map,test_reusable@91000000:reusable,test_static@92000000:reserved,test_dynamic:dynamic)"
	boot uboot-m256M-smp1 pass:"$UBOOT_SAYS" --boot uboot --mem 256M --smp 1 --timeout 90 --append "$(expect 256M 1 1)"
	boot uboot-m1G-smp4 pass:"$UBOOT_SAYS" --boot uboot --mem 1G --smp 4 --timeout 90 --append "$(expect 1G 1 4)"
	boot direct-m256M-smp8 pass:'smp: 8 of 8 harts online' --boot direct --mem 256M --smp 8 --timeout 120 \
		--append "$(expect 256M 1 8)"
	boot direct-sparse-hart-ids pass:'smp: 3 of 3 harts online' --boot direct --mem 256M --smp 4 \
		--dtb-add "$here/hart1-disabled.dtsi" --append "$(expect 256M 1 3)"
	# A hart the DT lists that never comes up (the machine has no hart 5) fails the boot.
	boot dtb-ghost-hart fail:'only 2 of the 3 harts listed came up' --boot direct --mem 256M --smp 2 \
		--timeout 120 --dtb-add "$here/ghost-hart-riscv64.dtsi" --append "smp.online_wait=3"
	# More harts than MAX_HARTS (defconfig: 8): the DT's 10 counted, 8 online, the rest
	# parked in a wfi loop of ours (OpenSBI 1.1's own for a stopped hart busy-spins).
	boot direct-smp10-beyond-max-harts pass:'2 hart\(s\) beyond MAX_HARTS \(8\): 2 parked' --boot direct \
		--mem 256M --smp 10 --timeout 120 --append "$(expect 256M 1 10)"
	# A hart started at the image's entry, as OpenSBI 1.1 sometimes does: found parked, brought up.
	boot direct-stray-hart pass:'firmware says started' --boot direct --smp 4 \
		--append "$(expect 128M 1 4) test.stray_hart"
	# Other QEMU machines: spike (HTIF console through the firmware, ends through
	# HTIF with the verdict, where SBI shutdown would stop the hart for good) and
	# sifive_u (SiFive UART; nothing there powers off: it says so and halts, and
	# the runner ends QEMU on that line).
	boot spike-htif pass:'console: /chosen/stdout-path names the firmware' --board spike \
		--mem 1G --smp 2 --append "$(expect 1G 1 2 test.skip=heap_conformance)"
	boot sifive_u-halts pass:'memcore: halted \(exit status 0\)' --board sifive_u --mem 1G \
		--smp 2 --append "$(expect 1G 1 1 test.skip=heap_conformance)"
	# No finisher, only a syscon register to power off with (syscon-poweroff).
	boot dtb-syscon-poweroff pass:'poweroff: syscon-poweroff, 0x5555 at 0x100000' --boot direct \
		--dtb-add "$here/syscon-poweroff-riscv64.dtsi" --append "$(expect 128M 1 1 test.skip=all)"
	boot crash-fault fail:'FAULT: illegal instruction.*|scause 0x0+2' --boot direct --append "test.crash=fault"
	boot crash-pagefault fail:'is in the text, mapped r-x' --boot direct --append "test.crash=pagefault"
	boot crash-panic fail:'PANIC: test.crash=panic asked for a panic' --boot direct --append "test.crash=panic"
	boot dtb-without-memory fail:'PANIC: boot memory map: .*memory' --boot direct \
		--dtb-add "$here/nomem.dtsi"
	# Linux boots without a dynamic region that fits nowhere; so do we, saying so.
	boot dtb-dynamic-too-big pass:'warning: /reserved-memory/impossible_pool: cannot place' \
		--boot direct --dtb-add "$here/resv-too-big.dtsi" --append "$(expect 128M 1 1)"
	;;
arm64)
	boot direct-a57-m128M-smp1 pass --boot direct --cpu cortex-a57 --mem 128M --smp 1 --append "$(expect 128M 1 1)"
	boot direct-max-m1G-smp4 pass:'idle harts sleep in wfi, woken by SGI 0' --boot direct --cpu max \
		--mem 1G --smp 4 --append "$(expect 1G 1 4)"
	boot direct-el2-m1G-smp2 pass:"entered at EL2" --boot direct --cpu cortex-a57 --machine virtualization=on \
		--mem 1G --smp 2 --append "$(expect 1G 1 2)"
	boot direct-el2-max-m256M-smp1 pass:"entered at EL2" --boot direct --cpu max --machine virtualization=on \
		--mem 256M --smp 1 --append "$(expect 256M 1 1)"
	# writing every frame of 5 GiB takes 46 s on a quiet host, 60 s (the default limit) under a
	# loaded one; test.big adds a 2 GiB allocation
	boot direct-m5G-smp4 pass --boot direct --mem 5G --smp 4 --timeout 180 --append "$(expect 5G 1 4 test.big)"
	# NUMA: see riscv64's; four nodes whose nearest neighbours are not the next bank.
	# GICv2 (QEMU's own default, which qemu-run.sh overrides): idle harts wait with wfe.
	boot direct-m1G-smp4-numa2-gicv2 pass:'smp: 4 of 4' --boot direct --mem 1G --smp 4 --numa 2 \
		--machine gic-version=2 --append "$(expect 1G 1 4 test.numa=2)"
	boot direct-m2G-smp4-numa4 pass --boot direct --mem 2G --smp 4 --numa 4 \
		--numa-dist "0-1=20 0-2=40 0-3=30 1-2=30 1-3=40 2-3=20" --append "$(expect 2G 1 4 test.numa=4)"
	boot direct-dtb-reserved pass --boot direct --mem 1G --smp 2 \
		--dtb-add "$here/resv-arm64.dtsi" --append "$(expect 1G 1 2 \
		test.resv=test_nomap@50000000:no-map,test_reusable@51000000:reusable,test_static@52000000:reserved,test_dynamic:dynamic)"
	boot uboot-m256M-smp1 pass:"$UBOOT_SAYS" --boot uboot --mem 256M --smp 1 --timeout 90 --append "$(expect 256M 1 1)"
	boot uboot-m1G-smp4 pass:"$UBOOT_SAYS" --boot uboot --mem 1G --smp 4 --timeout 90 --append "$(expect 1G 1 4)"
	boot direct-m256M-smp8 pass:'smp: 8 of 8 harts online' --boot direct --mem 256M --smp 8 --timeout 120 \
		--append "$(expect 256M 1 8)"
	boot direct-sparse-hart-ids pass:'smp: 3 of 3 harts online' --boot direct --mem 256M --smp 4 \
		--dtb-add "$here/hart1-disabled.dtsi" --append "$(expect 256M 1 3)"
	# RAM beyond the 512 GiB the boot page tables map: the boot allocator's blocks
	# (the early heap, the buddy's metadata) stay below, the buddy takes it all
	# (157286400 frames), kmap's first table pages come from below too. Tests
	# off: the heap's suites would write tens of GiB of it.
	boot direct-m600G-beyond-the-boot-map pass:'buddy: 157286400 frames' --boot direct \
		--mem 600G --smp 2 --append "test.skip=all" -- \
		-object memory-backend-ram,id=r,size=600G,reserve=off -machine memory-backend=r
	# More harts than MAX_HARTS (defconfig: 8; GICv2 takes 8 CPUs, so GICv3): 8 online, 2 parked.
	boot direct-smp10-beyond-max-harts pass:'2 more ignored \(MAX_HARTS is 8\)' --boot direct \
		--machine gic-version=3 --mem 256M --smp 10 --timeout 120 --append "$(expect 256M 1 10)"
	# A Raspberry Pi 3 (QEMU's raspi3b) with its own device tree, built from
	# Debian's linux-source-6.1: RAM at physical 0, harts released from a spin
	# table, no PSCI, a CMA pool to place, the console the mini UART (QEMU's
	# second serial port), the early console's virt address RAM.
	pi_dtb=$workdir/bcm2837-rpi-3-b.dtb
	"$here/../../scripts/linux-dtb.sh" arm64 broadcom/bcm2837-rpi-3-b "$pi_dtb" >"$workdir/pi-dtb.log" 2>&1 ||
		cat "$workdir/pi-dtb.log" >&2
	boot raspi3b-linux-dtb-spin-table-ram-at-0 \
		pass:'console: bcm2835-aux at 0x3f215040' --board raspi3b --dtb "$pi_dtb" --console-serial 1 \
		--mem 1G --smp 4 --timeout 120 --append "$(expect 960M 1 4)"
	# The second hart released reads a hart_local that is not its own (as one
	# that arrives after the boot hart gave up on it reads the next one's): it
	# waits for good instead of coming up as that hart.
	boot raspi3b-spin-table-late-hart fail:'test.spin_late: the hart released second waited' \
		--board raspi3b --dtb "$pi_dtb" --console-serial 1 --mem 1G --smp 4 --timeout 120 \
		--append "smp.online_wait=2 test.spin_late test.skip=all"
	# Without semihosting (a DTB of ours, its console the PL011) it has no way off:
	# it says so and halts, and the runner ends QEMU on that line with the status
	# it gives, long before the timeout.
	boot raspi3b-halts-without-a-way-off pass:'memcore: halted \(exit status 0\)' \
		--board raspi3b --dtb "$here/raspi3b.dts" --mem 1G --smp 4 --no-semihosting \
		--timeout 120 --append "$(expect 960M 1 4 test.skip=all)"
	boot raspi3b-panic-halts-failing fail:'memcore: halted \(exit status 1\)' --board raspi3b \
		--dtb "$here/raspi3b.dts" --mem 1G --smp 4 --no-semihosting --timeout 120 \
		--append "test.crash=panic"
	# A hart whose enable-method we do not know: left out with one line, the rest run.
	boot direct-unknown-enable-method pass:'enable-method "acme,start\\x0a" is none we know' \
		--boot direct --mem 256M --smp 3 --dtb-add "$here/unknown-enable-method-arm64.dtsi" \
		--append "$(expect 256M 1 3 'test.unstartable=1 test.skip=heap_conformance')"
	boot crash-fault fail:'FAULT: sync \(EL1h\), unknown reason' --boot direct --append "test.crash=fault"
	boot crash-pagefault fail:'permission fault on write' --boot direct --append "test.crash=pagefault"
	boot crash-panic fail:'PANIC: test.crash=panic asked for a panic' --boot direct --append "test.crash=panic"
	# Linux boots without a dynamic region that fits nowhere; so do we, saying so.
	boot dtb-dynamic-too-big pass:'warning: /reserved-memory/impossible_pool: cannot place' \
		--boot direct --dtb-add "$here/resv-too-big.dtsi" --append "$(expect 128M 1 1)"
	;;
esac
# Hart 1's start said refused, then made (test.start_lied), as a firmware that errs
# and starts the hart all the same: given up at once, its stack kept, it parks when
# it comes up; the boot ends, failing on the hart it lacks. (Under OpenSBI hart 1
# may be hart ID 0: the boot hart is whichever won its lottery.)
boot direct-start-lied fail:'did not start hart (0|0x1) \(error -5\); it will park if it ever comes up' \
	--boot direct --mem 256M --smp 2 --timeout 120 --append "test.start_lied test.skip=all"
echo "1..$boots"
