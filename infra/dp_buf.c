#include "dp_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_buf_init(struct dp_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

static dp_rc buf_reserve(struct dp_buf *b, size_t extra)
{
    size_t need, alloc;
    char *p;

    if (extra > b->cap || b->len > b->cap - extra)
        return DP_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return DP_OK;
    alloc = b->alloc ? b->alloc : 64;
    while (alloc < need)
        alloc = alloc > (size_t)-1 / 2 ? need : alloc * 2;
    if (alloc > b->cap + 1)
        alloc = b->cap + 1;
    p = realloc(b->data, alloc);
    if (!p)
        return DP_ENOMEM;
    b->data = p;
    b->alloc = alloc;
    return DP_OK;
}

dp_rc dp_buf_append(struct dp_buf *b, const void *p, size_t n)
{
    dp_rc rc = buf_reserve(b, n);

    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return DP_OK;
}

dp_rc dp_buf_puts(struct dp_buf *b, const char *s)
{
    return dp_buf_append(b, s, strlen(s));
}

dp_rc dp_buf_appendf(struct dp_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    dp_rc rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DP_EINVAL;
    rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return DP_OK;
}

void dp_buf_consume(struct dp_buf *b, size_t n)
{
    if (n >= b->len) {
        dp_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void dp_buf_reset(struct dp_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *dp_buf_detach(struct dp_buf *b)
{
    char *p = b->data;

    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

void dp_buf_clear(struct dp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}
