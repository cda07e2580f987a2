/* target_version.c - linked into every C twin: sets the process default
 * target version from the harness before main() runs.
 *
 * run.py compares each twin with the recorded traces of several CPython
 * versions and says which one in CASYNCIO_CONFORMANCE_TARGET ("3.8", or
 * "3.8.18": only major.minor is used). The twin's loops are created in main(),
 * so a constructor sets the default in time, and no twin (the examples
 * among them) needs a line of its own. Unset: the library's default. The
 * library itself never reads this variable; a program chooses its target
 * with aio_set_target_version(), as here.
 */
#include <stdio.h>
#include <stdlib.h>

#include <casyncio.h>

static void conformance_target_version(void) __attribute__((constructor));

static void conformance_target_version(void)
{
    const char *value = getenv("CASYNCIO_CONFORMANCE_TARGET");
    unsigned major, minor;
    int end = 0;
    if (value == NULL || *value == '\0')
        return;
    if (sscanf(value, "%u.%u%n", &major, &minor, &end) != 2 ||
        (value[end] != '\0' && value[end] != '.')) {
        fprintf(stderr, "CASYNCIO_CONFORMANCE_TARGET=%s: expected a version like 3.8\n", value);
        exit(3);
    }
    if (major > 255 || minor > 255 || aio_set_target_version(AIO_PY((int)major, (int)minor)) < 0) {
        fprintf(stderr, "CASYNCIO_CONFORMANCE_TARGET=%s: ", value);
        if (aio_err_occurred() != NULL)
            aio_err_print();
        else
            fprintf(stderr, "out of range\n");
        exit(3);
    }
}
