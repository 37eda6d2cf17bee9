/* Server-Sent Events on a civetweb connection: "id: N" and one "data:" line per event, each event
 * leaving in one write, the connection closed at the end (no length, no chunking). */
#ifndef DP_SSE_H
#define DP_SSE_H

#include "dp_err.h"
#include "dp_httpd.h"

#include <stdbool.h>

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

#endif
