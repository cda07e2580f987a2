# A negative delay is accepted and makes the timer due at once: it runs in
# the first iteration, after the ready callbacks, and timers run in deadline
# order (the most negative first), not in the order they were scheduled.
# The TimerHandle's when() is loop.time() + delay, in the past.
import asyncio

loop = asyncio.new_event_loop()
loop.call_soon(print, "call_soon")
h0 = loop.call_later(0, print, "call_later(0)")
h1 = loop.call_later(-1, print, "call_later(-1)")
h5 = loop.call_later(-5, print, "call_later(-5)")
h_half = loop.call_later(-0.5, print, "call_later(-0.5)")
print("when() in the past:", h1.when() < loop.time(), h5.when() < h1.when() < h_half.when())
loop.stop()
loop.run_forever()
print("one iteration ran them all")
loop.close()
