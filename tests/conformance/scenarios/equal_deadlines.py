# Timers are kept in a heapq ordered by deadline only, so timers with the
# same deadline do not fire in FIFO order: twelve call_at(t) with one t fire
# as 0,2,6,5,11,10,9,8,7,1,3,4. Distinct deadlines fire in deadline order
# whatever order they were scheduled in.
import asyncio

loop = asyncio.new_event_loop()
fired = []
t = loop.time() + 0.05
for i in range(12):
    loop.call_at(t, fired.append, i)
loop.call_at(t + 0.01, loop.stop)
loop.run_forever()
print("equal deadlines:", fired)

fired.clear()
t = loop.time() + 0.02
for i, offset in enumerate([0.03, 0.01, 0.02, 0.0, 0.01]):
    loop.call_at(t + offset, fired.append, (i, offset))
loop.call_at(t + 0.04, loop.stop)
loop.run_forever()
print("distinct deadlines:", ", ".join("%d@%g" % pair for pair in fired))

fired.clear()
t = loop.time() - 1  # all due at once: one iteration pops them in heap order
for i in range(7):
    loop.call_at(t, fired.append, i)
loop.stop()
loop.run_forever()
print("equal deadlines, all due:", fired)
loop.close()
