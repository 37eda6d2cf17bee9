/* A stream of event objects as NDJSON over chunked HTTP, the agent's long-operation answer.
 * Headers go out lazily: an operation that fails before its first event still answers with a
 * plain JSON error and a fitting status; after that, failures become an "error" event. */
#ifndef DP_NDJSON_H
#define DP_NDJSON_H

#include "dp_buf.h"
#include "dp_err.h"
#include "dp_httpd.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_ndjson {
    struct dp_req *rq;
    bool started;          /* 200 and headers are out */
    bool broken;           /* the client went away: stop the operation */
    bool ended;            /* the last event and the final chunk are out */
    int64_t last_write_ms; /* for heartbeats */
    uint64_t events;
    struct dp_buf frame;
};

void dp_ndjson_init(struct dp_ndjson *s, struct dp_req *rq);

/* Sends the 200 and the stream headers now (before a long quiet step). DP_ECANCELED when the
 * client is gone. */
dp_rc dp_ndjson_start(struct dp_ndjson *s);

/* Sends one event (an object with "type"). DP_ECANCELED when the client is gone. */
dp_rc dp_ndjson_send(struct dp_ndjson *s, const json_t *event);

/* Sends {"type":"log","message":...}; the text need not be valid UTF-8. */
dp_rc dp_ndjson_log(struct dp_ndjson *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends {"type":"heartbeat"} when nothing was written for DP_HEARTBEAT_MS. Also how a gone
 * client is noticed while the operation is quiet. */
dp_rc dp_ndjson_heartbeat_if_due(struct dp_ndjson *s);

/* Ends with {"type":"done","success":true, ...fields}; fields may be NULL (stolen). */
void dp_ndjson_done(struct dp_ndjson *s, json_t *fields);

/* Ends with an error: a JSON error answer with err's status when nothing was sent yet, else an
 * {"type":"error","error":code,"detail":msg} event. */
void dp_ndjson_fail(struct dp_ndjson *s, const struct dp_err *err);

/* Frees the frame buffer; ends the chunked body if the stream started and did not end. */
void dp_ndjson_clear(struct dp_ndjson *s);

#endif
