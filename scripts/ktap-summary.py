#!/usr/bin/env python3
"""Counts the leaf results of KTAP documents (a test with subtests is counted
through its subtests) and prints the failures and one closing line
'N passed, N failed, N skipped'. Exit status 1 if anything failed.

usage: ktap-summary.py FILE...   (several documents per file are fine)
"""
import re
import sys

RESULT = re.compile(r'^( *)(ok|not ok) (\d+)(?: - | )?([^#]*?)\s*(#\s*(SKIP|TODO)\b.*)?$')


def leaves(lines):
    """Yields (path, status) for each result that has no subtests."""
    prev_indent = None
    stack = {}  # indent -> name of the subtest currently open there
    for line in lines:
        line = line.rstrip('\n')
        m = re.match(r'^( *)# Subtest: (.*)$', line)
        if m:
            stack[len(m.group(1))] = m.group(2).strip()
            continue
        if re.match(r'^KTAP version', line):
            prev_indent = None
            continue
        m = RESULT.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        is_parent = prev_indent is not None and prev_indent > indent
        prev_indent = indent
        for closed in [i for i in stack if i > indent]:
            del stack[closed]  # this result ends those subtests
        if is_parent:
            continue
        name = m.group(4).strip()
        path = '/'.join(stack[i] for i in sorted(stack))
        status = 'skip' if m.group(6) == 'SKIP' else ('fail' if m.group(2) == 'not ok' else 'pass')
        yield (path + '/' + name if path else name), status


def main():
    counts = {'pass': 0, 'fail': 0, 'skip': 0}
    failed = []
    for f in sys.argv[1:]:
        with open(f, errors='replace') as fh:
            for path, status in leaves(fh):
                counts[status] += 1
                if status == 'fail':
                    failed.append(f'{f}: {path}')
    for f in failed:
        print(f'FAILED: {f}')
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return 1 if counts['fail'] else 0


if __name__ == '__main__':
    sys.exit(main())
