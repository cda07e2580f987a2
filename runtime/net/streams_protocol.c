/* streams_protocol.c - asyncio.StreamReaderProtocol and FlowControlMixin
 * (streams.py, 3.11): a transport's data and end go to a StreamReader,
 * pause_writing()/resume_writing() gate StreamWriter.drain(), and a
 * server's client_connected_cb runs as a task with the connection's reader
 * and writer. */
#include <stddef.h>
#include <stdlib.h>

#include "exc.h"
#include "casyncio/log.h"
#include "loop.h"
#include "streams.h"
#include "task.h"

static aio__stream_protocol *proto_of(aio_protocol *self)
{
    return (aio__stream_protocol *)((char *)self - offsetof(aio__stream_protocol, base));
}

static void proto_dealloc(void *obj)
{
    aio__stream_protocol *p = obj;
    aio__waiters_clear(&p->drain_waiters);
    /* Its __del__: an error that closed the stream counts as seen. */
    if (p->closed != NULL && p->closed->state == AIO__FUTURE_FINISHED)
        p->closed->log_traceback = false;
    aio__decref(p->closed);
    aio__decref(p->reader);
    aio__decref(p->writer);
    aio__decref(p->task);
    aio__decref(p->transport);
    aio__decref(p->loop);
    free(p);
}

static int proto_repr(const void *obj, aio__strbuf *out)
{
    return aio__sb_appendf(out, "<asyncio.streams.StreamReaderProtocol object at %p>", obj);
}

AIO__DEFINE_TYPE(stream_protocol_type) = {"StreamReaderProtocol", proto_dealloc, proto_repr, 0};

/* --- FlowControlMixin ------------------------------------------------------------------ */

static void proto_pause_writing(aio_protocol *self)
{
    aio__stream_protocol *p = proto_of(self);
    p->paused = true;
    if (aio__loop_debug(p->loop)) {
        char *repr = aio_repr(p);
        aio_log(AIO_LOG_DEBUG, NULL, "%s pauses writing", repr ? repr : "?");
        free(repr);
    }
}
AIO_NAME_CALLBACK(proto_pause_writing);

static void proto_resume_writing(aio_protocol *self)
{
    aio__stream_protocol *p = proto_of(self);
    p->paused = false;
    if (aio__loop_debug(p->loop)) {
        char *repr = aio_repr(p);
        aio_log(AIO_LOG_DEBUG, NULL, "%s resumes writing", repr ? repr : "?");
        free(repr);
    }
    for (aio__waiter *w = p->drain_waiters.head; w != NULL; w = w->next) {
        if (!aio__waiter_done(w))
            aio__waiter_wake(w);
    }
}
AIO_NAME_CALLBACK(proto_resume_writing);

/* FlowControlMixin.connection_lost(exc): wakes the drains, if paused. */
static void flow_connection_lost(aio__stream_protocol *p, aio_exc *exc)
{
    p->connection_lost = true;
    if (!p->paused)
        return;
    for (aio__waiter *w = p->drain_waiters.head; w != NULL; w = w->next) {
        if (aio__waiter_done(w))
            continue;
        if (exc == NULL)
            aio__waiter_wake(w);
        else
            aio__future_finish_exception(&w->fut, exc);
    }
}

int aio__stream_protocol_drain_helper(aio__stream_protocol *p)
{
    if (p->connection_lost) {
        aio_err_set(aio_ConnectionResetError, "Connection lost");
        return -1;
    }
    if (!p->paused)
        return 0;
    aio__waiter *w = aio__waiter_append(&p->drain_waiters, p->loop);
    if (w == NULL)
        return -1;
    int rc = aio__waiter_await(w);
    aio__waiter_remove(w);
    aio__decref(w);
    return rc;
}

/* --- client_connected_cb, as a task ------------------------------------------------ */

/* What the task of one connection runs with; freed by its done callback,
 * which runs however the task ends. */
typedef struct client_run {
    aio_client_connected_cb cb;
    void *arg;
    aio_stream_reader *reader;
    aio_stream_writer *writer;
    aio_transport *transport;
    aio_loop *loop;
} client_run;

static void client_run_free(client_run *run)
{
    aio__decref(run->reader);
    aio__decref(run->writer);
    aio__decref(run->transport);
    aio__decref(run->loop);
    free(run);
}

static void *client_connected(void *arg)
{
    client_run *run = arg;
    return run->cb(run->reader, run->writer, run->arg);
}
AIO_NAME_CALLBACK(client_connected);

/* The task's done callback, by target version: up to 3.10 there is none
 * (a failure stays the task's, "Task exception was never retrieved"; this
 * one only frees what the task ran with); from 3.11 a failure is reported
 * and closes the transport, and a cancelled task raises CancelledError out
 * of the callback (task.exception(), which the loop reports) until 3.13,
 * which closes the transport instead. */
static void client_done(aio_future *task, void *arg)
{
    client_run *run = arg;
    int version = aio_loop_get_target_version(run->loop);
    if (version < AIO_PY(3, 11)) {
        client_run_free(run);
        return;
    }
    if (version >= AIO_PY(3, 13) && aio_future_cancelled(task) == 1) {
        aio_transport_close(run->transport);
        client_run_free(run);
        return;
    }
    aio_exc *exc = aio_future_exception(task);
    if (exc != NULL) {
        aio_loop_call_exception_handler(run->loop,
                                        &(aio_exception_context){
                                            .message = "Unhandled exception in client_connected_cb",
                                            .exception = exc,
                                            .transport = run->transport,
                                        });
        aio_transport_close(run->transport);
    }
    client_run_free(run);
}
AIO_NAME_CALLBACK(client_done);

static int start_client(aio__stream_protocol *p, aio_transport *transport)
{
    aio_stream_writer *writer = aio__stream_writer_make(transport, p, p->reader, p->loop);
    client_run *run = writer != NULL ? aio__calloc(1, sizeof *run) : NULL;
    if (run == NULL) {
        aio__decref(writer);
        return -1;
    }
    p->writer = writer;
    *run = (client_run){p->client_connected_cb, p->client_connected_cb_arg,
                        aio_incref(p->reader), aio_incref(writer), aio_incref(transport),
                        aio_incref(p->loop)};
    aio_task *task = aio_loop_create_task(p->loop, &(aio_loop_create_task_args){
                                                       .coro = client_connected, .coro_arg = run});
    if (task == NULL) {
        client_run_free(run);
        return -1;
    }
    if (aio_future_add_done_callback(
            task, &(aio_future_add_done_callback_args){.callback = client_done, .callback_arg = run}) <
        0) {
        aio_future_cancel(task, NULL);
        aio__decref(task);
        return -1; /* the task, cancelled, still holds run: left behind */
    }
    p->task = task;
    return 0;
}

/* --- The protocol's callbacks ------------------------------------------------------ */

static void proto_connection_made(aio_protocol *self, aio_transport *transport)
{
    aio__stream_protocol *p = proto_of(self);
    p->transport = aio_incref(transport);
    if (p->reader != NULL && aio__stream_reader_set_transport(p->reader, transport) < 0)
        return;
    if (p->client_connected_cb != NULL)
        start_client(p, transport);
}
AIO_NAME_CALLBACK(proto_connection_made);

/* Lets go of what the connection made the protocol hold. The writer it
 * made holds it back: until this runs, the two keep each other. */
static void drop_connection(aio__stream_protocol *p)
{
    aio_stream_reader *reader = p->reader;
    aio_stream_writer *writer = p->writer;
    aio_task *task = p->task;
    aio_transport *transport = p->transport;
    p->reader = NULL;
    p->writer = NULL;
    p->task = NULL;
    p->transport = NULL;
    aio__decref(reader);
    aio__decref(writer);
    aio__decref(task);
    aio__decref(transport);
}

static void proto_connection_lost(aio_protocol *self, aio_exc *exc)
{
    aio__stream_protocol *p = proto_of(self);
    if (p->reader != NULL) {
        if (exc == NULL)
            aio__stream_reader_feed_eof(p->reader);
        else
            aio__stream_reader_set_exception(p->reader, exc);
    }
    if (p->closed->state == AIO__FUTURE_PENDING) {
        if (exc == NULL)
            aio_future_set_result(p->closed, NULL);
        else
            aio_future_set_exception(p->closed, exc);
    }
    flow_connection_lost(p, exc);
    drop_connection(p);
}
AIO_NAME_CALLBACK(proto_connection_lost);

static void proto_data_received(aio_protocol *self, const void *data, size_t len)
{
    aio__stream_protocol *p = proto_of(self);
    if (p->reader != NULL)
        aio__stream_reader_feed_data(p->reader, data, len);
}
AIO_NAME_CALLBACK(proto_data_received);

/* Keeps the transport open: the reader's EOF is not the writer's. (Over
 * TLS asyncio returns False; TLS transports have yet to come.) */
static bool proto_eof_received(aio_protocol *self)
{
    aio__stream_protocol *p = proto_of(self);
    if (p->reader != NULL)
        aio__stream_reader_feed_eof(p->reader);
    return true;
}
AIO_NAME_CALLBACK(proto_eof_received);

/* The transport lets go: after connection_lost(), or without it when the
 * loop closed with the connection open (then what the connection held
 * goes too, or the writer and the protocol would keep each other). */
static void proto_release(aio_protocol *self)
{
    aio__stream_protocol *p = proto_of(self);
    aio__incref(p);
    drop_connection(p);
    aio__decref(p);
    aio__decref(p);
}
AIO_NAME_CALLBACK(proto_release);

aio__stream_protocol *aio__stream_protocol_of(aio_protocol *protocol)
{
    if (protocol == NULL || protocol->connection_made != proto_connection_made)
        return NULL;
    return proto_of(protocol);
}

aio_protocol *aio__stream_reader_protocol_new(const aio__stream_reader_protocol_args *args)
{
    aio_loop *loop = args->loop != NULL ? args->loop : aio__get_event_loop();
    if (loop == NULL)
        return NULL;
    aio__stream_protocol *p = aio__calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    aio__object_init(p, &stream_protocol_type);
    p->loop = aio_incref(loop);
    if ((p->closed = aio_loop_create_future(loop)) == NULL) {
        aio__decref(p);
        return NULL;
    }
    p->base = (aio_protocol){
        .connection_made = proto_connection_made,
        .connection_lost = proto_connection_lost,
        .pause_writing = proto_pause_writing,
        .resume_writing = proto_resume_writing,
        .data_received = proto_data_received,
        .eof_received = proto_eof_received,
        .release = proto_release,
    };
    p->reader = aio_incref(args->stream_reader);
    p->client_connected_cb = args->client_connected_cb;
    p->client_connected_cb_arg = args->client_connected_cb_arg;
    return &p->base;
}
