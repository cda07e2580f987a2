# A subclass of the default policy: get_event_loop() makes its loop
# through self.new_event_loop() and stores it through self.set_event_loop(),
# so overrides see both calls; an override that does not store the loop
# leaves no current loop; set_event_loop_policy() refuses what is not a
# policy, with asyncio's message.
import asyncio


class Spy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        print("new_event_loop")
        return super().new_event_loop()

    def set_event_loop(self, loop):
        print("set_event_loop", "a loop" if loop is not None else "None")
        super().set_event_loop(loop)


asyncio.set_event_loop_policy(Spy())
loop = asyncio.get_event_loop()
print("the same loop again:", asyncio.get_event_loop() is loop)
loop.close()
asyncio.set_event_loop(None)
asyncio.set_event_loop_policy(None)


class Forgetful(asyncio.DefaultEventLoopPolicy):
    def set_event_loop(self, loop):
        print("set_event_loop: not stored")


asyncio.set_event_loop_policy(Forgetful())
try:
    asyncio.get_event_loop()
except RuntimeError as e:
    print("RuntimeError:", e)
asyncio.set_event_loop_policy(None)

not_a_policy = asyncio.new_event_loop()
try:
    asyncio.set_event_loop_policy(not_a_policy)
except TypeError as e:
    print("TypeError:", e)
not_a_policy.close()
print("policy unchanged:", type(asyncio.get_event_loop_policy()).__name__)
