#!/bin/sh
# Rewrites a compiler dependency file so an object depends on the Kconfig
# symbols its sources mention, not on the whole generated autoconf.h: a
# changed .config then rebuilds only what uses the changed options (as Linux's
# fixdep does). Symbol files come from kconfiglib's --sync-deps directory.
#
# usage: fixdep.sh DEPFILE CONFIG_DIR   (rewrites DEPFILE in place)
set -eu
dep=$1
cfg=$2

target=$(sed -n '1s/:.*//p' "$dep")
# The first rule only: the compiler's own rule, up to its last continued line.
prereqs=$(awk '{ print } !/\\$/ { exit }' "$dep" | sed -e '1s/^[^:]*://' -e 's/\\$//' |
	tr -s ' \t' '\n' | grep -v '^$' |
	grep -v 'include/generated/autoconf\.h$' | sort -u)

syms=$(printf '%s\n' "$prereqs" | xargs grep -ohE 'CONFIG_[A-Za-z0-9_]+' 2>/dev/null | sort -u |
	sed -e 's/^CONFIG_//' | tr 'A-Z_' 'a-z/')

{
	printf '%s: \\\n' "$target"
	printf '%s\n' "$prereqs" | sed 's/.*/  & \\/'
	for s in $syms; do
		printf '  $(wildcard %s/%s.h) \\\n' "$cfg" "$s"
	done
	printf '\n'
	# Empty rules so a deleted header does not break the build.
	printf '%s\n' "$prereqs" | sed 's/.*/&:/'
} >"$dep.tmp"
mv "$dep.tmp" "$dep"
