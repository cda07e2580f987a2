# asyncio.Runner: the loop is made on first use; run() runs coroutines one
# after another on the same loop and in the runner's one context (a
# context variable set by one run is seen by the next) unless context= is
# given; a failing run leaves the runner usable; run() inside a running
# loop, and anything after close(), is refused; close() cancels the tasks
# left over and closes the loop; close() twice, or on a runner never used,
# does nothing (the loop can still be made after it); debug= reaches the loop; loop_factory= makes the loop.
#
# Not for every version: asyncio.Runner is new in 3.11.
# versions: 3.11+
import asyncio
import contextvars

var = contextvars.ContextVar("var", default="unset")


def show(label, e):
    print(label + ":", "%s: %s" % (type(e).__name__, e))


async def first():
    var.set("first")
    loop = asyncio.get_running_loop()

    async def leftover():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print("leftover cancelled at close")
            raise
    global left
    left = loop.create_task(leftover())
    return "first result"


async def second():
    return "second sees var=" + var.get()


async def failing():
    await asyncio.sleep(0)
    raise ValueError("failing")


async def nested(r):
    coro = second()
    try:
        r.run(coro)
    except RuntimeError as e:
        show("run inside a loop", e)
    coro.close()
    return "nested result"


def main():
    r = asyncio.Runner()
    r.close()
    early = r.get_loop()
    print("close() before use does nothing: get_loop() makes the loop:", not early.is_closed())
    r.close()
    print("closed now:", early.is_closed())

    with asyncio.Runner() as r:
        loop = r.get_loop()
        print("loop made:", loop.is_closed(), loop.get_debug())
        print(r.run(first()))
        print("same loop:", r.get_loop() is loop)
        print(r.run(second()))
        ctx = contextvars.Context()
        print(r.run(second(), context=ctx), "(context=)")
        try:
            r.run(failing())
        except ValueError as e:
            show("run raised", e)
        print(r.run(second()), "after a failure")
        print(r.run(nested(r)))
        try:
            r.run(None)
        except ValueError as e:
            show("run(None)", e)
    print("after the with:", loop.is_closed(), left.cancelled())
    coro = second()
    try:
        r.run(coro)
    except RuntimeError as e:
        show("run after close", e)
    coro.close()
    try:
        r.get_loop()
    except RuntimeError as e:
        show("get_loop after close", e)
    r.close()
    print("close twice: nothing")

    with asyncio.Runner(debug=True) as r:
        print("debug:", r.get_loop().get_debug())

    made = []

    def factory():
        loop = asyncio.new_event_loop()
        made.append(loop)
        return loop
    with asyncio.Runner(loop_factory=factory) as r:
        print("factory loop:", r.get_loop() is made[0], len(made))
    print("factory loop closed:", made[0].is_closed())


main()
