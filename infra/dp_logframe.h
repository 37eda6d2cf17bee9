/* Decodes Docker's multiplexed log stream (Tty=false): 8-byte headers [stream,0,0,0,len BE]
 * and payloads, arriving at arbitrary boundaries, into whole lines per stream. */
#ifndef DP_LOGFRAME_H
#define DP_LOGFRAME_H

#include "dp_buf.h"
#include "dp_err.h"

#include <stddef.h>
#include <stdint.h>

#define DP_LOGFRAME_LINE_MAX (16UL * 1024) /* longer lines are delivered in pieces */

/* stream is "stdout" or "stderr"; line has no trailing newline. Non-zero stops decoding. */
typedef dp_rc (*dp_logframe_fn)(void *ud, const char *stream, const char *line, size_t len);

struct dp_logframe {
    unsigned char hdr[8];
    size_t hdr_have;
    uint32_t payload_left;
    int stream;            /* 1 stdout, 2 stderr, of the frame being read */
    struct dp_buf line[3]; /* partial line per stream id */
};

void dp_logframe_init(struct dp_logframe *f);

/* Feeds n bytes; calls fn for each completed line. DP_EINVAL for a header that is not Docker's. */
dp_rc dp_logframe_feed(struct dp_logframe *f, const char *p, size_t n, dp_logframe_fn fn, void *ud);

/* Delivers what is left of unterminated lines. */
dp_rc dp_logframe_flush(struct dp_logframe *f, dp_logframe_fn fn, void *ud);

void dp_logframe_clear(struct dp_logframe *f);

#endif
