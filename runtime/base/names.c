/* names.c - the registry of callback names (see names.h). */
#include "names.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/exceptions.h"

typedef struct entry {
    void (*fn)(void);
    char *name;          /* owned; NULL marks a free slot when fn is NULL */
    unsigned flags;
} entry;

/* Open addressing with linear probing over a power-of-two table; written
 * rarely (at load time, mostly), read when something is printed. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *table;
static size_t table_cap;
static size_t table_len;

static size_t slot_of(void (*fn)(void), size_t cap)
{
    uintptr_t key;
    memcpy(&key, &fn, sizeof key);
    key ^= key >> 17;
    key *= (uintptr_t)0x9E3779B97F4A7C15u;
    return (size_t)(key >> 20) & (cap - 1);
}

static entry *find(entry *t, size_t cap, void (*fn)(void))
{
    size_t i = slot_of(fn, cap);
    while (t[i].fn != NULL && t[i].fn != fn)
        i = (i + 1) & (cap - 1);
    return &t[i];
}

static int grow(void)
{
    size_t cap = table_cap ? 2 * table_cap : 64;
    entry *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < table_cap; i++) {
        if (table[i].fn != NULL)
            *find(t, cap, table[i].fn) = table[i];
    }
    free(table);
    table = t;
    table_cap = cap;
    return 0;
}

static int name_register(void (*fn)(void), const char *name, unsigned flags)
{
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    pthread_mutex_lock(&lock);
    if ((table_len + 1) * 4 > table_cap * 3 && grow() < 0) {
        pthread_mutex_unlock(&lock);
        free(copy);
        return -1;
    }
    entry *e = find(table, table_cap, fn);
    if (e->fn == NULL)
        table_len++;
    free(e->name);
    e->fn = fn;
    e->name = copy;
    e->flags = flags;
    pthread_mutex_unlock(&lock);
    return 0;
}

int aio__name_register(void (*fn)(void), const char *name, unsigned flags)
{
    return name_register(fn, name, flags);
}

int aio__name_append(aio__strbuf *out, void (*fn)(void))
{
    int flags = -1;
    pthread_mutex_lock(&lock);
    if (table != NULL && fn != NULL) {
        entry *e = find(table, table_cap, fn);
        if (e->fn == fn) {
            if (out != NULL)
                aio__sb_append(out, e->name);
            flags = (int)e->flags;
        }
    }
    pthread_mutex_unlock(&lock);
    return flags;
}

int aio_name_callback(void (*fn)(void), const char *name)
{
    if (fn == NULL || name == NULL || *name == '\0') {
        aio_err_set(aio_ValueError, "aio_name_callback() needs a function and a name");
        return -1;
    }
    if (name_register(fn, name, 0) < 0) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    return 0;
}
