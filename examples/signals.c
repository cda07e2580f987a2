/* Set handlers for SIGINT and SIGTERM with add_signal_handler() - the
 * Event Loop page's fourth example. Python's version sleeps for an hour
 * until you press Ctrl+C; this one also sends itself SIGTERM after a
 * second, so that it ends by itself.
 *
 *   def ask_exit(signame, loop):
 *       print("got signal %s: exit" % signame)
 *       loop.stop()
 *
 *   async def main():
 *       loop = asyncio.get_running_loop()
 *       for signame in {'SIGINT', 'SIGTERM'}:
 *           loop.add_signal_handler(
 *               getattr(signal, signame),
 *               functools.partial(ask_exit, signame, loop))
 *       await asyncio.sleep(3600)
 *
 *   print("Event loop running for 1 hour, press Ctrl+C to interrupt.")
 *   print(f"pid {os.getpid()}: send SIGINT or SIGTERM to exit.")
 *   asyncio.run(main())
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <casyncio.h>

struct ask_exit {
    const char *signame;
    aio_loop *loop;
};

static void ask_exit(void *arg)
{
    struct ask_exit *partial = arg;
    printf("got signal %s: exit\n", partial->signame);
    aio_loop_stop(partial->loop);
}
AIO_NAME_CALLBACK(ask_exit);

static void stop(void *arg)
{
    aio_loop_stop(arg);
}
AIO_NAME_CALLBACK(stop);

static void send_sigterm(void *arg)
{
    (void)arg;
    printf("(sending SIGTERM to myself)\n");
    fflush(stdout);
    kill(getpid(), SIGTERM);
}
AIO_NAME_CALLBACK(send_sigterm);

int main(void)
{
    aio_loop *loop = aio_new_event_loop();
    if (loop == NULL) {
        aio_err_print();
        return 1;
    }
    aio_set_event_loop(loop);
    struct ask_exit on_int = {"SIGINT", loop}, on_term = {"SIGTERM", loop};
    if (aio_loop_add_signal_handler(loop, SIGINT, ask_exit, &on_int, NULL) < 0 ||
        aio_loop_add_signal_handler(loop, SIGTERM, ask_exit, &on_term, NULL) < 0) {
        aio_err_print();
        return 1;
    }
    printf("Event loop running for 1 hour, press Ctrl+C to interrupt.\n");
    printf("pid %d: send SIGINT or SIGTERM to exit.\n", (int)getpid());
    fflush(stdout);
    /* The hour of asyncio.sleep(3600), and the signal that ends it early. */
    aio_loop_call_later(loop, &(aio_loop_call_later_args){
        .delay = 3600, .callback = stop, .args = loop});
    aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 1, .callback = send_sigterm});
    int rc = aio_loop_run_forever(loop);
    aio_set_event_loop(NULL);
    aio_loop_close(loop);
    aio_decref(loop);
    if (rc < 0) {
        aio_err_print();
        return 1;
    }
    return 0;
}
