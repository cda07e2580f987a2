# get_running_loop() raises RuntimeError('no running event loop') outside a
# running loop and returns the loop inside its callbacks (get_event_loop()
# too, whatever loop is set); in the main thread get_event_loop() creates
# and sets a loop the first time and keeps returning it; new_event_loop()
# does not make its loop current; after set_event_loop(None) get_event_loop()
# raises "There is no current event loop in thread 'MainThread'.", and
# set_event_loop(loop) makes it current again.
import asyncio


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
        return None
    print(label + ":", "returned a loop" if isinstance(value, asyncio.AbstractEventLoop) else value)
    return value


attempt("get_running_loop() outside", asyncio.get_running_loop)
implicit = attempt("get_event_loop() first call", asyncio.get_event_loop)
print("same loop next time:", asyncio.get_event_loop() is implicit)
print("implicit loop running:", implicit.is_running(), "closed:", implicit.is_closed())
loop = asyncio.new_event_loop()
print("new loop is current:", asyncio.get_event_loop() is loop)


def inside():
    print("inside: get_running_loop() is loop:", asyncio.get_running_loop() is loop)
    print("inside: get_event_loop() is loop:", asyncio.get_event_loop() is loop)
    loop.stop()


loop.call_soon(inside)
loop.run_forever()
attempt("get_running_loop() after the run", asyncio.get_running_loop)

asyncio.set_event_loop(None)
attempt("get_event_loop() after set_event_loop(None)", asyncio.get_event_loop)
attempt("again", asyncio.get_event_loop)
loop.call_soon(inside)
loop.run_forever()
asyncio.set_event_loop(loop)
print("after set_event_loop(loop):", asyncio.get_event_loop() is loop)
asyncio.set_event_loop(None)
implicit.close()
loop.close()
