# Cancelling, from an earlier callback of the same iteration, a timer that
# is already due (popped into the ready queue) skips it; cancelling a ready
# call_soon handle from an earlier callback of the batch likewise.
# cancel() on a timer that already ran still marks it cancelled; when()
# returns the deadline call_at() was given.
import asyncio

loop = asyncio.new_event_loop()
t = loop.time() - 1


def first():
    print("first: cancel second")
    second_handle.cancel()


def cancel_soon():
    print("ready callback: cancel the soon handle")
    soon_handle.cancel()


def second():
    print("second ran (wrong)")


def third():
    print("third ran")


loop.call_soon(cancel_soon)
first_handle = loop.call_at(t, first)
second_handle = loop.call_at(t + 0.5, second)
third_handle = loop.call_at(t + 0.6, third)
soon_handle = loop.call_soon(print, "soon handle ran (wrong)")
print("when() == t:", first_handle.when() == t, second_handle.when() == t + 0.5)
loop.stop()
loop.run_forever()
print("cancelled:", first_handle.cancelled(), second_handle.cancelled(),
      third_handle.cancelled(), soon_handle.cancelled())
third_handle.cancel()
print("cancel after it ran:", third_handle.cancelled())
loop.close()
