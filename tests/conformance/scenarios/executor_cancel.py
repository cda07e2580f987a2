# Cancelling run_in_executor()'s future: a call still queued never runs, a
# running one runs to its end and its result is dropped (the future stays
# cancelled). to_thread() runs the function in a copy of the caller's
# context: it sees the caller's values and its own changes stay in the
# copy; its exception reaches the caller. A task awaiting to_thread() that
# is cancelled gets CancelledError while the function finishes.
#
# Not for every version: asyncio.to_thread() is new in 3.9.
# versions: 3.9+
import asyncio
import concurrent.futures
import contextvars
import threading

loop = asyncio.new_event_loop()
started = threading.Event()
gate = threading.Event()
ran = []
var = contextvars.ContextVar("var", default="unset")


def blocked(name):
    started.set()
    gate.wait(5)
    ran.append(name)
    return name


def quick(name):
    ran.append(name)
    return name


def read_var():
    value = var.get()
    var.set("changed in the thread")
    return value


def fail():
    raise ValueError("from the thread")


async def main():
    one = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    running = loop.run_in_executor(one, blocked, "running")
    started.wait(5)
    queued = loop.run_in_executor(one, quick, "queued")
    print("cancel queued:", queued.cancel())
    print("cancel running:", running.cancel())
    await asyncio.sleep(0)
    print("cancelled:", queued.cancelled(), running.cancelled())
    gate.set()
    one.shutdown(wait=True)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("ran:", ran)
    print("still cancelled:", running.cancelled())

    var.set("main value")
    print("to_thread saw:", await asyncio.to_thread(read_var))
    print("main still has:", var.get())
    try:
        await asyncio.to_thread(fail)
    except ValueError as e:
        print("to_thread raised:", "%s: %s" % (type(e).__name__, e))

    started.clear()
    gate.clear()
    task = loop.create_task(asyncio.to_thread(blocked, "to_thread"))
    await asyncio.sleep(0)
    started.wait(5)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("task cancelled:", task.cancelled())
    gate.set()
    await loop.shutdown_default_executor()
    print("ran:", ran)


loop.run_until_complete(main())
loop.close()
