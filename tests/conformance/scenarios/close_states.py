# close(): refused while running (RuntimeError 'Cannot close a running event
# loop'); idempotent; is_closed() reports it; pending callbacks and timers
# are dropped without running and without being marked cancelled; afterwards
# scheduling, running and adding readers/writers/signal handlers raise
# RuntimeError('Event loop is closed'), while remove_reader(),
# remove_writer() and remove_signal_handler() just return False.
import asyncio
import signal
import socket

loop = asyncio.new_event_loop()


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
    else:
        print(label + ":", "returned", value)


def inside():
    attempt("close() while running", loop.close)
    print("is_closed while running:", loop.is_closed(), "is_running:", loop.is_running())
    loop.stop()


loop.call_soon(inside)
loop.run_forever()
print("is_closed before close:", loop.is_closed())
pending = loop.call_soon(print, "pending callback ran (wrong)")
timer = loop.call_later(0, print, "pending timer ran (wrong)")
attempt("close()", loop.close)
print("is_closed:", loop.is_closed(), "is_running:", loop.is_running())
attempt("close() again", loop.close)
print("pending handles cancelled:", pending.cancelled(), timer.cancelled())

a, b = socket.socketpair()
attempt("call_soon", loop.call_soon, print, "x")
attempt("call_later", loop.call_later, 1, print, "x")
attempt("call_at", loop.call_at, loop.time() + 1, print, "x")
attempt("call_soon_threadsafe", loop.call_soon_threadsafe, print, "x")
attempt("run_forever", loop.run_forever)
fut = loop.create_future()
attempt("run_until_complete", loop.run_until_complete, fut)
attempt("add_reader", loop.add_reader, a.fileno(), print)
attempt("add_writer", loop.add_writer, a.fileno(), print)
attempt("add_signal_handler", loop.add_signal_handler, signal.SIGUSR1, print)
attempt("add_signal_handler(0)", loop.add_signal_handler, 0, print)
attempt("remove_reader", loop.remove_reader, a.fileno())
attempt("remove_writer", loop.remove_writer, a.fileno())
attempt("remove_signal_handler", loop.remove_signal_handler, signal.SIGUSR1)
attempt("stop", loop.stop)
a.close()
b.close()
