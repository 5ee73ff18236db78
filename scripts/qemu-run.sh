#!/bin/bash
# Boots the kernel Image under QEMU through one of the firmware routes, with a
# hard timeout, and exits with QEMU's status (124 on timeout).
#
# usage: qemu-run.sh --arch riscv64|arm64 --image Image [options] [-- extra QEMU args]
#   --boot ROUTE     riscv64: direct (OpenSBI -bios default), fw_dynamic, fw_jump, uboot
#                    arm64:   direct (-kernel), uboot (-bios u-boot.bin)
#   --mem SIZE       -m (default 128M; 256M for riscv64 uboot, whose load addresses need it)
#   --smp N          harts (default 1)
#   --cpu NAME       arm64 only (default cortex-a57)
#   --machine OPTS   extra -M options, e.g. virtualization=on (arm64 virt: gic-version=3
#                    unless these say otherwise)
#   --board NAME     a QEMU machine other than virt (riscv64: spike, sifive_u;
#                    arm64: raspi3b, which wants --mem 1G --smp 4 and a --dtb;
#                    -cpu is the board's own)
#   --dtb FILE       boot with this DTB, or with this DTS compiled
#   --no-semihosting arm64: leave semihosting off (the kernel then ends by PSCI, or halts)
#   --console-serial N  the board's UART number N is the console (default 0; raspi3b's
#                    mini UART, which a Pi 3's own device tree names, is 1)
#   --numa N         split RAM (and harts) evenly into N NUMA nodes
#   --numa-dist LIST distances between them, "A-B=D ..." (QEMU: 20 where unsaid)
#   --dtb-add FILE   dump QEMU's own DTB for this machine, add the DTS fragment FILE,
#                    and boot with the result (-dtb)
#   --append ARGS    kernel command line
#   --timeout SECS   hard limit (default 60; 0: none)
#   --workdir DIR    scratch files (disk image, DTB)
set -euo pipefail

arch="" image="" boot=direct mem="" smp=1 cpu=cortex-a57 machine="" board=virt numa=0 numa_dist=""
dtb_add="" dtb="" console_serial=0
append="" timeout_s=60 workdir=""
extra=()
semihosting=(-semihosting)
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=$2; shift 2 ;;
	--image) image=$2; shift 2 ;;
	--boot) boot=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--cpu) cpu=$2; shift 2 ;;
	--machine) machine=$2; shift 2 ;;
	--board) board=$2; shift 2 ;;
	--dtb) dtb=$2; shift 2 ;;
	--no-semihosting) semihosting=(); shift ;;
	--numa) numa=$2; shift 2 ;;
	--numa-dist) numa_dist=$2; shift 2 ;;
	--console-serial) console_serial=$2; shift 2 ;;
	--dtb-add) dtb_add=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "qemu-run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$arch" ] && [ -f "$image" ] || { echo "qemu-run.sh: need --arch and an existing --image" >&2; exit 2; }
workdir=${workdir:-$(dirname "$image")/run}
mkdir -p "$workdir"

OPENSBI=/usr/lib/riscv64-linux-gnu/opensbi/generic
UBOOT_RISCV=/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin
UBOOT_ARM64=/usr/lib/u-boot/qemu_arm64/u-boot.bin

case $arch in
riscv64)
	qemu=qemu-system-riscv64
	[ -z "$mem" ] && { [ "$boot" = uboot ] && mem=256M || mem=128M; }
	machine_opt="$board${machine:+,$machine}"
	cpu_opt=()
	;;
arm64)
	qemu=qemu-system-aarch64
	mem=${mem:-128M}
	machine_opt="$board${machine:+,$machine}"
	# GICv3 unless told: idle harts then sleep in wfi (arch/arm64/gic.c) instead
	# of QEMU's busy-yielding wfe, which starves busy harts of the host's CPUs.
	[ "$board" = virt ] && [[ $machine_opt != *gic-version* ]] && machine_opt+=,gic-version=3
	# -cpu is required: without it virt picks a 32-bit core and we hang silently.
	cpu_opt=(-cpu "$cpu")
	[ "$board" = virt ] || cpu_opt=()
	;;
*) echo "qemu-run.sh: unknown arch $arch" >&2; exit 2 ;;
esac

# Bytes from a QEMU size (128M, 5G, 1024K).
to_bytes() {
	local n=${1%[KMGkmg]} u=${1: -1}
	case $u in K|k) echo $((n << 10)) ;; M|m) echo $((n << 20)) ;; G|g) echo $((n << 30)) ;; *) echo "$1" ;; esac
}

smp_opt=$smp
# One socket per NUMA node when the harts divide evenly (riscv virt needs it).
[ "$numa" -gt 1 ] && [ $((smp % numa)) = 0 ] && smp_opt="$smp,sockets=$numa"
# No network: nothing here uses one, and the default NIC wants ipxe's option ROMs.
machine_args=(-M "$machine_opt" "${cpu_opt[@]}" -m "$mem" -smp "$smp_opt" -nic none)
if [ "$numa" -gt 1 ]; then
	total=$(to_bytes "$mem")
	per=$((total / numa))
	for ((i = 0; i < numa; i++)); do
		lo=$((i * smp / numa)) hi=$(((i + 1) * smp / numa - 1))
		machine_args+=(-object "memory-backend-ram,id=ram$i,size=$per")
		if [ "$hi" -ge "$lo" ]; then
			machine_args+=(-numa "node,nodeid=$i,memdev=ram$i,cpus=$lo-$hi")
		else
			machine_args+=(-numa "node,nodeid=$i,memdev=ram$i")
		fi
	done
	for d in $numa_dist; do
		[[ $d =~ ^([0-9]+)-([0-9]+)=([0-9]+)$ ]] ||
			{ echo "qemu-run.sh: --numa-dist: $d is not A-B=D" >&2; exit 2; }
		machine_args+=(-numa "dist,src=${BASH_REMATCH[1]},dst=${BASH_REMATCH[2]},val=${BASH_REMATCH[3]}")
	done
fi

if [ -n "$dtb_add" ]; then
	# Start from the DTB QEMU makes for exactly this machine, then add our nodes.
	"$qemu" "${machine_args[@]}" -machine dumpdtb="$workdir/qemu.dtb" -display none \
		>/dev/null 2>&1
	dtc -q -I dtb -O dts -o "$workdir/qemu.dts" "$workdir/qemu.dtb"
	cat "$workdir/qemu.dts" "$dtb_add" >"$workdir/custom.dts"
	dtc -q -I dts -O dtb -o "$workdir/custom.dtb" "$workdir/custom.dts"
	machine_args+=(-dtb "$workdir/custom.dtb")
fi

if [ -n "$dtb" ]; then
	case $dtb in
	*.dts) dtc -q -I dts -O dtb -o "$workdir/board.dtb" "$dtb"; dtb=$workdir/board.dtb ;;
	esac
	machine_args+=(-dtb "$dtb")
fi

# A FAT partition holding the Image and a boot script that U-Boot's distro boot
# finds and runs by itself: nobody types at a prompt.
make_uboot_disk() {
	local disk=$workdir/uboot-disk.img
	cat >"$workdir/boot.cmd" <<EOF
setenv bootargs "$append"
load virtio 0:1 \${kernel_addr_r} Image
booti \${kernel_addr_r} - \${fdtcontroladdr}
EOF
	mkimage -A riscv -O linux -T script -C none -d "$workdir/boot.cmd" "$workdir/boot.scr" >/dev/null
	rm -f "$disk"
	truncate -s 32M "$disk"
	# One bootable FAT partition from 1 MiB to the end (31 MiB = 63488 sectors).
	echo 'start=2048, type=c, bootable' | sfdisk -q "$disk"
	mformat -i "$disk@@1M" -T 63488 -h 64 -s 32 -v BOOT ::
	mcopy -i "$disk@@1M" "$image" ::/Image
	mcopy -i "$disk@@1M" "$workdir/boot.scr" ::/boot.scr
	echo "$disk"
}

case $arch/$boot in
riscv64/direct) boot_args=(-bios default -kernel "$image") ;;
riscv64/fw_dynamic) boot_args=(-bios "$OPENSBI/fw_dynamic.bin" -kernel "$image") ;;
riscv64/fw_jump) boot_args=(-bios "$OPENSBI/fw_jump.bin" -kernel "$image") ;;
riscv64/uboot)
	disk=$(make_uboot_disk)
	boot_args=(-bios default -kernel "$UBOOT_RISCV"
		-drive "file=$disk,format=raw,if=none,id=hd0" -device virtio-blk-device,drive=hd0)
	;;
arm64/direct) boot_args=(-kernel "$image" "${semihosting[@]}") ;;
arm64/uboot)
	# U-Boot's first boot target loads -kernel from fw_cfg and boots it with booti.
	boot_args=(-bios "$UBOOT_ARM64" -kernel "$image" "${semihosting[@]}")
	;;
*) echo "qemu-run.sh: no boot route '$boot' for $arch" >&2; exit 2 ;;
esac
[ -n "$append" ] && [ "$boot" != uboot -o "$arch" = arm64 ] && boot_args+=(-append "$append")

serial_args=()
for ((i = 0; i < console_serial; i++)); do serial_args+=(-serial null); done
cmd=("$qemu" "${machine_args[@]}" "${boot_args[@]}" -display none -monitor none
	"${serial_args[@]}" -serial stdio -no-reboot "${extra[@]}")
[ -n "${QEMU_RUN_VERBOSE:-}" ] && echo "+ ${cmd[*]}" >&2
if [ "$timeout_s" = 0 ]; then
	exec "${cmd[@]}"
fi

# A kernel that finished but found no way to power the machine off says
# "memcore: halted (exit status N)" and stops: QEMU is ended then, and N is
# the status, so a finished kernel never waits for the timeout.
fifo=$workdir/console.fifo
rm -f "$fifo"
mkfifo "$fifo"
timeout -k 5 "$timeout_s" "${cmd[@]}" </dev/null >"$fifo" 2>&1 &
qemu_pid=$!
halted=""
while IFS= read -r line || [ -n "$line" ]; do
	printf '%s\n' "$line"
	if [ -z "$halted" ] && [[ $line =~ memcore:\ halted\ \(exit\ status\ ([0-9]+)\) ]]; then
		halted=${BASH_REMATCH[1]}
		kill "$qemu_pid" 2>/dev/null || true
	fi
done <"$fifo"
rc=0
wait "$qemu_pid" || rc=$?
rm -f "$fifo"
[ -n "$halted" ] && exit "$halted"
exit "$rc"
