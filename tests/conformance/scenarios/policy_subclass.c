/* A subclass of the default policy: get_event_loop() makes its loop
 * through self.new_event_loop() and stores it through self.set_event_loop(),
 * so overrides see both calls; an override that does not store the loop
 * leaves no current loop; set_event_loop_policy() refuses what is not a
 * policy, with asyncio's message. */
#include "conformance.h"

/* class Spy(asyncio.DefaultEventLoopPolicy), with what super() calls. */
typedef struct spy {
    aio_event_loop_policy base;
    aio_loop *(*super_new_event_loop)(aio_event_loop_policy *self);
    void (*super_set_event_loop)(aio_event_loop_policy *self, aio_loop *loop);
} spy;

static aio_loop *spy_new_event_loop(aio_event_loop_policy *self)
{
    printf("new_event_loop\n");
    return ((spy *)self)->super_new_event_loop(self);
}
AIO_NAME_CALLBACK(spy_new_event_loop);

static void spy_set_event_loop(aio_event_loop_policy *self, aio_loop *loop)
{
    printf("set_event_loop %s\n", loop != NULL ? "a loop" : "None");
    ((spy *)self)->super_set_event_loop(self, loop);
}
AIO_NAME_CALLBACK(spy_set_event_loop);

static void forgetful_set_event_loop(aio_event_loop_policy *self, aio_loop *loop)
{
    (void)self;
    (void)loop;
    printf("set_event_loop: not stored\n");
}
AIO_NAME_CALLBACK(forgetful_set_event_loop);

/* type(policy).__name__, from its repr "<module.Name object at 0x...>". */
static void print_policy_class(aio_event_loop_policy *policy)
{
    char *repr = aio_repr(policy);
    CHECK(repr != NULL);
    char *end = strstr(repr, " object at ");
    CHECK(end != NULL);
    *end = '\0';
    printf("policy unchanged: %s\n", strrchr(repr, '.') + 1);
    free(repr);
}

int main(void)
{
    spy *s = (spy *)aio_default_event_loop_policy_new(sizeof *s);
    CHECK(s != NULL);
    s->super_new_event_loop = s->base.new_event_loop;
    s->super_set_event_loop = s->base.set_event_loop;
    s->base.new_event_loop = spy_new_event_loop;
    s->base.set_event_loop = spy_set_event_loop;
    CHECK(aio_set_event_loop_policy(&s->base) == 0);
    aio_decref(s);
    aio_loop *loop = aio_get_event_loop();
    CHECK(loop != NULL);
    printf("the same loop again: %s\n", py_bool(aio_get_event_loop() == loop));
    aio_loop_close(loop);
    CHECK(aio_set_event_loop(NULL) == 0);
    CHECK(aio_set_event_loop_policy(NULL) == 0);

    aio_event_loop_policy *forgetful = aio_default_event_loop_policy_new(0);
    CHECK(forgetful != NULL);
    forgetful->set_event_loop = forgetful_set_event_loop;
    CHECK(aio_set_event_loop_policy(forgetful) == 0);
    aio_decref(forgetful);
    if (aio_get_event_loop() == NULL) {
        aio_exc *e = aio_err_fetch();
        printf("%s\n", exc_line(e));
        aio_decref(e);
    }
    CHECK(aio_set_event_loop_policy(NULL) == 0);

    aio_loop *not_a_policy = aio_new_event_loop();
    CHECK(not_a_policy != NULL);
    if (aio_set_event_loop_policy((aio_event_loop_policy *)not_a_policy) < 0) {
        if (!aio_err_matches(aio_TypeError)) {
            /* up to 3.10 an AssertionError, which the script does not catch */
            fflush(stdout);
            aio_err_print();
            return 1;
        }
        aio_exc *e = aio_err_fetch();
        printf("TypeError: %s\n", aio_exc_str(e));
        aio_decref(e);
    }
    aio_loop_close(not_a_policy);
    aio_decref(not_a_policy);
    print_policy_class(aio_get_event_loop_policy());
    return 0;
}
