# The default policy's behaviours that change with the version, as the
# target shows them: get_event_loop() creates the main thread's loop
# without a warning; the child watcher is made on first use and kept, and
# neither child watcher method warns; set_child_watcher() refuses what is
# not a watcher (AssertionError) and set_event_loop() what is not a loop
# (TypeError; AssertionError before 3.11), which still counts as having called it; a worker thread of
# a ThreadPoolExecutor is named in get_event_loop()'s error; an abstract
# policy's child watcher methods raise NotImplementedError.
import asyncio
import concurrent.futures
import warnings

warnings.simplefilter("always")
shown = []
warnings.showwarning = lambda message, category, *rest: shown.append(
    f"{category.__name__}: {message}")


def class_name(obj):
    return type(obj).__name__


def warned():
    text = ", ".join(shown) or "none"
    shown.clear()
    return text


loop = asyncio.get_event_loop()
print("implicit loop:", class_name(loop), "| warnings:", warned())
print("again the same:", asyncio.get_event_loop() is loop, "| warnings:", warned())

policy = asyncio.get_event_loop_policy()
watcher = asyncio.get_child_watcher()
print("child watcher:", class_name(watcher), "| warnings:", warned())
print("kept:", policy.get_child_watcher() is watcher, "| warnings:", warned())
asyncio.set_child_watcher(None)
print("set None | warnings:", warned())
again = asyncio.get_child_watcher()
print("made again:", class_name(again), again is not watcher, "| warnings:", warned())
try:
    asyncio.set_child_watcher(policy)
except AssertionError as e:
    print(f"{class_name(e)}: {e}", "| warnings:", warned())
print("unchanged:", asyncio.get_child_watcher() is again)
asyncio.set_child_watcher(None)
warned()
loop.close()

asyncio.set_event_loop_policy(None)
try:
    asyncio.set_event_loop(policy)
except (TypeError, AssertionError) as e:  # AssertionError before 3.11
    print(f"{class_name(e)}: {e}")
try:
    asyncio.get_event_loop()
except RuntimeError as e:
    print(f"{class_name(e)}: {e}", "| warnings:", warned())


def no_loop():
    try:
        asyncio.get_event_loop()
    except RuntimeError as e:
        return f"{class_name(e)}: {e}"


with concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio") as pool:
    print("in a worker:", pool.submit(no_loop).result())

asyncio.set_event_loop_policy(asyncio.AbstractEventLoopPolicy())
for name, call in [("get_child_watcher", lambda: asyncio.get_child_watcher()),
                   ("set_child_watcher", lambda: asyncio.set_child_watcher(None))]:
    try:
        call()
    except NotImplementedError as e:
        print(f"{name}: {class_name(e)}: {e}")
asyncio.set_event_loop_policy(None)
print("warnings at the end:", warned())
