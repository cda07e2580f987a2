# Version gates: what each CPython says when a program uses a loop method,
# a parameter or a module function its asyncio does not have (yet or any
# more), and the behaviours that changed with a warning or an error between
# 3.8 and 3.13. Warnings are errors here, so that a warning shows as what it
# raises.
import asyncio
import socket
import warnings

warnings.simplefilter("error")


def attempt(label, fn, *args, **kwargs):
    try:
        value = fn(*args, **kwargs)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
        return None
    print(label + ":", "ok")
    return value


async def nothing():
    return 1


async def main():
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.setblocking(False)
    b.setblocking(False)
    b.send(b"x")
    # A loop method of 3.11.
    fut = attempt("loop.sock_recvfrom", lambda: loop.sock_recvfrom(a, 10))
    if fut is not None:
        print("  got:", (await fut)[0])
    a.close()
    b.close()
    # A parameter of 3.11, and one of 3.8.
    coro = nothing()
    t = attempt("create_task(context=)", loop.create_task, coro, context=None)
    if t is not None:
        print("  result:", await t)
    else:
        coro.close()
    t = attempt("create_task(name=)", loop.create_task, nothing(), name="n")
    if t is not None:
        print("  name:", t.get_name())
    # Module functions of 3.9 and 3.11.
    f = attempt("asyncio.to_thread", lambda: asyncio.to_thread(len, "abc"))
    if f is not None:
        print("  result:", await f)
    attempt("asyncio.TaskGroup", lambda: asyncio.TaskGroup)
    attempt("asyncio.timeout", lambda: asyncio.timeout)
    # reuse_address: honoured, then refused (3.8.1), then gone (3.11).
    for value in (True, False):
        r = attempt("create_datagram_endpoint(reuse_address=%s)" % value,
                    lambda: loop.create_datagram_endpoint(
                        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0),
                        reuse_address=value))
        if r is not None:
            try:
                transport, _ = await r
                print("  endpoint")
                transport.close()
            except BaseException as e:
                print("  awaited: %s: %s" % (type(e).__name__, e))
    await asyncio.sleep(0)
    # sleep(nan): accepted, then refused (3.13).
    s = attempt("sleep(nan)", asyncio.sleep, float("nan"))
    if s is not None:
        try:
            await s
            print("  slept")
        except BaseException as e:
            print("  awaited: %s: %s" % (type(e).__name__, e))


loop = asyncio.new_event_loop()
loop.run_until_complete(main())
loop.close()
# get_event_loop() in the main thread with no loop set: created silently,
# then with a DeprecationWarning (3.12).
asyncio.set_event_loop_policy(None)
l2 = attempt("get_event_loop()", asyncio.get_event_loop)
if l2 is not None:
    l2.close()
