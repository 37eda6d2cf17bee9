/* Requests with a whole JSON answer: ping, wait_ready, calls and uploads. */
#include "dp_agentc_int.h"

#include "dp_clock.h"
#include "dp_json.h"
#include "dp_url.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dp_rc ping_once(const struct dp_agent_target *t, long timeout_ms, char *version_out,
                       struct dp_err *err)
{
    struct agentc_req rq = {.method = "GET", .path = "/ping", .timeout_ms = timeout_ms};
    struct agentc_xfer x;
    dp_rc rc = agentc_begin(&x, t, &rq, AGENTC_WHOLE, NULL, err);

    if (rc == DP_OK)
        rc = agentc_perform(&x);
    if (rc == DP_OK && x.status != 200)
        rc = agentc_status_err(&x);
    if (rc == DP_OK && version_out) {
        json_t *j = NULL;
        const char *v = NULL;

        if (dp_json_parse_object(&j, x.body.data ? x.body.data : "", x.body.len, AGENTC_EVENT_DEPTH,
                                 NULL) == DP_OK)
            v = json_string_value(json_object_get(j, "version"));
        snprintf(version_out, 32, "%s", v ? v : "");
        json_decref(j);
    }
    agentc_end(&x);
    return rc;
}

dp_rc dp_agent_ping(const struct dp_agent_target *t, char *version_out, struct dp_err *err)
{
    if (version_out)
        version_out[0] = '\0';
    return ping_once(t, AGENTC_PING_MS, version_out, err);
}

static bool progress_stop(const struct dp_progress *pr)
{
    return pr && pr->tick && pr->tick(pr->ud);
}

dp_rc dp_agent_wait_ready(const struct dp_agent_target *t, int64_t timeout_ms,
                          const struct dp_progress *pr, struct dp_err *err)
{
    int64_t end = dp_mono_ms() + timeout_ms;
    struct dp_err last = {0};

    for (int tries = 1;; tries++) {
        int64_t start = dp_mono_ms(), left = end - start;
        dp_rc rc;

        if (progress_stop(pr))
            return dp_err_setc(err, DP_ECANCELED, "canceled", "canceled while waiting for agent");
        rc = ping_once(t, left < AGENTC_PING_MS ? (left > 100 ? (long)left : 100L) : AGENTC_PING_MS,
                       NULL, &last);
        if (rc == DP_OK || rc == DP_EDENIED || rc == DP_EINVAL) { /* waiting will not help */
            if (rc && err)
                *err = last;
            return rc;
        }
        if (dp_mono_ms() + AGENTC_POLL_MS / 2 >= end)
            return dp_err_setc(err, DP_ETIMEOUT, "agent_not_ready",
                               "agent not ready after %lld ms and %d tries: %s",
                               (long long)timeout_ms, tries, last.msg);
        left = start + AGENTC_POLL_MS - dp_mono_ms();
        if (left > 0)
            dp_sleep_ms(left);
    }
}

static dp_rc parse_answer(struct agentc_xfer *x, json_t **out)
{
    if (!x->body.len)
        return DP_OK;
    if (dp_json_parse_object(out, x->body.data, x->body.len, DP_JSON_DEPTH_MAX, NULL) != DP_OK)
        return dp_err_setc(x->err, DP_EUPSTREAM, "agent_bad_answer",
                           "agent %s sent an answer that is not a JSON object", x->where);
    return DP_OK;
}

/* A body's text holds secrets (env values, tokens, passwords): wiped before it is freed. */
static void free_secret_text(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

dp_rc dp_agent_call(const struct dp_agent_target *t, const char *method, const char *path,
                    const json_t *body, json_t **out, struct dp_err *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct agentc_req rq = {
        .method = method, .path = path, .json = text, .timeout_ms = AGENTC_CALL_MS};
    struct agentc_xfer x;
    dp_rc rc;

    if (out)
        *out = NULL;
    if (body && !text)
        return dp_err_set(err, DP_ENOMEM, "out of memory writing a request body");
    rc = agentc_begin(&x, t, &rq, AGENTC_WHOLE, NULL, err);
    if (rc == DP_OK)
        rc = agentc_perform(&x);
    if (rc == DP_OK && (x.status < 200 || x.status > 299))
        rc = agentc_status_err(&x);
    if (rc == DP_OK && out)
        rc = parse_answer(&x, out);
    agentc_end(&x);
    free_secret_text(text);
    return rc;
}

dp_rc dp_agent_upload(const struct dp_agent_target *t, const char *path, bool clean, int fd,
                      json_t **out, struct dp_err *err)
{
    char epath[DP_PATH_MAX * 3 + 1], query[DP_PATH_MAX * 3 + 64];
    struct agentc_req rq = {
        .method = "POST", .path = query, .content_type = "application/x-tar", .stall = true};
    struct agentc_xfer x;
    dp_rc rc;

    if (out)
        *out = NULL;
    if (!path || strlen(path) > DP_PATH_MAX || dp_url_escape(epath, sizeof(epath), path))
        return dp_err_setc(err, DP_EINVAL, "invalid_path", "upload path is empty or too long");
    snprintf(query, sizeof(query), "/upload?path=%s%s", epath, clean ? "&clean=1" : "");
    rc = agentc_begin(&x, t, &rq, AGENTC_WHOLE, NULL, err);
    if (rc == DP_OK) {
        agentc_body_fd(&x, fd);
        rc = agentc_perform(&x);
    }
    if (rc == DP_OK && (x.status < 200 || x.status > 299))
        rc = agentc_status_err(&x);
    if (rc == DP_OK && out)
        rc = parse_answer(&x, out);
    agentc_end(&x);
    return rc;
}
