/* warnings.c - Python's warnings: an action per category, messages shown
 * once under the default action, a handler for what is shown. */
#include "casyncio/warnings.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"

/* The actions set, most recent first: the first whose category covers a
 * warning's decides. A category appears at most once (setting it again
 * moves it to the front, which is what inserting a filter first amounts
 * to), so the list is as long as the categories ever set. */
typedef struct rule {
    const aio_exc_type *category;
    aio_warning_action action;
} rule;

/* The messages shown under AIO_WARN_DEFAULT: an open-addressing set of
 * (category, message). It holds at most SHOWN_MAX messages; when full it is
 * emptied, so that a program that warns with ever new messages does not
 * grow it without end (those messages may then show again). */
#define SHOWN_MAX 1024
#define SHOWN_CAP (2 * SHOWN_MAX) /* a power of two, kept at most half full */

typedef struct shown_entry {
    const aio_exc_type *category; /* NULL: a free slot */
    uint64_t hash;
    char *message; /* owned */
} shown_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rule *rules;
static size_t rules_len, rules_cap;
static shown_entry *shown; /* SHOWN_CAP entries, allocated when first needed */
static size_t shown_len;
static aio_warning_handler handler;
static void *handler_arg;

/* malloc() that leaves the thread's exception as it was: a warning that
 * cannot record or build its message still goes out. A test's injected
 * failure (aio__alloc_fails) counts as malloc failing. */
static void *quiet_malloc(size_t size)
{
    aio_exc *saved = aio_err_fetch();
    bool fails = aio__alloc_fails();
    aio_err_restore(saved);
    return fails ? NULL : malloc(size);
}

static void shown_forget(void)
{
    if (shown == NULL)
        return;
    for (size_t i = 0; i < SHOWN_CAP; i++) {
        free(shown[i].message);
        shown[i] = (shown_entry){0};
    }
    shown_len = 0;
}

static uint64_t hash_of(const aio_exc_type *category, const char *message)
{
    uint64_t h = 14695981039346656037u ^ (uint64_t)(uintptr_t)category;
    for (const unsigned char *p = (const unsigned char *)message; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return h;
}

/* Records (category, message) as shown; true when it was not yet. Lock
 * held. When memory runs out, the message is not recorded and counts as
 * not shown yet: it shows (again) rather than the warning failing. */
static bool shown_first_time(const aio_exc_type *category, const char *message)
{
    if (shown == NULL) {
        shown = quiet_malloc(SHOWN_CAP * sizeof *shown);
        if (shown == NULL)
            return true;
        memset(shown, 0, SHOWN_CAP * sizeof *shown);
    }
    uint64_t h = hash_of(category, message);
    size_t i = (size_t)h & (SHOWN_CAP - 1);
    for (; shown[i].category != NULL; i = (i + 1) & (SHOWN_CAP - 1)) {
        if (shown[i].category == category && shown[i].hash == h &&
            strcmp(shown[i].message, message) == 0)
            return false;
    }
    if (shown_len == SHOWN_MAX) {
        shown_forget();
        i = (size_t)h & (SHOWN_CAP - 1);
    }
    size_t size = strlen(message) + 1;
    char *copy = quiet_malloc(size);
    if (copy == NULL)
        return true;
    memcpy(copy, message, size);
    shown[i] = (shown_entry){category, h, copy};
    shown_len++;
    return true;
}

static aio_warning_action action_of(const aio_exc_type *category)
{
    for (size_t i = 0; i < rules_len; i++) {
        if (aio_exc_type_is_subclass(category, rules[i].category))
            return rules[i].action;
    }
    return AIO_WARN_DEFAULT;
}

static void write_to_stderr(const aio_exc_type *category, const char *message, void *arg)
{
    (void)arg;
    fprintf(stderr, "casyncio: %s: %s\n", category->name, message);
}

static bool check_category(const aio_exc_type *category)
{
    if (category != NULL && aio_exc_type_is_subclass(category, aio_Warning))
        return true;
    aio_err_format(aio_TypeError, "category must be a Warning subclass, not %s",
                   category != NULL ? category->name : "NULL");
    return false;
}

int aio_warn(const aio_exc_type *category, const char *message)
{
    if (!check_category(category))
        return -1;
    if (message == NULL) {
        aio_err_set(aio_TypeError, "message must not be NULL");
        return -1;
    }
    pthread_mutex_lock(&lock);
    aio_warning_action action = action_of(category);
    bool show = action == AIO_WARN_ALWAYS ||
                (action == AIO_WARN_DEFAULT && shown_first_time(category, message));
    aio_warning_handler h = handler != NULL ? handler : write_to_stderr;
    void *arg = handler != NULL ? handler_arg : NULL;
    pthread_mutex_unlock(&lock);
    if (action == AIO_WARN_ERROR) {
        aio_err_set(category, message);
        return -1;
    }
    if (show)
        h(category, message, arg);
    return 0;
}

int aio_warn_format(const aio_exc_type *category, const char *fmt, ...)
{
    if (fmt == NULL) {
        aio_err_set(aio_TypeError, "message must not be NULL");
        return -1;
    }
    /* A message that does not fit the buffer is allocated; when that
     * fails, the warning goes out cut short rather than not at all. */
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *message = buf;
    if (len >= (int)sizeof buf) {
        char *big = quiet_malloc((size_t)len + 1);
        if (big != NULL) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)len + 1, fmt, ap);
            va_end(ap);
            message = big;
        }
    } else if (len < 0) {
        buf[0] = '\0';
    }
    int rc = aio_warn(category, message);
    if (message != buf)
        free(message);
    return rc;
}

static int rules_put(const aio_exc_type *category, aio_warning_action action)
{
    size_t i = 0;
    while (i < rules_len && rules[i].category != category)
        i++;
    if (i == rules_len) {
        if (rules_len == rules_cap) {
            size_t cap = rules_cap ? 2 * rules_cap : 8;
            rule *r = aio__realloc(rules, cap * sizeof *r);
            if (r == NULL)
                return -1;
            rules = r;
            rules_cap = cap;
        }
        rules_len++;
    }
    memmove(rules + 1, rules, i * sizeof *rules);
    rules[0] = (rule){category, action};
    return 0;
}

int aio_warnings_set_action(const aio_exc_type *category, aio_warning_action action)
{
    if (category != NULL && !check_category(category))
        return -1;
    if (action < AIO_WARN_DEFAULT || action > AIO_WARN_ERROR) {
        aio_err_format(aio_ValueError, "invalid warning action %d", (int)action);
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (category == NULL)
        rules_len = 0;
    else
        rc = rules_put(category, action);
    /* As a change of Python's filters does, any change shows the messages
     * already shown once more under the default action. */
    if (rc == 0)
        shown_forget();
    pthread_mutex_unlock(&lock);
    return rc;
}

void aio_warnings_set_handler(aio_warning_handler h, void *arg)
{
    pthread_mutex_lock(&lock);
    handler = h;
    handler_arg = arg;
    pthread_mutex_unlock(&lock);
}
