# asyncio.run(main()): main runs as a task (Task-1 in a fresh process) on a
# new loop; its result is returned. Tasks still pending when main returns
# are cancelled and awaited: each sees CancelledError at its await and may
# still await during its cleanup; one that swallows the cancellation and
# returns is fine; one that ends with another exception is reported to the
# loop's exception handler as 'unhandled exception during asyncio.run()
# shutdown'. Shutdown then runs shutdown_asyncgens() and
# shutdown_default_executor() (one task and two iterations each), so a chain
# of callbacks started during cleanup runs a fixed number of times before
# the loop closes. Output of the leftovers is sorted, since asyncio.run()
# cancels them in set order.
#
# Not for every version: its tasks print Task.cancelling(), new in 3.11 (earlier, each raises AttributeError in its except block).
# versions: 3.11+
import asyncio

events = []
chain = 0


def handler(loop, context):
    events.append("handler: %s %s" % (context["message"], type(context["exception"]).__name__))


def link():
    global chain
    chain += 1
    asyncio.get_running_loop().call_soon(link)


async def leftover(name, how):
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError as e:
        events.append("%s cancelled: %s: %s, cancelling %d" % (
            name, type(e).__name__, e, asyncio.current_task().cancelling()))
        await asyncio.sleep(0)
        events.append(name + " cleanup awaited")
        if how == "swallow":
            return name
        if how == "chain":
            asyncio.get_running_loop().call_soon(link)
        if how == "fail":
            raise KeyError(name)
        raise


async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(handler)
    print("main is", asyncio.current_task().get_name())
    for name, how in (("plain", "raise"), ("swallower", "swallow"), ("failer", "fail"),
                      ("chainer", "chain")):
        loop.create_task(leftover(name, how), name=name)
    await asyncio.sleep(0)
    print("main returns with", len(asyncio.all_tasks()) - 1, "tasks left")
    return "main result"


print("asyncio.run returned:", asyncio.run(main()))
for line in sorted(events):
    print(line)
print("chain callbacks run during shutdown:", chain)


async def second():
    print("second main is", asyncio.current_task().get_name())
    return 2


print("second asyncio.run returned:", asyncio.run(second()))
