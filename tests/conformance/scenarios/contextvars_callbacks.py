# Callbacks and contexts: call_soon()/call_later() capture a copy of the
# current context when they are scheduled (later changes are not seen);
# changes a callback makes inside its copy do not leak to the caller or to
# other callbacks; context=ctx runs the callback in ctx itself, so its
# changes persist in ctx for the next callback given the same context;
# Future done callbacks capture the context at add_done_callback() time.
import asyncio
import contextvars

var = contextvars.ContextVar("var", default="default")
loop = asyncio.new_event_loop()


def show(label):
    print(label + ":", var.get())


def change(label, value):
    print(label + ": sees", var.get(), "sets", value)
    var.set(value)
    loop.call_soon(show, "  scheduled after the change")


def on_done(fut):
    print("done callback:", var.get())


print("start:", var.get())
var.set("A")
loop.call_soon(show, "scheduled with A")
loop.call_later(0, show, "timer scheduled with A")
var.set("B")
loop.call_soon(show, "scheduled with B")
loop.call_soon(change, "change in a copy", "C")
loop.call_soon(show, "scheduled with B, after the change")

ctx = contextvars.Context()
print("fresh context has var:", var in ctx)
loop.call_soon(change, "change in ctx", "X", context=ctx)
loop.call_soon(show, "next callback in ctx", context=ctx)
copied = contextvars.copy_context()
loop.call_soon(show, "in a copy taken with B", context=copied)

fut = loop.create_future()
var.set("D")
fut.add_done_callback(on_done)
var.set("E")
fut.set_result(None)
loop.stop()
loop.run_forever()
loop.stop()
loop.run_forever()
print("caller after the run:", var.get())
print("ctx now holds:", ctx.get(var), "len", len(ctx))
print("copied still holds:", copied.get(var))
loop.close()
