# A task cancelled before its first step never runs its body: the first step
# throws CancelledError into the coroutine that has not started, and the task
# ends cancelled in that same iteration. cancel() returns True while the task
# is pending (each call counts in cancelling(), the last message wins) and
# False once it is done; done callbacks run one iteration after the step;
# the task awaiting it gets CancelledError with the message.
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


async def body():
    print("iteration", it, "body runs (it must not)")
    return "never"


def on_done(t):
    print("iteration", it, "done callback:", t.get_name(), "cancelled:", t.cancelled())


async def waiter(t):
    print("iteration", it, "waiter starts, target done:", t.done())
    try:
        await t
    except asyncio.CancelledError as e:
        print("iteration", it, "waiter caught:", "%s: %s" % (type(e).__name__, e))
        return "waiter finished"


def report(label, t):
    print("iteration", it, label, "done:", t.done(), "cancelled:", t.cancelled(),
          "cancelling:", t.cancelling())


loop.call_soon(tick)
t = loop.create_task(body())
t.add_done_callback(on_done)
w = loop.create_task(waiter(t))
print("cancel:", t.cancel("first message"))
print("cancel again:", t.cancel("last message"))
report("after cancel", t)
loop.call_soon(report, "after the first step", t)
print("waiter:", loop.run_until_complete(w))
report("at the end", t)
print("cancel when done:", t.cancel("too late"))
print("cancelling when done:", t.cancelling())
print("uncancel when done:", t.uncancel(), t.uncancel(), t.uncancel())
loop.close()
