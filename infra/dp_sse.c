#include "dp_sse.h"

#include "dp_clock.h"
#include "dp_json.h"
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

/* ---- a feed: an operation's events straight onto the stream ---- */

dp_rc dp_sse_feed_send(struct dp_sse_feed *f, const json_t *ev)
{
    char *text = dp_json_dump(ev);
    dp_rc rc;

    if (!text)
        return DP_ENOMEM;
    rc = dp_sse_send(&f->sse, ++f->seq, text);
    free(text);
    f->last_ms = dp_mono_ms();
    return rc;
}

static dp_rc feed_emit(void *ud, json_t *ev)
{
    dp_sse_feed_send(ud, ev); /* a gone viewer shows in tick */
    return DP_OK;
}

static int feed_tick(void *ud)
{
    struct dp_sse_feed *f = ud;

    if (f->stop && atomic_load(f->stop))
        return 1;
    if (!f->sse.broken && dp_mono_ms() - f->last_ms >= f->heartbeat_ms) {
        dp_sse_heartbeat(&f->sse, f->seq);
        f->last_ms = dp_mono_ms();
    }
    return f->sse.broken;
}

dp_rc dp_sse_feed_start(struct dp_sse_feed *f, struct dp_req *rq, int heartbeat_ms,
                        const atomic_bool *stop)
{
    memset(f, 0, sizeof(*f));
    f->pr.emit = feed_emit;
    f->pr.tick = feed_tick;
    f->pr.ud = f;
    f->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 10000;
    f->stop = stop;
    f->last_ms = dp_mono_ms();
    return dp_sse_start(&f->sse, rq);
}
