/* Server-Sent Events on a civetweb connection: "id: N" and one "data:" line per event, each event
 * leaving in one write, the connection closed at the end (no length, no chunking). */
#ifndef DP_SSE_H
#define DP_SSE_H

#include "dp_err.h"
#include "dp_httpd.h"
#include "dp_progress.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_sse {
    struct dp_req *rq;
    bool started;
    bool broken; /* a write failed: the viewer is gone */
};

/* Sends the 200 and the stream headers (text/event-stream, no caching, no proxy buffering,
 * a retry hint). DP_ECANCELED when the viewer is gone. */
dp_rc dp_sse_start(struct dp_sse *s, struct dp_req *rq);

/* Sends one event: "id: <id>\ndata: <json>\n\n". json is one line of compact JSON. */
dp_rc dp_sse_send(struct dp_sse *s, long long id, const char *json);

/* Sends {"type":"heartbeat"} carrying id (the last event's, so Last-Event-ID stays right). */
dp_rc dp_sse_heartbeat(struct dp_sse *s, long long id);

/* An operation run in the request's own thread, streamed as it goes: feed.pr is the
 * dp_progress to hand it. Every event gets the next id (1, 2, ...); tick sends a heartbeat after
 * heartbeat_ms of quiet and asks the operation to stop (non-zero) once the viewer is gone (a
 * write failed) or *stop is set. */
struct dp_sse_feed {
    struct dp_sse sse;
    struct dp_progress pr;
    long long seq;
    int64_t last_ms;
    int heartbeat_ms;
    const atomic_bool *stop; /* the process is stopping, or NULL */
};

/* Starts the stream (dp_sse_start) and fills f. DP_ECANCELED when the viewer is gone. */
dp_rc dp_sse_feed_start(struct dp_sse_feed *f, struct dp_req *rq, int heartbeat_ms,
                        const atomic_bool *stop);

/* Sends ev (an object, borrowed) as the next event: the last one (done or error) too. */
dp_rc dp_sse_feed_send(struct dp_sse_feed *f, const json_t *ev);

#endif
