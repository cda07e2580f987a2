# A TaskGroup inside a timeout(): the deadline cancels the parent while
# the group's exit waits; the group cancels its tasks and lets the
# CancelledError out, which the timeout turns into TimeoutError. A task
# group inside a task cancelled from outside, and a timeout inside a
# group's task, each keep their own cancellations apart (uncancel). (One
# task is left to cancel at a time: asyncio cancels a group's tasks in the
# order of a set.)
#
# Not for every version: asyncio.TaskGroup and asyncio.timeout() are new in 3.11.
# versions: 3.11+
import asyncio


async def child(name, delay):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        print(name, "cancelled")
        raise
    print(name, "done")
    return name


async def timed_child(name):
    try:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(3600)
    except TimeoutError:
        print(name, "timed out, cancelling:", asyncio.current_task().cancelling())
    return name


async def main():
    me = asyncio.current_task()
    t = asyncio.timeout(0.02)
    try:
        async with t:
            async with asyncio.TaskGroup() as g:
                g.create_task(child("a", 3600))
                g.create_task(child("b", 0))
    except TimeoutError as e:
        print("TimeoutError from", type(e.__cause__).__name__, "expired:", t.expired())
    print("cancelling:", me.cancelling())

    async with asyncio.TaskGroup() as g:
        x = g.create_task(timed_child("x"))
        y = g.create_task(child("y", 0.02))
    print("group done:", x.result(), y.result(), "cancelling:", me.cancelling())

    t = asyncio.timeout(3600)
    try:
        async with t:
            async with asyncio.TaskGroup() as g:
                g.create_task(child("c", 3600))
                t.reschedule(asyncio.get_running_loop().time())
                await asyncio.sleep(3600)
    except TimeoutError:
        print("rescheduled deadline: TimeoutError, expired:", t.expired())
    return "main result"


print(asyncio.run(main()))
