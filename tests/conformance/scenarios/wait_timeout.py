# asyncio.wait(timeout=...): when the timeout passes first, wait() returns
# the (done, pending) split as it stands, raising nothing and cancelling
# nothing: the pending tasks keep running and can be awaited afterwards.
# When everything completes first the timer is cancelled and the result is
# as without a timeout. timeout=0 returns after the timer's round trip (two
# iterations) with whatever is done by then. Sets are printed sorted by name.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


async def work(name, steps):
    try:
        for _ in range(steps):
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        print(name, "cancelled")
        raise
    print(name, "returns")
    return name


async def sleeper(name, delay):
    await asyncio.sleep(delay)
    print(name, "woke up")
    return name


def names(fs):
    return sorted(f.get_name() for f in fs)


def task(coro, name):
    return loop.create_task(coro, name=name)


async def main():
    quick, slow = task(work("quick", 1), "quick"), task(sleeper("slow", 0.2), "slow")
    done, pending = await asyncio.wait([quick, slow], timeout=0.02)
    print("timed out: done", names(done), "pending", names(pending), "slow cancelled:", slow.cancelled())
    print("awaiting slow afterwards:", await slow)

    a, b = task(work("a", 1), "a"), task(work("b", 2), "b")
    done, pending = await asyncio.wait([a, b], timeout=3600)
    print("in time: done", names(done), "pending", names(pending))

    c, d = task(work("c", 0), "c"), task(work("d", 10), "d")
    start = it
    done, pending = await asyncio.wait([c, d], timeout=0)
    print("timeout=0 after", it - start, "iterations: done", names(done), "pending", names(pending))
    await d

    e = task(sleeper("e", 3600), "e")
    done, pending = await asyncio.wait([e], timeout=0.01, return_when=asyncio.FIRST_COMPLETED)
    print("FIRST_COMPLETED timed out: done", names(done), "pending", names(pending))
    e.cancel()
    done, pending = await asyncio.wait([e])
    print("after cancel: done", names(done), "pending", names(pending), "cancelled:", e.cancelled())


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
