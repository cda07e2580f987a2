"""The benchmark workloads on CPython's asyncio or on uvloop.

    python3 bench_asyncio.py --loop asyncio|uvloop
                             --workload callbacks|timers|tasks|await|idle|churn|gather|queue|lock
                                        |executor|udp|spawn|dns-hosts
                             [-n N]
                             [--concurrency C] [--window W]

Prints one line run.py parses, the same as the C programs print:

    BENCH impl=asyncio workload=callbacks n=1000000 seconds=1.234 ops_per_sec=810372.8

callbacks: a chain of N loop.call_soon() callbacks, each scheduling the next;
    the last stops the loop. Timed from the first call_soon() to
    run_forever() returning.
timers: N loop.call_later() timers, delays uniform in [0, 10 ms) from
    splitmix64 seeded as in bench.h (the very same delays as the C program),
    all scheduled up front; the one that brings the count to N stops the
    loop. Timed from before the first call_later() to run_forever() returning.
tasks: N loop.create_task() of a coroutine that returns at once, all created
    up front; run_until_complete() of the last (FIFO: the last to finish).
    Timed from before the first create_task() to run_until_complete()
    returning.
await: one task doing `await asyncio.sleep(0)` N times, timed inside the
    task; also prints ns_per_op, the time of one round trip through the loop.
idle: N tasks each suspended in `await fut` on one shared pending future;
    prints rss_mib and bytes_per_task, the growth of VmRSS
    (/proc/self/status) from before the first create_task() to when all of
    them wait; then completes the future and waits for every task to finish.
    Its seconds are those of creating and suspending the N tasks.
churn: N tasks each doing `await asyncio.sleep(d)`, d uniform in [0, 50 ms)
    from splitmix64 seeded as in bench.h (the very same delays as churn.c),
    all created up front; the last to finish stops the loop. Timed from
    before the first create_task() to run_forever() returning; also prints
    peak_mib, the process's peak resident memory (VmHWM), and base_mib, its
    VmRSS before the first create_task().
gather: asyncio.gather(*futs) over N pending futures, every fourth argument
    one given before (futs[i // 2]); timed around the gather() call alone.
    Then every future gets its result and the loop runs until the outer
    future is done (printed as complete_seconds) and the results are checked.
dns-hosts: N loop.getaddrinfo("localhost", "80") lookups, C (100) in flight:
    after one untimed lookup, C worker tasks each await lookups w, w + C,
    w + 2C, ... < N one after the other and check the first address is
    127.0.0.1; timed from before the first worker is created to their
    gather() returning. Both loops hand each lookup to the system's
    getaddrinfo() in a thread (asyncio: the default ThreadPoolExecutor;
    uvloop: libuv's thread pool), which finds the name in /etc/hosts; as
    dns.c (dns-hosts) does on casyncio with c-ares on the loop.
udp: UDP echo over 127.0.0.1: a DatagramProtocol echo server endpoint and a
    client endpoint connected to it on the same loop; the client keeps W (32,
    --window) datagrams of 64 bytes in flight, sending the next on each
    reply, until N replies; timed from the first sendto() to the last reply
    (as udp.c).
spawn: N loop.subprocess_exec() of /bin/true in sequence, stdin, stdout and
    stderr subprocess.DEVNULL (no pipes), each awaited to its protocol's
    connection_lost() (after process_exited()) and its transport closed
    (as spawn.c).
"""
import argparse
import asyncio
import subprocess
import sys
import time

SEED = 20240611  # bench.h: BENCH_SEED
MASK64 = (1 << 64) - 1


def delays(n, seed=SEED, scale=0.010):
    """n delays in [0, scale): splitmix64, bit for bit as bench.h computes."""
    state = seed
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out.append((z >> 11) * 2.0 ** -53 * scale)
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


def bench_tasks(loop, n):
    count = 0

    async def noop():
        nonlocal count
        count += 1

    create_task = loop.create_task
    t0 = time.perf_counter()
    for _ in range(n - 1):
        create_task(noop())
    last = create_task(noop())
    loop.run_until_complete(last)
    t1 = time.perf_counter()
    if count != n:
        sys.exit(f"bench: {count} tasks ran, expected {n}")
    return t1 - t0


def bench_await(loop, n):
    done = 0

    async def sleeper():
        nonlocal done
        sleep = asyncio.sleep
        t0 = time.perf_counter()
        for _ in range(n):
            await sleep(0)
            done += 1
        return time.perf_counter() - t0

    seconds = loop.run_until_complete(sleeper())
    if done != n:
        sys.exit(f"bench: {done} round trips, expected {n}")
    return seconds, {"ns_per_op": f"{seconds * 1e9 / n:.3f}"}


def status_kib(field):
    """A field of /proc/self/status ("VmRSS:", "VmHWM:") in KiB, as the C
    programs read it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    sys.exit(f"bench: cannot read {field} from /proc/self/status")


def vmrss_kib():
    """VmRSS of this process in KiB, as idle.c reads it."""
    return status_kib("VmRSS:")


def bench_idle(loop, n):
    fut = loop.create_future()
    waiting = finished = 0

    async def waiter():
        nonlocal waiting, finished
        waiting += 1
        await fut
        finished += 1

    async def main():
        before = vmrss_kib()
        create_task = loop.create_task
        t0 = time.perf_counter()
        for _ in range(n):
            create_task(waiter())
        await asyncio.sleep(0)  # FIFO: every task has reached its await
        seconds = time.perf_counter() - t0
        after = vmrss_kib()
        fut.set_result(None)
        for _ in range(100):
            if finished == n:
                break
            await asyncio.sleep(0)
        return seconds, (after - before) * 1024

    seconds, grown = loop.run_until_complete(main())
    if waiting != n or finished != n:
        sys.exit(f"bench: {waiting} tasks waited, {finished} finished; expected {n}")
    return seconds, {"rss_mib": f"{grown / 2 ** 20:.2f}", "bytes_per_task": f"{grown / n:.1f}"}


def bench_churn(loop, n):
    ds = delays(n, scale=0.050)
    finished = 0

    async def sleeper(delay):
        nonlocal finished
        await asyncio.sleep(delay)
        finished += 1
        if finished == n:
            loop.stop()

    base = status_kib("VmRSS:")
    create_task = loop.create_task
    t0 = time.perf_counter()
    for d in ds:
        create_task(sleeper(d))
    loop.run_forever()
    t1 = time.perf_counter()
    peak = status_kib("VmHWM:")
    if finished != n:
        sys.exit(f"bench: {finished} tasks finished, expected {n}")
    return t1 - t0, {"peak_mib": f"{peak / 1024:.2f}", "base_mib": f"{base / 1024:.2f}"}


def bench_gather(loop, n):
    futs = []
    for i in range(n):
        futs.append(futs[i // 2] if i % 4 == 3 else loop.create_future())
    t0 = time.perf_counter()
    outer = asyncio.gather(*futs)
    t1 = time.perf_counter()
    for i, fut in enumerate(futs):
        if i % 4 != 3:
            fut.set_result(i + 1)
    results = loop.run_until_complete(outer)
    t2 = time.perf_counter()
    for i, result in enumerate(results):
        first = i
        while first % 4 == 3:
            first //= 2
        if result != first + 1:
            sys.exit(f"bench: result {i} is {result}, expected {first + 1}")
    return t1 - t0, {"complete_seconds": f"{t2 - t1:.9f}"}


def bench_dns_hosts(loop, n, concurrency=100):
    host, port, expected = "localhost", "80", "127.0.0.1"
    answered = 0
    entries = 0

    async def lookup():
        nonlocal entries
        infos = await loop.getaddrinfo(host, port)
        if not infos or infos[0][4][0] != expected:
            sys.exit(f"bench: getaddrinfo({host!r}) gave {infos!r}; expected {expected} first")
        entries = len(infos)

    async def worker(first):
        nonlocal answered
        for _ in range(first, n, concurrency):
            await lookup()
            answered += 1

    async def main():
        await lookup()  # untimed: checks the answer (and starts a pool thread)
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(w) for w in range(min(concurrency, n))])
        return time.perf_counter() - t0

    seconds = loop.run_until_complete(main())
    if answered != n:
        sys.exit(f"bench: {answered} lookups answered, expected {n}")
    return seconds, {"concurrency": concurrency, "entries": entries}


def bench_queue(loop, n):
    there, back = asyncio.Queue(), asyncio.Queue()
    round_trips = max(1, n // 2)

    async def pong():
        for _ in range(round_trips):
            await back.put(await there.get())

    async def ping():
        other = asyncio.create_task(pong())
        t0 = time.perf_counter()
        for i in range(round_trips):
            await there.put(i)
            if await back.get() != i:
                sys.exit("bench: queue ping-pong out of order")
        seconds = time.perf_counter() - t0
        await other
        return seconds

    return loop.run_until_complete(ping()) * n / (2 * round_trips)


def bench_lock(loop, n, tasks=100):
    lock = asyncio.Lock()
    each = max(1, n // tasks)
    total = 0

    async def contender():
        nonlocal total
        for _ in range(each):
            async with lock:
                await asyncio.sleep(0)
            total += 1

    async def main():
        t0 = time.perf_counter()
        await asyncio.gather(*(contender() for _ in range(tasks)))
        return time.perf_counter() - t0

    seconds = loop.run_until_complete(main())
    if total != each * tasks:
        sys.exit(f"bench: {total} acquisitions, expected {each * tasks}")
    return seconds * n / total


def bench_executor(loop, n):
    def work(x):
        return x

    async def main():
        await loop.run_in_executor(None, work, 0)  # the first thread, before the clock
        t0 = time.perf_counter()
        for i in range(n):
            await loop.run_in_executor(None, work, i)
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


UDP_SIZE = 64    # udp.c: UDP_SIZE
UDP_LIMIT = 60.0  # udp.c: UDP_LIMIT, seconds


def bench_udp(loop, n, window=32):
    class Server(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data, addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self):
            self.sent = self.received = 0
            self.done = loop.create_future()
            self.payload = b"x" * UDP_SIZE

        def connection_made(self, transport):
            self.transport = transport

        def send(self):
            self.sent += 1
            self.transport.sendto(self.payload)

        def datagram_received(self, data, addr):
            if len(data) != UDP_SIZE or self.done.done():
                return
            self.received += 1
            if self.sent < n:
                self.send()
            elif self.received == n:
                self.done.set_result(None)

    async def main():
        st, _ = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
        port = st.get_extra_info("sockname")[1]
        ct, client = await loop.create_datagram_endpoint(Client,
                                                         remote_addr=("127.0.0.1", port))
        t0 = time.perf_counter()
        for _ in range(min(window, n)):
            client.send()
        try:
            await asyncio.wait_for(client.done, UDP_LIMIT)
        except asyncio.TimeoutError:
            raise SystemExit(f"udp: {client.received} of {n} replies within {UDP_LIMIT:.0f} s")
        seconds = time.perf_counter() - t0
        ct.close()
        st.close()
        return seconds

    return loop.run_until_complete(main())


def bench_spawn(loop, n):
    class Child(asyncio.SubprocessProtocol):
        def __init__(self):
            self.exited = 0
            self.done = loop.create_future()

        def process_exited(self):
            self.exited += 1

        def connection_lost(self, exc):
            if exc is not None:
                self.done.set_exception(exc)
            else:
                self.done.set_result(None)

    async def main():
        t0 = time.perf_counter()
        for _ in range(n):
            transport, child = await loop.subprocess_exec(
                Child, "/bin/true", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            await child.done
            if child.exited != 1 or transport.get_returncode() != 0:
                raise SystemExit(f"spawn: exited {child.exited}, "
                                 f"returncode {transport.get_returncode()}")
            transport.close()
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


# Each workload's function returns its seconds, or (seconds, extra fields).
# await runs fewer round trips than the C program's 1000000: at some µs each
# in Python, the figure (ns per round trip) settles long before that.
WORKLOADS = {
    "callbacks": (bench_callbacks, 1_000_000),
    "timers": (bench_timers, 100_000),
    "tasks": (bench_tasks, 100_000),
    "await": (bench_await, 100_000),
    "idle": (bench_idle, 100_000),
    "churn": (bench_churn, 100_000),
    "gather": (bench_gather, 200_000),
    "queue": (bench_queue, 100_000),
    "lock": (bench_lock, 100_000),
    "executor": (bench_executor, 100_000),
    "udp": (bench_udp, 20_000),
    "spawn": (bench_spawn, 200),
    "dns-hosts": (bench_dns_hosts, 50_000),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    parser.add_argument("-n", type=int, default=None,
                        help="operations (default: 1000000 callbacks, 100000 timers, "
                             "100000 tasks, 100000 await round trips, 100000 idle tasks, "
                             "100000 churn tasks, 200000 gathered futures, "
                             "50000 lookups)")
    parser.add_argument("--concurrency", type=int, default=100,
                        help="dns-hosts: lookups in flight at a time (100)")
    parser.add_argument("--window", type=int, default=32,
                        help="udp: datagrams in flight at a time (32)")
    args = parser.parse_args()
    func, default_n = WORKLOADS[args.workload]
    n = max(1, args.n if args.n is not None else default_n)

    if args.loop == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        if args.workload == "dns-hosts":
            outcome = func(loop, n, max(1, args.concurrency))
        elif args.workload == "udp":
            outcome = func(loop, n, max(1, args.window))
        else:
            outcome = func(loop, n)
    finally:
        loop.close()
    seconds, extra = outcome if isinstance(outcome, tuple) else (outcome, {})
    fields = "".join(f" {key}={value}" for key, value in extra.items())
    print(f"BENCH impl={args.loop} workload={args.workload} n={n} "
          f"seconds={seconds:.9f} ops_per_sec={n / seconds:.1f}{fields}", flush=True)


if __name__ == "__main__":
    main()
