# gather() without return_exceptions: the results come in argument order
# whatever the completion order, a repeated awaitable is awaited once and
# its result repeated; gather() of nothing is done at once with []. The
# first exception is set on the outer future by its done callback (one
# iteration after the child fails) and reaches the awaiting task one
# iteration later; the other children keep running to completion, and an
# exception raised by one of them later is marked retrieved (no 'never
# retrieved' report). cancel() on the outer future once it is done returns
# False and cancels nothing.
import asyncio
import gc

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def handler(the_loop, context):
    print("iteration", it, "handler:", context["message"])


async def child(name, steps, fail=False):
    for _ in range(steps):
        await asyncio.sleep(0)
    if fail:
        print("iteration", it, name, "raises")
        raise ValueError(name)
    print("iteration", it, name, "returns")
    return name


async def main():
    empty = asyncio.gather()
    print("iteration", it, "gather() done:", empty.done(), "result:", empty.result())

    fut = loop.create_future()
    loop.call_soon(fut.set_result, "future")
    a = loop.create_task(child("a", 3), name="a")
    b = loop.create_task(child("b", 1), name="b")
    results = await asyncio.gather(a, fut, b, a, fut)
    print("iteration", it, "results:", results)

    slow = loop.create_task(child("slow", 6), name="slow")
    bad = loop.create_task(child("bad", 2, fail=True), name="bad")
    worse = loop.create_task(child("worse", 4, fail=True), name="worse")
    outer = asyncio.gather(slow, bad, worse)
    try:
        await outer
    except ValueError as e:
        print("iteration", it, "gather raised:", "%s: %s" % (type(e).__name__, e))
    print("iteration", it, "outer done:", outer.done(), "cancel:", outer.cancel())
    print("iteration", it, "pending children:", [t.get_name() for t in (slow, bad, worse) if not t.done()])
    await slow
    print("iteration", it, "slow result:", slow.result(), "worse cancelled:", worse.cancelled())


loop.set_exception_handler(handler)
loop.call_soon(tick)
loop.run_until_complete(main())
gc.collect()
print("closing")
loop.close()
