# One loop iteration runs, in this order: the callbacks queued before it
# started, then the timers that are due after the poll. So call_later(0, t)
# scheduled in the same callback as call_soon(g) runs after g but in the
# same iteration as g; a timer already in the past runs in the first
# iteration, after the ready callbacks, ordered by deadline.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    if it == 4:
        loop.stop()
    loop.call_soon(tick)


def log(name):
    print("iteration", it, name)


def a():
    log("A")
    loop.call_soon(log, "g (call_soon from A)")
    loop.call_later(0, log, "t (call_later(0) from A)")
    loop.call_soon(log, "h (call_soon from A)")


def t_past():
    log("T_past (call_at in the past)")
    loop.call_soon(log, "p (call_soon from T_past)")


def t_zero():
    log("T0 (call_later(0) before run)")
    loop.call_later(0, log, "t2 (call_later(0) from T0)")


loop.call_soon(tick)
loop.call_later(0, t_zero)
loop.call_soon(a)
loop.call_at(loop.time() - 1, t_past)
loop.run_forever()
print("stopped at iteration", it)
loop.close()
