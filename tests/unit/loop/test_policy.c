/* test_policy.c - the running loop, get/set/new_event_loop and policies.
 *
 * Expectations checked against CPython 3.11.7 (ASYNCIO-SEMANTICS.md §11):
 * get_running_loop() fails outside a running loop; the default policy
 * creates a loop once in the main thread unless set_event_loop() was called;
 * other threads get "There is no current event loop in thread 'Dummy-N'."
 * (every C thread is a thread Python did not start); set_event_loop_policy
 * (None) puts a fresh default policy in place; an AbstractEventLoopPolicy
 * method not overridden raises a bare NotImplementedError.
 */
#include <pthread.h>
#include <stdio.h>

#include "test_support.h"

/* --- helpers ------------------------------------------------------------- */

/* Drops the default policy and everything it holds for this thread. */
static void reset_policy(void)
{
    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
}

typedef struct seen {
    aio_loop *loop;
    aio_loop *running;
    aio_loop *current;
    trace t;
} seen;

static void look(void *arg)
{
    seen *s = arg;
    s->running = aio_get_running_loop();
    s->current = aio_get_event_loop();
    check_no_exception();
    aio_loop_stop(s->loop);
}
AIO_NAME_CALLBACK(look);

/* --- the running loop ------------------------------------------------------ */

static void test_get_running_loop(void **state)
{
    (void)state;
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");

    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    /* Not running yet: still none. */
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");

    seen s = {.loop = loop};
    soon(loop, look, &s);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_ptr_equal(s.running, loop);
    assert_ptr_equal(s.current, loop);

    /* Cleared after run_forever(). */
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");
    finish(loop);
}

static void raise_keyboard_interrupt(void *arg)
{
    (void)arg;
    aio_err_set(aio_KeyboardInterrupt, NULL);
}
AIO_NAME_CALLBACK(raise_keyboard_interrupt);

static void test_running_loop_cleared_after_exception(void **state)
{
    (void)state;
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    soon(loop, raise_keyboard_interrupt, NULL);
    assert_int_equal(aio_loop_run_forever(loop), -1);
    assert_raised(aio_KeyboardInterrupt, "");
    assert_int_equal(aio_loop_is_running(loop), 0);
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");
    finish(loop);
}

/* The running loop is per thread: another thread sees none. */
static void *running_in_thread(void *arg)
{
    trace *t = arg;
    aio_loop *loop = aio_get_running_loop();
    aio_exc *exc = aio_err_fetch();
    trace_add(t, "%s:%s", loop ? "loop" : "NULL", exc ? aio_exc_str(exc) : "-");
    aio_decref(exc);
    return NULL;
}

typedef struct nested {
    aio_loop *loop;
    aio_loop *other;
    trace t;
} nested;

static void check_other_thread_and_nested(void *arg)
{
    nested *n = arg;
    run_in_thread(running_in_thread, &n->t);
    /* Another loop cannot run inside this one. */
    assert_int_equal(aio_loop_run_forever(n->other), -1);
    assert_raised(aio_RuntimeError, "Cannot run the event loop while another loop is running");
    assert_int_equal(aio_loop_run_forever(n->loop), -1);
    assert_raised(aio_RuntimeError, "This event loop is already running");
    aio_loop_stop(n->loop);
}
AIO_NAME_CALLBACK(check_other_thread_and_nested);

static void test_running_loop_is_per_thread(void **state)
{
    (void)state;
    nested n = {.loop = aio_new_event_loop(), .other = aio_new_event_loop()};
    assert_non_null(n.loop);
    assert_non_null(n.other);
    soon(n.loop, check_other_thread_and_nested, &n);
    assert_int_equal(aio_loop_run_forever(n.loop), 0);
    assert_string_equal(n.t.text, "NULL:no running event loop");
    close_loop(n.loop);
    finish(n.other);
}

/* --- get_event_loop / set_event_loop with the default policy ------------- */

static void test_get_event_loop_creates_once_in_main_thread(void **state)
{
    (void)state;
    aio_loop *l1 = aio_get_event_loop();
    assert_non_null(l1);
    aio_loop *l2 = aio_get_event_loop();
    assert_ptr_equal(l1, l2);
    assert_int_equal(aio_loop_is_running(l1), 0);
    assert_int_equal(aio_loop_is_closed(l1), 0);
    /* Not running: get_running_loop() still fails. */
    assert_null(aio_get_running_loop());
    assert_raised(aio_RuntimeError, "no running event loop");

    /* It is a working loop. */
    seen s = {.loop = l1};
    soon(l1, look, &s);
    assert_int_equal(aio_loop_run_forever(l1), 0);
    assert_ptr_equal(s.running, l1);
    assert_ptr_equal(aio_get_event_loop(), l1);

    /* set_event_loop(None): no current loop, and none is created again. */
    aio_incref(l1);
    assert_int_equal(aio_set_event_loop(NULL), 0);
    assert_null(aio_get_event_loop());
    assert_raised(aio_RuntimeError, "There is no current event loop in thread 'MainThread'.");
    assert_null(aio_get_event_loop());
    assert_raised(aio_RuntimeError, "There is no current event loop in thread 'MainThread'.");

    /* set_event_loop(loop) makes it current again. */
    assert_int_equal(aio_set_event_loop(l1), 0);
    assert_ptr_equal(aio_get_event_loop(), l1);
    assert_int_equal(aio_set_event_loop(NULL), 0);

    close_loop(l1);
    reset_policy();
    assert_no_leaks();
}

static void test_set_event_loop_before_first_get(void **state)
{
    (void)state;
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    assert_int_equal(aio_set_event_loop(loop), 0);
    assert_ptr_equal(aio_get_event_loop(), loop);
    assert_ptr_equal(aio_get_event_loop(), loop);
    /* The policy holds its own reference: dropping ours keeps it alive. */
    aio_decref(loop);
    assert_ptr_equal(aio_get_event_loop(), loop);
    assert_int_equal(aio_loop_is_closed(loop), 0);

    assert_int_equal(aio_loop_close(loop), 0);
    /* A closed loop stays current, as in Python. */
    assert_ptr_equal(aio_get_event_loop(), loop);
    assert_int_equal(aio_set_event_loop(NULL), 0);
    reset_policy();
    assert_no_leaks();
}

static void test_get_event_loop_returns_running_loop(void **state)
{
    (void)state;
    aio_loop *current = aio_new_event_loop();
    aio_loop *other = aio_new_event_loop();
    assert_non_null(current);
    assert_non_null(other);
    assert_int_equal(aio_set_event_loop(current), 0);

    seen s = {.loop = other};
    soon(other, look, &s);
    assert_int_equal(aio_loop_run_forever(other), 0);
    assert_ptr_equal(s.running, other);
    assert_ptr_equal(s.current, other);
    /* After the run, the policy's loop again. */
    assert_ptr_equal(aio_get_event_loop(), current);

    assert_int_equal(aio_set_event_loop(NULL), 0);
    close_loop(current);
    close_loop(other);
    reset_policy();
    assert_no_leaks();
}

typedef struct thread_probe {
    aio_loop *set;       /* set_event_loop(set) first when non-NULL */
    aio_loop *got[2];
    char message[2][96];
} thread_probe;

static void *get_in_thread(void *arg)
{
    thread_probe *p = arg;
    if (p->set != NULL && aio_set_event_loop(p->set) < 0)
        return NULL;
    for (int i = 0; i < 2; i++) {
        p->got[i] = aio_get_event_loop();
        aio_exc *exc = aio_err_fetch();
        snprintf(p->message[i], sizeof p->message[i], "%s%s", exc ? aio_exc_type_of(exc)->name : "",
                 exc ? aio_exc_str(exc) : "");
        aio_decref(exc);
    }
    if (p->set != NULL)
        aio_set_event_loop(NULL);
    return NULL;
}

static void test_get_event_loop_in_other_threads(void **state)
{
    (void)state;
    /* The main thread has a loop; other threads do not see it. */
    aio_loop *main_loop = aio_get_event_loop();
    assert_non_null(main_loop);

    thread_probe p1 = {0};
    run_in_thread(get_in_thread, &p1);
    assert_null(p1.got[0]);
    assert_null(p1.got[1]);
    assert_string_equal(p1.message[0],
                        "RuntimeErrorThere is no current event loop in thread 'Dummy-1'.");
    assert_string_equal(p1.message[1],
                        "RuntimeErrorThere is no current event loop in thread 'Dummy-1'.");

    /* The next thread Python did not start is Dummy-2. */
    thread_probe p2 = {0};
    run_in_thread(get_in_thread, &p2);
    assert_string_equal(p2.message[0],
                        "RuntimeErrorThere is no current event loop in thread 'Dummy-2'.");

    /* A thread may set its own loop. */
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    thread_probe p3 = {.set = loop};
    run_in_thread(get_in_thread, &p3);
    assert_ptr_equal(p3.got[0], loop);
    assert_ptr_equal(p3.got[1], loop);
    assert_string_equal(p3.message[0], "");

    /* The main thread's loop is unchanged. */
    assert_ptr_equal(aio_get_event_loop(), main_loop);
    close_loop(loop);
    assert_int_equal(aio_loop_close(main_loop), 0);
    reset_policy();
    assert_no_leaks();
}

static void test_new_event_loop_distinct(void **state)
{
    (void)state;
    aio_loop *a = aio_new_event_loop();
    aio_loop *b = aio_new_event_loop();
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    /* Neither became current: get_event_loop() makes a third. */
    aio_loop *current = aio_get_event_loop();
    assert_non_null(current);
    assert_ptr_not_equal(current, a);
    assert_ptr_not_equal(current, b);
    assert_int_equal(aio_loop_is_running(a), 0);
    assert_int_equal(aio_loop_is_closed(a), 0);
    close_loop(a);
    close_loop(b);
    assert_int_equal(aio_loop_close(current), 0);
    reset_policy();
    assert_no_leaks();
}

/* --- policies ----------------------------------------------------------------- */

static void test_default_policy(void **state)
{
    (void)state;
    aio_event_loop_policy *p1 = aio_get_event_loop_policy();
    assert_non_null(p1);
    assert_ptr_equal(aio_get_event_loop_policy(), p1);
    /* Its methods are filled in. */
    assert_non_null(p1->get_event_loop);
    assert_non_null(p1->set_event_loop);
    assert_non_null(p1->new_event_loop);

    /* Through the policy directly, as asyncio.get_event_loop_policy().X(). */
    aio_loop *made = p1->new_event_loop(p1);
    assert_non_null(made);
    p1->set_event_loop(p1, made);
    assert_ptr_equal(p1->get_event_loop(p1), made);
    assert_ptr_equal(aio_get_event_loop(), made);
    check_no_exception();

    /* set_event_loop_policy(None): a fresh default; the old one's loop is
     * no longer current, a new one is created on demand. */
    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
    aio_event_loop_policy *p2 = aio_get_event_loop_policy();
    assert_non_null(p2);
    assert_ptr_equal(aio_get_event_loop_policy(), p2);
    aio_loop *fresh = aio_get_event_loop();
    assert_non_null(fresh);
    assert_ptr_not_equal(fresh, made); /* `made` is still alive: we hold it */
    assert_int_equal(aio_loop_is_closed(made), 0);

    close_loop(made);
    assert_int_equal(aio_loop_close(fresh), 0);
    reset_policy();
    assert_no_leaks();
}

/* A policy of our own: counts the calls and keeps one loop. */
typedef struct my_policy {
    aio_event_loop_policy base;
    aio_loop *loop;
    trace t;
    bool fail_get;
} my_policy;

static my_policy *as_mine(aio_event_loop_policy *self)
{
    return (my_policy *)((char *)self - offsetof(my_policy, base));
}

static aio_loop *my_get_event_loop(aio_event_loop_policy *self)
{
    my_policy *p = as_mine(self);
    trace_add(&p->t, "get ");
    if (p->fail_get) {
        aio_err_set(aio_RuntimeError, "my policy has no loop");
        return NULL;
    }
    return p->loop;
}
AIO_NAME_CALLBACK(my_get_event_loop);

static void my_set_event_loop(aio_event_loop_policy *self, aio_loop *loop)
{
    my_policy *p = as_mine(self);
    trace_add(&p->t, "set(%s) ", loop == NULL ? "None" : loop == p->loop ? "same" : "loop");
    aio_incref(loop);
    aio_decref(p->loop);
    p->loop = loop;
}
AIO_NAME_CALLBACK(my_set_event_loop);

static aio_loop *my_new_event_loop(aio_event_loop_policy *self)
{
    my_policy *p = as_mine(self);
    trace_add(&p->t, "new ");
    return aio_incref(p->loop); /* a new reference */
}
AIO_NAME_CALLBACK(my_new_event_loop);

static void test_custom_policy(void **state)
{
    (void)state;
    aio_loop *loop = aio_new_event_loop(); /* through the default policy */
    assert_non_null(loop);
    my_policy *made = (my_policy *)aio_event_loop_policy_new(sizeof(my_policy));
    assert_non_null(made);
    made->base.get_event_loop = my_get_event_loop;
    made->base.set_event_loop = my_set_event_loop;
    made->base.new_event_loop = my_new_event_loop;
    assert_int_equal(aio_set_event_loop_policy(&made->base), 0);
    aio_decref(made); /* the process-wide setting keeps it */
    my_policy *policy = (my_policy *)aio_get_event_loop_policy();
    assert_ptr_equal(policy, made);
    my_policy *keep = aio_incref(policy); /* past set_event_loop_policy(None) */
#define mine (*keep)

    assert_int_equal(aio_set_event_loop(loop), 0);
    assert_ptr_equal(mine.loop, loop);
    assert_ptr_equal(aio_get_event_loop(), loop);
    aio_loop *again = aio_new_event_loop();
    assert_ptr_equal(again, loop);
    aio_decref(again);
    assert_string_equal(mine.t.text, "set(loop) get new ");

    /* A running loop wins without asking the policy. */
    mine.t.text[0] = '\0';
    seen s = {.loop = loop};
    soon(loop, look, &s);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_ptr_equal(s.current, loop);
    assert_string_equal(mine.t.text, "");

    /* The policy's exception comes through. */
    mine.fail_get = true;
    assert_null(aio_get_event_loop());
    assert_raised(aio_RuntimeError, "my policy has no loop");
    assert_string_equal(mine.t.text, "get ");

    /* Back to the default: ours is no longer asked. */
    mine.t.text[0] = '\0';
    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
    aio_event_loop_policy *dflt = aio_get_event_loop_policy();
    assert_ptr_not_equal(dflt, &mine.base);
    aio_loop *fresh = aio_get_event_loop();
    assert_non_null(fresh);
    assert_ptr_not_equal(fresh, loop);
    assert_string_equal(mine.t.text, "");

    assert_int_equal(aio_loop_close(fresh), 0);
    reset_policy();
    aio_decref(mine.loop);
    aio_decref(keep);
#undef mine
    finish(loop);
}

static void test_policy_methods_left_null(void **state)
{
    (void)state;
    /* AbstractEventLoopPolicy's methods: `raise NotImplementedError`. */
    aio_event_loop_policy *abstract = aio_event_loop_policy_new(0);
    assert_non_null(abstract);
#define empty (*abstract)
    assert_int_equal(aio_set_event_loop_policy(&empty), 0);
    assert_ptr_equal(aio_get_event_loop_policy(), &empty);

    assert_null(aio_get_event_loop());
    assert_raised(aio_NotImplementedError, "");
    assert_null(aio_new_event_loop());
    assert_raised(aio_NotImplementedError, "");
    assert_int_equal(aio_set_event_loop(NULL), -1);
    assert_raised(aio_NotImplementedError, "");

    /* A running loop is returned without asking the policy. */
    aio_loop *loop = NULL;
    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
    loop = aio_new_event_loop();
    assert_non_null(loop);
    assert_int_equal(aio_set_event_loop_policy(&empty), 0);
    seen s = {.loop = loop};
    soon(loop, look, &s);
    assert_int_equal(aio_loop_run_forever(loop), 0);
    assert_ptr_equal(s.current, loop);

    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
#undef empty
    aio_decref(abstract);
    finish(loop);
}

/* The policy is an object like the others: repr, references, and a
 * reference that outlives set_event_loop_policy(None). */
static void test_policy_is_an_object(void **state)
{
    (void)state;
    aio_event_loop_policy *policy = aio_get_event_loop_policy();
    assert_non_null(policy);
    char *repr = aio_repr(policy);
    assert_non_null(repr);
    assert_true(strncmp(repr, "<asyncio.unix_events._UnixDefaultEventLoopPolicy object at 0x",
                        61) == 0);
    free(repr);
    assert_ptr_equal(aio_incref(policy), policy);
    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
    /* Ours is still alive and still works. */
    aio_loop *loop = policy->new_event_loop(policy);
    assert_non_null(loop);
    repr = aio_repr(policy);
    assert_non_null(repr);
    free(repr);
    assert_ptr_not_equal(aio_get_event_loop_policy(), policy);
    aio_decref(policy);
    close_loop(loop);

    aio_event_loop_policy *abstract = aio_event_loop_policy_new(0);
    repr = aio_repr(abstract);
    assert_true(strncmp(repr, "<asyncio.events.AbstractEventLoopPolicy object at 0x", 52) == 0);
    free(repr);
    aio_decref(abstract);

    /* Too small a struct. */
    assert_null(aio_event_loop_policy_new(sizeof(aio_event_loop_policy) - 1));
    assert_raised(aio_ValueError, NULL);
    assert_null(aio_default_event_loop_policy_new(8));
    assert_raised(aio_ValueError, NULL);
    reset_policy();
    assert_no_leaks();
}

/* What is not a policy object is refused, with asyncio's message. */
static void test_set_policy_refuses_non_policies(void **state)
{
    (void)state;
    aio_event_loop_policy plain = {{0, 0}, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(aio_set_event_loop_policy(&plain), -1);
    assert_raised(aio_TypeError, "policy must be an instance of AbstractEventLoopPolicy or None, "
                                 "not a plain struct (make one with aio_event_loop_policy_new() "
                                 "or aio_default_event_loop_policy_new())");
    aio_loop *loop = aio_new_event_loop();
    assert_int_equal(aio_set_event_loop_policy((aio_event_loop_policy *)loop), -1);
    assert_raised(aio_TypeError, "policy must be an instance of AbstractEventLoopPolicy or None, "
                                 "not '_UnixSelectorEventLoop'");
    /* The policy in force did not change. */
    assert_ptr_not_equal(aio_get_event_loop_policy(), &plain);
    close_loop(loop);
    reset_policy();
    assert_no_leaks();
}

/* aio_incref(), aio_decref() and aio_repr() refuse what is not an object. */
static void test_object_functions_refuse_non_objects(void **state)
{
    (void)state;
    struct {
        void *a, *b;
    } not_object = {&not_object, NULL};
    assert_null(aio_incref(&not_object));
    assert_raised(aio_TypeError, NULL);
    assert_null(aio_repr(&not_object));
    assert_raised(aio_TypeError, NULL);
    aio_decref(&not_object); /* logged and ignored */
    check_no_exception();
    assert_null(aio_incref(NULL));
    check_no_exception();
    char *none = aio_repr(NULL);
    assert_string_equal(none, "None");
    free(none);
}

/* The default policy's get_event_loop() makes its loop through its own
 * new_event_loop() and stores it through its own set_event_loop(), so that a
 * caller's overrides see both calls, as a subclass's would. */
typedef struct spying_policy {
    aio_event_loop_policy base;
    void (*parent_set)(aio_event_loop_policy *self, aio_loop *loop);
    aio_loop *(*parent_new)(aio_event_loop_policy *self);
    trace t;
    bool store;
} spying_policy;

static void spy_set_event_loop(aio_event_loop_policy *self, aio_loop *loop)
{
    spying_policy *p = (spying_policy *)self;
    trace_add(&p->t, "set(%s) ", loop ? "loop" : "None");
    if (p->store)
        p->parent_set(self, loop);
}
AIO_NAME_CALLBACK(spy_set_event_loop);

static aio_loop *spy_new_event_loop(aio_event_loop_policy *self)
{
    spying_policy *p = (spying_policy *)self;
    trace_add(&p->t, "new ");
    return p->parent_new(self);
}
AIO_NAME_CALLBACK(spy_new_event_loop);

static void test_default_get_event_loop_goes_through_overrides(void **state)
{
    (void)state;
    spying_policy *p = (spying_policy *)aio_default_event_loop_policy_new(sizeof *p);
    assert_non_null(p);
    p->parent_set = p->base.set_event_loop;
    p->parent_new = p->base.new_event_loop;
    p->base.set_event_loop = spy_set_event_loop;
    p->base.new_event_loop = spy_new_event_loop;
    p->store = true;
    assert_int_equal(aio_set_event_loop_policy(&p->base), 0);
    aio_loop *loop = aio_get_event_loop();
    assert_non_null(loop);
    assert_string_equal(p->t.text, "new set(loop) ");
    assert_ptr_equal(aio_get_event_loop(), loop);
    assert_string_equal(p->t.text, "new set(loop) ");
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(p);
    reset_policy();

    /* An override that does not store the loop: no current loop then, as in
     * Python, and the loop made is not leaked. */
    p = (spying_policy *)aio_default_event_loop_policy_new(sizeof *p);
    p->parent_set = p->base.set_event_loop;
    p->parent_new = p->base.new_event_loop;
    p->base.set_event_loop = spy_set_event_loop;
    p->base.new_event_loop = spy_new_event_loop;
    assert_int_equal(aio_set_event_loop_policy(&p->base), 0);
    aio_decref(p);
    assert_null(aio_get_event_loop());
    assert_raised(aio_RuntimeError, "There is no current event loop in thread 'MainThread'.");
    reset_policy();
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_get_running_loop),
    cmocka_unit_test(test_running_loop_cleared_after_exception),
    cmocka_unit_test(test_running_loop_is_per_thread),
    cmocka_unit_test(test_get_event_loop_creates_once_in_main_thread),
    cmocka_unit_test(test_set_event_loop_before_first_get),
    cmocka_unit_test(test_get_event_loop_returns_running_loop),
    cmocka_unit_test(test_get_event_loop_in_other_threads),
    cmocka_unit_test(test_new_event_loop_distinct),
    cmocka_unit_test(test_default_policy),
    cmocka_unit_test(test_custom_policy),
    cmocka_unit_test(test_policy_methods_left_null),
    cmocka_unit_test(test_policy_is_an_object),
    cmocka_unit_test(test_set_policy_refuses_non_policies),
    cmocka_unit_test(test_object_functions_refuse_non_objects),
    cmocka_unit_test(test_default_get_event_loop_goes_through_overrides),
};

AIO_TEST_MAIN(tests)
