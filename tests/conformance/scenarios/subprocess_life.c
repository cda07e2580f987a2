/* A subprocess's whole life through loop.subprocess_exec() and
 * subprocess_shell(): the pipes and their data, connection_made() first and
 * connection_lost() last, the pipes lost, process_exited() once, return
 * codes (exit status, -9 after kill() or close()), ProcessLookupError after
 * the end, FileNotFoundError for a missing program and the ValueErrors of
 * the refused Popen options. The order of the pipes' losses and of
 * process_exited() among themselves is not fixed (it depends on when the
 * kernel reports what): those are printed sorted. No pid is printed. */
#include <signal.h>
#include <stdlib.h>

#include "conformance.h"

typedef struct recorder {
    aio_protocol base;
    aio_future *done;
    aio_transport *transport;
    char events[16][64];
    int n;
    char data[3][256];
    size_t len[3];
} recorder;

static recorder *R(aio_protocol *p)
{
    return (recorder *)p;
}

static void ev(recorder *r, const char *fmt, int a, const char *b)
{
    if (r->n < 16)
        snprintf(r->events[r->n++], 64, fmt, a, b);
}

static void made(aio_protocol *self, aio_transport *t)
{
    R(self)->transport = t;
    ev(R(self), "made%.0d%s", 0, "");
}

static void pipe_data(aio_protocol *self, int fd, const void *data, size_t len)
{
    recorder *r = R(self);
    if (r->len[fd] + len < sizeof r->data[fd]) {
        memcpy(r->data[fd] + r->len[fd], data, len);
        r->len[fd] += len;
    }
}

static void pipe_lost(aio_protocol *self, int fd, aio_exc *exc)
{
    ev(R(self), "pipe_lost %d %s", fd, exc ? aio_exc_type_of(exc)->name : "None");
}

static void exited(aio_protocol *self)
{
    recorder *r = R(self);
    ev(r, "exited %d%s", aio_transport_get_returncode(r->transport), "");
}

static void lost(aio_protocol *self, aio_exc *exc)
{
    recorder *r = R(self);
    ev(r, "lost %.0d%s", 0, exc ? aio_exc_str(exc) : "None");
    CHECK(aio_future_set_result(r->done, NULL) == 0);
}

static aio_protocol *give(void *arg)
{
    return arg;
}

static void recorder_init(recorder *r, aio_loop *loop)
{
    memset(r, 0, sizeof *r);
    r->base.connection_made = made;
    r->base.pipe_data_received = pipe_data;
    r->base.pipe_connection_lost = pipe_lost;
    r->base.process_exited = exited;
    r->base.connection_lost = lost;
    r->done = aio_loop_create_future(loop);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Python's repr() of a short bytes value of printable text and newlines. */
static const char *bytes_repr(const char *data, size_t len)
{
    static char buf[2][600];
    static int which;
    char *out = buf[which ^= 1];
    size_t n = 0;
    out[n++] = 'b';
    out[n++] = '\'';
    for (size_t i = 0; i < len && n + 4 < sizeof buf[0]; i++) {
        if (data[i] == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = data[i];
        }
    }
    out[n++] = '\'';
    out[n] = '\0';
    return out;
}

static void report(const char *name, recorder *r)
{
    printf("%s first: %s last: %s\n", name, r->events[0], r->events[r->n - 1]);
    qsort(r->events[1], (size_t)(r->n - 2), sizeof r->events[0], cmp);
    printf("%s middle: [", name);
    for (int i = 1; i < r->n - 1; i++)
        printf("%s'%s'", i > 1 ? ", " : "", r->events[i]);
    printf("]\n");
    printf("%s stdout: %s stderr: %s\n", name, bytes_repr(r->data[1], r->len[1]),
           bytes_repr(r->data[2], r->len[2]));
}

static aio_loop *loop;

/* await loop.subprocess_exec(...): the transport (a reference), or NULL
 * with the exception set. */
static aio_transport *run_exec(recorder *r, const char *const *argv, int in, int out, int err,
                               const aio_popen_options *kw)
{
    recorder_init(r, loop);
    aio_future *fut = aio_loop_subprocess_exec(
        loop, &(aio_loop_subprocess_exec_args){.protocol_factory = give,
                                               .protocol_factory_arg = r,
                                               .args = argv,
                                               .stdin_ = in,
                                               .stdout_ = out,
                                               .stderr_ = err,
                                               .kwargs = kw});
    if (fut == NULL) {
        aio_decref(r->done);
        return NULL;
    }
    aio_transport_protocol *pair = aio_loop_run_until_complete(loop, fut);
    CHECK(pair != NULL);
    aio_transport *t = aio_incref(pair->transport);
    aio_decref(fut);
    return t;
}

static void await_done(recorder *r)
{
    aio_loop_run_until_complete(loop, r->done);
    CHECK(aio_err_occurred() == NULL);
    aio_decref(r->done);
}

static void print_pipes(const char *what, aio_transport *t, int n)
{
    printf("%s [", what);
    for (int fd = 0; fd < n; fd++)
        printf("%s%s", fd ? ", " : "",
               py_bool(aio_transport_get_pipe_transport(t, fd == 0 ? AIO_ZERO : fd) != NULL));
    printf("]\n");
}

int main(void)
{
    loop = aio_new_event_loop();
    recorder r;

    /* cat: stdin to stdout */
    const char *cat[] = {"cat", NULL};
    aio_transport *t = run_exec(&r, cat, 0, 0, 0, NULL);
    CHECK(t != NULL);
    printf("cat connected; made: ['%s'] returncode: %s\n", r.events[0],
           aio_transport_get_returncode(t) == AIO_NONE ? "None" : "?");
    print_pipes("pipes:", t, 4);
    printf("pid > 0: %s\n", py_bool(aio_transport_get_pid(t) > 0));
    aio_transport *in = aio_transport_get_pipe_transport(t, AIO_ZERO);
    CHECK(aio_transport_write(in, "hello\n", 6) == 0);
    CHECK(aio_transport_write(in, "world\n", 6) == 0);
    CHECK(aio_transport_close(in) == 0);
    await_done(&r);
    report("cat", &r);
    printf("cat returncode: %d\n", aio_transport_get_returncode(t));
    CHECK(aio_transport_kill(t) == -1);
    printf("kill after the end: %s '%s'\n", aio_exc_type_of(aio_err_occurred())->name,
           aio_exc_str(aio_err_occurred()));
    aio_err_clear();
    CHECK(aio_transport_terminate(t) == -1);
    printf("terminate after the end: %s '%s'\n", aio_exc_type_of(aio_err_occurred())->name,
           aio_exc_str(aio_err_occurred()));
    aio_err_clear();
    CHECK(aio_transport_send_signal(t, 15) == -1);
    printf("send_signal after the end: %s\n", aio_exc_type_of(aio_err_occurred())->name);
    aio_err_clear();
    aio_transport_close(t);
    aio_decref(t);

    /* a shell, stderr into stdout, stdin from /dev/null */
    recorder_init(&r, loop);
    aio_future *fut = aio_loop_subprocess_shell(
        loop, &(aio_loop_subprocess_shell_args){.protocol_factory = give,
                                                .protocol_factory_arg = &r,
                                                .cmd = "echo out; echo err >&2; exit 3",
                                                .stdin_ = AIO_SUBPROCESS_DEVNULL,
                                                .stderr_ = AIO_SUBPROCESS_STDOUT});
    CHECK(fut != NULL);
    aio_transport_protocol *pair = aio_loop_run_until_complete(loop, fut);
    CHECK(pair != NULL);
    t = aio_incref(pair->transport);
    aio_decref(fut);
    print_pipes("shell pipes:", t, 3);
    await_done(&r);
    report("shell", &r);
    printf("shell returncode: %d\n", aio_transport_get_returncode(t));
    aio_transport_close(t);
    aio_decref(t);

    /* stdout to /dev/null, stderr inherited: only stdin is a pipe */
    const char *rd[] = {"sh", "-c", "read x; exit 4", NULL};
    t = run_exec(&r, rd, 0, AIO_SUBPROCESS_DEVNULL, AIO_NONE, NULL);
    CHECK(t != NULL);
    CHECK(aio_transport_write(aio_transport_get_pipe_transport(t, AIO_ZERO), "line\n", 5) == 0);
    await_done(&r);
    report("devnull", &r);
    printf("devnull returncode: %d\n", aio_transport_get_returncode(t));
    aio_transport_close(t);
    aio_decref(t);

    /* killed */
    const char *sleeper[] = {"sleep", "30", NULL};
    t = run_exec(&r, sleeper, 0, 0, 0, NULL);
    CHECK(aio_transport_kill(t) == 0);
    await_done(&r);
    report("killed", &r);
    printf("killed returncode: %d\n", aio_transport_get_returncode(t));
    aio_transport_close(t);
    aio_decref(t);

    /* closed while running: close() kills it */
    t = run_exec(&r, sleeper, 0, 0, 0, NULL);
    CHECK(aio_transport_close(t) == 0);
    printf("closing: %s\n", py_bool(aio_transport_is_closing(t)));
    await_done(&r);
    report("closed", &r);
    printf("closed returncode: %d\n", aio_transport_get_returncode(t));
    aio_decref(t);

    /* a program that does not exist */
    const char *missing[] = {"nonexistent-program-casyncio", NULL};
    CHECK(run_exec(&r, missing, 0, 0, 0, NULL) == NULL);
    printf("missing: %s %s\n", aio_exc_type_of(aio_err_occurred())->name,
           aio_exc_str(aio_err_occurred()));
    aio_err_clear();
    const char *tru[] = {"true", NULL};
    aio_popen_options bad_cwd = {.cwd = "/nonexistent-dir-casyncio"};
    CHECK(run_exec(&r, tru, 0, 0, 0, &bad_cwd) == NULL);
    printf("bad cwd: %s %s\n", aio_exc_type_of(aio_err_occurred())->name,
           aio_exc_str(aio_err_occurred()));
    aio_err_clear();

    /* the refused options, in asyncio's order */
    struct {
        const char *names;
        aio_popen_options kw;
    } exec_cases[] = {
        {"['shell', 'universal_newlines']", {.universal_newlines = true, .shell = AIO_TRUE}},
        {"['bufsize', 'shell']", {.shell = AIO_TRUE, .bufsize = 1}},
        {"['bufsize', 'text']", {.bufsize = 1, .text = true}},
        {"['encoding', 'text']", {.text = true, .encoding = "utf-8"}},
        {"['encoding', 'errors']", {.encoding = "utf-8", .errors = "strict"}},
        {"['errors']", {.errors = "strict"}},
    };
    for (size_t i = 0; i < sizeof exec_cases / sizeof exec_cases[0]; i++) {
        CHECK(run_exec(&r, tru, 0, 0, 0, &exec_cases[i].kw) == NULL);
        printf("exec %s ValueError: %s\n", exec_cases[i].names, aio_exc_str(aio_err_occurred()));
        aio_err_clear();
    }
    struct {
        const char *names;
        aio_popen_options kw;
    } shell_cases[] = {
        {"['bufsize', 'shell']", {.shell = AIO_FALSE, .bufsize = 1}},
        {"['bufsize']", {.bufsize = 1}},
    };
    for (size_t i = 0; i < sizeof shell_cases / sizeof shell_cases[0]; i++) {
        CHECK(aio_loop_subprocess_shell(loop, &(aio_loop_subprocess_shell_args){
                                                  .protocol_factory = give,
                                                  .protocol_factory_arg = &r,
                                                  .cmd = "true",
                                                  .kwargs = &shell_cases[i].kw}) == NULL);
        printf("shell %s ValueError: %s\n", shell_cases[i].names,
               aio_exc_str(aio_err_occurred()));
        aio_err_clear();
    }

    CHECK(aio_loop_close(loop) == 0);
    aio_decref(loop);
    return 0;
}
