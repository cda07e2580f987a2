# The reprs that contain no Python source location or object address: the
# loop's (running/closed/debug flags), a Future's in each state (result
# None, an exception, cancelled, pending) and a cancelled Handle's, as they
# appear in logs and exception-handler contexts.
#
# Not for every version: Future.cancel(msg) is new in 3.9.
# versions: 3.9+
import asyncio

loop = asyncio.new_event_loop()
print(repr(loop))


def inside():
    print("inside:", repr(loop))
    loop.stop()


loop.call_soon(inside)
loop.run_forever()
loop.set_debug(True)
print("debug:", repr(loop))
loop.set_debug(False)

fut = loop.create_future()
print(repr(fut))
fut.set_result(None)
print(repr(fut))
fut = loop.create_future()
fut.set_exception(ValueError("it's bad"))
print(repr(fut))
fut.exception()
fut = loop.create_future()
fut.set_exception(KeyError("k"))
print(repr(fut))
fut.exception()
fut = loop.create_future()
fut.set_exception(RuntimeError())
print(repr(fut))
fut.exception()
fut = loop.create_future()
fut.cancel("with a message")
print(repr(fut))

h = loop.call_soon(print, "never")
h.cancel()
print(repr(h))
loop.close()
print(repr(loop))
