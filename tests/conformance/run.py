#!/usr/bin/env python3
"""Differential conformance tests: casyncio against CPython's asyncio.

Each scenario is a pair of files in tests/conformance/scenarios/: NAME.py,
an asyncio script, and NAME.c, its C twin built against
build/libcasyncio.a. What NAME.py prints on a CPython version, and its exit
status, is recorded once in traces/<version>/NAME.out and checked in, for
every version there is a directory for (3.8.18 .. 3.13.0). A scenario
passes on a version when its C program, with its loops set to that version
(the harness says which in CASYNCIO_CONFORMANCE_TARGET, support/target_version.c
passes it to aio_set_target_version()), prints exactly that trace and exits
with that status. No particular Python is needed for that comparison beyond
the one running this script.

Where an interpreter whose traces are re-checked is installed (by default only
the library's default target, tests/conformance/TARGET; --recheck all: every
version), each NAME.py is run on it too and must still print its recorded
trace (a trace cannot go stale).

    python3 tests/conformance/run.py                 # every scenario, every version
    python3 tests/conformance/run.py -k stop -v      # those matching 'stop', traces shown
    python3 tests/conformance/run.py --target 3.8.18 # one version
    python3 tests/conformance/run.py --record        # re-record the traces of every
                                                     # version installed here

`# versions: 3.11+` (or 3.8-3.10, 3.9, several with commas) in the .py's
leading comments limits a scenario to those versions; `# requires: PATH`
runs it only where PATH exists (SKIP elsewhere). A C program that does not
give a version's trace today is listed in known-differences.toml with the
reason: reported as "known", not a failure, until it matches (then the
entry must go).

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
KNOWN_FILE = os.path.join(HERE, "known-differences.toml")
SUPPORT = os.path.join(HERE, "support", "target_version.c")
# The variable the C twins read their target version from (support/target_version.c).
TARGET_ENV = "CASYNCIO_CONFORMANCE_TARGET"

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
                "PYTHONINSPECT", "PYTHONOPTIMIZE", "PYTHONPATH", "CASYNCIO_CONFORMANCE_TARGET")
XFAIL_RE = re.compile(r"^#\s*xfail:\s*(.*\S)\s*$")
VERSIONS_RE = re.compile(r"^#\s*versions:\s*(.*\S)\s*$")
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


VERSION_DIR_RE = re.compile(r"\d+\.\d+\.\d+")


def version_key(version):
    return tuple(int(part) for part in version.split("."))


def major_minor(version):
    return ".".join(version.split(".")[:2])


def trace_versions(traces_root):
    """The versions that have a directory of traces, oldest first."""
    if not os.path.isdir(traces_root):
        return []
    return sorted((entry for entry in os.listdir(traces_root)
                   if VERSION_DIR_RE.fullmatch(entry)
                   and os.path.isdir(os.path.join(traces_root, entry))), key=version_key)


def parse_version_spec(spec):
    """`# versions:` -> a predicate on "X.Y.Z". The spec is items separated
    by commas: 3.11+ (3.11 and later), 3.8-3.10 (both included), 3.9."""
    ranges = []
    for item in spec.split(","):
        item = item.strip()
        m = re.fullmatch(r"(\d+\.\d+)(\+|-(\d+\.\d+))?", item)
        if m is None:
            raise ValueError("%r: expected X.Y, X.Y+ or X.Y-X.Y" % item)
        low = version_key(m.group(1))
        if m.group(2) == "+":
            high = (99, 99)
        elif m.group(3):
            high = version_key(m.group(3))
        else:
            high = low
        if high < low:
            raise ValueError("%r: an empty range" % item)
        ranges.append((low, high))
    return lambda version: any(low <= version_key(version)[:2] <= high for low, high in ranges)


def scenario_versions(name):
    """(spec text or None, predicate on a version) of NAME.py's `# versions:`."""
    spec = header_marker(name, VERSIONS_RE)
    if spec is None:
        return None, lambda version: True
    try:
        return spec, parse_version_spec(spec)
    except ValueError as e:
        raise SystemExit("conformance: %s.py: # versions: %s" % (name, e))


# --- Known differences ------------------------------------------------------

# known-differences.toml: one table per version, one key per scenario whose
# C program does not give that version's trace today, its value the reason:
#
#   ["3.8.18"]
#   call_soon_fifo = "3.8 says 'x', casyncio 'y'"
#
# Only that subset of TOML is read (any Python 3 runs this script); where
# tomllib exists, the file is also read with it and must mean the same.
KNOWN_SECTION_RE = re.compile(r'^\["(\d+\.\d+\.\d+)"\]\s*(#.*)?$')
KNOWN_ENTRY_RE = re.compile(r'^([A-Za-z0-9_]+)\s*=\s*"((?:[^"\\]|\\["\\])*)"\s*(#.*)?$')


def read_known(path):
    """{(version, scenario): reason} from known-differences.toml."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    known = {}
    tables = {}
    version = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = KNOWN_SECTION_RE.match(stripped)
        if m:
            version = m.group(1)
            if version in tables:
                raise SystemExit("conformance: %s:%d: [\"%s\"] twice" % (path, number, version))
            tables[version] = {}
            continue
        m = KNOWN_ENTRY_RE.match(stripped)
        if m is None or version is None:
            raise SystemExit("conformance: %s:%d: expected [\"X.Y.Z\"] or scenario = \"reason\""
                             % (path, number))
        name, reason = m.group(1), re.sub(r'\\(["\\])', r"\1", m.group(2))
        if not reason.strip():
            raise SystemExit("conformance: %s:%d: %s: the reason is empty" % (path, number, name))
        if (version, name) in known:
            raise SystemExit("conformance: %s:%d: %s twice in [\"%s\"]"
                             % (path, number, name, version))
        known[(version, name)] = reason
        tables[version][name] = reason
    try:
        import tomllib
    except ImportError:
        tomllib = None
    if tomllib is not None and tomllib.loads(text) != tables:
        raise SystemExit("conformance: %s: TOML reads it otherwise than run.py; keep to "
                         "[\"X.Y.Z\"] tables of scenario = \"reason\"" % path)
    return known


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


def scrubbed_env(extra=None):
    env = dict(os.environ)
    for key in SCRUBBED_ENV:
        env.pop(key, None)
    env["LC_ALL"] = "C.UTF-8"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def run(argv, cwd, extra_env=None):
    """Runs argv in its own session, killing the whole group on timeout."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=scrubbed_env(extra_env),
                            start_new_session=True)
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


def run_c(exe, version):
    """Runs a C twin with its loops set to version (X.Y.Z: X.Y is passed)."""
    return run([exe], SCENARIOS, {TARGET_ENV: version})


def compile_c(cc, sources, out, link=True):
    """Compiles sources into out; returns (out, None) or (None, compiler output)."""
    argv = (shlex.split(cc) + CFLAGS +
            ["-I" + os.path.join(ROOT, "include"),
             "-I" + os.path.join(ROOT, "generated", "include")] +
            sources + ([] if link else ["-c"]) + ["-o", out] + (LIBS if link else []))
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return None, " ".join(shlex.quote(a) for a in argv) + "\n" + \
            proc.stdout.decode("utf-8", "replace")
    return out, None


def compile_scenario(cc, build, lib, support, name):
    """Builds NAME.c with the support object; returns (binary, None) or
    (None, compiler output)."""
    return compile_c(cc, [os.path.join(SCENARIOS, name + ".c"), support, lib],
                     os.path.join(build, name))


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

def record(args, target, version, traces_root, names, all_names):
    """Runs each scenario that applies to version on its interpreter
    args.repeat times and writes its trace; refuses a scenario whose runs
    differ or do not end cleanly. Returns the names refused."""
    traces = os.path.join(traces_root, version)
    os.makedirs(traces, exist_ok=True)
    counts = {"new": 0, "changed": 0, "rehashed": 0, "unchanged": 0}
    refused = []
    removed = 0
    print("conformance: recording %s into %s" % (target, os.path.relpath(traces, ROOT)))
    for name in names:
        spec, applies = scenario_versions(name)
        if not applies(version):
            if read_trace(traces, name) is not None:
                os.remove(trace_path(traces, name))
                print("removed   %s: not for %s (# versions: %s)" % (name, version, spec))
                removed += 1
            continue
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
        if args.verbose or state != "unchanged":
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
            removed += 1
    notes = ""
    if counts["rehashed"]:
        notes += ", %d rehashed (the script changed, not its trace)" % counts["rehashed"]
    if removed:
        notes += ", %d removed" % removed
    if refused:
        notes += ", %d refused (%s)" % (len(refused), ", ".join(refused))
    print("conformance: recorded with %s into %s: %d new, %d changed, %d unchanged%s"
          % (target, os.path.relpath(traces, ROOT), counts["new"], counts["changed"],
             counts["unchanged"], notes))
    sys.stdout.flush()
    return refused


def record_all(args, versions, explicit_versions, traces_root, names, all_names):
    """--record: every version asked for (all those with traces, and the
    default target, unless --target names some) whose interpreter is here."""
    plans = []
    missing = []
    for version in versions:
        explicit = explicit_python(args, version)
        target, tried = find_target(version, explicit)
        if explicit and target is not None and (target.impl != "cpython"
                                                or target.version != version):
            print("conformance: --target-python %s is %s, not CPython %s: refused; only "
                  "CPython %s may record its traces" % (explicit, target, version,
                                                        version), file=sys.stderr)
            return 2
        if target is None:
            missing.append((version, tried))
        else:
            plans.append((version, target))
    if missing and (explicit_versions or not plans):
        for version, tried in missing:
            print("conformance: the traces of CPython %s are recorded by CPython %s only, and it "
                  "is not installed here. Looked at:%s\n"
                  "  Install it (e.g. `pyenv install %s`) or name it:\n"
                  "  run.py --record --target %s --target-python /path/to/python3"
                  % (version, version, "".join("\n  " + t for t in tried), version, version),
                  file=sys.stderr)
        return 2
    refused = []
    for version, target in plans:
        refused += ["%s on %s" % (name, version)
                    for name in record(args, target, version, traces_root, names, all_names)]
    for version, _ in missing:
        print("conformance: CPython %s is not installed here: traces/%s not recorded"
              % (version, version))
    if refused:
        print("conformance: refused: " + ", ".join(refused))
        return 1
    return 0


# --- Checking ---------------------------------------------------------------

class Outcome:
    """One scenario on one version."""

    def __init__(self, version, status, problems=(), runs=(), reason=None):
        self.version = version
        self.status = status        # ok, known, n/a, FAIL, FIXED
        self.problems = list(problems)
        self.runs = list(runs)
        self.reason = reason
        self.stale = False          # the trace is not the script's any more


def check_one(args, name, version, traces_root, exe, compile_error, known, interpreter):
    """Compares NAME's C program at version with the version's trace (and,
    when interpreter is given, re-runs NAME.py on it)."""
    spec, applies = scenario_versions(name)
    traces = os.path.join(traces_root, version)
    expected = read_trace(traces, name)
    reason = known.get((version, name))
    if not applies(version):
        problems = []
        if expected is not None:
            problems.append("%s has a trace for %s, but the scenario is for %s only "
                            "(# versions: %s): `make record-conformance` removes it"
                            % (name, version, spec, spec))
        if reason is not None:
            problems.append("known-differences.toml lists %s for %s, which it does not "
                            "apply to: remove the entry" % (name, version))
        return Outcome(version, "FAIL" if problems else "n/a", problems)
    label = "CPython %s trace" % version
    runs = [("recorded " + label, expected)]
    if expected is None:
        return Outcome(version, "FAIL",
                       ["no recorded trace %s: record it with `make record-conformance "
                        "CONFORMANCE_TARGET=%s`" % (os.path.relpath(trace_path(traces, name),
                                                                    ROOT), version)], runs)
    c_problems = []
    if exe is None:
        c_problems.append("compile error:\n" + indent(compile_error))
    else:
        c_problems, c = repeat(args.repeat, lambda: run_c(exe, version),
                               lambda res: compare(name, expected, label, res,
                                                   "casyncio at %s" % major_minor(version)))
        runs.append(("casyncio at %s" % major_minor(version), c))
    trace_problems = []
    if expected.script_hash != scenario_hash(name):
        trace_problems.append("%s.py changed since its %s trace was recorded: record it again "
                              "with `make record-conformance CONFORMANCE_TARGET=%s` (needs "
                              "CPython %s)" % (name, version, version, version))
    if interpreter is not None:
        now = "CPython %s now" % version
        py_problems, py = repeat(args.repeat, lambda: run_python(interpreter, name),
                                 lambda res: compare(name, expected, label, res, now))
        runs.append((now, py))
        if py_problems:
            trace_problems.append("the recorded trace is stale: CPython %s no longer gives "
                                  "it; record it again with `make record-conformance "
                                  "CONFORMANCE_TARGET=%s`" % (version, version))
            trace_problems += py_problems
    if trace_problems or exe is None:
        outcome = Outcome(version, "FAIL", c_problems + trace_problems, runs, reason)
        outcome.stale = bool(trace_problems)
        return outcome
    if reason is not None:
        if c_problems:
            return Outcome(version, "known", c_problems, runs, reason)
        return Outcome(version, "FIXED",
                       ["casyncio at %s now gives the trace of CPython %s: remove %s from "
                        "[\"%s\"] in known-differences.toml (`run.py --prune-known` does)"
                        % (major_minor(version), version, name, version)], runs, reason)
    return Outcome(version, "FAIL" if c_problems else "ok", c_problems, runs)


def prune_known(path, fixed):
    """Removes the entries (version, name) in fixed from the file, keeping
    everything else as it is."""
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    out = []
    version = None
    for line in lines:
        m = KNOWN_SECTION_RE.match(line.strip())
        if m:
            version = m.group(1)
        e = KNOWN_ENTRY_RE.match(line.strip())
        if e and (version, e.group(1)) in fixed:
            continue
        out.append(line)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(out)


def list_differences(outcomes):
    """--list-differences: every mismatch, in the file's form, each with the
    first lines of its diff, to write the reasons from."""
    by_version = {}
    for name, outcome in outcomes:
        if outcome.status in ("known", "FAIL") and outcome.runs and len(outcome.runs) > 1:
            by_version.setdefault(outcome.version, []).append((name, outcome))
    for version in sorted(by_version, key=version_key):
        print('["%s"]' % version)
        for name, outcome in by_version[version]:
            reason = outcome.reason or "?"
            print('%s = "%s"' % (name, reason.replace("\\", "\\\\").replace('"', '\\"')))
            for problem in outcome.problems:
                for line in problem.splitlines()[:40]:
                    print("#   " + line)
        print()


def select_versions(spec, versions_with_traces, default_target):
    """--target: a comma-separated list of X.Y.Z (or X.Y, the one with traces),
    or 'all'; default: every version with traces and the default target."""
    everything = sorted(set(versions_with_traces) | {default_target}, key=version_key)
    if not spec or spec == "all":
        return everything
    chosen = []
    for item in spec.split(","):
        item = item.strip()
        if VERSION_DIR_RE.fullmatch(item):
            chosen.append(item)
            continue
        found = [v for v in everything if major_minor(v) == item]
        if not re.fullmatch(r"\d+\.\d+", item) or not found:
            raise SystemExit("conformance: --target %s: expected X.Y.Z, or X.Y of a version "
                             "with traces (%s)" % (item, ", ".join(everything)))
        chosen += found
    return sorted(set(chosen), key=version_key)


def explicit_python(args, version):
    """The interpreter named for version (--target-python or
    $CONFORMANCE_TARGET_PYTHON), or None: search for it."""
    if args.target_python and args.target_python_for == version:
        return args.target_python
    return None


def main(argv=None):
    global TIMEOUT, SCENARIOS
    parser = argparse.ArgumentParser(
        description="Compare casyncio with the recorded traces of CPython's asyncio, "
                    "scenario by scenario and version by version.")
    parser.add_argument("--target", default=None,
                        help="the CPython versions whose traces are the reference, X.Y.Z or "
                             "X.Y, several separated by commas (default: all: every version "
                             "with a directory in traces/, and the default target, "
                             "tests/conformance/TARGET)")
    parser.add_argument("--target-python", metavar="PYTHON",
                        default=None,
                        help="the interpreter of the (one) --target version (default: "
                             "$CONFORMANCE_TARGET_PYTHON, for the default target only when "
                             "several versions are checked; else searched: this interpreter, "
                             "python3 and python3.X on PATH, pyenv, PYENV_VERSION=<version> "
                             "python3, ...); 'none': run no Python")
    parser.add_argument("--recheck", default=None, metavar="VERSIONS",
                        help="the versions whose interpreter, where installed, re-runs the "
                             "scripts to show that their traces are current: X.Y.Z list, "
                             "'all' or 'none' (default: the default target, "
                             "tests/conformance/TARGET, when it is checked)")
    parser.add_argument("--record", action="store_true",
                        help="run each Python scenario on each version's interpreter and write "
                             "its trace (only CPython X.Y.Z records traces/X.Y.Z)")
    parser.add_argument("--no-python", action="store_true",
                        help="compare the C programs with the traces only, run no Python scenario")
    parser.add_argument("--repeat", type=int, default=None,
                        help="run every program this many times, each run must give the trace "
                             "(default: 1; 3 with --record)")
    parser.add_argument("--list-differences", action="store_true",
                        help="print every mismatch, known or not, as known-differences.toml "
                             "entries with the start of their diffs")
    parser.add_argument("--prune-known", action="store_true",
                        help="remove from known-differences.toml the entries that match now")
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
    parser.add_argument("--traces", default=TRACES,
                        help="directory of the traces, one subdirectory per version "
                             "(default: tests/conformance/traces)")
    parser.add_argument("--known", default=KNOWN_FILE,
                        help="the known differences (default: tests/conformance/"
                             "known-differences.toml)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="parallel compilations (runs are always one at a time)")
    args = parser.parse_args(argv)
    TIMEOUT = args.timeout
    SCENARIOS = os.path.abspath(args.scenarios)
    default_target = read_target()
    traces_root = os.path.abspath(args.traces)
    versions = select_versions(args.target, trace_versions(traces_root), default_target)
    explicit_versions = bool(args.target) and args.target != "all"
    if args.repeat is None:
        args.repeat = 3 if args.record else 1
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.target_python and len(versions) != 1 and args.target_python.lower() != "none":
        parser.error("--target-python needs one --target version (it is %s)"
                     % ", ".join(versions))
    if args.target_python is None and os.environ.get("CONFORMANCE_TARGET_PYTHON"):
        # From the environment: the interpreter of the one version checked,
        # or else of the default target.
        args.target_python = os.environ["CONFORMANCE_TARGET_PYTHON"]
        args.target_python_for = versions[0] if len(versions) == 1 else default_target
    else:
        args.target_python_for = versions[0] if len(versions) == 1 else None
    no_python = args.no_python or (args.target_python or "").lower() == "none"

    names, errors, all_names = discover(args.pattern)
    for error in errors:
        print("ERROR  %s" % error)
    if not names and not errors:
        print("conformance: no scenario matches %r" % args.pattern)
        return 1
    for name in names:
        scenario_versions(name)              # a bad `# versions:` ends the run here
        if header_marker(name, XFAIL_RE) is not None:
            print("conformance: %s.py: `# xfail:` is gone: list the difference in "
                  "known-differences.toml, per version" % name, file=sys.stderr)
            return 2

    if args.record:
        if no_python:
            print("conformance: --record runs Python; --no-python and --target-python none "
                  "forbid it", file=sys.stderr)
            return 2
        return record_all(args, versions, explicit_versions, traces_root, names, all_names)

    known = read_known(args.known)
    known_problems = []
    for version, name in sorted(known):
        if name not in all_names:
            known_problems.append("known-differences.toml: [\"%s\"] %s: no such scenario"
                                  % (version, name))
        elif not os.path.isdir(os.path.join(traces_root, version)):
            known_problems.append("known-differences.toml: [\"%s\"]: no traces of that version"
                                  % version)

    # The interpreters that re-check their traces.
    if no_python:
        recheck = []
    elif args.recheck is None:
        recheck = [v for v in versions if v == default_target or explicit_python(args, v)]
    elif args.recheck == "none":
        recheck = []
    else:
        recheck = select_versions(args.recheck, trace_versions(traces_root), default_target)
    interpreters = {}
    not_installed = []
    for version in recheck:
        if version not in versions:
            continue
        explicit = explicit_python(args, version)
        found, _ = find_target(version, explicit)
        if explicit and found is not None and (found.impl != "cpython"
                                               or found.version != version):
            print("conformance: --target-python %s is %s, not CPython %s: refused"
                  % (explicit, found, version), file=sys.stderr)
            return 2
        if explicit and found is None:
            print("conformance: --target-python %s: cannot run it" % explicit,
                  file=sys.stderr)
            return 2
        if found is None:
            not_installed.append(version)
        else:
            interpreters[version] = found

    # This interpreter, when it is another micro version of one checked
    # (Debian's 3.11.2 against 3.11.7): information only.
    others = {}
    me = this_interpreter()
    if not no_python and me.impl == "cpython" and me.version not in versions:
        for version in versions:
            if major_minor(version) == major_minor(me.version) and version not in interpreters:
                others[version] = me

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
    support, support_error = compile_c(args.cc, [SUPPORT], os.path.join(build, "target_version.o"),
                                       link=False)
    if support is None:
        print("conformance: %s does not compile:\n%s" % (SUPPORT, support_error),
              file=sys.stderr)
        return 2

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        builds = dict(zip(names, pool.map(
            lambda n: compile_scenario(args.cc, build, lib, support, n), names)))

    counts = {v: {"ok": 0, "known": 0, "n/a": 0, "FAIL": 0, "FIXED": 0} for v in versions}
    failures = list(e.split(":")[0] for e in errors)
    stale = {v: [] for v in versions}
    differ = {v: [] for v in others}
    outcomes = []
    skipped = 0
    for name in names:
        missing = missing_requirement(name)
        if missing is not None:
            print("SKIP   %s: needs %s, which this machine lacks" % (name, missing))
            skipped += 1
            continue
        exe, compile_error = builds[name]
        start = time.monotonic()
        mine = []
        info = []
        for version in versions:
            outcome = check_one(args, name, version, traces_root, exe, compile_error, known,
                                interpreters.get(version))
            mine.append(outcome)
            outcomes.append((name, outcome))
            counts[version][outcome.status] += 1
            if outcome.stale:
                stale[version].append(name)
            if version in others and outcome.status != "n/a":
                expected = read_trace(os.path.join(traces_root, version), name)
                if expected is not None:
                    py = run_python(others[version], name)
                    diff = compare(name, expected, "CPython %s trace" % version, py,
                                   "CPython %s" % others[version].version)
                    if diff:
                        differ[version].append(name)
                        info += ["for information, %s gives another trace:" % others[version]]
                        info += diff
        elapsed = time.monotonic() - start
        bad = [o for o in mine if o.status in ("FAIL", "FIXED")]
        status = "FAIL" if bad else "ok"
        if bad:
            failures.append(name)
        tags = []
        for word in ("FAIL", "FIXED", "known", "n/a"):
            which = [o.version for o in mine if o.status == word]
            if which:
                tags.append("%s: %s" % (word, " ".join(which)))
        line = "%-5s  %s (%.2fs)" % (status, name, elapsed)
        if tags:
            line += "  [%s]" % "; ".join(tags)
        for version in others:
            if name in differ[version]:
                line += "  [differs on CPython %s]" % others[version].version
        print(line)
        for outcome in mine:
            show = outcome.status in ("FAIL", "FIXED") or (args.verbose and
                                                           outcome.status != "n/a")
            if not show:
                continue
            print("  == %s: %s%s" % (outcome.version, outcome.status,
                                     " (known: %s)" % outcome.reason if outcome.reason else ""))
            if outcome.problems:
                print_problems(outcome.problems, [] if args.verbose else outcome.runs[1:])
            if args.verbose:
                print_runs(outcome.runs)
        if args.verbose:
            print_problems(info, [])
        sys.stdout.flush()

    for version in versions:
        for orphan in orphan_traces(os.path.join(traces_root, version), all_names):
            print("ERROR  %s: a trace of no scenario; `make record-conformance` removes it"
                  % os.path.relpath(trace_path(os.path.join(traces_root, version), orphan),
                                    ROOT))
            failures.append(orphan)
    for problem in known_problems:
        print("ERROR  " + problem)
        failures.append("known-differences.toml")
    fixed = [(o.version, name) for name, o in outcomes if o.status == "FIXED"]

    if args.list_differences:
        list_differences(outcomes)
    if args.prune_known and fixed:
        prune_known(args.known, set(fixed))
        print("conformance: removed from %s: %s" % (os.path.relpath(args.known, ROOT),
                                                    ", ".join("%s on %s" % (n, v)
                                                              for v, n in fixed)))

    total = len(names) + len(errors) - skipped
    print("conformance: %d scenarios%s against the recorded traces of %s (%s), the C programs "
          "run at each version%s:" % (total, " (%d skipped)" % skipped if skipped else "",
                                      "CPython " + ", ".join(versions),
                                      os.path.relpath(traces_root, ROOT),
                                      ", each %d times" % args.repeat if args.repeat > 1 else ""))
    for version in versions:
        c = counts[version]
        applicable = total - c["n/a"]
        parts = ["%d of %d match" % (c["ok"], applicable)]
        if c["known"]:
            parts.append("%d known differences" % c["known"])
        if c["FIXED"]:
            parts.append("%d known differences that match now (FIXED)" % c["FIXED"])
        if c["FAIL"]:
            parts.append("%d failed" % c["FAIL"])
        if c["n/a"]:
            parts.append("%d not for this version" % c["n/a"])
        if version in interpreters:
            parts.append("the traces re-checked on %s: %s" % (
                interpreters[version], "%d stale (%s)" % (len(stale[version]),
                                                          ", ".join(stale[version]))
                if stale[version] else "all current"))
        elif stale[version]:
            parts.append("%d stale (%s)" % (len(stale[version]), ", ".join(stale[version])))
        if version in not_installed:
            parts.append("CPython %s is not installed here, the traces were not re-run"
                         % version)
        print("  %s: %s" % (version, ", ".join(parts)))
    unchecked = [v for v in versions if v not in interpreters and v not in not_installed]
    if unchecked and not no_python:
        print("  not re-run on their interpreters (--recheck all does): %s"
              % ", ".join(unchecked))
    for version, other in others.items():
        names_differ = differ[version]
        print("conformance: for information (not a failure), %s gives another trace than "
              "CPython %s in %d scenarios%s" % (
                  other, version, len(names_differ),
                  ": " + ", ".join(names_differ) if names_differ else ""))
    if failures:
        print("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
