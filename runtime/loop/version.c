/* The target version: which CPython's asyncio a loop behaves as. */
#include "loop.h"

#include <stdatomic.h>

static atomic_int default_target = AIO_PY_DEFAULT;

bool aio__version_valid(int version)
{
    int major = version >> 16, minor = (version >> 8) & 0xff;
    return major == 3 && minor >= 6 && minor <= 13;
}

static int refuse(int version)
{
    aio_err_format(aio_ValueError,
                   "unsupported target version 0x%06x: expected AIO_PY(3, 6) to AIO_PY(3, 13)",
                   (unsigned)version);
    return -1;
}

int aio_set_target_version(int version)
{
    if (!aio__version_valid(version))
        return refuse(version);
    atomic_store(&default_target, version);
    return 0;
}

int aio_get_target_version(void)
{
    return atomic_load(&default_target);
}

int aio_loop_set_target_version(aio_loop *loop, int version)
{
    if (loop == NULL) {
        aio_err_set(aio_TypeError, "loop must not be NULL");
        return -1;
    }
    if (!aio__version_valid(version))
        return refuse(version);
    loop->target_version = version;
    return 0;
}

int aio_loop_get_target_version(aio_loop *loop)
{
    return loop != NULL ? loop->target_version : aio_get_target_version();
}

int aio__current_target_version(void)
{
    return aio_loop_get_target_version(aio__running_loop());
}
