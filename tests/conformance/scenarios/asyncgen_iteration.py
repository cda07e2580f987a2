# An async generator runs inside the consuming task: anext() runs it until
# its next yield without a loop iteration of its own, and each await inside
# it suspends the consumer. Exhausting it raises StopAsyncIteration (async
# for ends) after its cleanup ran. aclose() on a suspended generator raises
# GeneratorExit at the yield: its finally block runs and may await; anext()
# afterwards raises StopAsyncIteration; aclose() again is a no-op. asend()
# passes a value in; athrow() raises at the yield; an exception escaping
# the generator reaches the consumer; yielding after GeneratorExit makes
# aclose() raise RuntimeError.
#
# Not for every version: anext() is new in 3.10.
# versions: 3.10+
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def show(label, e):
    print("iteration", it, label + ":", "%s: %s" % (type(e).__name__, e))


async def numbers(label, n):
    try:
        for i in range(n):
            await asyncio.sleep(0)
            print("iteration", it, label, "yields", "v%d" % i)
            yield "v%d" % i
        print("iteration", it, label, "exhausted")
    except GeneratorExit:
        print("iteration", it, label, "got GeneratorExit")
        raise
    finally:
        print("iteration", it, label, "finally")
        await asyncio.sleep(0)
        print("iteration", it, label, "finally after an await")


async def echo():
    received = yield "ready"
    while True:
        try:
            received = yield "echo " + str(received)
        except KeyError as e:
            received = yield "caught " + type(e).__name__


async def failing():
    yield "first"
    raise ValueError("generator failed")


async def stubborn():
    try:
        yield "one"
    finally:
        yield "yield in finally"


async def main():
    async for v in numbers("full", 2):
        print("iteration", it, "consumer got", v)
    print("iteration", it, "async for ended")

    g = numbers("partial", 10)
    start = it
    v = await anext(g)
    print("iteration", it, "first anext:", v, "took", it - start, "iterations")
    v = await anext(g)
    print("iteration", it, "second anext:", v)
    start = it
    r = await g.aclose()
    print("iteration", it, "aclose returned", r)
    print("aclose took", it - start, "iterations")
    try:
        await anext(g)
    except StopAsyncIteration as e:
        show("anext after aclose", e)
    r = await g.aclose()
    print("iteration", it, "aclose again returned", r)

    e = echo()
    print("asend(None):", await e.asend(None))
    print("asend(1):", await e.asend(1))
    print("athrow(KeyError):", await e.athrow(KeyError("k")))
    print("asend(2):", await e.asend(2))
    await e.aclose()

    f = failing()
    print("failing first:", await anext(f))
    try:
        await anext(f)
    except ValueError as e:
        show("failing raised", e)
    try:
        await anext(f)
    except StopAsyncIteration as e:
        show("failing after its error", e)

    s = stubborn()
    print("stubborn:", await anext(s))
    try:
        await s.aclose()
    except RuntimeError as e:
        show("stubborn aclose", e)


loop.call_soon(tick)
loop.run_until_complete(main())
loop.run_until_complete(loop.shutdown_asyncgens())
loop.close()
