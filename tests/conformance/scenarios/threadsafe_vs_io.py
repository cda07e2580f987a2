# Callbacks another thread schedules while the loop is busy running a
# callback join the ready queue at once, so they run in the next iteration
# (not the current batch), in the order they were scheduled relative to
# the loop thread's own call_soon() calls, and before that iteration's I/O
# callbacks; the rest of the current batch runs first.
import asyncio
import socket
import threading

loop = asyncio.new_event_loop()
a, b = socket.socketpair()
a.setblocking(False)


def say(what):
    print(what)


def reader():
    print("reader got", a.recv(10))
    loop.remove_reader(a.fileno())
    loop.stop()


def thread_main():
    loop.call_soon_threadsafe(say, "t1 (threadsafe)")
    b.send(b"x")
    loop.call_soon_threadsafe(say, "t2 (threadsafe)")


def busy():
    print("busy: start the thread and wait for it")
    t = threading.Thread(target=thread_main)
    t.start()
    t.join()
    loop.call_soon(say, "s1 (call_soon after the join)")
    print("busy: done")


loop.add_reader(a.fileno(), reader)
loop.call_soon(busy)
loop.call_soon(say, "after busy (same batch)")
loop.run_forever()
a.close()
b.close()
loop.close()
