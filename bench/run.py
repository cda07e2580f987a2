#!/usr/bin/env python3
"""Runs the benchmarks: casyncio (C), CPython's asyncio and uvloop, side by side.

    python3 run.py [--runs 5] [--workload callbacks|timers|tasks|await|switch|idle|idle-shared|queue|lock|executor|udp|spawn
                                          |churn|churn-shared|gather|dns-hosts|dns-server ...]
                   [--bindir build] [--python PATH] [--cpu N|auto|none]
                   [--workload echo] [--echo-args '...']

The echo benchmark (a server and a load client, see echo.py) runs last,
as its own table: `--workload echo` alone runs only it, and --echo-args
passes options on to echo.py.

Builds nothing: bench/Makefile builds the C programs (`make -C bench run`
builds them and calls this). Each workload runs --runs times for every
implementation, interleaved (casyncio, asyncio, uvloop, casyncio, ...) so
that drift in the machine's speed affects all alike. The table gives the
median, min and max of each workload's figure (a rate, a time per
operation or a size) and casyncio's advantage: how many times better its
median is than the other's (faster, or smaller; under 1x it is worse).

The Python implementations run under one interpreter that can import
uvloop: /usr/bin/python3 when it can, else `python3`; without uvloop
anywhere, uvloop is skipped with a note. --python overrides the choice.
Every run is pinned to one CPU (--cpu), since the vCPUs of a shared machine
need not be equally fast.
"""
import argparse
import collections
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
IMPLS = ["casyncio", "asyncio", "uvloop"]

# What each workload reports: `field`, the BENCH field that is its figure, in
# `unit`; `higher` when more is better (a rate); `what` for the summary;
# `aim` the project's target for casyncio; `impls` who runs it; `extra`, a
# further field the summary shows.
Workload = collections.namedtuple(
    "Workload", "field unit higher what aim impls extra",
    defaults=("", None, tuple(IMPLS), None))
WORKLOADS = {
    "callbacks": Workload("ops_per_sec", "ops/s", True, aim=">= 30 M ops/s"),
    "timers": Workload("ops_per_sec", "ops/s", True, aim=">= 5 M ops/s"),
    "tasks": Workload("ops_per_sec", "tasks/s", True, what="created and completed"),
    "await": Workload("ns_per_op", "ns", False, what="per sleep(0) round trip",
                      aim="< 150 ns"),
    "switch": Workload("ns_per_op", "ns", False, what="per one-way stack switch",
                       aim="<= 10 ns", impls=("casyncio",)),
    "idle": Workload("rss_mib", "MiB", False, what="resident for 100000 suspended tasks",
                     aim="< 200 MiB", extra=("bytes_per_task", "bytes per task")),
    "idle-shared": Workload("rss_mib", "MiB", False,
                            what="resident for 100000 suspended tasks on the shared stack",
                            aim="< 200 MiB", impls=("casyncio",),
                            extra=("bytes_per_task", "bytes per task")),
    "churn": Workload("seconds", "s", False,
                      what="for 100000 tasks each sleeping a random 0-50 ms, created up front",
                      extra=("peak_mib", "MiB peak RSS")),
    "churn-shared": Workload("seconds", "s", False,
                             what="for the same on the shared stack", impls=("casyncio",),
                             extra=("peak_mib", "MiB peak RSS")),
    "gather": Workload("seconds", "s", False,
                       what="for gather() of 200000 pending futures, a quarter of them repeats"),
    "queue": Workload("ops_per_sec", "items/s", True,
                      what="through a Queue ping-pong between two tasks"),
    "lock": Workload("ops_per_sec", "acquisitions/s", True,
                     what="of a Lock contended by 100 tasks, each holding it over a sleep(0)"),
    "executor": Workload("ops_per_sec", "round trips/s", True,
                         what="of run_in_executor(None, fn) awaited one after another"),
    "udp": Workload("ops_per_sec", "datagrams/s", True,
                    what="echoed over 127.0.0.1 (64 bytes, 32 in flight, server and client "
                         "on one loop)"),
    "spawn": Workload("ops_per_sec", "spawns/s", True,
                      what="of subprocess_exec('/bin/true') awaited to connection_lost(), "
                           "no pipes (DEVNULL), one after another"),
    "dns-hosts": Workload("ops_per_sec", "lookups/s", True,
                          what="of 'localhost' from /etc/hosts, 100 in flight"),
    "dns-server": Workload("ops_per_sec", "lookups/s", True,
                           what="of names on a loopback DNS server (A and AAAA "
                                "over UDP), 100 in flight",
                           impls=("casyncio",)),
}
# dns-server: runs whose BENCH line has retries > 0 lost datagrams, and their
# time includes c-ares's timeouts; the summary says so.
TIMEOUT = 300  # seconds, per run


def probe(python, code):
    """Output of `python -c code`, or None when it fails."""
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True,
                             timeout=60, env=clean_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def clean_env():
    """The environment for every run: no asyncio debug mode anywhere (the C
    library reads the same variables as asyncio)."""
    env = dict(os.environ)
    for name in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE"):
        env.pop(name, None)
    return env


def choose_python(override):
    """(interpreter, its version, uvloop's version or None, notes)."""
    notes = []
    version_code = "import platform; print(platform.python_version())"
    uvloop_code = "import uvloop; print(uvloop.__version__)"
    candidates = [override] if override else ["/usr/bin/python3", shutil.which("python3")]
    usable = []
    for python in candidates:
        if not python or python in [u[0] for u in usable]:
            continue
        version = probe(python, version_code)
        if version is None:
            notes.append(f"{python}: does not run")
            continue
        uv = probe(python, uvloop_code)
        if uv is not None:
            return python, version, uv, notes
        notes.append(f"{python} (Python {version}) cannot import uvloop")
        usable.append((python, version))
    if not usable:
        sys.exit("run.py: no Python interpreter found for asyncio: " + "; ".join(notes))
    python, version = usable[0]
    notes.append("uvloop is skipped: no interpreter here imports it")
    return python, version, None, notes


def choose_cpu(spec):
    """The CPU to pin every run to, or None. The vCPUs of a shared machine
    can differ in speed by tens of percent (an SMT sibling busy with another
    guest), so runs that the scheduler places on different ones are not
    comparable; pinning them all to one is."""
    if spec == "none" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if spec == "auto":
        return min(allowed)
    try:
        cpu = int(spec)
    except ValueError:
        sys.exit(f"run.py: --cpu takes a number, 'auto' or 'none', not {spec!r}")
    if cpu not in allowed:
        sys.exit(f"run.py: CPU {cpu} is not one this process may use: {sorted(allowed)}")
    return cpu


def command(impl, workload, bindir, python):
    if impl == "casyncio":
        return [os.path.join(bindir, workload)]
    return [python, os.path.join(HERE, "bench_asyncio.py"), "--loop", impl,
            "--workload", workload]


def run_one(cmd, cpu):
    """The fields of one run's BENCH line, numbers as floats; pinned to
    `cpu` unless None."""
    pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                              env=clean_env(), preexec_fn=pin)
    except subprocess.TimeoutExpired:
        sys.exit(f"run.py: timed out after {TIMEOUT} s: {' '.join(cmd)}")
    except OSError as exc:
        sys.exit(f"run.py: cannot run {cmd[0]}: {exc} (build it with `make -C bench`)")
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            if proc.returncode == 0:
                return {k: float(v) for k, v in fields.items() if k not in ("impl", "workload")}
    sys.exit(f"run.py: {' '.join(cmd)} failed (exit {proc.returncode}):\n"
             f"{proc.stdout}{proc.stderr}")


def load():
    """The load averages, which tell how noisy the figures may be."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def fmt_ops(x):
    """A rate's number and prefix: '44.46 M', '29 k', '3.3 k', '96.0 ' (spawn)."""
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e4:
        return f"{x / 1e3:.0f} k"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.1f} "


def fmt_value(x, spec):
    """A figure with its unit: 44.46 M ops/s, 123.4 ns, 82.40 MiB."""
    if spec.higher:
        return f"{fmt_ops(x)}{spec.unit}" if spec.unit == "ops/s" else f"{fmt_ops(x).rstrip()} {spec.unit}"
    if spec.unit == "MiB":
        return f"{x:.2f} MiB"
    if spec.unit == "s":
        return f"{x:.3f} s"
    return f"{x:.1f} {spec.unit}"


def advantage(spec, casyncio, other):
    """How many times better casyncio's figure is than `other`."""
    return casyncio / other if spec.higher else other / casyncio


def fmt_ratio(x):
    return f"{x:.2f}x" if x < 1 else f"{x:.1f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per implementation (5)")
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS) + ["echo"],
                        help="a workload to run (repeatable; default: all); echo is the "
                             "echo benchmark, which echo.py runs after the others")
    parser.add_argument("--echo-args", default="",
                        help="options for echo.py, in one string ('--runs 1 --duration 2')")
    parser.add_argument("--bindir", default=os.path.join(HERE, "build"),
                        help="where bench/Makefile put the C programs")
    parser.add_argument("--python", help="the interpreter for asyncio and uvloop")
    parser.add_argument("--cpu", default="auto",
                        help="the CPU every run is pinned to: a number, 'auto' (the "
                             "lowest this process may use) or 'none' (no pinning)")
    args = parser.parse_args()
    workloads = args.workload or list(WORKLOADS) + ["echo"]
    runs = max(1, args.runs)
    bindir = os.path.abspath(args.bindir)
    echo = "echo" in workloads
    workloads = [w for w in workloads if w != "echo"]
    if workloads:
        run_workloads(args, workloads, runs, bindir)
    if echo:
        if workloads:
            print(flush=True)
        cmd = [sys.executable, os.path.join(HERE, "echo.py"), "--bindir", bindir]
        if args.python:
            cmd += ["--python", args.python]
        sys.exit(subprocess.run(cmd + shlex.split(args.echo_args)).returncode)


def run_workloads(args, workloads, runs, bindir):

    cpu = choose_cpu(args.cpu)
    python, py_version, uv_version, notes = choose_python(args.python)
    impls = [i for i in IMPLS if i != "uvloop" or uv_version is not None]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}")
    print(f"python:  {python} (CPython {py_version}), "
          f"uvloop {uv_version if uv_version else 'not available'}")
    for note in notes:
        print(f"note:    {note}")
    print(f"cpu:     " + ("not pinned" if cpu is None else f"every run pinned to CPU {cpu}"))
    print(f"load:    {load()} (1, 5, 15 min) before the runs")
    print(f"runs:    {runs} per implementation and workload, interleaved; "
          f"median, min and max of each\n", flush=True)

    def impls_of(workload):
        return [i for i in impls if i in WORKLOADS[workload].impls]

    results = {(w, i): [] for w in workloads for i in impls_of(w)}
    started = time.monotonic()
    for r in range(runs):
        for workload in workloads:
            for impl in impls_of(workload):
                fields = run_one(command(impl, workload, bindir, python), cpu)
                results[(workload, impl)].append(fields)
        print(f"  run {r + 1}/{runs} done ({time.monotonic() - started:.0f} s)",
              file=sys.stderr, flush=True)

    def figures(workload, impl, field=None):
        return [f[field or WORKLOADS[workload].field] for f in results[(workload, impl)]]

    def median(workload, impl, field=None):
        return statistics.median(figures(workload, impl, field))

    # Columns as wide as the widest figure (13 but for long units).
    width = max([13] + [len(fmt_value(v, WORKLOADS[w]))
                        for (w, i) in results for v in figures(w, i)])
    name_width = max([11] + [len(w) for w in workloads])
    header = f"{'workload':<{name_width}} {'implementation':<15} {'median':>{width}} " \
             f"{'min':>{width}} {'max':>{width}}  {'advantage':>9}"
    print(header)
    print("-" * len(header))
    for workload in workloads:
        spec = WORKLOADS[workload]
        ours = median(workload, "casyncio")
        for impl in impls_of(workload):
            values = figures(workload, impl)
            mid = median(workload, impl)
            ratio = "" if impl == "casyncio" else fmt_ratio(advantage(spec, ours, mid))
            print(f"{workload:<{name_width}} {impl:<15} {fmt_value(mid, spec):>{width}} "
                  f"{fmt_value(min(values), spec):>{width}} {fmt_value(max(values), spec):>{width}}  "
                  f"{ratio:>9}".rstrip())
    print("\nadvantage: how many times better casyncio's median is (faster, or "
          "smaller); under 1x, worse\n")
    for workload in workloads:
        spec = WORKLOADS[workload]

        def describe(impl):
            text = fmt_value(median(workload, impl), spec)
            if spec.extra:
                text += f", {median(workload, impl, spec.extra[0]):.0f} {spec.extra[1]}"
            return text

        line = f"{workload}: casyncio {fmt_value(median(workload, 'casyncio'), spec)}"
        if spec.what:
            line += f" {spec.what}"
        if spec.extra:
            line += f", {median(workload, 'casyncio', spec.extra[0]):.0f} {spec.extra[1]}"
        if spec.aim:
            line += f" (aim {spec.aim})"
        ours = median(workload, "casyncio")
        others = [i for i in impls_of(workload) if i != "casyncio"]
        if spec.extra:
            line += "".join(f"; {i} {describe(i)}" for i in others)
        # The ratio that is casyncio's advantage: casyncio/other for a rate,
        # other/casyncio for a time or a size.
        parts = [(f"casyncio/{i}" if spec.higher else f"{i}/casyncio") + " " +
                 fmt_ratio(advantage(spec, ours, median(workload, i))) for i in others]
        if parts:
            line += "; " + ", ".join(parts)
        print(line)
        for impl in impls_of(workload):
            retried = [f["retries"] for f in results[(workload, impl)] if f.get("retries", 0) > 0]
            if retried:
                print(f"  note: {len(retried)} of {len(results[(workload, impl)])} {impl} runs "
                      f"lost datagrams ({sum(retried):.0f} c-ares retries); their time includes "
                      f"the retry timeouts (see max)")
    print(f"\ntotal {time.monotonic() - started:.0f} s; load {load()} after the runs")


if __name__ == "__main__":
    main()
