# Loops and threads: in a thread the program starts itself (a C thread; in
# Python a _thread thread, which threading names 'Dummy-1'),
# get_running_loop() raises 'no running event loop', get_event_loop()
# creates nothing and raises "There is no current event loop in thread
# 'Dummy-1'.", and add_signal_handler() raises RuntimeError('set_wakeup_fd
# only works in main thread of the main interpreter'); set_event_loop()
# makes a loop current for that thread only. Each thread has its own
# running loop: a second loop runs in the thread while the main one runs,
# and reports back with call_soon_threadsafe().
import _thread
import asyncio
import signal
import threading

main_loop = asyncio.new_event_loop()
done = threading.Event()


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", "a loop" if isinstance(value, asyncio.AbstractEventLoop) else value)


def report(text):
    print("main loop got:", text)
    main_loop.stop()


def in_thread_loop(loop):
    print("thread loop: get_running_loop() is its loop:", asyncio.get_running_loop() is loop)
    main_loop.call_soon_threadsafe(report, "hello from the thread's loop")
    loop.stop()


def thread_main():
    attempt("thread: get_running_loop()", asyncio.get_running_loop)
    attempt("thread: get_event_loop()", asyncio.get_event_loop)
    loop = asyncio.new_event_loop()
    attempt("thread: add_signal_handler()", loop.add_signal_handler, signal.SIGUSR1, print)
    asyncio.set_event_loop(loop)
    print("thread: get_event_loop() is the set loop:", asyncio.get_event_loop() is loop)
    loop.call_soon(in_thread_loop, loop)
    loop.run_forever()
    asyncio.set_event_loop(None)
    loop.close()
    done.set()


def start():
    print("main loop running:", main_loop.is_running())
    _thread.start_new_thread(thread_main, ())


main_loop.call_soon(start)
main_loop.call_later(5, report, "timeout (wrong)")
main_loop.run_forever()
done.wait(5)
print("main: get_running_loop() raises after the run")
attempt("main: get_running_loop()", asyncio.get_running_loop)
main_loop.close()
