# wait_for() in 3.11 when its task is cancelled and the inner task finishes
# before wait_for resumes: the cancellation reaches the internal waiter, but
# since the inner task is done by then wait_for returns its result and the
# cancellation is swallowed (the task is not cancelled; cancelling() is 1).
# When the inner task is still pending, the inner task is cancelled and
# awaited first, then CancelledError propagates.
#
# Not for every version: Task.cancelling() is new in 3.11.
# versions: 3.11+
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def show(label, e):
    print("iteration", it, label + ":", "%s: %s" % (type(e).__name__, e))


async def inner_work(steps):
    try:
        for _ in range(steps):
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        print("iteration", it, "inner cancelled")
        raise
    print("iteration", it, "inner returns")
    return "inner result"


async def outer(inner):
    try:
        r = await asyncio.wait_for(inner, 10)
    except asyncio.CancelledError as e:
        show("outer caught", e)
        raise
    print("iteration", it, "outer got", r)
    return r


async def main():
    inner = loop.create_task(inner_work(2), name="inner")
    o = loop.create_task(outer(inner), name="outer")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "inner done:", inner.done(), "- cancel outer:", o.cancel("race"))
    r = await o
    print("iteration", it, "outer returned", r, "cancelled:", o.cancelled(), "cancelling:", o.cancelling())

    inner = loop.create_task(inner_work(5), name="inner2")
    o = loop.create_task(outer(inner), name="outer2")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "inner done:", inner.done(), "- cancel outer:", o.cancel("no race"))
    try:
        await o
    except asyncio.CancelledError as e:
        show("awaiting outer2", e)
    print("iteration", it, "inner cancelled:", inner.cancelled(), "outer cancelled:", o.cancelled())


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
