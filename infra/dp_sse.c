#include "dp_sse.h"

#include "dp_clock.h"
#include "dp_json.h"
#include "dp_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dp_rc dp_sse_start(struct dp_sse *s, struct dp_req *rq)
{
    return dp_sse_start_with(s, rq, NULL);
}

dp_rc dp_sse_start_with(struct dp_sse *s, struct dp_req *rq, const char *extra_headers)
{
    char head[768];
    int n;

    memset(s, 0, sizeof(*s));
    s->rq = rq;
    /* Close-delimited: civetweb must not keep this connection alive after us. */
    dp_httpd_close_after(rq);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\n"
                 "Connection: close\r\nX-Request-Id: %s\r\n%.200s\r\nretry: 2000\n\n",
                 rq->log.req_id, extra_headers ? extra_headers : "");
    rq->status = 200;
    s->started = true;
    if (mg_write(rq->conn, head, (size_t)n) <= 0) {
        s->broken = true;
        return DP_ECANCELED;
    }
    return DP_OK;
}

dp_rc dp_sse_send(struct dp_sse *s, long long id, const char *json)
{
    size_t len = strlen(json), cap = len + 48;
    char *frame;
    int n;

    if (s->broken)
        return DP_ECANCELED;
    if (len > DP_EVENT_MAX || strchr(json, '\n'))
        return DP_EINVAL; /* one line of JSON only: a newline would end the data field */
    frame = malloc(cap);
    if (!frame)
        return DP_ENOMEM;
    n = snprintf(frame, cap, "id: %lld\ndata: %s\n\n", id, json);
    if (n < 0 || mg_write(s->rq->conn, frame, (size_t)n) <= 0)
        s->broken = true;
    free(frame);
    return s->broken ? DP_ECANCELED : DP_OK;
}

dp_rc dp_sse_heartbeat(struct dp_sse *s, long long id)
{
    return dp_sse_send(s, id, "{\"type\":\"heartbeat\"}");
}

/* ---- a viewer of an event hub ---- */

long long dp_sse_resume_after(const struct dp_req *rq)
{
    const char *last = mg_get_header(rq->conn, "Last-Event-ID");
    char q[24] = "";
    long long after = 0;

    if (last)
        after = strtoll(last, NULL, 10);
    else if (dp_httpd_query(rq, "after", q, sizeof(q)))
        after = strtoll(q, NULL, 10);
    return after > 0 ? after : 0;
}

static int sink_send(void *ud, long long seq, const char *json)
{
    return dp_sse_send(ud, seq, json) != DP_OK;
}

static int sink_heartbeat(void *ud, long long last_seq)
{
    return dp_sse_heartbeat(ud, last_seq) != DP_OK;
}

struct dp_events_sink dp_sse_sink(struct dp_sse *s)
{
    return (struct dp_events_sink){sink_send, sink_heartbeat, s};
}
