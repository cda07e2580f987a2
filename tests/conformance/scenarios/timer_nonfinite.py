# Timers with NaN, infinite and huge deadlines (call_later and call_at).
# A NaN deadline at the head of the heap makes the poll timeout 0
# (max(0, nan) is 0) and is due at once (nan >= end_time is false); the
# heap, ordered with <, leaves the timers a NaN stands above where they
# are; an infinite deadline never fires; none of them blocks the loop.
import asyncio
import math

loop = asyncio.new_event_loop()
order = []


def cb(name):
    order.append(name)


h = loop.call_later(math.nan, cb, "nan")
loop.call_at(math.nan, cb, "nan_at")
loop.call_later(math.inf, cb, "inf")
loop.call_later(-math.inf, cb, "-inf")
loop.call_later(1e308, cb, "huge")
loop.call_at(-1e308, cb, "-huge")
loop.call_later(0.01, cb, "later")
loop.call_later(0.05, loop.stop)
loop.run_forever()
print("ran:", " ".join(order))
print("nan when is nan:", math.isnan(h.when()))
loop.close()

# A NaN timer alone: the loop does not block on it.
loop = asyncio.new_event_loop()
loop.call_later(math.nan, loop.stop)
loop.run_forever()
print("stopped by a nan timer")
loop.close()


# sleep, wait_for, wait and timeout scopes with NaN and infinite delays.
async def main():
    loop = asyncio.get_running_loop()
    await asyncio.sleep(math.nan)
    print("sleep(nan) returned")
    f = loop.create_future()
    try:
        await asyncio.wait_for(f, math.nan)
    except TimeoutError:
        print("wait_for(nan): TimeoutError, cancelled", f.cancelled())
    f = loop.create_future()
    done, pending = await asyncio.wait([f], timeout=math.nan)
    print("wait(nan):", len(done), len(pending))
    f.cancel()
    try:
        async with asyncio.timeout(math.nan) as t:
            await asyncio.sleep(1)
    except TimeoutError:
        print("timeout(nan): TimeoutError, when is nan", math.isnan(t.when()))
    try:
        async with asyncio.timeout(-math.inf):
            await asyncio.sleep(1)
    except TimeoutError:
        print("timeout(-inf): TimeoutError")
    async with asyncio.timeout(1e308):
        await asyncio.sleep(0.01)
    print("timeout(huge): no timeout")
    f = loop.create_future()
    loop.call_later(0.01, f.set_result, "five")
    print("wait_for(inf):", await asyncio.wait_for(f, math.inf))


asyncio.run(main())
