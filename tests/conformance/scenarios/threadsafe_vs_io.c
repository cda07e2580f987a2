/* Callbacks another thread schedules while the loop is busy running a
 * callback join the ready queue at once, so they run in the next iteration
 * (not the current batch), in the order they were scheduled relative to
 * the loop thread's own call_soon() calls, and before that iteration's I/O
 * callbacks; the rest of the current batch runs first. */
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;
static int a, b;

static void say(void *what)
{
    printf("%s\n", (const char *)what);
}
AIO_NAME_CALLBACK(say);

static void reader(void *arg)
{
    (void)arg;
    char buf[10];
    ssize_t n = recv(a, buf, sizeof buf, 0);
    printf("reader got b'%.*s'\n", (int)(n > 0 ? n : 0), buf);
    aio_loop_remove_reader(loop, a);
    aio_loop_stop(loop);
}
AIO_NAME_CALLBACK(reader);

static void *thread_main(void *arg)
{
    (void)arg;
    CHECK(aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = say, .args = "t1 (threadsafe)"}));
    CHECK(send(b, "x", 1, 0) == 1);
    CHECK(aio_loop_call_soon_threadsafe(loop, &(aio_loop_call_soon_threadsafe_args){
        .callback = say, .args = "t2 (threadsafe)"}));
    return NULL;
}

static void busy(void *arg)
{
    (void)arg;
    printf("busy: start the thread and wait for it\n");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
    pthread_join(t, NULL);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "s1 (call_soon after the join)"}));
    printf("busy: done\n");
}
AIO_NAME_CALLBACK(busy);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    a = sv[0];
    b = sv[1];
    CHECK(aio_loop_add_reader(loop, a, reader, NULL, NULL) == 0);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = busy}));
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = say, .args = "after busy (same batch)"}));
    CHECK(aio_loop_run_forever(loop) == 0);
    close(a);
    close(b);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
