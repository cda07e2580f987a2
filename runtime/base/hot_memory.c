/* hot_memory.c - the handle pool and growable regions (see hot_memory.h). */
#include "hot_memory.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "casyncio/exceptions.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_BYPASS 1
#endif
#endif

#ifdef POOL_BYPASS

/* Not aio__malloc(): the pool's blocks are not what tests make fail. */
void *aio__pool_alloc(void)
{
    void *block = malloc(AIO__POOL_BLOCK);
    if (block == NULL)
        aio_err_set(aio_MemoryError, NULL);
    return block;
}

void aio__pool_free(void *block)
{
    free(block);
}

#ifdef AIO_TRACK_OBJECTS
size_t aio__pool_slab_bytes(void)
{
    return 0;
}
#endif

#else

/* Slabs come from the system; threads carve them into chunks of CHUNK
 * bytes, which they hand out a block at a time. */
#define SLAB_MIN (64u * 1024u)
#define SLAB_MAX (2u * 1024u * 1024u)
#define CHUNK (16u * 1024u)
/* The blocks a thread keeps free: its list, and one full list set aside. A
 * thread's list that reaches BATCH blocks when one is already set aside
 * goes to the depot, where any thread takes it. */
#define BATCH 256u

/* A free block: only its first word is the pool's. The rest may still say
 * what the block was (a freed handle names itself to a stale use). */
typedef struct free_block {
    struct free_block *next;
} free_block;

/* A list of free blocks in the depot. */
typedef struct depot_list {
    free_block *head;
    size_t count;
} depot_list;

/* An unused rest of a chunk, [start, end), left in the depot by a thread that
 * ended; the range's first block (never handed out) holds this. */
typedef struct free_range {
    struct free_range *next;
    char *end;
} free_range;

/* Every slab ever made, so that the memory stays reachable. */
typedef struct slab {
    struct slab *next;
} slab;

/* The depot, shared by all threads. Taken from and given to a list or a
 * chunk at a time, so the lock is rare: on the same thread, a handle freed
 * is the next one allocated. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static slab *slabs;
static size_t slab_bytes;             /* what the slabs add up to */
static depot_list *depot_lists;       /* lists of free blocks */
static size_t depot_len, depot_cap;
static free_range *depot_ranges;      /* rests of chunks */
static char *slab_bump;               /* the unused rest of the newest slab */
static char *slab_end;

/* The thread's own: its free list, a full list set aside (or NULL), and
 * the rest of its chunk. The fast paths keep no count of the free list:
 * free_credit is how many more blocks may be freed before the slow path
 * counts it (at most BATCH blocks, a walk amortized over as many frees);
 * the list never holds more than BATCH. free_credit is 0 until the
 * thread's exit hook is set, so that its first free takes the slow path,
 * which sets it. One structure, so that the fast paths find all of it from
 * one thread-local address. */
typedef struct pool_thread {
    free_block *free_blocks;
    long free_credit;
    char *bump;
    char *bump_end;
    free_block *spare_blocks;
    size_t spare_count;
    bool exit_hook_set;
} pool_thread;

static _Thread_local pool_thread my;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* The length of a free list (at most BATCH blocks, unless the depot had
 * no room for one). */
static size_t list_length(const free_block *list)
{
    size_t n = 0;
    for (; list != NULL; list = list->next)
        n++;
    return n;
}

/* Under pool_lock: false when the depot has no room (out of memory). */
static bool depot_put_list(free_block *list, size_t count)
{
    if (depot_len == depot_cap) {
        size_t cap = depot_cap ? 2 * depot_cap : 64;
        depot_list *lists = realloc(depot_lists, cap * sizeof *lists);
        if (lists == NULL)
            return false;
        depot_lists = lists;
        depot_cap = cap;
    }
    depot_lists[depot_len++] = (depot_list){list, count};
    return true;
}

/* A thread that ends gives what it keeps to the depot: its free blocks and
 * the rest of its chunk. What it frees later (another thread-exit
 * destructor may) sets the hook again, and goes to the depot in the next
 * round of destructors. */
static void on_thread_exit(void *unused)
{
    (void)unused;
    size_t count = list_length(my.free_blocks);
    pthread_mutex_lock(&pool_lock);
    /* Out of memory for the depot, they stay in their slabs, unused. */
    if (my.free_blocks != NULL)
        depot_put_list(my.free_blocks, count);
    if (my.spare_blocks != NULL)
        depot_put_list(my.spare_blocks, my.spare_count);
    if (my.bump < my.bump_end) {
        free_range *range = (free_range *)(void *)my.bump;
        range->end = my.bump_end;
        range->next = depot_ranges;
        depot_ranges = range;
    }
    pthread_mutex_unlock(&pool_lock);
    memset(&my, 0, sizeof my);
}

static void exit_key_init(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

static void set_exit_hook(void)
{
    pthread_once(&exit_key_once, exit_key_init);
    pthread_setspecific(exit_key, &exit_key);
    my.exit_hook_set = true;
}

/* Under pool_lock: a new slab, the first block of which holds its link. */
static int new_slab(void)
{
    size_t size = slabs == NULL ? SLAB_MIN : SLAB_MAX;
    void *memory;
    if (size >= SLAB_MAX) {
        memory = aligned_alloc(SLAB_MAX, size);
        if (memory != NULL)
            madvise(memory, size, MADV_HUGEPAGE);
    } else {
        memory = malloc(size);
    }
    if (memory == NULL)
        return -1;
    slab *s = memory;
    s->next = slabs;
    slabs = s;
    slab_bytes += size;
    slab_bump = (char *)memory + AIO__POOL_BLOCK;
    slab_end = (char *)memory + size;
    return 0;
}

/* Past the free list and the chunk: the list set aside, a list from the
 * depot, else a chunk (a rest left in the depot, or carved from a slab).
 * A list of n blocks taken in leaves room for BATCH - n frees. */
static __attribute__((noinline, cold)) void *pool_alloc_slow(void)
{
    if (!my.exit_hook_set)
        set_exit_hook();
    free_block *list = my.spare_blocks;
    size_t count = my.spare_count;
    if (list != NULL) {
        my.spare_blocks = NULL;
    } else {
        pthread_mutex_lock(&pool_lock);
        if (depot_len > 0) {
            depot_list taken = depot_lists[--depot_len];
            list = taken.head;
            count = taken.count;
        }
        pthread_mutex_unlock(&pool_lock);
    }
    if (list != NULL) {
        my.free_blocks = list->next;
        my.free_credit = count - 1 < BATCH ? (long)(BATCH - (count - 1)) : 0;
        return list;
    }
    pthread_mutex_lock(&pool_lock);
    free_range *range = depot_ranges;
    if (range != NULL) {
        depot_ranges = range->next;
        my.bump = (char *)range;
        my.bump_end = range->end;
    } else {
        if (slab_bump == slab_end && new_slab() < 0) {
            pthread_mutex_unlock(&pool_lock);
            aio_err_set(aio_MemoryError, NULL);
            return NULL;
        }
        size_t size = (size_t)(slab_end - slab_bump);
        my.bump = slab_bump;
        my.bump_end = slab_bump + (size < CHUNK ? size : CHUNK);
        slab_bump = my.bump_end;
    }
    pthread_mutex_unlock(&pool_lock);
    void *out = my.bump;
    my.bump += AIO__POOL_BLOCK;
    return out;
}

void *aio__pool_alloc(void)
{
    free_block *block = my.free_blocks;
    if (AIO_LIKELY(block != NULL)) {
        my.free_blocks = block->next;
        return block;
    }
    if (AIO_LIKELY(my.bump < my.bump_end)) {
        void *out = my.bump;
        my.bump += AIO__POOL_BLOCK;
        return out;
    }
    return pool_alloc_slow();
}

/* The credit ran out (or the exit hook is not set yet): the free list is
 * counted; when full, the list set aside goes to the depot and this one
 * is set aside in its place. */
static __attribute__((noinline, cold)) void pool_free_slow(free_block *block)
{
    if (!my.exit_hook_set)
        set_exit_hook();
    size_t count = list_length(my.free_blocks);
    if (count >= BATCH) {
        bool room = true;
        if (my.spare_blocks != NULL) {
            pthread_mutex_lock(&pool_lock);
            room = depot_put_list(my.spare_blocks, my.spare_count);
            pthread_mutex_unlock(&pool_lock);
        }
        if (room) {
            my.spare_blocks = my.free_blocks;
            my.spare_count = count;
            my.free_blocks = NULL;
            count = 0;
        }
    }
    block->next = my.free_blocks;
    my.free_blocks = block;
    /* Out of memory for the depot, the list grows; it tries again later. */
    my.free_credit = count < BATCH ? (long)(BATCH - count - 1) : (long)BATCH;
}

void aio__pool_free(void *ptr)
{
    free_block *block = ptr;
    if (AIO_UNLIKELY(--my.free_credit < 0)) {
        pool_free_slow(block); /* noinline: keeps this path short */
        return;
    }
    block->next = my.free_blocks;
    my.free_blocks = block;
}

#ifdef AIO_TRACK_OBJECTS
size_t aio__pool_slab_bytes(void)
{
    pthread_mutex_lock(&pool_lock);
    size_t bytes = slab_bytes;
    pthread_mutex_unlock(&pool_lock);
    return bytes;
}
#endif

#endif /* POOL_BYPASS */

/* --- Growable regions ------------------------------------------------------ */

static size_t region_bytes(size_t size, size_t offset)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (size + offset + page - 1) & ~(page - 1);
}

void *aio__region_grow(void *ptr, size_t old_size, size_t size, size_t offset)
{
    void *base;
    if (ptr == NULL)
        base = mmap(NULL, region_bytes(size, offset), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else
        base = mremap((char *)ptr - offset, region_bytes(old_size, offset),
                      region_bytes(size, offset), MREMAP_MAYMOVE);
    if (base == MAP_FAILED) {
        aio_err_set(aio_MemoryError, NULL);
        return NULL;
    }
    madvise(base, region_bytes(size, offset), MADV_HUGEPAGE);
    return (char *)base + offset;
}

void aio__region_free(void *ptr, size_t size, size_t offset)
{
    if (ptr != NULL)
        munmap((char *)ptr - offset, region_bytes(size, offset));
}
