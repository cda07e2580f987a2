/* subprocess.c - loop.subprocess_exec() and loop.subprocess_shell(), and
 * their transport (base_subprocess.py's BaseSubprocessTransport and
 * unix_events.py's _UnixSubprocessTransport, 3.11).
 *
 * The child is started by process_spawn.c; its pipes are pipe transports
 * whose protocols (the Write/ReadSubprocessPipeProto of asyncio) forward to
 * the transport, which hands every event to the caller's protocol one
 * iteration later, as asyncio's _call() does: connection_made first, the
 * events that came before it queued behind it, connection_lost() last, once
 * the process has exited and every pipe is closed. The pipes' transports
 * start one after the other, in the iterations of asyncio's
 * _connect_pipes() task awaiting each.
 *
 * The child is reaped by child_watch.c for this one pid (a pidfd, or a
 * thread blocked in waitpid() for it), never racing with other children;
 * its exit reaches _process_exited() two iterations after the watch sees
 * it, as asyncio's child watcher relays it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "casyncio/log.h"
#include "casyncio/net.h"
#include "child_watch.h"
#include "exc.h"
#include "future.h"
#include "names.h"
#include "connection.h"
#include "pipe_transport.h"
#include "process_spawn.h"
#include "subprocess.h"
#include "transport.h"
#include "waiters.h"

typedef struct sp_transport sp_transport;

/* What _call() defers to the next iteration (or, before connection_made,
 * queues). */
enum { CALL_MADE, CALL_DATA, CALL_PIPE_LOST, CALL_EXITED, CALL_CONN_LOST };
typedef struct sp_call {
    struct sp_call *next;
    sp_transport *sp;   /* a reference */
    int kind;
    int fd;
    aio_exc *exc;       /* a reference, or NULL */
    size_t len;
    char data[];
} sp_call;

/* asyncio's WriteSubprocessPipeProto / ReadSubprocessPipeProto. */
typedef struct pipe_proto {
    aio_protocol proto;
    sp_transport *sp;   /* a reference, until released */
    int fd;
} pipe_proto;

/* The future of (transport, protocol). */
typedef struct sp_future {
    aio_future fut;
    aio_transport_protocol pair; /* the transport: a reference until the result is set */
} sp_future;

struct sp_transport {
    aio_transport base;
    pid_t pid;
    int returncode;
    bool exited;            /* _returncode is not None */
    bool reaped;            /* waited for: its pid may be another's now */
    bool proc_gone;         /* _proc is None: after connection_lost() */
    bool closed;            /* close() was called */
    bool finished;
    bool connected;         /* connection_made() scheduled: _pending_calls is None */
    bool failed;            /* the start failed: the pipes' events go nowhere */
    bool has_pipe[3];       /* in _pipes: stdin, stdout, stderr made with PIPE */
    bool pipe_lost[3];      /* that pipe's connection_lost() came */
    aio_transport *pipes[3];
    int pipe_fd[3];         /* our ends of the pipes not connected yet, or -1 */
    int connecting;         /* _connect_pipes(): the next pipe it looks at */
    int exit_status;        /* the return code on its way to _process_exited() */
    sp_call *pending_head;
    sp_call *pending_tail;
    aio__child_watch *watch;
    sp_future *fut;         /* a reference, until the result is set */
    aio__waiters exit_waiters; /* _exit_waiters: _wait()'s */
};

static int sp_repr(const void *obj, aio__strbuf *out);
static void sp_dealloc(void *obj);

AIO__DEFINE_TYPE(sp_transport_type) = {"_UnixSubprocessTransport", sp_dealloc, sp_repr,
                                       AIO__TYPE_TRANSPORT};

/* --- _call() ------------------------------------------------------------------------------ */

static void call_free(void *arg)
{
    sp_call *c = arg;
    aio__decref(c->exc);
    aio__decref(c->sp);
    free(c);
}

static void sp_call_run(void *arg);
static void start_failed(sp_transport *sp);
static void finish_future(sp_transport *sp);
static void close_pending_fds(sp_transport *sp);
static sp_future *waiting_future(sp_transport *sp);

/* Wakes _wait()'s waiters: in _process_exited() before 3.11, in
 * _call_connection_lost() from 3.11 (or when the transport goes). */
static void wake_exit_waiters(sp_transport *sp)
{
    aio__waiter *w;
    while ((w = aio__waiter_popleft(&sp->exit_waiters)) != NULL) {
        if (!aio__waiter_done(w))
            aio__waiter_wake(w);
        aio__decref(w);
    }
}

static bool wakes_at_exit(const sp_transport *sp)
{
    return sp->base.loop != NULL && aio_loop_get_target_version(sp->base.loop) < AIO_PY(3, 11);
}

static void call_connection_lost(sp_transport *sp)
{
    aio_protocol *p = sp->base.protocol;
    if (p != NULL && p->connection_lost != NULL)
        p->connection_lost(p, NULL);
    /* finally: */
    aio_exc *pending = aio_err_fetch();
    wake_exit_waiters(sp);
    sp->proc_gone = true;
    aio__transport_clear(&sp->base);
    aio_err_restore(pending);
}

static void sp_call_run(void *arg)
{
    sp_call *c = arg;
    sp_transport *sp = c->sp;
    if (sp->failed) { /* the start failed after scheduling it */
        call_free(c);
        return;
    }
    aio_protocol *p = sp->base.protocol;
    switch (c->kind) {
    case CALL_MADE:
        if (p != NULL && p->connection_made != NULL)
            p->connection_made(p, &sp->base);
        break;
    case CALL_DATA:
        if (p != NULL && p->pipe_data_received != NULL)
            p->pipe_data_received(p, c->fd, c->data, c->len);
        break;
    case CALL_PIPE_LOST:
        if (p != NULL && p->pipe_connection_lost != NULL)
            p->pipe_connection_lost(p, c->fd, c->exc);
        break;
    case CALL_EXITED:
        if (p != NULL && p->process_exited != NULL)
            p->process_exited(p);
        break;
    case CALL_CONN_LOST:
        call_connection_lost(sp);
        break;
    }
    call_free(c);
}

static int call_schedule(sp_transport *sp, sp_call *c)
{
    if (sp->base.loop == NULL) {
        call_free(c);
        return 0;
    }
    const aio__loop_call_soon_args args = {
        .callback = sp_call_run, .args = c, .args_release = call_free};
    if (aio__loop_call_soon(sp->base.loop, &args) == NULL) {
        /* No memory to defer it: the end of the connection still happens. */
        aio_err_clear();
        if (c->kind == CALL_MADE && !sp->failed) {
            start_failed(sp);
        } else if (c->kind == CALL_CONN_LOST) {
            call_connection_lost(sp);
            aio_err_clear();
        } else {
            aio_log(AIO_LOG_ERROR, NULL, "subprocess transport: event dropped (no memory)");
        }
        call_free(c);
        return -1;
    }
    return 0;
}

/* _call(cb, *data): takes a new reference to exc. */
static int defer(sp_transport *sp, int kind, int fd, const void *data, size_t len,
                   aio_exc *exc)
{
    if (sp->failed)
        return 0;
    sp_call *c = aio__malloc(sizeof *c + len);
    if (c == NULL) {
        if (kind == CALL_CONN_LOST) {
            aio_err_clear();
            call_connection_lost(sp);
        }
        return -1;
    }
    c->next = NULL;
    c->sp = aio_incref(sp);
    c->kind = kind;
    c->fd = fd;
    c->exc = exc != NULL ? aio_incref(exc) : NULL;
    c->len = len;
    if (len > 0)
        memcpy(c->data, data, len);
    if (!sp->connected) {
        if (sp->pending_tail != NULL)
            sp->pending_tail->next = c;
        else
            sp->pending_head = c;
        sp->pending_tail = c;
        return 0;
    }
    return call_schedule(sp, c);
}

static void try_finish(sp_transport *sp)
{
    if (!sp->exited || sp->finished)
        return;
    for (int i = 0; i < 3; i++)
        if (sp->has_pipe[i] && !sp->pipe_lost[i])
            return;
    sp->finished = true;
    defer(sp, CALL_CONN_LOST, -1, NULL, 0, NULL);
}

/* _process_exited(returncode) */
static void process_exited(sp_transport *sp, int returncode)
{
    if (sp->exited)
        return;
    if (sp->base.loop != NULL && aio__loop_debug(sp->base.loop)) {
        char *repr = aio_repr(sp);
        aio_log(AIO_LOG_INFO, NULL, "%s exited with return code %d", repr ? repr : "?",
                returncode);
        free(repr);
    }
    sp->exited = true;
    sp->returncode = returncode;
    if (defer(sp, CALL_EXITED, -1, NULL, 0, NULL) < 0)
        aio_err_clear();
    bool at_exit = wakes_at_exit(sp);
    try_finish(sp);
    if (at_exit)
        wake_exit_waiters(sp);
}

int aio__subprocess_wait(aio_transport *t)
{
    sp_transport *sp = (sp_transport *)t;
    while (!sp->exited) {
        aio__waiter *w = aio__waiter_append(&sp->exit_waiters, sp->base.loop);
        if (w == NULL)
            return INT_MIN;
        int rc = aio__waiter_await(w);
        aio__waiter_remove(w);
        aio__decref(w);
        if (rc < 0)
            return INT_MIN;
    }
    return sp->returncode;
}

static void drop_sp(void *arg)
{
    aio__decref(arg);
}

/* Schedules fn(sp), taking over a reference to sp; without the memory to
 * defer it, fn runs now. */
static void call_soon_or_now(sp_transport *sp, aio_callback fn)
{
    if (sp->base.loop != NULL) {
        const aio__loop_call_soon_args cs = {.callback = fn, .args = sp, .args_release = drop_sp};
        if (aio__loop_call_soon(sp->base.loop, &cs) != NULL)
            return;
        aio_err_clear();
    }
    fn(sp);
}

static void exit_reported(void *arg)
{
    sp_transport *sp = arg;
    process_exited(sp, sp->exit_status);
    aio__decref(sp);
}

/* unix_events' _child_watcher_callback(): call_soon_threadsafe(call_soon,
 * transp._process_exited, returncode). */
static void exit_relayed(void *arg)
{
    call_soon_or_now(arg, exit_reported);
}

/* The watcher's callback, on the loop's thread, in the iteration the exit
 * is seen: _process_exited() runs two iterations later, as asyncio's
 * watcher relays it from 3.10 (one iteration later before: 3.8 and 3.9's
 * _child_watcher_callback has no call_soon). */
static void child_exited(void *arg, int returncode)
{
    sp_transport *sp = arg;
    aio__child_watch_free(sp->watch);
    sp->watch = NULL;
    sp->reaped = true;
    sp->exit_status = returncode;
    bool relayed = sp->base.loop == NULL ||
                   aio_loop_get_target_version(sp->base.loop) >= AIO_PY(3, 10);
    /* takes over the watch's reference */
    call_soon_or_now(sp, relayed ? exit_relayed : exit_reported);
}

/* --- The pipes' protocols ----------------------------------------------------------------- */

static inline pipe_proto *as_pp(aio_protocol *p)
{
    return (pipe_proto *)p;
}

static void pp_connection_lost(aio_protocol *self, aio_exc *exc)
{
    pipe_proto *pp = as_pp(self);
    sp_transport *sp = pp->sp;
    sp->pipe_lost[pp->fd] = true;
    if (sp->failed)
        return;
    if (defer(sp, CALL_PIPE_LOST, pp->fd, NULL, 0, exc) < 0)
        aio_err_clear();
    try_finish(sp);
}

static void pp_data_received(aio_protocol *self, const void *data, size_t len)
{
    pipe_proto *pp = as_pp(self);
    if (defer(pp->sp, CALL_DATA, pp->fd, data, len, NULL) < 0)
        aio_err_clear();
}

static void pp_pause_writing(aio_protocol *self)
{
    aio_protocol *p = as_pp(self)->sp->base.protocol;
    if (p != NULL && p->pause_writing != NULL)
        p->pause_writing(p);
}

static void pp_resume_writing(aio_protocol *self)
{
    aio_protocol *p = as_pp(self)->sp->base.protocol;
    if (p != NULL && p->resume_writing != NULL)
        p->resume_writing(p);
}

static void pp_release(aio_protocol *self)
{
    pipe_proto *pp = as_pp(self);
    aio__decref(pp->sp);
    free(pp);
}

/* --- The future -------------------------------------------------------------------------- */

static void spf_dealloc(void *obj)
{
    sp_future *f = obj;
    if (!aio__future_finalize(&f->fut))
        return;
    if (f->fut.state != AIO__FUTURE_FINISHED || f->fut.exception != NULL)
        aio__decref(f->pair.transport);
    aio__future_clear(&f->fut);
    free(f);
}

AIO__DEFINE_TYPE(sp_future_type) = {"Future", spf_dealloc, aio__future_repr, 0};

static void free_pair(void *result)
{
    aio_transport_protocol *pair = result;
    aio__decref(pair->transport);
}

/* The caller's await ended without the pair (cancelled): close the
 * transport (which kills the child), as asyncio's `except` does. */
static void spf_done(aio_future *fut, void *arg)
{
    (void)arg;
    sp_future *f = (sp_future *)fut;
    if (fut->state == AIO__FUTURE_FINISHED && fut->exception == NULL)
        return;
    aio_transport *t = f->pair.transport;
    if (t == NULL)
        return;
    f->pair.transport = NULL;
    aio__transport_close(t);
    aio_err_clear();
    aio__decref(t);
}

/* --- The transport's methods ---------------------------------------------------------------- */

static bool is_sp(aio_transport *t)
{
    return t != NULL && aio__type_of(t) == &sp_transport_type;
}

static sp_transport *check_sp(aio_transport *t, const char *method)
{
    if (is_sp(t))
        return (sp_transport *)t;
    aio_err_format(aio_AttributeError, "'%s' object has no attribute '%s'",
                   t != NULL && t->cls != NULL ? t->cls->name : "NoneType", method);
    return NULL;
}

static int sp_close(aio_transport *t)
{
    sp_transport *sp = (sp_transport *)t;
    if (sp->closed)
        return 0;
    sp->closed = true;
    t->closing = true;
    for (int i = 0; i < 3; i++) {
        if (sp->pipes[i] != NULL) {
            aio__transport_close(sp->pipes[i]);
            aio_err_clear();
        }
    }
    if (!sp->proc_gone && !sp->exited && !sp->reaped && sp->pid > 0) {
        if (t->loop != NULL && aio__loop_debug(t->loop)) {
            char *repr = aio_repr(sp);
            aio_log(AIO_LOG_WARNING, NULL, "Close running child process: kill %s",
                    repr ? repr : "?");
            free(repr);
        }
        kill(sp->pid, SIGKILL); /* ProcessLookupError ignored */
    }
    return 0;
}

/* 'subprocess': Python's Popen object, here what C can use of it, its
 * pid (const int *, valid while the transport is; it stays after the
 * end, as the Popen object does). */
static const void *sp_extra_info(aio_transport *t, const char *name, bool *found)
{
    sp_transport *sp = (sp_transport *)t;
    *found = strcmp(name, "subprocess") == 0 && sp->pid > 0;
    return *found ? &sp->pid : NULL;
}
_Static_assert(sizeof(pid_t) == sizeof(int) && (pid_t)-1 < 0, "pid_t is the int handed out");

/* The loop closes while the child is still watched: what __del__ does
 * (ResourceWarning, close(), which kills it), and the child handed to a
 * reaper of its own so that it leaves no zombie. */
static void sp_orphan(aio_transport *t)
{
    sp_transport *sp = (sp_transport *)t;
    aio__incref(sp); /* the watch's reference may be the last one */
    if (!sp->closed)
        aio__resource_warning("unclosed transport %s", sp);
    /* close() without the pipes: the loop orphans them itself. */
    sp->closed = true;
    t->closing = true;
    if (!sp->proc_gone && !sp->exited && !sp->reaped && sp->pid > 0)
        kill(sp->pid, SIGKILL);
    if (sp->watch != NULL) {
        aio__child_watch_orphan(sp->watch);
        sp->watch = NULL;
        aio__decref(sp); /* the watch's reference */
    }
    for (int i = 0; i < 3; i++) {
        aio_transport *pipe = sp->pipes[i];
        sp->pipes[i] = NULL;
        aio__decref(pipe);
    }
    close_pending_fds(sp);
    aio_future *fut = sp->fut != NULL ? &sp->fut->fut : NULL;
    sp->fut = NULL;
    aio__decref(fut);
    aio__transport_clear(t);
    aio__decref(sp);
}

static const aio__transport_class sp_class = {
    .name = "_UnixSubprocessTransport",
    .close = sp_close,
    .extra_info = sp_extra_info,
    .orphan = sp_orphan,
};

static int sp_repr(const void *obj, aio__strbuf *out)
{
    const sp_transport *sp = obj;
    aio__sb_append(out, "<_UnixSubprocessTransport");
    if (sp->closed)
        aio__sb_append(out, " closed");
    if (sp->pid > 0)
        aio__sb_appendf(out, " pid=%d", (int)sp->pid);
    if (sp->exited)
        aio__sb_appendf(out, " returncode=%d", sp->returncode);
    else if (sp->pid > 0)
        aio__sb_append(out, " running");
    static const char *names[3] = {"stdin", "stdout", "stderr"};
    for (int i = 0; i < 3; i++)
        if (sp->pipes[i] != NULL) {
            aio__sb_appendf(out, " %s=", names[i]);
            aio__repr_into(sp->pipes[i], out);
        }
    return aio__sb_append(out, ">");
}

static void sp_dealloc(void *obj)
{
    sp_transport *sp = obj;
    for (sp_call *c = sp->pending_head, *next; c != NULL; c = next) {
        next = c->next;
        aio__decref(c->exc);
        free(c); /* its reference to sp is the one being dropped */
    }
    for (int i = 0; i < 3; i++)
        aio__decref(sp->pipes[i]);
    close_pending_fds(sp);
    aio__decref(sp->fut);
    aio__waiters_clear(&sp->exit_waiters);
    if (sp->watch != NULL)
        aio__child_watch_orphan(sp->watch);
    aio__transport_clear(&sp->base);
    free(sp);
}

int aio__transport_get_pid(aio_transport *t)
{
    sp_transport *sp = check_sp(t, "get_pid");
    return sp != NULL ? (int)sp->pid : -1;
}

aio_transport *aio__transport_get_pipe_transport(aio_transport *t, int fd)
{
    sp_transport *sp = check_sp(t, "get_pipe_transport");
    if (sp == NULL || fd < 0 || fd > 2)
        return NULL;
    return sp->pipes[fd];
}

int aio__transport_get_returncode(aio_transport *t)
{
    sp_transport *sp = check_sp(t, "get_returncode");
    if (sp == NULL)
        return INT_MIN;
    return sp->exited ? sp->returncode : AIO_NONE;
}

static int signal_child(aio_transport *t, const char *method, int sig)
{
    sp_transport *sp = check_sp(t, method);
    if (sp == NULL)
        return -1;
    if (sp->proc_gone) {
        aio_err_set(aio_ProcessLookupError, NULL);
        return -1;
    }
    /* Popen skips a process it knows has died (poll() first: one reaped
     * but not yet reported too) */
    if (sp->exited || sp->reaped)
        return 0;
    if (kill(sp->pid, sig) < 0 && errno != ESRCH) {
        aio_err_set_from_errno(errno);
        return -1;
    }
    return 0;
}

int aio__transport_send_signal(aio_transport *t, int sig)
{
    return signal_child(t, "send_signal", sig);
}

int aio__transport_terminate(aio_transport *t)
{
    return signal_child(t, "terminate", SIGTERM);
}

int aio__transport_kill(aio_transport *t)
{
    return signal_child(t, "kill", SIGKILL);
}

/* --- Starting --------------------------------------------------------------------------------- */

/* _connect_pipes()'s end, once the pipes' transports have started:
 * connection_made() scheduled, the calls queued before it behind it, then
 * the waiter's result (the caller's task resumes after connection_made()). */
static void pipes_connected(sp_transport *sp)
{
    sp->connected = true;
    sp_call *head = sp->pending_head;
    sp->pending_head = sp->pending_tail = NULL;
    if (defer(sp, CALL_MADE, -1, NULL, 0, NULL) < 0) {
        if (!sp->failed)
            start_failed(sp);
        for (sp_call *c = head, *next; c != NULL; c = next) {
            next = c->next;
            call_free(c);
        }
        return;
    }
    for (sp_call *c = head, *next; c != NULL; c = next) {
        next = c->next;
        c->next = NULL;
        call_schedule(sp, c);
    }
    if (!sp->failed)
        finish_future(sp);
}

static void connect_step(void *arg);
static void connect_dropped(void *arg);

/* Schedules the next step of _connect_pipes() (its task's next step);
 * takes a reference to sp. */
static int schedule_connect_step(sp_transport *sp)
{
    aio__incref(sp);
    const aio__loop_call_soon_args cs = {
        .callback = connect_step, .args = sp, .args_release = connect_dropped};
    if (aio__loop_call_soon(sp->base.loop, &cs) == NULL) {
        aio__decref(sp);
        return -1;
    }
    return 0;
}

/* A pipe's waiter: `await loop.connect_*_pipe()` resumes in the next
 * iteration. */
static void pipe_ready(void *arg)
{
    sp_transport *sp = arg;
    if (!sp->failed && schedule_connect_step(sp) < 0 && !sp->failed)
        start_failed(sp);
    aio__decref(sp);
}

/* A pipe's reader could not start (MemoryError): the start fails with
 * it, as the exception of `await loop.connect_*_pipe()` fails
 * _connect_pipes(). */
static void pipe_failed(void *arg, aio_transport *t, aio_exc *exc)
{
    (void)t;
    sp_transport *sp = arg;
    aio_err_restore(exc);
    if (!sp->failed)
        start_failed(sp);
    aio_err_clear();
    aio__decref(sp);
}

static void close_pending_fds(sp_transport *sp)
{
    for (int i = 0; i < 3; i++)
        if (sp->pipe_fd[i] >= 0) {
            close(sp->pipe_fd[i]);
            sp->pipe_fd[i] = -1;
        }
}

/* connect_write_pipe() for stdin, connect_read_pipe() for stdout and
 * stderr, one at a time: the next pipe's transport, whose waiter comes
 * back here; with none left, the end. -1 with the exception set. */
static int connect_next(sp_transport *sp)
{
    int i = sp->connecting;
    while (i < 3 && sp->pipe_fd[i] < 0)
        i++;
    sp->connecting = i + 1;
    if (i == 3) {
        pipes_connected(sp);
        return 0;
    }
    pipe_proto *pp = aio__calloc(1, sizeof *pp);
    if (pp == NULL)
        return -1;
    pp->proto.connection_lost = pp_connection_lost;
    pp->proto.pause_writing = pp_pause_writing;
    pp->proto.resume_writing = pp_resume_writing;
    if (i > 0)
        pp->proto.data_received = pp_data_received;
    pp->proto.release = pp_release;
    pp->sp = aio_incref(sp);
    pp->fd = i;
    const aio__transport_waiter waiter = {pipe_ready, aio_incref(sp), connect_dropped};
    aio_transport *pt = aio__pipe_transport_new(sp->base.loop, sp->pipe_fd[i], i == 0, i == 0,
                                                &pp->proto, &waiter, pipe_failed);
    if (pt == NULL) {
        aio__decref(sp); /* the waiter's */
        pp_release(&pp->proto);
        return -1;
    }
    sp->pipe_fd[i] = -1;
    sp->pipes[i] = pt;
    return 0;
}

static void connect_step(void *arg)
{
    sp_transport *sp = arg;
    if (!sp->failed && !sp->connected && connect_next(sp) < 0 && !sp->failed)
        start_failed(sp);
    aio__decref(sp);
}

/* The start's own callbacks ran out of memory: the caller's future gets
 * MemoryError, and the transport closes (killing the child, which the
 * watch reaps); nothing reaches the protocol. */
static void start_failed(sp_transport *sp)
{
    if (aio_err_occurred() == NULL)
        aio_err_set(aio_MemoryError, NULL);
    sp->failed = true;
    close_pending_fds(sp);
    for (int i = 0; i < 3; i++)
        if (sp->pipes[i] == NULL)
            sp->has_pipe[i] = false;
    for (sp_call *c = sp->pending_head, *next; c != NULL; c = next) {
        next = c->next;
        call_free(c);
    }
    sp->pending_head = sp->pending_tail = NULL;
    sp_future *f = waiting_future(sp);
    if (f != NULL && f->fut.state == AIO__FUTURE_PENDING)
        aio__future_fail(&f->fut, NULL);
    aio_err_clear();
    aio__decref(f);
    sp_close(&sp->base);
    aio_err_clear();
}

/* A step of the connection dropped unrun (the loop closed): let go of the
 * future. */
static void connect_dropped(void *arg)
{
    sp_transport *sp = arg;
    aio_future *fut = sp->fut != NULL ? &sp->fut->fut : NULL;
    sp->fut = NULL;
    aio__decref(fut);
    aio__decref(sp);
}

static sp_future *waiting_future(sp_transport *sp)
{
    sp_future *f = sp->fut;
    sp->fut = NULL;
    return f;
}

static void finish_future(sp_transport *sp)
{
    sp_future *f = waiting_future(sp);
    if (f == NULL)
        return;
    if (f->fut.state == AIO__FUTURE_PENDING) {
        if (aio__future_finish_result(&f->fut, &f->pair, free_pair) < 0)
            aio_err_clear();
    }
    aio__decref(f);
}

typedef struct start_args {
    aio_protocol_factory factory;
    void *factory_arg;
    int std[3];             /* the stdin/stdout/stderr arguments */
    bool std_none[3];
    const aio_popen_options *kw;
    bool shell;
} start_args;

/* The ValueErrors asyncio raises for what its streams cannot do, in its
 * order. */
static int check_options(const aio_popen_options *kw, bool shell)
{
    if (kw == NULL)
        return shell ? 0 : 0;
    const char *msg = NULL;
    bool shell_true = kw->shell != 0 && kw->shell != AIO_FALSE;
    if (kw->universal_newlines)
        msg = "universal_newlines must be False";
    else if (!shell && shell_true)
        msg = "shell must be False";
    else if (shell && kw->shell == AIO_FALSE)
        msg = "shell must be True";
    else if (kw->bufsize != 0 && kw->bufsize != AIO_ZERO)
        msg = "bufsize must be 0";
    else if (kw->text)
        msg = "text must be False";
    else if (kw->encoding != NULL)
        msg = "encoding must be None";
    else if (kw->errors != NULL)
        msg = "errors must be None";
    if (msg == NULL)
        return 0;
    aio_err_set(aio_ValueError, msg);
    return -1;
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* Kills a child that will not be watched and reaps it (it dies at once). */
static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

static aio_future *start(aio_loop *loop, const start_args *a, const char *const *argv,
                         const char *executable)
{
    if (a->factory == NULL) {
        aio_err_set(aio_TypeError, "'NoneType' object is not callable");
        return NULL;
    }
    aio_protocol *protocol = a->factory(a->factory_arg);
    if (protocol == NULL) {
        if (aio_err_occurred() == NULL)
            aio_err_set(aio_AttributeError,
                        "'NoneType' object has no attribute 'connection_made'");
        return NULL;
    }
    sp_future *f = aio__calloc(1, sizeof *f);
    if (f == NULL) {
        aio__protocol_release(protocol);
        return NULL;
    }
    aio__future_init(&f->fut, &sp_future_type, loop);
    sp_transport *sp = aio__calloc(1, sizeof *sp);
    if (sp == NULL) {
        aio__protocol_release(protocol);
        aio__decref(f);
        return NULL;
    }
    aio__transport_init(&sp->base, &sp_transport_type, &sp_class, loop, protocol);
    sp->pipe_fd[0] = sp->pipe_fd[1] = sp->pipe_fd[2] = -1;
    f->pair.transport = &sp->base; /* the future's reference */
    f->pair.protocol = protocol;
    const aio__future_add_done_callback_args add = {.callback = spf_done};
    if (aio__future_add_done_callback(&f->fut, &add) < 0)
        goto fail_early;

    /* The pipes: parent[i] is our end, child[i] the child's. */
    int parent[3] = {-1, -1, -1}, child[3] = {-1, -1, -1}, devnull = -1;
    aio__spawn_spec spec = {.argv = argv, .executable = executable};
    if (a->kw != NULL) {
        spec.envp = a->kw->env;
        spec.cwd = a->kw->cwd;
        spec.start_new_session = a->kw->start_new_session;
        spec.pass_fds = a->kw->pass_fds;
        spec.pass_fds_len = a->kw->pass_fds_len;
    }
    for (int i = 0; i < 3; i++) {
        int v = a->std[i];
        if (a->std_none[i]) {
            spec.child_fd[i] = AIO__SPAWN_INHERIT;
        } else if (v == AIO_SUBPROCESS_PIPE) {
            int fds[2];
            if (pipe2(fds, O_CLOEXEC) < 0) {
                aio_err_set_from_errno(errno);
                goto fail_fds;
            }
            parent[i] = i == 0 ? fds[1] : fds[0];
            child[i] = i == 0 ? fds[0] : fds[1];
            spec.child_fd[i] = child[i];
            sp->has_pipe[i] = true;
        } else if (v == AIO_SUBPROCESS_DEVNULL) {
            if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
                aio_err_set_from_errno(errno);
                goto fail_fds;
            }
            spec.child_fd[i] = devnull;
        } else if (v == AIO_SUBPROCESS_STDOUT && i == 2) {
            spec.child_fd[i] = AIO__SPAWN_TO_STDOUT;
        } else {
            spec.child_fd[i] = v < 0 ? -100 : v; /* a bad one fails in the child: EBADF */
        }
    }
    for (int i = 0; i < 3; i++)
        if (parent[i] >= 0 && aio__set_nonblocking(parent[i]) < 0)
            goto fail_fds;
    pid_t pid;
    if (aio__spawn(&spec, &pid) < 0)
        goto fail_fds;
    close_fds(child, 3);
    close_fds(&devnull, 1);
    sp->pid = pid;
    /* A closed loop is noticed only here, as asyncio's create_task() of
     * _connect_pipes() notices it after Popen(): the child is killed. */
    if (aio__loop_check_closed(loop) < 0)
        goto fail_child;

    /* _connect_pipes(), a task of its own: its first step in the next
     * iteration; then the watcher, so that a failure of the watch's start
     * leaves the child to be killed and reaped here (a failed start makes
     * the steps no-ops). */
    for (int i = 0; i < 3; i++) {
        sp->pipe_fd[i] = parent[i];
        parent[i] = -1;
    }
    if (schedule_connect_step(sp) < 0)
        goto fail_child;
    sp->watch = aio__child_watch_start(loop, pid, &sp->base, child_exited, sp);
    if (sp->watch == NULL)
        goto fail_child;
    aio__incref(sp); /* the watch's */
    sp->fut = (sp_future *)aio_incref(&f->fut);
    if (aio__loop_debug(loop)) {
        aio__strbuf sb = AIO__STRBUF_INIT;
        aio__sb_append_pyrepr(&sb, argv[0]);
        aio_log(AIO_LOG_DEBUG, NULL, "process %s created: pid %d", sb.data ? sb.data : "?",
                (int)pid);
        aio__sb_free(&sb);
    }
    return &f->fut;

fail_child:
    {
        aio_exc *exc = aio_err_fetch();
        sp->failed = true;
        sp_close(&sp->base);
        close_pending_fds(sp);
        kill_and_reap(pid);
        sp->exited = true;
        close_fds(parent, 3);
        aio_err_restore(exc);
    }
    goto fail_release;
fail_fds:
    close_fds(parent, 3);
    close_fds(child, 3);
    close_fds(&devnull, 1);
    sp->failed = true;
    sp->closed = sp->base.closing = true;
fail_release:
    {
        /* The protocol goes back to the caller's release() now. */
        aio_exc *exc = aio_err_fetch();
        aio_protocol *p = sp->base.protocol;
        sp->base.protocol = NULL;
        aio__protocol_release(p);
        aio_err_restore(exc);
    }
fail_early:
    f->pair.transport = NULL;
    aio__decref(sp);
    aio__decref(f);
    return NULL;
}

aio_future *aio__loop_subprocess_exec(aio_loop *loop, const aio__loop_subprocess_exec_args *args)
{
    if (args->args == NULL || args->args[0] == NULL) {
        aio_err_set(aio_TypeError, "BaseEventLoop.subprocess_exec() missing 1 required "
                                   "positional argument: 'program'");
        return NULL;
    }
    if (check_options(args->kwargs, false) < 0)
        return NULL;
    const start_args a = {
        .factory = args->protocol_factory,
        .factory_arg = args->protocol_factory_arg,
        .std = {args->stdin_, args->stdout_, args->stderr_},
        .std_none = {args->stdin__is_none, args->stdout__is_none, args->stderr__is_none},
        .kw = args->kwargs,
    };
    const char *executable =
        args->kwargs != NULL && args->kwargs->executable != NULL ? args->kwargs->executable
                                                                 : args->args[0];
    return start(loop, &a, args->args, executable);
}

aio_future *aio__loop_subprocess_shell(aio_loop *loop,
                                       const aio__loop_subprocess_shell_args *args)
{
    if (check_options(args->kwargs, true) < 0)
        return NULL;
    const start_args a = {
        .factory = args->protocol_factory,
        .factory_arg = args->protocol_factory_arg,
        .std = {args->stdin_, args->stdout_, args->stderr_},
        .std_none = {args->stdin__is_none, args->stdout__is_none, args->stderr__is_none},
        .kw = args->kwargs,
        .shell = true,
    };
    const char *sh =
        args->kwargs != NULL && args->kwargs->executable != NULL ? args->kwargs->executable
                                                                 : "/bin/sh";
    const char *argv[] = {sh, "-c", args->cmd, NULL};
    return start(loop, &a, argv, sh);
}

/* What reprs and logs call these callbacks. */
AIO__NAME(sp_call_run, "BaseSubprocessTransport._call", 0);
AIO__NAME(connect_step, "BaseSubprocessTransport._connect_pipes", AIO__NAME_SELF_ARG);
AIO__NAME(pipe_ready, "futures._set_result_unless_cancelled", AIO__NAME_SELF_ARG);
AIO__NAME(exit_relayed, "BaseEventLoop.call_soon", AIO__NAME_SELF_ARG);
AIO__NAME(exit_reported, "BaseSubprocessTransport._process_exited", AIO__NAME_SELF_ARG);
