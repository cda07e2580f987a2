/* test_policy_versions.c - the default policy per target version.
 *
 * Checked against CPython 3.8.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0:
 * get_event_loop() creates the main thread's loop silently up to 3.11 and
 * with DeprecationWarning "There is no current event loop" from 3.12 (the
 * warning first: under -W error no loop is made); set_event_loop(non-loop)
 * is AssertionError up to 3.10, TypeError from 3.11, and marks the thread
 * as having called it either way; get_child_watcher()/set_child_watcher()
 * warn from 3.12, set_child_watcher(non-watcher) is AssertionError.
 */
#include <sys/syscall.h>

#include "test_support.h"

static const int versions[] = {AIO_PY(3, 8), AIO_PY_MICRO(3, 10, 13), AIO_PY(3, 11),
                               AIO_PY(3, 12), AIO_PY(3, 13)};
#define N_VERSIONS (sizeof versions / sizeof versions[0])

typedef struct warned {
    int count;
    char text[512];
} warned;

static warned w;

static void record_warning(const aio_exc_type *category, const char *message, void *arg)
{
    warned *into = arg;
    into->count++;
    size_t len = strlen(into->text);
    snprintf(into->text + len, sizeof into->text - len, "%s: %s|", category->name, message);
}
AIO_NAME_CALLBACK(record_warning);

static int setup(void **state)
{
    (void)state;
    memset(&w, 0, sizeof w);
    aio_warnings_set_handler(record_warning, &w);
    return aio_warnings_set_action(aio_Warning, AIO_WARN_ALWAYS);
}

static int teardown(void **state)
{
    (void)state;
    aio_warnings_set_handler(NULL, NULL);
    aio_set_target_version(AIO_PY_DEFAULT);
    return aio_warnings_set_action(NULL, AIO_WARN_DEFAULT);
}

static void reset(int version)
{
    assert_int_equal(aio_set_event_loop_policy(NULL), 0);
    assert_int_equal(aio_set_target_version(version), 0);
    memset(&w, 0, sizeof w);
}

static void test_get_event_loop_implicit_per_version(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VERSIONS; i++) {
        reset(versions[i]);
        aio_loop *loop = aio_get_event_loop();
        assert_non_null(loop);
        if (versions[i] >= AIO_PY(3, 12)) {
            assert_int_equal(w.count, 1);
            assert_string_equal(w.text, "DeprecationWarning: There is no current event loop|");
        } else {
            assert_int_equal(w.count, 0);
        }
        /* Only the creation warns. */
        assert_ptr_equal(aio_get_event_loop(), loop);
        assert_int_equal(w.count, versions[i] >= AIO_PY(3, 12));
        /* After set_event_loop(None): RuntimeError, no warning. */
        assert_non_null(aio_incref(loop)); /* the policy's reference goes */
        assert_int_equal(aio_set_event_loop(NULL), 0);
        assert_null(aio_get_event_loop());
        assert_raised(aio_RuntimeError, "There is no current event loop in thread 'MainThread'.");
        assert_int_equal(w.count, versions[i] >= AIO_PY(3, 12));
        close_loop(loop);
    }
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

/* Counts the loops a policy makes. */
typedef struct counting_policy {
    aio_event_loop_policy base;
    aio_loop *(*parent_new)(aio_event_loop_policy *self);
    int made;
} counting_policy;

static aio_loop *counting_new_event_loop(aio_event_loop_policy *self)
{
    counting_policy *p = (counting_policy *)self;
    p->made++;
    return p->parent_new(self);
}
AIO_NAME_CALLBACK(counting_new_event_loop);

static void test_get_event_loop_warning_as_error(void **state)
{
    (void)state;
    for (int v = 12; v <= 13; v++) {
        reset(AIO_PY(3, v));
        counting_policy *p = (counting_policy *)aio_default_event_loop_policy_new(sizeof *p);
        assert_non_null(p);
        p->parent_new = p->base.new_event_loop;
        p->base.new_event_loop = counting_new_event_loop;
        assert_int_equal(aio_set_event_loop_policy(&p->base), 0);

        assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, AIO_WARN_ERROR), 0);
        assert_null(aio_get_event_loop());
        assert_raised(aio_DeprecationWarning, "There is no current event loop");
        assert_int_equal(p->made, 0); /* warned before making one */
        /* Not made, not marked: the next call tries again. */
        assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, AIO_WARN_IGNORE), 0);
        aio_loop *loop = aio_get_event_loop();
        assert_non_null(loop);
        assert_int_equal(p->made, 1);
        assert_int_equal(w.count, 0);
        assert_int_equal(aio_loop_close(loop), 0);
        aio_decref(p);
        assert_int_equal(aio_warnings_set_action(aio_Warning, AIO_WARN_ALWAYS), 0);
    }
    /* 3.11: no warning to raise. */
    reset(AIO_PY(3, 11));
    assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, AIO_WARN_ERROR), 0);
    aio_loop *loop = aio_get_event_loop();
    assert_non_null(loop);
    assert_int_equal(aio_loop_close(loop), 0);
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

/* The version is the running loop's when one runs, else the process's. */
typedef struct in_loop {
    aio_loop *loop;
    aio_loop *made;
    int warnings;
} in_loop;

static void ask_policy(void *arg)
{
    in_loop *il = arg;
    aio_event_loop_policy *policy = aio_get_event_loop_policy();
    il->made = policy->get_event_loop(policy);
    il->warnings = w.count;
    aio_loop_stop(il->loop);
}
AIO_NAME_CALLBACK(ask_policy);

static void test_running_loop_version_decides(void **state)
{
    (void)state;
    int loop_versions[] = {AIO_PY(3, 12), AIO_PY(3, 8)};
    for (int i = 0; i < 2; i++) {
        reset(loop_versions[i] == AIO_PY(3, 12) ? AIO_PY(3, 11) : AIO_PY(3, 13));
        in_loop il = {.loop = aio_new_event_loop()};
        assert_non_null(il.loop);
        assert_int_equal(aio_loop_set_target_version(il.loop, loop_versions[i]), 0);
        soon(il.loop, ask_policy, &il);
        assert_int_equal(aio_loop_run_forever(il.loop), 0);
        assert_non_null(il.made);
        assert_ptr_not_equal(il.made, il.loop);
        assert_int_equal(il.warnings, loop_versions[i] >= AIO_PY(3, 12));
        assert_int_equal(aio_loop_close(il.made), 0);
        close_loop(il.loop);
    }
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

static void test_set_event_loop_non_loop_per_version(void **state)
{
    (void)state;
    struct {
        void *a, *b;
    } plain = {&plain, NULL};
    for (size_t i = 0; i < N_VERSIONS; i++) {
        reset(versions[i]);
        aio_event_loop_policy *policy = aio_event_loop_policy_new(0);
        assert_non_null(policy);
        assert_int_equal(aio_set_event_loop((aio_loop *)policy), -1);
        if (versions[i] >= AIO_PY(3, 11)) {
            assert_raised(aio_TypeError, "loop must be an instance of AbstractEventLoop or None, "
                                         "not 'AbstractEventLoopPolicy'");
        } else {
            assert_raised(aio_AssertionError, "");
        }
        assert_int_equal(aio_set_event_loop((aio_loop *)&plain), -1);
        if (versions[i] >= AIO_PY(3, 11)) {
            assert_raised(aio_TypeError, "loop must be an instance of AbstractEventLoop or None, "
                                         "not a plain struct (make one with aio_new_event_loop())");
        } else {
            assert_raised(aio_AssertionError, "");
        }
        /* The refused call still counts as set_event_loop() called. */
        assert_null(aio_get_event_loop());
        assert_raised(aio_RuntimeError, "There is no current event loop in thread 'MainThread'.");
        assert_int_equal(w.count, 0);
        aio_decref(policy);
    }
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

static void assert_repr_prefix(const void *obj, const char *prefix)
{
    char *repr = aio_repr(obj);
    assert_non_null(repr);
    if (strncmp(repr, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "repr %s does not start with %s\n", repr, prefix);
        free(repr);
        fail();
    }
    free(repr);
}

static const char get_deprecated[] = "DeprecationWarning: 'get_child_watcher' is deprecated as of "
                                     "Python 3.12 and will be removed in Python 3.14.|";
static const char set_deprecated[] = "DeprecationWarning: 'set_child_watcher' is deprecated as of "
                                     "Python 3.12 and will be removed in Python 3.14.|";

static bool pidfd_works(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void test_child_watcher_per_version(void **state)
{
    (void)state;
    int all[] = {AIO_PY(3, 6), AIO_PY(3, 7), AIO_PY(3, 8), AIO_PY(3, 11), AIO_PY(3, 12),
                 AIO_PY(3, 13)};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int v = all[i];
        bool deprecated = v >= AIO_PY(3, 12);
        reset(v);
        void *watcher = aio_get_child_watcher();
        assert_non_null(watcher);
        if (v < AIO_PY(3, 8))
            assert_repr_prefix(watcher, "<asyncio.unix_events.SafeChildWatcher object at 0x");
        else if (deprecated && pidfd_works())
            assert_repr_prefix(watcher, "<asyncio.unix_events.PidfdChildWatcher object at 0x");
        else
            assert_repr_prefix(watcher, "<asyncio.unix_events.ThreadedChildWatcher object at 0x");
        assert_string_equal(w.text, deprecated ? get_deprecated : "");
        /* The policy keeps it; the policy's method is what the module calls. */
        aio_event_loop_policy *policy = aio_get_event_loop_policy();
        assert_ptr_equal(policy->get_child_watcher(policy), watcher);
        assert_int_equal(w.count, deprecated ? 2 : 0);

        /* Set: NULL, then the same watcher back. */
        memset(&w, 0, sizeof w);
        assert_non_null(aio_incref(watcher));
        assert_int_equal(aio_set_child_watcher(NULL), 0);
        assert_string_equal(w.text, deprecated ? set_deprecated : "");
        assert_int_equal(aio_set_child_watcher(watcher), 0);
        aio_decref(watcher); /* the policy has its own reference */
        memset(&w, 0, sizeof w);
        assert_ptr_equal(aio_get_child_watcher(), watcher);

        /* After set_child_watcher(None), a new one is made on demand. */
        assert_int_equal(aio_set_child_watcher(NULL), 0);
        void *again = aio_get_child_watcher();
        assert_non_null(again);

        /* What is not a watcher: AssertionError, before any warning. */
        memset(&w, 0, sizeof w);
        assert_int_equal(aio_set_child_watcher(policy), -1);
        assert_raised(aio_AssertionError, "");
        struct {
            void *a, *b;
        } plain = {&plain, NULL};
        assert_int_equal(aio_set_child_watcher(&plain), -1);
        assert_raised(aio_AssertionError, "");
        assert_int_equal(w.count, 0);
        assert_ptr_equal(aio_get_child_watcher(), again);
    }
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

static void test_child_watcher_warning_as_error(void **state)
{
    (void)state;
    reset(AIO_PY(3, 12));
    assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, AIO_WARN_ERROR), 0);
    assert_null(aio_get_child_watcher());
    assert_raised(aio_DeprecationWarning, "'get_child_watcher' is deprecated as of Python 3.12 "
                                          "and will be removed in Python 3.14.");
    assert_int_equal(aio_set_child_watcher(NULL), -1);
    assert_raised(aio_DeprecationWarning, "'set_child_watcher' is deprecated as of Python 3.12 "
                                          "and will be removed in Python 3.14.");
    /* 3.11 does not warn. */
    assert_int_equal(aio_set_target_version(AIO_PY(3, 11)), 0);
    assert_non_null(aio_get_child_watcher());
    assert_int_equal(aio_set_child_watcher(NULL), 0);
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

/* The child watcher methods can be overridden like the others, and an
 * abstract policy's raise NotImplementedError. */
typedef struct watching_policy {
    aio_event_loop_policy base;
    void *(*parent_get)(aio_event_loop_policy *self);
    void (*parent_set)(aio_event_loop_policy *self, void *watcher);
    trace t;
} watching_policy;

static void *my_get_child_watcher(aio_event_loop_policy *self)
{
    watching_policy *p = (watching_policy *)self;
    trace_add(&p->t, "get ");
    return p->parent_get(self);
}
AIO_NAME_CALLBACK(my_get_child_watcher);

static void my_set_child_watcher(aio_event_loop_policy *self, void *watcher)
{
    watching_policy *p = (watching_policy *)self;
    trace_add(&p->t, "set(%s) ", watcher ? "watcher" : "None");
    if (watcher == (void *)p)
        aio_err_set(aio_ValueError, "refused");
    else
        p->parent_set(self, watcher);
}
AIO_NAME_CALLBACK(my_set_child_watcher);

static void test_child_watcher_overrides(void **state)
{
    (void)state;
    reset(AIO_PY(3, 11));
    watching_policy *p = (watching_policy *)aio_default_event_loop_policy_new(sizeof *p);
    assert_non_null(p);
    p->parent_get = p->base.get_child_watcher;
    p->parent_set = p->base.set_child_watcher;
    p->base.get_child_watcher = my_get_child_watcher;
    p->base.set_child_watcher = my_set_child_watcher;
    assert_int_equal(aio_set_event_loop_policy(&p->base), 0);
    void *watcher = aio_get_child_watcher();
    assert_non_null(watcher);
    assert_int_equal(aio_set_child_watcher(NULL), 0);
    assert_int_equal(aio_set_child_watcher(p), -1);
    assert_raised(aio_ValueError, "refused");
    assert_string_equal(p->t.text, "get set(None) set(watcher) ");
    aio_decref(p);

    aio_event_loop_policy *abstract = aio_event_loop_policy_new(0);
    assert_non_null(abstract);
    assert_int_equal(aio_set_event_loop_policy(abstract), 0);
    assert_null(aio_get_child_watcher());
    assert_raised(aio_NotImplementedError, "");
    assert_int_equal(aio_set_child_watcher(NULL), -1);
    assert_raised(aio_NotImplementedError, "");
    aio_decref(abstract);
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

/* Out of memory: MemoryError, and the next call works. */
static void test_child_watcher_out_of_memory(void **state)
{
    (void)state;
    reset(AIO_PY(3, 12));
    assert_non_null(aio_get_event_loop_policy());
    aio__fail_alloc_after = 0;
    assert_null(aio_get_child_watcher());
    aio__fail_alloc_after = -1;
    assert_raised(aio_MemoryError, NULL);
    assert_int_equal(w.count, 0);
    assert_non_null(aio_get_child_watcher());
    assert_int_equal(w.count, 1); /* the warning itself never fails */
    aio__fail_alloc_after = 0;
    assert_non_null(aio_get_child_watcher());
    aio__fail_alloc_after = -1;
    check_no_exception();
    assert_int_equal(w.count, 2);
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

/* Watchers are shared by threads: get and set from several at once. */
static void *watcher_churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        void *watcher = aio_get_child_watcher();
        if (watcher == NULL)
            return "get failed";
        if (i % 7 == 0 && aio_set_child_watcher(NULL) < 0)
            return "set failed";
    }
    return NULL;
}

static void test_child_watcher_threads(void **state)
{
    (void)state;
    reset(AIO_PY(3, 11));
    assert_non_null(aio_get_event_loop_policy());
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, watcher_churn, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    reset(AIO_PY_DEFAULT);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_get_event_loop_implicit_per_version, setup, teardown),
    cmocka_unit_test_setup_teardown(test_get_event_loop_warning_as_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_running_loop_version_decides, setup, teardown),
    cmocka_unit_test_setup_teardown(test_set_event_loop_non_loop_per_version, setup, teardown),
    cmocka_unit_test_setup_teardown(test_child_watcher_per_version, setup, teardown),
    cmocka_unit_test_setup_teardown(test_child_watcher_warning_as_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_child_watcher_overrides, setup, teardown),
    cmocka_unit_test_setup_teardown(test_child_watcher_out_of_memory, setup, teardown),
    cmocka_unit_test_setup_teardown(test_child_watcher_threads, setup, teardown),
};

AIO_TEST_MAIN(tests)
