# asyncio.as_completed(): the outcomes come in the order the futures
# complete, not the order given; an exception is raised by the await that
# hands it out; a future given twice is handed out once; with a timeout,
# every outcome not handed out by then raises TimeoutError; an empty list
# yields nothing. ensure_future() returns a future as it is and wraps a
# coroutine in a task; its TypeError and ValueError.
import asyncio


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def main():
    loop = asyncio.get_running_loop()
    futs = [loop.create_future() for _ in range(4)]
    loop.call_later(0.03, futs[0].set_result, "zero")
    loop.call_later(0.01, futs[1].set_result, "one")
    loop.call_later(0.02, futs[2].set_exception, ValueError("two"))
    futs[3].set_result("three (already done)")
    it = asyncio.as_completed(futs + [futs[1]])
    for aw in it:
        try:
            print("got", await aw)
        except ValueError as e:
            show("raised", e)

    slow = loop.create_future()
    quick = loop.create_future()
    loop.call_later(0.01, quick.set_result, "quick")
    n = 0
    for aw in asyncio.as_completed([slow, quick], timeout=0.05):
        n += 1
        try:
            print("got", await aw)
        except TimeoutError as e:
            show("timed out", e)
    print("awaitables handed out:", n, "slow done:", slow.done())
    slow.cancel()

    print("empty:", list(asyncio.as_completed([])))

    f = loop.create_future()
    print("ensure_future(future) is future:", asyncio.ensure_future(f) is f)
    f.cancel()

    async def coro():
        return "coroutine result"
    t = asyncio.ensure_future(coro())
    print("ensure_future(coro) is a task:", isinstance(t, asyncio.Task), await t)
    try:
        asyncio.ensure_future(None)
    except TypeError as e:
        show("ensure_future(None)", e)
    other = asyncio.new_event_loop()
    g = other.create_future()
    try:
        asyncio.ensure_future(g, loop=loop)
    except ValueError as e:
        show("other loop", e)
    other.close()
    return "main result"


print(asyncio.run(main()))
