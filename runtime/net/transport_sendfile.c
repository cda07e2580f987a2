/* transport_sendfile.c - loop.sendfile() (base_events.py, selector_events.py,
 * 3.11). Work in progress. */
#include "impl.h"
#include "transport.h"

aio_future *aio__loop_sendfile(aio_loop *loop, const aio__loop_sendfile_args *args)
{
    (void)loop;
    (void)args;
    aio_err_set(aio_NotImplementedError, "loop.sendfile() is not implemented yet");
    return NULL;
}
