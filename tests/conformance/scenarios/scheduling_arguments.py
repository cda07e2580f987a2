# Argument checks of the scheduling methods: call_later(None) raises
# TypeError('delay must not be None') and call_at(None) TypeError('when
# cannot be None') - before the closed check, so also on a closed loop;
# delays may be ints, floats, zero or negative; call_soon() and call_later()
# return Handle and TimerHandle objects whose when() is absolute.
import asyncio

loop = asyncio.new_event_loop()


def attempt(label, fn, *args):
    try:
        value = fn(*args)
    except BaseException as e:
        print(label + ":", "%s: %s" % (type(e).__name__, e))
        return None
    print(label + ":", "returned", type(value).__name__)
    return value


attempt("call_later(None)", loop.call_later, None, print)
attempt("call_at(None)", loop.call_at, None, print)
now = loop.time()
h = attempt("call_later(2)", loop.call_later, 2, print, "x")
print("  when - now in [2, 3):", 2 <= h.when() - now < 3)
h.cancel()
h = attempt("call_at(now + 5)", loop.call_at, now + 5, print, "x")
print("  when == now + 5:", h.when() == now + 5)
h.cancel()
h = attempt("call_soon", loop.call_soon, print, "x")
h.cancel()
h = attempt("call_soon_threadsafe", loop.call_soon_threadsafe, print, "x")
h.cancel()
loop.close()
attempt("closed: call_later(None)", loop.call_later, None, print)
attempt("closed: call_at(None)", loop.call_at, None, print)
attempt("closed: call_later(1)", loop.call_later, 1, print)
