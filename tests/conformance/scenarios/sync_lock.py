# asyncio.Lock: waiters take the lock in the order they came (FIFO); a
# waiter cancelled after release() chose it passes its turn on, so no
# release is lost; a waiter cancelled while the lock is still held just
# leaves the queue; release() of an unlocked lock raises RuntimeError('Lock
# is not acquired.'); the repr shows the state and the number of waiters;
# a lock waited on in one loop refuses another.
import asyncio
import re

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


def r(x):
    return re.sub(r' at 0x[0-9a-f]+', '', repr(x))


async def worker(lock, name, hold):
    print("iteration", it, name, "waits")
    try:
        await lock.acquire()
    except asyncio.CancelledError:
        print("iteration", it, name, "cancelled while waiting; locked:", lock.locked())
        raise
    print("iteration", it, name, "has the lock")
    for _ in range(hold):
        await asyncio.sleep(0)
    lock.release()
    print("iteration", it, name, "released")
    return name


async def main():
    asyncio.get_running_loop().call_soon(tick)
    lock = asyncio.Lock()
    print("new:", r(lock), lock.locked())
    try:
        lock.release()
    except RuntimeError as e:
        print("release unlocked:", "%s: %s" % (type(e).__name__, e))

    # FIFO order among waiters.
    await lock.acquire()
    tasks = [asyncio.create_task(worker(lock, n, 1), name=n) for n in "abc"]
    await asyncio.sleep(0)
    print("held with waiters:", r(lock))
    lock.release()
    print("released:", r(lock))
    await asyncio.gather(*tasks)
    print("after:", r(lock))

    # A waiter cancelled after it was chosen passes its turn on.
    await lock.acquire()
    d = asyncio.create_task(worker(lock, "d", 0), name="d")
    e = asyncio.create_task(worker(lock, "e", 0), name="e")
    await asyncio.sleep(0)
    lock.release()
    d.cancel()
    await asyncio.gather(d, e, return_exceptions=True)
    print("d cancelled:", d.cancelled(), "e result:", e.result(), "locked:", lock.locked())

    # A waiter cancelled while the lock is held leaves the queue.
    await lock.acquire()
    f = asyncio.create_task(worker(lock, "f", 0), name="f")
    g = asyncio.create_task(worker(lock, "g", 0), name="g")
    await asyncio.sleep(0)
    f.cancel()
    await asyncio.sleep(0)
    print("after f cancelled:", r(lock))
    lock.release()
    await asyncio.gather(f, g, return_exceptions=True)
    print("f cancelled:", f.cancelled(), "g result:", g.result(), "locked:", lock.locked())

    # Two acquisitions in one iteration: the second waits.
    async def grab(name):
        async with lock:
            print("iteration", it, name, "inside")
            await asyncio.sleep(0)
        print("iteration", it, name, "outside")
    await asyncio.gather(grab("h"), grab("i"))
    return lock


lock = asyncio.run(main())


async def other():
    try:
        await lock.acquire()
        print("acquired at once in another loop:", lock.locked())
        await lock.acquire()
    except RuntimeError as e:
        print("other loop:", type(e).__name__, str(e).endswith("is bound to a different event loop"))


asyncio.run(other())
