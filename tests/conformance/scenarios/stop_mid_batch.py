# stop() called from a callback in the middle of a batch: the rest of that
# batch (including timers that were due) still runs, then run_forever()
# returns; callbacks scheduled during the batch run on the next
# run_forever(), and the loop is not running in between.
import asyncio

loop = asyncio.new_event_loop()


def cb(name):
    print("run", name, "running:", loop.is_running())
    if name == "b":
        loop.stop()
        loop.call_soon(cb, "x (scheduled by b after stop)")
    if name == "x (scheduled by b after stop)":
        loop.stop()


def again():
    print("run again: stop again")
    loop.stop()


loop.call_soon(cb, "a")
loop.call_soon(cb, "b")
loop.call_soon(cb, "c")
loop.call_at(loop.time() - 1, cb, "due timer")
loop.call_later(3600, cb, "far timer")
loop.run_forever()
print("first run_forever returned; running:", loop.is_running())
loop.run_forever()
print("second run_forever returned")
loop.call_soon(again)
loop.run_forever()
print("third run_forever returned")
loop.close()
