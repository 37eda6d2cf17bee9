#include "dp_sse.h"

#include "dp_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dp_rc dp_sse_start(struct dp_sse *s, struct dp_req *rq)
{
    char head[512];
    int n;

    memset(s, 0, sizeof(*s));
    s->rq = rq;
    /* Close-delimited: civetweb must not keep this connection alive after us. */
    dp_httpd_close_after(rq);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\n"
                 "Connection: close\r\nX-Request-Id: %s\r\n\r\nretry: 2000\n\n",
                 rq->log.req_id);
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
