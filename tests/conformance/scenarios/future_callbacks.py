# Future done callbacks: they run in registration order, one iteration after
# the future completes (scheduled with call_soon at completion, so after
# callbacks queued before set_result() and before those queued after it);
# add_done_callback() on a done future schedules the callback at once (it
# still runs on a later iteration, never inline); remove_done_callback()
# removes every registration of the callback and returns the count;
# cancel() runs the callbacks too.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    if it == 6:
        loop.stop()
    loop.call_soon(tick)


def cb1(fut):
    print("iteration", it, "cb1 done:", fut.done(), "result:", fut.result())


def cb2(fut):
    print("iteration", it, "cb2")


def cb3(fut):
    print("iteration", it, "cb3")


def late(fut):
    print("iteration", it, "late (added when done)")


def on_cancel(fut):
    print("iteration", it, "on_cancel cancelled:", fut.cancelled())


def say(what):
    print("iteration", it, what)


fut = loop.create_future()
fut.add_done_callback(cb1)
fut.add_done_callback(cb2)
fut.add_done_callback(cb1)
fut.add_done_callback(cb3)
fut.add_done_callback(cb2)
print("removed cb2:", fut.remove_done_callback(cb2))
print("removed cb2 again:", fut.remove_done_callback(cb2))
fut.add_done_callback(cb2)

other = loop.create_future()
other.add_done_callback(on_cancel)


def complete():
    say("complete: call_soon before set_result")
    loop.call_soon(say, "queued before set_result")
    fut.set_result(42)
    loop.call_soon(say, "queued after set_result")
    fut.add_done_callback(late)
    print("iteration", it, "done right after set_result:", fut.done())


def cancel_other():
    print("iteration", it, "cancel:", other.cancel(), other.cancel())
    other.add_done_callback(on_cancel)


loop.call_soon(tick)
loop.call_soon(complete)
loop.call_later(0, cancel_other)
loop.run_forever()
print("removed cb1 after completion:", fut.remove_done_callback(cb1))
loop.close()
