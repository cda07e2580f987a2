/* test_support.h - what every unit test file shares.
 *
 * Each test binary lists its tests with --list and runs one by name, so that
 * tests/run-unit.sh can give each its own process and time limit. Loop tests
 * end with assert_no_leaks(): every object they made is gone. Every function
 * a test hands to the library (callback, coroutine, generator, handler,
 * policy method) is static and named with AIO_NAME_CALLBACK(), the shared
 * ones below too: reprs and logs name them without a dynamic symbol table
 * (the tests are linked without -rdynamic).
 */
#ifndef CASYNCIO_TEST_SUPPORT_H
#define CASYNCIO_TEST_SUPPORT_H

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "casyncio.h"
#include "object.h"

/* Every test starts with no exception and no live object. */
static inline void assert_no_leaks_(const char *file, int line)
{
    if (aio_err_occurred() != NULL) {
        char *repr = aio_repr(aio_err_occurred());
        fprintf(stderr, "%s:%d: exception left set: %s\n", file, line, repr);
        free(repr);
        fail();
    }
    if (aio__live_objects != 0) {
        fprintf(stderr, "%s:%d: %ld objects still alive\n", file, line, aio__live_objects);
        fail();
    }
}
#define assert_no_leaks() assert_no_leaks_(__FILE__, __LINE__)

/* The current exception is of `type` with message `msg` (NULL: any); clears it. */
static inline void assert_raised_(const aio_exc_type *type, const char *msg, const char *file,
                                  int line)
{
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL) {
        fprintf(stderr, "%s:%d: expected %s, nothing raised\n", file, line, type->name);
        fail();
    }
    if (!aio_exc_isinstance(exc, type) || (msg != NULL && strcmp(aio_exc_str(exc), msg) != 0)) {
        char *repr = aio_repr(exc);
        fprintf(stderr, "%s:%d: expected %s(%s), got %s\n", file, line, type->name,
                msg ? msg : "...", repr);
        free(repr);
        aio_decref(exc);
        fail();
    }
    aio_decref(exc);
}
#define assert_raised(type, msg) assert_raised_((type), (msg), __FILE__, __LINE__)

/* A trace of what callbacks did, compared at the end of a test. */
typedef struct trace {
    char text[4096];
} trace;

static inline void trace_add(trace *t, const char *fmt, ...)
{
    size_t len = strlen(t->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->text + len, sizeof t->text - len, fmt, ap);
    va_end(ap);
}

/* A pointer made of a number: callback and future arguments, results. */
#define P(n) ((void *)(uintptr_t)(n))

/* --- exceptions and reprs ---------------------------------------------------- */

/* Fails the test when an exception is set. */
static inline void check_no_exception(void)
{
    if (aio_err_occurred() != NULL) {
        char *repr = aio_repr(aio_err_occurred());
        fprintf(stderr, "unexpected exception: %s\n", repr);
        free(repr);
        fail();
    }
}

/* repr(obj) is `expected`. */
static inline void assert_repr_(const void *obj, const char *expected, const char *file, int line)
{
    char *repr = aio_repr(obj);
    assert_non_null(repr);
    if (strcmp(repr, expected) != 0) {
        fprintf(stderr, "%s:%d: repr: expected %s\n           got %s\n", file, line, expected,
                repr);
        free(repr);
        fail();
    }
    free(repr);
}
#define assert_repr(obj, expected) assert_repr_((obj), (expected), __FILE__, __LINE__)

/* Writes repr(obj) into out ("?" when it cannot be made); returns out. */
static inline char *repr_copy(const void *obj, char *out, size_t size)
{
    char *repr = aio_repr(obj);
    snprintf(out, size, "%s", repr ? repr : "?");
    free(repr);
    return out;
}

/* The descriptors the process has open (-1 when /proc cannot tell): a
 * test compares the count before and after to find a leak. */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* --- loops ----------------------------------------------------------------------- */

/* A new event loop; the test fails when there is none. */
static inline aio_loop *new_loop(void)
{
    aio_loop *loop = aio_new_event_loop();
    assert_non_null(loop);
    return loop;
}

/* A new event loop that behaves as CPython `version` (AIO_PY(3, N)). */
static inline aio_loop *new_loop_at(int version)
{
    aio_loop *loop = new_loop();
    assert_int_equal(aio_loop_set_target_version(loop, version), 0);
    return loop;
}

/* Empties `t`, makes a loop (with debug mode off when `debug_off`) and checks
 * that nothing was raised. */
static inline aio_loop *new_traced_loop_(trace *t, bool debug_off)
{
    memset(t, 0, sizeof *t);
    aio_loop *loop = new_loop();
    if (debug_off)
        aio_loop_set_debug(loop, false);
    check_no_exception();
    return loop;
}

/* A loop for a test that records into `t`; debug mode as the environment says. */
static inline aio_loop *new_traced_loop(trace *t)
{
    return new_traced_loop_(t, false);
}

/* The same with debug mode off, whatever PYTHONASYNCIODEBUG says. */
static inline aio_loop *new_traced_loop_nodebug(trace *t)
{
    return new_traced_loop_(t, true);
}

/* Closes the loop and drops the test's reference. */
static inline void close_loop(aio_loop *loop)
{
    assert_int_equal(aio_loop_close(loop), 0);
    aio_decref(loop);
}

/* close_loop(), then nothing may be left alive. */
static inline void finish_(aio_loop *loop, const char *file, int line)
{
    close_loop(loop);
    assert_no_leaks_(file, line);
}
#define finish(loop) finish_((loop), __FILE__, __LINE__)

/* Runs the loop until it stops; nothing may be left raised. */
static inline void run(aio_loop *loop)
{
    assert_int_equal(aio_loop_run_forever(loop), 0);
    check_no_exception();
}

/* A callback that stops the loop it is given. */
static inline void stop_cb(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop_cb);

/* A callback that does nothing. */
static inline void noop(void *arg)
{
    (void)arg;
}
AIO_NAME_CALLBACK(noop);

/* Runs exactly one iteration: stop() first, then run_forever(). Leaves an
 * exception that was raised for the test to look at. */
static inline void run_one_iteration(aio_loop *loop)
{
    assert_int_equal(aio_loop_stop(loop), 0);
    assert_int_equal(aio_loop_run_forever(loop), 0);
}

/* Runs exactly one iteration by queueing stop_cb behind what is ready (that
 * iteration also polls I/O and runs due timers), then run(). */
static inline void run_one_iteration_via_stop_cb(aio_loop *loop)
{
    assert_non_null(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop_cb,
                                                                         .args = loop}));
    run(loop);
}

/* loop.call_soon(cb, arg), which must succeed. */
static inline aio_handle *soon(aio_loop *loop, aio_callback cb, void *arg)
{
    aio_handle *h = aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = cb, .args = arg});
    assert_non_null(h);
    return h;
}

/* loop.call_at(when, cb, arg), which must succeed. */
static inline aio_timer_handle *at(aio_loop *loop, double when, aio_callback cb, void *arg)
{
    aio_timer_handle *h = aio_loop_call_at(
        loop, &(aio_loop_call_at_args){.when = when, .callback = cb, .args = arg});
    assert_non_null(h);
    return h;
}

/* Sets var to the number `value`. */
static inline void set_contextvar(aio_contextvar *var, long value)
{
    aio_contextvar_token *token = aio_contextvar_set(var, P(value));
    assert_non_null(token);
    aio_decref(token);
}

/* --- time and threads ---------------------------------------------------------- */

/* Sleeps ms milliseconds, resuming after signals. */
static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs fn(arg) in a new thread and waits for it to end. */
static inline void run_in_thread(void *(*fn)(void *), void *arg)
{
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
}

/* --- what the library writes ----------------------------------------------------- */

/* stderr, redirected into a pipe between capture_start() and capture_end(). */
typedef struct stderr_capture {
    int saved;
    int rfd;
    char text[8192];
} stderr_capture;

static inline void capture_start(stderr_capture *c)
{
    int fds[2];
    fflush(stderr);
    assert_int_equal(pipe(fds), 0);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(fds[1], 2), 2);
    close(fds[1]);
    c->rfd = fds[0];
}

/* Puts stderr back and returns what was written to it meanwhile. */
static inline const char *capture_end(stderr_capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(c->rfd, c->text + len, sizeof c->text - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(c->rfd);
    c->text[len] = '\0';
    return c->text;
}

/* The last record the log handler was given, and how many there were. */
typedef struct log_record {
    int count;
    int level;
    char message[2048];
    char exc[256]; /* repr of the exception */
    aio_exc *exc_ptr;
} log_record;

/* An aio_log_set_handler() handler filling the log_record `arg`. */
static inline void log_record_handler(int level, const char *message, aio_exc *exc, void *arg)
{
    log_record *rec = arg;
    rec->count++;
    rec->level = level;
    snprintf(rec->message, sizeof rec->message, "%s", message);
    repr_copy(exc, rec->exc, sizeof rec->exc);
    rec->exc_ptr = exc;
}
AIO_NAME_CALLBACK(log_record_handler);

/* Empties rec and sends the log there until log_record_stop(). */
static inline void log_record_start(log_record *rec)
{
    memset(rec, 0, sizeof *rec);
    aio_log_set_handler(log_record_handler, rec);
}

/* The log goes back to stderr. */
static inline void log_record_stop(void)
{
    aio_log_set_handler(NULL, NULL);
}

/* --- Exception handler reports and tasks ---------------------------------------- */

/* What an exception handler was given last (report_handler), and how often. */
typedef struct handler_report {
    int calls;
    char message[512];
    char exception[256];  /* repr of 'exception' */
    void *asyncgen;       /* 'asyncgen' (borrowed) */
    bool has_task;
    char task[256];       /* repr of 'task' */
} handler_report;

/* An aio_loop_set_exception_handler() handler filling the handler_report `arg`. */
static inline void report_handler(aio_loop *loop, const aio_exception_context *context,
                                  void *arg)
{
    (void)loop;
    handler_report *r = arg;
    r->calls++;
    snprintf(r->message, sizeof r->message, "%s", context->message ? context->message : "");
    repr_copy(context->exception, r->exception, sizeof r->exception);
    r->asyncgen = context->asyncgen;
    r->has_task = context->task != NULL;
    repr_copy(context->task, r->task, sizeof r->task);
}
AIO_NAME_CALLBACK(report_handler);

/* Runs coro(arg) as a task to its end and returns its result; the task must
 * not fail. */
static inline void *run_coro(aio_loop *loop, aio_coroutine coro, void *arg)
{
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = coro,
                                                                          .coro_arg = arg});
    assert_non_null(t);
    void *result = aio_loop_run_until_complete(loop, t);
    check_no_exception();
    aio_decref(t);
    return result;
}

/* Runs the loop an iteration at a time until fut is done; its outcome is
 * left to the test. */
static inline void run_until_future_done(aio_loop *loop, aio_future *fut)
{
    while (aio_future_done(fut) != 1)
        run_one_iteration(loop);
    check_no_exception();
}

/* main(): `--list` prints the test names, `NAME` runs that test alone, no
 * argument runs them all. */
/* A test binary's main() after its own set-up: `--list` prints the tests'
 * names, one name runs that test alone, none runs them all. */
static inline int aio_test_run_(const char *group, const struct CMUnitTest *tests, size_t n,
                                int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}
#define AIO_TEST_RUN(tests, argc, argv)                                                  \
    aio_test_run_(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), (argc), (argv))

#define AIO_TEST_MAIN(tests)                                                             \
    int main(int argc, char **argv)                                                      \
    {                                                                                    \
        return AIO_TEST_RUN(tests, argc, argv);                                          \
    }

/* --- warnings ------------------------------------------------------------------- */

/* The DeprecationWarnings shown since watch_deprecations(): how many, and the
 * last one's message. */
static int deprecations;
static char last_deprecation[256];

static inline void record_deprecation(const aio_exc_type *category, const char *message, void *arg)
{
    (void)arg;
    assert_ptr_equal(category, aio_DeprecationWarning);
    deprecations++;
    snprintf(last_deprecation, sizeof last_deprecation, "%s", message);
}
AIO_NAME_CALLBACK(record_deprecation);

/* DeprecationWarnings get `action` and, when shown, go to record_deprecation. */
static inline void watch_deprecations(aio_warning_action action)
{
    deprecations = 0;
    last_deprecation[0] = '\0';
    aio_warnings_set_handler(record_deprecation, NULL);
    assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, action), 0);
}

/* Every category's action and the handler back to their defaults. */
static inline void unwatch_deprecations(void)
{
    aio_warnings_set_action(NULL, AIO_WARN_DEFAULT);
    aio_warnings_set_handler(NULL, NULL);
}

#endif /* CASYNCIO_TEST_SUPPORT_H */
