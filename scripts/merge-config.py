#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Merges Kconfig fragments into the .config (KCONFIG_CONFIG), as Linux's
merge_config.sh does: the values a fragment sets win, everything else stays.
A missing .config starts from the given defconfig.

usage: merge-config.py Kconfig DEFCONFIG FRAGMENT...
"""
import os
import re
import sys

import kconfiglib


def main():
    kconfig, defconfig, fragments = sys.argv[1], sys.argv[2], sys.argv[3:]
    config = os.environ.get("KCONFIG_CONFIG", ".config")
    kconf = kconfiglib.Kconfig(kconfig)
    kconf.warn_assign_override = False  # a fragment overriding the .config is the point
    print(kconf.load_config(config if os.path.exists(config) else defconfig))
    for fragment in fragments:
        print(kconf.load_config(fragment, replace=False))
        for line in open(fragment):
            m = re.match(r"(CONFIG_\w+)=(.*)|# (CONFIG_\w+) is not set", line.strip())
            if not m:
                continue
            name, want = (m[1], m[2].strip('"')) if m[1] else (m[3], "n")
            sym = kconf.syms.get(name[len("CONFIG_"):])
            if sym is None or sym.str_value != want:
                sys.exit(f"{fragment}: {name}={want} did not take "
                         f"(it is {sym.str_value if sym else 'unknown'}): check its dependencies")
    print(kconf.write_config())


if __name__ == "__main__":
    main()
