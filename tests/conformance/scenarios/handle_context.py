# Handle.get_context() and TimerHandle.get_context(): the copy of the
# current context call_soon()/call_later() took (the same object each time,
# later changes of the current context not in it), the context= object
# itself, kept after cancel(); the callback runs in that very object, so
# what is set in it before the run is seen, and what the run sets stays in
# it.
# Not for every version: Handle.get_context() is new in 3.12.
# versions: 3.12+
import asyncio
import contextvars

v = contextvars.ContextVar("v", default=0)
loop = asyncio.new_event_loop()


def cb(name):
    print(name, "runs with v =", v.get())
    v.set(v.get() + 100)


v.set(1)
h = loop.call_soon(cb, "h")
ctx = h.get_context()
print("same object:", h.get_context() is ctx, "v in it:", ctx[v])
v.set(2)
print("after v.set(2): in it", ctx[v], "here", v.get())
ctx.run(v.set, 50)
th = loop.call_later(0, cb, "th")
print("timer's v:", th.get_context()[v])
given = contextvars.Context()
hg = loop.call_soon(cb, "hg", context=given)
print("given is kept:", hg.get_context() is given)
hc = loop.call_soon(cb, "hc")
hc.cancel()
print("after cancel:", hc.get_context()[v])
loop.call_soon(loop.stop)
loop.run_forever()
print("h's context after its run:", ctx[v])
print("th's after its run:", th.get_context()[v])
print("given after its run:", given[v])
loop.close()
