# run_in_executor(): a function's result and its exception come back to the
# awaiting task; with one worker the results keep the submission order;
# the default executor is made on first use; set_default_executor() takes
# only a ThreadPoolExecutor (3.11's TypeError); after
# shutdown_default_executor() the default executor refuses work with
# RuntimeError while another executor still works; a closed loop refuses
# run_in_executor() itself.
#
# Not for every version: loop.shutdown_default_executor() is new in 3.9.
# versions: 3.9+
import asyncio
import concurrent.futures

loop = asyncio.new_event_loop()


def double(n):
    return n * 2


def fail(n):
    raise ValueError("boom %d" % n)


async def main():
    print("result:", await loop.run_in_executor(None, double, 21))
    try:
        await loop.run_in_executor(None, fail, 1)
    except ValueError as e:
        print("raised:", "%s: %s" % (type(e).__name__, e))
    fut = loop.run_in_executor(None, double, 5)
    print("is a future:", isinstance(fut, asyncio.Future), "done at once:", fut.done())
    print("awaited:", await fut)

    one = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    futs = [loop.run_in_executor(one, double, n) for n in range(1, 6)]
    print("in order:", await asyncio.gather(*futs))

    try:
        loop.set_default_executor(None)
    except TypeError as e:
        print("set_default_executor(None):", "%s: %s" % (type(e).__name__, e))
    mine = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    loop.set_default_executor(mine)
    print("mine:", await loop.run_in_executor(None, double, 50))

    print("shutdown_default_executor:", await loop.shutdown_default_executor())
    try:
        loop.run_in_executor(None, double, 1)
    except RuntimeError as e:
        print("after shutdown:", "%s: %s" % (type(e).__name__, e))
    try:
        mine.submit(double, 1)
    except RuntimeError as e:
        print("the pool itself:", "%s: %s" % (type(e).__name__, e))
    print("another executor:", await loop.run_in_executor(one, double, 7))
    one.shutdown(wait=True)


loop.run_until_complete(main())
loop.close()
try:
    loop.run_in_executor(None, double, 1)
except RuntimeError as e:
    print("closed loop:", "%s: %s" % (type(e).__name__, e))
