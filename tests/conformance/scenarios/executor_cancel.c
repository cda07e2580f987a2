/* Cancelling run_in_executor()'s future: a call still queued never runs, a
 * running one runs to its end and its result is dropped (the future stays
 * cancelled). to_thread() runs the function in a copy of the caller's
 * context: it sees the caller's values and its own changes stay in the
 * copy; its exception reaches the caller. A task awaiting to_thread() that
 * is cancelled gets CancelledError while the function finishes. */
#include <pthread.h>
#include <string.h>

#include "conformance.h"

static aio_loop *loop;
static aio_contextvar *var;

/* threading.Event, twice, and the list of what ran. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool started, gate;
static char ran[256];

static void set_flag(bool *flag, bool value)
{
    pthread_mutex_lock(&lock);
    *flag = value;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void wait_flag(bool *flag)
{
    pthread_mutex_lock(&lock);
    while (!*flag)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static void append_ran(const char *name)
{
    pthread_mutex_lock(&lock);
    size_t len = strlen(ran);
    snprintf(ran + len, sizeof ran - len, "%s'%s'", len ? ", " : "", name);
    pthread_mutex_unlock(&lock);
}

static void print_ran(void)
{
    pthread_mutex_lock(&lock);
    printf("ran: [%s]\n", ran);
    pthread_mutex_unlock(&lock);
}

static void *blocked(void *arg)
{
    set_flag(&started, true);
    wait_flag(&gate);
    append_ran(arg);
    return arg;
}
AIO_NAME_CALLBACK(blocked);

static void *quick(void *arg)
{
    append_ran(arg);
    return arg;
}
AIO_NAME_CALLBACK(quick);

static void *read_var(void *arg)
{
    (void)arg;
    void *value = aio_contextvar_get_or(var, "unset");
    aio_decref(aio_contextvar_set(var, "changed in the thread"));
    return value;
}
AIO_NAME_CALLBACK(read_var);

static void *fail(void *arg)
{
    (void)arg;
    aio_err_set(aio_ValueError, "from the thread");
    return NULL;
}
AIO_NAME_CALLBACK(fail);

static void *to_thread_blocked(void *arg)
{
    return aio_to_thread(blocked, arg);
}
AIO_NAME_CALLBACK(to_thread_blocked);

static void *main_coro(void *arg)
{
    (void)arg;
    aio_executor *one = aio_thread_pool_executor_new(&(aio_thread_pool_executor_args){.max_workers = 1});
    CHECK(one);
    aio_future *running = aio_loop_run_in_executor(loop, one, blocked, "running", NULL);
    CHECK(running);
    wait_flag(&started);
    aio_future *queued = aio_loop_run_in_executor(loop, one, quick, "queued", NULL);
    CHECK(queued);
    printf("cancel queued: %s\n", py_bool(aio_future_cancel(queued, NULL)));
    printf("cancel running: %s\n", py_bool(aio_future_cancel(running, NULL)));
    CHECK(aio_sleep(0) == 0);
    printf("cancelled: %s %s\n", py_bool(aio_future_cancelled(queued)),
           py_bool(aio_future_cancelled(running)));
    set_flag(&gate, true);
    aio_executor_shutdown(one, true, false);
    aio_decref(one);
    CHECK(aio_sleep(0) == 0);
    CHECK(aio_sleep(0) == 0);
    print_ran();
    printf("still cancelled: %s\n", py_bool(aio_future_cancelled(running)));
    aio_decref(running);
    aio_decref(queued);

    aio_decref(aio_contextvar_set(var, "main value"));
    const char *saw = aio_to_thread(read_var, NULL);
    CHECK(saw);
    printf("to_thread saw: %s\n", saw);
    printf("main still has: %s\n", (const char *)aio_contextvar_get_or(var, "unset"));
    if (aio_to_thread(fail, NULL) == NULL)
        print_raised("to_thread raised");

    set_flag(&started, false);
    set_flag(&gate, false);
    aio_task *task = aio_loop_create_task(loop, &(aio_loop_create_task_args){
        .coro = to_thread_blocked, .coro_arg = "to_thread"});
    CHECK(task);
    CHECK(aio_sleep(0) == 0);
    wait_flag(&started);
    aio_task_cancel(task, NULL);
    if (aio_await(task) == NULL && aio_err_matches(aio_CancelledError)) {
        aio_err_clear();
        printf("task cancelled: %s\n", py_bool(aio_future_cancelled(task)));
    }
    aio_decref(task);
    set_flag(&gate, true);
    aio_future *f = aio_loop_shutdown_default_executor(loop, NULL);
    CHECK(f);
    aio_await(f);
    CHECK(!aio_err_occurred());
    aio_decref(f);
    print_ran();
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    var = aio_contextvar_new_default("var", "unset");
    CHECK(var);
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_task *t = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(t);
    aio_loop_run_until_complete(loop, t);
    CHECK(!aio_err_occurred());
    aio_decref(t);
    CHECK(aio_loop_close(loop) == 0);
    aio_decref(loop);
    aio_decref(var);
    return 0;
}
