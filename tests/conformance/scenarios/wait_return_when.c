/* asyncio.wait(): FIRST_COMPLETED returns one iteration after the first
 * completion is seen (its done callback releases the waiter), with every
 * future done by then in `done` (several when they finish together);
 * FIRST_EXCEPTION returns at the first exception, or when all are done;
 * ALL_COMPLETED waits for all. Nothing is raised and the children keep
 * running. Only FIRST_EXCEPTION looks at an exception (marking it
 * retrieved) and only while futures remain; otherwise a failed task left
 * unexamined reports 'Task exception was never retrieved' when dropped.
 * Futures already done still take the callback round trip; a repeated
 * future counts once; an empty set raises ValueError. Sets are printed
 * sorted by name. */
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

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("iteration %d handler: %s %s\n", it, context->message,
           aio_task_get_name(context->future));
}
AIO_NAME_CALLBACK(handler);

typedef struct spec {
    const char *name;
    int steps;
    bool fail;
} spec;

static void *work(void *arg)
{
    spec *s = arg;
    for (int i = 0; i < s->steps; i++)
        if (aio_sleep(0) < 0)
            return NULL;
    printf("iteration %d %s %s\n", it, s->name, s->fail ? "raises" : "returns");
    if (s->fail) {
        aio_err_set(aio_ValueError, s->name);
        return NULL;
    }
    return (void *)s->name;
}
AIO_NAME_CALLBACK(work);

static aio_task *task(spec *s)
{
    aio_task *t = aio_loop_create_task(
        loop, &(aio_loop_create_task_args){.coro = work, .coro_arg = s, .name = s->name});
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

static void run_wait(const char *label, aio_future **fs, size_t n, aio_return_when when)
{
    int start = it;
    aio_wait_result res;
    CHECK(aio_wait(fs, n, &(aio_wait_args){.return_when = when}, &res) == 0);
    printf("iteration %d %s after %d iterations: done ", it, label, it - start);
    print_names(res.done, res.done_len);
    printf(" pending ");
    print_names(res.pending, res.pending_len);
    printf("\n");
    aio_wait_result_clear(&res);
}

static void *main_coro(void *arg)
{
    (void)arg;
    spec sa = {"a", 8, false}, sb = {"b", 1, false}, sc = {"c", 1, false};
    aio_task *a = task(&sa), *b = task(&sb), *c = task(&sc);
    run_wait("FIRST_COMPLETED", (aio_future *[]){a, b, c, b}, 4, AIO_FIRST_COMPLETED);
    run_wait("ALL_COMPLETED", (aio_future *[]){a, b, c}, 3, AIO_ALL_COMPLETED);

    spec sd = {"d", 4, false}, se = {"e", 2, true}, sf = {"f", 6, false};
    aio_task *d = task(&sd), *e = task(&se), *f = task(&sf);
    run_wait("FIRST_EXCEPTION", (aio_future *[]){d, e, f}, 3, AIO_FIRST_EXCEPTION);
    spec sg = {"g", 1, false}, sh = {"h", 2, false};
    aio_task *g = task(&sg), *h = task(&sh);
    run_wait("FIRST_EXCEPTION without one", (aio_future *[]){g, h}, 2, AIO_FIRST_EXCEPTION);
    run_wait("FIRST_COMPLETED on done tasks", (aio_future *[]){g, h}, 2, AIO_FIRST_COMPLETED);
    run_wait("ALL_COMPLETED on d and f", (aio_future *[]){d, f}, 2, AIO_ALL_COMPLETED);

    spec sx = {"x", 1, true}, sy = {"y", 3, false};
    aio_task *x = task(&sx), *y = task(&sy);
    run_wait("ALL_COMPLETED with a failure", (aio_future *[]){x, y}, 2, AIO_ALL_COMPLETED);
    printf("iteration %d dropping x\n", it);
    aio_decref(x);
    spec sz = {"z", 1, true}, sw = {"w", 3, false};
    aio_task *z = task(&sz), *w = task(&sw);
    run_wait("FIRST_COMPLETED with a failure", (aio_future *[]){z, w}, 2, AIO_FIRST_COMPLETED);
    CHECK(aio_await(w));
    printf("iteration %d dropping z\n", it);
    aio_decref(z);

    aio_wait_result res;
    CHECK(aio_wait(NULL, 0, NULL, &res) < 0);
    print_raised("empty");

    aio_task *all[] = {a, b, c, d, e, f, g, h, y, w};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        aio_decref(all[i]);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_loop_set_exception_handler(loop, handler, NULL);
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
