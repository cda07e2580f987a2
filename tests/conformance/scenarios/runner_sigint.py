# Runner.run() and SIGINT: the first Ctrl-C cancels the main task, and the
# run raises KeyboardInterrupt once the task ends cancelled; a main task
# that swallows the cancellation returns its result. The runner stays
# usable, and SIGINT's handler is given back after each run.
#
# Not for every version: asyncio.Runner is new in 3.11.
# versions: 3.11+
import asyncio
import os
import signal


async def main(swallow):
    os.kill(os.getpid(), signal.SIGINT)
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("main cancelled by the first SIGINT")
        if not swallow:
            raise
    return "swallowed"


async def plain():
    return "runner still usable"


# Whatever SIGINT's disposition was inherited as (ignored in a background
# job), start from Python's default handler, which the Runner replaces.
signal.signal(signal.SIGINT, signal.default_int_handler)
with asyncio.Runner() as r:
    try:
        r.run(main(False))
    except KeyboardInterrupt:
        print("run raised KeyboardInterrupt")
    print(r.run(main(True)))
    print(r.run(plain()))
print("default handler back:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
