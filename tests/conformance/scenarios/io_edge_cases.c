/* Reader/writer edge cases. Registration errors come from the selector:
 * ValueError('Invalid file descriptor: -1') (also for remove_*),
 * PermissionError for a regular file or a directory (epoll refuses them),
 * OSError EBADF for a closed fd (remove_* on those just return False).
 * A reader that removes or replaces the writer of its own fd, queued right
 * after it in the same iteration, cancels that queued handle: it is
 * skipped. A reader that raises is reported to the exception handler on
 * every iteration while its fd stays readable. */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static aio_loop *loop;
static int a, b;
static int it, count;

static void report(const char *label, int rc, int is_bool)
{
    if (rc < 0)
        print_raised(label);
    else if (is_bool)
        printf("%s: returned %s\n", label, py_bool(rc));
    else
        printf("%s: returned None\n", label);
}

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

static void run_iterations(void)
{
    it = 0;
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_loop_run_forever(loop) == 0);
}

static void nothing(void *arg)
{
    (void)arg;
}
AIO_NAME_CALLBACK(nothing);

static void writer(void *name)
{
    printf("iteration %d writer %s\n", it, (const char *)name);
}
AIO_NAME_CALLBACK(writer);

static void reader_removing_writer(void *arg)
{
    (void)arg;
    int removed = aio_loop_remove_writer(loop, a);
    printf("iteration %d reader: remove_writer() -> %s\n", it, py_bool(removed));
}
AIO_NAME_CALLBACK(reader_removing_writer);

static void reader_replacing_writer(void *arg)
{
    (void)arg;
    printf("iteration %d reader: replace the writer\n", it);
    CHECK(aio_loop_add_writer(loop, a, writer, "replacement", NULL) == 0);
    aio_loop_remove_reader(loop, a);
}
AIO_NAME_CALLBACK(reader_replacing_writer);

static void handler(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    count++;
    printf("iteration %d handler: %s %s\n", it,
           py_bool(strncmp(context->message, "Exception in callback", 21) == 0), exc_line(context->exception));
    if (count == 2)
        printf("  remove_reader -> %s\n", py_bool(aio_loop_remove_reader(loop, a)));
}
AIO_NAME_CALLBACK(handler);

static void failing_reader(void *arg)
{
    (void)arg;
    aio_err_set(aio_OSError, "reader failed");
}
AIO_NAME_CALLBACK(failing_reader);

int main(void)
{
    loop = aio_new_event_loop();
    CHECK(loop);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    a = sv[0];
    b = sv[1];

    report("add_reader(-1)", aio_loop_add_reader(loop, -1, nothing, NULL, NULL), 0);
    report("add_writer(-1)", aio_loop_add_writer(loop, -1, nothing, NULL, NULL), 0);
    report("remove_reader(-1)", aio_loop_remove_reader(loop, -1), 1);
    report("remove_writer(-1)", aio_loop_remove_writer(loop, -1), 1);
    FILE *f = tmpfile();
    CHECK(f);
    report("add_reader(regular file)", aio_loop_add_reader(loop, fileno(f), nothing, NULL, NULL), 0);
    report("remove_reader(regular file)", aio_loop_remove_reader(loop, fileno(f)), 1);
    fclose(f);
    const char *tmpdir = getenv("TMPDIR");
    int d = open(tmpdir && *tmpdir ? tmpdir : "/tmp", O_RDONLY | O_CLOEXEC);
    CHECK(d >= 0);
    report("add_writer(directory)", aio_loop_add_writer(loop, d, nothing, NULL, NULL), 0);
    close(d);
    report("add_reader(closed fd)", aio_loop_add_reader(loop, 999, nothing, NULL, NULL), 0);
    report("remove_reader(closed fd)", aio_loop_remove_reader(loop, 999), 1);

    printf("-- reader removes the queued writer\n");
    CHECK(send(b, "x", 1, 0) == 1);
    CHECK(aio_loop_add_writer(loop, a, writer, "original", NULL) == 0);
    CHECK(aio_loop_add_reader(loop, a, reader_removing_writer, NULL, NULL) == 0);
    run_iterations();
    aio_loop_remove_reader(loop, a);

    printf("-- reader replaces the queued writer\n");
    CHECK(aio_loop_add_writer(loop, a, writer, "original", NULL) == 0);
    CHECK(aio_loop_add_reader(loop, a, reader_replacing_writer, NULL, NULL) == 0);
    run_iterations();
    aio_loop_remove_writer(loop, a);
    char buf[10];
    CHECK(recv(a, buf, sizeof buf, 0) == 1);

    printf("-- reader raising\n");
    aio_loop_set_exception_handler(loop, handler, NULL);
    CHECK(send(b, "y", 1, 0) == 1);
    CHECK(aio_loop_add_reader(loop, a, failing_reader, NULL, NULL) == 0);
    run_iterations();
    printf("handler calls: %d\n", count);
    close(a);
    close(b);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
