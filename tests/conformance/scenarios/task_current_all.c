/* current_task() is the task whose step is running: None in a plain callback
 * or a done callback, RuntimeError('no running event loop') without a loop
 * unless the loop is given. all_tasks() holds the loop's tasks that are not
 * done (including the current one and those not started yet), shown here
 * sorted by name; a task leaves it when it finishes, cancelled or not. */
#include "conformance.h"

static aio_loop *loop;
static aio_task *main_task;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static int compare_names(const void *a, const void *b)
{
    return strcmp(aio_task_get_name(*(aio_task *const *)a), aio_task_get_name(*(aio_task *const *)b));
}

/* Python's sorted list of names, "['a', 'b']", into a static buffer; NULL
 * with the exception set when all_tasks() fails. */
static const char *names(aio_loop *of)
{
    static char buf[512];
    size_t n;
    aio_task **tasks = aio_all_tasks(of, &n);
    if (tasks == NULL && aio_err_occurred())
        return NULL;
    if (n > 0)
        qsort(tasks, n, sizeof *tasks, compare_names);
    size_t len = 0;
    buf[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s'%s'", i ? ", " : "",
                                aio_task_get_name(tasks[i]));
        aio_decref(tasks[i]);
    }
    snprintf(buf + len, sizeof buf - len, "]");
    free(tasks);
    return buf;
}

static const char *current_name(void)
{
    aio_task *t = aio_current_task(NULL);
    CHECK(t != NULL || !aio_err_occurred());
    return t != NULL ? aio_task_get_name(t) : "None";
}

static void in_callback(void *label)
{
    const char *current = current_name();
    printf("iteration %d %s current: %s all: %s\n", it, (const char *)label, current, names(NULL));
}
AIO_NAME_CALLBACK(in_callback);

static void on_done(aio_future *t, void *arg)
{
    (void)arg;
    const char *current = current_name();
    printf("iteration %d done callback of %s current: %s all: %s\n", it, aio_task_get_name(t),
           current, names(NULL));
}
AIO_NAME_CALLBACK(on_done);

static void *worker(void *arg)
{
    int n = (int)(intptr_t)arg;
    const char *current = current_name();
    printf("iteration %d worker %d current: %s all: %s\n", it, n, current, names(NULL));
    for (int i = 0; i < n; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    printf("iteration %d worker %d returns; current: %s\n", it, n, current_name());
    return arg;
}
AIO_NAME_CALLBACK(worker);

static void *main_coro(void *arg)
{
    (void)arg;
    const char *current = current_name();
    printf("iteration %d main current: %s is the task: %s\n", it, current,
           py_bool(aio_current_task(NULL) == main_task));
    static const int ns[] = {3, 1, 2};
    aio_task *workers[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker-%d", ns[i]);
        workers[i] = aio_loop_create_task(loop, &(aio_loop_create_task_args){
                                                    .coro = worker,
                                                    .coro_arg = (void *)(intptr_t)ns[i],
                                                    .name = name});
        CHECK(workers[i]);
    }
    for (int i = 0; i < 3; i++)
        CHECK(aio_future_add_done_callback(workers[i], &(aio_future_add_done_callback_args){.callback = on_done}) == 0);
    printf("iteration %d all after create: %s\n", it, names(NULL));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = in_callback, .args = "plain callback"}));
    CHECK(aio_sleep(0) == 0);
    aio_task_cancel(workers[0], NULL);
    printf("iteration %d all after cancel (still pending): %s\n", it, names(NULL));
    aio_future *g = aio_gather(workers, 3, &(aio_gather_args){.return_exceptions = true});
    CHECK(g);
    CHECK(aio_await(g));
    aio_decref(g);
    printf("iteration %d all at the end: %s\n", it, names(NULL));
    for (int i = 0; i < 3; i++)
        aio_decref(workers[i]);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    if (aio_current_task(NULL) == NULL)
        print_raised("current_task() without a loop");
    if (names(NULL) == NULL)
        print_raised("all_tasks() without a loop");
    aio_task *t = aio_current_task(loop);
    printf("current_task(loop) while stopped: %s\n", t ? aio_task_get_name(t) : "None");
    main_task = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro, .name = "main"});
    CHECK(main_task);
    printf("all_tasks(loop) before running: %s\n", names(loop));
    aio_loop_run_until_complete(loop, main_task);
    CHECK(!aio_err_occurred());
    printf("all_tasks(loop) after: %s\n", names(loop));
    aio_decref(main_task);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
