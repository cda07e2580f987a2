/* subprocess_streams.c - asyncio.create_subprocess_exec(),
 * create_subprocess_shell() and Process (subprocess.py, 3.11): a
 * SubprocessStreamProtocol over the loop's subprocess transport gives the
 * child's pipes as a StreamWriter (stdin) and StreamReaders (stdout,
 * stderr). The coroutines run in the calling task. */
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "exc.h"
#include "loop.h"
#include "streams.h"
#include "task.h"

/* SubprocessStreamProtocol. Its FlowControlMixin part (what stdin's
 * writer drains on) is a StreamReaderProtocol without a reader, to which
 * the flow events of the stdin pipe are passed on. */
typedef struct sp_proto {
    aio__object ob;
    aio_protocol base;
    aio_loop *loop;                /* a reference */
    int limit;
    aio_protocol *flow;            /* the mixin (a reference), NULL once lost */
    aio_transport *transport;      /* borrowed: from connection_made() until
                                      release() or the close of the transport */
    aio_stream_writer *stdin_;     /* references, or NULL */
    aio_stream_reader *stdout_;
    aio_stream_reader *stderr_;
    bool pipe_open[3];
    bool exited;
    aio__waiters exit_waiters;     /* wait()'s */
} sp_proto;

struct aio_process {
    aio__object ob;
    aio_transport *transport;      /* a reference */
    sp_proto *protocol;            /* a reference */
    aio_loop *loop;                /* a reference */
    int pid;
};

static sp_proto *sp_of(aio_protocol *self)
{
    return (sp_proto *)((char *)self - offsetof(sp_proto, base));
}

static void sp_drop_flow(sp_proto *p, aio_exc *exc)
{
    aio_protocol *flow = p->flow;
    if (flow == NULL)
        return;
    p->flow = NULL;
    flow->connection_lost(flow, exc);
    flow->release(flow);
}

static void sp_dealloc(void *obj)
{
    sp_proto *p = obj;
    sp_drop_flow(p, NULL);
    aio__waiters_clear(&p->exit_waiters);
    aio__decref(p->stdin_);
    aio__decref(p->stdout_);
    aio__decref(p->stderr_);
    aio__decref(p->loop);
    free(p);
}

static int sp_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<asyncio.subprocess.SubprocessStreamProtocol object at %p>",
                           obj);
}

AIO__DEFINE_TYPE(sp_proto_type) = {"SubprocessStreamProtocol", sp_dealloc, sp_repr, 0};

/* A reader over pipe fd, or NULL (with the error reported to the loop's
 * handler, as asyncio's connection_made() raising in a callback is). */
static aio_stream_reader *sp_reader(sp_proto *p, aio_transport *pipe)
{
    aio_stream_reader *reader =
        aio__stream_reader_new(&(aio__stream_reader_args){.limit = p->limit, .loop = p->loop});
    if (reader != NULL && aio__stream_reader_set_transport(reader, pipe) < 0) {
        aio__decref(reader);
        reader = NULL;
    }
    return reader;
}

static void sp_connection_made(aio_protocol *self, aio_transport *transport)
{
    sp_proto *p = sp_of(self);
    p->transport = transport;
    aio_transport *pipe;
    if ((pipe = aio_transport_get_pipe_transport(transport, 1)) != NULL) {
        if ((p->stdout_ = sp_reader(p, pipe)) == NULL)
            return;
        p->pipe_open[1] = true;
    }
    if ((pipe = aio_transport_get_pipe_transport(transport, 2)) != NULL) {
        if ((p->stderr_ = sp_reader(p, pipe)) == NULL)
            return;
        p->pipe_open[2] = true;
    }
    if ((pipe = aio_transport_get_pipe_transport(transport, AIO_ZERO)) != NULL) {
        aio__stream_protocol *flow = aio__stream_protocol_of(p->flow);
        p->stdin_ = aio__stream_writer_make(pipe, flow, NULL, p->loop);
    }
}
AIO_NAME_CALLBACK(sp_connection_made);

static void sp_pipe_data_received(aio_protocol *self, int fd, const void *data, size_t len)
{
    sp_proto *p = sp_of(self);
    aio_stream_reader *reader = fd == 1 ? p->stdout_ : fd == 2 ? p->stderr_ : NULL;
    if (reader != NULL)
        aio__stream_reader_feed_data(reader, data, len);
}
AIO_NAME_CALLBACK(sp_pipe_data_received);

static void sp_maybe_close(sp_proto *p)
{
    if (p->pipe_open[1] || p->pipe_open[2] || !p->exited || p->transport == NULL)
        return;
    aio_transport *t = p->transport;
    p->transport = NULL;
    aio_transport_close(t);
}

static void sp_pipe_connection_lost(aio_protocol *self, int fd, aio_exc *exc)
{
    sp_proto *p = sp_of(self);
    if (fd == 0) {
        aio_transport *pipe = p->transport != NULL
                                  ? aio_transport_get_pipe_transport(p->transport, AIO_ZERO)
                                  : NULL;
        if (pipe != NULL)
            aio_transport_close(pipe);
        sp_drop_flow(p, exc);
        return;
    }
    aio_stream_reader *reader = fd == 1 ? p->stdout_ : fd == 2 ? p->stderr_ : NULL;
    if (reader != NULL) {
        if (exc == NULL)
            aio__stream_reader_feed_eof(reader);
        else
            aio__stream_reader_set_exception(reader, exc);
    }
    if (fd == 1 || fd == 2)
        p->pipe_open[fd] = false;
    sp_maybe_close(p);
}
AIO_NAME_CALLBACK(sp_pipe_connection_lost);

static void sp_process_exited(aio_protocol *self)
{
    sp_proto *p = sp_of(self);
    p->exited = true;
    sp_maybe_close(p);
}
AIO_NAME_CALLBACK(sp_process_exited);

static void sp_pause_writing(aio_protocol *self)
{
    sp_proto *p = sp_of(self);
    if (p->flow != NULL)
        p->flow->pause_writing(p->flow);
}
AIO_NAME_CALLBACK(sp_pause_writing);

static void sp_resume_writing(aio_protocol *self)
{
    sp_proto *p = sp_of(self);
    if (p->flow != NULL)
        p->flow->resume_writing(p->flow);
}
AIO_NAME_CALLBACK(sp_resume_writing);

/* The transport's _call_connection_lost(): after the protocol's
 * connection_lost(), the transport wakes wait()'s waiters (the ones of
 * asyncio's transport._wait(), here the protocol's). */
static void sp_connection_lost(aio_protocol *self, aio_exc *exc)
{
    sp_proto *p = sp_of(self);
    sp_drop_flow(p, exc);
    for (aio__waiter *w = p->exit_waiters.head; w != NULL; w = w->next) {
        if (!aio__waiter_done(w))
            aio__waiter_wake(w);
    }
}
AIO_NAME_CALLBACK(sp_connection_lost);

/* The transport lets go: after connection_lost(), or without it when the
 * loop closed with the transport open. The protocol only borrows the
 * transport (the Process holds it), or the two would keep each other. */
static void sp_release(aio_protocol *self)
{
    sp_proto *p = sp_of(self);
    p->transport = NULL;
    sp_drop_flow(p, NULL);
    aio__decref(p);
}
AIO_NAME_CALLBACK(sp_release);

static sp_proto *sp_new(aio_loop *loop, int limit)
{
    sp_proto *p = aio__calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    aio__object_init(p, &sp_proto_type);
    p->loop = aio_incref(loop);
    p->limit = limit;
    p->base = (aio_protocol){
        .connection_made = sp_connection_made,
        .connection_lost = sp_connection_lost,
        .pause_writing = sp_pause_writing,
        .resume_writing = sp_resume_writing,
        .pipe_data_received = sp_pipe_data_received,
        .pipe_connection_lost = sp_pipe_connection_lost,
        .process_exited = sp_process_exited,
        .release = sp_release,
    };
    p->flow = aio__stream_reader_protocol_new(
        &(aio__stream_reader_protocol_args){.stream_reader = NULL, .loop = loop});
    if (p->flow == NULL) {
        aio__decref(p);
        return NULL;
    }
    return p;
}

/* `lambda: protocol`: the transport gets a reference of its own. */
static aio_protocol *hand_protocol(void *arg)
{
    sp_proto *p = arg;
    aio__incref(p);
    return &p->base;
}
AIO_NAME_CALLBACK(hand_protocol);

/* --- Process --------------------------------------------------------------------------- */

static void process_dealloc(void *obj)
{
    aio_process *proc = obj;
    aio__decref(proc->transport);
    aio__decref(proc->protocol);
    aio__decref(proc->loop);
    free(proc);
}

static int process_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<Process %d>", ((const aio_process *)obj)->pid);
}

AIO__DEFINE_TYPE(process_type) = {"Process", process_dealloc, process_repr, 0};

/* The public spelling of a stdio argument the glue split into value and
 * None. */
static int public_stdio(int value, bool is_none)
{
    return is_none ? AIO_NONE : value == 0 ? AIO_ZERO : value;
}

typedef aio_future *(*start_func)(aio_loop *loop, sp_proto *p, const void *args);

static aio_process *start(const char *what, int limit, start_func fn, const void *args)
{
    if (aio__task_running(what) == NULL)
        return NULL;
    aio_loop *loop = aio__running_loop();
    sp_proto *p = sp_new(loop, limit);
    if (p == NULL)
        return NULL;
    aio_future *fut = fn(loop, p, args);
    const aio_transport_protocol *tp = fut != NULL ? aio_await(fut) : NULL;
    aio_process *proc = NULL;
    if (tp != NULL && (proc = aio__calloc(1, sizeof *proc)) != NULL) {
        aio__object_init(proc, &process_type);
        proc->transport = aio_incref(tp->transport);
        proc->protocol = p;
        p = NULL;
        proc->loop = aio_incref(loop);
        proc->pid = aio_transport_get_pid(proc->transport);
    } else if (tp != NULL) {
        /* The MemoryError is kept across the close (which kills the child). */
        aio_exc *exc = aio_err_fetch();
        aio_transport_close(tp->transport);
        aio_err_restore(exc);
    }
    aio__decref(fut);
    aio__decref(p);
    return proc;
}

static aio_future *exec_start(aio_loop *loop, sp_proto *p, const void *a)
{
    const aio__create_subprocess_exec_args *args = a;
    size_t n = 0;
    while (args->args != NULL && args->args[n] != NULL)
        n++;
    const char **argv = aio__calloc(n + 2, sizeof *argv);
    if (argv == NULL)
        return NULL;
    argv[0] = args->program;
    if (n > 0)
        memcpy(argv + 1, args->args, n * sizeof *argv);
    aio_future *fut = aio_loop_subprocess_exec(
        loop, &(aio_loop_subprocess_exec_args){
                  .protocol_factory = hand_protocol,
                  .protocol_factory_arg = p,
                  .args = argv,
                  .stdin_ = public_stdio(args->stdin_, args->stdin__is_none),
                  .stdout_ = public_stdio(args->stdout_, args->stdout__is_none),
                  .stderr_ = public_stdio(args->stderr_, args->stderr__is_none),
                  .kwargs = args->kwds,
              });
    free(argv);
    return fut;
}

aio_process *aio__create_subprocess_exec(const aio__create_subprocess_exec_args *args)
{
    return start("aio_create_subprocess_exec()", args->limit, exec_start, args);
}

static aio_future *shell_start(aio_loop *loop, sp_proto *p, const void *a)
{
    const aio__create_subprocess_shell_args *args = a;
    return aio_loop_subprocess_shell(
        loop, &(aio_loop_subprocess_shell_args){
                  .protocol_factory = hand_protocol,
                  .protocol_factory_arg = p,
                  .cmd = args->cmd,
                  .stdin_ = public_stdio(args->stdin_, args->stdin__is_none),
                  .stdout_ = public_stdio(args->stdout_, args->stdout__is_none),
                  .stderr_ = public_stdio(args->stderr_, args->stderr__is_none),
                  .kwargs = args->kwds,
              });
}

aio_process *aio__create_subprocess_shell(const aio__create_subprocess_shell_args *args)
{
    return start("aio_create_subprocess_shell()", args->limit, shell_start, args);
}

int aio__process_pid(aio_process *process)
{
    return process->pid;
}

int aio__process_returncode(aio_process *process)
{
    return aio_transport_get_returncode(process->transport);
}

aio_stream_writer *aio__process_stdin(aio_process *process)
{
    return process->protocol->stdin_;
}

aio_stream_reader *aio__process_stdout(aio_process *process)
{
    return process->protocol->stdout_;
}

aio_stream_reader *aio__process_stderr(aio_process *process)
{
    return process->protocol->stderr_;
}

int aio__process_send_signal(aio_process *process, int signal)
{
    return aio_transport_send_signal(process->transport, signal);
}

int aio__process_terminate(aio_process *process)
{
    return aio_transport_terminate(process->transport);
}

int aio__process_kill(aio_process *process)
{
    return aio_transport_kill(process->transport);
}

int aio__process_wait(aio_process *process)
{
    if (aio__task_running("Process.wait()") == NULL)
        return INT_MIN;
    sp_proto *p = process->protocol;
    int returncode;
    /* The transport knows the code before the protocol hears of it. */
    while ((returncode = aio_transport_get_returncode(process->transport)) == AIO_NONE) {
        aio__waiter *w = aio__waiter_append(&p->exit_waiters, p->loop);
        if (w == NULL)
            return INT_MIN;
        int rc = aio__waiter_await(w);
        aio__waiter_remove(w);
        aio__decref(w);
        if (rc < 0)
            return INT_MIN;
    }
    return returncode;
}

/* --- communicate() --------------------------------------------------------------------- */

/* One stream's read to EOF, as a task of its own. */
typedef struct read_job {
    aio_process *process;
    int fd;
    aio_bytes *output;             /* a reference, once read */
} read_job;

static void *read_stream(void *arg)
{
    read_job *job = arg;
    sp_proto *p = job->process->protocol;
    aio_stream_reader *reader = job->fd == 1 ? p->stdout_ : p->stderr_;
    job->output = aio_stream_reader_read(reader, -1);
    if (job->output != NULL && p->transport != NULL) {
        aio_transport *pipe = aio_transport_get_pipe_transport(p->transport, job->fd);
        if (pipe != NULL)
            aio_transport_close(pipe);
    }
    return NULL;
}
AIO_NAME_CALLBACK(read_stream);

/* _feed_stdin(), as a task of its own: a pipe broken by a child that did
 * not read is no error. */
typedef struct feed_job {
    aio_stream_writer *in;
    const void *input;
    size_t len;
} feed_job;

static void *feed_stdin(void *arg)
{
    feed_job *job = arg;
    if (aio_stream_writer_write(job->in, job->input, job->len) < 0 ||
        aio_stream_writer_drain(job->in) < 0) {
        if (!aio_err_matches(aio_BrokenPipeError) && !aio_err_matches(aio_ConnectionResetError))
            return NULL;
        aio_err_clear();
    }
    aio_stream_writer_close(job->in);
    return NULL;
}
AIO_NAME_CALLBACK(feed_stdin);

aio_process_output aio__process_communicate(aio_process *process,
                                            const aio__process_communicate_args *args)
{
    aio_process_output out = {NULL, NULL, -1};
    if (aio__task_running("Process.communicate()") == NULL)
        return out;
    sp_proto *p = process->protocol;
    read_job jobs[2] = {{process, 1, NULL}, {process, 2, NULL}};
    feed_job feed = {p->stdin_, args->input, args->input_len};
    /* gather(stdin, stdout, stderr): the feeding and the reads as tasks. */
    aio_task *tasks[3] = {NULL, NULL, NULL};
    bool ok = true;
    if (p->stdin_ != NULL && args->input != NULL) { /* else stdin stays open: _noop() */
        tasks[2] = aio_create_task(feed_stdin, &feed, NULL);
        ok = tasks[2] != NULL;
    }
    for (int i = 0; i < 2 && ok; i++) {
        if ((i == 0 ? p->stdout_ : p->stderr_) == NULL)
            continue;
        tasks[i] = aio_create_task(read_stream, &jobs[i], NULL);
        ok = tasks[i] != NULL;
    }
    /* Wait for them all, as gather() does; once something failed (this
     * task cancelled too), cancel what is left and still wait for it to
     * end: the tasks use jobs[] and feed on this stack. */
    aio_exc *error = ok ? NULL : aio_err_fetch();
    bool any = false;
    for (int i = 0; i < 3; i++) {
        any = any || tasks[i] != NULL;
        aio_future *t = (aio_future *)tasks[i];
        while (t != NULL) {
            bool done = aio_future_done(t) == 1;
            if (error != NULL && !done)
                aio_task_cancel(tasks[i], NULL);
            if (aio_await(t) == NULL && aio_err_occurred()) {
                if (error == NULL)
                    error = aio_err_fetch();
                else
                    aio_err_clear();
            }
            if (done || aio_future_done(t) == 1)
                break;
        }
    }
    /* gather()'s own iterations: its children's tasks end one iteration
     * after they start at the earliest (asyncio's _noop() ones too), and
     * its outer future wakes this task one iteration after the last. */
    if (error == NULL && !any && (aio_sleep(0) < 0 || aio_sleep(0) < 0))
        error = aio_err_fetch();
    if (error == NULL && aio_sleep(0) < 0)
        error = aio_err_fetch();
    if (error != NULL) {
        aio_err_restore(error);
        ok = false;
    }
    if (ok && aio__process_wait(process) == INT_MIN)
        ok = false;
    for (int i = 0; i < 3; i++)
        aio__decref(tasks[i]);
    if (!ok) {
        aio__decref(jobs[0].output);
        aio__decref(jobs[1].output);
        return out;
    }
    out = (aio_process_output){jobs[0].output, jobs[1].output, 0};
    return out;
}
