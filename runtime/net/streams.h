/* streams.h - what the streams files share (streams.py of 3.11): the
 * StreamReader, the StreamReaderProtocol between a transport and a reader
 * (with FlowControlMixin's drain), and the StreamWriter. Internal.
 *
 * Who holds whom: the protocol holds its reader until connection_lost()
 * (asyncio holds it weakly; here the transport's release() of the protocol
 * ends the cycle), the reader holds its transport, the writer holds the
 * transport, the protocol and the reader. The transport holds the protocol
 * until its release(), which drops that reference.
 */
#ifndef CASYNCIO_RUNTIME_STREAMS_H
#define CASYNCIO_RUNTIME_STREAMS_H

#include "casyncio/api.h"
#include "casyncio/net.h"
#include "casyncio/tasks.h"
#include "impl.h"
#include "waiters.h"

struct aio_stream_reader {
    aio__object ob;
    aio_loop *loop;              /* a reference */
    int limit;
    /* The buffer (asyncio's bytearray): len bytes from data + head. */
    unsigned char *data;
    size_t head, len, cap;
    bool eof;
    bool paused;                 /* it paused the transport's reading */
    aio_future *waiter;          /* the waiting read's future (that read
                                    owns it), or NULL */
    /* The last reads' futures, done, kept to wait on again (references,
     * or NULL): two, since the handle that woke a read still holds its
     * future while the task reads again. */
    aio_future *spare_waiters[2];
    aio_exc *exception;          /* a reference, or NULL */
    aio_transport *transport;    /* a reference, or NULL */
};

typedef struct aio__stream_protocol {
    aio__object ob;
    aio_protocol base;           /* what the transport calls */
    aio_loop *loop;              /* a reference */
    /* FlowControlMixin */
    bool paused;
    bool connection_lost;
    aio__waiters drain_waiters;
    /* StreamReaderProtocol */
    aio_stream_reader *reader;   /* until connection_lost() */
    aio_client_connected_cb client_connected_cb;
    void *client_connected_cb_arg;
    aio_stream_writer *writer;   /* a server's connection: until connection_lost() */
    aio_task *task;              /* client_connected_cb's, until connection_lost() */
    aio_transport *transport;    /* until connection_lost() */
    aio_future *closed;          /* wait_closed()'s */
} aio__stream_protocol;

struct aio_stream_writer {
    aio__object ob;
    aio_transport *transport;    /* references, all four */
    aio__stream_protocol *protocol;
    aio_stream_reader *reader;   /* or NULL */
    aio_loop *loop;
};

/* The StreamReaderProtocol a protocol pointer is, or NULL when it is not
 * one. */
AIO_INTERNAL aio__stream_protocol *aio__stream_protocol_of(aio_protocol *protocol);
/* FlowControlMixin._drain_helper(): 0, or -1 with the exception set. */
AIO_INTERNAL int aio__stream_protocol_drain_helper(aio__stream_protocol *p);
/* StreamReader.set_transport(): AssertionError when it has one. */
AIO_INTERNAL int aio__stream_reader_set_transport(aio_stream_reader *reader, aio_transport *t);
/* The writer of a connection: as StreamWriter(transport, protocol, reader,
 * loop), without the argument checks. */
AIO_INTERNAL aio_stream_writer *aio__stream_writer_make(aio_transport *t, aio__stream_protocol *p,
                                                        aio_stream_reader *reader, aio_loop *loop);

#endif /* CASYNCIO_RUNTIME_STREAMS_H */
