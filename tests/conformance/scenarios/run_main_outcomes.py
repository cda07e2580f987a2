# asyncio.run() passes main's outcome on after the shutdown: an exception
# raised by main comes out of run() once the leftover tasks have been
# cancelled and finished; a main cancelled (here by itself) makes run()
# raise CancelledError; asyncio.run() inside a running loop raises
# RuntimeError (before any loop is made), and asyncio.run(None) ValueError
# (after the runner made its loop, which it still shuts down). Tasks are
# numbered on across runs: each run uses one number for main and two for
# the shutdown steps, whatever main did; run(None) uses the two.
#
# Not for every version: Task.cancel(msg) is new in 3.9.
# versions: 3.9+
import asyncio
import warnings

warnings.simplefilter("ignore", RuntimeWarning)  # the nested run's unawaited coroutine


def attempt(label, main):
    try:
        value = asyncio.run(main)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


async def leftover():
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        print("leftover", asyncio.current_task().get_name(), "cancelled")
        raise


async def raising():
    print("raising main is", asyncio.current_task().get_name())
    asyncio.get_running_loop().create_task(leftover())
    await asyncio.sleep(0)
    raise ValueError("main failed")


async def self_cancelling():
    print("self-cancelling main is", asyncio.current_task().get_name())
    asyncio.current_task().cancel("main cancelled itself")
    await asyncio.sleep(0)


async def nested_inner():
    return "never"


async def nesting():
    print("nesting main is", asyncio.current_task().get_name())
    try:
        asyncio.run(nested_inner())
    except RuntimeError as e:
        print("nested run:", "%s: %s" % (type(e).__name__, e))
    return "nesting done"


async def plain():
    print("plain main is", asyncio.current_task().get_name())
    return 42


attempt("raising", raising())
attempt("self-cancelling", self_cancelling())
attempt("nesting", nesting())
attempt("None", None)
attempt("plain", plain())
