/* Debug mode: with slow_callback_duration set to 0.05, a callback that runs
 * for 0.1 s is logged as a WARNING 'Executing <handle> took 0.1xx seconds'
 * (only its shape is compared: it names the handle and ends ' seconds'),
 * while a fast callback is not; get_debug() reports the mode and the
 * default threshold is 0.1. Debug mode also checks callbacks: call_soon(None)
 * raises TypeError at once, and call_soon() from another thread while the
 * loop runs raises RuntimeError('Non-thread-safe operation ...'). */
#include <pthread.h>
#include <time.h>

#include "conformance.h"

static aio_loop *loop;

static void printer(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)exc, (void)arg;
    size_t len = strlen(message);
    printf("log: %s starts 'Executing ': %s ends ' seconds': %s\n", level_name(level),
           py_bool(strncmp(message, "Executing ", 10) == 0),
           py_bool(len >= 8 && strcmp(message + len - 8, " seconds") == 0));
}
AIO_NAME_CALLBACK(printer);

static void slow(void *arg)
{
    (void)arg;
    printf("slow callback: sleep 0.1 s\n");
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
}
AIO_NAME_CALLBACK(slow);

static void fast(void *arg)
{
    (void)arg;
    printf("fast callback\n");
}
AIO_NAME_CALLBACK(fast);

static void relax(void *arg)
{
    (void)arg;
    /* the thread part below need not be fast: no threshold for it */
    aio_loop_set_slow_callback_duration(loop, 60);
}
AIO_NAME_CALLBACK(relax);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void attempt(const char *label, void *result)
{
    if (result == NULL)
        print_raised(label);
    else
        printf("%s: no exception\n", label);
}

static void *from_thread(void *arg)
{
    (void)arg;
    attempt("call_soon from another thread", aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = fast}));
    attempt("call_soon_threadsafe from another thread", aio_loop_call_soon_threadsafe(loop,
        &(aio_loop_call_soon_threadsafe_args){.callback = stop, .args = loop}));
    return NULL;
}

static void start_thread(void *arg)
{
    (void)arg;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, from_thread, NULL) == 0);
    pthread_join(t, NULL);
}
AIO_NAME_CALLBACK(start_thread);

int main(void)
{
    aio_log_set_handler(printer, NULL);
    loop = aio_new_event_loop();
    CHECK(loop);
    printf("debug: %s slow_callback_duration: %g\n", py_bool(aio_loop_get_debug(loop)),
           aio_loop_slow_callback_duration(loop));
    aio_loop_set_debug(loop, true);
    aio_loop_set_slow_callback_duration(loop, 0.05);
    printf("debug: %s slow_callback_duration: %g\n", py_bool(aio_loop_get_debug(loop)),
           aio_loop_slow_callback_duration(loop));
    attempt("call_soon(None)", aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = NULL}));
    attempt("call_later(1, None)", aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 1, .callback = NULL}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = slow}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = fast}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = relax}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0.01, .callback = start_thread}));
    CHECK(aio_loop_run_forever(loop) == 0);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
