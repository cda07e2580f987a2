# Cancelling gather()'s outer future cancels every child that is not done
# (True if any accepted) and, once all children are done, completes the
# outer future with a CancelledError as its exception: outer.cancelled() is
# False. With return_exceptions=True that CancelledError is the one of the
# last child in argument order (not of the last to finish), even when a
# child swallowed its cancellation and returned. A child cancelled on its own makes the outer future fail with
# CancelledError at once (return_exceptions=False) while the others keep
# running. Cancelling a task that awaits gather() goes through the outer
# future to the children.
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


async def sleeper(name, n=3600):
    try:
        for _ in range(n):
            await asyncio.sleep(0)
    except asyncio.CancelledError as e:
        show(name + " cancelled", e)
        raise
    print("iteration", it, name, "returns")
    return name


async def swallower(name):
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError as e:
        show(name + " swallows", e)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, name, "returns")
    return name


def task(coro, name):
    return loop.create_task(coro, name=name)


async def main():
    # 1. outer.cancel(): the children first, then the outer future.
    a, b = task(sleeper("a"), "a"), task(sleeper("b"), "b")
    outer = asyncio.gather(a, b)
    await asyncio.sleep(0)
    print("iteration", it, "outer.cancel:", outer.cancel("stop all"))
    try:
        await outer
    except asyncio.CancelledError as e:
        show("awaiting outer", e)
    print("iteration", it, "outer cancelled:", outer.cancelled(), "exception:",
          type(outer.exception()).__name__, "children cancelled:", a.cancelled(), b.cancelled())

    # 2. return_exceptions=True, a child swallows it and finishes last: the
    # exception is still the last child's in argument order.
    s, c = task(swallower("s"), "s"), task(sleeper("c"), "c")
    outer = asyncio.gather(s, c, return_exceptions=True)
    await asyncio.sleep(0)
    print("iteration", it, "outer.cancel:", outer.cancel("stop again"))
    try:
        await outer
    except asyncio.CancelledError as e:
        show("awaiting outer", e)
    print("iteration", it, "s result:", s.result(), "outer cancelled:", outer.cancelled())

    # 3. One child cancelled on its own.
    d, e_ = task(sleeper("d"), "d"), task(sleeper("e", 4), "e")
    outer = asyncio.gather(d, e_)
    await asyncio.sleep(0)
    print("iteration", it, "d.cancel:", d.cancel("only d"))
    try:
        await outer
    except asyncio.CancelledError as e:
        show("awaiting outer", e)
    print("iteration", it, "outer cancelled:", outer.cancelled(), "e done:", e_.done())
    await e_
    print("iteration", it, "e result:", e_.result())

    # 4. Cancelling the task that awaits gather().
    async def gatherer():
        try:
            return await asyncio.gather(task(sleeper("f"), "f"), task(sleeper("g"), "g"))
        except asyncio.CancelledError as e:
            show("gatherer caught", e)
            raise
    t = task(gatherer(), "gatherer")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "gatherer.cancel:", t.cancel("from main"))
    try:
        await t
    except asyncio.CancelledError as e:
        show("awaiting gatherer", e)
    print("iteration", it, "gatherer cancelled:", t.cancelled(), "cancelling:", t.cancelling())


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
