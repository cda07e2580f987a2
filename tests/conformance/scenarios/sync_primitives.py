# asyncio.Event, Condition, Semaphore, BoundedSemaphore and Barrier: set()
# wakes every waiter, in the order they came; notify(n) wakes n waiters in
# order, each taking the lock back before wait() returns, and wait() and
# notify() without the lock raise RuntimeError; wait_for() checks its
# predicate at each wake-up; a Semaphore hands counts to waiters in order
# and a waiter cancelled after it got a count passes it on; a
# BoundedSemaphore refuses to go above its value; a Barrier releases its
# parties together with indexes in arrival order, and reset() and abort()
# break the tasks waiting with BrokenBarrierError; the reprs.
#
# Not for every version: asyncio.Barrier is new in 3.11.
# versions: 3.11+
import asyncio
import re

it = 0


def tick():
    global it
    it += 1
    asyncio.get_running_loop().call_soon(tick)


def r(x):
    return re.sub(r' at 0x[0-9a-f]+', '', repr(x))


def show(label, e):
    print("iteration", it, label + ":", "%s: %s" % (type(e).__name__, e))


async def event_waiter(ev, name):
    await ev.wait()
    print("iteration", it, name, "saw the event")


async def cond_waiter(cond, name):
    async with cond:
        print("iteration", it, name, "waits")
        await cond.wait()
        print("iteration", it, name, "woken, locked:", cond.locked())


async def sem_worker(sem, name):
    print("iteration", it, name, "acquires")
    try:
        await sem.acquire()
    except asyncio.CancelledError:
        print("iteration", it, name, "cancelled;", r(sem))
        raise
    print("iteration", it, name, "has it;", r(sem))
    await asyncio.sleep(0)
    sem.release()


async def party(barrier, name):
    try:
        index = await barrier.wait()
    except asyncio.BrokenBarrierError as e:
        show(name + " broken", e)
        return None
    print("iteration", it, name, "passes with index", index)
    return index


async def main():
    asyncio.get_running_loop().call_soon(tick)

    # Event.
    ev = asyncio.Event()
    print("event:", r(ev), ev.is_set())
    ws = [asyncio.create_task(event_waiter(ev, n)) for n in ("e1", "e2")]
    await asyncio.sleep(0)
    print("event waited:", r(ev))
    ev.set()
    print("event set:", r(ev), ev.is_set())
    await asyncio.gather(*ws)
    ev.clear()
    print("cleared:", ev.is_set(), await asyncio.wait_for(ev.wait(), 0) if ev.is_set() else "no wait")

    # Condition.
    cond = asyncio.Condition()
    for call in (cond.notify, cond.notify_all):
        try:
            call()
        except RuntimeError as e:
            show("notify unlocked", e)
    try:
        await cond.wait()
    except RuntimeError as e:
        show("wait unlocked", e)
    ws = [asyncio.create_task(cond_waiter(cond, n)) for n in ("c1", "c2", "c3")]
    await asyncio.sleep(0)
    print("condition:", r(cond))
    async with cond:
        cond.notify(2)
        print("iteration", it, "notified 2, still locked:", cond.locked())
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    async with cond:
        cond.notify_all()
    await asyncio.gather(*ws)
    state = {"n": 0}

    async def bump():
        for _ in range(3):
            await asyncio.sleep(0)
            async with cond:
                state["n"] += 1
                cond.notify_all()
    b = asyncio.create_task(bump())
    async with cond:
        got = await cond.wait_for(lambda: state["n"] >= 2)
        print("iteration", it, "wait_for ->", got, "n =", state["n"])
    await b

    # Semaphore.
    try:
        asyncio.Semaphore(-1)
    except ValueError as e:
        show("Semaphore(-1)", e)
    sem = asyncio.Semaphore(2)
    print("semaphore:", r(sem), sem.locked())
    ws = [asyncio.create_task(sem_worker(sem, n)) for n in ("s1", "s2", "s3", "s4", "s5")]
    await asyncio.sleep(0)
    print("semaphore full:", r(sem))
    ws[2].cancel()
    await asyncio.gather(*ws, return_exceptions=True)
    print("semaphore after:", r(sem))
    # A waiter given a count and cancelled before it ran passes it on.
    await sem.acquire()
    await sem.acquire()
    x = asyncio.create_task(sem_worker(sem, "x"))
    y = asyncio.create_task(sem_worker(sem, "y"))
    await asyncio.sleep(0)
    sem.release()
    x.cancel()
    await asyncio.gather(x, y, return_exceptions=True)
    sem.release()
    print("passed on:", r(sem))
    bs = asyncio.BoundedSemaphore(1)
    await bs.acquire()
    bs.release()
    try:
        bs.release()
    except ValueError as e:
        show("bounded release", e)
    print("bounded:", r(bs))

    # Barrier.
    try:
        asyncio.Barrier(0)
    except ValueError as e:
        show("Barrier(0)", e)
    barrier = asyncio.Barrier(3)
    print("barrier:", r(barrier), barrier.parties, barrier.n_waiting, barrier.broken)
    ps = [asyncio.create_task(party(barrier, n)) for n in ("b1", "b2", "b3", "b4")]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("barrier filling:", r(barrier), barrier.n_waiting)
    for _ in range(4):
        await asyncio.sleep(0)
    print("barrier after a round:", r(barrier), barrier.n_waiting)
    await barrier.reset()
    print("reset:", r(barrier))
    await asyncio.gather(*ps)
    qs = [asyncio.create_task(party(barrier, n)) for n in ("b5", "b6")]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await barrier.abort()
    await asyncio.gather(*qs)
    print("aborted:", r(barrier), barrier.broken, barrier.n_waiting)
    print("late:", await party(barrier, "b7"))


asyncio.run(main())
