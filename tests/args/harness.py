"""The Python side of the argument table test (see harness.h): runs the
cases of generated/tests/args_table.py on CPython's asyncio, each once per
state on fresh fixtures, and prints one line per run, as harness.c does in
C. tests/args/run.py calls run() when recording (CPython 3.11.7 only).

The fixtures are those gen/layout.toml [args_test] lists, made the same way
as in harness.c.
"""

import asyncio
import gc
import os
import signal
import socket
import concurrent.futures
import sys
import tempfile


def noop(*args):
    pass


def noop_done(fut):
    pass


def handler(loop, context):
    pass


def factory(loop, coro):
    return asyncio.Task(coro, loop=loop)


async def coroutine():
    return None


class Fixture:
    def __init__(self, owner, state):
        self.owner, self.state = owner, state
        self.noop, self.noop_done = noop, noop_done
        self.handler, self.factory = handler, factory
        self.proto_factory = asyncio.Protocol
        # The socket a transport may take over (and close): its peer is ours.
        self.sock, self.sock_peer = socket.socketpair()
        # The datagram methods' socket: non-blocking, one datagram waiting.
        self.dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.dgram.setblocking(False)
        self.dgram.bind(('127.0.0.1', 0))
        self.dgram.sendto(b'd', self.dgram.getsockname())
        self.ctx = {'message': 'boom'}
        self.addr = ('127.0.0.1', 80)
        self.sigusr1 = signal.SIGUSR1
        self.pool = concurrent.futures.ThreadPoolExecutor()
        self.work = noop
        self.rfd, self.wfd = os.pipe()
        self.filefd = os.open(sys.executable, os.O_RDONLY)
        r, w = os.pipe()
        self.rpipe = open(r, 'rb', buffering=0)
        self.wpipe = open(w, 'wb', buffering=0)
        self.filepipe = open(sys.executable, 'rb', buffering=0)
        self.binfile = tempfile.TemporaryFile()
        self.binfile.write(b"data")
        self.binfile.seek(0)
        self.empty = b""
        self.buf = bytearray()
        self.badfd = BADFD
        self.loop = asyncio.new_event_loop()
        self.done_fut = self.loop.create_future()
        self.done_fut.set_result(None)
        self.exc = ValueError('boom')
        self.fut = None
        self._coros = []
        if owner == "future":
            # closed-pending, closed-done: a future whose loop is closed.
            closed = state.startswith("closed-")
            fut_state = state[len("closed-"):] if closed else state
            self.fut = self.loop.create_future()
            if fut_state == "done":
                self.fut.set_result(None)
            elif fut_state == "cancelled":
                self.fut.cancel()
            elif fut_state != "pending":
                raise SystemExit(f"args_table: no state {state!r} for a {owner}")
            if closed:
                self.loop.close()
        elif owner == "loop":
            if state == "closed":
                self.loop.close()
            elif state == "debug":
                self.loop.set_debug(True)
            elif state != "open":
                raise SystemExit(f"args_table: no state {state!r} for a {owner}")
        elif state:
            raise SystemExit(f"args_table: no state {state!r} for a {owner}")

    @property
    def coro(self):
        """A new coroutine object each time, as a C coroutine function is
        started anew by each task."""
        c = coroutine()
        self._coros.append(c)
        return c

    def close(self):
        self.pool.shutdown()
        asyncio.set_event_loop(None)
        asyncio.set_event_loop_policy(None)
        self.loop.close()
        for c in self._coros:
            c.close()       # never awaited: no warning
        os.close(self.rfd)
        os.close(self.wfd)
        self.sock_peer.close()
        self.dgram.close()
        os.close(self.filefd)
        for f in (self.rpipe, self.wpipe, self.filepipe):
            f.close()
        self.binfile.close()


# A descriptor number nothing opens (harness.c uses the same).
BADFD = 900


def exception_line(e):
    msg = str(e)
    return type(e).__qualname__ + (f": {msg}" if msg else "")


def outcome(fx, report, call):
    try:
        result = call(fx)
        if report == "coro":
            if not fx.loop.is_closed():
                fx.loop.run_until_complete(result)
            else:
                # Only as far as it goes without the loop, as in C.
                try:
                    result.send(None)
                except StopIteration:
                    return "ok"
                result.close()
                return "pending on a closed loop"
    except asyncio.CancelledError:
        return "CancelledError"
    except Exception as e:
        return exception_line(e)
    if report == "bool":
        return "-> True" if result else "-> False"
    if report == "int":
        return f"-> {result}"
    return "ok"


def run(cases, out=sys.stdout):
    # fd 0 is a pipe, whatever the test runs under: add_reader(0) works.
    r, w = os.pipe()
    os.dup2(r, 0)
    os.close(r)
    try:
        os.fstat(BADFD)
        raise SystemExit(f"args_table: descriptor {BADFD} is open")
    except OSError:
        pass
    for name, owner, states, report, call in cases:
        for state in states:
            where = f"{name} [{state}]" if state else name
            if report == "stub":
                print(f"{where}: NotImplementedError: {call}", file=out, flush=True)
                continue
            fx = Fixture(owner, state)
            line = outcome(fx, report, call)
            fx.close()
            gc.collect()
            print(f"{where}: {line}", file=out, flush=True)
    os.close(w)
