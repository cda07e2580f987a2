# The loop iterations a subprocess's events take, counted by a ticker that
# calls itself with call_soon(). Each child is /bin/sh that first reads a
# line from a control pipe (passed with pass_fds), so it does nothing until
# the ticker lets it go, at a fixed iteration: the ticker closes the
# control pipe (or kills the child), then blocks until the child has
# exited (waitid() with WNOWAIT, which leaves it to be reaped) and a little
# longer, so that everything the exit makes ready is ready when the next
# iteration begins. The iterations are counted from the call; the events
# of one iteration are printed sorted, their order within it being the
# kernel's.
#
# loop.subprocess_exec() and subprocess_shell() with stdin/stdout/stderr
# PIPE, DEVNULL, None and STDOUT: the await returning, connection_made(),
# pipe_data_received(), pipe_connection_lost() of each pipe,
# process_exited(), connection_lost(); a child that exits with a code and
# one killed. asyncio.create_subprocess_exec(): the await returning,
# communicate() and wait() returning.
import asyncio
import os
import subprocess
import time

PIPE, DEVNULL, STDOUT = subprocess.PIPE, subprocess.DEVNULL, subprocess.STDOUT
RELEASE = 20  # the iteration, from the call, at which the child is let go

it = 0
release = None  # (iteration, action)


def tick():
    global it, release
    it += 1
    asyncio.get_running_loop().call_soon(tick)
    if release is not None and it == release[0]:
        action, release = release[1], None
        action()


events = []
base = 0


def ev(*words):
    events.append((it - base, " ".join(str(w) for w in words)))


def dump(name):
    for i, text in sorted(events):
        print(name, "iteration +%d" % i, text)
    events.clear()


class Rec(asyncio.SubprocessProtocol):
    def __init__(self, done):
        self.done = done

    def connection_made(self, transport):
        self.transport = transport
        ev("connection_made")

    def pipe_data_received(self, fd, data):
        ev("pipe_data_received", fd, data)

    def pipe_connection_lost(self, fd, exc):
        ev("pipe_connection_lost", fd, exc)

    def process_exited(self):
        ev("process_exited", self.transport.get_returncode())

    def connection_lost(self, exc):
        ev("connection_lost", exc)
        self.done.set_result(None)


def command(control, stdout, stderr):
    parts = ["read x < /dev/fd/%d" % control]
    if stdout == PIPE:
        parts.append("echo out")
    if stderr in (PIPE, STDOUT):
        parts.append("echo err >&2")
    parts.append("exit 3")
    return "; ".join(parts)


def let_go(pid, w, kill):
    """The release: the child let go, and waited for."""
    ev("release")
    if kill is not None:
        kill()
    os.close(w)
    # asyncio's watcher thread reaps it and then queues its callback: wait
    # until it is reaped, then a little longer.
    deadline = time.monotonic() + 5
    try:
        while time.monotonic() < deadline:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
            time.sleep(0.001)
    except ChildProcessError:
        pass
    time.sleep(0.1)


async def protocol_case(name, stdin, stdout, stderr, shell=False, kill=False):
    global base, release
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    cmd = command(r, stdout, stderr)
    done = loop.create_future()
    base = it
    if shell:
        t, p = await loop.subprocess_shell(lambda: Rec(done), cmd, stdin=stdin,
                                           stdout=stdout, stderr=stderr, pass_fds=(r,))
    else:
        t, p = await loop.subprocess_exec(lambda: Rec(done), "/bin/sh", "-c", cmd, stdin=stdin,
                                          stdout=stdout, stderr=stderr, pass_fds=(r,))
    ev("subprocess_%s returned" % ("shell" if shell else "exec"))
    os.close(r)
    release = (base + RELEASE, lambda: let_go(t.get_pid(), w, t.kill if kill else None))
    await done
    t.close()
    dump(name)


async def process_case(name, stdin, stdout, stderr, how, kill=False):
    global base, release
    r, w = os.pipe()
    cmd = command(r, stdout, stderr)
    base = it
    proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", cmd, stdin=stdin,
                                                stdout=stdout, stderr=stderr, pass_fds=(r,))
    ev("create_subprocess_exec returned")
    os.close(r)
    release = (base + RELEASE, lambda: let_go(proc.pid, w, proc.kill if kill else None))
    if how == "communicate":
        out, err = await proc.communicate(b"input\n" if stdin == PIPE else None)
        ev("communicate returned", out, err)
    rc = await proc.wait()
    ev("wait returned", rc)
    dump(name)


async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    await asyncio.sleep(0)

    await protocol_case("exec PIPE PIPE PIPE", PIPE, PIPE, PIPE)
    await protocol_case("exec PIPE PIPE PIPE killed", PIPE, PIPE, PIPE, kill=True)
    await protocol_case("exec DEVNULL PIPE DEVNULL", DEVNULL, PIPE, DEVNULL)
    await protocol_case("exec PIPE DEVNULL None", PIPE, DEVNULL, None)
    await protocol_case("exec DEVNULL DEVNULL PIPE", DEVNULL, DEVNULL, PIPE)
    await protocol_case("exec None None None", None, None, None)
    await protocol_case("exec None None None killed", None, None, None, kill=True)
    await protocol_case("exec DEVNULL PIPE STDOUT", DEVNULL, PIPE, STDOUT)
    await protocol_case("shell PIPE PIPE DEVNULL", PIPE, PIPE, DEVNULL, shell=True)

    await process_case("process PIPE PIPE PIPE communicate", PIPE, PIPE, PIPE, "communicate")
    await process_case("process DEVNULL PIPE None communicate", DEVNULL, PIPE, None,
                       "communicate")
    await process_case("process PIPE PIPE PIPE wait", PIPE, PIPE, PIPE, "wait")
    await process_case("process None None None wait", None, None, None, "wait")
    await process_case("process PIPE PIPE PIPE killed wait", PIPE, PIPE, PIPE, "wait",
                       kill=True)


asyncio.run(main())
