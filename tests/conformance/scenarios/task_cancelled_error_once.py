# A task that ends cancelled because its coroutine let a CancelledError
# propagate keeps that exception for the first retrieval only: the first
# await, result() or exception() gets it, with the cancel message; every
# later one builds a new CancelledError from the task's own cancel message,
# which is None on that path (the message is lost). A task cancelled while
# it returned (cancel() with no await left) keeps its message for every
# retrieval.
#
# Not for every version: Task.cancel(msg) is new in 3.9.
# versions: 3.9+
import asyncio

loop = asyncio.new_event_loop()


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


def retrieve(label, how, t):
    try:
        if how == "result":
            t.result()
        else:
            raise t.exception()
    except asyncio.CancelledError as e:
        show(label + " " + how + "()", e)


async def body():
    await asyncio.sleep(3600)


async def waiter(label, t):
    try:
        await t
    except asyncio.CancelledError as e:
        show(label, e)


async def returns_anyway():
    asyncio.current_task().cancel("cancelled while returning")
    return "dropped"


t = loop.create_task(body())
t.cancel("before the first step")
try:
    loop.run_until_complete(t)
except asyncio.CancelledError as e:
    show("run_until_complete", e)
retrieve("then", "result", t)
retrieve("then", "exception", t)

t = loop.create_task(body())
w1 = loop.create_task(waiter("first waiter", t))
w2 = loop.create_task(waiter("second waiter", t))
loop.run_until_complete(asyncio.sleep(0))
t.cancel("while awaiting")
loop.run_until_complete(asyncio.gather(w1, w2))
retrieve("then", "exception", t)

t = loop.create_task(returns_anyway())
try:
    loop.run_until_complete(t)
except asyncio.CancelledError as e:
    show("run_until_complete", e)
retrieve("then", "result", t)
retrieve("then", "exception", t)
loop.close()
