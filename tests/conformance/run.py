#!/usr/bin/env python3
"""Differential conformance tests: casyncio against CPython's asyncio.

Each scenario is a pair of files in tests/conformance/scenarios/:
NAME.py, an asyncio script run by this interpreter, and NAME.c, its C
twin built against build/libcasyncio.a. Both print a trace on stdout; the
scenario passes when the two traces are identical line by line and both
programs exit with the same status.

    python3 tests/conformance/run.py                 # every scenario
    python3 tests/conformance/run.py -k stop -v      # those matching 'stop', traces shown

A scenario whose .py starts with a comment line `# xfail: reason` is a known
difference: a mismatch is reported as XFAIL and does not fail the run.

Standard library only; see tests/conformance/README.md.
"""

import argparse
import concurrent.futures
import difflib
import fnmatch
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(HERE, "scenarios")

TIMEOUT = 10.0
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g", "-D_GNU_SOURCE"]
LIBS = ["-lev", "-lcares", "-lm", "-lpthread", "-ldl"]
# Settings that would change either side's behaviour (debug mode) or output.
SCRUBBED_ENV = ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONWARNINGS", "PYTHONSTARTUP",
                "PYTHONINSPECT", "PYTHONOPTIMIZE")
XFAIL_RE = re.compile(r"^#\s*xfail:\s*(.*\S)\s*$")


class Result:
    def __init__(self, returncode, stdout, stderr, timed_out=False):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def describe(self):
        if self.timed_out:
            return "timed out after %gs" % TIMEOUT
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = "signal %d" % -self.returncode
            return "killed by %s" % name
        return "exit status %d" % self.returncode


def discover(pattern):
    """The scenario names, and the problems of files without a twin."""
    names = {}
    errors = []
    for entry in sorted(os.listdir(SCENARIOS)):
        base, ext = os.path.splitext(entry)
        if ext in (".py", ".c"):
            names.setdefault(base, set()).add(ext)
    selected = []
    for name, exts in sorted(names.items()):
        if pattern and not matches(name, pattern):
            continue
        if exts != {".py", ".c"}:
            missing = ({".py", ".c"} - exts).pop()
            errors.append("%s: %s%s has no twin %s%s" % (name, name, exts.pop(), name, missing))
            continue
        selected.append(name)
    return selected, errors


def matches(name, pattern):
    """-k: a substring, or a glob when it has wildcards; several with commas."""
    for part in pattern.split(","):
        part = part.strip()
        if not part:
            continue
        if any(c in part for c in "*?["):
            if fnmatch.fnmatchcase(name, part):
                return True
        elif part in name:
            return True
    return False


def xfail_reason(name):
    """The reason of a `# xfail: reason` line in the .py's leading comment."""
    with open(os.path.join(SCENARIOS, name + ".py"), encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = XFAIL_RE.match(line)
            if m:
                return m.group(1)
    return None


def scrubbed_env():
    env = dict(os.environ)
    for key in SCRUBBED_ENV:
        env.pop(key, None)
    env["LC_ALL"] = "C.UTF-8"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run(argv, cwd):
    """Runs argv in its own session, killing the whole group on timeout."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=scrubbed_env(), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
        return Result(proc.returncode, out.decode("utf-8", "replace"),
                      err.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return Result(proc.returncode, out.decode("utf-8", "replace"),
                      err.decode("utf-8", "replace"), timed_out=True)


def compile_scenario(cc, build, lib, name):
    """Builds NAME.c; returns (binary, None) or (None, compiler output)."""
    exe = os.path.join(build, name)
    argv = (shlex.split(cc) + CFLAGS +
            ["-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "generated", "include"),
             "-rdynamic", os.path.join(SCENARIOS, name + ".c"), lib, "-o", exe] + LIBS)
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return None, " ".join(shlex.quote(a) for a in argv) + "\n" + \
            proc.stdout.decode("utf-8", "replace")
    return exe, None


def indent(text, prefix="    "):
    return "".join(prefix + line + "\n" for line in text.splitlines())


def compare(name, py, c):
    """The list of problems with the pair of runs (empty: they match)."""
    problems = []
    if py.timed_out or py.returncode < 0:
        problems.append("CPython run %s" % py.describe())
    if c.timed_out or c.returncode < 0:
        problems.append("C run %s" % c.describe())
    if not problems and py.returncode != c.returncode:
        problems.append("exit status differs: CPython %d, C %d" % (py.returncode, c.returncode))
    if py.stdout != c.stdout:
        diff = difflib.unified_diff(py.stdout.splitlines(), c.stdout.splitlines(),
                                    "%s.py (CPython)" % name, "%s.c (casyncio)" % name,
                                    lineterm="")
        problems.append("traces differ:\n" + indent("\n".join(diff)))
    return problems


def main(argv=None):
    global TIMEOUT, SCENARIOS
    parser = argparse.ArgumentParser(
        description="Compare casyncio with CPython's asyncio, scenario by scenario.")
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"),
                        help="C compiler command (default: $CC or cc)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "conformance"),
                        help="directory for the compiled scenarios (default: build/conformance)")
    parser.add_argument("--lib", default=os.path.join(ROOT, "build", "libcasyncio.a"),
                        help="the static library to link (default: build/libcasyncio.a)")
    parser.add_argument("-k", dest="pattern", metavar="PATTERN",
                        help="run only scenarios whose name contains PATTERN (or matches it "
                             "as a glob); several patterns separated by commas")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print both traces (and stderr) of every scenario")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help="seconds each program may run (default: %g)" % TIMEOUT)
    parser.add_argument("--scenarios", default=SCENARIOS,
                        help="directory of the scenarios (default: tests/conformance/scenarios)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel compilations (runs are always one at a time)")
    args = parser.parse_args(argv)
    TIMEOUT = args.timeout
    SCENARIOS = os.path.abspath(args.scenarios)

    version = platform.python_version()
    build = os.path.abspath(os.path.join(ROOT, args.build))
    lib = os.path.abspath(os.path.join(ROOT, args.lib))
    if not os.path.exists(lib):
        print("conformance: %s does not exist; run `make lib` first" % lib, file=sys.stderr)
        return 2
    os.makedirs(build, exist_ok=True)
    # Link every scenario against one snapshot of the library, so that a
    # rebuild during the run cannot mix two versions.
    snapshot = os.path.join(build, "libcasyncio.a")
    if snapshot != lib:
        shutil.copyfile(lib, snapshot)
        lib = snapshot

    names, errors = discover(args.pattern)
    for error in errors:
        print("ERROR  %s" % error)
    if not names and not errors:
        print("conformance: no scenario matches %r" % args.pattern)
        return 1

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        builds = dict(zip(names, pool.map(lambda n: compile_scenario(args.cc, build, lib, n),
                                          names)))

    passed = failed = xfailed = 0
    failures = list(e.split(":")[0] for e in errors)
    for name in names:
        reason = xfail_reason(name)
        exe, compile_error = builds[name]
        start = time.monotonic()
        py = run([sys.executable, os.path.join(SCENARIOS, name + ".py")], SCENARIOS)
        if exe is not None:
            c = run([exe], SCENARIOS)
            problems = compare(name, py, c)
        else:
            c = None
            problems = ["compile error:\n" + indent(compile_error)]
        elapsed = time.monotonic() - start

        if not problems:
            status = "XPASS" if reason else "ok"
            passed += 1
        elif reason and exe is not None:
            status = "XFAIL"
            xfailed += 1
        else:
            status = "FAIL"
            failed += 1
            failures.append(name)
        line = "%-5s  %s (%.2fs)" % (status, name, elapsed)
        if reason:
            line += "  [xfail: %s]" % reason
        if status == "XPASS":
            line += "  -- matches now: remove the xfail marker"
        print(line)
        if problems and (status == "FAIL" or args.verbose):
            for problem in problems:
                print(indent(problem, "  | "), end="")
            if status == "FAIL" and not args.verbose:
                for label, res in (("CPython", py), ("C", c)):
                    if res is not None and res.stderr.strip():
                        print("  | %s stderr:" % label)
                        print(indent(res.stderr, "  |     "), end="")
        if args.verbose:
            for label, res in (("CPython", py), ("C", c)):
                if res is None:
                    continue
                print("  --- %s trace (%s)" % (label, res.describe()))
                print(indent(res.stdout), end="")
                if res.stderr.strip():
                    print("  --- %s stderr" % label)
                    print(indent(res.stderr), end="")
        sys.stdout.flush()

    total = len(names) + len(errors)
    summary = "conformance: %d of %d scenarios match CPython %s" % (passed, total, version)
    if xfailed:
        summary += " (%d expected failure%s)" % (xfailed, "" if xfailed == 1 else "s")
    print(summary)
    if failures:
        print("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
