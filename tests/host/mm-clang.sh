#!/bin/bash
# mm/ builds warning-free (-Wall -Wextra -Werror) with clang as with gcc,
# for both targets and the host, every source of every heap strategy: the
# kernel is built with LLVM=1 for each architecture, and each mm/ source
# is compiled again (syntax only) with the command its kernel build used
# (compile_commands.json gives the unselected strategies the same one),
# then with clang for the host through the host tests' port. Prints KTAP.
#
# usage: O=build tests/host/mm-clang.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
work=${O:-build}/mm-clang-test
rm -rf "$work"
mkdir -p "$work"
. tests/host/ktap-lib.sh

echo "KTAP version 1"
echo "1..1"
echo "    KTAP version 1"
echo "    # Subtest: mm-clang"
echo "    1..5"

mm_srcs=$(git ls-files 'mm/*.c')
nr_srcs=$(echo "$mm_srcs" | wc -l)

# Runs every compile command of compile_commands.json ($1) for a source of
# mm/ with -fsyntax-only; prints how many ran, and each failure.
syntax_check() {
	/usr/bin/python3 - "$1" <<'PY'
import json, shlex, subprocess, sys
ran = bad = 0
for e in json.load(open(sys.argv[1])):
    if not e["file"].startswith("mm/"):
        continue
    args = e.get("arguments") or shlex.split(e["command"])
    cmd, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-MF"):
            skip = True
        elif a != "-MD":
            cmd.append(a)
    r = subprocess.run(cmd + ["-fsyntax-only"], cwd=e["directory"], capture_output=True, text=True)
    ran += 1
    if r.returncode:
        bad += 1
        print(e["file"] + ": " + r.stderr.strip().replace("\n", " | ")[:400], file=sys.stderr)
print(ran if not bad else -bad)
PY
}

for arch in riscv64 arm64; do
	mk() { make --no-print-directory ARCH=$arch LLVM=1 O="$work/$arch" FDTSRC="${O:-build}/libfdt" "$@"; }
	mk defconfig >"$work/$arch.log" 2>&1 && mk -j2 all >>"$work/$arch.log" 2>&1
	result "llvm-kernel-$arch" $? "$(grep -E 'error|warning' "$work/$arch.log" | head -5)" \
		"$(tail -3 "$work/$arch.log")"
	ran=$(syntax_check "$work/$arch/compile_commands.json" 2>"$work/$arch-syntax.log")
	[ "$ran" = "$nr_srcs" ] && grep -q '"command":"clang' "$work/$arch/compile_commands.json"
	result "llvm-every-mm-source-$arch" $? "compiled $ran of $nr_srcs" \
		"$(head -5 "$work/$arch-syntax.log")"
done

bad=0
for f in $mm_srcs; do
	clang -std=gnu11 -O2 -Wall -Wextra -Werror -fsyntax-only -Itools/port -Iinclude \
		-Iinclude/libfdt -I"${O:-build}/libfdt" "$f" >>"$work/host.log" 2>&1 || bad=$((bad + 1))
done
result "host-clang-every-mm-source" $bad "$bad of $nr_srcs failed" "$(head -5 "$work/host.log")"

[ $failed = 0 ] && echo "ok 1 mm-clang" || echo "not ok 1 mm-clang"
[ $failed = 0 ]
