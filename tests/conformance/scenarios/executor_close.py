# close() with work in flight: it shuts the default executor down without
# waiting (the running function goes on) and does not touch a pool of the
# caller's, which still takes work; the futures of both stay pending for
# good, since their outcomes come to a closed loop.
import asyncio
import concurrent.futures
import threading

loop = asyncio.new_event_loop()
started = threading.Event()
gate = threading.Event()
ran = []
lock = threading.Lock()


def blocked(name):
    started.set()
    gate.wait(5)
    with lock:
        ran.append(name)
    return name


mine = concurrent.futures.ThreadPoolExecutor(max_workers=1)
running = loop.run_in_executor(None, blocked, "default")
queued = loop.run_in_executor(mine, blocked, "mine")
started.wait(5)
loop.close()
print("closed:", loop.is_closed(), "pending:", not running.done(), not queued.done())
gate.set()
mine.submit(lambda: None).result()  # still takes work
mine.shutdown(wait=True)
print("ran mine:", "mine" in ran)
print("still pending:", not running.done(), not queued.done())
