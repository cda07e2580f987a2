/* add_reader()/add_writer() on a socketpair: add_reader() returns None; a
 * second add_reader() for the same fd replaces the first (only the second
 * fires); for one fd that is both readable and writable in the same
 * iteration the reader runs before the writer, whatever order they were
 * added in; I/O callbacks run after the callbacks already queued and before
 * due timers; readers are level-triggered (an undrained fd fires every
 * iteration); remove_reader()/remove_writer() return True, then False. */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;
static int a, b;
static int it;

static void tick(void *arg)
{
    (void)arg;
    it++;
    if (it == 3)
        aio_loop_stop(loop);
    else
        CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
}
AIO_NAME_CALLBACK(tick);

static void reader(void *name)
{
    printf("iteration %d reader %s\n", it, (const char *)name);
}
AIO_NAME_CALLBACK(reader);

static void drain(void *name)
{
    char buf[100];
    ssize_t n = recv(a, buf, sizeof buf, 0);
    printf("iteration %d reader %s got b'%.*s'\n", it, (const char *)name, (int)(n > 0 ? n : 0), buf);
}
AIO_NAME_CALLBACK(drain);

static void writer(void *name)
{
    printf("iteration %d writer %s\n", it, (const char *)name);
}
AIO_NAME_CALLBACK(writer);

static void say(void *arg)
{
    printf("%s\n", (const char *)arg);
}
AIO_NAME_CALLBACK(say);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    a = sv[0];
    b = sv[1];

    CHECK(aio_loop_add_reader(loop, a, reader, "first", NULL) == 0);
    printf("add_reader returns: None\n");
    CHECK(aio_loop_add_reader(loop, a, drain, "second", NULL) == 0);
    CHECK(send(b, "ping", 4, 0) == 4);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_call_later(loop, &(aio_loop_call_later_args){.delay = 0, .callback = say, .args = "due timer"}));
    CHECK(aio_loop_run_forever(loop) == 0);

    printf("-- reader and writer on one fd\n");
    it = 0;
    CHECK(aio_loop_add_writer(loop, a, writer, "w", NULL) == 0);
    CHECK(aio_loop_add_reader(loop, a, reader, "r (not draining)", NULL) == 0);
    CHECK(send(b, "x", 1, 0) == 1);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_run_forever(loop) == 0);
    int r1 = aio_loop_remove_reader(loop, a), r2 = aio_loop_remove_reader(loop, a);
    printf("remove_reader: %s %s\n", py_bool(r1), py_bool(r2));
    int w1 = aio_loop_remove_writer(loop, a), w2 = aio_loop_remove_writer(loop, a);
    printf("remove_writer: %s %s\n", py_bool(w1), py_bool(w2));
    int n1 = aio_loop_remove_reader(loop, b), n2 = aio_loop_remove_writer(loop, b);
    printf("remove on an fd never added: %s %s\n", py_bool(n1), py_bool(n2));
    it = 0;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("nothing fired after removal\n");
    close(a);
    close(b);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
