#!/usr/bin/env python3
"""The argument table test: casyncio's public functions, parameter by
parameter, against CPython 3.11.7.

    run.py --c build/args/args_table     run the C program and compare
    run.py --record                      record CPython's lines (3.11.7 only)

generated/tests/args_table.c and args_table.py (rendered from spec/ by `make
gen`) make the same calls: each function with valid arguments, then each
parameter set to None, to an explicit zero and to bad values, in the states
that matter (a closed loop, a done future, ...). --record runs the Python
side on CPython 3.11.7 and keeps its lines in cpython-3.11.7.txt, under a
header naming the sha256 of the script and harness it ran, so a recording
that no longer matches the cases is refused as stale. Comparing needs any
Python 3.

A C line must be the recorded line, except:

- cases of what casyncio does not implement yet: the recorded line is the
  NotImplementedError C must raise (CPython does not run them); they are
  counted and listed by function;
- the entries of differences.toml: known differences whose fix lies outside
  the generated glue, each with the line C prints today and why. The entry
  must still match: a changed or fixed difference fails until the entry is
  updated or removed.
"""

import argparse
import hashlib
import importlib.util
import io
import os
import platform
import re
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "generated", "tests", "args_table.py")
HARNESS = os.path.join(HERE, "harness.py")
RECORDED = os.path.join(HERE, "cpython-3.11.7.txt")
DIFFERENCES = os.path.join(HERE, "differences.toml")
WANT_VERSION = (3, 11, 7)
TIMEOUT = 300


def digest():
    h = hashlib.sha256()
    for path in (SCRIPT, HARNESS):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def header():
    return [f"# CPython {'.'.join(map(str, WANT_VERSION))}'s lines for the argument table test.",
            f"# sha256 of generated/tests/args_table.py and tests/args/harness.py: {digest()}",
            "# Written by `make record-args`: do not edit."]


def record():
    if platform.python_implementation() != "CPython" or sys.version_info[:3] != WANT_VERSION:
        print(f"run.py --record: needs CPython {'.'.join(map(str, WANT_VERSION))}, not "
              f"{platform.python_implementation()} {platform.python_version()} "
              f"({sys.executable})", file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    import harness
    spec = importlib.util.spec_from_file_location("args_table", SCRIPT)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    out = io.StringIO()
    harness.run(table.CASES, out)
    lines = header() + out.getvalue().splitlines()
    with open(RECORDED, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.relpath(RECORDED, ROOT)}: {len(lines) - 3} lines")
    return 0


LINE_RE = re.compile(r"^(.*?(?: \[[^\]]*\])?): (.*)$")


def split(line):
    """(case, outcome) of an output line."""
    m = LINE_RE.match(line)
    if not m:
        return line, ""
    return m.group(1), m.group(2)


def load_recorded():
    with open(RECORDED, encoding="utf-8") as f:
        lines = f.read().splitlines()
    head = [x for x in lines if x.startswith("#")]
    body = [x for x in lines if x and not x.startswith("#")]
    return head, body


def load_untested():
    """The items the generated table has no cases for, and why."""
    spec = importlib.util.spec_from_file_location("args_table", SCRIPT)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    return table.UNTESTED


def load_differences():
    with open(DIFFERENCES, "rb") as f:
        data = tomllib.load(f)
    out = {}
    for d in data.get("difference", []):
        out[d["case"]] = d
    return out


def compare(program):
    head, recorded = load_recorded()
    want_head = header()
    if head[:2] != want_head[:2]:
        print("args: the recording is stale: generated/tests/args_table.py or "
              "tests/args/harness.py changed since it was made.\n"
              "      Record it again with CPython 3.11.7: make record-args")
        return 1
    try:
        p = subprocess.run([program], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"args: {program} took more than {TIMEOUT} s")
        return 1
    if p.returncode != 0:
        print(f"args: {program} exited with {p.returncode}\n{p.stderr[-3000:]}")
        return 1
    got = p.stdout.splitlines()
    differences = load_differences()
    want = dict(split(x) for x in recorded)
    order = [split(x)[0] for x in recorded]
    seen, failures, stubs, known = set(), [], {}, []
    for line in got:
        case, outcome = split(line)
        seen.add(case)
        if case not in want:
            failures.append(f"{case}: not in the recording (record again: make record-args)")
            continue
        expected = want[case]
        if case in differences:
            d = differences[case]
            if outcome == expected:
                failures.append(f"{case}: now matches CPython: remove its entry from "
                                "tests/args/differences.toml")
            elif outcome != d["c"]:
                failures.append(f"{case}:\n    C prints      {outcome}\n    the entry says "
                                f"{d['c']}\n    CPython       {expected}")
            else:
                known.append((case, expected, outcome, d["why"]))
            continue
        if outcome != expected:
            failures.append(f"{case}:\n    C       {outcome}\n    CPython {expected}")
            continue
        if expected.startswith("NotImplementedError: "):
            func = expected[len("NotImplementedError: "):].rsplit(" is not implemented", 1)[0]
            stubs[func] = stubs.get(func, 0) + 1
    for case in order:
        if case not in seen:
            failures.append(f"{case}: C printed no line for it")
    for case in differences:
        if case not in want:
            failures.append(f"{case}: an entry of differences.toml names no case")
    n_stub = sum(stubs.values())
    untested = load_untested()
    print(f"args: {len(got)} cases: {len(got) - n_stub - len(known) - len(failures)} "
          f"as CPython 3.11.7, {n_stub} NotImplementedError (not implemented yet), "
          f"{len(known)} known differences, {len(failures)} failures")
    if untested:
        print(f"  no cases ({len(untested)} items): " +
              "; ".join(f"{name}: {why}" for name, why in untested))
    if stubs:
        print(f"  not implemented yet ({len(stubs)} functions): " +
              ", ".join(f"{k} ({v})" for k, v in stubs.items()))
    for case, expected, outcome, why in known:
        print(f"  known difference: {case}\n      C       {outcome}\n      CPython {expected}\n"
              f"      why     {' '.join(why.split())}")
    for f in failures:
        print(f"  FAIL {f}")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--c", metavar="PROGRAM", help="the C program to compare")
    g.add_argument("--record", action="store_true", help="record CPython 3.11.7's lines")
    args = ap.parse_args()
    return record() if args.record else compare(args.c)


if __name__ == "__main__":
    sys.exit(main())
