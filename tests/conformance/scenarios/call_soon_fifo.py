# call_soon() runs callbacks once each, in the order they were scheduled
# (FIFO), passing *args; a cancelled handle is skipped; callbacks scheduled
# while the batch runs wait for the next iteration, after everything that
# was already queued.
import asyncio

loop = asyncio.new_event_loop()
order = []


def cb(n):
    order.append(n)
    print("cb", n)
    if n == 2:
        loop.call_soon(cb, 10)
        loop.call_soon(cb, 11)
    if n == 11:
        loop.stop()


handles = [loop.call_soon(cb, n) for n in range(6)]
print("handle 3 cancelled before:", handles[3].cancelled())
handles[3].cancel()
handles[3].cancel()  # idempotent
print("handle 3 cancelled after:", handles[3].cancelled())
loop.run_forever()
print("order:", order)
print("running after stop:", loop.is_running())
loop.close()
