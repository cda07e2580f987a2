# asyncio.Queue, LifoQueue and PriorityQueue: the order items come out in
# (PriorityQueue as heapq orders equal items), getters and putters woken in
# the order they began to wait, put_nowait() on a full queue raising
# QueueFull and get_nowait() on an empty one QueueEmpty, task_done() called
# too many times raising ValueError, join() returning once every item is
# done, a getter cancelled after put_nowait() woke it passing the item on
# to the next getter, and the reprs (without the items, which C prints
# as pointers).
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


class Key:
    """Items ordered by their key alone (equal keys compare equal)."""
    def __init__(self, key, name):
        self.key, self.name = key, name

    def __lt__(self, other):
        return self.key < other.key


async def getter(q, name):
    print("iteration", it, name, "waits")
    try:
        item = await q.get()
    except asyncio.CancelledError:
        print("iteration", it, name, "cancelled")
        raise
    print("iteration", it, name, "got", item)
    return item


async def putter(q, name, item):
    print("iteration", it, name, "puts", item)
    await q.put(item)
    print("iteration", it, name, "put", item)


async def main():
    asyncio.get_running_loop().call_soon(tick)
    q = asyncio.Queue(maxsize=2)
    print("new:", r(q), q.maxsize, q.qsize(), q.empty(), q.full())
    try:
        q.get_nowait()
    except asyncio.QueueEmpty as e:
        print("get_nowait empty:", type(e).__name__, repr(str(e)))
    q.put_nowait(1)
    q.put_nowait(2)
    print("full:", q.full(), r(q))
    try:
        q.put_nowait(3)
    except asyncio.QueueFull as e:
        print("put_nowait full:", type(e).__name__, repr(str(e)))

    # Putters wait in order.
    ps = [asyncio.create_task(putter(q, n, v)) for n, v in (("p1", 3), ("p2", 4))]
    await asyncio.sleep(0)
    print("putters waiting:", r(q))
    print("got", q.get_nowait(), q.get_nowait())
    await asyncio.gather(*ps)
    print("got", q.get_nowait(), q.get_nowait(), "empty:", q.empty())

    # Getters wait in order; one woken and cancelled passes the item on.
    gs = [asyncio.create_task(getter(q, n)) for n in ("g1", "g2", "g3")]
    await asyncio.sleep(0)
    print("getters waiting:", r(q))
    q.put_nowait(10)
    gs[0].cancel()
    q.put_nowait(11)
    await asyncio.gather(*gs, return_exceptions=True)
    print("results:", [g.result() if not g.cancelled() else "cancelled" for g in gs])

    # task_done() and join().
    print("unfinished repr:", r(q))
    for _ in range(6):
        q.task_done()
    try:
        q.task_done()
    except ValueError as e:
        print("task_done:", "%s: %s" % (type(e).__name__, e))

    async def worker():
        while True:
            item = await q.get()
            await asyncio.sleep(0)
            print("iteration", it, "worker did", item)
            q.task_done()
    w = asyncio.create_task(worker())
    for i in range(3):
        await q.put(i)
    await q.join()
    print("iteration", it, "joined", r(q))
    w.cancel()
    await asyncio.gather(w, return_exceptions=True)

    # LIFO and priority order.
    lq = asyncio.LifoQueue()
    for i in range(4):
        lq.put_nowait(i)
    print("lifo:", r(lq), [lq.get_nowait() for _ in range(4)])
    pq = asyncio.PriorityQueue()
    for key, name in ((3, "a"), (1, "b"), (3, "c"), (2, "d"), (1, "e"), (3, "f"), (0, "g"),
                      (2, "h"), (3, "i"), (1, "j")):
        pq.put_nowait(Key(key, name))
    print("priority:", [(k.key, k.name) for k in (pq.get_nowait() for _ in range(10))])


asyncio.run(main())
