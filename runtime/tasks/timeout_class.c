/* timeout_class.c - which class a timeout raises: asyncio.TimeoutError and
 * concurrent.futures.TimeoutError were classes of their own before 3.11. */
#include "casyncio/exceptions.h"
#include "casyncio/executor.h"
#include "loop.h"
#include "task.h"

const aio_exc_type *aio_asyncio_timeout_error_type(int target_version)
{
    if (target_version < AIO_PY(3, 8))
        return aio_FuturesTimeoutError; /* concurrent.futures.TimeoutError */
    if (target_version < AIO_PY(3, 11))
        return aio_asyncio_TimeoutError;
    return aio_TimeoutError;
}

const aio_exc_type *aio__asyncio_timeout_error(void)
{
    return aio_asyncio_timeout_error_type(aio__current_target_version());
}

const aio_exc_type *aio__futures_timeout_error(void)
{
    return aio__current_target_version() < AIO_PY(3, 11) ? aio_FuturesTimeoutError
                                                          : aio_TimeoutError;
}
