# Debug mode: with slow_callback_duration set to 0.05, a callback that runs
# for 0.1 s is logged as a WARNING 'Executing <handle> took 0.1xx seconds'
# (only its shape is compared: it names the handle and ends ' seconds'),
# while a fast callback is not; get_debug() reports the mode and the
# default threshold is 0.1. Debug mode also checks callbacks: call_soon(None)
# raises TypeError at once, and call_soon() from another thread while the
# loop runs raises RuntimeError('Non-thread-safe operation ...').
import asyncio
import logging
import threading
import time


class Printer(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        print("log:", record.levelname, "starts 'Executing ':", message.startswith("Executing "),
              "ends ' seconds':", message.endswith(" seconds"))


logging.getLogger("asyncio").addHandler(Printer())
loop = asyncio.new_event_loop()
print("debug:", loop.get_debug(), "slow_callback_duration:", loop.slow_callback_duration)
loop.set_debug(True)
loop.slow_callback_duration = 0.05
print("debug:", loop.get_debug(), "slow_callback_duration:", loop.slow_callback_duration)


def slow():
    print("slow callback: sleep 0.1 s")
    time.sleep(0.1)


def fast():
    print("fast callback")


def relax():
    # the thread part below need not be fast: no threshold for it
    loop.slow_callback_duration = 60


def attempt(label, fn, *args):
    try:
        fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "no exception")


def from_thread():
    attempt("call_soon from another thread", loop.call_soon, fast)
    attempt("call_soon_threadsafe from another thread", loop.call_soon_threadsafe, loop.stop)


def start_thread():
    t = threading.Thread(target=from_thread)
    t.start()
    t.join()


attempt("call_soon(None)", loop.call_soon, None)
attempt("call_later(1, None)", loop.call_later, 1, None)
loop.call_soon(slow)
loop.call_soon(fast)
loop.call_soon(relax)
loop.call_later(0.01, start_thread)
loop.run_forever()
loop.close()
