#!/bin/sh
# Joins the per-object fragments the build leaves (*.o.json) into one
# compile_commands.json for clangd and other editors. Each source of SRCS
# that no fragment covers (the heap strategies the .config did not pick) gets
# an entry made from mm/heap/kmalloc.c's, which every kernel build compiles with
# the same flags: an editor then knows every file of mm/.
# usage: gen-compile-commands.sh OUT "SRCS" DIR...
set -eu
out=$1 srcs=$2
shift 2
frags=$(find "$@" -name '*.o.json' 2>/dev/null | sort)
template=$(echo "$frags" | grep '/mm/heap/kmalloc\.o\.json$' | head -n 1)
{
	echo '['
	echo "$frags" | xargs -r cat
	for src in $srcs; do
		grep -qs "\"file\":\"$src\"" $frags && continue
		[ -n "$template" ] || continue
		obj=${src%.c}.o
		sed -e "s|mm/heap/kmalloc\.c|$src|g" -e "s|mm/heap/kmalloc\.o|$obj|g" "$template"
	done
} | sed '$ s/},$/}/' >"$out.tmp"
echo ']' >>"$out.tmp"
mv "$out.tmp" "$out"
