/* "Hello World" with call_soon() - the Event Loop page's first example.
 *
 *   def hello_world(loop):
 *       print('Hello World')
 *       loop.stop()
 *
 *   loop = asyncio.get_event_loop()
 *   loop.call_soon(hello_world, loop)
 *   try:
 *       loop.run_forever()
 *   finally:
 *       loop.close()
 */
#include <stdio.h>

#include <casyncio.h>

static void hello_world(void *arg)
{
    aio_loop *loop = arg;
    printf("Hello World\n");
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(hello_world);

int main(void)
{
    aio_loop *loop = aio_get_event_loop();
    if (loop == NULL) {
        aio_err_print();
        return 1;
    }
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = hello_world, .args = loop});
    int rc = aio_loop_run_forever(loop);
    aio_loop_close(loop);
    if (rc < 0) {
        aio_err_print();
        return 1;
    }
    return 0;
}
