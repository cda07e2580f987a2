/* close() with work in flight: it shuts the default executor down without
 * waiting (the running function goes on) and does not touch a pool of the
 * caller's, which still takes work; the futures of both stay pending for
 * good, since their outcomes come to a closed loop. */
#include <pthread.h>
#include <string.h>

#include "conformance.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool started, gate, ran_mine;

static void *blocked(void *arg)
{
    pthread_mutex_lock(&lock);
    started = true;
    pthread_cond_broadcast(&cond);
    while (!gate)
        pthread_cond_wait(&cond, &lock);
    if (strcmp(arg, "mine") == 0)
        ran_mine = true;
    pthread_mutex_unlock(&lock);
    return arg;
}
AIO_NAME_CALLBACK(blocked);

static void *nothing(void *arg)
{
    return arg;
}
AIO_NAME_CALLBACK(nothing);

int main(void)
{
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);
    aio_executor *mine = aio_thread_pool_executor_new(&(aio_thread_pool_executor_args){.max_workers = 1});
    CHECK(mine);
    aio_future *running = aio_loop_run_in_executor(loop, NULL, blocked, "default", NULL);
    aio_future *queued = aio_loop_run_in_executor(loop, mine, blocked, "mine", NULL);
    CHECK(running && queued);
    pthread_mutex_lock(&lock);
    while (!started)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    CHECK(aio_loop_close(loop) == 0);
    printf("closed: %s pending: %s %s\n", py_bool(aio_loop_is_closed(loop)),
           py_bool(!aio_future_done(running)), py_bool(!aio_future_done(queued)));
    pthread_mutex_lock(&lock);
    gate = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    aio_cfuture *f = aio_executor_submit(mine, nothing, NULL);
    CHECK(f);
    aio_cfuture_result(f, AIO_FOREVER);
    CHECK(!aio_err_occurred());
    aio_decref(f);
    aio_executor_shutdown(mine, true, false);
    pthread_mutex_lock(&lock);
    printf("ran mine: %s\n", py_bool(ran_mine));
    pthread_mutex_unlock(&lock);
    printf("still pending: %s %s\n", py_bool(!aio_future_done(running)),
           py_bool(!aio_future_done(queued)));
    aio_decref(running);
    aio_decref(queued);
    aio_decref(mine);
    aio_decref(loop);
    return 0;
}
