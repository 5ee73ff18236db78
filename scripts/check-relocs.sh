#!/bin/sh
# The kernel runs at its link address and applies no relocations (see
# head.S), so a dynamic relocation in the ELF would be left unapplied: refuse it.
# usage: check-relocs.sh READELF kernel.elf
set -eu
bad=$("$1" -rW "$2" | awk '/^[0-9a-f]+ +[0-9a-f]+ +R_/ {print $3}' | sort -u)
if [ -n "$bad" ]; then
	echo "check-relocs: $2 has dynamic relocations nothing would apply: $bad" >&2
	exit 1
fi
