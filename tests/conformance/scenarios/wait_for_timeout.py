# wait_for(aw, timeout): a result in time is returned (the waiting task
# resumes two iterations after the inner task returns: one for the done
# callback that releases the waiter, one for the wakeup); on timeout the
# inner task is cancelled and wait_for waits until it is done before
# raising TimeoutError (from the CancelledError), so the inner task's
# cleanup has run; an inner task that swallows that cancellation and returns
# makes wait_for return its value instead. timeout <= 0: a done future's
# result at once, without yielding; a pending task is cancelled (before its
# first step: its body never runs) and TimeoutError raised. timeout=None
# just awaits. Cancelling the task inside wait_for cancels the inner task
# too and raises CancelledError.
import asyncio

loop = asyncio.new_event_loop()
it = 0
marks = {}


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def worker(name, steps, swallow=False):
    print(name, "starts")
    try:
        for _ in range(steps):
            await asyncio.sleep(0)
    except asyncio.CancelledError as e:
        marks[name] = it
        show(name + " cancelled", e)
        await asyncio.sleep(0)
        print(name, "cleanup done after", it - marks[name], "iteration")
        if swallow:
            return name + " swallowed"
        raise
    marks[name] = it
    print(name, "returns")
    return name


async def sleeper(name):
    print(name, "starts")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError as e:
        marks[name] = it
        show(name + " cancelled", e)
        raise


def task(coro, name):
    return loop.create_task(coro, name=name)


async def main():
    t = task(worker("quick", 2), "quick")
    r = await asyncio.wait_for(t, 10)
    print("wait_for returned", r, "iterations after the return:", it - marks["quick"])

    t = task(worker("slow", 10**9), "slow")
    try:
        await asyncio.wait_for(t, 0.01)
    except asyncio.TimeoutError as e:
        show("wait_for raised", e)
        print("cause:", type(e.__cause__).__name__, "isinstance of TimeoutError:", isinstance(e, TimeoutError))
        print("inner done:", t.done(), "cancelled:", t.cancelled(), "iterations since its cancel:", it - marks["slow"])

    t = task(worker("stubborn", 10**9, swallow=True), "stubborn")
    r = await asyncio.wait_for(t, 0.01)
    print("wait_for returned", repr(r), "cancelled:", t.cancelled())

    done = loop.create_future()
    done.set_result("ready")
    start = it
    r = await asyncio.wait_for(done, 0)
    print("wait_for(done, 0):", r, "iterations:", it - start)

    t = task(worker("never", 1), "never")
    start = it
    try:
        await asyncio.wait_for(t, -1)
    except asyncio.TimeoutError as e:
        show("wait_for(pending, -1) raised", e)
    print("never cancelled:", t.cancelled(), "iterations:", it - start)

    t = task(worker("unbounded", 3), "unbounded")
    start = it
    r = await asyncio.wait_for(t, None)
    print("wait_for(None):", r, "iterations:", it - start)

    inner = task(sleeper("inner"), "inner")

    async def outer():
        try:
            return await asyncio.wait_for(inner, 3600)
        except asyncio.CancelledError as e:
            show("outer caught", e)
            print("inner done:", inner.done(), "cancelled:", inner.cancelled())
            raise
    o = task(outer(), "outer")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("cancel outer:", o.cancel("outer cancelled"))
    try:
        await o
    except asyncio.CancelledError as e:
        show("awaiting outer", e)


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
