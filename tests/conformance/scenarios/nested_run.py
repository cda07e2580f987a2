# Running a loop from inside itself or while another loop runs in the same
# thread: run_forever()/run_until_complete() on the running loop raise
# RuntimeError('This event loop is already running'); on a second loop they
# raise RuntimeError('Cannot run the event loop while another loop is
# running'). The failed attempts leave the running loop running and the
# future pending; once the first loop has stopped the second one runs
# normally.
#
# Not for every version: on 3.13 the script never ends (killed after 10 s), so it has no trace there.
# versions: 3.8-3.12
import asyncio

loop = asyncio.new_event_loop()
loop2 = asyncio.new_event_loop()


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


def inside():
    fut = loop.create_future()
    attempt("run_forever on itself", loop.run_forever)
    attempt("run_until_complete on itself", loop.run_until_complete, fut)
    print("still running:", loop.is_running(), "future pending:", not fut.done())
    fut2 = loop2.create_future()
    attempt("run_forever on another loop", loop2.run_forever)
    attempt("run_until_complete on another loop", loop2.run_until_complete, fut2)
    print("other loop running:", loop2.is_running())
    loop.stop()


loop.call_soon(inside)
loop.run_forever()
print("first loop stopped; running:", loop.is_running())
loop2.call_soon(print, "second loop runs now")
loop2.call_soon(loop2.stop)
loop2.run_forever()
loop2.close()
loop.close()
