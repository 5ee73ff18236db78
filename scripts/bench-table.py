#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The heap strategies side by side: reads make bench's output (stdin or
files) and prints one Markdown table, a column per strategy. Each cell is
host / riscv64 / arm64 where all three measured it (host: callgrind,
instructions inside the calls; QEMU: -icount instructions net of the loop,
or MTTCG cycles for the time-based rows), "-" where a run is missing.

usage: bench.sh | bench-table.py   or   bench-table.py bench.txt
"""
import fileinput
import re

STRATEGIES = ["per-hart slab", "block", "slab + pages", "segregated fit"]
FRAGMENTS = {"heap_hart": "per-hart slab", "heap_block": "block",
             "heap_slabpages": "slab + pages", "heap_segfit": "segregated fit"}
ARCHES = ["riscv64", "arm64"]

# (strategy, where, metric) -> value
v = {}


def parse(line):
    m = re.match(r"host: heap (.+?) (pair|ring|batch) (\d+) B: .*?, ([\d.]+) inside the calls", line)
    if m:
        v[(m[1], "host", f"{m[2]} {m[3]}")] = float(m[4])
        return
    m = re.match(r"host: heap (.+?) mixed: .*?, ([\d.]+) inside the calls", line)
    if m:
        v[(m[1], "host", "mixed")] = float(m[2])
        return
    m = re.match(r"host: heap (.+?) (free-local|free-remote|remote-drain) 64 B: .*?, ([\d.]+) inside", line)
    if m:
        v[(m[1], "host", m[2])] = float(m[3])
        return
    m = re.match(r"host: heap (.+?) fragmentation: .*: ([\d.]+) bytes held per live byte, peak ([\d.]+)", line)
    if m:
        v[(m[1], "host", "held")] = float(m[2])
        v[(m[1], "host", "peak")] = float(m[3])
        return
    m = re.match(r"(riscv64|arm64) (heap_\w+): (.+)", line)
    if not m or m[2] not in FRAGMENTS:
        return
    arch, s, rest = m[1], FRAGMENTS[m[2]], m[3]
    for pat, key in [(r"heap-(pair|ring|batch)-(\d+)-net: ([\d.]+) instructions", None),
                     (r"heap-mixed-net: ([\d.]+) instructions", "mixed"),
                     (r"heap-setup: (\d+) instructions", "setup"),
                     (r"heap-held-per-live-byte: ([\d.]+)", "held"),
                     (r"heap-peak-per-live-byte: ([\d.]+)", "peak"),
                     (r"heap-throughput-(\d)-harts/1: ([\d.]+)", None),
                     (r"heap-free-remote/local: ([\d.]+)", "remote/local")]:
        mm = re.match(pat, rest)
        if not mm:
            continue
        if pat.startswith("heap-(pair"):
            v[(s, arch, f"{mm[1]} {mm[2]}")] = float(mm[3])
        elif pat.startswith("heap-throughput"):
            v[(s, arch, f"x{mm[1]}")] = float(mm[2])
        else:
            v[(s, arch, key)] = float(mm[1])


def fmt(x, digits):
    return "-" if x is None else f"{x:.{digits}f}"


def cell(s, metric, wheres, digits=0):
    return " / ".join(fmt(v.get((s, w, metric)), digits) for w in wheres)


def ratio(s, w):
    local, remote = v.get((s, w, "free-local")), v.get((s, w, "free-remote"))
    if local and remote:
        return remote / local
    return v.get((s, w, "remote/local"))


def main():
    for line in fileinput.input():
        parse(line.strip())
    all3 = ["host"] + ARCHES
    rows = []
    for size in (16, 64, 256, 2048):
        rows.append((f"pair {size} B: instructions (host / rv / arm)",
                     [cell(s, f"pair {size}", all3) for s in STRATEGIES]))
    rows.append(("mixed-size trace: instructions per pair (host / rv / arm)",
                 [cell(s, "mixed", all3) for s in STRATEGIES]))
    for n in (2, 4):
        rows.append((f"throughput, {n} harts vs 1 (rv / arm)",
                     [cell(s, f"x{n}", ARCHES, 2) for s in STRATEGIES]))
    rows.append(("cross-hart free vs local (host instr. / rv / arm cycles)",
                 [" / ".join(fmt(ratio(s, w), 2) for w in all3) for s in STRATEGIES]))
    rows.append(("bytes held per live byte after fragmenting (host / rv / arm)",
                 [cell(s, "held", all3, 2) for s in STRATEGIES]))
    rows.append(("  peak during it (host / rv / arm)",
                 [cell(s, "peak", all3, 2) for s in STRATEGIES]))
    rows.append(("boot-time heap set-up: instructions (rv / arm)",
                 [cell(s, "setup", ARCHES) for s in STRATEGIES]))
    print("| | " + " | ".join(STRATEGIES) + " |")
    print("|---|" + "---|" * len(STRATEGIES))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
