# asyncio.create_subprocess_exec() and create_subprocess_shell() and the
# Process they return: which of stdin, stdout and stderr exist for each
# choice of PIPE, None and STDOUT; communicate() through cat and with a
# child that does not read its input; wait() and returncode before and
# after; a child killed, terminated and signalled; readline() of a line
# over the limit; the program missing. No pids are printed.
import asyncio
import signal
import subprocess

PIPE = subprocess.PIPE


def show(what, value):
    print(what, value)


def streams(p):
    return (p.stdin is not None, p.stdout is not None, p.stderr is not None)


async def main():
    p = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
    show("cat streams", streams(p))
    show("cat returncode", p.returncode)
    show("cat communicate", await p.communicate(b"hello\nworld\n"))
    show("cat returncode", p.returncode)

    p = await asyncio.create_subprocess_shell("echo out; echo err >&2; exit 3",
                                              stdout=PIPE, stderr=PIPE)
    show("shell streams", streams(p))
    show("shell communicate", await p.communicate())
    show("shell returncode", p.returncode)

    p = await asyncio.create_subprocess_exec("sh", "-c", "echo out; echo err >&2",
                                             stdout=PIPE, stderr=subprocess.STDOUT)
    show("merged streams", streams(p))
    show("merged communicate", await p.communicate())

    p = await asyncio.create_subprocess_exec("sh", "-c", "exit 5")
    show("plain streams", streams(p))
    show("plain wait", await p.wait())
    show("plain wait again", await p.wait())
    show("plain communicate", await p.communicate())

    for name, act in (("kill", lambda p: p.kill()),
                      ("terminate", lambda p: p.terminate()),
                      ("send_signal", lambda p: p.send_signal(signal.SIGINT))):
        p = await asyncio.create_subprocess_exec("sleep", "30")
        show(name + " before", p.returncode)
        act(p)
        show(name + " wait", await p.wait())
        show(name + " returncode", p.returncode)

    p = await asyncio.create_subprocess_shell("exec 0<&-; echo done", stdin=PIPE, stdout=PIPE)
    show("no reader communicate", await p.communicate(b"x" * (1 << 20)))
    show("no reader returncode", p.returncode)

    p = await asyncio.create_subprocess_shell("printf '%0100d\\nshort\\n' 0", stdout=PIPE, limit=10)
    try:
        await p.stdout.readline()
    except ValueError as e:
        print("long line", f"{type(e).__name__}: {e}")
    show("next line", await p.stdout.readline())
    show("limit wait", await p.wait())

    try:
        await asyncio.create_subprocess_exec("/nonexistent/program")
    except OSError as e:
        print("missing", f"{type(e).__name__}: {e}")


asyncio.run(main())
