#include "dp_ndjson.h"

#include "dp_clock.h"
#include "dp_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_ndjson_init(struct dp_ndjson *s, struct dp_req *rq)
{
    memset(s, 0, sizeof(*s));
    s->rq = rq;
    s->last_write_ms = dp_mono_ms();
    dp_buf_init(&s->frame, DP_EVENT_MAX + 64);
}

static dp_rc stream_write(struct dp_ndjson *s, const char *p, size_t n)
{
    if (s->broken)
        return DP_ECANCELED;
    if (mg_write(s->rq->conn, p, n) <= 0) {
        s->broken = true;
        return DP_ECANCELED;
    }
    s->last_write_ms = dp_mono_ms();
    return DP_OK;
}

dp_rc dp_ndjson_start(struct dp_ndjson *s)
{
    char head[512];
    int n;

    if (s->started)
        return s->broken ? DP_ECANCELED : DP_OK;
    s->started = true;
    s->rq->status = 200;
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                 "Transfer-Encoding: chunked\r\nCache-Control: no-store\r\n"
                 "X-Accel-Buffering: no\r\nX-Request-Id: %s\r\n\r\n",
                 s->rq->log.req_id);
    return stream_write(s, head, (size_t)n);
}

/* One chunk holding one JSON line, framed by hand so it leaves in a single send. */
static dp_rc send_line(struct dp_ndjson *s, const char *json, size_t len)
{
    dp_rc rc = dp_ndjson_start(s);

    if (rc)
        return rc;
    dp_buf_reset(&s->frame);
    if (dp_buf_appendf(&s->frame, "%zx\r\n", len + 1) || dp_buf_append(&s->frame, json, len) ||
        dp_buf_append(&s->frame, "\n\r\n", 3))
        return DP_ETOOBIG;
    s->events++;
    return stream_write(s, s->frame.data, s->frame.len);
}

dp_rc dp_ndjson_send(struct dp_ndjson *s, const json_t *event)
{
    char *text;
    dp_rc rc;

    if (s->ended)
        return DP_ECANCELED;
    text = dp_json_dump(event);
    if (!text)
        return DP_ENOMEM;
    if (strlen(text) > DP_EVENT_MAX) {
        free(text);
        dp_log(DP_LOG_WARN, &s->rq->log, "event of over %lu bytes dropped", DP_EVENT_MAX);
        return DP_OK; /* one oversized log line must not end the operation */
    }
    rc = send_line(s, text, strlen(text));
    free(text);
    return rc;
}

dp_rc dp_ndjson_log(struct dp_ndjson *s, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    json_t *ev;
    dp_rc rc;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return DP_EINVAL;
    ev = json_pack("{s:s, s:o}", "type", "log", "message",
                   dp_json_string_lossy(msg, strnlen(msg, sizeof(msg))));
    if (!ev)
        return DP_ENOMEM;
    rc = dp_ndjson_send(s, ev);
    json_decref(ev);
    return rc;
}

dp_rc dp_ndjson_heartbeat_if_due(struct dp_ndjson *s)
{
    static const char hb[] = "{\"type\":\"heartbeat\"}";

    if (s->broken)
        return DP_ECANCELED;
    if (dp_mono_ms() - s->last_write_ms < DP_HEARTBEAT_MS)
        return DP_OK;
    return send_line(s, hb, sizeof(hb) - 1);
}

static void stream_end(struct dp_ndjson *s)
{
    if (s->started && !s->ended && !s->broken)
        stream_write(s, "0\r\n\r\n", 5);
    s->ended = true;
}

void dp_ndjson_done(struct dp_ndjson *s, json_t *fields)
{
    json_t *ev = json_pack("{s:s, s:b}", "type", "done", "success", 1);

    if (ev && fields)
        json_object_update(ev, fields);
    json_decref(fields);
    if (ev)
        dp_ndjson_send(s, ev);
    json_decref(ev);
    stream_end(s);
}

void dp_ndjson_fail(struct dp_ndjson *s, const struct dp_err *err)
{
    const char *code = err->code[0] ? err->code : dp_rc_code(err->rc);
    json_t *ev;

    if (!s->started) {
        dp_httpd_send_err(s->rq, err);
        s->ended = true;
        return;
    }
    ev = json_pack("{s:s, s:s, s:o}", "type", "error", "error", code, "detail",
                   dp_json_string_lossy(err->msg, strlen(err->msg)));
    if (ev)
        dp_ndjson_send(s, ev);
    json_decref(ev);
    stream_end(s);
}

void dp_ndjson_clear(struct dp_ndjson *s)
{
    stream_end(s);
    dp_buf_clear(&s->frame);
}
