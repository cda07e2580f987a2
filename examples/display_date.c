/* Display the current date with call_later(), once a second for five
 * seconds - the Event Loop page's second example.
 *
 *   def display_date(end_time, loop):
 *       print(datetime.datetime.now())
 *       if (loop.time() + 1.0) < end_time:
 *           loop.call_later(1, display_date, end_time, loop)
 *       else:
 *           loop.stop()
 *
 *   loop = asyncio.get_event_loop()
 *   end_time = loop.time() + 5.0
 *   loop.call_soon(display_date, end_time, loop)
 *   try:
 *       loop.run_forever()
 *   finally:
 *       loop.close()
 */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include <casyncio.h>

struct state {
    aio_loop *loop;
    double end_time;
};

static void print_now(void)
{
    /* datetime.datetime.now(): local time with microseconds. */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%s.%06ld\n", text, (long)tv.tv_usec);
    fflush(stdout);
}

static void display_date(void *arg)
{
    struct state *st = arg;
    print_now();
    if (aio_loop_time(st->loop) + 1.0 < st->end_time)
        aio_loop_call_later(st->loop, &(aio_loop_call_later_args){
            .delay = 1, .callback = display_date, .args = st});
    else
        aio_loop_stop(st->loop);
}
AIO_NAME_CALLBACK(display_date);

int main(void)
{
    aio_loop *loop = aio_get_event_loop();
    if (loop == NULL) {
        aio_err_print();
        return 1;
    }
    struct state st = {loop, aio_loop_time(loop) + 5.0};
    aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = display_date, .args = &st});
    int rc = aio_loop_run_forever(loop);
    aio_loop_close(loop);
    if (rc < 0) {
        aio_err_print();
        return 1;
    }
    return 0;
}
