#!/bin/bash
# dt-memmap on real board device trees from Debian's linux-source-6.1.
#
# Extracts arch/{riscv,arm64,arm}/boot/dts and the DT include headers from
# /usr/src/linux-source-6.1.tar.xz into $O/host/realdtb (once: cached),
# builds each board's DTB the way Linux does (cpp, then dtc), runs the tool
# and checks per board, as one KTAP test each:
#  - "ok" boards: exit 0, and the map keeps its invariants: memory sorted and
#    merged; usable sorted, page-aligned, inside memory, clear of every
#    reservation; every RAM page that is not usable is touched by a
#    reservation; the hart table (--harts) has unique IDs and indices 0..n-1.
#  - "error:TEXT" boards: exit 2 with one stderr line containing TEXT.
#
# usage: realdtb.sh [-v]     (-v also prints each map as diagnostics)
# env: O=build, DT_MEMMAP (default $O/host/dt-memmap), LINUX_SRC_TAR
set -uo pipefail
cd "$(dirname "$0")/../.."

O=${O:-build}
tool=$(realpath -m "${DT_MEMMAP:-$O/host/dt-memmap}")
cache=$O/host/realdtb
verbose=0
[ "${1:-}" = -v ] && verbose=1

# ARCH|BOARD|EXPECT[|NODE=CELLS]: what each board's tree should give (read
# from its DTS). Trees whose memory the bootloader fills in have none or size
# 0: "no memory". For those with reserved-memory worth checking, NODE=CELLS
# adds a second test on a copy whose memory node reg is set (hex cells, in the
# root's #address-cells/#size-cells) the way the bootloader would.
boards=(
	"riscv|sifive/hifive-unleashed-a00|ok"
	"riscv|sifive/hifive-unmatched-a00|ok"
	"riscv|starfive/jh7100-beaglev-starlight|ok"
	"riscv|microchip/mpfs-icicle-kit|ok"
	"riscv|microchip/mpfs-polarberry|ok"
	"riscv|microchip/mpfs-sev-kit|ok"
	"riscv|canaan/sipeed_maix_bit|ok"
	"arm64|broadcom/bcm2711-rpi-4-b|error:no memory|/memory@0=0,0,3b400000"
	"arm64|broadcom/bcm2837-rpi-3-b-plus|ok"
	"arm64|rockchip/rk3399-rockpro64|error:no memory"
	"arm64|qcom/sm8250-mtp|error:no memory|/memory@80000000=0,80000000,2,0"
	"arm64|qcom/qrb5165-rb5|error:no memory|/memory@80000000=0,80000000,2,0"
	"arm64|qcom/sdm845-db845c|error:no memory|/memory@80000000=0,80000000,1,0"
	"arm64|qcom/sc7280-herobrine-crd|error:no memory|/memory@80000000=0,80000000,2,0"
	"arm64|amlogic/meson-g12b-odroid-n2|ok"
	"arm64|amlogic/meson-gxbb-odroidc2|ok"
	"arm64|amlogic/meson-gxl-s805x-p241|ok"
	"arm64|nvidia/tegra210-p3450-0000|ok"
	"arm64|nvidia/tegra194-p3509-0000+p3668-0000|error:no memory"
	"arm64|apple/t8103-j274|ok"
	"arm64|allwinner/sun50i-a64-pine64-plus|error:no memory"
	"arm64|freescale/imx8mq-evk|ok"
	"arm64|freescale/imx8mm-evk|ok"
	"arm64|mediatek/mt8183-kukui-krane-sku176|ok"
	"arm64|hisilicon/hi6220-hikey|ok"
	"arm64|hisilicon/hip07-d05|ok"
	"arm64|freescale/fsl-lx2160a-honeycomb|ok"
	"arm64|realtek/rtd1295-zidoo-x9s|ok"
	"arm64|mediatek/mt8192-asurada-spherion-r0|ok"
	"arm64|hisilicon/hi3660-hikey960|error:no memory|/memory@0=0,0,0,c0000000"
	"arm64|arm/juno|ok"
	"arm64|arm/fvp-base-revc|ok"
	"arm64|renesas/r8a77951-salvator-xs|ok"
	"arm64|xilinx/zynqmp-zcu102-rev1.0|ok"
	"arm64|ti/k3-am654-base-board|ok"
	"arm64|ti/k3-j721e-common-proc-board|ok"
	"arm64|marvell/armada-8040-mcbin|ok"
)

ktap_fail_all() { # MESSAGE
	printf 'KTAP version 1\n1..1\nnot ok 1 realdtb # %s\n' "$1"
	exit 1
}

[ -x "$tool" ] || ktap_fail_all "$tool not built (make tools)"
. scripts/linux-dtb.sh
why=$(linux_dts_extract) || ktap_fail_all "$why"
build_dtb() { linux_dtb_build "$@"; } # ARCH BOARD DTB

# Reads the tool's output on stdin; prints what is wrong, if anything.
check_map() {
	python3 -c '
import sys
PAGE = 0x1000
mem, resv, usable, harts = [], [], [], []
for line in sys.stdin:
    w = line.split()
    if w[0] == "hart":
        harts.append((int(w[1], 16), int(w[3])))
        continue
    if w[0] == "harts-ignored":
        continue
    a, b = (int(x, 16) for x in w[1].split("-"))
    r = (a, b + 1)
    {"memory": mem, "reserved": resv, "usable": usable}[w[0]].append(r)
bad = []
def say(msg):
    bad.append(msg)
if not mem:
    say("no memory lines")
if [i for _, i in harts] != list(range(len(harts))) or not harts:
    say("hart indices are not 0..n-1: %s" % harts)
if len(set(h for h, _ in harts)) != len(harts):
    say("duplicate hart IDs: %s" % harts)
for x, y in zip(mem, mem[1:]):
    if y[0] <= x[1]:
        say("memory not sorted and merged: %x-%x, %x-%x" % (*x, *y))
for x, y in zip(usable, usable[1:]):
    if y[0] <= x[1]:
        say("usable not sorted and merged: %x-%x, %x-%x" % (*x, *y))
for u in usable:
    if u[0] % PAGE or u[1] % PAGE:
        say("usable %x-%x not page-aligned" % u)
    if not any(m[0] <= u[0] and u[1] <= m[1] for m in mem):
        say("usable %x-%x outside memory" % u)
    for r in resv:
        if r[0] < u[1] and u[0] < r[1]:
            say("usable %x-%x overlaps reserved %x-%x" % (*u, *r))
# every whole RAM page outside usable is touched by a reservation
pages = sorted((r[0] // PAGE * PAGE, -(-r[1] // PAGE) * PAGE) for r in resv + usable)
for m in mem:
    cur, end = -(-m[0] // PAGE) * PAGE, m[1] // PAGE * PAGE
    for a, b in pages:
        if a > cur and cur < end:
            say("RAM %x-%x is neither usable nor reserved" % (cur, min(a, end)))
        cur = max(cur, b)
    if cur < end:
        say("RAM %x-%x is neither usable nor reserved" % (cur, end))
for msg in bad[:10]:
    print(msg)
'
}

# One KTAP result: runs the tool on DTB and checks it against EXPECT.
n=0 failed=0
check_board() { # NAME DTB EXPECT
	local rc problem= want
	n=$((n + 1))
	"$tool" --harts "$2" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	case $3 in
	ok)
		if [ $rc -ne 0 ]; then
			problem="exit $rc: $(head -n 1 "$tmp/err")"
		else
			problem=$(check_map <"$tmp/out")
		fi
		;;
	error:*)
		want=${3#error:}
		if [ $rc -ne 2 ]; then
			problem="exit $rc, expected 2 with \"$want\""
		elif [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
			problem="stderr is not one line with \"$want\": $(head -n 3 "$tmp/err")"
		fi
		;;
	esac
	if [ -z "$problem" ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		printf '%s\n' "$problem" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
	if [ $verbose = 1 ]; then
		sed 's/^/# /' "$tmp/out" "$tmp/err"
	fi
}

# A copy of DTB with NODE's memory filled in, as a bootloader would.
fill_memory() { # DTB NODE=CELLS OUT
	local node=${2%%=*} cells=${2#*=}
	cp "$1" "$3" &&
		{ fdtget "$3" "$node" device_type >/dev/null 2>&1 || fdtput -c "$3" "$node"; } &&
		fdtput -t s "$3" "$node" device_type memory &&
		fdtput -t x "$3" "$node" reg ${cells//,/ }
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total=$(printf '%s\n' "${boards[@]}" | awk -F'|' '{ n += 1 + (NF > 3) } END { print n }')
echo "KTAP version 1"
echo "1..$total"
for entry in "${boards[@]}"; do
	IFS='|' read -r arch board expect fill <<<"$entry"
	name=$arch/$board
	dtb=$cache/dtb/$arch/$board.dtb
	if ! build_dtb "$arch" "$board" "$dtb"; then
		for _ in 1 ${fill:+2}; do
			n=$((n + 1))
			echo "not ok $n $name"
			sed 's/^/# build: /' "$dtb.err" | head -n 5
			failed=$((failed + 1))
		done
		continue
	fi
	check_board "$name" "$dtb" "$expect"
	if [ -n "$fill" ]; then
		if fill_memory "$dtb" "$fill" "$tmp/filled.dtb"; then
			check_board "$name+memory" "$tmp/filled.dtb" ok
		else
			n=$((n + 1))
			echo "not ok $n $name+memory # fdtput failed"
			failed=$((failed + 1))
		fi
	fi
done
[ $failed -eq 0 ]
