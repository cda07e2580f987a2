# stop() before run_forever(): exactly one iteration runs, with a zero poll
# timeout: the ready callbacks and the call_later(0) timer run, a far timer
# does not, and what they schedule waits for the next run. The stop request
# is consumed by that run: the next run_forever() runs until stopped again.
import asyncio

loop = asyncio.new_event_loop()


def cb(name):
    print("run", name)
    loop.call_soon(print, "run", "follow-up of " + name)


loop.call_soon(cb, "soon")
loop.call_later(0, cb, "later(0)")
loop.call_later(3600, cb, "later(3600)")
loop.stop()
print("stopping is not running:", loop.is_running())
loop.run_forever()
print("returned after one iteration")
loop.call_soon(loop.stop)
loop.run_forever()
print("returned again")
loop.stop()
loop.stop()
loop.run_forever()
print("two stops: one iteration, nothing to run")
loop.close()
