# Eager tasks: with eager_task_factory, create_task() runs the coroutine
# at once, up to its first suspension, the new task current and in its
# own context copy (a variable it sets stays there); a coroutine that ends
# (or raises) without suspending gives a task already done; a task started
# eagerly from inside an eager step nests; the factory's tasks are named
# after that first step (3.12.1 and 3.13.0 call factory(loop, coro) and
# set_name() after), Task(eager_start=True) ones before it; the loop not
# running, an eager task is scheduled as usual; an eager task that
# suspended can be cancelled.
# Not for every version: eager tasks are new in 3.12.
# versions: 3.12+
import asyncio
import contextvars

v = contextvars.ContextVar("v", default=0)


async def child(n):
    print(f"{n} start cur={asyncio.current_task().get_name()} v={v.get()}")
    v.set(99)
    if n.endswith("quick"):
        return n
    await asyncio.sleep(0)
    print(f"{n} resumed")
    return n


async def nested():
    print("nested start")
    t = asyncio.get_running_loop().create_task(child("grand"), name="G")
    print(f"nested after create: cur={asyncio.current_task().get_name()}")
    await t
    return "nested"


async def boom():
    raise ValueError("x")


async def main():
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)
    v.set(5)
    print("before")
    t1 = loop.create_task(child("c1"), name="N1")
    print(f"after c1: done={t1.done()} name={t1.get_name()} "
          f"cur={asyncio.current_task().get_name()} v={v.get()}")
    t2 = loop.create_task(child("c2quick"), name="N2")
    print(f"after c2: done={t2.done()} result={t2.result()}")
    t3 = loop.create_task(nested(), name="N3")
    print(f"after c3: done={t3.done()}")
    t4 = loop.create_task(boom())
    print(f"boom done={t4.done()} exc={type(t4.exception()).__name__}: {t4.exception()}")
    await asyncio.gather(t1, t3)
    print("gathered")
    loop.set_task_factory(None)
    t5 = asyncio.Task(child("c5"), loop=loop, eager_start=True, name="N5")
    print(f"after c5: done={t5.done()}")
    t6 = asyncio.Task(child("c6"), loop=loop, name="N6")
    print(f"after c6: done={t6.done()}")
    await asyncio.gather(t5, t6)
    ctx = contextvars.copy_context()
    asyncio.Task(child("c7quick"), loop=loop, eager_start=True, context=ctx)
    print(f"c7: ctx v={ctx[v]} here v={v.get()}")
    t8 = asyncio.Task(child("c8"), loop=loop, eager_start=True)
    t8.cancel()
    try:
        await t8
    except asyncio.CancelledError:
        print("c8 cancelled")


asyncio.run(main())
loop = asyncio.new_event_loop()
t = asyncio.Task(child("c9quick"), loop=loop, eager_start=True, name="N9")
print("not running: done", t.done())
print("result", loop.run_until_complete(t))
loop.close()
