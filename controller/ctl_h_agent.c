/* Routes to one agent: its health, and build, pull, git clone (relayed live as SSE) and
 * containers/run (JSON), with the agent's own key and pinned certificate. */
#include "ctl.h"

#include "dp_agentc.h"
#include "dp_clock.h"
#include "dp_key.h"
#include "dp_sse.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

/* The agent at ip, as this controller knows it. */
static dp_rc target_of(struct dp_agent_target *t, struct ctl *c, const char *ip,
                       const struct dp_req *rq, struct dp_err *err)
{
    struct dp_server s;
    char key[DP_DERIVED_KEY_LEN + 1];
    dp_rc rc = dp_store_server_by_ip(c->store, ip, &s, NULL);

    if (rc)
        return dp_err_setc(err, DP_ENOTFOUND, "unknown_server",
                           "server %.40s is not one this controller knows", ip);
    rc = dp_key_derive(key, c->do_token, (unsigned long long)s.owner_id, err);
    if (rc)
        return rc;
    dp_agent_target_init(t, ip, key, s.tls_pin);
    snprintf(t->req_id, sizeof(t->req_id), "%s", rq->log.req_id);
    OPENSSL_cleanse(key, sizeof(key));
    return DP_OK;
}

int ctl_h_agent_health(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_agent_target t;
    char ip[64];
    struct dp_err err = {0};
    json_t *out = NULL;
    int st;

    if (!dp_httpd_query(rq, "server_ip", ip, sizeof(ip)) || !ip[0])
        return dp_httpd_send_error(rq, 400, "missing_field", "server_ip is required");
    if (target_of(&t, c, ip, rq, &err) || dp_agent_call(&t, "GET", "/health", NULL, &out, &err))
        return dp_httpd_send_err(rq, &err);
    st = dp_httpd_send_json(rq, 200, out);
    json_decref(out);
    return st;
}

/* Relays an agent stream as SSE events numbered from 1 (not stored: no deployment). */
struct relay {
    struct dp_sse sse;
    long long seq;
    struct ctl *c;
    int64_t last_sent_ms; /* the agent's own heartbeats stop in agentc: we send ours */
};

#define RELAY_HEARTBEAT_MS 15000

static dp_rc relay_emit(void *ud, json_t *ev)
{
    struct relay *r = ud;
    char *text = json_dumps(ev, JSON_COMPACT);
    dp_rc rc = text ? dp_sse_send(&r->sse, ++r->seq, text) : DP_ENOMEM;

    free(text);
    r->last_sent_ms = dp_mono_ms();
    return rc;
}

/* About once a second while the agent works: stop when the viewer left or we shut down, and
 * keep a quiet stream (a long build step) alive through proxies. */
static int relay_tick(void *ud)
{
    struct relay *r = ud;

    if (!r->sse.broken && dp_mono_ms() - r->last_sent_ms >= RELAY_HEARTBEAT_MS) {
        dp_sse_heartbeat(&r->sse, r->seq);
        r->last_sent_ms = dp_mono_ms();
    }
    return r->sse.broken || atomic_load(&r->c->stopping);
}

static int relay_stream(struct dp_req *rq, const struct dp_agent_target *t, const char *path,
                        const json_t *body)
{
    struct relay r = {.c = rq->app, .last_sent_ms = dp_mono_ms()};
    struct dp_progress pr = {relay_emit, relay_tick, &r};
    struct dp_err err = {0};
    json_t *done = NULL, *last;
    dp_rc rc;

    if (dp_sse_start(&r.sse, rq))
        return rq->status;
    rc = dp_agent_stream(t, path, body, -1, &pr, &done, &err);
    last = rc ? json_pack("{s:s, s:s, s:s}", "type", "error", "error",
                          err.code[0] ? err.code : dp_rc_code(rc), "detail", err.msg)
              : json_incref(done);
    relay_emit(&r, last);
    json_decref(last);
    json_decref(done);
    return rq->status;
}

int ctl_h_agent_proxy(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *ip = rq->params[0];
    const char *path = strstr(rq->ri->local_uri_raw, ip) + strlen(ip); /* "/build" ... */
    struct dp_agent_target t;
    struct dp_err err = {0};
    json_t *body = NULL, *out = NULL;
    int st;

    if (dp_httpd_read_json(rq, &body, &err) || target_of(&t, c, ip, rq, &err)) {
        json_decref(body);
        return dp_httpd_send_err(rq, &err);
    }
    if (strcmp(path, "/containers/run") != 0) {
        st = relay_stream(rq, &t, path, body);
        json_decref(body);
        return st;
    }
    st = dp_agent_call(&t, "POST", path, body, &out, &err) ? dp_httpd_send_err(rq, &err)
                                                           : dp_httpd_send_json(rq, 201, out);
    json_decref(body);
    json_decref(out);
    return st;
}
