# Queue.shutdown() and QueueShutDown: after a plain shutdown, puts raise
# and gets drain what is queued before they raise; blocked getters and
# putters wake, by iteration, and raise; shutdown(immediate=True) drops
# the items, counts them done for join() (a join() waiting on an item got
# but not marked done still waits), and a putter it wakes raises; the
# reprs (without the items, which C prints as pointers). On LifoQueue and
# PriorityQueue too.
# Not for every version: Queue.shutdown() is new in 3.13.
# versions: 3.13+
import asyncio
import re

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


def r(x):
    """The repr without the address and the items (pointers in C)."""
    return re.sub(r' _queue=\[[^\]]*\]', '', re.sub(r' at 0x[0-9a-f]+', '', repr(x)))


def raised(what, fn):
    try:
        fn()
        print(what, "no exception")
    except Exception as e:
        print(f"{what}: {type(e).__name__}: {e}")


async def getter(q, name):
    print("iteration", it, name, "waits")
    try:
        item = await q.get()
        print("iteration", it, name, "got", item)
    except asyncio.QueueShutDown as e:
        print("iteration", it, name, "QueueShutDown", repr(str(e)))
    except asyncio.CancelledError:
        print("iteration", it, name, "cancelled")


async def putter(q, name, item):
    print("iteration", it, name, "puts", item)
    try:
        await q.put(item)
        print("iteration", it, name, "put")
    except asyncio.QueueShutDown:
        print("iteration", it, name, "QueueShutDown")


async def joiner(q):
    await q.join()
    print("iteration", it, "joined")


async def main():
    global it
    asyncio.get_running_loop().call_soon(tick)
    await asyncio.sleep(0)

    print("-- plain")
    q = asyncio.Queue()
    q.put_nowait(1)
    q.put_nowait(2)
    q.shutdown()
    print(r(q))
    raised("put_nowait", lambda: q.put_nowait(3))
    try:
        await q.put(3)
    except asyncio.QueueShutDown:
        print("put: QueueShutDown")
    print("get_nowait:", q.get_nowait(), "get:", await q.get())
    raised("get_nowait", q.get_nowait)
    try:
        await q.get()
    except asyncio.QueueShutDown:
        print("get: QueueShutDown")
    q.task_done()
    q.task_done()
    await q.join()
    print("joined; shutdown again:", q.shutdown())

    print("-- blocked getters")
    it = 0
    q = asyncio.Queue(1)
    ts = [asyncio.ensure_future(getter(q, n)) for n in ("g1", "g2", "g3")]
    await asyncio.sleep(0)
    print("iteration", it, "shutdown:", r(q))
    q.shutdown()
    ts[1].cancel()
    print("iteration", it, "after:", r(q))
    await asyncio.gather(*ts)

    print("-- blocked putters")
    it = 0
    q = asyncio.Queue(1)
    q.put_nowait(7)
    ts = [asyncio.ensure_future(putter(q, n, i)) for n, i in (("p1", 1), ("p2", 2))]
    await asyncio.sleep(0)
    print("iteration", it, "shutdown:", r(q))
    q.shutdown()
    await asyncio.gather(*ts)
    print("qsize:", q.qsize(), "get:", q.get_nowait())

    print("-- immediate")
    it = 0
    q = asyncio.Queue()
    for i in (1, 2, 3):
        q.put_nowait(i)
    print("got", q.get_nowait())
    j = asyncio.ensure_future(joiner(q))
    await asyncio.sleep(0)
    q.shutdown(immediate=True)
    print("iteration", it, r(q), "qsize", q.qsize())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "join done:", j.done())
    raised("get_nowait", q.get_nowait)
    q.task_done()
    await j
    raised("task_done", q.task_done)
    q = asyncio.Queue(1)
    q.put_nowait(7)
    t = asyncio.ensure_future(putter(q, "p3", 3))
    await asyncio.sleep(0)
    q.shutdown(immediate=True)
    await t
    print("qsize:", q.qsize())
    q = asyncio.Queue()
    q.put_nowait(1)
    q.shutdown()
    q.shutdown(immediate=True)
    print("plain then immediate:", r(q), q.qsize())

    print("-- LifoQueue and PriorityQueue")
    for cls in (asyncio.LifoQueue, asyncio.PriorityQueue):
        q = cls()
        for i in (3, 1, 2):
            q.put_nowait(i)
        q.shutdown()
        print(cls.__name__, [q.get_nowait() for _ in range(3)], r(q))
        raised("get_nowait", q.get_nowait)
        q = cls()
        for i in (3, 1, 2):
            q.put_nowait(i)
        q.shutdown(immediate=True)
        print(cls.__name__, "immediate:", q.qsize(), r(q))


asyncio.run(main())
