/* test_bytes.c - aio_bytes of every size (bytes.c): what goes to malloc
 * alone (1 KiB and less) and what comes from the per-thread cache of freed
 * blocks by size class; content, size and the NUL after it, reuse of freed
 * blocks, more blocks freed than the cache keeps, a failed allocation
 * (MemoryError) even when the cache has a block, and threads that free
 * what others made and then end. Under AddressSanitizer there is no cache
 * (every bytes is a malloc() of its own), and the same checks hold.
 */
#include <pthread.h>

#include "test_support.h"

#include "bytes.h"

static unsigned char pattern_byte(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + seed) & 0xFF);
}

/* A bytes of len bytes of the pattern; checks it at once. */
static aio_bytes *make(size_t len, unsigned seed)
{
    unsigned char *src = malloc(len ? len : 1);
    assert_non_null(src);
    for (size_t i = 0; i < len; i++)
        src[i] = pattern_byte(i, seed);
    aio_bytes *b = aio_bytes_new(src, len);
    free(src);
    assert_non_null(b);
    return b;
}

static void check(const aio_bytes *b, size_t len, unsigned seed)
{
    assert_int_equal(aio_bytes_size(b), len);
    const unsigned char *data = aio_bytes_data(b);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++) {
        if (data[i] != pattern_byte(i, seed))
            fail_msg("byte %zu of %zu differs", i, len);
    }
    assert_int_equal(data[len], 0);
}

/* Sizes around every class edge (1 KiB to 512 KiB, four classes per power
 * of two) and past the largest class. */
static size_t edge_sizes(size_t *out, size_t max)
{
    size_t n = 0;
    const size_t header_guess = 64;
    for (size_t base = 512; base <= 1024 * 1024 && n + 40 < max; base *= 2) {
        for (size_t q = 0; q < 4; q++) {
            size_t edge = base + q * (base / 4);
            for (size_t d = 0; d < 2 * header_guess; d += 13)
                if (edge > header_guess && n < max)
                    out[n++] = edge - header_guess + d;
        }
    }
    out[n++] = 0;
    out[n++] = 1;
    return n;
}

static void test_bytes_sizes_and_reuse(void **state)
{
    (void)state;
    static size_t sizes[2000];
    size_t n = edge_sizes(sizes, 1900);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++) {
            aio_bytes *b = make(sizes[i], (unsigned)(i + round));
            check(b, sizes[i], (unsigned)(i + round));
            aio_decref(b);
        }
    }
    /* The same size again and again takes the block just freed: whatever
     * it held before, the new bytes is what was asked. */
    for (int i = 0; i < 1000; i++) {
        aio_bytes *b = make(1500 + (size_t)i % 7, (unsigned)i);
        check(b, 1500 + (size_t)i % 7, (unsigned)i);
        aio_decref(b);
    }
    assert_no_leaks();
}

/* More live bytes of one class than the cache keeps, freed together, and
 * made again: the cache gives back what it kept and malloc the rest. */
static void test_bytes_many_live(void **state)
{
    (void)state;
    enum { N = 300 };
    static aio_bytes *live[N];
    static const size_t lens[] = {1100, 4000, 70000, 200000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < N; i++)
                live[i] = make(lens[k] - (size_t)i % 5, (unsigned)i);
            for (int i = 0; i < N; i++)
                check(live[i], lens[k] - (size_t)i % 5, (unsigned)i);
            for (int i = 0; i < N; i++)
                aio_decref(live[i]);
        }
    }
    /* 10^5 read-sized bytes made and freed one after the other. */
    for (int i = 0; i < 100000; i++) {
        aio_bytes *b = aio_bytes_new(NULL, 0);
        assert_non_null(b);
        aio_decref(b);
        void *data;
        b = aio__bytes_alloc(1024 + (size_t)i % 3000, &data);
        assert_non_null(b);
        memset(data, 'x', 1024 + (size_t)i % 3000);
        aio_decref(b);
    }
    assert_no_leaks();
}

/* A shrunk bytes (a read that took less than it made room for) goes back
 * to the class it was made in. */
static void test_bytes_shrink(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        void *data;
        aio_bytes *b = aio__bytes_alloc(100000, &data);
        assert_non_null(b);
        memset(data, 'a', 100000);
        aio__bytes_shrink(b, (size_t)i * 7);
        assert_int_equal(aio_bytes_size(b), (size_t)i * 7);
        assert_int_equal(((const unsigned char *)aio_bytes_data(b))[i * 7], 0);
        aio_decref(b);
    }
    assert_no_leaks();
}

/* A failed allocation raises MemoryError whether or not the cache holds a
 * block of the class; the next one succeeds. */
static void test_bytes_alloc_failure(void **state)
{
    (void)state;
    static const size_t lens[] = {10, 2000, 100000, 600000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        aio_bytes *b = make(lens[k], 1);
        aio_decref(b); /* now cached, for the cached sizes */
        aio__fail_alloc_after = 0;
        void *data = NULL;
        assert_null(aio__bytes_alloc(lens[k], &data));
        assert_raised(aio_MemoryError, NULL);
        aio__fail_alloc_after = -1;
        b = make(lens[k], 2);
        check(b, lens[k], 2);
        aio_decref(b);
    }
    /* An impossible size: MemoryError, nothing taken. */
    void *data = NULL;
    assert_null(aio__bytes_alloc(SIZE_MAX - 4, &data));
    assert_raised(aio_MemoryError, NULL);
    assert_no_leaks();
}

/* Threads that make bytes, hand half of them to the next thread to free,
 * and end (their caches freed as they go). */
#define THREADS 16
#define PER_THREAD 400

typedef struct handoff {
    aio_bytes *made[THREADS][PER_THREAD];
    int index;
} handoff;

static handoff shared;

static void *maker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        size_t len = 900 + (size_t)((t * 977 + i * 131) % 150000);
        aio_bytes *b = aio_bytes_new(NULL, 0);
        aio_decref(b);
        unsigned char *src = malloc(len);
        if (src == NULL)
            return P(1);
        memset(src, t + i, len);
        b = aio_bytes_new(src, len);
        free(src);
        if (b == NULL)
            return P(1);
        if (i % 2 == 0)
            aio_decref(b); /* freed here: into this thread's cache */
        else
            shared.made[t][i] = b; /* freed by another thread */
    }
    if (t > 0) {
        for (int i = 1; i < PER_THREAD; i += 2) {
            aio_decref(shared.made[t - 1][i]);
            shared.made[t - 1][i] = NULL;
        }
    }
    return NULL;
}

static void test_bytes_threads(void **state)
{
    (void)state;
    memset(&shared, 0, sizeof shared);
    /* One after the other, so that thread t frees what t - 1 made. */
    for (int t = 0; t < THREADS; t++) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, maker, (void *)(intptr_t)t), 0);
        void *result;
        assert_int_equal(pthread_join(th, &result), 0);
        assert_null(result);
    }
    for (int i = 1; i < PER_THREAD; i += 2)
        aio_decref(shared.made[THREADS - 1][i]);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bytes_sizes_and_reuse),
    cmocka_unit_test(test_bytes_many_live),
    cmocka_unit_test(test_bytes_shrink),
    cmocka_unit_test(test_bytes_alloc_failure),
    cmocka_unit_test(test_bytes_threads),
};

AIO_TEST_MAIN(tests)
