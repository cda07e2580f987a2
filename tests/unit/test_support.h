/* test_support.h - what every unit test file shares.
 *
 * Each test binary lists its tests with --list and runs one by name, so that
 * tests/run-unit.sh can give each its own process and time limit. Loop tests
 * end with assert_no_leaks(): every object they made is gone.
 */
#ifndef CASYNCIO_TEST_SUPPORT_H
#define CASYNCIO_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "casyncio.h"
#include "object.h"

/* Every test starts with no exception and no live object. */
static inline void assert_no_leaks_(const char *file, int line)
{
    if (aio_err_occurred() != NULL) {
        char *repr = aio_repr(aio_err_occurred());
        fprintf(stderr, "%s:%d: exception left set: %s\n", file, line, repr);
        free(repr);
        fail();
    }
    if (aio__live_objects != 0) {
        fprintf(stderr, "%s:%d: %ld objects still alive\n", file, line, aio__live_objects);
        fail();
    }
}
#define assert_no_leaks() assert_no_leaks_(__FILE__, __LINE__)

/* The current exception is of `type` with message `msg` (NULL: any); clears it. */
static inline void assert_raised_(const aio_exc_type *type, const char *msg, const char *file,
                                  int line)
{
    aio_exc *exc = aio_err_fetch();
    if (exc == NULL) {
        fprintf(stderr, "%s:%d: expected %s, nothing raised\n", file, line, type->name);
        fail();
    }
    if (!aio_exc_isinstance(exc, type) || (msg != NULL && strcmp(aio_exc_str(exc), msg) != 0)) {
        char *repr = aio_repr(exc);
        fprintf(stderr, "%s:%d: expected %s(%s), got %s\n", file, line, type->name,
                msg ? msg : "...", repr);
        free(repr);
        aio_decref(exc);
        fail();
    }
    aio_decref(exc);
}
#define assert_raised(type, msg) assert_raised_((type), (msg), __FILE__, __LINE__)

/* A trace of what callbacks did, compared at the end of a test. */
typedef struct trace {
    char text[4096];
} trace;

static inline void trace_add(trace *t, const char *fmt, ...)
{
    size_t len = strlen(t->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->text + len, sizeof t->text - len, fmt, ap);
    va_end(ap);
}

/* main(): `--list` prints the test names, `NAME` runs that test alone, no
 * argument runs them all. */
#define AIO_TEST_MAIN(tests)                                                       \
    int main(int argc, char **argv)                                                \
    {                                                                              \
        if (argc > 1 && strcmp(argv[1], "--list") == 0) {                           \
            for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)          \
                printf("%s\n", tests[i].name);                                     \
            return 0;                                                              \
        }                                                                          \
        if (argc > 1)                                                              \
            cmocka_set_test_filter(argv[1]);                                       \
        return cmocka_run_group_tests(tests, NULL, NULL);                          \
    }

#endif /* CASYNCIO_TEST_SUPPORT_H */
