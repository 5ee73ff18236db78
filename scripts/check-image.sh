#!/bin/sh
# Checks the flat Image starts with the Linux boot header of its architecture,
# which QEMU -kernel and U-Boot's booti look for (a stray section placed before
# the header, e.g. .note.gnu.build-id, would silently break booting).
# usage: check-image.sh riscv64|arm64 Image
set -eu
# image_size (bytes 16..23) must not be 0: U-Boot's booti refuses that.
size=$(od -An -t u8 -j 16 -N 8 "$2" | tr -d ' ')
if [ "$size" -lt "$(stat -c %s "$2")" ]; then
	echo "check-image: $2: image_size in the header is $size, less than the file" >&2
	exit 1
fi
magic_at() { dd if="$2" bs=1 skip="$1" count="$3" 2>/dev/null | od -An -c | tr -d ' \n'; }
case $1 in
riscv64)
	m1=$(magic_at 48 "$2" 8)
	m2=$(magic_at 56 "$2" 4)
	[ "$m1" = 'RISCV\0\0\0' ] && [ "$m2" = 'RSC005' ] && exit 0
	echo "check-image: $2 lacks the RISC-V image magic (got '$m1' '$m2')" >&2 ;;
arm64)
	m=$(magic_at 56 "$2" 4)
	[ "$m" = 'ARMd' ] && exit 0
	echo "check-image: $2 lacks the arm64 image magic ARM\\x64 at 0x38 (got '$m')" >&2 ;;
esac
exit 1
