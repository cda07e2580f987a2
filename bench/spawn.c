/* spawn.c - subprocess spawn and wait: N times in a row, one task starts
 * /bin/true with loop.subprocess_exec() (stdin, stdout and stderr
 * subprocess.DEVNULL, so no pipes), awaits the (transport, protocol) pair,
 * then awaits a future that the protocol's connection_lost() completes
 * (it comes after process_exited(), once the child has been reaped), and
 * closes the transport. The figure is spawns per second.
 *
 *   usage: spawn [N]      (default 200 spawns)
 */
#include <stdlib.h>

#include "bench.h"

typedef struct child {
    aio_protocol base;
    aio_future *done;   /* completed by connection_lost() */
    int exited;
} child;

static void child_exited(aio_protocol *self)
{
    ((child *)self)->exited++;
}

static void child_lost(aio_protocol *self, aio_exc *exc)
{
    child *c = (child *)self;
    if (exc != NULL)
        aio_future_set_exception(c->done, exc);
    else
        aio_future_set_result(c->done, c);
}

static aio_protocol *give(void *arg)
{
    return arg;
}

typedef struct spawns {
    long n;
    long done;
} spawns;

static const char *const argv_true[] = {"/bin/true", NULL};

/* One spawn and wait; 0, or -1 with the exception set. */
static int spawn_one(aio_loop *loop)
{
    child c = {.base = {.process_exited = child_exited, .connection_lost = child_lost}};
    c.done = aio_loop_create_future(loop);
    if (c.done == NULL)
        return -1;
    aio_future *f = aio_loop_subprocess_exec(
        loop, &(aio_loop_subprocess_exec_args){.protocol_factory = give,
                                               .protocol_factory_arg = &c,
                                               .args = argv_true,
                                               .stdin_ = AIO_SUBPROCESS_DEVNULL,
                                               .stdout_ = AIO_SUBPROCESS_DEVNULL,
                                               .stderr_ = AIO_SUBPROCESS_DEVNULL});
    if (f == NULL || aio_await(f) == NULL) {
        aio_decref(c.done);
        return -1;
    }
    aio_transport *t = aio_incref(((aio_transport_protocol *)aio_future_result(f))->transport);
    aio_decref(f);
    int rc = aio_await(c.done) == &c && c.exited == 1 &&
                     aio_transport_get_returncode(t) == 0 ? 0 : -1;
    aio_transport_close(t);
    aio_decref(t);
    aio_decref(c.done);
    return rc;
}

static void *main_coro(void *arg)
{
    spawns *s = arg;
    aio_loop *loop = aio_get_running_loop();
    double t0 = bench_now();
    for (long i = 0; i < s->n; i++) {
        if (spawn_one(loop) != 0)
            return NULL;
        s->done++;
    }
    bench_report("spawn", s->n, bench_now() - t0);
    return s;
}

int main(int argc, char **argv)
{
    spawns s = {argc > 1 ? strtol(argv[1], NULL, 10) : 200, 0};
    if (s.n < 1)
        s.n = 1;
    if (aio_run(main_coro, &s, NULL) == NULL)
        bench_die("run");
    return s.done == s.n ? 0 : 1;
}
