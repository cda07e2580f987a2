# A subprocess's whole life through loop.subprocess_exec() and
# subprocess_shell(): the pipes and their data, connection_made() first and
# connection_lost() last, the pipes lost, process_exited() once, return
# codes (exit status, -9 after kill() or close()), ProcessLookupError after
# the end, FileNotFoundError for a missing program and the ValueErrors of
# the refused Popen options. The order of the pipes' losses and of
# process_exited() among themselves is not fixed (it depends on when the
# kernel reports what): those are printed sorted. No pid is printed.
import asyncio
import subprocess


class Recorder(asyncio.SubprocessProtocol):
    def __init__(self, done):
        self.done = done
        self.events = []
        self.data = {1: b"", 2: b""}
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def pipe_data_received(self, fd, data):
        self.data[fd] += data

    def pipe_connection_lost(self, fd, exc):
        self.events.append("pipe_lost %d %s" % (fd, type(exc).__name__ if exc else None))

    def process_exited(self):
        self.events.append("exited %s" % self.transport.get_returncode())

    def connection_lost(self, exc):
        self.events.append("lost %s" % exc)
        self.done.set_result(None)


def report(name, p):
    ev = p.events
    print(name, "first:", ev[0], "last:", ev[-1])
    print(name, "middle:", sorted(ev[1:-1]))
    print(name, "stdout:", p.data[1], "stderr:", p.data[2])


async def run_exec(loop, *args, **kw):
    done = loop.create_future()
    t, p = await loop.subprocess_exec(lambda: Recorder(done), *args, **kw)
    return t, p, done


async def main():
    loop = asyncio.get_running_loop()

    # cat: stdin to stdout
    t, p, done = await run_exec(loop, "cat")
    print("cat connected; made:", p.events, "returncode:", t.get_returncode())
    print("pipes:", [t.get_pipe_transport(fd) is not None for fd in (0, 1, 2, 3)])
    print("pid > 0:", t.get_pid() > 0)
    stdin = t.get_pipe_transport(0)
    stdin.write(b"hello\n")
    stdin.write(b"world\n")
    stdin.close()
    await done
    report("cat", p)
    print("cat returncode:", t.get_returncode())
    for name in ("kill", "terminate"):
        try:
            getattr(t, name)()
        except ProcessLookupError as e:
            print(name, "after the end:", type(e).__name__, repr(str(e)))
    try:
        t.send_signal(15)
    except ProcessLookupError as e:
        print("send_signal after the end:", type(e).__name__)
    t.close()

    # a shell, stderr into stdout, stdin from /dev/null
    done = loop.create_future()
    t, p = await loop.subprocess_shell(
        lambda: Recorder(done), "echo out; echo err >&2; exit 3",
        stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    print("shell pipes:", [t.get_pipe_transport(fd) is not None for fd in (0, 1, 2)])
    await done
    report("shell", p)
    print("shell returncode:", t.get_returncode())
    t.close()

    # stdout to /dev/null, stderr inherited: only stdin is a pipe
    t, p, done = await run_exec(loop, "sh", "-c", "read x; exit 4",
                                stdout=subprocess.DEVNULL, stderr=None)
    t.get_pipe_transport(0).write(b"line\n")
    await done
    report("devnull", p)
    print("devnull returncode:", t.get_returncode())
    t.close()

    # killed
    t, p, done = await run_exec(loop, "sleep", "30")
    t.kill()
    await done
    report("killed", p)
    print("killed returncode:", t.get_returncode())
    t.close()

    # closed while running: close() kills it
    t, p, done = await run_exec(loop, "sleep", "30")
    t.close()
    print("closing:", t.is_closing())
    await done
    report("closed", p)
    print("closed returncode:", t.get_returncode())

    # a program that does not exist
    try:
        await run_exec(loop, "nonexistent-program-casyncio")
    except OSError as e:
        print("missing:", type(e).__name__, e)
    try:
        await run_exec(loop, "true", cwd="/nonexistent-dir-casyncio")
    except OSError as e:
        print("bad cwd:", type(e).__name__, e)

    # the refused options, in asyncio's order
    for kw in (dict(universal_newlines=True, shell=True), dict(shell=True, bufsize=1),
               dict(bufsize=1, text=True), dict(text=True, encoding="utf-8"),
               dict(encoding="utf-8", errors="strict"), dict(errors="strict")):
        try:
            await loop.subprocess_exec(asyncio.SubprocessProtocol, "true", **kw)
        except ValueError as e:
            print("exec", sorted(kw), "ValueError:", e)
    for kw in (dict(shell=False, bufsize=1), dict(bufsize=1)):
        try:
            await loop.subprocess_shell(asyncio.SubprocessProtocol, "true", **kw)
        except ValueError as e:
            print("shell", sorted(kw), "ValueError:", e)


asyncio.run(main())
