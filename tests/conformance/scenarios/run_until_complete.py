# run_until_complete(future): returns the future's result, raises its
# exception (or CancelledError), and stops the loop one iteration after the
# future completes (the stop is itself a done callback); a loop stopped
# before the future completes raises RuntimeError('Event loop stopped before
# Future completed.'); a future of another loop is refused with ValueError;
# a closed loop raises 'Event loop is closed'. The script then ends with the
# future's exception uncaught (exit status 1).
#
# Not for every version: Task.cancel(msg) is new in 3.9.
# versions: 3.9+
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def attempt(label, fut):
    try:
        value = loop.run_until_complete(fut)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


def complete_at(n, fut, how):
    def check():
        if it < n:
            loop.call_soon(check)
            return
        print("iteration", it, "completing with", how)
        if how == "result":
            fut.set_result("the result")
        elif how == "exception":
            fut.set_exception(KeyError("missing"))
        else:
            fut.cancel("cancelled on purpose")
    loop.call_soon(check)


loop.call_soon(tick)
fut = loop.create_future()
complete_at(3, fut, "result")
attempt("result", fut)
print("returned after iteration", it)

start = it
fut = loop.create_future()
complete_at(it + 2, fut, "exception")
attempt("exception", fut)
print("iterations taken", it - start)

fut = loop.create_future()
complete_at(it + 1, fut, "cancel")
attempt("cancelled", fut)

start = it
attempt("already done", fut)
print("iterations taken", it - start)

fut = loop.create_future()
loop.call_soon(loop.stop)
attempt("stopped first", fut)
print("future still pending:", not fut.done())
fut.set_result("late")
loop.call_later(0.05, loop.stop)
loop.run_forever()
print("completing it later did not stop the loop early")

other = asyncio.new_event_loop()
foreign = other.create_future()
attempt("other loop's future", foreign)
other.close()

fut = loop.create_future()
fut.set_exception(ValueError("uncaught on purpose"))
loop.close()
attempt("closed loop", fut)
fut.exception()  # retrieved: no "never retrieved" report
loop = asyncio.new_event_loop()
fut2 = loop.create_future()
loop.call_soon(fut2.set_exception, ValueError("uncaught on purpose"))
print("ending with an uncaught exception")
loop.run_until_complete(fut2)
print("not reached")
