#!/bin/bash
# A board's DTB built from Debian's linux-source-6.1 the way Linux builds it
# (the C preprocessor with the DT include prefixes, then dtc). The device
# trees are extracted from /usr/src/linux-source-6.1.tar.xz once, into
# $O/host/realdtb (cached; tests/host/realdtb.sh shares it).
#
# usage: linux-dtb.sh ARCH BOARD OUT.dtb     e.g. arm64 broadcom/bcm2837-rpi-3-b rpi3b.dtb
#        . linux-dtb.sh                      (functions only: linux_dts_extract, linux_dtb_build)
# env: O (default build, from the repository's top), LINUX_SRC_TAR

linux_dtb_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
linux_dtb_cache=$(realpath -m "${O:-build}/host/realdtb")
[[ ${O:-build} == /* ]] || linux_dtb_cache=$linux_dtb_root/${O:-build}/host/realdtb
linux_dtb_src=$linux_dtb_cache/linux-source-6.1

# Extracts the trees if they are not there yet; prints why not and fails if it cannot.
linux_dts_extract() {
	local tar_file=${LINUX_SRC_TAR:-/usr/src/linux-source-6.1.tar.xz}

	[ -f "$linux_dtb_cache/.extracted" ] &&
		[ -f "$linux_dtb_src/include/uapi/linux/input-event-codes.h" ] && return 0
	[ -f "$tar_file" ] || { echo "$tar_file missing (apt-get install linux-source-6.1)"; return 1; }
	rm -rf "$linux_dtb_cache" && mkdir -p "$linux_dtb_cache"
	tar -xf "$tar_file" -C "$linux_dtb_cache" --wildcards \
		'linux-source-6.1/arch/riscv/boot/dts/*' \
		'linux-source-6.1/arch/arm64/boot/dts/*' \
		'linux-source-6.1/arch/arm/boot/dts/*' \
		'linux-source-6.1/include/dt-bindings/*' \
		'linux-source-6.1/include/uapi/linux/input-event-codes.h' \
		'linux-source-6.1/scripts/dtc/include-prefixes/*' ||
		{ echo "cannot extract the device trees from $tar_file"; return 1; }
	touch "$linux_dtb_cache/.extracted"
}

# ARCH BOARD DTB: builds DTB unless it is newer than its source. A
# half-preprocessed tree would still compile: pipefail catches cpp.
linux_dtb_build() {
	local dts=$linux_dtb_src/arch/$1/boot/dts/$2.dts
	[ -f "$3" ] && [ "$3" -nt "$dts" ] && return 0
	rm -f "$3"
	mkdir -p "$(dirname "$3")"
	(
		set -o pipefail
		cpp -nostdinc -I "$(dirname "$dts")" -I "$linux_dtb_src/arch/$1/boot/dts" \
			-I "$linux_dtb_src/scripts/dtc/include-prefixes" -undef -D__DTS__ \
			-x assembler-with-cpp "$dts" 2>"$3.err" |
			dtc -q -I dts -O dtb -i "$(dirname "$dts")" -o "$3.tmp" - 2>>"$3.err"
	) && mv "$3.tmp" "$3"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ $# = 3 ] || { echo "usage: linux-dtb.sh ARCH BOARD OUT.dtb" >&2; exit 2; }
	linux_dts_extract >&2 || exit 1
	linux_dtb_build "$@" || { cat "$3.err" >&2; exit 1; }
fi
