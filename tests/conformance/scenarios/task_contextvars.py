# Tasks and contexts: a task runs every step in its own context, a copy of
# the context current at create_task() (later changes by the creator are not
# seen, and the task's changes persist across its awaits without leaking
# out); a callback scheduled or a task created from inside a task copies
# the task's context; the task's done callbacks run in the context current
# at add_done_callback(). create_task(context=ctx) runs the task in ctx
# itself: two tasks given the same ctx see each other's changes, and ctx
# keeps them afterwards. asyncio.run() runs main in a copy of the caller's
# context.
#
# Not for every version: create_task(context=) is new in 3.11.
# versions: 3.11+
import asyncio
import contextvars

var = contextvars.ContextVar("var", default="default")
loop = asyncio.new_event_loop()


def show(label):
    print(label + ":", var.get())


async def worker(label, new_value):
    show(label + " starts, sees")
    var.set(new_value)
    await asyncio.sleep(0)
    show(label + " after an await, sees")
    loop.call_soon(show, label + "'s callback")
    child = loop.create_task(child_task(label))
    await child
    return label


async def child_task(label):
    show(label + "'s child task")


async def sharer(label, value):
    show(label + " starts, sees")
    var.set(value)
    await asyncio.sleep(0)
    show(label + " after an await, sees")


var.set("outer")
t = loop.create_task(worker("task", "set in task"))
var.set("changed after create_task")
t.add_done_callback(lambda _: show("done callback"))
var.set("changed after add_done_callback")
loop.run_until_complete(t)
show("caller after the task")

ctx = contextvars.copy_context()
a = loop.create_task(sharer("a", "a's value"), context=ctx)
b = loop.create_task(sharer("b", "b's value"), context=ctx)
loop.run_until_complete(asyncio.gather(a, b))
print("ctx holds:", ctx[var])
show("caller after the shared context")
loop.close()


async def main():
    show("asyncio.run main sees")
    var.set("set by main")


asyncio.run(main())
show("caller after asyncio.run")
