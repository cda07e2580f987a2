/* harness.c - runs the argument table test's cases (see harness.h).
 *
 * Each case runs once per state of its owner, on fixtures made for that run
 * alone and taken down after it: a new loop, futures, a pipe, a regular
 * file. What the call printed is one line on stdout; anything the library
 * logs goes to stderr, which the comparison ignores.
 *
 *   args_table [NAME-PREFIX]   runs the cases whose name starts with it
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#include <sys/socket.h>
#include <netinet/in.h>

static void noop(void *arg)
{
    (void)arg;
}

static void *work(void *arg)
{
    (void)arg;
    return NULL;
}

static void noop_done(aio_future *fut, void *arg)
{
    (void)fut;
    (void)arg;
}

static void handler(aio_loop *loop, const aio_exception_context *context, void *arg)
{
    (void)loop;
    (void)context;
    (void)arg;
}

static aio_future *factory(aio_loop *loop, aio_coroutine coro, void *coro_arg, void *arg)
{
    (void)arg;
    return aio_task_new(coro, coro_arg, &(aio_task_args){.loop = loop});
}

/* asyncio.Protocol: a protocol whose methods do nothing. */
static aio_protocol quiet_protocol;

static aio_protocol *proto_factory(void *arg)
{
    (void)arg;
    return &quiet_protocol;
}

static void *coro(void *arg)
{
    return arg;
}

static const aio_exception_context boom_context = {.message = "boom"};
static const aio_address localhost_80 = {.host = "127.0.0.1", .port = 80};
static char stand_in[256];

/* A descriptor number nothing opens (harness.py uses the same). */
#define BADFD 900

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* The case's name and state, as the line starts. */
static void prefix(const args_fixture *fx, const char *name)
{
    if (fx->state[0] != '\0')
        printf("%s [%s]: ", name, fx->state);
    else
        printf("%s: ", name);
}

static void print_exception(void)
{
    aio_exc *exc = aio_err_fetch();
    const char *msg = aio_exc_str(exc);
    printf("%s%s%s\n", aio_exc_type_of(exc)->name, *msg ? ": " : "", msg);
    aio_decref(exc);
}

static void print_ok(const char *value)
{
    if (aio_err_occurred()) {
        /* A value and an exception: the call broke its own contract. */
        printf("%s, and an exception left set: ", value ? value : "ok");
        print_exception();
        return;
    }
    printf("%s\n", value ? value : "ok");
}

void args_report_none(args_fixture *fx, int result)
{
    (void)fx;
    if (result == -1 && aio_err_occurred())
        print_exception();
    else if (result == 0)
        print_ok(NULL);
    else
        printf("returned %d\n", result);
}

void args_report_bool(args_fixture *fx, int result)
{
    (void)fx;
    if (result == -1 && aio_err_occurred())
        print_exception();
    else if (result == 0 || result == 1)
        print_ok(result ? "-> True" : "-> False");
    else
        printf("returned %d for a bool\n", result);
}

void args_report_int(args_fixture *fx, int result)
{
    (void)fx;
    char text[32];
    if (result == -1 && aio_err_occurred()) {
        print_exception();
        return;
    }
    snprintf(text, sizeof text, "-> %d", result);
    print_ok(text);
}

void args_report_int64(args_fixture *fx, int64_t result)
{
    (void)fx;
    char text[32];
    if (result == -1 && aio_err_occurred()) {
        print_exception();
        return;
    }
    snprintf(text, sizeof text, "-> %lld", (long long)result);
    print_ok(text);
}

void args_report_ptr(args_fixture *fx, const void *result)
{
    (void)fx;
    if (result == NULL && aio_err_occurred())
        print_exception();
    else
        print_ok(NULL);
}

void args_report_new(args_fixture *fx, void *result)
{
    args_report_ptr(fx, result);
    aio_decref(result);
}

void args_report_double(args_fixture *fx, double result)
{
    (void)fx;
    if (result == -1.0 && aio_err_occurred())
        print_exception();
    else
        print_ok(NULL);
}

/* A coroutine's future: its outcome once done. Python runs the coroutine
 * with run_until_complete() on an open loop; on a closed one only as far as
 * it goes without the loop, which is where C's call fails. */
void args_report_future(args_fixture *fx, aio_future *fut)
{
    if (fut == NULL) {
        if (aio_err_occurred())
            print_exception();
        else
            printf("NULL without an exception\n");
        return;
    }
    if (!aio_future_done(fut)) {
        if (aio_loop_is_closed(fx->loop) == 1) {
            printf("pending on a closed loop\n");
            aio_decref(fut);
            return;
        }
        (void)aio_loop_run_until_complete(fx->loop, fut);
        aio_err_clear();
    }
    if (aio_future_cancelled(fut) == 1) {
        printf("CancelledError\n");
    } else if (aio_future_exception(fut) != NULL) {
        aio_err_set_exc(aio_future_exception(fut));
        print_exception();
    } else {
        print_ok(NULL);
    }
    aio_decref(fut);
}

static void setup(args_fixture *fx, const char *owner, const char *state)
{
    memset(fx, 0, sizeof *fx);
    fx->owner = owner;
    fx->state = state;
    fx->noop = noop;
    fx->noop_done = noop_done;
    fx->handler = handler;
    fx->factory = factory;
    fx->coro = coro;
    fx->proto_factory = proto_factory;
    fx->ctx = &boom_context;
    fx->addr = &localhost_80;
    fx->sigusr1 = SIGUSR1;
    fx->work = work;
    fx->pool = aio_thread_pool_executor_new(NULL);
    if (fx->pool == NULL)
        die("pool");
    fx->stand_in = stand_in;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe2");
    fx->rfd = p[0];
    fx->wfd = p[1];
    /* The socket a transport may take over (and close): its peer is ours. */
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        die("socketpair");
    fx->sock = sp[0];
    fx->sock_peer = sp[1];
    /* A pipe transport takes its pipe over and closes it when the loop
     * closes (teardown): those are closed after the loop, when nothing
     * can have reused their numbers. */
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe2");
    fx->rpipe = p[0];
    fx->wpipe = p[1];
    fx->filepipe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fx->filepipe < 0)
        die("open");
    /* The datagram methods' socket: non-blocking, with one datagram (of
     * one byte, sent to itself) waiting, so that a receive completes. */
    fx->dgram = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sin_len = sizeof sin;
    if (fx->dgram < 0 || bind(fx->dgram, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        getsockname(fx->dgram, (struct sockaddr *)&sin, &sin_len) < 0 ||
        sendto(fx->dgram, "d", 1, 0, (struct sockaddr *)&sin, sin_len) != 1)
        die("dgram");
    fx->filefd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fx->filefd < 0)
        die("open");
    /* sendfile's file: 4 bytes, in binary mode as C has no other. */
    char tmpl[] = "/tmp/casyncio-args-XXXXXX";
    fx->binfile = mkstemp(tmpl);
    if (fx->binfile < 0 || unlink(tmpl) < 0 || write(fx->binfile, "data", 4) != 4 ||
        lseek(fx->binfile, 0, SEEK_SET) != 0)
        die("binfile");
    static char buf_space[1];
    fx->empty = "";
    fx->buf = buf_space;
    fx->badfd = BADFD;
    if ((fx->loop = aio_new_event_loop()) == NULL ||
        (fx->done_fut = aio_loop_create_future(fx->loop)) == NULL ||
        aio_future_set_result(fx->done_fut, NULL) < 0 ||
        (fx->exc = aio_exc_new(aio_ValueError, "boom")) == NULL) {
        aio_err_print();
        exit(2);
    }
    if (strcmp(owner, "future") == 0) {
        /* closed-pending, closed-done: a future whose loop is closed. */
        bool closed = strncmp(state, "closed-", 7) == 0;
        const char *fut_state = closed ? state + 7 : state;
        if ((fx->fut = aio_loop_create_future(fx->loop)) == NULL)
            exit(2);
        if (strcmp(fut_state, "done") == 0)
            aio_future_set_result(fx->fut, NULL);
        else if (strcmp(fut_state, "cancelled") == 0)
            aio_future_cancel(fx->fut, NULL);
        else if (strcmp(fut_state, "pending") != 0)
            goto unknown;
        if (closed)
            aio_loop_close(fx->loop);
    } else if (strcmp(owner, "loop") == 0) {
        if (strcmp(state, "closed") == 0)
            aio_loop_close(fx->loop);
        else if (strcmp(state, "debug") == 0)
            aio_loop_set_debug(fx->loop, true);
        else if (strcmp(state, "open") != 0)
            goto unknown;
    } else if (state[0] != '\0') {
        goto unknown;
    }
    return;
unknown:
    fprintf(stderr, "args_table: no state '%s' for a %s\n", state, owner);
    exit(2);
}

static void teardown(args_fixture *fx)
{
    aio_executor_shutdown(fx->pool, true, false);
    aio_decref(fx->pool);
    aio_err_clear();
    aio_set_event_loop(NULL);
    aio_set_event_loop_policy(NULL);
    aio_decref(fx->fut);
    aio_decref(fx->done_fut);
    aio_decref(fx->exc);
    aio_loop_close(fx->loop);
    aio_decref(fx->loop);
    aio_err_clear();
    close(fx->rfd);
    close(fx->wfd);
    close(fx->sock_peer);
    close(fx->dgram);
    close(fx->filefd);
    close(fx->binfile);
    close(fx->rpipe);
    close(fx->wpipe);
    close(fx->filepipe);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    /* fd 0 is a pipe, whatever the test runs under: add_reader(0) works. */
    int p[2];
    if (pipe(p) < 0 || dup2(p[0], 0) < 0)
        die("stdin");
    close(p[0]);
    if (fcntl(BADFD, F_GETFD) >= 0) {
        fprintf(stderr, "args_table: descriptor %d is open\n", BADFD);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (const args_case *c = args_cases; c->name != NULL; c++) {
        if (only != NULL && strncmp(c->name, only, strlen(only)) != 0)
            continue;
        for (const char *const *state = c->states; *state != NULL; state++) {
            args_fixture fx;
            setup(&fx, c->owner, *state);
            prefix(&fx, c->name);
            c->run(&fx);
            teardown(&fx);
        }
    }
    close(p[1]);
    return 0;
}
