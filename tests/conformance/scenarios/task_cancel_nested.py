# Cancelling a task that awaits another task cancels the awaited task
# instead (Task.cancel() forwards to the future it waits on): the innermost
# task gets CancelledError first, then each awaiting task one iteration
# later, from the inside out; every task on the chain counts one request in
# cancelling(). When the inner task swallows the cancellation and returns,
# the outer task receives that result and is not cancelled, though its
# cancelling() is 1.
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


def on_done(t):
    print("iteration", it, "done callback", t.get_name(), "cancelled:", t.cancelled())


async def level(name, inner):
    try:
        if inner is None:
            await asyncio.sleep(3600)
            return name
        t = loop.create_task(inner, name=name + ".inner")
        t.add_done_callback(on_done)
        return await t
    except asyncio.CancelledError as e:
        show(name + " caught", e)
        print("iteration", it, name, "cancelling:", asyncio.current_task().cancelling())
        raise


async def swallower():
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError as e:
        show("swallower caught", e)
    return "swallowed"


async def main():
    a = loop.create_task(level("a", level("b", level("c", None))), name="a")
    a.add_done_callback(on_done)
    for _ in range(3):
        await asyncio.sleep(0)
    print("iteration", it, "cancel a:", a.cancel("from main"))
    try:
        await a
    except asyncio.CancelledError as e:
        show("main awaiting a", e)

    outer = loop.create_task(level("outer", swallower()), name="outer")
    for _ in range(2):
        await asyncio.sleep(0)
    print("iteration", it, "cancel outer:", outer.cancel("ignored below"))
    result = await outer
    print("iteration", it, "outer result:", result, "cancelled:", outer.cancelled(),
          "cancelling:", outer.cancelling())

    twice = loop.create_task(level("twice", level("deep", None)), name="twice")
    for _ in range(2):
        await asyncio.sleep(0)
    print("iteration", it, "cancel twice:", twice.cancel("one"), twice.cancel("two"))
    try:
        await twice
    except asyncio.CancelledError as e:
        show("main awaiting twice", e)
    print("iteration", it, "twice cancelling:", twice.cancelling())


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
