# Done callbacks of a task run in registration order one iteration after the
# task returns, interleaved with the wakeups of the tasks awaiting it (each
# await registers one when it suspends); remove_done_callback() removes
# every registration of a callback and returns the count; a callback added
# to a finished task is scheduled at once and runs on the next iteration. A
# task that raises has its callbacks run the same way, and they see the
# exception.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def make_cb(name):
    def cb(t):
        if t.cancelled():
            outcome = "cancelled"
        elif t.exception() is not None:
            outcome = "raised " + type(t.exception()).__name__
        else:
            outcome = "result " + str(t.result())
        print("iteration", it, name, "for", t.get_name(), outcome)
    return cb


cb1, cb2, cb3, late = make_cb("cb1"), make_cb("cb2"), make_cb("cb3"), make_cb("late")
never_added = make_cb("never added")


async def body():
    await asyncio.sleep(0)
    print("iteration", it, "body returns")
    return 7


async def failing():
    await asyncio.sleep(0)
    print("iteration", it, "failing raises")
    raise KeyError("boom")


async def waiter(label, t):
    print("iteration", it, label, "awaits", t.get_name())
    try:
        value = await t
    except KeyError as e:
        value = "KeyError " + str(e)
    print("iteration", it, label, "resumed with", value)
    t.add_done_callback(late)
    print("iteration", it, label, "added late")


def rearrange(t):
    t.add_done_callback(cb3)
    t.add_done_callback(cb2)
    print("iteration", it, "removed cb2:", t.remove_done_callback(cb2))
    t.add_done_callback(cb2)
    print("iteration", it, "removed one never added:", t.remove_done_callback(never_added))


def run(coro_fn, name):
    t = loop.create_task(coro_fn(), name=name)
    t.add_done_callback(cb1)
    t.add_done_callback(cb2)
    w = loop.create_task(waiter("waiter", t), name="waiter-" + name)
    loop.call_soon(rearrange, t)
    loop.run_until_complete(w)
    loop.run_until_complete(asyncio.sleep(0))
    print("after the run, removed cb1:", t.remove_done_callback(cb1))


loop.call_soon(tick)
run(body, "returns")
run(failing, "raises")
loop.close()
