/* write_buffer.c - a transport's write buffer (write_buffer.h). */
#include "write_buffer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exc.h"
#include "object.h"

struct aio__wbuf_chunk {
    aio__wbuf_chunk *next;
    size_t off;   /* written already */
    size_t len;   /* filled */
    size_t cap;
    char data[];
};

#define CHUNK_MIN (16 * 1024)

void aio__wbuf_clear(aio__write_buffer *b)
{
    for (aio__wbuf_chunk *c = b->head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    b->head = b->tail = NULL;
    b->size = 0;
}

int aio__wbuf_append(aio__write_buffer *b, const void *data, size_t len)
{
    aio__wbuf_chunk *c = b->tail;
    if (c != NULL && c->cap - c->len >= len) {
        memcpy(c->data + c->len, data, len);
        c->len += len;
        b->size += len;
        return 0;
    }
    size_t cap = len > CHUNK_MIN ? len : CHUNK_MIN;
    if (cap > SIZE_MAX - sizeof(aio__wbuf_chunk)) {
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    c = aio__malloc(sizeof(aio__wbuf_chunk) + cap);
    if (c == NULL)
        return -1;
    c->next = NULL;
    c->off = 0;
    c->len = len;
    c->cap = cap;
    memcpy(c->data, data, len);
    if (b->tail != NULL)
        b->tail->next = c;
    else
        b->head = c;
    b->tail = c;
    b->size += len;
    return 0;
}

void aio__wbuf_consume(aio__write_buffer *b, size_t n)
{
    b->size -= n;
    while (n > 0) {
        aio__wbuf_chunk *c = b->head;
        size_t left = c->len - c->off;
        if (n < left) {
            c->off += n;
            return;
        }
        n -= left;
        b->head = c->next;
        if (b->head == NULL)
            b->tail = NULL;
        free(c);
    }
}

int aio__wbuf_iov(const aio__write_buffer *b, struct iovec *iov)
{
    int n = 0;
    for (aio__wbuf_chunk *c = b->head; c != NULL && n < AIO__WBUF_IOV_MAX; c = c->next) {
        iov[n].iov_base = c->data + c->off;
        iov[n].iov_len = c->len - c->off;
        n++;
    }
    return n;
}
