# Future.result()/exception() errors and state checks: a pending future
# raises InvalidStateError('Result is not set.') / ('Exception is not set.');
# a second set_result()/set_exception() raises InvalidStateError('invalid
# state'); result() raises a stored exception and exception() returns it;
# set_exception(StopIteration()) is refused with TypeError and the future
# stays pending; a cancelled future raises CancelledError with the cancel
# message (empty without one) from result() and exception().
#
# Not for every version: Future.cancel(msg) is new in 3.9.
# versions: 3.9+
import asyncio

loop = asyncio.new_event_loop()


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


f = loop.create_future()
print("pending: done", f.done(), "cancelled", f.cancelled(), "get_loop is loop", f.get_loop() is loop)
attempt("pending result()", f.result)
attempt("pending exception()", f.exception)
f.set_result(1)
attempt("result()", f.result)
attempt("exception()", f.exception)
attempt("set_result again", f.set_result, 2)
attempt("set_exception when done", f.set_exception, ValueError("late"))
attempt("cancel when done", f.cancel)
print("still result:", f.result(), "done", f.done(), "cancelled", f.cancelled())

f = loop.create_future()
attempt("set_exception(StopIteration())", f.set_exception, StopIteration())
print("after StopIteration: done", f.done())
f.set_exception(ValueError("bad value"))
attempt("result() with exception", f.result)
print("exception():", "%s: %s" % (type(f.exception()).__name__, f.exception()))
attempt("set_result after exception", f.set_result, 3)

f = loop.create_future()
print("cancel('stop it'):", f.cancel("stop it"))
print("cancelled", f.cancelled(), "done", f.done())
attempt("cancelled result()", f.result)
attempt("cancelled exception()", f.exception)
attempt("set_result on cancelled", f.set_result, 4)
print("cancel again:", f.cancel("other"))
attempt("message kept", f.result)

f = loop.create_future()
f.cancel()
attempt("cancelled without message result()", f.result)
loop.close()
