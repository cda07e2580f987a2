# More contexts: call_soon_threadsafe() captures the context of the thread
# that calls it (a new thread starts with an empty context, so the variable
# shows its default until that thread sets it); add_done_callback(...,
# context=ctx) and call_later(..., context=ctx) run in ctx itself, so what
# one sets the next one sees and ctx keeps; call_soon_threadsafe() on a
# closed loop from another thread raises 'Event loop is closed'. A callback
# whose context= is the context the loop itself runs in cannot enter it:
# RuntimeError('cannot enter context: ... is already entered'), reported
# to the exception handler like any callback error.
import asyncio
import contextvars
import threading

var = contextvars.ContextVar("var", default="default")
loop = asyncio.new_event_loop()


def show(label):
    print(label + ":", var.get())


def set_in_callback(label, value):
    print(label + ": sees", var.get(), "sets", value)
    var.set(value)


def done_in_ctx(fut):
    print("done callback in ctx: sees", var.get(), "sets done")
    var.set("done")


def worker():
    loop.call_soon_threadsafe(show, "threadsafe from a new thread")
    var.set("thread")
    loop.call_soon_threadsafe(show, "threadsafe after the thread set it")


def closed_from_thread():
    try:
        loop.call_soon_threadsafe(show, "never")
    except RuntimeError as e:
        print("threadsafe on a closed loop from a thread:", "%s: %s" % (type(e).__name__, e))


var.set("main")
t = threading.Thread(target=worker)
t.start()
t.join()
loop.call_soon_threadsafe(show, "threadsafe from the main thread")

ctx = contextvars.Context()
loop.call_later(0, set_in_callback, "timer in ctx", "timer", context=ctx)
fut = loop.create_future()
fut.add_done_callback(done_in_ctx, context=ctx)
loop.call_soon(fut.set_result, None)
loop.call_later(0.01, show, "timer in ctx after the others", context=ctx)
loop.call_later(0.02, loop.stop)
loop.run_forever()
print("ctx holds:", ctx.get(var))
print("main still:", var.get())


def handler(the_loop, context):
    exc = context["exception"]
    print("handler:", context["message"].startswith("Exception in callback"), type(exc).__name__,
          str(exc).startswith("cannot enter context: <_contextvars.Context object at "),
          str(exc).endswith("> is already entered"))


outer = contextvars.Context()
loop.set_exception_handler(handler)
loop.call_soon(show, "never: outer is entered", context=outer)
loop.call_soon(loop.stop)
outer.run(loop.run_forever)
loop.close()
t = threading.Thread(target=closed_from_thread)
t.start()
t.join()
