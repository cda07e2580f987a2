# Reader/writer edge cases. Registration errors come from the selector:
# ValueError('Invalid file descriptor: -1') (also for remove_*),
# PermissionError for a regular file or a directory (epoll refuses them),
# OSError EBADF for a closed fd (remove_* on those just return False).
# A reader that removes or replaces the writer of its own fd, queued right
# after it in the same iteration, cancels that queued handle: it is
# skipped. A reader that raises is reported to the exception handler on
# every iteration while its fd stays readable.
import asyncio
import os
import socket
import tempfile

loop = asyncio.new_event_loop()
a, b = socket.socketpair()
it = 0


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


def tick():
    global it
    it += 1
    if it == 3:
        loop.stop()
    else:
        loop.call_soon(tick)


def run_iterations():
    global it
    it = 0
    loop.call_soon(tick)
    loop.run_forever()


attempt("add_reader(-1)", loop.add_reader, -1, print)
attempt("add_writer(-1)", loop.add_writer, -1, print)
attempt("remove_reader(-1)", loop.remove_reader, -1)
attempt("remove_writer(-1)", loop.remove_writer, -1)
with tempfile.TemporaryFile() as f:
    attempt("add_reader(regular file)", loop.add_reader, f.fileno(), print)
    attempt("remove_reader(regular file)", loop.remove_reader, f.fileno())
d = os.open(tempfile.gettempdir(), os.O_RDONLY)
attempt("add_writer(directory)", loop.add_writer, d, print)
os.close(d)
attempt("add_reader(closed fd)", loop.add_reader, 999, print)
attempt("remove_reader(closed fd)", loop.remove_reader, 999)


def writer(name):
    print("iteration", it, "writer", name)


def reader_removing_writer():
    print("iteration", it, "reader: remove_writer() ->", loop.remove_writer(a.fileno()))


def reader_replacing_writer():
    print("iteration", it, "reader: replace the writer")
    loop.add_writer(a.fileno(), writer, "replacement")
    loop.remove_reader(a.fileno())


print("-- reader removes the queued writer")
b.send(b"x")
loop.add_writer(a.fileno(), writer, "original")
loop.add_reader(a.fileno(), reader_removing_writer)
run_iterations()
loop.remove_reader(a.fileno())

print("-- reader replaces the queued writer")
loop.add_writer(a.fileno(), writer, "original")
loop.add_reader(a.fileno(), reader_replacing_writer)
run_iterations()
loop.remove_writer(a.fileno())
a.recv(10)

print("-- reader raising")
count = 0


def handler(the_loop, context):
    global count
    count += 1
    print("iteration", it, "handler:", context["message"].startswith("Exception in callback"),
          "%s: %s" % (type(context["exception"]).__name__, context["exception"]))
    if count == 2:
        print("  remove_reader ->", loop.remove_reader(a.fileno()))


def failing_reader():
    raise OSError("reader failed")


loop.set_exception_handler(handler)
b.send(b"y")
loop.add_reader(a.fileno(), failing_reader)
run_iterations()
print("handler calls:", count)
a.close()
b.close()
loop.close()
