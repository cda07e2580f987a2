# asyncio.TaskGroup: tasks run and are awaited at the exit; the first
# failure cancels the other tasks and the body (the parent task), and the
# exit raises ExceptionGroup('unhandled errors in a TaskGroup', errors) in
# the order the tasks failed, the body's own error last; the parent's
# cancellation by the group is taken back (cancelling() is 0 after), but a
# cancellation from outside propagates as CancelledError. KeyboardInterrupt
# from the body comes out as it is. A task failing while the exit already
# waits leaves the parent's cancellation counted (3.11.7's behaviour).
#
# Not for every version: asyncio.TaskGroup is new in 3.11.
# versions: 3.11+
import asyncio


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


def show_group(label, eg):
    print(label + ":", type(eg).__name__, "|", str(eg), "|",
          ", ".join("%s: %s" % (type(e).__name__, e) for e in eg.exceptions))


async def child(name, delay, fail=None):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        print(name, "cancelled")
        raise
    if fail is not None:
        print(name, "fails")
        raise fail
    print(name, "done")
    return name


async def main():
    me = asyncio.current_task()

    async with asyncio.TaskGroup() as g:
        a = g.create_task(child("a", 0.02))
        b = g.create_task(child("b", 0.01), name="bee")
        c = g.create_task(child("c", 0))
        print("body done, tasks:", a.get_name() != "", b.get_name())
    print("all done:", a.result(), b.result(), c.result())

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child("slow", 3600))
            g.create_task(child("bad", 0.01, ValueError("bad")))
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                print("body cancelled, cancelling:", me.cancelling())
                raise
    except ExceptionGroup as eg:
        show_group("one failure", eg)
    print("cancelling after:", me.cancelling())

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child("x", 0, ValueError("x")))
            g.create_task(child("y", 0, KeyError("y")))
            g.create_task(child("z", 0.5))
    except ExceptionGroup as eg:
        show_group("two failures", eg)

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child("w", 3600))
            await asyncio.sleep(0)
            raise ZeroDivisionError("body")
    except ExceptionGroup as eg:
        show_group("body error", eg)

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child("v", 0.01, ValueError("v")))
            await asyncio.sleep(3600)
            raise ZeroDivisionError("not reached")
    except ExceptionGroup as eg:
        show_group("body cancelled by the group", eg)
        print("context of the group:", type(eg.__context__).__name__)

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child("u", 3600))
            await asyncio.sleep(0)
            raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        print("KeyboardInterrupt came out as it is:", type(e).__name__)

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child("late", 0.01, ValueError("late")))
    except ExceptionGroup as eg:
        show_group("failed during the exit", eg)
    print("cancelling after:", me.cancelling(), "uncancel:", me.uncancel())

    async with asyncio.TaskGroup() as g:
        t = g.create_task(child("quiet", 0.01))
        t.cancel()
    print("a cancelled task is no error:", t.cancelled())
    return "main result"


async def outer():
    async def victim():
        try:
            async with asyncio.TaskGroup() as g:
                g.create_task(child("inner", 3600))
                await asyncio.sleep(3600)
        except asyncio.CancelledError as e:
            show("outer cancellation", e)
            print("victim cancelling:", asyncio.current_task().cancelling())
            raise
    v = asyncio.create_task(victim())
    await asyncio.sleep(0.01)
    v.cancel("from outside")
    try:
        await v
    except asyncio.CancelledError:
        print("victim cancelled:", v.cancelled())
    print(await main())


asyncio.run(outer())
