/* transport_sendfile.c - loop.sendfile() (base_events.py, selector_events.py,
 * 3.11).
 *
 * A socket transport is of sendfile's TRY_NATIVE kind: the transport lets
 * go of its descriptor (loop._transports), stops reading, and once its
 * write buffer is empty (the "empty waiter", during which write() is
 * refused) sock_sendfile(fallback=False) sends the file on its socket;
 * then reading resumes as it was and the descriptor is the transport's
 * again. When native sendfile is not possible (SendfileNotAvailableError)
 * and fallback is true, the file is read in blocks of 16 KiB (at most
 * count) and written through the transport with its flow control, under a
 * protocol of the loop's own (_SendfileFallbackProtocol) that waits while
 * the transport's protocol is paused for writing; the program's protocol
 * is put back at the end. Other transports: RuntimeError.
 *
 * As in sock_sendfile(), the fallback reads each block on the loop's
 * thread (read(2)), one block per iteration, where CPython reads in its
 * default executor.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "exc.h"
#include "future.h"
#include "impl.h"
#include "names.h"
#include "sock_io.h"
#include "sock_sendfile.h"
#include "socket_transport.h"
#include "transport.h"

#define FALLBACK_BLOCK 16384

typedef struct transport_sendfile transport_sendfile;

/* _SendfileFallbackProtocol: the transport's protocol while the fallback
 * writes. */
typedef struct fallback_protocol {
    aio_protocol base;
    transport_sendfile *owner;
} fallback_protocol;

struct transport_sendfile {
    aio_future fut;             /* sendfile()'s future: the bytes sent */
    aio_transport *t;           /* a reference */
    int fd;                     /* the transport's socket */
    int file;
    int64_t offset;
    int64_t count;              /* 0: None (or 0, refused by the checks) */
    bool count_is_none;
    bool fallback;
    /* Native: the empty waiter, then sock_sendfile()'s future. */
    aio_future *inner;          /* a reference; its done callback is ours */
    aio_done_callback inner_cb;
    bool native_active;         /* detached and paused: the finally is owed */
    transport_sendfile *prev;   /* in the loop's list while native_active */
    transport_sendfile *next;
    bool resume_reading;
    /* The fallback. */
    fallback_protocol proto;
    bool installed;             /* proto is the transport's protocol */
    aio_protocol *orig;         /* the program's protocol meanwhile */
    bool should_resume_reading;
    bool should_resume_writing;
    bool write_wait;            /* _write_ready_fut: paused for writing */
    bool lost;                  /* connection_lost() came */
    char *buf;
    size_t blocksize;
    size_t block_len;           /* read, waiting to be written */
    int64_t total_sent;
};

static void tsf_dealloc(void *obj);

AIO__DEFINE_TYPE(transport_sendfile_type) = {"Future", tsf_dealloc, aio__future_repr, 0};

static void drop_ref(void *obj)
{
    aio__decref(obj);
}

static void set_inner(transport_sendfile *s, aio_future *inner, aio_done_callback cb)
{
    s->inner = inner;
    s->inner_cb = cb;
}

static void drop_inner(transport_sendfile *s)
{
    aio_future *inner = s->inner;
    if (inner == NULL)
        return;
    s->inner = NULL;
    if (inner->state == AIO__FUTURE_PENDING)
        aio__future_remove_done_callback(inner, s->inner_cb, s);
    aio__decref(inner);
}

/* --- The sendfiles of a loop ------------------------------------------------------------
 *
 * While a native send runs, its transport is not in the loop's map of
 * descriptors, so the loop's close would not find it: the loop's closing
 * runs the `finally:` of those still running first, which hands each
 * transport back (to be let go of with the others). */

static void sendfiles_closing(aio_loop *loop);

AIO__LOOP_PART(sendfiles_part) = {.name = "sendfiles", .slots = 1, .order = 45,
                                  .closing = sendfiles_closing};

static transport_sendfile **sendfiles_of(aio_loop *loop)
{
    return (transport_sendfile **)aio__loop_part_slot(loop, &sendfiles_part);
}

static void link_native(transport_sendfile *s)
{
    transport_sendfile **head = sendfiles_of(s->fut.loop);
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL)
        (*head)->prev = s;
    *head = s;
}

static void unlink_native(transport_sendfile *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *sendfiles_of(s->fut.loop) = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void native_finally(transport_sendfile *s);

static void sendfiles_closing(aio_loop *loop)
{
    while (*sendfiles_of(loop) != NULL)
        native_finally(*sendfiles_of(loop));
}

/* --- Native ------------------------------------------------------------------------------ */

/* The `finally:` of _sendfile_native(). */
static void native_finally(transport_sendfile *s)
{
    if (!s->native_active)
        return;
    s->native_active = false;
    unlink_native(s);
    aio__socket_transport_reset_empty_waiter(s->t);
    aio_exc *pending = aio_err_fetch();
    /* A transport the loop's close let go of has nothing to resume. */
    bool open = s->t->loop != NULL && !aio__loop_is_closed(s->t->loop) && !s->t->closing &&
                aio__socket_transport_fd(s->t) >= 0;
    if (open && s->resume_reading)
        aio__transport_resume_reading(s->t);
    aio_err_clear();
    if (open)
        aio__transports_attach(s->t->loop, s->fd, s->t);
    aio_err_clear();
    aio_err_restore(pending);
}

static void finish_result(transport_sendfile *s, int64_t sent)
{
    if (s->fut.state == AIO__FUTURE_PENDING)
        aio__future_finish_result(&s->fut, (void *)(intptr_t)sent, NULL);
}

/* Takes exc over; NULL: the current exception. */
static void finish_exception(transport_sendfile *s, aio_exc *exc)
{
    if (exc == NULL)
        exc = aio_err_fetch();
    if (s->fut.state == AIO__FUTURE_PENDING)
        aio__future_fail(&s->fut, exc);
    else
        aio__decref(exc);
}

static void fallback_start(transport_sendfile *s);

/* sock_sendfile(fallback=False) is done. */
static void native_done(aio_future *inner, void *arg)
{
    transport_sendfile *s = arg;
    aio__incref(s);
    native_finally(s);
    if (inner->state == AIO__FUTURE_CANCELLED || s->fut.state != AIO__FUTURE_PENDING) {
        drop_inner(s);
        aio__decref(s);
        return;
    }
    aio_exc *exc = inner->exception;
    inner->log_traceback = false; /* retrieved, as `await` would */
    if (exc == NULL) {
        int64_t sent = AIO_RESULT_INT(inner->result);
        drop_inner(s);
        finish_result(s, sent);
    } else if (aio_exc_isinstance(exc, aio_SendfileNotAvailableError) && s->fallback) {
        drop_inner(s);
        fallback_start(s);
    } else {
        aio__incref(exc);
        drop_inner(s);
        finish_exception(s, exc);
    }
    aio__decref(s);
}

/* The transport's buffer is empty: sock_sendfile(fallback=False). */
static void empty_done(aio_future *waiter, void *arg)
{
    transport_sendfile *s = arg;
    aio__incref(s);
    if (s->fut.state != AIO__FUTURE_PENDING || waiter->state == AIO__FUTURE_CANCELLED) {
        drop_inner(s);
        native_finally(s);
        aio__decref(s);
        return;
    }
    if (waiter->exception != NULL) {
        waiter->log_traceback = false;
        aio_exc *exc = aio_incref(waiter->exception);
        drop_inner(s);
        native_finally(s);
        finish_exception(s, exc);
        aio__decref(s);
        return;
    }
    drop_inner(s);
    aio_future *inner = NULL;
    if (aio__check_sendfile_params(s->fd, s->file, s->offset, s->count, s->count_is_none) == 0)
        inner = aio__sock_sendfile_start(s->fut.loop, s->fd, s->file, s->offset, s->count, false);
    if (inner == NULL) {
        native_finally(s);
        finish_exception(s, NULL);
        aio__decref(s);
        return;
    }
    set_inner(s, inner, native_done);
    if (inner->state != AIO__FUTURE_PENDING) {
        native_done(inner, s);
    } else {
        const aio__future_add_done_callback_args add = {.callback = native_done,
                                                       .callback_arg = s};
        if (aio__future_add_done_callback(inner, &add) < 0) {
            aio__future_cancel_plain(inner, NULL);
            drop_inner(s);
            native_finally(s);
            finish_exception(s, NULL);
        }
    }
    aio__decref(s);
}

/* _sendfile_native() up to the wait for the empty buffer. */
static int native_start(transport_sendfile *s)
{
    aio_transport *t = s->t;
    if (aio__socket_transport_sendfile_active(t)) {
        /* `del self._transports[fd]` finds it gone: KeyError(fd). */
        aio_err_format(aio_KeyError, "%d", s->fd);
        return -1;
    }
    aio_future *waiter = aio__socket_transport_make_empty_waiter(t);
    if (waiter == NULL)
        return -1;
    aio__transports_detach(t->loop, s->fd, t);
    s->native_active = true;
    link_native(s);
    s->resume_reading = aio__transport_is_reading(t) == 1;
    aio__transport_pause_reading(t);
    set_inner(s, waiter, empty_done);
    if (waiter->state != AIO__FUTURE_PENDING) {
        empty_done(waiter, s);
        return 0;
    }
    const aio__future_add_done_callback_args add = {.callback = empty_done, .callback_arg = s};
    if (aio__future_add_done_callback(waiter, &add) < 0) {
        drop_inner(s);
        native_finally(s);
        return -1;
    }
    return 0;
}

/* --- The fallback -------------------------------------------------------------------------- */

static inline transport_sendfile *owner_of(aio_protocol *self)
{
    return ((fallback_protocol *)self)->owner;
}

/* proto.restore(): the program's protocol back, reading and writing as they
 * were. */
static void restore(transport_sendfile *s)
{
    if (!s->installed)
        return;
    s->installed = false;
    aio_exc *pending = aio_err_fetch();
    if (!s->lost) {
        aio__transport_set_protocol(s->t, s->orig);
        if (s->should_resume_reading)
            aio__transport_resume_reading(s->t);
        if (s->should_resume_writing && s->orig->resume_writing != NULL)
            s->orig->resume_writing(s->orig);
    }
    aio_exc *raised = aio_err_fetch();
    if (raised != NULL && s->fut.state == AIO__FUTURE_PENDING) {
        aio__decref(pending); /* an exception in the finally replaces the outcome */
        pending = raised;
    } else {
        aio__decref(raised);
    }
    aio_err_restore(pending);
    aio__decref(s); /* the protocol's reference */
}

/* The `finally:` of _sendfile_fallback(), then the outcome. exc taken over
 * (NULL with result true: the bytes sent). */
static void fallback_finish(transport_sendfile *s, aio_exc *exc)
{
    aio__incref(s);
    if (s->total_sent > 0 && lseek(s->file, s->offset + s->total_sent, SEEK_SET) < 0) {
        aio__decref(exc);
        exc = aio_exc_from_errno(errno);
    }
    restore(s);
    if (aio_err_occurred() != NULL) {
        aio__decref(exc);
        exc = aio_err_fetch();
    }
    if (exc != NULL)
        finish_exception(s, exc);
    else
        finish_result(s, s->total_sent);
    aio__decref(s);
}

static void fallback_step(void *arg);

static int schedule(transport_sendfile *s, aio_callback cb)
{
    aio__incref(s);
    const aio__loop_call_soon_args args = {.callback = cb, .args = s, .args_release = drop_ref};
    if (aio__loop_call_soon(s->fut.loop, &args) == NULL) {
        aio__decref(s);
        return -1;
    }
    return 0;
}

/* await proto.drain(), then transp.write(block). */
static void drain_and_write(transport_sendfile *s)
{
    if (s->t->closing) {
        fallback_finish(s, aio_exc_new(aio_ConnectionError, "Connection closed by peer"));
        return;
    }
    if (s->write_wait)
        return; /* resume_writing() goes on */
    if (aio__transport_write(s->t, s->buf, s->block_len) < 0) {
        fallback_finish(s, aio_err_fetch());
        return;
    }
    s->total_sent += (int64_t)s->block_len;
    s->block_len = 0;
    if (schedule(s, fallback_step) < 0)
        fallback_finish(s, aio_err_fetch());
}

/* One block: read (where CPython's executor would), then drain and write. */
static void fallback_step(void *arg)
{
    transport_sendfile *s = arg;
    if (s->fut.state == AIO__FUTURE_PENDING && s->installed) {
        size_t want = s->blocksize;
        if (s->count > 0) {
            int64_t left = s->count - s->total_sent;
            if (left <= 0) {
                fallback_finish(s, NULL);
                goto out;
            }
            if ((int64_t)want > left)
                want = (size_t)left;
        }
        ssize_t got = read(s->file, s->buf, want);
        if (got < 0)
            fallback_finish(s, aio_exc_from_errno(errno));
        else if (got == 0)
            fallback_finish(s, NULL);
        else {
            s->block_len = (size_t)got;
            drain_and_write(s);
        }
    }
out:
    aio__decref(s);
}

static void resume_cb(void *arg)
{
    transport_sendfile *s = arg;
    if (s->fut.state == AIO__FUTURE_PENDING && s->installed && s->block_len > 0)
        drain_and_write(s);
    aio__decref(s);
}

static void fp_pause_writing(aio_protocol *self)
{
    owner_of(self)->write_wait = true;
}

static void fp_resume_writing(aio_protocol *self)
{
    transport_sendfile *s = owner_of(self);
    if (!s->write_wait)
        return;
    s->write_wait = false;
    if (s->block_len > 0 && schedule(s, resume_cb) < 0)
        fallback_finish(s, aio_err_fetch());
}

static void fp_connection_made(aio_protocol *self, aio_transport *t)
{
    (void)self;
    (void)t;
    aio_err_set(aio_RuntimeError,
                "Invalid state: connection should have been established already.");
}

static void fp_data_received(aio_protocol *self, const void *data, size_t len)
{
    (void)self;
    (void)data;
    (void)len;
    aio_err_set(aio_RuntimeError, "Invalid state: reading should be paused");
}

static bool fp_eof_received(aio_protocol *self)
{
    (void)self;
    aio_err_set(aio_RuntimeError, "Invalid state: reading should be paused");
    return false;
}

/* The transport lets go of the protocol without connection_lost() (the
 * loop closed with it open): the program's protocol goes with it. */
static void fp_release(aio_protocol *self)
{
    transport_sendfile *s = owner_of(self);
    if (!s->installed)
        return;
    s->installed = false;
    s->lost = true;
    aio__protocol_release(s->orig);
    aio__decref(s); /* the protocol's reference */
}

/* The connection ends during the fallback: the program's protocol hears
 * it (and is the transport's again, so that the transport releases it);
 * a write waiting for resume_writing() fails. */
static void fp_connection_lost(aio_protocol *self, aio_exc *exc)
{
    transport_sendfile *s = owner_of(self);
    aio__incref(s);
    bool waiting = s->write_wait;
    s->write_wait = false;
    s->lost = true;
    s->t->protocol = s->orig;
    if (s->orig->connection_lost != NULL)
        s->orig->connection_lost(s->orig, exc);
    if (waiting && s->fut.state == AIO__FUTURE_PENDING) {
        aio_exc *pending = aio_err_fetch();
        fallback_finish(s, exc != NULL ? aio_incref(exc)
                                       : aio_exc_new(aio_ConnectionError,
                                                     "Connection is closed by peer"));
        aio_err_restore(pending);
    }
    aio__decref(s);
}

static void fallback_start(transport_sendfile *s)
{
    aio_transport *t = s->t;
    if (s->offset != 0 && lseek(s->file, s->offset, SEEK_SET) < 0) {
        finish_exception(s, aio_exc_from_errno(errno));
        return;
    }
    s->blocksize = s->count > 0 && s->count < FALLBACK_BLOCK ? (size_t)s->count : FALLBACK_BLOCK;
    s->buf = aio__malloc(s->blocksize);
    if (s->buf == NULL) {
        finish_exception(s, NULL);
        return;
    }
    /* _SendfileFallbackProtocol(transp) */
    s->proto.base.connection_made = fp_connection_made;
    s->proto.base.connection_lost = fp_connection_lost;
    s->proto.base.pause_writing = fp_pause_writing;
    s->proto.base.resume_writing = fp_resume_writing;
    s->proto.base.data_received = fp_data_received;
    s->proto.base.eof_received = fp_eof_received;
    s->proto.base.release = fp_release;
    s->proto.owner = s;
    s->orig = t->protocol;
    s->should_resume_reading = aio__transport_is_reading(t) == 1;
    s->should_resume_writing = t->protocol_paused;
    aio__transport_pause_reading(t);
    aio__transport_set_protocol(t, &s->proto.base);
    s->write_wait = s->should_resume_writing;
    s->installed = true;
    aio__incref(s); /* the protocol's, until restore() */
    if (schedule(s, fallback_step) < 0)
        fallback_finish(s, aio_err_fetch());
}

/* --- The future ------------------------------------------------------------------------------ */

/* Cancelled: what a task's CancelledError would run through. */
static void tsf_done(aio_future *fut, void *arg)
{
    (void)arg;
    transport_sendfile *s = (transport_sendfile *)fut;
    if (fut->state != AIO__FUTURE_CANCELLED)
        return;
    aio__incref(s);
    if (s->inner != NULL && s->inner->state == AIO__FUTURE_PENDING) {
        /* Its done callbacks come next: sock_sendfile()'s removes its
         * writer first, then ours runs the finally (native_finally()), as
         * the task's wake-up comes after them in CPython. */
        aio__future_cancel_any(s->inner, NULL);
    } else {
        drop_inner(s);
        native_finally(s);
    }
    if (s->installed) {
        if (s->total_sent > 0)
            lseek(s->file, s->offset + s->total_sent, SEEK_SET);
        restore(s);
        aio_err_clear();
    }
    aio__decref(s);
}

static void tsf_dealloc(void *obj)
{
    transport_sendfile *s = obj;
    if (!aio__future_finalize(&s->fut))
        return;
    drop_inner(s);
    native_finally(s);
    free(s->buf);
    aio__decref(s->t);
    aio__future_clear(&s->fut);
    free(s);
}

aio_future *aio__loop_sendfile(aio_loop *loop, const aio__loop_sendfile_args *args)
{
    aio_transport *t = args->transport;
    if (aio__transport_is_closing(t)) {
        aio_err_set(aio_RuntimeError, "Transport is closing");
        return NULL;
    }
    if (!aio__is_socket_transport(t)) {
        char *repr = aio_repr(t);
        aio_err_format(aio_RuntimeError, "sendfile is not supported for transport %s",
                       repr ? repr : "?");
        free(repr);
        return NULL;
    }
    transport_sendfile *s = aio__calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    aio__future_init(&s->fut, &transport_sendfile_type, loop);
    s->t = aio_incref(t);
    s->fd = aio__socket_transport_fd(t);
    s->file = args->file;
    s->offset = args->offset;
    s->count = args->count_is_none ? 0 : args->count;
    s->count_is_none = args->count_is_none;
    s->fallback = args->fallback;
    const aio__future_add_done_callback_args add = {.callback = tsf_done};
    if (aio__future_add_done_callback(&s->fut, &add) < 0 || native_start(s) < 0) {
        aio__decref(s);
        return NULL;
    }
    return &s->fut;
}

/* What reprs and logs call these callbacks. */
AIO__NAME(fallback_step, "BaseEventLoop._sendfile_fallback", AIO__NAME_SELF_ARG);
AIO__NAME(resume_cb, "_SendfileFallbackProtocol.drain", AIO__NAME_SELF_ARG);
AIO__NAME(native_done, "BaseSelectorEventLoop._sendfile_native", AIO__NAME_SELF_ARG);
AIO__NAME(empty_done, "_SelectorSocketTransport._make_empty_waiter", AIO__NAME_SELF_ARG);
AIO__NAME(tsf_done, "BaseEventLoop.sendfile", AIO__NAME_SELF_ARG);
