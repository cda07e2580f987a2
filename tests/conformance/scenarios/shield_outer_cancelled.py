# shield(inner): cancelling the task that awaits the shield cancels only the
# shield's outer future; the awaiting task gets CancelledError while the
# inner task keeps running and completes with its own result. Once the outer
# future is cancelled it lets go of the inner task, so an inner task that
# fails afterwards reports 'Task exception was never retrieved' when
# dropped. An inner task cancelled directly cancels the outer future (with
# no message); a result or an exception passes through; shield() of a done
# future returns that future itself.
#
# Not for every version: Task.cancelling() is new in 3.11.
# versions: 3.11+
import asyncio
import gc

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def handler(the_loop, context):
    print("iteration", it, "handler:", context["message"], type(context["exception"]).__name__)


def show(label, e):
    print("iteration", it, label + ":", "%s: %s" % (type(e).__name__, e))


async def work(name, steps, fail=False):
    for _ in range(steps):
        await asyncio.sleep(0)
    if fail:
        print("iteration", it, name, "raises")
        raise ValueError(name)
    print("iteration", it, name, "returns")
    return name + " result"


async def guarded(inner):
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError as e:
        show("guarded caught", e)
        raise


def task(coro, name):
    return loop.create_task(coro, name=name)


async def main():
    inner = task(work("inner", 4), "inner")
    g = task(guarded(inner), "guarded")
    await asyncio.sleep(0)
    print("iteration", it, "cancel guarded:", g.cancel("stop guarded"), "inner cancelling:", inner.cancelling())
    try:
        await g
    except asyncio.CancelledError as e:
        show("awaiting guarded", e)
    print("iteration", it, "inner done:", inner.done())
    r = await inner
    print("iteration", it, "inner result:", r)

    failing = task(work("failing", 3, fail=True), "failing")
    g = task(guarded(failing), "guarded")
    await asyncio.sleep(0)
    g.cancel()
    try:
        await g
    except asyncio.CancelledError as e:
        show("awaiting guarded", e)
    for _ in range(4):
        await asyncio.sleep(0)
    print("iteration", it, "failing done:", failing.done(), "- dropping it")
    del failing, g
    gc.collect()

    victim = task(work("victim", 3), "victim")
    outer = asyncio.shield(victim)
    await asyncio.sleep(0)
    victim.cancel("victim message")
    try:
        await outer
    except asyncio.CancelledError as e:
        show("awaiting the shield of a cancelled task", e)
    print("iteration", it, "outer cancelled:", outer.cancelled())

    ok = task(work("ok", 1), "ok")
    r = await asyncio.shield(ok)
    print("iteration", it, "through the shield:", r)
    bad = task(work("bad", 1, fail=True), "bad")
    try:
        await asyncio.shield(bad)
    except ValueError as e:
        show("through the shield", e)
    print("shield(done) is done:", asyncio.shield(ok) is ok)


loop.set_exception_handler(handler)
loop.call_soon(tick)
loop.run_until_complete(main())
gc.collect()
loop.close()
