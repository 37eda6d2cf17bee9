/* Server-Sent Events on a civetweb connection: "id: N" and one "data:" line per event, each event
 * leaving in one write, the connection closed at the end (no length, no chunking); and the
 * sink that makes such a stream a viewer of a dp_events hub. */
#ifndef DP_SSE_H
#define DP_SSE_H

#include "dp_err.h"
#include "dp_events.h"
#include "dp_httpd.h"

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

/* dp_sse_start with more headers: "Name: value\r\n" lines (at most 200 bytes) or NULL. */
dp_rc dp_sse_start_with(struct dp_sse *s, struct dp_req *rq, const char *extra_headers);

/* Sends one event: "id: <id>\ndata: <json>\n\n". json is one line of compact JSON. */
dp_rc dp_sse_send(struct dp_sse *s, long long id, const char *json);

/* Sends {"type":"heartbeat"} carrying id (the last event's, so Last-Event-ID stays right). */
dp_rc dp_sse_heartbeat(struct dp_sse *s, long long id);

/* Where a reconnecting viewer resumes: Last-Event-ID (what browsers send), else ?after= (for
 * scripts), else 0; never negative. */
long long dp_sse_resume_after(const struct dp_req *rq);

/* A dp_events sink that writes to s: a viewer that is gone ends the follow. */
struct dp_events_sink dp_sse_sink(struct dp_sse *s);

#endif
