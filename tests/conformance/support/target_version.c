/* target_version.c - linked into every C twin: sets the process default
 * target version from the harness before main() runs.
 *
 * run.py compares each twin with the recorded traces of several CPython
 * versions and says which one in CASYNCIO_CONFORMANCE_TARGET ("3.8.18", or
 * "3.8" for the first release of 3.8): the point release matters where
 * CPython changed within one (reuse_address is refused from 3.8.1). The twin's loops are created in main(),
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
    unsigned major, minor, micro = 0;
    int end = 0;
    if (value == NULL || *value == '\0')
        return;
    int fields = sscanf(value, "%u.%u%n.%u%n", &major, &minor, &end, &micro, &end);
    if (fields < 2 || value[end] != '\0') {
        fprintf(stderr, "CASYNCIO_CONFORMANCE_TARGET=%s: expected a version like 3.8.18\n", value);
        exit(3);
    }
    if (major > 255 || minor > 255 || micro > 255 ||
        aio_set_target_version(AIO_PY_MICRO((int)major, (int)minor, (int)micro)) < 0) {
        fprintf(stderr, "CASYNCIO_CONFORMANCE_TARGET=%s: ", value);
        if (aio_err_occurred() != NULL)
            aio_err_print();
        else
            fprintf(stderr, "out of range\n");
        exit(3);
    }
}
