# loop.shutdown_asyncgens() closes the async generators the loop saw first
# iterated and that are still alive: a generator left suspended at a yield
# gets aclose() in a task of its own (its finally block runs and may await);
# a generator whose cleanup raises is reported to the exception handler
# ('an error occurred during closing of asynchronous generator ...', keys
# asyncgen/exception/message). Every generator still alive counts, even one
# already exhausted or closed: each gets its own aclose() task (a no-op), so
# the task numbers move on by one per generator; a generator never iterated
# is not known to the loop. A second shutdown_asyncgens() has nothing left.
# The closing tasks run in set order: their output is collected and sorted.
#
# Not for every version: anext() is new in 3.10.
# versions: 3.10+
import asyncio

loop = asyncio.new_event_loop()
events = []


def handler(the_loop, context):
    events.append("handler: %s %s %s" % (context["message"].startswith(
        "an error occurred during closing of asynchronous generator"),
        sorted(context), "%s: %s" % (type(context["exception"]).__name__, context["exception"])))


async def open_gen():
    try:
        yield "open 1"
        yield "open 2"
    finally:
        events.append("open_gen cleanup starts")
        await asyncio.sleep(0)
        events.append("open_gen cleanup done")


async def bad_cleanup():
    try:
        yield "bad 1"
    finally:
        events.append("bad_cleanup raises")
        raise KeyError("cleanup failed")


async def short():
    yield "short 1"


async def untouched():
    print("untouched runs (it must not)")
    yield "never"


async def name_of_a_new_task():
    return asyncio.current_task().get_name()


kept = {}


async def main():
    kept["open"] = g = open_gen()
    print("got", await anext(g))
    kept["bad"] = b = bad_cleanup()
    print("got", await anext(b))
    kept["exhausted"] = s = short()
    async for v in s:
        print("got", v)
    kept["closed"] = c = short()
    print("got", await anext(c))
    await c.aclose()
    kept["untouched"] = untouched()
    print("main is", asyncio.current_task().get_name())


loop.set_exception_handler(handler)
loop.run_until_complete(main())
print("shutdown_asyncgens")
loop.run_until_complete(loop.shutdown_asyncgens())
for line in sorted(events):
    print(line)
print("next task:", loop.run_until_complete(name_of_a_new_task()))
print("shutdown_asyncgens again")
loop.run_until_complete(loop.shutdown_asyncgens())
print("next task:", loop.run_until_complete(name_of_a_new_task()))
loop.close()
