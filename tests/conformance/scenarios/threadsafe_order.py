# call_soon_threadsafe() from the loop's own thread, interleaved with
# call_soon(), keeps the order of scheduling - both before the loop runs and
# from a running callback; and callbacks another thread schedules while the
# loop is not running are queued in the order they were scheduled, after
# those scheduled before them.
import asyncio
import threading

loop = asyncio.new_event_loop()


def interleave(tag):
    loop.call_soon(print, tag, "soon 1")
    loop.call_soon_threadsafe(print, tag, "threadsafe 2")
    loop.call_soon(print, tag, "soon 3")
    loop.call_soon_threadsafe(print, tag, "threadsafe 4")
    loop.call_soon(print, tag, "soon 5")


interleave("before run:")
loop.call_soon(interleave, "in a callback:")
loop.call_soon(print, "before run: soon 6")
loop.call_later(0.1, loop.stop)
loop.run_forever()

# Another thread, while the loop is not running.
loop.call_soon(print, "main: soon A")
t = threading.Thread(target=lambda: [loop.call_soon_threadsafe(print, "thread:", i) for i in range(3)])
t.start()
t.join()
loop.call_soon(print, "main: soon B")
loop.call_soon_threadsafe(print, "main: threadsafe C")
loop.stop()
loop.run_forever()
loop.close()
