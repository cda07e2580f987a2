# A task that ends with an exception nobody retrieves reports it through the
# loop's exception handler when the task is destroyed: message 'Task
# exception was never retrieved', keys exception/future/message. A task
# nobody keeps a reference to is destroyed right after its last step, in the
# same iteration. Awaiting the task, calling result() or exception(), or a
# gather() over it marks the exception retrieved: no report; so does a
# cancelled task, or a task that swallowed its error.
import asyncio
import gc

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def handler(the_loop, context):
    exc = context.get("exception")
    print("iteration", it, "handler:", context["message"], sorted(context),
          "%s: %s" % (type(exc).__name__, exc), "task:", context["future"].get_name())


async def boom(msg):
    await asyncio.sleep(0)
    print("iteration", it, "raising", msg)
    raise ValueError(msg)


def say(what):
    print("iteration", it, what)


async def retrieve_by_await(t):
    try:
        await t
    except ValueError as e:
        print("iteration", it, "awaited:", "%s: %s" % (type(e).__name__, e))


async def settle():
    for _ in range(3):
        await asyncio.sleep(0)


loop.set_exception_handler(handler)
loop.call_soon(tick)

# 1. Nobody keeps the task: reported right after its last step.
loop.create_task(boom("unreferenced"))
loop.call_soon(lambda: loop.call_soon(say, "queued after the task's last step"))
loop.run_until_complete(settle())

# 2. Kept, then dropped.
kept = loop.create_task(boom("dropped later"))
loop.run_until_complete(settle())
print("dropping the task")
kept = None
gc.collect()

# 3. Retrieved in the various ways: no report.
for how in ("await", "result", "exception", "gather", "cancel"):
    t = loop.create_task(boom("retrieved by " + how))
    if how == "await":
        loop.run_until_complete(retrieve_by_await(t))
    elif how == "gather":
        results = loop.run_until_complete(asyncio.gather(t, return_exceptions=True))
        print("gathered:", [type(r).__name__ for r in results])
    elif how == "cancel":
        t.cancel()
        loop.run_until_complete(settle())
        print("cancelled:", t.cancelled())
    else:
        loop.run_until_complete(settle())
        try:
            getattr(t, how)()
        except ValueError:
            pass
    print("dropping the task retrieved by", how)
    del t
    gc.collect()

print("closing")
loop.close()
