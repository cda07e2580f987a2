/* transport.c - BaseTransport, ReadTransport, WriteTransport and
 * _FlowControlMixin (transports.py), and the transports' part of a loop. */
#include "transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/net.h"
#include "exc.h"
#include "impl.h"
#include "names.h"

/* --- The transports' part of a loop ------------------------------------------------
 *
 * Two slots (loop.h): the descriptors transports own (loop._transports, a
 * map from fd to transport, not holding references) and the buffer reads
 * go into. When the loop closes, the transports still open are orphaned as
 * their __del__ would be. */

typedef struct fd_map {
    aio_transport **by_fd;
    size_t cap;
    size_t count;
} fd_map;

static void transports_closed(aio_loop *loop);
static int transports_check_fd(aio_loop *loop, int fd);

AIO__LOOP_PART(transports_part) = {.name = "transports",
                                   .slots = 2,
                                   .order = 50,
                                   .closed = transports_closed,
                                   .check_fd = transports_check_fd};

static inline fd_map **map_of(aio_loop *loop)
{
    return (fd_map **)aio__loop_part_slot(loop, &transports_part);
}

static inline void **read_buffer_of(aio_loop *loop)
{
    return aio__loop_part_slot(loop, &transports_part) + 1;
}

int aio__transports_attach(aio_loop *loop, int fd, aio_transport *t)
{ /* (see aio__transports_check_new() for a new socket transport) */
    fd_map **slot = map_of(loop);
    if (*slot == NULL && (*slot = aio__calloc(1, sizeof(fd_map))) == NULL)
        return -1;
    fd_map *m = *slot;
    if ((size_t)fd >= m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        aio_transport **by_fd = aio__realloc(m->by_fd, cap * sizeof *by_fd);
        if (by_fd == NULL)
            return -1;
        memset(by_fd + m->cap, 0, (cap - m->cap) * sizeof *by_fd);
        m->by_fd = by_fd;
        m->cap = cap;
    }
    if (m->by_fd[fd] == NULL)
        m->count++;
    m->by_fd[fd] = t;
    return 0;
}

void aio__transports_detach(aio_loop *loop, int fd, aio_transport *t)
{
    fd_map *m = *map_of(loop);
    if (m != NULL && fd >= 0 && (size_t)fd < m->cap && m->by_fd[fd] == t) {
        m->by_fd[fd] = NULL;
        m->count--;
    }
}

void *aio__transports_read_buffer(aio_loop *loop)
{
    void **slot = read_buffer_of(loop);
    if (*slot == NULL)
        *slot = aio__malloc(AIO__READ_SIZE);
    return *slot;
}

/* _ensure_fd_no_transport(): the public add_reader() and friends refuse a
 * transport's descriptor while the transport is not closing. */
static int transports_check_fd(aio_loop *loop, int fd);

int aio__transports_check_new(aio_loop *loop, int fd)
{
    if (aio_loop_get_target_version(loop) < AIO_PY(3, 12))
        return 0;
    return transports_check_fd(loop, fd);
}

static int transports_check_fd(aio_loop *loop, int fd)
{
    fd_map *m = *map_of(loop);
    if (m == NULL || fd < 0 || (size_t)fd >= m->cap || m->by_fd[fd] == NULL)
        return 0;
    aio_transport *t = m->by_fd[fd];
    if (t->closing || t->cls->unguarded_fd)
        return 0;
    char *repr = aio_repr(t);
    aio_err_format(aio_RuntimeError, "File descriptor %d is used by transport %s", fd,
                   repr ? repr : "?");
    free(repr);
    return -1;
}

static void transports_closed(aio_loop *loop)
{
    fd_map *m = *map_of(loop);
    if (m != NULL) {
        for (size_t fd = 0; fd < m->cap && m->count > 0; fd++) {
            aio_transport *t = m->by_fd[fd];
            if (t != NULL) {
                m->by_fd[fd] = NULL;
                m->count--;
                t->cls->orphan(t);
            }
        }
        free(m->by_fd);
        free(m);
        *map_of(loop) = NULL;
    }
    free(*read_buffer_of(loop));
    *read_buffer_of(loop) = NULL;
}

/* --- The common part ---------------------------------------------------------------------- */

static void drop_ref(void *obj)
{
    aio__decref(obj);
}

int aio__transport_call_soon(aio_transport *t, aio_callback fn)
{
    aio__incref(t);
    const aio__loop_call_soon_args args = {.callback = fn, .args = t, .args_release = drop_ref};
    if (aio__loop_call_soon(t->loop, &args) == NULL) {
        aio__decref(t);
        return -1;
    }
    return 0;
}

int aio__transport_add_reader(aio_transport *t, int fd, bool *flag, aio_callback fn)
{
    if (*flag)
        return 0;
    aio__incref(t);
    if (aio__io_add_reader(t->loop, fd, fn, t, drop_ref) < 0) {
        aio__decref(t);
        return -1;
    }
    *flag = true;
    return 0;
}

int aio__transport_add_writer(aio_transport *t, int fd, bool *flag, aio_callback fn)
{
    if (*flag)
        return 0;
    aio__incref(t);
    if (aio__io_add_writer(t->loop, fd, fn, t, drop_ref) < 0) {
        aio__decref(t);
        return -1;
    }
    *flag = true;
    return 0;
}

void aio__transport_remove_reader(aio_transport *t, int fd, bool *flag)
{
    if (*flag) {
        *flag = false;
        aio__io_remove_reader(t->loop, fd);
    }
}

void aio__transport_remove_writer(aio_transport *t, int fd, bool *flag)
{
    if (*flag) {
        *flag = false;
        aio__io_remove_writer(t->loop, fd);
    }
}

void aio__transport_init(aio_transport *t, const aio__type *type, const aio__transport_class *cls,
                         aio_loop *loop, aio_protocol *protocol)
{
    aio__object_init(t, type);
    t->cls = cls;
    t->loop = aio_incref(loop);
    t->protocol = protocol;
    t->protocol_connected = true;
    t->high_water = 64 * 1024;
    t->low_water = 16 * 1024;
}

void aio__protocol_release(aio_protocol *protocol)
{
    if (protocol == NULL || protocol->release == NULL)
        return;
    aio_exc *pending = aio_err_fetch();
    protocol->release(protocol);
    aio_err_clear(); /* a release has nobody to raise to */
    aio_err_restore(pending);
}

void aio__transport_clear(aio_transport *t)
{
    aio_protocol *protocol = t->protocol;
    t->protocol = NULL;
    aio__protocol_release(protocol);
    aio_loop *loop = t->loop;
    t->loop = NULL;
    aio__decref(loop);
}

bool aio__transport_error_is_quiet(aio_transport *t, aio_exc *exc)
{
    if (aio_loop_get_target_version(t->loop) >= AIO_PY(3, 7))
        return aio_exc_isinstance(exc, aio_OSError);
    return aio_exc_isinstance(exc, aio_BrokenPipeError) ||
           aio_exc_isinstance(exc, aio_ConnectionResetError) ||
           aio_exc_isinstance(exc, aio_ConnectionAbortedError);
}

void aio__transport_report(aio_transport *t, const char *message, aio_exc *exc)
{
    aio_exception_context context = {
        .message = message,
        .exception = exc,
        .transport = t,
        .protocol = t->protocol,
    };
    if (t->loop != NULL)
        aio__loop_call_exception_handler(t->loop, &context);
    aio__decref(exc);
}

/* --- _FlowControlMixin -------------------------------------------------------------------- */

static int64_t buffer_size(aio_transport *t)
{
    return t->cls->get_write_buffer_size != NULL ? t->cls->get_write_buffer_size(t) : 0;
}

void aio__transport_maybe_pause_protocol(aio_transport *t)
{
    if (buffer_size(t) <= t->high_water || t->protocol_paused)
        return;
    t->protocol_paused = true;
    if (t->protocol == NULL || t->protocol->pause_writing == NULL)
        return;
    t->protocol->pause_writing(t->protocol);
    aio_exc *exc = aio_err_fetch();
    if (exc != NULL)
        aio__transport_report(t, "protocol.pause_writing() failed", exc);
}

void aio__transport_maybe_resume_protocol(aio_transport *t)
{
    if (!t->protocol_paused || buffer_size(t) > t->low_water)
        return;
    t->protocol_paused = false;
    if (t->protocol == NULL || t->protocol->resume_writing == NULL)
        return;
    t->protocol->resume_writing(t->protocol);
    aio_exc *exc = aio_err_fetch();
    if (exc != NULL)
        aio__transport_report(t, "protocol.resume_writing() failed", exc);
}

/* --- The methods -------------------------------------------------------------------------- */

/* The Python class has no such method. */
static int no_attribute(aio_transport *t, const char *method)
{
    aio_err_format(aio_AttributeError, "'%s' object has no attribute '%s'", t->cls->name,
                   method);
    return -1;
}

int aio__transport_close(aio_transport *t)
{
    return t->cls->close ? t->cls->close(t) : no_attribute(t, "close");
}

int aio__transport_is_closing(aio_transport *t)
{
    return t->closing;
}

const void *aio__transport_get_extra_info(aio_transport *t,
                                          const aio__transport_get_extra_info_args *args)
{
    bool found = false;
    const void *value = t->cls->extra_info ? t->cls->extra_info(t, args->name, &found) : NULL;
    return found ? value : args->default_;
}

int aio__transport_set_protocol(aio_transport *t, aio_protocol *protocol)
{
    t->protocol = protocol; /* the one it replaces goes back to the caller */
    t->protocol_connected = true;
    if (t->cls->protocol_set != NULL)
        t->cls->protocol_set(t);
    return 0;
}

aio_protocol *aio__transport_get_protocol(aio_transport *t)
{
    return t->protocol;
}

int aio__transport_is_reading(aio_transport *t)
{
    return t->cls->is_reading ? t->cls->is_reading(t) : no_attribute(t, "is_reading");
}

int aio__transport_pause_reading(aio_transport *t)
{
    return t->cls->pause_reading ? t->cls->pause_reading(t) : no_attribute(t, "pause_reading");
}

int aio__transport_resume_reading(aio_transport *t)
{
    return t->cls->resume_reading ? t->cls->resume_reading(t)
                                  : no_attribute(t, "resume_reading");
}

int aio__transport_write(aio_transport *t, const void *data, size_t data_len)
{
    if (t->cls->write == NULL)
        return no_attribute(t, "write");
    if (data == NULL) {
        /* write(None) */
        aio_err_set(aio_TypeError, "data argument must be a bytes-like object, not 'NoneType'");
        return -1;
    }
    return t->cls->write(t, data, data_len);
}

/* 3.12's _SelectorSocketTransport.writelines(): its own checks, then each
 * item through memoryview(), then the data written. */
static int own_writelines(aio_transport *t, const aio_bytes_view *list, size_t n)
{
    if (t->cls->writelines_check(t) < 0)
        return -1;
    if (list == NULL || n == 0)
        return 0; /* `if not list_of_data: return` */
    for (size_t i = 0; i < n; i++) {
        if (list[i].data == NULL && list[i].len > 0) {
            aio_err_set(aio_TypeError,
                        "memoryview: a bytes-like object is required, not 'NoneType'");
            return -1;
        }
    }
    return 1; /* go on: the data is written as one */
}

/* WriteTransport.writelines(): b''.join(list_of_data), then write(). */
int aio__transport_writelines(aio_transport *t, const aio_bytes_view *list, size_t n)
{
    if (t->cls->write == NULL)
        return no_attribute(t, "writelines");
    if (t->cls->writelines_check != NULL &&
        aio_loop_get_target_version(t->loop) >= AIO_PY(3, 12)) {
        int rc = own_writelines(t, list, n);
        if (rc <= 0)
            return rc;
    }
    if (list == NULL && n > 0) {
        aio_err_set(aio_TypeError, "can only join an iterable");
        return -1;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].data == NULL && list[i].len > 0) {
            aio_err_format(aio_TypeError, "sequence item %zu: expected a bytes-like object, "
                                          "NoneType found", i);
            return -1;
        }
        if (list[i].len > SIZE_MAX - total) {
            aio_err_set(aio_OverflowError, "join() result is too long for a Python bytes");
            return -1;
        }
        total += list[i].len;
    }
    if (n == 1)
        return t->cls->write(t, list[0].data != NULL ? list[0].data : "", list[0].len);
    char *joined = aio__malloc(total);
    if (joined == NULL)
        return -1;
    for (size_t i = 0, at = 0; i < n; at += list[i].len, i++) {
        if (list[i].len > 0)
            memcpy(joined + at, list[i].data, list[i].len);
    }
    int rc = t->cls->write(t, joined, total);
    free(joined);
    return rc;
}

int aio__transport_can_write_eof(aio_transport *t)
{
    return t->cls->can_write_eof ? t->cls->can_write_eof(t) : no_attribute(t, "can_write_eof");
}

int aio__transport_write_eof(aio_transport *t)
{
    return t->cls->write_eof ? t->cls->write_eof(t) : no_attribute(t, "write_eof");
}

int aio__transport_sendto(aio_transport *t, const aio__transport_sendto_args *args)
{
    if (t->cls->sendto == NULL)
        return no_attribute(t, "sendto");
    return t->cls->sendto(t, args->data, args->data_len, args->addr);
}

int aio__transport_abort(aio_transport *t)
{
    return t->cls->abort ? t->cls->abort(t) : no_attribute(t, "abort");
}

int64_t aio__transport_get_write_buffer_size(aio_transport *t)
{
    if (t->cls->get_write_buffer_size == NULL)
        return no_attribute(t, "get_write_buffer_size");
    return t->cls->get_write_buffer_size(t);
}

aio_write_buffer_limits aio__transport_get_write_buffer_limits(aio_transport *t)
{
    if (t->cls->get_write_buffer_size == NULL) {
        no_attribute(t, "get_write_buffer_limits");
        return (aio_write_buffer_limits){-1, -1};
    }
    return (aio_write_buffer_limits){t->low_water, t->high_water};
}

int aio__transport_set_write_buffer_limits(aio_transport *t,
                                           const aio__transport_set_write_buffer_limits_args *args)
{
    if (t->cls->get_write_buffer_size == NULL)
        return no_attribute(t, "set_write_buffer_limits");
    int64_t high = args->high, low = args->low;
    if (args->high_is_none)
        high = args->low_is_none ? 64 * 1024 : 4 * low;
    if (args->low_is_none)
        low = high / 4;
    if (!(high >= low && low >= 0)) {
        aio_err_format(aio_ValueError, "high (%lld) must be >= low (%lld) must be >= 0",
                       (long long)high, (long long)low);
        return -1;
    }
    t->high_water = high;
    t->low_water = low;
    aio__transport_maybe_pause_protocol(t);
    return 0;
}

/* --- The typed getters of casyncio/net.h ---------------------------------------------------- */

static bool is_transport(const aio_transport *t)
{
    return aio__is_object(t) && (aio__type_of(t)->flags & AIO__TYPE_TRANSPORT);
}

int aio_transport_get_socket(aio_transport *t)
{
    if (t == NULL || !is_transport(t) || t->cls->extra_info == NULL)
        return -1;
    bool found = false;
    const int *fd = t->cls->extra_info(t, "socket", &found);
    return fd != NULL ? *fd : -1;
}

int aio_transport_get_pipe(aio_transport *t)
{
    if (t == NULL || !is_transport(t) || t->cls->extra_info == NULL)
        return -1;
    bool found = false;
    const int *fd = t->cls->extra_info(t, "pipe", &found);
    return fd != NULL ? *fd : -1;
}

const aio_address *aio_transport_get_peername(aio_transport *t)
{
    bool found = false;
    if (t == NULL || !is_transport(t) || t->cls->extra_info == NULL)
        return NULL;
    return t->cls->extra_info(t, "peername", &found);
}

const aio_address *aio_transport_get_sockname(aio_transport *t)
{
    bool found = false;
    if (t == NULL || !is_transport(t) || t->cls->extra_info == NULL)
        return NULL;
    return t->cls->extra_info(t, "sockname", &found);
}
