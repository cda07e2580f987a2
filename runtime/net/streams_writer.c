/* streams_writer.c - asyncio.StreamWriter (streams.py, 3.11): a transport's
 * write side, with drain() for flow control and wait_closed(). */
#include <stdlib.h>

#include "casyncio/log.h"
#include "exc.h"
#include "loop.h"
#include "streams.h"
#include "task.h"

static void writer_dealloc(void *obj)
{
    aio_stream_writer *w = obj;
    aio_exc *pending = aio_err_fetch();
    /* Its __del__: a writer dropped with its transport open closes it. */
    if (w->transport != NULL && aio_transport_is_closing(w->transport) == 0) {
        if (aio_loop_is_closed(w->loop) == 1) {
            if (aio__dev_mode())
                aio_log(AIO_LOG_WARNING, NULL, "ResourceWarning: loop is closed");
        } else {
            aio__incref(w); /* alive while its repr is made */
            aio_transport_close(w->transport);
            aio__resource_warning("unclosed %s", w);
            w->ob.refcnt = 0;
        }
    }
    aio_err_restore(pending);
    aio__decref(w->transport);
    aio__decref(w->protocol);
    aio__decref(w->reader);
    aio__decref(w->loop);
    free(w);
}

/* <StreamWriter transport=<...> reader=<StreamReader ...>> */
static int writer_repr(const void *obj, aio__strbuf *out)
{
    const aio_stream_writer *w = obj;
    char *transport = aio_repr(w->transport);
    aio__sb_appendf(out, "<StreamWriter transport=%s", transport ? transport : "?");
    free(transport);
    if (w->reader != NULL) {
        char *reader = aio_repr(w->reader);
        aio__sb_appendf(out, " reader=%s", reader ? reader : "?");
        free(reader);
    }
    return aio__sb_append(out, ">");
}

AIO__DEFINE_TYPE(stream_writer_type) = {"StreamWriter", writer_dealloc, writer_repr, 0};

aio_stream_writer *aio__stream_writer_make(aio_transport *t, aio__stream_protocol *p,
                                           aio_stream_reader *reader, aio_loop *loop)
{
    aio_stream_writer *w = aio__calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    aio__object_init(w, &stream_writer_type);
    w->transport = aio_incref(t);
    w->protocol = aio_incref(p);
    w->reader = aio_incref(reader);
    w->loop = aio_incref(loop);
    return w;
}

aio_stream_writer *aio__stream_writer_new(aio_transport *transport, aio_protocol *protocol,
                                          aio_stream_reader *reader, aio_loop *loop)
{
    if (transport == NULL) {
        aio_err_set(aio_TypeError, "StreamWriter() argument 'transport' must not be None");
        return NULL;
    }
    aio__stream_protocol *p = aio__stream_protocol_of(protocol);
    if (p == NULL) {
        aio_err_set(aio_TypeError, "protocol must be a StreamReaderProtocol");
        return NULL;
    }
    if (loop == NULL) {
        aio_err_set(aio_AttributeError, "'NoneType' object has no attribute 'create_future'");
        return NULL;
    }
    return aio__stream_writer_make(transport, p, reader, loop);
}

aio_transport *aio__stream_writer_transport(aio_stream_writer *writer)
{
    return writer->transport;
}

int aio__stream_writer_write(aio_stream_writer *writer, const void *data, size_t data_len)
{
    return aio_transport_write(writer->transport, data, data_len);
}

int aio__stream_writer_writelines(aio_stream_writer *writer, const aio_bytes_view *data,
                                  size_t data_len)
{
    return aio_transport_writelines(writer->transport, data, data_len);
}

int aio__stream_writer_close(aio_stream_writer *writer)
{
    return aio_transport_close(writer->transport);
}

int aio__stream_writer_can_write_eof(aio_stream_writer *writer)
{
    return aio_transport_can_write_eof(writer->transport);
}

int aio__stream_writer_write_eof(aio_stream_writer *writer)
{
    return aio_transport_write_eof(writer->transport);
}

int aio__stream_writer_is_closing(aio_stream_writer *writer)
{
    return aio_transport_is_closing(writer->transport);
}

const void *aio__stream_writer_get_extra_info(aio_stream_writer *writer,
                                              const aio__stream_writer_get_extra_info_args *args)
{
    return aio_transport_get_extra_info(
        writer->transport,
        &(aio_transport_get_extra_info_args){.name = args->name, .default_ = args->default_});
}

static int drain(aio_stream_writer *w)
{
    if (w->reader != NULL && w->reader->exception != NULL) {
        aio_err_set_exc(w->reader->exception);
        return -1;
    }
    /* On a closing transport, one pass of the loop first, so that
     * connection_lost() can come and drain() report it: a loop of
     * write(); await drain() would otherwise never see the end. */
    int closing = aio_transport_is_closing(w->transport);
    if (closing < 0 || (closing == 1 && aio_sleep(0) < 0))
        return -1;
    return aio__stream_protocol_drain_helper(w->protocol);
}

int aio__stream_writer_drain(aio_stream_writer *writer)
{
    if (aio__task_running("aio_stream_writer_drain()") == NULL)
        return -1;
    aio__incref(writer);
    int rc = drain(writer);
    aio__decref(writer);
    return rc;
}

int aio__stream_writer_wait_closed(aio_stream_writer *writer)
{
    if (aio__task_running("aio_stream_writer_wait_closed()") == NULL)
        return -1;
    aio__incref(writer);
    aio_future *closed = aio_incref(writer->protocol->closed);
    int rc = aio_await(closed) == NULL && aio_err_occurred() ? -1 : 0;
    aio__decref(closed);
    aio__decref(writer);
    return rc;
}
