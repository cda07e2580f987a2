/* The loop iterations a subprocess's events take, counted by a ticker that
 * calls itself with call_soon(). Each child is /bin/sh that first reads a
 * line from a control pipe (passed with pass_fds), so it does nothing until
 * the ticker lets it go, at a fixed iteration: the ticker closes the
 * control pipe (or kills the child), then blocks until the child has
 * exited (waitid() with WNOWAIT, which leaves it to be reaped) and a little
 * longer, so that everything the exit makes ready is ready when the next
 * iteration begins. The iterations are counted from the call; the events
 * of one iteration are printed sorted, their order within it being the
 * kernel's.
 *
 * loop.subprocess_exec() and subprocess_shell() with stdin/stdout/stderr
 * PIPE, DEVNULL, None and STDOUT: the await returning, connection_made(),
 * pipe_data_received(), pipe_connection_lost() of each pipe,
 * process_exited(), connection_lost(); a child that exits with a code and
 * one killed. asyncio.create_subprocess_exec(): the await returning,
 * communicate() and wait() returning. */
#include <stdarg.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

#define PIPE AIO_SUBPROCESS_PIPE
#define DEVNULL AIO_SUBPROCESS_DEVNULL
#define STDOUT AIO_SUBPROCESS_STDOUT
#define NONE 1 /* None, mapped to each API's spelling */
enum { RELEASE = 20 };

static int it;

/* The release: at iteration release_at, the child let go. */
static int release_at = -1;
static pid_t release_pid;
static int release_fd;
static aio_transport *release_transport; /* kill through it, or */
static aio_process *release_process;     /* through it, or neither */

static int base;
static struct {
    int it;
    char text[128];
} events[32];
static int n_events;

static void ev(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void ev(const char *format, ...)
{
    CHECK(n_events < 32);
    va_list ap;
    va_start(ap, format);
    vsnprintf(events[n_events].text, sizeof events[0].text, format, ap);
    va_end(ap);
    events[n_events++].it = it - base;
}

static int cmp_events(const void *a, const void *b)
{
    const int *x = a, *y = b;
    if (*x != *y)
        return *x < *y ? -1 : 1;
    return strcmp((const char *)(x + 1), (const char *)(y + 1));
}

static void dump(const char *name)
{
    qsort(events, (size_t)n_events, sizeof events[0], cmp_events);
    for (int i = 0; i < n_events; i++)
        printf("%s iteration +%d %s\n", name, events[i].it, events[i].text);
    n_events = 0;
}

static void let_go(void)
{
    ev("release");
    if (release_transport != NULL)
        CHECK(aio_transport_kill(release_transport) == 0);
    if (release_process != NULL)
        CHECK(aio_process_kill(release_process) == 0);
    close(release_fd);
    /* Exited (the pidfd is readable; the reaping thread, where there is
     * one, may have reaped it already: ECHILD). asyncio's script waits for
     * its watcher thread to reap it; ours reaps on the loop's thread. */
    siginfo_t info;
    waitid(P_PID, (id_t)release_pid, &info, WEXITED | WNOWAIT);
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
}

static void tick(void *arg)
{
    (void)arg;
    it++;
    CHECK(aio_loop_call_soon(aio_get_running_loop(), &(aio_loop_call_soon_args){.callback = tick}));
    if (it == release_at) {
        release_at = -1;
        let_go();
    }
}

/* repr() of short bytes of printable text and newlines. */
static const char *bytes_repr(const void *data, size_t len)
{
    static char buf[2][128];
    static int which;
    char *out = buf[which ^= 1];
    size_t n = 0;
    out[n++] = 'b';
    out[n++] = '\'';
    for (size_t i = 0; i < len && n + 4 < sizeof buf[0]; i++) {
        char c = ((const char *)data)[i];
        if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = c;
        }
    }
    out[n++] = '\'';
    out[n] = '\0';
    return out;
}

typedef struct rec {
    aio_protocol base;
    aio_future *done;
    aio_transport *transport;
} rec;

static void made(aio_protocol *self, aio_transport *t)
{
    ((rec *)self)->transport = t;
    ev("connection_made");
}

static void pipe_data(aio_protocol *self, int fd, const void *data, size_t len)
{
    (void)self;
    ev("pipe_data_received %d %s", fd, bytes_repr(data, len));
}

static void pipe_lost(aio_protocol *self, int fd, aio_exc *exc)
{
    (void)self;
    ev("pipe_connection_lost %d %s", fd, exc ? aio_exc_str(exc) : "None");
}

static void exited(aio_protocol *self)
{
    ev("process_exited %d", aio_transport_get_returncode(((rec *)self)->transport));
}

static void lost(aio_protocol *self, aio_exc *exc)
{
    ev("connection_lost %s", exc ? aio_exc_str(exc) : "None");
    CHECK(aio_future_set_result(((rec *)self)->done, NULL) == 0);
}

static aio_protocol *give(void *arg)
{
    return arg;
}

static void command(char *out, size_t size, int control, int std_out, int std_err)
{
    int n = snprintf(out, size, "read x < /dev/fd/%d", control);
    if (std_out == PIPE)
        n += snprintf(out + n, size - (size_t)n, "; echo out");
    if (std_err == PIPE || std_err == STDOUT)
        n += snprintf(out + n, size - (size_t)n, "; echo err >&2");
    snprintf(out + n, size - (size_t)n, "; exit 3");
}

/* loop.subprocess_*()'s spelling: 0 is PIPE there, None AIO_NONE. */
static int loop_std(int v)
{
    return v == NONE ? AIO_NONE : v;
}

static void protocol_case(const char *name, int in, int out, int err, bool shell, bool kill)
{
    aio_loop *loop = aio_get_running_loop();
    int fds[2];
    CHECK(pipe(fds) == 0);
    char cmd[256];
    command(cmd, sizeof cmd, fds[0], out, err);
    rec r = {.base = {.connection_made = made,
                      .pipe_data_received = pipe_data,
                      .pipe_connection_lost = pipe_lost,
                      .process_exited = exited,
                      .connection_lost = lost},
             .done = aio_loop_create_future(loop)};
    CHECK(r.done);
    const aio_popen_options kw = {.pass_fds = &fds[0], .pass_fds_len = 1};
    base = it;
    aio_future *fut;
    if (shell) {
        fut = aio_loop_subprocess_shell(
            loop, &(aio_loop_subprocess_shell_args){.protocol_factory = give,
                                                    .protocol_factory_arg = &r,
                                                    .cmd = cmd,
                                                    .stdin_ = loop_std(in),
                                                    .stdout_ = loop_std(out),
                                                    .stderr_ = loop_std(err),
                                                    .kwargs = &kw});
    } else {
        const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        fut = aio_loop_subprocess_exec(
            loop, &(aio_loop_subprocess_exec_args){.protocol_factory = give,
                                                   .protocol_factory_arg = &r,
                                                   .args = argv,
                                                   .stdin_ = loop_std(in),
                                                   .stdout_ = loop_std(out),
                                                   .stderr_ = loop_std(err),
                                                   .kwargs = &kw});
    }
    CHECK(fut);
    aio_transport_protocol *pair = aio_await(fut);
    CHECK(pair);
    aio_transport *t = aio_incref(pair->transport);
    aio_decref(fut);
    ev("subprocess_%s returned", shell ? "shell" : "exec");
    close(fds[0]);
    release_pid = aio_transport_get_pid(t);
    release_fd = fds[1];
    release_transport = kill ? t : NULL;
    release_process = NULL;
    release_at = base + RELEASE;
    CHECK(aio_await(r.done) || !aio_err_occurred());
    aio_transport_close(t);
    aio_decref(t);
    aio_decref(r.done);
    dump(name);
}

/* create_subprocess_exec()'s spelling: None is 0 there. */
static int process_std(int v)
{
    return v == NONE ? 0 : v;
}

static void print_bytes_or_none(char *out, size_t size, aio_bytes *b)
{
    if (b == NULL)
        snprintf(out, size, "None");
    else
        snprintf(out, size, "%s", bytes_repr(aio_bytes_data(b), aio_bytes_size(b)));
}

static void process_case(const char *name, int in, int out, int err, bool communicate,
                         bool kill)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    char cmd[256];
    command(cmd, sizeof cmd, fds[0], out, err);
    const aio_popen_options kw = {.pass_fds = &fds[0], .pass_fds_len = 1};
    base = it;
    const char *args[] = {"-c", cmd, NULL};
    aio_process *proc = aio_create_subprocess_exec(&(aio_create_subprocess_exec_args){
        .program = "/bin/sh",
        .args = args,
        .stdin_ = process_std(in),
        .stdout_ = process_std(out),
        .stderr_ = process_std(err),
        .kwds = &kw});
    CHECK(proc);
    ev("create_subprocess_exec returned");
    close(fds[0]);
    release_pid = aio_process_pid(proc);
    release_fd = fds[1];
    release_transport = NULL;
    release_process = kill ? proc : NULL;
    release_at = base + RELEASE;
    if (communicate) {
        aio_process_output o = aio_process_communicate(
            proc, &(aio_process_communicate_args){.input = in == PIPE ? "input\n" : NULL,
                                                  .input_len = in == PIPE ? 6 : 0});
        CHECK(o.error == 0);
        char a[128], b[128];
        print_bytes_or_none(a, sizeof a, o.stdout_);
        print_bytes_or_none(b, sizeof b, o.stderr_);
        ev("communicate returned %s %s", a, b);
        aio_decref(o.stdout_);
        aio_decref(o.stderr_);
    }
    int rc = aio_process_wait(proc);
    CHECK(rc != INT_MIN);
    ev("wait returned %d", rc);
    aio_decref(proc);
    dump(name);
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = tick}));
    CHECK(aio_sleep(0) == 0);

    protocol_case("exec PIPE PIPE PIPE", PIPE, PIPE, PIPE, false, false);
    protocol_case("exec PIPE PIPE PIPE killed", PIPE, PIPE, PIPE, false, true);
    protocol_case("exec DEVNULL PIPE DEVNULL", DEVNULL, PIPE, DEVNULL, false, false);
    protocol_case("exec PIPE DEVNULL None", PIPE, DEVNULL, NONE, false, false);
    protocol_case("exec DEVNULL DEVNULL PIPE", DEVNULL, DEVNULL, PIPE, false, false);
    protocol_case("exec None None None", NONE, NONE, NONE, false, false);
    protocol_case("exec None None None killed", NONE, NONE, NONE, false, true);
    protocol_case("exec DEVNULL PIPE STDOUT", DEVNULL, PIPE, STDOUT, false, false);
    protocol_case("shell PIPE PIPE DEVNULL", PIPE, PIPE, DEVNULL, true, false);

    process_case("process PIPE PIPE PIPE communicate", PIPE, PIPE, PIPE, true, false);
    process_case("process DEVNULL PIPE None communicate", DEVNULL, PIPE, NONE, true, false);
    process_case("process PIPE PIPE PIPE wait", PIPE, PIPE, PIPE, false, false);
    process_case("process None None None wait", NONE, NONE, NONE, false, false);
    process_case("process PIPE PIPE PIPE killed wait", PIPE, PIPE, PIPE, false, true);
    return "done";
}

int main(void)
{
    if (aio_run(main_coro, NULL, NULL) == NULL) {
        aio_err_print();
        return 3;
    }
    return 0;
}
