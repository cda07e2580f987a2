# call_soon_threadsafe() from another thread wakes a loop blocked in a long
# poll (its only timer is an hour away): the callback runs promptly, on the
# loop's thread, and can stop the loop. The thread is started from a
# callback and joined after run_forever() returns.
import asyncio
import threading
import time

loop = asyncio.new_event_loop()
main_thread = threading.get_ident()
state = {}


def worker():
    time.sleep(0.2)  # the loop is blocked in its poll by now
    state["scheduled_at"] = time.monotonic()
    loop.call_soon_threadsafe(woken, "from the worker")


def woken(arg):
    print("woken", arg)
    print("on the loop's thread:", threading.get_ident() == main_thread)
    print("prompt:", time.monotonic() - state["scheduled_at"] < 2.0)
    loop.stop()


def start():
    print("start the worker thread")
    state["thread"] = threading.Thread(target=worker)
    state["thread"].start()


loop.call_soon(start)
far = loop.call_later(3600, print, "the hour passed (wrong)")
loop.run_forever()
state["thread"].join()
print("joined; far timer still pending:", not far.cancelled())
loop.close()
