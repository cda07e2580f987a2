# run_until_complete(None): asyncio checks the loop first (closed, then
# already running) and only then the argument, so None gives
# RuntimeError('Event loop is closed') on a closed loop, RuntimeError('This
# event loop is already running') from inside a callback, and the TypeError
# 'An asyncio.Future, a coroutine or an awaitable is required' otherwise.
import asyncio

loop = asyncio.new_event_loop()


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


def inside():
    attempt("running loop, None", loop.run_until_complete, None)
    loop.stop()


attempt("open loop, None", loop.run_until_complete, None)
loop.call_soon(inside)
loop.run_forever()
loop.close()
attempt("closed loop, None", loop.run_until_complete, None)
