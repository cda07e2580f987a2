# An exception raised by a callback goes to the loop's exception handler as
# handler(loop, context) with context keys 'message' (starting 'Exception in
# callback'), 'exception' (the exception raised) and 'handle' (the Handle or
# TimerHandle that ran it); the loop goes on with the rest of the batch. A
# None callback fails only when it runs: 'Exception in callback None()' with
# TypeError("'NoneType' object is not callable"). get_exception_handler()
# returns the handler, or None when the default one is in use; without a
# custom handler the default one logs an ERROR record with the exception.
import asyncio
import logging


class Printer(logging.Handler):
    def emit(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        first = record.getMessage().splitlines()[0]
        # the callback's repr embeds Python source locations: print its start
        if first.startswith("Exception in callback"):
            first = "Exception in callback ..."
        print("log:", record.levelname, first, "|", type(exc).__name__ if exc else None)


logging.getLogger("asyncio").addHandler(Printer())
loop = asyncio.new_event_loop()
handles = {}


def handler(the_loop, context):
    exc = context.get("exception")
    print("handler: loop is loop:", the_loop is loop)
    print("  keys:", sorted(context))
    print("  message starts 'Exception in callback':",
          context["message"].startswith("Exception in callback"))
    print("  exception:", "%s: %s" % (type(exc).__name__, exc))
    print("  handle is the scheduled one:", context["handle"] is handles.get(context["exception"].args[0]),
          "TimerHandle:", isinstance(context["handle"], asyncio.TimerHandle))


def boom(what):
    print("boom", what)
    if what == "zero":
        raise ZeroDivisionError("zero")
    raise KeyError(what)


print("default handler:", loop.get_exception_handler())
loop.set_exception_handler(handler)
print("custom handler installed:", loop.get_exception_handler() is handler)
handles["zero"] = loop.call_soon(boom, "zero")
loop.call_soon(print, "the batch goes on")
handles["timer"] = loop.call_later(0, boom, "timer")
loop.stop()
loop.run_forever()


def show_none(the_loop, context):
    print("None callback:", repr(context["message"]),
          "%s: %s" % (type(context["exception"]).__name__, context["exception"]))


loop.set_exception_handler(show_none)
loop.call_soon(None)
loop.stop()
loop.run_forever()

loop.set_exception_handler(None)
print("handler reset:", loop.get_exception_handler())
loop.call_soon(boom, "default")
loop.stop()
loop.run_forever()
loop.close()
