# The default exception handler's text: the message (or 'Unhandled
# exception in event loop' when it is missing or empty), then one
# 'key: repr(value)' line per other key in sorted order ('message' and
# 'exception' are not listed: the exception goes to the record's
# exc_info); a failing custom handler's report lists the original context
# as 'context: {...}' (a dict repr in insertion order). Whole texts are
# compared here, for contexts whose values print the same in C and Python.
import asyncio
import logging


class Printer(logging.Handler):
    def emit(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        print("record:", record.levelname, "exc_info:", type(exc).__name__ if exc else None)
        for line in record.getMessage().split("\n"):
            print("  |", line)


logging.getLogger("asyncio").addHandler(Printer())
loop = asyncio.new_event_loop()
loop.default_exception_handler({"message": "hello", "zeta": 1, "alpha": "x"})
loop.default_exception_handler({"message": "with exception", "exception": KeyError("k")})
loop.default_exception_handler({"zeta": [1, 2], "_under": None, "Zed": "z", "alpha": 1.5})
loop.default_exception_handler({"message": "", "beta": "it's"})
loop.default_exception_handler({"message": "two\nlines", "gamma": True})


def failing(the_loop, context):
    raise RuntimeError("handler broke")


loop.set_exception_handler(failing)
loop.call_exception_handler({"message": "direct call", "alpha": "x"})
loop.call_exception_handler({"message": "with exception", "exception": KeyError("k")})
loop.call_exception_handler({"message": "with exception", "exception": ValueError("it's")})
loop.close()
