/* NDJSON streams from agents: lines split at any byte, each a bounded event; heartbeats
 * swallowed, log and progress passed on, the last event (done or error) decides. */
#include "dp_agentc_int.h"

#include "dp_json.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static dp_rc too_long(struct agentc_xfer *x)
{
    return dp_err_setc(x->err, DP_ETOOBIG, "agent_event_too_large",
                       "agent %s sent an event over %lu bytes", x->where, AGENTC_LINE_MAX);
}

static dp_rc bad_stream(struct agentc_xfer *x, const char *what)
{
    return dp_err_setc(x->err, DP_EUPSTREAM, "agent_bad_stream", "agent %s sent %s", x->where,
                       what);
}

/* One line of the stream. Once the last event is in, nothing after it counts. */
static dp_rc stream_event(struct agentc_xfer *x, const char *p, size_t n)
{
    json_t *ev = NULL;
    const char *type;
    dp_rc rc = DP_OK;

    while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0 || x->last)
        return DP_OK;
    if (n > AGENTC_LINE_MAX)
        return too_long(x);
    if (dp_json_parse_object(&ev, p, n, AGENTC_EVENT_DEPTH, NULL) != DP_OK)
        return bad_stream(x, "a line that is not a JSON object");
    type = json_string_value(json_object_get(ev, "type"));
    if (!type) {
        rc = bad_stream(x, "an event without a type");
    } else if (strcmp(type, "done") == 0 || strcmp(type, "error") == 0) {
        x->last = ev;
        ev = NULL;
    } else if (strcmp(type, "heartbeat") != 0 && x->pr && x->pr->emit) {
        rc = x->pr->emit(x->pr->ud, ev);
        if (rc)
            rc = dp_err_set(x->err, rc, "passing on the events of agent %s failed", x->where);
    }
    json_decref(ev);
    return rc;
}

dp_rc agentc_feed_lines(struct agentc_xfer *x, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        dp_rc rc = DP_OK;

        if (!nl) /* a line that goes on in the next chunk */
            return dp_buf_append(&x->line, p, n) ? too_long(x) : DP_OK;
        if (x->line.len) {
            if (dp_buf_append(&x->line, p, seg))
                return too_long(x);
            rc = stream_event(x, x->line.data, x->line.len);
            dp_buf_reset(&x->line);
        } else {
            rc = stream_event(x, p, seg);
        }
        if (rc)
            return rc;
        p += seg + 1;
        n -= seg + 1;
    }
    return DP_OK;
}

static dp_rc error_event(struct agentc_xfer *x)
{
    const char *code = json_string_value(json_object_get(x->last, "error"));
    const char *detail = json_string_value(json_object_get(x->last, "detail"));
    char msg[DP_ERR_MSG_MAX];
    size_t n = code ? strlen(code) : 0;
    bool code_fits = n > 0 && n < DP_ERR_CODE_MAX &&
                     strspn(code, "abcdefghijklmnopqrstuvwxyz"
                                  "0123456789_") == n;

    snprintf(msg, sizeof(msg), "%s", detail && *detail ? detail : "the operation failed");
    for (char *q = msg; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = ' ';
    }
    if (!detail || !*detail)
        return dp_err_setc(x->err, agentc_code_rc(code), code_fits ? code : "agent_error",
                           "agent %s: the operation failed", x->where);
    return dp_err_setc(x->err, agentc_code_rc(code), code_fits ? code : "agent_error", "%s", msg);
}

dp_rc agentc_stream_result(struct agentc_xfer *x, dp_rc rc, json_t **done)
{
    if (rc == DP_OK && (x->status < 200 || x->status > 299))
        return agentc_status_err(x); /* refused before the stream started */
    if (rc == DP_OK && x->line.len && !x->last)
        rc = stream_event(x, x->line.data, x->line.len); /* a last line without a newline */
    if (!x->last) {
        if (rc)
            return rc;
        return dp_err_setc(x->err, DP_EUNAVAIL, "agent_stream_broken",
                           "agent %s ended the stream without a last event", x->where);
    }
    /* The last event arrived: it decides, whatever happened to the connection after it. */
    if (strcmp(json_string_value(json_object_get(x->last, "type")), "done") == 0) {
        if (done) {
            *done = x->last;
            x->last = NULL;
        }
        if (x->err && rc)
            dp_err_clear(x->err);
        return DP_OK;
    }
    return error_event(x);
}

dp_rc dp_agent_stream(const struct dp_agent_target *t, const char *path, const json_t *json_body,
                      int body_fd, const struct dp_progress *pr, json_t **done, struct dp_err *err)
{
    char *text = NULL;
    struct agentc_req rq = {.method = "GET", .path = path, .stall = true};
    struct agentc_xfer x;
    dp_rc rc;

    if (done)
        *done = NULL;
    if (body_fd >= 0) {
        rq.method = "POST";
        rq.content_type = "application/x-tar";
    } else if (json_body) {
        text = json_dumps(json_body, JSON_COMPACT);
        if (!text)
            return dp_err_set(err, DP_ENOMEM, "out of memory writing a request body");
        rq.method = "POST";
        rq.json = text;
    }
    rc = agentc_begin(&x, t, &rq, AGENTC_NDJSON, pr, err);
    if (rc == DP_OK) {
        if (body_fd >= 0)
            agentc_body_fd(&x, body_fd);
        rc = agentc_stream_result(&x, agentc_perform(&x), done);
    }
    agentc_end(&x);
    if (text) {
        OPENSSL_cleanse(text, strlen(text)); /* tokens and passwords travel in bodies */
        free(text);
    }
    return rc;
}
