# asyncio.wait(): FIRST_COMPLETED returns one iteration after the first
# completion is seen (its done callback releases the waiter), with every
# future done by then in `done` (several when they finish together);
# FIRST_EXCEPTION returns at the first exception, or when all are done;
# ALL_COMPLETED waits for all. Nothing is raised and the children keep
# running. Only FIRST_EXCEPTION looks at an exception (marking it
# retrieved) and only while futures remain; otherwise a failed task left
# unexamined reports 'Task exception was never retrieved' when dropped.
# Futures already done still take the callback round trip; a repeated
# future counts once; an empty set raises ValueError. Sets are printed
# sorted by name.
import asyncio
import gc

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def handler(the_loop, context):
    print("iteration", it, "handler:", context["message"], context["future"].get_name())


async def work(name, steps, fail=False):
    for _ in range(steps):
        await asyncio.sleep(0)
    print("iteration", it, name, "raises" if fail else "returns")
    if fail:
        raise ValueError(name)
    return name


def names(fs):
    return sorted(f.get_name() for f in fs)


def tasks(*specs):
    return [loop.create_task(work(*spec), name=spec[0]) for spec in specs]


async def run_wait(label, fs, **kwargs):
    start = it
    done, pending = await asyncio.wait(fs, **kwargs)
    print("iteration", it, label, "after", it - start, "iterations: done", names(done),
          "pending", names(pending))
    return done, pending


async def main():
    a, b, c = tasks(("a", 8), ("b", 1), ("c", 1))
    await run_wait("FIRST_COMPLETED", [a, b, c, b], return_when=asyncio.FIRST_COMPLETED)
    await run_wait("ALL_COMPLETED", [a, b, c])

    d, e, f = tasks(("d", 4), ("e", 2, True), ("f", 6))
    await run_wait("FIRST_EXCEPTION", {d, e, f}, return_when=asyncio.FIRST_EXCEPTION)
    g, h = tasks(("g", 1), ("h", 2))
    await run_wait("FIRST_EXCEPTION without one", [g, h], return_when=asyncio.FIRST_EXCEPTION)
    await run_wait("FIRST_COMPLETED on done tasks", [g, h], return_when=asyncio.FIRST_COMPLETED)
    await run_wait("ALL_COMPLETED on d and f", [d, f])

    x, y = tasks(("x", 1, True), ("y", 3))
    await run_wait("ALL_COMPLETED with a failure", [x, y])
    print("iteration", it, "dropping x")
    del x
    gc.collect()
    z, w = tasks(("z", 1, True), ("w", 3))
    await run_wait("FIRST_COMPLETED with a failure", [z, w], return_when=asyncio.FIRST_COMPLETED)
    await w
    print("iteration", it, "dropping z")
    del z
    gc.collect()

    try:
        await asyncio.wait([])
    except ValueError as e:
        print("empty:", "%s: %s" % (type(e).__name__, e))


loop.set_exception_handler(handler)
loop.call_soon(tick)
loop.run_until_complete(main())
loop.close()
