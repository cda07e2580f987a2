# A Future whose exception nobody retrieved reports it through the loop's
# exception handler when the future is destroyed: message 'Future exception
# was never retrieved', keys exception/future/message, and the default
# handler's text shows the future's repr. Calling result() or exception(),
# or cancel() (even on a done future), marks the exception retrieved: no
# report. A future with a result, or a cancelled one, reports nothing.
import asyncio
import gc
import logging


class Printer(logging.Handler):
    def emit(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        print("record:", record.levelname, "exc_info:", "%s: %s" % (type(exc).__name__, exc) if exc else None)
        for line in record.getMessage().split("\n"):
            print("  |", line)


logging.getLogger("asyncio").addHandler(Printer())
loop = asyncio.new_event_loop()


def handler(the_loop, context):
    print("handler:", repr(context["message"]), sorted(context))
    print("  exception:", "%s: %s" % (type(context["exception"]).__name__, context["exception"]))
    print("  future:", repr(context["future"]))


def drop(label, how=None):
    fut = loop.create_future()
    fut.set_exception(ValueError(label))
    if how == "result":
        try:
            fut.result()
        except ValueError:
            pass
    elif how == "exception":
        fut.exception()
    elif how == "cancel":
        print("cancel() on the done future:", fut.cancel())
    print("dropping", label)
    del fut
    gc.collect()


loop.set_exception_handler(handler)
drop("never looked at")
drop("result() called", "result")
drop("exception() called", "exception")
drop("cancelled when done", "cancel")

fut = loop.create_future()
fut.set_result(1)
print("dropping a future with a result")
del fut
fut = loop.create_future()
fut.cancel()
print("dropping a cancelled future")
del fut
gc.collect()

loop.set_exception_handler(None)
drop("to the default handler")
loop.close()
drop("after close")
