#!/usr/bin/env python3
"""Runs the echo benchmark: echo servers side by side under one load client.

    python3 echo.py [--runs 3] [--duration 0.5] [--warmup 0.2]
                    [--sizes 1024,10240,102400] [--conns 1,50]
                    [--server NAME ...] [--bindir build] [--python PATH]
                    [--server-cpu N] [--client-cpu N]

Builds nothing: bench/Makefile builds echo_client, echo_raw_libev,
echo_casyncio and echo_casyncio_streams (`make -C bench run` builds them
and calls this after run.py; `make -C bench echo` calls only this).

Every server is started once, pinned to --server-cpu, and the load client
(echo_client, plain epoll) pinned to --client-cpu runs each point (message
size x connections) against each server in turn, interleaved, --runs
times. For each point and server the table gives the median requests/s,
p99 latency, and the server's CPU time per request: user + system time from
/proc/PID/stat over the client's counting window (clock ticks), and the
same from /proc/PID/schedstat (nanoseconds; the main thread, which is the
whole server for all of these), each with its excess over raw libev's.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (the main harness: interpreter choice, environment, load)

# name -> how to start it: ("c", program, args) or ("py", args, needs_uvloop),
# or None for a slot still empty (with why).
SERVERS = [
    ("raw-libev", ("c", "echo_raw_libev", [])),
    # --accept server: create_server(), as the Python servers do; the
    # program's accept4() fallback is for builds without create_server().
    ("casyncio-protocol", ("c", "echo_casyncio", ["--accept", "server"])),
    ("casyncio-streams", ("c", "echo_casyncio_streams", [])),
    ("asyncio-protocol", ("py", ["--style", "protocol"], False)),
    ("asyncio-streams", ("py", ["--style", "streams"], False)),
    ("uvloop-protocol", ("py", ["--style", "protocol", "--uvloop"], True)),
    ("uvloop-streams", ("py", ["--style", "streams", "--uvloop"], True)),
]
# Names of slots that are None above, with why (none at present).
EMPTY_SLOTS = {}
FLOOR = "raw-libev"
RETRIES = []  # points run again after a client failure


def choose_cpus(server_cpu, client_cpu):
    allowed = sorted(os.sched_getaffinity(0))
    server = allowed[0] if server_cpu is None else server_cpu
    others = [c for c in allowed if c != server]
    client = (others[0] if others else None) if client_cpu is None else client_cpu
    return server, client


class Server:
    def __init__(self, name, cmd):
        self.name = name
        # stderr to a file: a pipe nobody reads could fill and stop the server.
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err,
                                     text=True, env=run.clean_env())
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.proc.kill()
            self.proc.wait()
            self.err.seek(0)
            err = self.err.read()
            sys.exit(f"echo.py: {name} did not start: {' '.join(cmd)}\n{line}{err}")
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        self.port = int(fields["port"])
        self.note = fields.get("accept")

    def stop(self):
        """Ends the server; what it wrote to stderr, if anything."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.seek(0)
        return self.err.read().strip()


def client(bindir, server, size, conns, args, client_cpu):
    cmd = [os.path.join(bindir, "echo_client"), "--port", str(server.port),
           "--conns", str(conns), "--size", str(size), "--duration", str(args.duration),
           "--warmup", str(args.warmup), "--server-pid", str(server.proc.pid)]
    if client_cpu is not None:
        cmd += ["--cpu", str(client_cpu)]
    # A busy machine can stall a server for over a second (the client's
    # "no progress for a second"): such a point is run again, twice at most.
    for attempt in range(3):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env=run.clean_env())
        for line in proc.stdout.splitlines():
            if line.startswith("BENCH ") and proc.returncode == 0:
                fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                return {k: float(v) for k, v in fields.items()
                        if k not in ("impl", "workload", "label")}
        if server.proc.poll() is not None:
            break
        RETRIES.append(f"{server.name} {fmt_size(size)} x{conns}: {proc.stderr.strip()}")
        print(f"  retrying {server.name} at {fmt_size(size)} x{conns}: {proc.stderr.strip()}",
              file=sys.stderr, flush=True)
    sys.exit(f"echo.py: the client failed against {server.name} (exit {proc.returncode}):\n"
             f"{proc.stdout}{proc.stderr}")


def fmt_size(n):
    if n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    return f"{n >> 10} KiB" if n % 1024 == 0 else f"{n} B"


def fmt_busy(server, client):
    return f"{server * 100:.0f}%/{client * 100:.0f}%" if None not in (server, client) else ""


def fmt_excess(x, floor):
    if floor is None or floor <= 0 or x is None:
        return ""
    return f"{(x / floor - 1) * 100:+.0f}%"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per point and server (3)")
    parser.add_argument("--duration", type=float, default=0.5,
                        help="seconds the client counts, per run (0.5)")
    parser.add_argument("--warmup", type=float, default=0.2,
                        help="seconds before it counts (0.2)")
    parser.add_argument("--sizes", default="1024,10240,102400", help="message sizes, bytes")
    parser.add_argument("--conns", default="1,50", help="connection counts")
    parser.add_argument("--server", action="append", choices=[s[0] for s in SERVERS],
                        help="a server to run (repeatable; default: all; raw-libev always)")
    parser.add_argument("--bindir", default=os.path.join(HERE, "build"))
    parser.add_argument("--python", help="the interpreter for asyncio and uvloop")
    parser.add_argument("--server-cpu", type=int, help="CPU of the servers (lowest allowed)")
    parser.add_argument("--client-cpu", type=int, help="CPU of the client (another one)")
    args = parser.parse_args()
    bindir = os.path.abspath(args.bindir)
    sizes = [int(s) for s in args.sizes.split(",")]
    conn_counts = [int(c) for c in args.conns.split(",")]
    wanted = set(args.server or [s[0] for s in SERVERS]) | {FLOOR}

    python, py_version, uv_version, notes = run.choose_python(args.python)
    server_cpu, client_cpu = choose_cpus(args.server_cpu, args.client_cpu)
    print(f"echo:    servers pinned to CPU {server_cpu}, the client to "
          + (f"CPU {client_cpu}" if client_cpu is not None else "any CPU (only one allowed)"))
    print(f"python:  {python} (CPython {py_version}), "
          f"uvloop {uv_version if uv_version else 'not available'}")
    for note in notes:
        print(f"note:    {note}")
    print(f"load:    {run.load()} (1, 5, 15 min) before the runs")
    print(f"runs:    {args.runs} per point and server, interleaved, {args.duration} s counted "
          f"after {args.warmup} s of warm-up; median of each\n", flush=True)

    servers, absent = [], {}
    for name, how in SERVERS:
        if name not in wanted:
            continue
        if how is None:
            absent[name] = EMPTY_SLOTS[name]
            continue
        if how[0] == "c":
            cmd = [os.path.join(bindir, how[1]), "--cpu", str(server_cpu)] + how[2]
        else:
            if how[2] and uv_version is None:
                absent[name] = "no interpreter here imports uvloop"
                continue
            cmd = [python, os.path.join(HERE, "echo_asyncio.py"), "--cpu", str(server_cpu)] \
                + how[1]
        servers.append(Server(name, cmd))

    started = time.monotonic()
    results = {}
    try:
        for r in range(args.runs):
            for size in sizes:
                for conns in conn_counts:
                    for s in servers:
                        fields = client(bindir, s, size, conns, args, client_cpu)
                        results.setdefault((size, conns, s.name), []).append(fields)
            print(f"  run {r + 1}/{args.runs} done ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
    finally:
        stderr_notes = [(s.name, s.stop()) for s in servers]

    def med(key, field):
        values = [f[field] for f in results[key] if field in f]
        return statistics.median(values) if values else None

    width = max(len(n) for n, _ in SERVERS)
    header = (f"{'size':>7} {'conns':>5}  {'server':<{width}} {'req/s':>9} {'p99 µs':>9} "
              f"{'srv/cli busy':>12} "
              f"{'CPU µs/req':>10} {'excess':>7} {'sched µs/req':>12} {'excess':>7}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        for conns in conn_counts:
            floor_cpu = med((size, conns, FLOOR), "server_us_per_req")
            floor_sched = med((size, conns, FLOOR), "server_sched_us_per_req")
            for name, _ in SERVERS:
                if name not in wanted:
                    continue
                key = (size, conns, name)
                if key not in results:
                    print(f"{fmt_size(size):>7} {conns:>5}  {name:<{width}} (absent)")
                    continue
                cpu = med(key, "server_us_per_req")
                sched = med(key, "server_sched_us_per_req")
                print(f"{fmt_size(size):>7} {conns:>5}  {name:<{width}} "
                      f"{med(key, 'rps'):>9.0f} {med(key, 'p99_us'):>9.0f} "
                      f"{fmt_busy(med(key, 'server_busy'), med(key, 'client_busy')):>12} "
                      f"{cpu:>10.2f} {fmt_excess(cpu, floor_cpu) if name != FLOOR else '':>7} "
                      f"{sched:>12.2f} {fmt_excess(sched, floor_sched) if name != FLOOR else '':>7}")
    print("\nsrv/cli busy: the share of the counted window the server and the client spent "
          "on a CPU (100%: saturated);")
    print("CPU µs/req: the server's user + system time (/proc/PID/stat, in clock ticks) "
          "over the counted window, per request;\nsched µs/req: its run time from "
          "/proc/PID/schedstat (ns); excess: over raw libev's at the same point")
    accepts = {"server": "loop.create_server()",
               "start_server": "asyncio.start_server() (loop.create_server() underneath)",
               "manual": "add_reader() + accept4() + connect_accepted_socket()"}
    for s in servers:
        if s.note:
            print(f"{s.name}: accepts with {accepts.get(s.note, s.note)}")
    for name, why in absent.items():
        print(f"{name}: absent: {why}")
    for name, err in stderr_notes:
        if err:
            print(f"{name}: wrote to stderr: {err.splitlines()[0]}"
                  + (f" (and {len(err.splitlines()) - 1} more lines)" if "\n" in err else ""))
    if RETRIES:
        print(f"run again after the client failed: {len(RETRIES)} point(s) "
              f"({'; '.join(RETRIES[:3])}{'; ...' if len(RETRIES) > 3 else ''})")
    print(f"\ntotal {time.monotonic() - started:.0f} s; load {run.load()} after the runs")


if __name__ == "__main__":
    main()
