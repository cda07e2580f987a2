# add_reader()/add_writer() on a socketpair: add_reader() returns None; a
# second add_reader() for the same fd replaces the first (only the second
# fires); for one fd that is both readable and writable in the same
# iteration the reader runs before the writer, whatever order they were
# added in; I/O callbacks run after the callbacks already queued and before
# due timers; readers are level-triggered (an undrained fd fires every
# iteration); remove_reader()/remove_writer() return True, then False.
import asyncio
import socket

loop = asyncio.new_event_loop()
a, b = socket.socketpair()
a.setblocking(False)
b.setblocking(False)
it = 0


def tick():
    global it
    it += 1
    if it == 3:
        loop.stop()
    else:
        loop.call_soon(tick)


def reader(name):
    print("iteration", it, "reader", name)


def drain(name):
    print("iteration", it, "reader", name, "got", a.recv(100))


def writer(name):
    print("iteration", it, "writer", name)


print("add_reader returns:", loop.add_reader(a.fileno(), reader, "first"))
loop.add_reader(a.fileno(), drain, "second")
b.send(b"ping")
loop.call_soon(tick)
loop.call_later(0, print, "due timer")
loop.run_forever()

print("-- reader and writer on one fd")
it = 0
loop.add_writer(a.fileno(), writer, "w")
loop.add_reader(a.fileno(), reader, "r (not draining)")
b.send(b"x")
loop.call_soon(tick)
loop.run_forever()
print("remove_reader:", loop.remove_reader(a.fileno()), loop.remove_reader(a.fileno()))
print("remove_writer:", loop.remove_writer(a.fileno()), loop.remove_writer(a.fileno()))
print("remove on an fd never added:", loop.remove_reader(b.fileno()), loop.remove_writer(b.fileno()))
it = 0
loop.call_soon(tick)
loop.run_forever()
print("nothing fired after removal")
a.close()
b.close()
loop.close()
