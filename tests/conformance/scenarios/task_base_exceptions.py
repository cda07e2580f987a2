# SystemExit and KeyboardInterrupt raised in a task end the task with that
# exception and are re-raised out of the loop at once: run_until_complete()
# raises them in the middle of the iteration, callbacks queued after the
# step wait for the next run, and the task's pending stop callback does not
# stop that next run (run_until_complete's callback ignores these two).
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def say(what):
    print("iteration", it, what)


async def exiting(exc):
    await asyncio.sleep(0)
    loop.call_soon(say, "queued before the raise")
    print("iteration", it, "raising", type(exc).__name__)
    raise exc


async def settle(n):
    for _ in range(n):
        await asyncio.sleep(0)
    return "settled at iteration %d" % it


loop.call_soon(tick)
for exc in (SystemExit(3), KeyboardInterrupt()):
    t = loop.create_task(exiting(exc))
    loop.call_soon(say, "queued after the task")
    try:
        loop.run_until_complete(t)
    except BaseException as e:
        print("iteration", it, "escaped:", "%s: %s" % (type(e).__name__, e))
    print("task done:", t.done(), "exception:", type(t.exception()).__name__,
          "running:", loop.is_running())
    print(loop.run_until_complete(settle(3)))
loop.close()
