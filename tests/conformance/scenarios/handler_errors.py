# call_exception_handler(): a custom handler receives exactly the context
# it was given (custom keys included); a custom handler that raises is
# reported through the default handler as 'Unhandled error in exception
# handler' with the handler's exception attached and the original context
# under the key 'context'; without a custom handler the default one logs
# one ERROR record (the message, or 'Unhandled exception in event loop'
# when the context has none) with the context's exception attached.
import asyncio
import logging


class Printer(logging.Handler):
    def emit(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        lines = record.getMessage().splitlines()
        first = lines[0]
        if first.startswith("Exception in callback"):
            first = "Exception in callback ..."
        print("log:", record.levelname, first, "|", type(exc).__name__ if exc else None)
        print("  log keys:", [line.split(":")[0] for line in lines[1:]])


logging.getLogger("asyncio").addHandler(Printer())
loop = asyncio.new_event_loop()


def custom(the_loop, context):
    print("custom handler:", repr(context["message"]), sorted(context))
    print("  alpha:", repr(context.get("alpha")), "exception:",
          type(context["exception"]).__name__ if "exception" in context else None)


def failing(the_loop, context):
    message = context["message"]
    if message.startswith("Exception in callback"):
        message = "Exception in callback ..."
    print("failing handler called for", repr(message))
    raise RuntimeError("handler broke")


def boom():
    raise ValueError("callback broke")


loop.set_exception_handler(custom)
loop.call_exception_handler({"message": "custom context", "alpha": "x"})
loop.call_exception_handler({"message": "with exception", "exception": KeyError("k")})

loop.set_exception_handler(failing)
loop.call_exception_handler({"message": "direct call"})
loop.call_soon(boom)
loop.stop()
loop.run_forever()
print("loop survived the failing handler")

loop.set_exception_handler(None)
loop.call_exception_handler({"message": "to the default handler", "exception": KeyError("k")})
loop.call_exception_handler({"message": "", "alpha": 1})
loop.call_exception_handler({"alpha": 2})
loop.close()
