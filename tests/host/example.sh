#!/bin/bash
# The worked example of docs/porting.md: examples/hosted builds mm/ through
# its port alone (include/mm/port.h and the example's own <mm_port.h>),
# with gcc and with clang, -Werror, no include path into kernel/, arch/,
# lib/, tools/ or libmemcore/; each build runs and must pass its own checks.
# And mm/ itself includes nothing from outside but through the port.
# Prints KTAP.
#
# usage: O=build tests/host/example.sh    (env: FDTSRC, default $O/libfdt)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/host/ktap-lib.sh

O=${O:-build}
work=$(realpath -m "$O/example")
fdtsrc=$(realpath -m "${FDTSRC:-$O/libfdt}")
rm -rf "$work"
mkdir -p "$work"

echo "KTAP version 1"
echo "1..1"
echo "    KTAP version 1"
echo "    # Subtest: example"
echo "    1..5"

# The last lines of a log, one diagnostic each.
diag=()
tail_of() { mapfile -t diag < <(tail -n "${2:-15}" "$1" 2>/dev/null); }

# libfdt's sources come from the top-level build (make host-tests extracts them).
if [ ! -f "$fdtsrc/libfdt.h" ]; then
	make --no-print-directory O="$O" FDTSRC="$fdtsrc" "$fdtsrc/libfdt.h" >"$work/libfdt.log" 2>&1
fi

repo_re=$(printf '%s' "$PWD" | sed 's/[][\\.*^$+?(){}|]/\\&/g') # the repository's path, as a regex
for cc in gcc clang; do
	out=$work/$cc
	log=$work/build-$cc.log
	if ! command -v $cc >/dev/null; then
		echo "$cc: not installed (scripts/install-deps.sh check)" >"$log"
		false
	else
		make --no-print-directory -C examples/hosted O="$out" FDTSRC="$fdtsrc" CC=$cc -j2 \
			>"$log" 2>&1
	fi
	ok=$?
	# built against mm/ alone: no include path into the kernel or another port
	if [ $ok = 0 ] && grep -En -- "-I *($repo_re/|(\.\./)*)(kernel|arch|lib|tools|libmemcore)( |/|\$)" \
		"$log" >"$work/bad-includes-$cc"; then
		ok=1
		cp "$work/bad-includes-$cc" "$log"
	fi
	tail_of "$log"
	result "build-$cc" $ok "${diag[@]}"

	log=$work/run-$cc.log
	if [ -x "$out/hosted" ]; then
		timeout 120 "$out/hosted" >"$log" 2>&1
		rc=$?
		[ $rc = 0 ] && ! grep -q ', 0 failed$' "$log" && rc=1 # it must say it checked
	else
		echo "not built" >"$log"
		rc=1
	fi
	tail_of "$log"
	result "run-$cc" $rc "exit status $rc" "${diag[@]}"
done

# mm/ and its public headers reach outside mm/ only through the port: their
# <...> includes are mm/'s own headers, libfdt and the C headers port.h
# names (<mm_port.h> in port.h alone), every "..." include stays in mm/,
# and neither they nor the example include a kernel header.
bad=()
mapfile -t bad < <(grep -rn '#include <\(kernel\|asm\|lib\)/' mm/ include/mm/ examples/hosted/)
while IFS=: read -r file line text; do
	hdr=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' <<<"$text")
	case $hdr in
	mm/* | libfdt.h | stdarg.h | stdbool.h | stddef.h | stdint.h | string.h) ;;
	mm_port.h) [ "$file" = include/mm/port.h ] || bad+=("$file:$line: $text") ;;
	*) bad+=("$file:$line: $text") ;;
	esac
done < <(grep -rn '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' mm/ include/mm/)
while IFS=: read -r file line text; do
	inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$text")
	case $(realpath -m "$(dirname "$file")/$inc") in
	"$PWD"/mm/* | "$PWD"/include/mm/*) ;;
	*) bad+=("$file:$line: $text (outside mm/)") ;;
	esac
done < <(grep -rn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' mm/ include/mm/)
[ ${#bad[@]} = 0 ]
result mm-includes-only-the-port $? "${bad[@]}"

[ $failed = 0 ] && echo "ok 1 example" || echo "not ok 1 example"
[ $failed = 0 ]
