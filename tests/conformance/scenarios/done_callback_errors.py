# Future done callbacks once the future completes: each one is a separate
# Handle, so one that raises is reported to the exception handler ('handle'
# key present, no 'future' key) and the others still run; once the future
# is done, remove_done_callback() finds nothing (0) and cannot stop callbacks
# already scheduled; a callback that adds another one to the done future
# gets it run on the next iteration.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    if it == 3:
        loop.stop()
    else:
        loop.call_soon(tick)


def handler(the_loop, context):
    print("iteration", it, "handler:", sorted(context),
          context["message"].startswith("Exception in callback"),
          "%s: %s" % (type(context["exception"]).__name__, context["exception"]))


def first(fut):
    print("iteration", it, "first: remove_done_callback(third) ->", fut.remove_done_callback(third))
    fut.add_done_callback(added_later)


def failing(fut):
    print("iteration", it, "failing")
    raise ZeroDivisionError("division by zero")


def third(fut):
    print("iteration", it, "third still runs")


def added_later(fut):
    print("iteration", it, "added_later")


loop.set_exception_handler(handler)
fut = loop.create_future()
for cb in (first, failing, third):
    fut.add_done_callback(cb)
loop.call_soon(tick)
loop.call_soon(fut.set_result, None)
loop.run_forever()
loop.close()
