/* strbuf.h - a growing string, for reprs and messages. Internal. */
#ifndef CASYNCIO_RUNTIME_STRBUF_H
#define CASYNCIO_RUNTIME_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "casyncio/base.h"

typedef struct aio__strbuf {
    char *data;   /* NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
    int failed;   /* an allocation failed; MemoryError is set */
} aio__strbuf;

#define AIO__STRBUF_INIT {NULL, 0, 0, 0}

/* Each returns 0, or -1 (and marks the buffer failed) with MemoryError set. */
int aio__sb_append(aio__strbuf *sb, const char *s);
int aio__sb_append_n(aio__strbuf *sb, const char *s, size_t n);
int aio__sb_appendf(aio__strbuf *sb, const char *fmt, ...) AIO_PRINTF(2, 3);
int aio__sb_vappendf(aio__strbuf *sb, const char *fmt, va_list ap);
/* Appends s quoted the way Python's repr(str) quotes it; "None" for NULL. */
int aio__sb_append_pyrepr(aio__strbuf *sb, const char *s);
/* Appends data[:len] the way Python's repr(bytes) prints it: b'...'. */
int aio__sb_append_bytes_repr(aio__strbuf *sb, const void *data, size_t len);
/* Appends a float the way Python's repr(float) prints it. */
int aio__sb_append_float(aio__strbuf *sb, double value);
/* Hands the string over (never NULL unless failed; "" when empty). */
char *aio__sb_finish(aio__strbuf *sb);
void aio__sb_free(aio__strbuf *sb);

#endif /* CASYNCIO_RUNTIME_STRBUF_H */
