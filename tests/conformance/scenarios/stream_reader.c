/* stream_reader.c - the C twin of stream_reader.py: a StreamReader fed by
 * hand and read from tasks (see the Python script for what it covers). */
#include "conformance.h"

/* Prints "<what> Type: message" for the current exception (cleared), as
 * the script's raised(). */
static void raised(const char *what)
{
    aio_exc *e = aio_err_fetch();
    CHECK(e != NULL);
    printf("%s %s\n", what, exc_line(e));
    aio_decref(e);
}

/* Prints "<what> b'...'" for a bytes result (taking it over), or the
 * exception raised. */
static void show_bytes(const char *what, aio_bytes *b)
{
    if (b == NULL) {
        raised(what);
        return;
    }
    char *repr = aio_repr(b);
    printf("%s %s\n", what, repr);
    free(repr);
    aio_decref(b);
}

static void show_repr(aio_stream_reader *r)
{
    char *repr = aio_repr(r);
    printf("repr %s\n", repr);
    free(repr);
}

/* The repr with every " at 0x..." cut, as re.sub(r" at 0x[0-9a-f]+", "", ...). */
static bool lower_hex(char c)
{
    return c != '\0' && strchr("0123456789abcdef", c) != NULL;
}

static void show_repr_no_addresses(aio_stream_reader *r)
{
    char *repr = aio_repr(r), *to = repr;
    for (const char *from = repr; *from != '\0';) {
        if (strncmp(from, " at 0x", 6) == 0 && lower_hex(from[6])) {
            from += 6;
            while (lower_hex(*from))
                from++;
            continue;
        }
        *to++ = *from++;
    }
    *to = '\0';
    printf("repr %s\n", repr);
    free(repr);
}

/* The partial and expected of the IncompleteReadError raised (cleared). */
static void show_incomplete(const char *what)
{
    aio_exc *e = aio_err_fetch();
    CHECK(aio_exc_isinstance(e, aio_IncompleteReadError));
    printf("%s %s\n", what, exc_line(e));
    char *partial = aio_repr(aio_exc_incomplete_read_partial(e));
    printf("partial %s\n", partial);
    free(partial);
    if (aio_exc_incomplete_read_expected(e) < 0)
        printf("expected None\n");
    else
        printf("expected %lld\n", (long long)aio_exc_incomplete_read_expected(e));
    aio_decref(e);
}

static void show_overrun(const char *what)
{
    aio_exc *e = aio_err_fetch();
    CHECK(aio_exc_isinstance(e, aio_LimitOverrunError));
    printf("%s %s\n", what, exc_line(e));
    printf("consumed %lld\n", (long long)aio_exc_limit_overrun_consumed(e));
    aio_decref(e);
}

static void feed(aio_stream_reader *r, const char *s)
{
    CHECK(aio_stream_reader_feed_data(r, s, strlen(s)) == 0);
}

typedef enum op { READ, READLINE, READEXACTLY } op;

typedef struct job {
    const char *name;
    aio_stream_reader *r;
    op op;
    int n;
} job;

static void *reader_task(void *arg)
{
    job *j = arg;
    aio_bytes *b = j->op == READ        ? aio_stream_reader_read(j->r, j->n)
                   : j->op == READLINE ? aio_stream_reader_readline(j->r)
                                       : aio_stream_reader_readexactly(j->r, j->n);
    if (b == NULL) {
        aio_exc *e = aio_err_fetch();
        printf("%s %s\n", j->name, exc_line(e));
        aio_decref(e);
        return NULL;
    }
    show_bytes(j->name, b);
    return NULL;
}
AIO_NAME_CALLBACK(reader_task);

static aio_task *spawn(job *j)
{
    aio_task *t = aio_loop_create_task(aio_get_running_loop(),
                                       &(aio_loop_create_task_args){.coro = reader_task,
                                                                    .coro_arg = j});
    CHECK(t != NULL);
    return t;
}

static void *main_coro(void *arg)
{
    (void)arg;
    aio_loop *loop = aio_get_running_loop();
    aio_stream_reader *r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    CHECK(r != NULL);
    feed(r, "hello\nworld");
    show_bytes("readline", aio_stream_reader_readline(r));
    show_bytes("read(3)", aio_stream_reader_read(r, 3));
    show_bytes("read(0)", aio_stream_reader_read(r, 0));
    printf("at_eof %s\n", py_bool(aio_stream_reader_at_eof(r)));
    show_repr(r);
    feed(r, "!\nmore");
    CHECK(aio_stream_reader_feed_eof(r) == 0);
    show_bytes("read(-1)", aio_stream_reader_read(r, -1));
    printf("at_eof %s\n", py_bool(aio_stream_reader_at_eof(r)));
    show_bytes("read(5) at eof", aio_stream_reader_read(r, 5));
    show_bytes("readline at eof", aio_stream_reader_readline(r));
    show_repr(r);
    CHECK(aio_stream_reader_feed_data(r, "x", 1) < 0);
    raised("feed_data after eof");
    aio_decref(r);

    r = aio_stream_reader_new(&(aio_stream_reader_args){.limit = 10, .loop = loop});
    feed(r, "0123456789abcdef");
    CHECK(aio_stream_reader_readuntil(r, "\n", 1) == NULL);
    show_overrun("readuntil");
    feed(r, "xyz\n");
    CHECK(aio_stream_reader_readuntil(r, NULL, 0) == NULL);
    show_overrun("readuntil");
    show_repr(r);
    CHECK(aio_stream_reader_readline(r) == NULL);
    aio_exc *e = aio_err_fetch();
    printf("readline %s\n", exc_line(e));
    printf("context %s\n", aio_exc_type_of(aio_exc_context(e))->name);
    aio_decref(e);
    show_repr(r);
    feed(r, "0123456789ABCDEFGH");
    CHECK(aio_stream_reader_readline(r) == NULL);
    raised("readline");
    feed(r, "ab\r\ncd\r");
    show_bytes("readuntil crlf", aio_stream_reader_readuntil(r, "\r\n", 2));
    feed(r, "\nef");
    show_bytes("readuntil crlf", aio_stream_reader_readuntil(r, "\r\n", 2));
    CHECK(aio_stream_reader_feed_eof(r) == 0);
    CHECK(aio_stream_reader_readuntil(r, "\r\n", 2) == NULL);
    show_incomplete("readuntil at eof");
    CHECK(aio_stream_reader_readuntil(r, "", 0) == NULL);
    raised("readuntil empty");
    aio_decref(r);

    r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    feed(r, "abcdefgh");
    show_bytes("readexactly(3)", aio_stream_reader_readexactly(r, 3));
    show_bytes("readexactly(0)", aio_stream_reader_readexactly(r, 0));
    show_bytes("readexactly(-1)", aio_stream_reader_readexactly(r, -1));
    CHECK(aio_stream_reader_feed_eof(r) == 0);
    CHECK(aio_stream_reader_readexactly(r, 10) == NULL);
    show_incomplete("readexactly(10)");
    printf("at_eof %s\n", py_bool(aio_stream_reader_at_eof(r)));
    aio_decref(r);

    /* A read waits for data; a second one is refused meanwhile. */
    r = aio_stream_reader_new(&(aio_stream_reader_args){.loop = loop});
    job j1 = {"read waiting", r, READ, 100}, j2 = {"second read", r, READ, 100},
        j3 = {"second readline", r, READLINE, 0}, j4 = {"second readexactly", r, READEXACTLY, 2};
    aio_task *ts[4] = {spawn(&j1)};
    CHECK(aio_sleep(0) == 0);
    /* 3.8 and 3.9 show the waiter's callback with its address: cut it */
    show_repr_no_addresses(r);
    ts[1] = spawn(&j2);
    ts[2] = spawn(&j3);
    ts[3] = spawn(&j4);
    CHECK(aio_sleep(0) == 0);
    feed(r, "data");
    aio_future *all = aio_gather(ts, 4, NULL);
    CHECK(aio_await(all) != NULL);
    aio_decref(all);
    for (int i = 0; i < 4; i++)
        aio_decref(ts[i]);

    /* A waiting read cancelled; the reader still works. */
    job j5 = {"readexactly cancelled", r, READEXACTLY, 5};
    aio_task *t = spawn(&j5);
    CHECK(aio_sleep(0) == 0);
    aio_task_cancel(t, NULL);
    aio_await(t);
    aio_decref(t);
    feed(r, "12345");
    show_bytes("readexactly after", aio_stream_reader_readexactly(r, 5));

    /* set_exception wakes a waiting read; later reads raise it too. */
    job j6 = {"readline woken", r, READLINE, 0};
    t = spawn(&j6);
    CHECK(aio_sleep(0) == 0);
    aio_exc *gone = aio_exc_new(aio_ConnectionResetError, "gone");
    CHECK(aio_stream_reader_set_exception(r, gone) == 0);
    aio_decref(gone);
    aio_await(t);
    aio_decref(t);
    CHECK(aio_stream_reader_read(r, 1) == NULL);
    raised("read after exception");
    char *repr = aio_repr(aio_stream_reader_exception(r));
    printf("exception %s\n", repr);
    free(repr);
    CHECK(aio_stream_reader_readexactly(r, -1) == NULL);
    raised("readexactly(-1) first");
    aio_decref(r);

    CHECK(aio_stream_reader_new(&(aio_stream_reader_args){.limit = AIO_ZERO, .loop = loop}) ==
          NULL);
    raised("limit=0");
    CHECK(aio_stream_reader_new(&(aio_stream_reader_args){.limit = -1, .loop = loop}) == NULL);
    raised("limit=-1");
    r = aio_stream_reader_new(&(aio_stream_reader_args){.limit = 5, .loop = loop});
    show_repr(r);
    aio_decref(r);
    return NULL;
}
AIO_NAME_CALLBACK(main_coro);

int main(void)
{
    aio_run(main_coro, NULL, NULL);
    CHECK(aio_err_occurred() == NULL);
    return 0;
}
