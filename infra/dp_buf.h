/* A growable byte buffer with a hard cap set at init. */
#ifndef DP_BUF_H
#define DP_BUF_H

#include "dp_err.h"

#include <stddef.h>

struct dp_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t alloc;
    size_t cap; /* appends past cap bytes fail with DP_ETOOBIG */
};

/* Starts empty with a cap; no allocation yet. */
void dp_buf_init(struct dp_buf *b, size_t cap);

/* Appends n bytes; DP_ETOOBIG past the cap (b unchanged), DP_ENOMEM. */
dp_rc dp_buf_append(struct dp_buf *b, const void *p, size_t n);

/* Appends a C string. */
dp_rc dp_buf_puts(struct dp_buf *b, const char *s);

/* Appends formatted text; DP_ETOOBIG past the cap (b unchanged). */
dp_rc dp_buf_appendf(struct dp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drops the first n bytes, keeping the rest (for line splitters). */
void dp_buf_consume(struct dp_buf *b, size_t n);

/* Empties the buffer, keeping its memory. */
void dp_buf_reset(struct dp_buf *b);

/* Hands the bytes to the caller (free() them) and empties b; NULL if nothing was added. */
char *dp_buf_detach(struct dp_buf *b);

/* Frees the memory; b can be reused after dp_buf_init. */
void dp_buf_clear(struct dp_buf *b);

#endif
