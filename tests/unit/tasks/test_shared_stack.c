/* test_shared_stack.c - tasks on the thread's shared stack
 * (aio_task_args.shared_stack): their stacks are set aside while they are
 * suspended and put back before they run, so many tasks interleaving must
 * each find their locals intact; they may drive async generators, be
 * cancelled, and be unwound when the loop closes. Under AddressSanitizer
 * and with ucontext they get stacks of their own, and must behave alike. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

typedef struct shared_run {
    aio_loop *loop;
    long checked;      /* locals found intact after a suspension */
    long corrupted;
    long cancelled;
    long cleaned_up;
} shared_run;

typedef struct worker_arg {
    shared_run *run;
    long id;
} worker_arg;

/* Fills a buffer that depends on id, suspends a few times (bare yields and
 * timers, so that other tasks run on the same stack meanwhile), and checks
 * the buffer and a double after each resumption. */
static void *worker(void *arg)
{
    worker_arg *w = arg;
    char buffer[700];
    double value = (double)w->id * 1.25;
    for (size_t i = 0; i < sizeof buffer; i++)
        buffer[i] = (char)(w->id * 31 + (long)i);
    for (int round = 0; round < 6; round++) {
        if (aio_sleep(round % 2 ? 0 : 0.001) < 0) {
            w->run->cancelled++;
            return NULL;
        }
        bool intact = value == (double)w->id * 1.25;
        for (size_t i = 0; i < sizeof buffer && intact; i++)
            intact = buffer[i] == (char)(w->id * 31 + (long)i);
        if (intact)
            w->run->checked++;
        else
            w->run->corrupted++;
    }
    return (void *)(intptr_t)w->id;
}
AIO_NAME_CALLBACK(worker);

static aio_task *shared_task(aio_loop *loop, aio_coroutine coro, void *arg)
{
    aio_task *t = aio_task_new(coro, arg, &(aio_task_args){.loop = loop, .shared_stack = true});
    assert_non_null(t);
    return t;
}

static void test_shared_stack_interleaved_locals(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    enum { N = 200 };
    shared_run run = {.loop = loop};
    worker_arg args[N];
    aio_task *tasks[N];
    for (long i = 0; i < N; i++) {
        args[i] = (worker_arg){&run, i};
        tasks[i] = shared_task(loop, worker, &args[i]);
    }
    aio_future *all = aio_gather(tasks, N, NULL);
    assert_non_null(all);
    const aio_gather_list *results = aio_loop_run_until_complete(loop, all);
    assert_non_null(results);
    assert_int_equal(run.corrupted, 0);
    assert_int_equal(run.checked, 6L * N);
    for (long i = 0; i < N; i++)
        assert_int_equal((intptr_t)results->items[i].result, i);
    aio_decref(all);
    for (long i = 0; i < N; i++)
        aio_decref(tasks[i]);
    finish(loop);
}

/* Shared and own-stack tasks side by side. */
static void test_shared_stack_mixed_with_own_stacks(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    enum { N = 40 };
    shared_run run = {.loop = loop};
    worker_arg args[N];
    aio_task *tasks[N];
    for (long i = 0; i < N; i++) {
        args[i] = (worker_arg){&run, i};
        tasks[i] = i % 2 ? shared_task(loop, worker, &args[i])
                         : aio_task_new(worker, &args[i], &(aio_task_args){.loop = loop});
        assert_non_null(tasks[i]);
    }
    aio_future *all = aio_gather(tasks, N, NULL);
    assert_non_null(aio_loop_run_until_complete(loop, all));
    assert_int_equal(run.corrupted, 0);
    assert_int_equal(run.checked, 6L * N);
    aio_decref(all);
    for (long i = 0; i < N; i++)
        aio_decref(tasks[i]);
    finish(loop);
}

/* An async generator (on its own stack) driven by a shared-stack task that
 * awaits inside the generator: the task's stack is set aside while the
 * generator's await is pending. */
static void *counting_gen(aio_asyncgen *gen, void *arg)
{
    (void)arg;
    static int values[3] = {10, 20, 30};
    for (int i = 0; i < 3; i++) {
        if (aio_sleep(0) < 0 || aio_yield(gen, &values[i]) < 0)
            return NULL;
    }
    return NULL;
}
AIO_NAME_CALLBACK(counting_gen);

typedef struct consumer_state {
    int sum;
    int marker_ok;
} consumer_state;

static void *consumer(void *arg)
{
    consumer_state *st = arg;
    volatile int marker = 0x5eed;
    aio_asyncgen *gen = aio_asyncgen_new(counting_gen, NULL, NULL);
    if (gen == NULL)
        return NULL;
    void *v;
    while ((v = aio_anext(gen)) != NULL)
        st->sum += *(int *)v;
    aio_decref(gen);
    if (!aio_err_matches(aio_StopAsyncIteration))
        return NULL;
    aio_err_clear();
    st->marker_ok = marker == 0x5eed;
    return "done";
}
AIO_NAME_CALLBACK(consumer);

static void test_shared_stack_drives_async_generator(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    consumer_state a = {0}, b = {0};
    aio_task *ta = shared_task(loop, consumer, &a);
    aio_task *tb = shared_task(loop, consumer, &b);
    aio_future *both[2] = {ta, tb};
    aio_future *all = aio_gather(both, 2, NULL);
    assert_non_null(aio_loop_run_until_complete(loop, all));
    assert_int_equal(a.sum, 60);
    assert_int_equal(b.sum, 60);
    assert_true(a.marker_ok);
    assert_true(b.marker_ok);
    aio_decref(all);
    aio_decref(ta);
    aio_decref(tb);
    finish(loop);
}

static void test_shared_stack_cancel(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    shared_run run = {.loop = loop};
    worker_arg arg = {&run, 7};
    aio_task *t = shared_task(loop, worker, &arg);
    /* Let it reach its first sleep, then cancel it there. */
    run_one_iteration(loop);
    assert_int_equal(aio_task_cancel(t, "enough"), 1);
    assert_null(aio_loop_run_until_complete(loop, t));
    assert_raised(aio_CancelledError, "enough");
    assert_int_equal(run.cancelled, 1);
    assert_int_equal(aio_future_cancelled(t), 1);
    aio_decref(t);
    finish(loop);
}

/* Closing the loop unwinds a suspended shared-stack task with GeneratorExit,
 * its stack put back first. */
static void *waits_forever(void *arg)
{
    shared_run *run = arg;
    char guard[64];
    memset(guard, 0x77, sizeof guard);
    aio_future *fut = aio_loop_create_future(run->loop);
    void *r = aio_await(fut);
    if (r == NULL && aio_err_matches(aio_GeneratorExit) && guard[0] == 0x77 && guard[63] == 0x77)
        run->cleaned_up++;
    aio_decref(fut);
    return NULL;
}
AIO_NAME_CALLBACK(waits_forever);

static void count_reports(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    if (strcmp(context->message, "Task was destroyed but it is pending!") == 0)
        ++*(int *)arg;
}
AIO_NAME_CALLBACK(count_reports);

static void test_shared_stack_unwound_at_close(void **state)
{
    (void)state;
    aio_loop *loop = new_loop();
    shared_run run = {.loop = loop};
    aio_task *t = shared_task(loop, waits_forever, &run);
    int reports = 0;
    aio_loop_set_exception_handler(loop, count_reports, &reports);
    run_one_iteration(loop);
    assert_int_equal(aio_loop_close(loop), 0);
    assert_int_equal(run.cleaned_up, 1);
    /* Still pending: dropping it is reported, as in Python. */
    aio_decref(t);
    assert_int_equal(reports, 1);
    finish(loop);
}

/* A thread that ran tasks gives back its pooled stacks, its shared stack
 * and its alternate signal stack when it ends. */
static long mapped_kib(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    long kib = 0;
    unsigned long start, end;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx-%lx", &start, &end) == 2)
            kib += (long)((end - start) / 1024);
    }
    fclose(f);
    return kib;
}

static void *short_task(void *arg)
{
    return aio_sleep(0) < 0 ? NULL : arg;
}
AIO_NAME_CALLBACK(short_task);

static void *thread_main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_task *tasks[6];
    for (int i = 0; i < 6; i++) {
        tasks[i] = aio_task_new(short_task, "x",
                                &(aio_task_args){.loop = loop, .shared_stack = i % 2 == 0});
        if (tasks[i] == NULL)
            return NULL;
    }
    aio_future *all = aio_gather(tasks, 6, NULL);
    void *r = all != NULL ? aio_await(all) : NULL;
    aio_decref(all);
    for (int i = 0; i < 6; i++)
        aio_decref(tasks[i]);
    return r != NULL ? "ok" : NULL;
}
AIO_NAME_CALLBACK(thread_main_coro);

static void *thread_body(void *arg)
{
    *(void **)arg = aio_run(thread_main_coro, NULL, NULL);
    aio_err_clear();
    return NULL;
}

static void test_thread_exit_releases_stacks(void **state)
{
    (void)state;
    void *result = NULL;
    run_in_thread(thread_body, &result); /* warms up what threads share */
    assert_non_null(result);
    long before = mapped_kib();
    assert_true(before > 0);
    for (int i = 0; i < 20; i++) {
        result = NULL;
        run_in_thread(thread_body, &result);
        assert_non_null(result);
    }
    long after = mapped_kib();
    /* Without the release, each thread would leave its shared stack and its
     * signal stack mapped: 384 KiB of address space a thread. */
    assert_true(after - before < 1024);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_shared_stack_interleaved_locals),
    cmocka_unit_test(test_shared_stack_mixed_with_own_stacks),
    cmocka_unit_test(test_shared_stack_drives_async_generator),
    cmocka_unit_test(test_shared_stack_cancel),
    cmocka_unit_test(test_shared_stack_unwound_at_close),
    cmocka_unit_test(test_thread_exit_releases_stacks),
};

AIO_TEST_MAIN(tests)
