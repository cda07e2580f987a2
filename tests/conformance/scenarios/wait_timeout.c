/* asyncio.wait(timeout=...): when the timeout passes first, wait() returns
 * the (done, pending) split as it stands, raising nothing and cancelling
 * nothing: the pending tasks keep running and can be awaited afterwards.
 * When everything completes first the timer is cancelled and the result is
 * as without a timeout. timeout=0 returns after the timer's round trip (two
 * iterations) with whatever is done by then. Sets are printed sorted by name. */
#include "conformance.h"

static aio_loop *loop;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

typedef struct spec {
    const char *name;
    int steps;
    double delay;
} spec;

static void *work(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->steps; i++) {
        if (aio_sleep(0) < 0) {
            printf("%s cancelled\n", s->name);
            return NULL;
        }
    }
    printf("%s returns\n", s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(work);

static void *sleeper(void *arg)
{
    spec *s = arg;
    if (aio_sleep(s->delay) < 0)
        return NULL;
    printf("%s woke up\n", s->name);
    return (void *)s->name;
}
AIO_NAME_CALLBACK(sleeper);

static aio_task *task(aio_coroutine coro, spec *s)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = coro, .coro_arg = s, .name = s->name});
    CHECK(t);
    return t;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(aio_task_get_name(*(aio_future *const *)a),
                  aio_task_get_name(*(aio_future *const *)b));
}

static void print_names(aio_future **fs, size_t n)
{
    if (n > 0)
        qsort(fs, n, sizeof *fs, compare_names);
    printf("[");
    for (size_t i = 0; i < n; i++)
        printf("%s'%s'", i ? ", " : "", aio_task_get_name(fs[i]));
    printf("]");
}

static void wait_two(aio_future *x, aio_future *y, size_t n, double timeout, aio_return_when when,
                     aio_wait_result *res)
{
    aio_future *fs[] = {x, y};
    CHECK(aio_wait(fs, n, &(aio_wait_args){.timeout = timeout, .return_when = when}, res) == 0);
}

static void print_split(aio_wait_result *res)
{
    printf("done ");
    print_names(res->done, res->done_len);
    printf(" pending ");
    print_names(res->pending, res->pending_len);
    aio_wait_result_clear(res);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_wait_result res;
    spec s_quick = {"quick", 1, 0}, s_slow = {"slow", 0, 0.2};
    aio_task *quick = task(work, &s_quick), *slow = task(sleeper, &s_slow);
    wait_two(quick, slow, 2, 0.02, AIO_ALL_COMPLETED, &res);
    printf("timed out: ");
    print_split(&res);
    printf(" slow cancelled: %s\n", py_bool(aio_future_cancelled(slow)));
    const char *r = aio_await(slow);
    CHECK(r);
    printf("awaiting slow afterwards: %s\n", r);
    aio_decref(quick);
    aio_decref(slow);

    spec sa = {"a", 1, 0}, sb = {"b", 2, 0};
    aio_task *a = task(work, &sa), *b = task(work, &sb);
    wait_two(a, b, 2, 3600, AIO_ALL_COMPLETED, &res);
    printf("in time: ");
    print_split(&res);
    printf("\n");
    aio_decref(a);
    aio_decref(b);

    spec sc = {"c", 0, 0}, sd = {"d", 10, 0};
    aio_task *c = task(work, &sc), *d = task(work, &sd);
    int start = it;
    wait_two(c, d, 2, AIO_ZERO, AIO_ALL_COMPLETED, &res);
    printf("timeout=0 after %d iterations: ", it - start);
    print_split(&res);
    printf("\n");
    CHECK(aio_await(d));
    aio_decref(c);
    aio_decref(d);

    spec se = {"e", 0, 3600};
    aio_task *e = task(sleeper, &se);
    wait_two(e, NULL, 1, 0.01, AIO_FIRST_COMPLETED, &res);
    printf("FIRST_COMPLETED timed out: ");
    print_split(&res);
    printf("\n");
    aio_task_cancel(e, NULL);
    wait_two(e, NULL, 1, 0, AIO_ALL_COMPLETED, &res);
    printf("after cancel: ");
    print_split(&res);
    printf(" cancelled: %s\n", py_bool(aio_future_cancelled(e)));
    aio_decref(e);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    aio_task *m = aio_loop_create_task(loop, &(aio_loop_create_task_args){.coro = main_coro});
    CHECK(m);
    aio_loop_run_until_complete(loop, m);
    CHECK(!aio_err_occurred());
    aio_decref(m);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
