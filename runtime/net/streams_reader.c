/* streams_reader.c - asyncio.StreamReader (streams.py, 3.11): a buffer a
 * protocol feeds and tasks read from, one waiting read at a time, with the
 * limit that bounds a line and pauses the transport above twice it. */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "exc.h"
#include "loop.h"
#include "streams.h"
#include "task.h"

/* --- The object ------------------------------------------------------------------ */

static void reader_dealloc(void *obj)
{
    aio_stream_reader *r = obj;
    aio__decref(r->transport);
    aio__decref(r->exception);
    aio__decref(r->loop);
    aio__decref(r->spare_waiters[0]);
    aio__decref(r->spare_waiters[1]);
    free(r->data);
    free(r);
}

/* <StreamReader 5 bytes eof limit=10 waiter=<Future pending> exception=...
 * transport=<...> paused> */
static int reader_repr(const void *obj, aio__strbuf *out)
{
    const aio_stream_reader *r = obj;
    aio__sb_append(out, "<StreamReader");
    if (r->len > 0)
        aio__sb_appendf(out, " %zu bytes", r->len);
    if (r->eof)
        aio__sb_append(out, " eof");
    if (r->limit != AIO_STREAM_DEFAULT_LIMIT)
        aio__sb_appendf(out, " limit=%d", r->limit);
    const void *parts[] = {r->waiter, r->exception, r->transport};
    const char *names[] = {" waiter=", " exception=", " transport="};
    for (size_t i = 0; i < 3; i++) {
        if (parts[i] == NULL)
            continue;
        char *repr = aio_repr(parts[i]);
        aio__sb_append(out, names[i]);
        aio__sb_append(out, repr ? repr : "?");
        free(repr);
    }
    if (r->paused)
        aio__sb_append(out, " paused");
    return aio__sb_append(out, ">");
}

AIO__DEFINE_TYPE(stream_reader_type) = {"StreamReader", reader_dealloc, reader_repr, 0};

aio_stream_reader *aio__stream_reader_new(const aio__stream_reader_args *args)
{
    if (args->limit <= 0) {
        aio_err_set(aio_ValueError, "Limit cannot be <= 0");
        return NULL;
    }
    aio_loop *loop = args->loop != NULL ? args->loop : aio__get_event_loop();
    if (loop == NULL)
        return NULL;
    aio_stream_reader *r = aio__calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    aio__object_init(r, &stream_reader_type);
    r->limit = args->limit;
    r->loop = aio_incref(loop);
    return r;
}

/* --- The buffer --------------------------------------------------------------------- */

/* The first byte; never NULL (a buffer never grown is an empty one). */
static const unsigned char *buf_start(const aio_stream_reader *r)
{
    return r->data != NULL ? r->data + r->head : (const unsigned char *)"";
}

/* buffer.extend(data): 0, or -1 with MemoryError (the buffer unchanged). */
static int buf_extend(aio_stream_reader *r, const void *data, size_t len)
{
    if (r->head + r->len + len > r->cap) {
        if (r->len + len <= r->cap && r->head >= r->len) {
            memmove(r->data, buf_start(r), r->len);
        } else {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + len) {
                if (cap > SIZE_MAX / 2) {
                    aio_err_set(aio_MemoryError, NULL);
                    return -1;
                }
                cap *= 2;
            }
            unsigned char *bigger = aio__malloc(cap);
            if (bigger == NULL)
                return -1;
            if (r->len > 0)
                memcpy(bigger, buf_start(r), r->len);
            free(r->data);
            r->data = bigger;
            r->cap = cap;
        }
        r->head = 0;
    }
    memcpy(r->data + r->head + r->len, data, len);
    r->len += len;
    return 0;
}

/* del buffer[:n] */
static void buf_consume(aio_stream_reader *r, size_t n)
{
    r->len -= n;
    r->head = r->len == 0 ? 0 : r->head + n;
}

/* bytes(buffer[:n]); del buffer[:n]. A new reference, or NULL with
 * MemoryError (the buffer unchanged). */
static aio_bytes *buf_take(aio_stream_reader *r, size_t n)
{
    aio_bytes *b = aio_bytes_new(buf_start(r), n);
    if (b != NULL)
        buf_consume(r, n);
    return b;
}

/* buffer.find(sep, offset), or -1. */
static ptrdiff_t buf_find(const aio_stream_reader *r, const void *sep, size_t seplen, size_t offset)
{
    if (offset > r->len || r->len - offset < seplen)
        return -1;
    const unsigned char *at = memmem(buf_start(r) + offset, r->len - offset, sep, seplen);
    return at == NULL ? -1 : at - buf_start(r);
}

/* --- What the protocol calls ------------------------------------------------------- */

aio_exc *aio__stream_reader_exception(aio_stream_reader *reader)
{
    return reader->exception;
}

int aio__stream_reader_set_exception(aio_stream_reader *reader, aio_exc *exc)
{
    if (exc != NULL)
        aio__incref(exc);
    aio__decref(reader->exception);
    reader->exception = exc;
    aio_future *waiter = reader->waiter;
    if (waiter != NULL) {
        reader->waiter = NULL;
        if (!aio_future_cancelled(waiter))
            return aio_future_set_exception(waiter, exc);
    }
    return 0;
}

/* _wakeup_waiter() */
static int wakeup_waiter(aio_stream_reader *r)
{
    aio_future *waiter = r->waiter;
    if (waiter != NULL) {
        r->waiter = NULL;
        if (!aio_future_cancelled(waiter))
            return aio_future_set_result(waiter, NULL);
    }
    return 0;
}

int aio__stream_reader_set_transport(aio_stream_reader *reader, aio_transport *t)
{
    if (reader->transport != NULL) {
        aio_err_set(aio_AssertionError, "Transport already set");
        return -1;
    }
    reader->transport = aio_incref(t);
    return 0;
}

/* _maybe_resume_transport(). A socket transport's resume_reading() does
 * not fail (nothing to do once it is closing). */
static void maybe_resume_transport(aio_stream_reader *r)
{
    if (r->paused && r->len <= (size_t)r->limit) {
        r->paused = false;
        if (aio_transport_resume_reading(r->transport) < 0)
            aio_err_clear();
    }
}

int aio__stream_reader_feed_eof(aio_stream_reader *reader)
{
    reader->eof = true;
    return wakeup_waiter(reader);
}

int aio__stream_reader_at_eof(aio_stream_reader *reader)
{
    return reader->eof && reader->len == 0;
}

int aio__stream_reader_feed_data(aio_stream_reader *reader, const void *data, size_t data_len)
{
    aio_stream_reader *r = reader;
    if (r->eof) {
        aio_err_set(aio_AssertionError, "feed_data after feed_eof");
        return -1;
    }
    if (data_len == 0)
        return 0;
    if (data == NULL) {
        aio_err_set(aio_TypeError, "feed_data() needs data for a non-empty length");
        return -1;
    }
    if (buf_extend(r, data, data_len) < 0 || wakeup_waiter(r) < 0)
        return -1;
    if (r->transport != NULL && !r->paused && r->len > 2 * (size_t)r->limit) {
        if (aio_transport_pause_reading(r->transport) < 0) {
            if (!aio_err_matches(aio_NotImplementedError))
                return -1;
            /* A transport that cannot pause: buffer everything, and stop
             * asking it. */
            aio_err_clear();
            aio__decref(r->transport);
            r->transport = NULL;
        } else {
            r->paused = true;
        }
    }
    return 0;
}

/* --- Reading ------------------------------------------------------------------------ */

/* _wait_for_data(func_name): 0 once feed_data(), feed_eof() or
 * set_exception() came, -1 with the exception set. */
static int wait_for_data(aio_stream_reader *r, const char *func_name)
{
    if (r->waiter != NULL) {
        aio_err_format(aio_RuntimeError,
                       "%s() called while another coroutine is already waiting for incoming data",
                       func_name);
        return -1;
    }
    if (r->eof) {
        aio_err_set(aio_AssertionError, "_wait_for_data after EOF");
        return -1;
    }
    /* Waiting while paused would wait forever (readexactly(n) with n above
     * the limit): read again first. */
    if (r->paused) {
        r->paused = false;
        if (aio_transport_resume_reading(r->transport) < 0)
            aio_err_clear();
    }
    /* A new future each time, as asyncio makes; the last one, when only
     * this reader holds it any more, is as good as new, and costs no
     * allocation. */
    aio_future *waiter = NULL;
    for (size_t i = 0; i < 2 && waiter == NULL; i++) {
        if (r->spare_waiters[i] != NULL && aio__future_reuse(r->spare_waiters[i])) {
            waiter = r->spare_waiters[i];
            r->spare_waiters[i] = NULL;
        }
    }
    if (waiter == NULL) {
        waiter = aio_loop_create_future(r->loop);
        if (waiter == NULL)
            return -1;
    }
    r->waiter = waiter;
    int rc = aio_await(waiter) == NULL && aio_err_occurred() ? -1 : 0;
    r->waiter = NULL;
    /* Only a future that ended with a plain result is kept: any other
     * goes at once, as it did (a cancelled or failed one is not reused). */
    size_t slot = r->spare_waiters[0] == NULL ? 0 : 1;
    if (r->spare_waiters[slot] == NULL && waiter->state == AIO__FUTURE_FINISHED &&
        waiter->exception == NULL)
        r->spare_waiters[slot] = waiter;
    else
        aio__decref(waiter);
    return rc;
}

/* Whether the method may run: inside a task, and no exception set. */
static bool in_task(const char *what)
{
    return aio__task_running(what) != NULL;
}

static bool raise_exception(aio_stream_reader *r)
{
    if (r->exception == NULL)
        return false;
    aio_err_set_exc(r->exception);
    return true;
}

static aio_bytes *read_some(aio_stream_reader *r, size_t n)
{
    if (raise_exception(r))
        return NULL;
    if (n == 0)
        return aio_bytes_new(NULL, 0);
    if (r->len == 0 && !r->eof && wait_for_data(r, "read") < 0)
        return NULL;
    aio_bytes *data = buf_take(r, r->len < n ? r->len : n);
    if (data != NULL)
        maybe_resume_transport(r);
    return data;
}

/* read(-1): read(limit) until b'', joined. */
static aio_bytes *read_all(aio_stream_reader *r)
{
    if (raise_exception(r))
        return NULL;
    aio__strbuf all = AIO__STRBUF_INIT;
    for (;;) {
        aio_bytes *block = read_some(r, (size_t)r->limit);
        if (block == NULL) {
            aio__sb_free(&all);
            return NULL;
        }
        size_t len = aio_bytes_size(block);
        int rc = len > 0 ? aio__sb_append_n(&all, aio_bytes_data(block), len) : 0;
        aio__decref(block);
        if (rc < 0) {
            aio__sb_free(&all);
            return NULL;
        }
        if (len == 0)
            break;
    }
    aio_bytes *result = aio_bytes_new(all.data, all.len);
    aio__sb_free(&all);
    return result;
}

aio_bytes *aio__stream_reader_read(aio_stream_reader *reader, int n)
{
    if (!in_task("aio_stream_reader_read()"))
        return NULL;
    aio__incref(reader);
    aio_bytes *result = n < 0 ? read_all(reader) : read_some(reader, (size_t)n);
    aio__decref(reader);
    return result;
}

static aio_bytes *readexactly(aio_stream_reader *r, int n)
{
    if (n < 0) {
        aio_err_set(aio_ValueError, "readexactly size can not be less than zero");
        return NULL;
    }
    if (raise_exception(r))
        return NULL;
    if (n == 0)
        return aio_bytes_new(NULL, 0);
    while (r->len < (size_t)n) {
        if (r->eof) {
            aio_exc *exc = aio_exc_incomplete_read_new(buf_start(r), r->len, n);
            if (exc == NULL)
                return NULL;
            buf_consume(r, r->len);
            aio_err_restore(exc);
            return NULL;
        }
        if (wait_for_data(r, "readexactly") < 0)
            return NULL;
    }
    aio_bytes *data = buf_take(r, (size_t)n);
    if (data != NULL)
        maybe_resume_transport(r);
    return data;
}

aio_bytes *aio__stream_reader_readexactly(aio_stream_reader *reader, int n)
{
    if (!in_task("aio_stream_reader_readexactly()"))
        return NULL;
    aio__incref(reader);
    aio_bytes *result = readexactly(reader, n);
    aio__decref(reader);
    return result;
}

static aio_bytes *readuntil(aio_stream_reader *r, const void *sep, size_t seplen)
{
    if (seplen == 0) {
        aio_err_set(aio_ValueError, "Separator should be at least one-byte string");
        return NULL;
    }
    if (raise_exception(r))
        return NULL;
    /* No separator starts before offset. */
    size_t offset = 0;
    ptrdiff_t isep;
    for (;;) {
        if (r->len >= offset && r->len - offset >= seplen) {
            isep = buf_find(r, sep, seplen, offset);
            if (isep >= 0)
                break;
            /* The last seplen - 1 bytes may start a separator. */
            offset = r->len + 1 - seplen;
            if (offset > (size_t)r->limit) {
                aio_err_restore(aio_exc_limit_overrun_new(
                    "Separator is not found, and chunk exceed the limit", (int64_t)offset));
                return NULL;
            }
        }
        /* The last chunk may have brought the separator with the EOF: the
         * buffer is searched first. */
        if (r->eof) {
            aio_exc *exc = aio_exc_incomplete_read_new(buf_start(r), r->len, -1);
            if (exc == NULL)
                return NULL;
            buf_consume(r, r->len);
            aio_err_restore(exc);
            return NULL;
        }
        if (wait_for_data(r, "readuntil") < 0)
            return NULL;
    }
    if ((size_t)isep > (size_t)r->limit) {
        aio_err_restore(aio_exc_limit_overrun_new(
            "Separator is found, but chunk is longer than limit", (int64_t)isep));
        return NULL;
    }
    aio_bytes *chunk = buf_take(r, (size_t)isep + seplen);
    if (chunk != NULL)
        maybe_resume_transport(r);
    return chunk;
}

aio_bytes *aio__stream_reader_readuntil(aio_stream_reader *reader, const void *separator,
                                        size_t separator_len)
{
    if (!in_task("aio_stream_reader_readuntil()"))
        return NULL;
    if (separator == NULL && separator_len == 0) {
        separator = "\n"; /* the default, b'\n' */
        separator_len = 1;
    } else if (separator == NULL) {
        aio_err_set(aio_TypeError, "object of type 'NoneType' has no len()");
        return NULL;
    }
    aio__incref(reader);
    aio_bytes *result = readuntil(reader, separator, separator_len);
    aio__decref(reader);
    return result;
}

static aio_bytes *readline(aio_stream_reader *r)
{
    aio_bytes *line = readuntil(r, "\n", 1);
    if (line != NULL)
        return line;
    if (aio_err_matches(aio_IncompleteReadError)) {
        aio_exc *exc = aio_err_fetch();
        aio_bytes *partial = aio_incref(aio_exc_incomplete_read_partial(exc));
        aio__decref(exc);
        return partial;
    }
    if (aio_err_matches(aio_LimitOverrunError)) {
        aio_exc *exc = aio_err_fetch();
        size_t consumed = (size_t)aio_exc_limit_overrun_consumed(exc);
        /* The line goes: up to its newline when there is one at consumed,
         * else the whole buffer. */
        if (consumed < r->len && buf_start(r)[consumed] == '\n')
            buf_consume(r, consumed + 1);
        else
            buf_consume(r, r->len);
        maybe_resume_transport(r);
        aio_exc *value_error = aio_exc_new(aio_ValueError, aio_exc_message(exc));
        aio_exc_set_context(value_error, exc);
        aio__decref(exc);
        aio_err_restore(value_error);
    }
    return NULL;
}

aio_bytes *aio__stream_reader_readline(aio_stream_reader *reader)
{
    if (!in_task("aio_stream_reader_readline()"))
        return NULL;
    aio__incref(reader);
    aio_bytes *result = readline(reader);
    aio__decref(reader);
    return result;
}
