# Task steps share the loop's FIFO queue with call_soon() callbacks:
# create_task() schedules the first step with call_soon, so the body starts
# on the next iteration, after the callbacks queued before create_task() and
# before those queued after it; each sleep(0) puts the next step at the back
# of the queue. A task created from a callback or from another task starts
# one iteration later. current_task() is the task whose step runs, None in a
# plain callback; default names count Task-1, Task-2, ... in creation order.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def say(what):
    current = asyncio.current_task(loop)
    print("iteration", it, what, "current:", current.get_name() if current else None)


async def body(label, n):
    for i in range(n):
        print("iteration", it, label, "step", i, "current:", asyncio.current_task().get_name())
        await asyncio.sleep(0)
    print("iteration", it, label, "returns")
    return label


async def spawner():
    print("iteration", it, "spawner runs")
    loop.call_soon(say, "queued by spawner")
    child = loop.create_task(body("grandchild", 1))
    loop.call_soon(say, "queued by spawner after create_task")
    print("iteration", it, "spawner created", child.get_name())
    return await child


def from_callback():
    say("from_callback")
    t = loop.create_task(body("from callback", 1))
    loop.call_soon(say, "queued after the callback's create_task")
    print("iteration", it, "callback created", t.get_name())


loop.call_soon(tick)
loop.call_soon(say, "callback A")
t1 = loop.create_task(body("t1", 3))
loop.call_soon(say, "callback B")
t2 = loop.create_task(body("t2", 2), name="second")
loop.call_soon(say, "callback C")
loop.call_soon(from_callback)
t3 = loop.create_task(spawner())
print("created:", t1.get_name(), t2.get_name(), t3.get_name())
print("done before running:", t1.done(), t2.done(), t3.done())
print("result t1:", loop.run_until_complete(t1))
print("t2 done:", t2.done(), "result:", t2.result())
print("result t3:", loop.run_until_complete(t3))
print("ended at iteration", it)
loop.close()
