# asyncio.Timeout as an object: created by timeout()/timeout_at(), entered
# once, then "finished" (left in time) or "expiring"/"expired" (deadline
# passed); reschedule() before the enter and after the deadline or the exit
# is refused, a second enter too, and when()/expired()/repr() still answer
# after the exit. The repr shows the deadline rounded to 3 decimals only
# while active.
#
# Not for every version: asyncio.timeout_at() is new in 3.11.
# versions: 3.11+
import asyncio


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def main():
    t = asyncio.timeout_at(None)
    print("made:", repr(t), t.when(), t.expired())
    try:
        t.reschedule(1)
    except RuntimeError as e:
        show("reschedule before enter", e)
    async with t as cm:
        print("as target is the timeout:", cm is t)
        print("entered:", repr(t))
        t.reschedule(1e10 + 0.12345)
        print("rescheduled:", repr(t), t.when())
        try:
            async with t:
                pass
        except RuntimeError as e:
            show("enter again", e)
        t.reschedule(None)
        print("rescheduled to None:", repr(t))
    print("left:", repr(t), t.when(), t.expired())
    try:
        t.reschedule(1)
    except RuntimeError as e:
        show("reschedule after exit", e)
    try:
        async with t:
            pass
    except RuntimeError as e:
        show("enter after exit", e)

    t = asyncio.timeout(0)
    try:
        async with t:
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        print("not reached")
    except TimeoutError as e:
        show("expired", e)
    print("after:", repr(t), t.expired())
    try:
        t.reschedule(None)
    except RuntimeError as e:
        show("reschedule expired", e)

    t = asyncio.timeout(0)
    try:
        async with t:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                print("inside:", repr(t), t.expired())
                try:
                    t.reschedule(None)
                except RuntimeError as e:
                    show("reschedule expiring", e)
                raise
    except TimeoutError:
        print("TimeoutError, then:", repr(t))

    t = asyncio.timeout_at(2e10 + 0.5)
    print("timeout_at:", repr(t), t.when())
    async with t:
        print("active:", repr(t))
    print("finished:", repr(t))
    return "main result"


print(asyncio.run(main()))
