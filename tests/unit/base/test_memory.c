/* test_memory.c - the handle pool (memory.c) under threads that come and
 * go: handles made by one thread and freed by another, and threads that
 * end, must not make the pool grow past what the live handles need.
 *
 * The figure is the pool's own (aio__pool_slab_bytes(), test builds only):
 * what it took from the system, which does not depend on timing. Under
 * AddressSanitizer there is no pool (every handle is a malloc() of its
 * own): the tests still check that every callback ran.
 */
#include <stdatomic.h>

#include "test_support.h"

#include "hot_memory.h"

#define THREADS 300
#define HANDLES 2000

/* A pool that took more than this for a few thousand live handles grew
 * with the threads: two slabs (64 KiB, then 2 MiB) hold 34,000 handles. */
#define POOL_BOUND (4u * 1024u * 1024u)

typedef struct churn {
    aio_loop *loop;
    int threads;            /* producers, one after the other */
    int parallel;           /* at a time */
    atomic_long ran;        /* callbacks the loop ran */
    atomic_long made;       /* handles the producers made */
    atomic_int failed;
    size_t bytes_early;     /* the pool after the first few producers */
} churn;

static void count_cb(void *arg)
{
    churn *c = arg;
    atomic_fetch_add(&c->ran, 1);
}
AIO_NAME_CALLBACK(count_cb);

static void *producer(void *arg)
{
    churn *c = arg;
    for (int i = 0; i < HANDLES; i++) {
        if (aio_loop_call_soon_threadsafe(c->loop, &(aio_loop_call_soon_threadsafe_args){
                                                       .callback = count_cb, .args = c}) == NULL) {
            aio_err_clear();
            atomic_fetch_add(&c->failed, 1);
            return NULL;
        }
        atomic_fetch_add(&c->made, 1);
    }
    return NULL;
}

static void stop_threadsafe(aio_loop *loop)
{
    aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
                                            .callback = stop_cb, .args = loop});
}

/* Starts the producers, `parallel` at a time, each batch once the loop ran
 * what the last one made (so that live handles stay few), then stops the
 * loop. */
static void *driver(void *arg)
{
    churn *c = arg;
    for (int started = 0; started < c->threads; started += c->parallel) {
        pthread_t threads[8];
        int n = c->parallel;
        for (int i = 0; i < n; i++) {
            if (pthread_create(&threads[i], NULL, producer, c) != 0) {
                atomic_fetch_add(&c->failed, 1);
                n = i;
                break;
            }
        }
        for (int i = 0; i < n; i++)
            pthread_join(threads[i], NULL);
        while (atomic_load(&c->ran) < atomic_load(&c->made))
            sleep_ms(1);
        if (started < 10 && started + c->parallel >= 10)
            c->bytes_early = aio__pool_slab_bytes();
    }
    stop_threadsafe(c->loop);
    return NULL;
}

/* call_soon_threadsafe() from threads that end: the loop's thread frees
 * what they made, and its free blocks must serve the next ones. */
static void run_churn(int threads, int parallel)
{
    aio_loop *loop = new_loop();
    churn c = {.loop = loop, .threads = threads, .parallel = parallel};
    size_t before = aio__pool_slab_bytes();
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, driver, &c), 0);
    run(loop); /* the loop keeps running while they come and go */
    assert_int_equal(pthread_join(thread, NULL), 0);
    size_t after = aio__pool_slab_bytes();
    assert_int_equal(atomic_load(&c.failed), 0);
    assert_int_equal(atomic_load(&c.ran), (long)threads * HANDLES);
    print_message("pool: %zu KiB before, %zu KiB after 10 producers, %zu KiB after %d\n",
                  before / 1024, c.bytes_early / 1024, after / 1024, threads);
    /* It used to take a slab (2 MiB) per producer: 600 MiB for 300. */
    assert_true(after <= before + POOL_BOUND);
    finish(loop);
}

static void test_pool_producer_threads(void **state)
{
    (void)state;
    run_churn(THREADS, 1);
}

static void test_pool_producer_threads_in_parallel(void **state)
{
    (void)state;
    run_churn(THREADS, 4);
}

/* Threads that run loops of their own and end: what each leaves free, and
 * the rest of its chunk, go to the depot for the next. */
static void *loop_thread(void *arg)
{
    churn *c = arg;
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL)
        return NULL;
    for (int i = 0; i < HANDLES; i++) {
        if (aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = count_cb,
                                                                .args = c}) == NULL)
            break;
    }
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = stop_cb, .args = loop});
    aio_loop_run_forever(loop);
    aio_loop_close(loop);
    aio_decref(loop);
    aio_err_clear();
    return NULL;
}

static void test_pool_loop_threads(void **state)
{
    (void)state;
    size_t before = aio__pool_slab_bytes();
    churn c = {0};
    for (int i = 0; i < THREADS; i++)
        run_in_thread(loop_thread, &c);
    size_t after = aio__pool_slab_bytes();
    assert_int_equal(atomic_load(&c.ran), (long)THREADS * HANDLES);
    print_message("pool: %zu KiB before, %zu KiB after %d loop threads\n", before / 1024,
                  after / 1024, THREADS);
    assert_true(after <= before + POOL_BOUND);
    assert_no_leaks();
}

/* A free block is the pool's in its first word only: the rest still says
 * what the block was (a freed handle names itself to a stale use), in the
 * thread's lists and in the depot alike. */
static void test_pool_keeps_freed_blocks(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* no pool: the blocks are malloc()'s, freed */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    enum { N = 2000 };
    unsigned char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = aio__pool_alloc();
        assert_non_null(blocks[i]);
        memset(blocks[i] + sizeof(void *), 0xA5, AIO__POOL_BLOCK - sizeof(void *));
    }
    for (int i = 0; i < N; i++)
        aio__pool_free(blocks[i]); /* past two lists of 256: most go to the depot */
    for (int i = 0; i < N; i++) {
        for (size_t j = sizeof(void *); j < AIO__POOL_BLOCK; j++)
            assert_int_equal(blocks[i][j], 0xA5);
    }
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pool_producer_threads),
    cmocka_unit_test(test_pool_producer_threads_in_parallel),
    cmocka_unit_test(test_pool_loop_threads),
    cmocka_unit_test(test_pool_keeps_freed_blocks),
};

AIO_TEST_MAIN(tests)
