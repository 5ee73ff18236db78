#!/bin/sh
# Joins the per-object fragments the build leaves (*.o.json) into one
# compile_commands.json for clangd and other editors.
# usage: gen-compile-commands.sh OUT DIR...
set -eu
out=$1
shift
{
	echo '['
	find "$@" -name '*.o.json' 2>/dev/null | sort | xargs -r cat | sed '$ s/},$/}/'
	echo ']'
} >"$out.tmp"
mv "$out.tmp" "$out"
