# gather(return_exceptions=True): every child's outcome lands in the result
# list, in argument order: results, exception objects, and for a cancelled
# child a new CancelledError built from the child's cancel message, so a
# plain future cancelled with a message keeps it, while a task that ended by
# letting its CancelledError propagate has no cancel message left (the list
# holds CancelledError('')), unlike a task that cancelled itself and then
# returned. The outer future completes one iteration after the last child,
# never early on a failure, and is not cancelled by a cancelled child.
#
# Not for every version: Task.cancel(msg) is new in 3.9.
# versions: 3.9+
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


async def child(name, steps, fail=None):
    for _ in range(steps):
        await asyncio.sleep(0)
    if fail is not None:
        print("iteration", it, name, "raises", fail.__name__)
        raise fail(name)
    print("iteration", it, name, "returns")
    return name


async def self_cancelling():
    asyncio.current_task().cancel("cancelled itself")
    return "dropped"


def describe(r):
    if isinstance(r, BaseException):
        return "%s(%r)" % (type(r).__name__, str(r))
    return repr(r)


async def main():
    fut_ok = loop.create_future()
    fut_cancelled = loop.create_future()
    ok = loop.create_task(child("ok", 1), name="ok")
    value_error = loop.create_task(child("value_error", 2, ValueError), name="value_error")
    key_error = loop.create_task(child("key_error", 1, KeyError), name="key_error")
    sleeper = loop.create_task(child("sleeper", 100), name="sleeper")
    never_started = loop.create_task(child("never_started", 0), name="never_started")
    never_started.cancel("before its first step")
    myself = loop.create_task(self_cancelling(), name="myself")
    outer = asyncio.gather(ok, value_error, fut_ok, key_error, sleeper, fut_cancelled,
                           never_started, myself, return_exceptions=True)
    outer.add_done_callback(lambda f: print("iteration", it, "outer done"))
    await asyncio.sleep(0)
    fut_ok.set_result("from a future")
    fut_cancelled.cancel("future message")
    await asyncio.sleep(0)
    print("iteration", it, "cancel sleeper:", sleeper.cancel("sleeper message"))
    results = await outer
    print("iteration", it, "outer cancelled:", outer.cancelled())
    for r in results:
        print("  ", describe(r))
    try:
        sleeper.result()
    except asyncio.CancelledError as e:
        print("sleeper.result() raises:", describe(e))


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
