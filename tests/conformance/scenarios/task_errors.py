# The errors a task raises about its own use: set_result() and
# set_exception() are refused with RuntimeError ('Task does not support ...
# operation'); result() and exception() of a pending task raise
# InvalidStateError; awaiting a future of another loop, or the task itself,
# raises RuntimeError at the await on the task's next step (one iteration
# later), and the task can catch it and go on; create_task() on a closed
# loop raises 'Event loop is closed'. set_name() renames a task.
import asyncio
import warnings

warnings.simplefilter("ignore", RuntimeWarning)  # the unawaited coroutine of the closed loop

loop = asyncio.new_event_loop()
other = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def awaits_foreign():
    foreign = other.create_future()
    start = it
    try:
        await foreign
    except RuntimeError as e:
        msg = str(e)
        print("foreign:", type(e).__name__, msg.startswith("Task <"),
              msg.endswith("attached to a different loop"), "after", it - start, "iteration")
    start = it
    try:
        await asyncio.current_task()
    except RuntimeError as e:
        print("itself:", type(e).__name__, str(e).startswith("Task cannot await on itself: <"),
              "after", it - start, "iteration")
    return "survived"


async def idle():
    await asyncio.sleep(0)
    return "idle"


loop.call_soon(tick)
t = loop.create_task(idle(), name="before")
for attempt in (lambda: t.set_result(1), lambda: t.set_exception(ValueError()),
                t.result, t.exception):
    try:
        attempt()
    except (RuntimeError, asyncio.InvalidStateError) as e:
        show("pending task", e)
t.set_name("after")
print("renamed:", t.get_name())
print(loop.run_until_complete(t))
try:
    t.set_result(2)
except RuntimeError as e:
    show("done task", e)

print(loop.run_until_complete(awaits_foreign()))
loop.close()
other.close()
try:
    loop.create_task(idle())
except RuntimeError as e:
    show("closed loop", e)
