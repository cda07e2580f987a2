# SystemExit and KeyboardInterrupt raised by a callback are not reported
# to the exception handler: they propagate out of run_forever() (the loop is
# no longer running afterwards), and the rest of that batch stays queued and
# runs first on the next run_forever(). A custom exception handler that
# raises SystemExit propagates it too. The script ends with an uncaught
# SystemExit(4): exit status 4.
import asyncio

loop = asyncio.new_event_loop()


def handler(the_loop, context):
    print("handler called (wrong):", context["message"])


def raiser(kind, arg):
    print("raise", kind.__name__)
    raise kind(arg)


def attempt(label):
    try:
        loop.run_forever()
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e), "running:", loop.is_running())
    else:
        print(label + ":", "returned")


loop.set_exception_handler(handler)
loop.call_soon(print, "a")
loop.call_soon(raiser, SystemExit, "3")
loop.call_soon(print, "b (rest of the batch)")
loop.call_later(0, print, "due timer (rest of the batch)")
loop.call_soon(raiser, KeyboardInterrupt, "ctrl-c")
loop.call_soon(print, "c (rest of the batch)")
attempt("first run")
loop.call_soon(print, "d (scheduled between runs)")
attempt("second run")
loop.call_soon(loop.stop)
attempt("third run")


def exiting_handler(the_loop, context):
    message = context["message"]
    if message.startswith("Exception in callback"):
        message = "Exception in callback ..."
    print("exiting handler for", repr(message))
    raise SystemExit("from the handler")


def fail():
    raise ValueError("boom")


loop.set_exception_handler(exiting_handler)
loop.call_soon(fail)
loop.call_soon(print, "after the failing callback")
loop.call_soon(loop.stop)
attempt("handler raising SystemExit")
attempt("next run")
loop.set_exception_handler(None)
loop.call_soon(raiser, SystemExit, 4)
print("ending with an uncaught SystemExit(4)")
loop.run_forever()
