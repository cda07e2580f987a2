# current_task() is the task whose step is running: None in a plain callback
# or a done callback, RuntimeError('no running event loop') without a loop
# unless the loop is given. all_tasks() holds the loop's tasks that are not
# done (including the current one and those not started yet), shown here
# sorted by name; a task leaves it when it finishes, cancelled or not.
import asyncio

loop = asyncio.new_event_loop()
it = 0


def tick():
    global it
    it += 1
    loop.call_soon(tick)


def names(tasks):
    return sorted(t.get_name() for t in tasks)


def current_name():
    t = asyncio.current_task()
    return t.get_name() if t is not None else None


def in_callback(label):
    print("iteration", it, label, "current:", current_name(), "all:", names(asyncio.all_tasks()))


def on_done(t):
    print("iteration", it, "done callback of", t.get_name(), "current:", current_name(),
          "all:", names(asyncio.all_tasks()))


async def worker(n):
    print("iteration", it, "worker", n, "current:", current_name(), "all:", names(asyncio.all_tasks()))
    for _ in range(n):
        await asyncio.sleep(0)
    print("iteration", it, "worker", n, "returns; current:", current_name())
    return n


async def main():
    print("iteration", it, "main current:", current_name(), "is the task:",
          asyncio.current_task() is main_task)
    workers = [loop.create_task(worker(n), name="worker-%d" % n) for n in (3, 1, 2)]
    for t in workers:
        t.add_done_callback(on_done)
    print("iteration", it, "all after create:", names(asyncio.all_tasks()))
    loop.call_soon(in_callback, "plain callback")
    await asyncio.sleep(0)
    workers[0].cancel()
    print("iteration", it, "all after cancel (still pending):", names(asyncio.all_tasks()))
    await asyncio.gather(*workers, return_exceptions=True)
    print("iteration", it, "all at the end:", names(asyncio.all_tasks()))


def attempt(label, fn):
    try:
        print(label + ":", fn())
    except RuntimeError as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))


loop.call_soon(tick)
attempt("current_task() without a loop", asyncio.current_task)
attempt("all_tasks() without a loop", asyncio.all_tasks)
attempt("current_task(loop) while stopped", lambda: asyncio.current_task(loop))
main_task = loop.create_task(main(), name="main")
attempt("all_tasks(loop) before running", lambda: names(asyncio.all_tasks(loop)))
loop.run_until_complete(main_task)
attempt("all_tasks(loop) after", lambda: names(asyncio.all_tasks(loop)))
loop.close()
