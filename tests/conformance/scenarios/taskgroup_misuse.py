# TaskGroup's misuse messages and repr: create_task() before the enter,
# a second enter, create_task() once the group is shutting down and after
# it is finished; the repr counts tasks and errors and says entered or
# cancelling. A group used outside a task cannot find its parent.
#
# Not for every version: asyncio.TaskGroup is new in 3.11.
# versions: 3.11+
import asyncio


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def child(fail):
    await asyncio.sleep(0)
    if fail:
        raise ValueError("child")


async def main():
    g = asyncio.TaskGroup()
    print("new:", repr(g))
    coro = child(False)
    try:
        g.create_task(coro)
    except RuntimeError as e:
        show("before enter", e)
    coro.close()
    async with g:
        print("entered:", repr(g))
        try:
            async with g:
                pass
        except RuntimeError as e:
            show("second enter", e)
        g.create_task(child(False))
        g.create_task(child(False))
        print("two tasks:", repr(g))
    print("after:", repr(g))
    coro = child(False)
    try:
        g.create_task(coro)
    except RuntimeError as e:
        show("after exit", e)
    coro.close()

    g = asyncio.TaskGroup()
    try:
        async with g:
            g.create_task(child(True))
            g.create_task(child(False))
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                print("shutting down:", repr(g))
                coro = child(False)
                try:
                    g.create_task(coro)
                except RuntimeError as e:
                    show("while shutting down", e)
                coro.close()
                raise
    except ExceptionGroup as eg:
        print("raised:", type(eg).__name__, str(eg))
    print("after:", repr(g))
    return "main result"


def outside():
    g = asyncio.TaskGroup()
    loop = asyncio.new_event_loop()

    def cb():
        try:
            g.__aenter__().send(None)
        except RuntimeError as e:
            show("outside a task", e)
    loop.call_soon(cb)
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()


print(asyncio.run(main()))
outside()
