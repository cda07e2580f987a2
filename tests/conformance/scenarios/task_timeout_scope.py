# asyncio.timeout(): a scope whose deadline passes cancels the task; the
# CancelledError that leaves the scope becomes TimeoutError (from it),
# expired() is True and the task's cancelling() is back where it was. A
# scope left in time raises nothing and its timer is cancelled. timeout(0)
# schedules the cancellation with call_soon: it lands on the next await,
# one iteration later, unless the scope is left first. A body that catches
# the CancelledError leaves the scope normally (expired() still True).
# reschedule(None) disables the deadline. When another cancellation is
# pending too, the CancelledError propagates as it is.
#
# Not for every version: asyncio.timeout() is new in 3.11.
# versions: 3.11+
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def main():
    me = asyncio.current_task()
    try:
        async with asyncio.timeout(0.01) as cm:
            await asyncio.sleep(3600)
    except TimeoutError as e:
        print("expired scope raised", type(e).__name__, "from", type(e.__cause__).__name__)
    print("expired:", cm.expired(), "cancelling:", me.cancelling())

    async with asyncio.timeout(3600) as cm:
        await asyncio.sleep(0)
        r = "body finished"
    print(r, "- expired:", cm.expired(), "cancelling:", me.cancelling())

    start = it
    try:
        async with asyncio.timeout(0) as cm:
            print("in timeout(0)")
            await asyncio.sleep(0)
            print("not reached")
    except TimeoutError as e:
        show("timeout(0) raised", e)
    print("iterations:", it - start, "expired:", cm.expired())

    async with asyncio.timeout(-1) as cm:
        r = "left before the cancellation ran"
    print(r, "- expired:", cm.expired())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("cancelling after a few iterations:", me.cancelling())

    async with asyncio.timeout(0) as cm:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as e:
            show("body caught", e)
    print("left normally, expired:", cm.expired(), "cancelling:", me.cancelling())

    async with asyncio.timeout(0) as cm:
        cm.reschedule(None)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    print("rescheduled to None, expired:", cm.expired())

    try:
        async with asyncio.timeout(0) as cm:
            me.cancel("external")
            await asyncio.sleep(0)
    except asyncio.CancelledError as e:
        show("with another cancellation", e)
    print("expired:", cm.expired(), "cancelling:", me.cancelling(), "uncancel:", me.uncancel())

    try:
        async with asyncio.timeout(0.01):
            async with asyncio.timeout(3600) as inner:
                await asyncio.sleep(3600)
    except TimeoutError as e:
        print("outer scope expired, inner expired:", inner.expired(), type(e).__name__)
    return "main result"


loop.call_soon(tick)
print(loop.run_until_complete(main()))
loop.close()
