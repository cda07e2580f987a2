# A task may catch the CancelledError of its cancellation: when it then
# returns a value the task ends with that result (cancelled() False) and
# cancelling() keeps counting the requests until uncancel() takes them back
# (never below 0). A task that keeps going after catching it can be
# cancelled again. A task that cancels itself and returns without awaiting
# again ends cancelled anyway, with the message; one that cancels itself and
# then awaits gets the CancelledError at that await.
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


def show(label, e):
    print("iteration", it, label + ":", "%s: %s" % (type(e).__name__, e))


async def stubborn():
    me = asyncio.current_task()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError as e:
        show("stubborn caught", e)
        print("iteration", it, "stubborn cancelling:", me.cancelling())
    return "stubborn result"


async def persistent():
    me = asyncio.current_task()
    caught = 0
    while caught < 2:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as e:
            caught += 1
            show("persistent caught #%d" % caught, e)
            print("iteration", it, "persistent cancelling:", me.cancelling(),
                  "uncancel:", me.uncancel())
    await asyncio.sleep(0)
    print("iteration", it, "persistent returns")
    return caught


async def self_cancel_return():
    me = asyncio.current_task()
    print("iteration", it, "self cancel:", me.cancel("cancelled myself"), "cancelling:", me.cancelling())
    return "returned anyway"


async def self_cancel_await():
    me = asyncio.current_task()
    me.cancel("cancelled myself, then awaited")
    try:
        await asyncio.sleep(0)
    except asyncio.CancelledError as e:
        show("self_cancel_await caught", e)
        raise
    print("not reached")


async def main():
    t = loop.create_task(stubborn())
    await asyncio.sleep(0)
    print("iteration", it, "cancel:", t.cancel("please stop"), t.cancel("really"))
    result = await t
    print("iteration", it, "result:", result)
    print("iteration", it, "stubborn cancelled:", t.cancelled(), "cancelling:", t.cancelling())
    print("iteration", it, "uncancel:", t.uncancel(), t.uncancel(), t.uncancel())

    t = loop.create_task(persistent())
    await asyncio.sleep(0)
    print("iteration", it, "cancel persistent:", t.cancel("once"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("iteration", it, "cancel persistent again:", t.cancel("twice"))
    result = await t
    print("iteration", it, "persistent result:", result, "cancelling:", t.cancelling())

    t = loop.create_task(self_cancel_return())
    try:
        await t
    except asyncio.CancelledError as e:
        show("awaiting self_cancel_return", e)
    print("iteration", it, "cancelled:", t.cancelled())
    try:
        t.result()
    except asyncio.CancelledError as e:
        show("result() again", e)

    t = loop.create_task(self_cancel_await())
    try:
        await t
    except asyncio.CancelledError as e:
        show("awaiting self_cancel_await", e)
    print("iteration", it, "cancelled:", t.cancelled())


loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
