/* call_soon_threadsafe() from another thread wakes a loop blocked in a long
 * poll (its only timer is an hour away): the callback runs promptly, on the
 * loop's thread, and can stop the loop. The thread is started from a
 * callback and joined after run_forever() returns. */
#include <pthread.h>
#include <time.h>

#include "conformance.h"

static aio_loop *loop;
static pthread_t main_thread, thread;
static double scheduled_at;

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void woken(void *arg)
{
    printf("woken %s\n", (const char *)arg);
    printf("on the loop's thread: %s\n", py_bool(pthread_equal(pthread_self(), main_thread)));
    printf("prompt: %s\n", py_bool(monotonic() - scheduled_at < 2.0));
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(woken);

static void *worker(void *arg)
{
    (void)arg;
    nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    scheduled_at = monotonic();
    CHECK(aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = woken, .args = "from the worker"}));
    return NULL;
}

static void start(void *arg)
{
    (void)arg;
    printf("start the worker thread\n");
    CHECK(pthread_create(&thread, NULL, worker, NULL) == 0);
}
AIO_NAME_CALLBACK(start);

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

int main(void)
{
    main_thread = pthread_self();
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = start}));
    aio_timer_handle *far = aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 3600, .callback = say, .args = "the hour passed (wrong)"});
    CHECK(far);
    CHECK(aio_loop_run_forever(loop) == 0);
    pthread_join(thread, NULL);
    printf("joined; far timer still pending: %s\n", py_bool(!aio_handle_cancelled(far)));
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
