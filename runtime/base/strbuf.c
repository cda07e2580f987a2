/* strbuf.c - a growing string, for reprs and messages. */
#include "strbuf.h"

#include <stdbool.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casyncio/exceptions.h"

static int reserve(aio__strbuf *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (sb->len + extra + 1 <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *data = realloc(sb->data, cap);
    if (data == NULL) {
        sb->failed = 1;
        aio_err_set(aio_MemoryError, NULL);
        return -1;
    }
    sb->data = data;
    sb->cap = cap;
    return 0;
}

int aio__sb_append_n(aio__strbuf *sb, const char *s, size_t n)
{
    if (reserve(sb, n) < 0)
        return -1;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return 0;
}

int aio__sb_append(aio__strbuf *sb, const char *s)
{
    return aio__sb_append_n(sb, s, strlen(s));
}

int aio__sb_vappendf(aio__strbuf *sb, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || reserve(sb, (size_t)n) < 0)
        return -1;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int aio__sb_appendf(aio__strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = aio__sb_vappendf(sb, fmt, ap);
    va_end(ap);
    return rc;
}

int aio__sb_append_pyrepr(aio__strbuf *sb, const char *s)
{
    if (s == NULL)
        return aio__sb_append(sb, "None");
    /* Python prefers single quotes, and uses double quotes when the text
     * holds a single quote and no double quote. */
    char quote = '\'';
    if (strchr(s, '\'') != NULL && strchr(s, '"') == NULL)
        quote = '"';
    if (aio__sb_append_n(sb, &quote, 1) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == (unsigned char)quote || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (*p == '\r')
            snprintf(esc, sizeof esc, "\\r");
        else if (*p == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", *p);
        else {
            esc[0] = (char)*p;
            esc[1] = '\0';
        }
        if (aio__sb_append(sb, esc) < 0)
            return -1;
    }
    return aio__sb_append_n(sb, &quote, 1);
}

int aio__sb_append_bytes_repr(aio__strbuf *sb, const void *data, size_t len)
{
    /* repr(bytes): b'...', the same quoting as str, every byte outside
     * printable ASCII as \xNN. */
    const unsigned char *b = data;
    bool single = false, dbl = false;
    for (size_t i = 0; i < len; i++) {
        single |= b[i] == '\'';
        dbl |= b[i] == '"';
    }
    char quote = single && !dbl ? '"' : '\'';
    char head[2] = {'b', quote};
    if (aio__sb_append_n(sb, head, 2) < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char esc[8];
        if (b[i] == (unsigned char)quote || b[i] == '\\')
            snprintf(esc, sizeof esc, "\\%c", b[i]);
        else if (b[i] == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (b[i] == '\r')
            snprintf(esc, sizeof esc, "\\r");
        else if (b[i] == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (b[i] < 0x20 || b[i] >= 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", b[i]);
        else {
            esc[0] = (char)b[i];
            esc[1] = '\0';
        }
        if (aio__sb_append(sb, esc) < 0)
            return -1;
    }
    return aio__sb_append_n(sb, &quote, 1);
}

int aio__sb_append_float(aio__strbuf *sb, double value)
{
    /* repr(float): the shortest digits that read back as the same double,
     * positional when the exponent is in [-4, 16), else d.ddde+XX
     * (100.0 -> '100.0', 1e16 -> '1e+16', 1e-05 -> '1e-05'). */
    if (isnan(value))
        return aio__sb_append(sb, "nan");
    if (isinf(value))
        return aio__sb_append(sb, value < 0 ? "-inf" : "inf");
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, value);
        if (strtod(text, NULL) == value)
            break;
    }
    char *e = strchr(text, 'e');
    int exp10 = atoi(e + 1);
    if (exp10 < -4 || exp10 >= 16)
        return aio__sb_append(sb, text);
    *e = '\0';
    char digits[24];
    size_t n = 0;
    const char *p = text;
    bool negative = *p == '-';
    if (negative)
        p++;
    for (; *p; p++)
        if (*p != '.')
            digits[n++] = *p;
    char out[48];
    size_t len = 0;
    if (negative)
        out[len++] = '-';
    if (exp10 < 0) {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = -1; i > exp10; i--)
            out[len++] = '0';
        memcpy(out + len, digits, n);
        len += n;
    } else {
        size_t point = (size_t)exp10 + 1;
        for (size_t i = 0; i < point; i++)
            out[len++] = i < n ? digits[i] : '0';
        out[len++] = '.';
        if (n > point) {
            memcpy(out + len, digits + point, n - point);
            len += n - point;
        } else {
            out[len++] = '0';
        }
    }
    out[len] = '\0';
    return aio__sb_append(sb, out);
}

char *aio__sb_finish(aio__strbuf *sb)
{
    if (sb->failed)
        return NULL;
    if (sb->data == NULL && reserve(sb, 0) < 0)
        return NULL;
    sb->data[sb->len] = '\0';
    char *out = sb->data;
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return out;
}

void aio__sb_free(aio__strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}
