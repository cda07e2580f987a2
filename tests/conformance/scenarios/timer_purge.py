# With more than 100 scheduled timers of which more than half are cancelled,
# the next iteration rebuilds the heap (heapq.heapify of the survivors)
# instead of popping cancelled timers off the top. The survivors still fire,
# in deadline order, and timers sharing a deadline fire in the order the
# rebuilt heap gives them - which only an exact heapify reproduces.
# Cancelling a timer twice, or after the purge, changes nothing.
import asyncio

loop = asyncio.new_event_loop()
fired = []
t0 = loop.time() + 0.05
handles = []
for i in range(150):
    # four deadlines only, so most timers share theirs with others
    handles.append(loop.call_at(t0 + (i % 4) * 0.01, fired.append, i))
cancelled = 0
for i, h in enumerate(handles):
    if i % 3 != 0:
        h.cancel()
        h.cancel()
        cancelled += 1
print("scheduled", len(handles), "cancelled", cancelled)


def after_purge():
    # the first iteration purged the heap; cancel a few more survivors
    for i in (3, 6, 147):
        handles[i].cancel()
    print("cancelled 3 more after the purge")


loop.call_soon(after_purge)
loop.call_at(t0 + 0.05, loop.stop)
loop.run_forever()
print("fired", len(fired))
for k in range(4):
    print("deadline", k, [i for i in fired if i % 4 == k])
print("in deadline order:", [i % 4 for i in fired] == sorted(i % 4 for i in fired))

# A second round below the threshold: 100 timers, 60 cancelled, no rebuild;
# cancelled timers leave from the top of the heap only.
fired.clear()
t0 = loop.time() + 0.02
handles = [loop.call_at(t0 + (i % 2) * 0.01, fired.append, i) for i in range(100)]
for i in range(0, 100, 5):
    for j in range(3):
        handles[i + j].cancel()
loop.call_at(t0 + 0.03, loop.stop)
loop.run_forever()
print("below threshold fired", len(fired))
print("deadline 0", [i for i in fired if i % 2 == 0])
print("deadline 1", [i for i in fired if i % 2 == 1])
loop.close()
