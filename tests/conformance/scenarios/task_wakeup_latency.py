# How many loop iterations a task takes to resume: a future completed in
# iteration N (by a callback or by another task) resumes the awaiting task
# in N+1, since the wakeup is a done callback scheduled at completion; a task
# awaiting another task resumes one iteration after that task returns (two
# tasks deep, two iterations after the future); sleep(0) and sleep(-1) yield
# for exactly one iteration; awaiting a future that is already done does not
# yield at all.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def complete(fut, value):
    print("iteration", it, "callback completes the future")
    fut.set_result(value)


async def wait_on(label, fut):
    start = it
    value = await fut
    print("iteration", it, label, "resumed with", value, "after", it - start, "iterations")
    return value


async def setter(fut):
    print("iteration", it, "setter task completes the future")
    fut.set_result("from a task")


async def inner_returns():
    await asyncio.sleep(0)
    print("iteration", it, "inner returns")
    return "inner value"


async def main():
    fut = loop.create_future()
    loop.call_soon(complete, fut, "from a callback")
    await wait_on("main (callback)", fut)

    fut = loop.create_future()
    loop.create_task(setter(fut))
    await wait_on("main (task)", fut)

    t = loop.create_task(inner_returns())
    await wait_on("main (awaiting a task)", t)

    fut = loop.create_future()
    middle = loop.create_task(wait_on("middle", fut))
    loop.call_soon(complete, fut, "two tasks deep")
    await wait_on("main (task awaiting a task)", middle)

    for delay in (0, -1, 0.0):
        start = it
        await asyncio.sleep(delay)
        print("iteration", it, "sleep(%r) took" % (delay,), it - start, "iterations")

    done = loop.create_future()
    done.set_result("already there")
    await wait_on("main (done future)", done)
    start = it
    for _ in range(3):
        await done
    print("iteration", it, "three awaits of a done future took", it - start, "iterations")


loop.call_soon(tick)
loop.run_until_complete(main())
print("ended at iteration", it)
loop.close()
