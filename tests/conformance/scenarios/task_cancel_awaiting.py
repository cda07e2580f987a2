# Cancelling a task that awaits a future cancels the future with the
# message (cancel() returns True); the task's next step, one iteration
# later, raises CancelledError with that message at the await, and a task
# that lets it propagate ends cancelled. When the awaited future is already
# done but the task has not resumed yet, cancel() still returns True and the
# result is dropped: the task resumes with CancelledError instead. A future
# cancelled directly (not through the task) raises CancelledError in the
# task too, with cancelling() still 0.
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


async def awaiter(label, fut):
    print("iteration", it, label, "awaits")
    try:
        value = await (fut if fut is not None else asyncio.sleep(3600))
    except asyncio.CancelledError as e:
        show(label + " caught", e)
        print("iteration", it, label, "cancelling():", asyncio.current_task().cancelling())
        raise
    print("iteration", it, label, "got", value)
    return value


def on_done(t):
    print("iteration", it, "done callback", t.get_name(), "cancelled:", t.cancelled())


async def main():
    # 1. cancel() while the task awaits a pending future.
    fut = loop.create_future()
    t = loop.create_task(awaiter("first", fut), name="first")
    t.add_done_callback(on_done)
    await asyncio.sleep(0)
    print("iteration", it, "cancel:", t.cancel("stop waiting"), "future cancelled:", fut.cancelled())
    try:
        fut.result()
    except asyncio.CancelledError as e:
        show("future.result() raises", e)
    print("iteration", it, "task done right after cancel:", t.done(), "cancelling:", t.cancelling())
    try:
        await t
    except asyncio.CancelledError as e:
        show("main awaiting first", e)
    print("iteration", it, "first cancelled:", t.cancelled())

    # 2. The future completes, then cancel() before the task's wakeup.
    fut = loop.create_future()
    t = loop.create_task(awaiter("second", fut), name="second")
    await asyncio.sleep(0)
    fut.set_result("lost result")
    print("iteration", it, "cancel after set_result:", t.cancel("too late for the result"))
    try:
        await t
    except asyncio.CancelledError as e:
        show("main awaiting second", e)

    # 3. The future cancelled directly.
    fut = loop.create_future()
    t = loop.create_task(awaiter("third", fut), name="third")
    await asyncio.sleep(0)
    print("iteration", it, "future.cancel:", fut.cancel("future cancelled directly"))
    try:
        await t
    except asyncio.CancelledError as e:
        show("main awaiting third", e)
    print("iteration", it, "third cancelling:", t.cancelling(), "cancelled:", t.cancelled())

    # 4. cancel() while the task sleeps.
    t = loop.create_task(awaiter("fourth", None), name="fourth")
    await asyncio.sleep(0)
    print("iteration", it, "cancel sleeping:", t.cancel())
    try:
        await t
    except asyncio.CancelledError as e:
        show("main awaiting fourth", e)
    return "main done"


loop.call_soon(tick)
print(loop.run_until_complete(main()))
loop.close()
