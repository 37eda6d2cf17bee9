#include "dp_logframe.h"

#include <string.h>

static const char *const stream_names[] = {"stdin", "stdout", "stderr"};

void dp_logframe_init(struct dp_logframe *f)
{
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 3; i++)
        dp_buf_init(&f->line[i], DP_LOGFRAME_LINE_MAX);
}

void dp_logframe_clear(struct dp_logframe *f)
{
    for (int i = 0; i < 3; i++)
        dp_buf_clear(&f->line[i]);
}

static dp_rc emit(struct dp_logframe *f, int stream, dp_logframe_fn fn, void *ud)
{
    struct dp_buf *b = &f->line[stream];
    size_t len = b->len;
    dp_rc rc;

    if (len && b->data[len - 1] == '\r')
        len--;
    rc = fn(ud, stream_names[stream], b->data ? b->data : "", len);
    dp_buf_reset(b);
    return rc;
}

/* Appends payload bytes to the stream's line, emitting at each newline and when full. */
static dp_rc payload(struct dp_logframe *f, const char *p, size_t n, dp_logframe_fn fn, void *ud)
{
    struct dp_buf *b = &f->line[f->stream];

    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        size_t room = DP_LOGFRAME_LINE_MAX - b->len;
        dp_rc rc;

        if (take > room)
            take = room;
        if (dp_buf_append(b, p, take))
            return DP_ENOMEM;
        p += take;
        n -= take;
        if (n && *p == '\n') {
            p++;
            n--;
        } else if (b->len < DP_LOGFRAME_LINE_MAX) {
            continue; /* need more bytes for this line */
        }
        rc = emit(f, f->stream, fn, ud);
        if (rc)
            return rc;
    }
    return DP_OK;
}

dp_rc dp_logframe_feed(struct dp_logframe *f, const char *p, size_t n, dp_logframe_fn fn, void *ud)
{
    while (n) {
        if (f->payload_left == 0) {
            size_t take = 8 - f->hdr_have;

            if (take > n)
                take = n;
            memcpy(f->hdr + f->hdr_have, p, take);
            f->hdr_have += take;
            p += take;
            n -= take;
            if (f->hdr_have < 8)
                return DP_OK;
            if (f->hdr[0] > 2 || f->hdr[1] || f->hdr[2] || f->hdr[3])
                return DP_EINVAL;
            f->stream = f->hdr[0];
            f->payload_left = (uint32_t)f->hdr[4] << 24 | (uint32_t)f->hdr[5] << 16 |
                              (uint32_t)f->hdr[6] << 8 | f->hdr[7];
            f->hdr_have = 0;
            continue;
        }
        size_t take = f->payload_left < n ? f->payload_left : n;
        dp_rc rc = payload(f, p, take, fn, ud);

        if (rc)
            return rc;
        f->payload_left -= (uint32_t)take;
        p += take;
        n -= take;
    }
    return DP_OK;
}

dp_rc dp_logframe_flush(struct dp_logframe *f, dp_logframe_fn fn, void *ud)
{
    for (int i = 0; i < 3; i++) {
        if (f->line[i].len) {
            dp_rc rc = emit(f, i, fn, ud);

            if (rc)
                return rc;
        }
    }
    return DP_OK;
}
