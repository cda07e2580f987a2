/* transport.h - what every transport shares: BaseTransport's object, the
 * protocol it calls, _FlowControlMixin, and the transports' part of a loop
 * (which descriptors transports own). Internal.
 *
 * A transport is a casyncio object whose first member is struct
 * aio_transport; its class (aio__transport_class) holds the methods that
 * differ from one kind to another, NULL where the Python class has no such
 * method (AttributeError, as Python gives).
 */
#ifndef CASYNCIO_RUNTIME_TRANSPORT_H
#define CASYNCIO_RUNTIME_TRANSPORT_H

#include "casyncio/api.h"
#include "impl.h"
#include "loop.h"

typedef struct aio__transport_class aio__transport_class;

/* constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES: writes after the connection
 * is lost are dropped, and logged from this many on. */
#define AIO__LOG_THRESHOLD_FOR_CONNLOST_WRITES 5

struct aio_transport {
    aio__object ob;
    const aio__transport_class *cls;
    aio_loop *loop;            /* a reference, until the connection is lost */
    aio_protocol *protocol;    /* held until released (its release()) */
    bool protocol_connected;   /* connection_lost() goes to it */
    bool closing;              /* close() or abort() was called */
    int conn_lost;             /* connection_lost() scheduled, and writes since */
    /* _FlowControlMixin */
    int64_t high_water;
    int64_t low_water;
    bool protocol_paused;
};

struct aio__transport_class {
    const char *name;          /* the Python class: "_SelectorSocketTransport" */
    int (*close)(aio_transport *t);
    int (*abort)(aio_transport *t);
    int (*is_reading)(aio_transport *t);
    int (*pause_reading)(aio_transport *t);
    int (*resume_reading)(aio_transport *t);
    int (*write)(aio_transport *t, const void *data, size_t len);
    /* 3.12+: a writelines() of the class's own (the socket transport's),
     * whose checks come first: 0, or -1 with its RuntimeError. NULL:
     * WriteTransport.writelines() at every version. */
    int (*writelines_check)(aio_transport *t);
    /* DatagramTransport.sendto(data, addr); addr NULL for None. */
    int (*sendto)(aio_transport *t, const void *data, size_t len, const aio_address *addr);
    int (*write_eof)(aio_transport *t);
    int (*can_write_eof)(aio_transport *t);
    int64_t (*get_write_buffer_size)(aio_transport *t);
    /* After set_protocol() has set t->protocol: what depends on it. */
    void (*protocol_set)(aio_transport *t);
    /* The class's own keys of get_extra_info(); NULL when it has not the
     * key (found false) or when its value is None (found true). */
    const void *(*extra_info)(aio_transport *t, const char *name, bool *found);
    /* Python does not register it in loop._transports: add_reader() and
     * friends accept its descriptor (they replace its reader or writer). */
    bool unguarded_fd;
    /* The loop closes while the transport is open: what its __del__ would
     * do (ResourceWarning, the descriptor closed), and let go of the loop
     * and the protocol (released), without connection_lost(). */
    void (*orphan)(aio_transport *t);
};

/* What the transport calls in the iteration after its start, once
 * connection_made() has run and reading has begun: asyncio's
 * `call_soon(futures._set_result_unless_cancelled, waiter, None)`. The
 * transport schedules callback(arg), taking over one reference the caller
 * gave it: callback drops it when it runs, release() when it never does. */
typedef struct aio__transport_waiter {
    aio_callback callback;
    void *arg;
    void (*release)(void *arg);
} aio__transport_waiter;

/* Sets up the common part: a new transport object of `type` (the caller
 * allocated `t`, which starts with struct aio_transport), with its loop
 * and its protocol (taken over), and the default write buffer limits. */
AIO_INTERNAL void aio__transport_init(aio_transport *t, const aio__type *type,
                                      const aio__transport_class *cls, aio_loop *loop,
                                      aio_protocol *protocol);
/* Drops what the common part holds (the loop; the protocol, released). */
AIO_INTERNAL void aio__transport_clear(aio_transport *t);
/* Lets go of the protocol: its release() (errors dropped). */
AIO_INTERNAL void aio__protocol_release(aio_protocol *protocol);

/* The loop's hooks of a transport on a descriptor. Each holds a reference
 * to t: call_soon(fn, t) and the reader or writer give it to fn, which
 * drops it when it runs (the loop drops it when fn never runs). `*flag`
 * says whether t's reader (writer) is registered; the add functions do
 * nothing when it is, the remove functions nothing when it is not. -1 with
 * the exception set (nothing registered) on failure. */
AIO_INTERNAL int aio__transport_call_soon(aio_transport *t, aio_callback fn);
AIO_INTERNAL int aio__transport_add_reader(aio_transport *t, int fd, bool *flag, aio_callback fn);
AIO_INTERNAL int aio__transport_add_writer(aio_transport *t, int fd, bool *flag, aio_callback fn);
AIO_INTERNAL void aio__transport_remove_reader(aio_transport *t, int fd, bool *flag);
AIO_INTERNAL void aio__transport_remove_writer(aio_transport *t, int fd, bool *flag);

/* _FlowControlMixin: after the write buffer grew or shrank. */
AIO_INTERNAL void aio__transport_maybe_pause_protocol(aio_transport *t);
AIO_INTERNAL void aio__transport_maybe_resume_protocol(aio_transport *t);

/* Reports an error of a transport to the loop's exception handler with
 * 'transport' and 'protocol' keys; takes exc over. */
AIO_INTERNAL void aio__transport_report(aio_transport *t, const char *message, aio_exc *exc);

/* Whether _fatal_error() only logs exc (in debug mode) instead of
 * reporting it: any OSError from 3.7; in 3.6 only BrokenPipeError,
 * ConnectionResetError and ConnectionAbortedError (_FATAL_ERROR_IGNORE). */
AIO_INTERNAL bool aio__transport_error_is_quiet(aio_transport *t, aio_exc *exc);

/* The transports' part of a loop: which transport owns which descriptor
 * (add_reader() and friends refuse those), a buffer reads go into, and the
 * transports closed with the loop. */
AIO_INTERNAL int aio__transports_attach(aio_loop *loop, int fd, aio_transport *t);
/* 3.12's _make_socket_transport() and _make_datagram_transport() first
 * refuse a descriptor another transport still uses (RuntimeError "File
 * descriptor N is used by transport ..."); earlier versions take it. 0 or
 * -1. */
AIO_INTERNAL int aio__transports_check_new(aio_loop *loop, int fd);
AIO_INTERNAL void aio__transports_detach(aio_loop *loop, int fd, aio_transport *t);
/* The loop's read buffer (AIO__READ_SIZE bytes), made at the first read;
 * NULL with MemoryError. Valid until the next read of any transport. */
#define AIO__READ_SIZE (256 * 1024)
AIO_INTERNAL void *aio__transports_read_buffer(aio_loop *loop);

#endif /* CASYNCIO_RUNTIME_TRANSPORT_H */
