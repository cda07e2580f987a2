#!/usr/bin/env python3
"""Differential conformance tests: casyncio against CPython's asyncio.

Each scenario is a pair of files in tests/conformance/scenarios/: NAME.py,
an asyncio script, and NAME.c, its C twin built against
build/libcasyncio.a. The library follows one CPython version, the target,
named in tests/conformance/TARGET. What NAME.py prints on the target, and
its exit status, is recorded once in traces/<target>/NAME.out and checked
in; a scenario passes when the C program prints exactly that trace and exits
with that status. No particular Python is needed for that comparison beyond
the one running this script.

Where the target interpreter is installed, each NAME.py is also run on it and
must still print its recorded trace (a trace cannot go stale). Where the
interpreter running this script is another version, it runs the scenarios
too, and the ones whose trace differs on it are reported, as information.

    python3 tests/conformance/run.py                 # every scenario
    python3 tests/conformance/run.py -k stop -v      # those matching 'stop', traces shown
    python3 tests/conformance/run.py --record        # re-record the traces on the target

A scenario whose .py starts with a comment line `# xfail: reason` is a known
difference: a C mismatch is reported as XFAIL and does not fail the run. One
with `# requires: PATH` runs only where PATH exists (SKIP elsewhere).

Standard library only; see tests/conformance/README.md.
"""

import argparse
import concurrent.futures
import difflib
import fnmatch
import glob
import hashlib
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
TRACES = os.path.join(HERE, "traces")
TARGET_FILE = os.path.join(HERE, "TARGET")

TIMEOUT = 10.0
# A scenario does what its Python twin does, which may be passing an argument
# the target's CPython no longer has, to see its exception: scenarios see
# every function and field of every version (AIO__API_ALL, as the library's
# tests do) and meet the target's gates at run time.
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g", "-D_GNU_SOURCE",
          "-DAIO__API_ALL"]
LIBS = ["-lev", "-lcares", "-lm", "-lpthread", "-ldl"]
# Settings that would change either side's behaviour (debug mode) or output.
SCRUBBED_ENV = ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONWARNINGS", "PYTHONSTARTUP",
                "PYTHONINSPECT", "PYTHONOPTIMIZE", "PYTHONPATH")
XFAIL_RE = re.compile(r"^#\s*xfail:\s*(.*\S)\s*$")
REQUIRES_RE = re.compile(r"^#\s*requires:\s*(.*\S)\s*$")
PROBE = ("import platform, sys; "
         "print(sys.implementation.name, platform.python_version(), sys.executable)")


class Result:
    def __init__(self, returncode, stdout, stderr="", timed_out=False):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def clean(self):
        """Whether the program ended by itself (a status a trace can hold)."""
        return not self.timed_out and self.returncode >= 0

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


# --- Traces -----------------------------------------------------------------

# A trace file: the line "scenario sha256 HASH" (HASH: of the NAME.py it was
# recorded from, so that a changed script whose trace was not recorded again
# is caught on every machine), the line "exit status N", then the program's
# stdout verbatim.
HEADER_RE = re.compile(r"^scenario sha256 ([0-9a-f]{64})\nexit status (-?\d+)\n")


def trace_path(traces, name):
    return os.path.join(traces, name + ".out")


def scenario_hash(name):
    with open(os.path.join(SCENARIOS, name + ".py"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Trace(Result):
    def __init__(self, returncode, stdout, script_hash):
        super().__init__(returncode, stdout)
        self.script_hash = script_hash

    def text(self):
        return "scenario sha256 %s\nexit status %d\n%s" % (self.script_hash, self.returncode,
                                                           self.stdout)


def read_trace(traces, name):
    """The recorded Trace of NAME, or None when there is none."""
    path = trace_path(traces, name)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    m = HEADER_RE.match(text)
    if m is None:
        raise SystemExit("conformance: %s: does not start with 'scenario sha256 HASH' and "
                         "'exit status N'" % path)
    return Trace(int(m.group(2)), text[m.end():], m.group(1))


def orphan_traces(traces, names):
    """Trace files of scenarios that do not exist."""
    if not os.path.isdir(traces):
        return []
    return sorted(entry[:-4] for entry in os.listdir(traces)
                  if entry.endswith(".out") and entry[:-4] not in names)


# --- Interpreters -----------------------------------------------------------

def read_target():
    try:
        with open(TARGET_FILE, encoding="utf-8") as f:
            version = f.read().strip()
    except FileNotFoundError:
        raise SystemExit("conformance: %s is missing" % TARGET_FILE)
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit("conformance: %s should hold one version, like 3.11.7, not %r"
                         % (TARGET_FILE, version))
    return version


class Interpreter:
    def __init__(self, impl, version, executable):
        self.impl = impl
        self.version = version
        self.executable = executable

    def __str__(self):
        name = "CPython" if self.impl == "cpython" else self.impl
        return "%s %s (%s)" % (name, self.version, self.executable)


def probe(argv, env=None):
    """The Interpreter that argv starts, or None."""
    try:
        proc = subprocess.run(list(argv) + ["-c", PROBE], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=env, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    fields = proc.stdout.decode("utf-8", "replace").strip().split(" ", 2)
    if proc.returncode != 0 or len(fields) != 3 or not os.path.isabs(fields[2]):
        return None
    return Interpreter(*fields)


def target_candidates(version):
    """Where the target interpreter may be: (description, argv, env)."""
    major_minor = ".".join(version.split(".")[:2])
    home = os.path.expanduser("~")
    candidates = [("this interpreter", [sys.executable], None)]
    for cmd in ("python3", "python" + major_minor):
        path = shutil.which(cmd)
        if path:
            candidates.append((cmd + " on PATH", [path], None))
    roots = [os.environ.get("PYENV_ROOT"), os.path.join(home, ".pyenv")]
    for root in filter(None, roots):
        for exe in ("python3", "python" + major_minor):
            candidates.append(("pyenv", [os.path.join(root, "versions", version, "bin", exe)],
                               None))
    if shutil.which("python3"):
        # a pyenv shim (or anything else that honours PYENV_VERSION)
        env = dict(os.environ, PYENV_VERSION=version)
        candidates.append(("PYENV_VERSION=%s python3" % version, ["python3"], env))
    patterns = [os.path.join(home, ".local/share/uv/python/cpython-%s-*/bin/python3" % version),
                os.path.join(home, ".asdf/installs/python/%s/bin/python3" % version),
                "/opt/python/%s/bin/python3" % version,
                "/usr/local/bin/python" + major_minor]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            candidates.append((path, [path], None))
    return candidates


def find_target(version, explicit):
    """The target interpreter: explicit (a path or command, checked), else
    the first candidate that is CPython <version>. Returns (Interpreter or
    None, what was tried)."""
    if explicit:
        found = probe(shlex.split(explicit))
        return found, [explicit]
    tried = []
    seen = set()
    for description, argv, env in target_candidates(version):
        if env is None:
            if not os.path.exists(argv[0]):
                continue
            key = os.path.realpath(argv[0])
            if key in seen:
                continue
            seen.add(key)
        found = probe(argv, env)
        tried.append("%s: %s" % (description, found or "does not run"))
        if found and found.impl == "cpython" and found.version == version:
            return found, tried
    return None, tried


def this_interpreter():
    return Interpreter(sys.implementation.name, platform.python_version(), sys.executable)


# --- Scenarios --------------------------------------------------------------

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
    return selected, errors, set(names)


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


def header_marker(name, regex):
    """The value of a marker line in the .py's leading comment block."""
    with open(os.path.join(SCENARIOS, name + ".py"), encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = regex.match(line)
            if m:
                return m.group(1)
    return None


def missing_requirement(name):
    """A `# requires: PATH` whose PATH this machine lacks, else None."""
    path = header_marker(name, REQUIRES_RE)
    if path is not None and not os.path.exists(path):
        return path
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


def run_python(interpreter, name):
    return run([interpreter.executable, os.path.join(SCENARIOS, name + ".py")], SCENARIOS)


def compile_scenario(cc, build, lib, name):
    """Builds NAME.c; returns (binary, None) or (None, compiler output)."""
    exe = os.path.join(build, name)
    argv = (shlex.split(cc) + CFLAGS +
            ["-I" + os.path.join(ROOT, "include"),
             "-I" + os.path.join(ROOT, "generated", "include"),
             os.path.join(SCENARIOS, name + ".c"), lib, "-o", exe] + LIBS)
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return None, " ".join(shlex.quote(a) for a in argv) + "\n" + \
            proc.stdout.decode("utf-8", "replace")
    return exe, None


def indent(text, prefix="    "):
    return "".join(prefix + line + "\n" for line in text.splitlines())


def compare(name, expected, expected_label, got, got_label):
    """The list of differences of a run from the expected trace (empty: it matches)."""
    problems = []
    if not got.clean():
        problems.append("%s run %s" % (got_label, got.describe()))
    elif expected.returncode != got.returncode:
        problems.append("exit status differs: %s %d, %s %d"
                        % (expected_label, expected.returncode, got_label, got.returncode))
    if expected.stdout != got.stdout:
        diff = difflib.unified_diff(expected.stdout.splitlines(), got.stdout.splitlines(),
                                    "%s (%s)" % (name, expected_label),
                                    "%s (%s)" % (name, got_label), lineterm="")
        problems.append("traces differ:\n" + indent("\n".join(diff)))
    return problems


def print_problems(problems, runs):
    for problem in problems:
        print(indent(problem, "  | "), end="")
    for label, res in runs:
        if res is not None and res.stderr.strip():
            print("  | %s stderr:" % label)
            print(indent(res.stderr, "  |     "), end="")


def print_runs(runs):
    for label, res in runs:
        if res is None:
            continue
        print("  --- %s (%s)" % (label, res.describe()))
        print(indent(res.stdout), end="")
        if res.stderr.strip():
            print("  --- %s stderr" % label)
            print(indent(res.stderr), end="")


def repeat(times, start, check):
    """Runs start() up to times times, until check() finds a problem;
    returns (problems, the last run)."""
    for _ in range(times):
        res = start()
        problems = check(res)
        if problems:
            break
    return problems, res


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


# --- Recording --------------------------------------------------------------

def record(args, target, version, traces, names, all_names):
    """Runs each scenario on the target interpreter args.repeat times and
    writes its trace; refuses a scenario whose runs differ or do not end
    cleanly."""
    os.makedirs(traces, exist_ok=True)
    counts = {"new": 0, "changed": 0, "rehashed": 0, "unchanged": 0}
    refused = []
    for name in names:
        missing = missing_requirement(name)
        if missing is not None:
            print("SKIP   %s: this machine has no %s; its trace is left as it is" % (name, missing))
            continue
        start = time.monotonic()
        script_hash = scenario_hash(name)
        runs = [run_python(target, name) for _ in range(args.repeat)]
        elapsed = time.monotonic() - start
        first = runs[0]
        problems = []
        if not first.clean():
            problems.append("the run %s" % first.describe())
        for i, other in enumerate(runs[1:], 2):
            problems += compare(name, first, "run 1", other, "run %d" % i)
        if problems:
            print("REFUSE %s (%.2fs): not recorded" % (name, elapsed))
            print_problems(problems, [("run 1", first)])
            refused.append(name)
            continue
        old = read_trace(traces, name)
        new = Trace(first.returncode, first.stdout, script_hash)
        if old is None:
            state = "new"
        elif old.text() == new.text():
            state = "unchanged"
        elif old.returncode == new.returncode and old.stdout == new.stdout:
            state = "rehashed"                   # NAME.py changed, not its trace
        else:
            state = "changed"
        counts[state] += 1
        if state != "unchanged":
            with open(trace_path(traces, name), "w", encoding="utf-8", newline="") as f:
                f.write(new.text())
        print("%-9s %s (%.2fs)" % (state, name, elapsed))
        if args.verbose or state == "changed":
            if state == "changed":
                print_problems(compare(name, old, "old trace", first, "new trace"), [])
            if args.verbose:
                print_runs([("trace", first)])
        sys.stdout.flush()
    if not args.pattern:
        for name in orphan_traces(traces, all_names):
            os.remove(trace_path(traces, name))
            print("removed   %s: no such scenario" % trace_path(traces, name))
    notes = ""
    if counts["rehashed"]:
        notes += ", %d rehashed (the script changed, not its trace)" % counts["rehashed"]
    if refused:
        notes += ", %d refused (%s)" % (len(refused), ", ".join(refused))
    print("conformance: recorded with %s into %s: %d new, %d changed, %d unchanged%s"
          % (target, os.path.relpath(traces, ROOT), counts["new"], counts["changed"],
             counts["unchanged"], notes))
    return 1 if refused else 0


# --- Main -------------------------------------------------------------------

def main(argv=None):
    global TIMEOUT, SCENARIOS
    parser = argparse.ArgumentParser(
        description="Compare casyncio with the recorded traces of CPython's asyncio, "
                    "scenario by scenario.")
    parser.add_argument("--target", default=None,
                        help="the CPython version whose traces are the reference "
                             "(default: the one in tests/conformance/TARGET)")
    parser.add_argument("--target-python", metavar="PYTHON",
                        default=os.environ.get("CONFORMANCE_TARGET_PYTHON") or None,
                        help="the target interpreter (default: $CONFORMANCE_TARGET_PYTHON, else "
                             "searched: this interpreter, python3 and python3.X on PATH, pyenv, "
                             "PYENV_VERSION=<target> python3, ...); 'none': do not run it")
    parser.add_argument("--record", action="store_true",
                        help="run each Python scenario on the target interpreter and write its "
                             "trace (only the target interpreter may record)")
    parser.add_argument("--no-python", action="store_true",
                        help="compare the C programs with the traces only, run no Python scenario")
    parser.add_argument("--repeat", type=int, default=None,
                        help="run every program this many times, each run must give the trace "
                             "(default: 1; 3 with --record)")
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
                        help="print the traces (and stderr) of every scenario")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help="seconds each program may run (default: %g)" % TIMEOUT)
    parser.add_argument("--scenarios", default=SCENARIOS,
                        help="directory of the scenarios (default: tests/conformance/scenarios)")
    parser.add_argument("--traces", default=None,
                        help="directory of the traces (default: tests/conformance/traces/<target>)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel compilations (runs are always one at a time)")
    args = parser.parse_args(argv)
    TIMEOUT = args.timeout
    SCENARIOS = os.path.abspath(args.scenarios)
    version = args.target or read_target()
    traces = os.path.abspath(args.traces or os.path.join(TRACES, version))
    if args.repeat is None:
        args.repeat = 3 if args.record else 1
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    names, errors, all_names = discover(args.pattern)
    for error in errors:
        print("ERROR  %s" % error)
    if not names and not errors:
        print("conformance: no scenario matches %r" % args.pattern)
        return 1

    # The interpreters: the target, which the traces come from, and this one
    # when it is another version (information only).
    target = None
    tried = []
    no_target = args.no_python or (args.target_python or "").lower() == "none"
    if not no_target:
        explicit = args.target_python
        target, tried = find_target(version, explicit)
        if explicit and target is not None and (target.impl != "cpython"
                                                or target.version != version):
            print("conformance: --target-python %s is %s, not CPython %s: refused%s"
                  % (explicit, target, version,
                     "; only CPython %s may record its traces" % version if args.record else ""),
                  file=sys.stderr)
            return 2
        if explicit and target is None:
            print("conformance: --target-python %s: cannot run it" % explicit, file=sys.stderr)
            return 2

    if args.record:
        if no_target:
            print("conformance: --record runs the target interpreter; --no-python and "
                  "--target-python none forbid it", file=sys.stderr)
            return 2
        if target is None:
            print("conformance: the traces are CPython %s's, and only CPython %s may record "
                  "them; it is not installed here. Looked at:%s\n"
                  "  Install CPython %s (e.g. `pyenv install %s`) or name it:\n"
                  "  run.py --record --target-python /path/to/python3"
                  % (version, version, "".join("\n  " + t for t in tried),
                     version, version), file=sys.stderr)
            return 2
        return record(args, target, version, traces, names, all_names)

    others = []
    me = this_interpreter()
    if not args.no_python and me.impl == "cpython" and me.version != version:
        others.append(me)

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

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        builds = dict(zip(names, pool.map(lambda n: compile_scenario(args.cc, build, lib, n),
                                          names)))

    label = "CPython %s trace" % version
    passed = failed = xfailed = skipped = 0
    failures = list(e.split(":")[0] for e in errors)
    stale = []                               # the target no longer gives the trace
    differ = {other.executable: [] for other in others}
    compared = 0                             # scenarios the other interpreters ran
    for name in names:
        reason = header_marker(name, XFAIL_RE)
        missing = missing_requirement(name)
        if missing is not None:
            print("SKIP   %s: needs %s, which this machine lacks" % (name, missing))
            skipped += 1
            continue
        exe, compile_error = builds[name]
        expected = read_trace(traces, name)
        start = time.monotonic()
        c_problems = []
        target_problems = []
        info = []                            # how the other interpreters differ
        runs = [("recorded " + label, expected)]
        if expected is None:
            c_problems.append("no recorded trace %s: record it with `make record-conformance`"
                              % os.path.relpath(trace_path(traces, name), ROOT))
        elif exe is None:
            c_problems.append("compile error:\n" + indent(compile_error))
        else:
            c_problems, c = repeat(args.repeat, lambda: run([exe], SCENARIOS),
                                   lambda res: compare(name, expected, label, res, "casyncio"))
            runs.append(("casyncio", c))
        if expected is not None and expected.script_hash != scenario_hash(name):
            stale.append(name)
            target_problems.append("%s.py changed since its trace was recorded: record it "
                                   "again with `make record-conformance` (needs CPython %s)"
                                   % (name, version))
        if expected is not None and target is not None:
            now = "CPython %s now" % version
            py_problems, py = repeat(args.repeat, lambda: run_python(target, name),
                                     lambda res: compare(name, expected, label, res, now))
            runs.append((now, py))
            if py_problems:
                if name not in stale:
                    stale.append(name)
                target_problems.append("the recorded trace is stale: CPython %s no longer "
                                       "gives it; record it again with `make record-conformance`"
                                       % version)
                target_problems += py_problems
        if expected is not None:
            for other in others:
                py = run_python(other, name)
                diff = compare(name, expected, label, py, "CPython %s" % other.version)
                if diff:
                    differ[other.executable].append(name)
                    info += ["for information, %s gives another trace:" % other] + diff
            compared += 1
        elapsed = time.monotonic() - start

        problems = c_problems + target_problems
        if not problems:
            status = "XPASS" if reason else "ok"
            passed += 1
        elif reason and not target_problems and exe is not None and expected is not None:
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
        for other in others:
            if name in differ[other.executable]:
                line += "  [differs on CPython %s]" % other.version
        print(line)
        if problems and (status == "FAIL" or args.verbose):
            print_problems(problems, [] if args.verbose else runs[1:])
        if args.verbose:
            print_runs(runs)
            print_problems(info, [])
        sys.stdout.flush()

    orphans = orphan_traces(traces, all_names)
    for orphan in orphans:
        print("ERROR  %s: a trace of no scenario; `make record-conformance` removes it"
              % os.path.relpath(trace_path(traces, orphan), ROOT))
        failures.append(orphan)

    total = len(names) + len(errors)
    reference = "the recorded traces of CPython %s (%s)" % (version, os.path.relpath(traces, ROOT))
    summary = "conformance: %d of %d scenarios match %s" % (passed, total - skipped, reference)
    if xfailed:
        summary += ", %s" % plural(xfailed, "expected failure")
    if skipped:
        summary += ", %d skipped" % skipped
    if args.repeat > 1:
        summary += ", each run %d times" % args.repeat
    if target is not None:
        summary += "; the traces re-checked on %s: %s" % (
            target, "%d stale (%s)" % (len(stale), ", ".join(stale)) if stale else "all current")
    else:
        if stale:
            summary += "; %d stale trace%s (%s)" % (len(stale), "" if len(stale) == 1 else "s",
                                                   ", ".join(stale))
        if no_target:
            summary += "; CPython %s not run" % version
        else:
            summary += "; CPython %s is not installed here, the traces were not re-run" % version
    print(summary)
    for other in others:
        names_differ = differ[other.executable]
        print("conformance: for information (not a failure), %s gives another trace than "
              "CPython %s in %d of %d scenarios%s" % (
                  other, version, len(names_differ), compared,
                  ": " + ", ".join(names_differ) if names_differ else ""))
    if failures:
        print("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
