"""The benchmark workloads on CPython's asyncio or on uvloop.

    python3 bench_asyncio.py --loop asyncio|uvloop --workload callbacks|timers [-n N]

Prints one line run.py parses, the same as the C programs print:

    BENCH impl=asyncio workload=callbacks n=1000000 seconds=1.234 ops_per_sec=810372.8

callbacks: a chain of N loop.call_soon() callbacks, each scheduling the next;
    the last stops the loop. Timed from the first call_soon() to
    run_forever() returning.
timers: N loop.call_later() timers, delays uniform in [0, 10 ms) from
    splitmix64 seeded as in bench.h (the very same delays as the C program),
    all scheduled up front; the one that brings the count to N stops the
    loop. Timed from before the first call_later() to run_forever() returning.
"""
import argparse
import asyncio
import sys
import time

SEED = 20240611  # bench.h: BENCH_SEED
MASK64 = (1 << 64) - 1


def delays(n, seed=SEED):
    """n delays in [0, 0.010): splitmix64, bit for bit as bench.h computes."""
    state = seed
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out.append((z >> 11) * 2.0 ** -53 * 0.010)
    return out


def bench_callbacks(loop, n):
    count = 0
    call_soon = loop.call_soon

    def step():
        nonlocal count
        count += 1
        if count >= n:
            loop.stop()
        else:
            call_soon(step)

    t0 = time.perf_counter()
    call_soon(step)
    loop.run_forever()
    t1 = time.perf_counter()
    if count != n:
        sys.exit(f"bench: ran {count} callbacks, expected {n}")
    return t1 - t0


def bench_timers(loop, n):
    ds = delays(n)
    count = 0

    def fire():
        nonlocal count
        count += 1
        if count == n:
            loop.stop()

    call_later = loop.call_later
    t0 = time.perf_counter()
    for d in ds:
        call_later(d, fire)
    loop.run_forever()
    t1 = time.perf_counter()
    if count != n:
        sys.exit(f"bench: fired {count} timers, expected {n}")
    return t1 - t0


WORKLOADS = {
    "callbacks": (bench_callbacks, 1_000_000),
    "timers": (bench_timers, 100_000),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    parser.add_argument("-n", type=int, default=None,
                        help="operations (default: 1000000 callbacks, 100000 timers)")
    args = parser.parse_args()
    func, default_n = WORKLOADS[args.workload]
    n = max(1, args.n if args.n is not None else default_n)

    if args.loop == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        seconds = func(loop, n)
    finally:
        loop.close()
    print(f"BENCH impl={args.loop} workload={args.workload} n={n} "
          f"seconds={seconds:.9f} ops_per_sec={n / seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()
