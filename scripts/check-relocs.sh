#!/bin/sh
# The kernel relocates itself with R_*_RELATIVE entries only (see head.S);
# any other dynamic relocation would be silently skipped at boot, so refuse it.
# usage: check-relocs.sh READELF kernel.elf
set -eu
bad=$("$1" -rW "$2" | awk '/^[0-9a-f]+ +[0-9a-f]+ +R_/ && $3 !~ /_RELATIVE$/ {print $3}' | sort -u)
if [ -n "$bad" ]; then
	echo "check-relocs: $2 has relocations the entry code cannot apply: $bad" >&2
	exit 1
fi
