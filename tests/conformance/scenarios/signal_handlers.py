# add_signal_handler(): the handler runs with its *args when the signal
# arrives, two iterations after delivery (the wakeup byte is read by an I/O
# callback in the next iteration, which queues the handler for the one
# after); a second handler for the same signal replaces the first; invalid
# numbers raise ValueError('invalid signal number N') (0, 32, 65 on Linux),
# SIGKILL and SIGSTOP RuntimeError('sig N cannot be caught');
# remove_signal_handler() returns True, then False, and checks the number.
# A signal sent by another thread wakes a loop blocked in a long poll.
import asyncio
import os
import signal
import threading
import time

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    if it == 3:
        print("iteration", it, "os.kill(SIGUSR1)")
        os.kill(os.getpid(), signal.SIGUSR1)
    if it == 8:
        loop.stop()
    else:
        loop.call_soon(tick)


def handler(name):
    print("iteration", it, "handler", name)


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


attempt("add_signal_handler(SIGUSR1)", loop.add_signal_handler, signal.SIGUSR1, handler, "first")
attempt("replace it", loop.add_signal_handler, signal.SIGUSR1, handler, "second")
for sig in (0, 32, 65, -1):
    attempt("add_signal_handler(%d)" % sig, loop.add_signal_handler, sig, handler, "x")
attempt("add_signal_handler(SIGKILL)", loop.add_signal_handler, signal.SIGKILL, handler, "x")
attempt("add_signal_handler(SIGSTOP)", loop.add_signal_handler, signal.SIGSTOP, handler, "x")
loop.call_soon(tick)
loop.run_forever()

it = 0
loop.call_soon(tick)
loop.run_forever()


def wake_up():
    print("signal handler: stop the loop")
    loop.stop()


def send_later():
    time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGUSR2)


loop.add_signal_handler(signal.SIGUSR2, wake_up)
far = loop.call_later(3600, print, "the hour passed (wrong)")
thread = threading.Thread(target=send_later)
thread.start()
loop.run_forever()
thread.join()
print("woken by the signal; far timer pending:", not far.cancelled())
attempt("remove_signal_handler(SIGUSR2)", loop.remove_signal_handler, signal.SIGUSR2)
attempt("remove_signal_handler(SIGUSR1)", loop.remove_signal_handler, signal.SIGUSR1)
attempt("remove it again", loop.remove_signal_handler, signal.SIGUSR1)
attempt("remove_signal_handler(SIGHUP), never added", loop.remove_signal_handler, signal.SIGHUP)
attempt("remove_signal_handler(0)", loop.remove_signal_handler, 0)
attempt("remove_signal_handler(SIGKILL)", loop.remove_signal_handler, signal.SIGKILL)
loop.close()
