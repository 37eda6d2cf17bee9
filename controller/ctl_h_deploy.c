/* The deploy (SSE) and the deployments: list, show, events (replay then live), cancel, stop,
 * start, restart, delete. Thin routes over infra/dp_deploy, dp_events, dp_apps. */
#include "ctl.h"

#include "ctl_intake.h"
#include "dp_apps.h"
#include "dp_json.h"
#include "dp_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_MS 10000 /* DESIGN: at least every 15 s while quiet */

/* ---- SSE ---- */

int ctl_stream_events(struct dp_req *rq, long long deployment_id, long long after)
{
    struct ctl *c = rq->app;
    struct dp_sse sse;
    struct dp_events_sink sink = dp_sse_sink(&sse);
    struct dp_err err = {0};

    if (dp_sse_start(&sse, rq))
        return rq->status;
    /* A viewer that leaves ends only this stream: the deploy runs on in its own thread. */
    dp_events_follow(c->events, deployment_id, after, &sink, HEARTBEAT_MS, &err);
    return rq->status;
}

/* ---- deploy ---- */

int ctl_h_deploy(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_deploy_req req;
    struct dp_err err = {0};
    long long id;

    if (ctl_intake_deploy(&req, rq, c, &err))
        return dp_httpd_send_err(rq, &err);
    if (dp_deploys_start(c->deploys, &req, ctl_user(rq), &id, &err)) {
        dp_deploy_req_clear(&req);
        return dp_httpd_send_err(rq, &err);
    }
    dp_log(DP_LOG_INFO, &rq->log, "deployment %lld started by %s", id, ctl_user(rq)->username);
    return ctl_stream_events(rq, id, 0);
}

/* Collects the done event of a deploy for callers that want one JSON answer. */
struct last_event {
    json_t *done;
};

static int keep_done(void *ud, long long seq, const char *json)
{
    struct last_event *l = ud;
    json_t *ev = json_loads(json, 0, NULL);

    (void)seq;
    if (ev && json_is_string(json_object_get(ev, "type")) &&
        strcmp(json_string_value(json_object_get(ev, "type")), "done") == 0) {
        json_decref(l->done);
        l->done = ev;
        return 0;
    }
    json_decref(ev);
    return 0;
}

static int no_heartbeat(void *ud, long long seq)
{
    (void)ud, (void)seq;
    return 0;
}

/* The single route deploys an image to one known server: anything else is refused here rather
 * than half-served (code needs the streaming intake of /infra/deploy). */
static dp_rc single_shape(json_t *body, struct dp_err *err)
{
    const json_t *st = json_object_get(body, "source_type");
    const json_t *ips = json_object_get(body, "server_ips");

    if (st && !json_is_null(st) &&
        !(json_is_string(st) && strcmp(json_string_value(st), "image") == 0))
        return dp_err_setc(
            err, DP_EINVAL, "invalid_field",
            "deploy/single deploys an image; use /api/v1/infra/deploy for code and git");
    if (json_integer_value(json_object_get(body, "new_server_count")) != 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "deploy/single targets one existing server; use /api/v1/infra/deploy "
                           "to provision new ones");
    if (!json_is_array(ips) || json_array_size(ips) != 1)
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "deploy/single needs exactly one server: server_ip");
    if (json_object_set_new(body, "source_type", json_string("image")))
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    return DP_OK;
}

/* One image to one server, answered as JSON when done (same deploy underneath). */
int ctl_h_deploy_single(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_deploy_req req;
    struct last_event last = {0};
    struct dp_events_sink sink = {keep_done, no_heartbeat, &last};
    struct dp_err err = {0};
    json_t *body = NULL;
    long long id;
    dp_rc rc = dp_httpd_read_json(rq, &body, &err);

    if (!rc && json_is_string(json_object_get(body, "server_ip")))
        json_object_set_new(body, "server_ips",
                            json_pack("[O]", json_object_get(body, "server_ip")));
    if (!rc)
        rc = single_shape(body, &err);
    if (!rc)
        rc = dp_deploy_req_parse(&req, body, &err);
    json_decref(body);
    if (!rc && (rc = dp_deploys_start(c->deploys, &req, ctl_user(rq), &id, &err)))
        dp_deploy_req_clear(&req);
    if (rc)
        return dp_httpd_send_err(rq, &err);
    dp_events_follow(c->events, id, 0, &sink, HEARTBEAT_MS, &err);
    if (!last.done)
        return dp_httpd_send_error(rq, 503, "interrupted", "the deploy did not finish");
    return dp_httpd_answer(rq, json_is_true(json_object_get(last.done, "success")) ? 200 : 502,
                           DP_OK, last.done, &err);
}

/* Code (a tar or zip body, or multipart) to one server's agent: ?server_ip=&path=&clean=. */
int ctl_h_deploy_upload(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = ctl_intake_upload(&out, rq, c, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

/* ---- deployments ---- */

int ctl_h_deployments(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    char app[64] = "", lim[8] = "100", *end;
    struct dp_err err = {0};
    json_t *list = NULL;
    long limit;
    dp_rc rc;

    dp_httpd_query(rq, "app", app, sizeof(app));
    dp_httpd_query(rq, "limit", lim, sizeof(lim));
    limit = strtol(lim, &end, 10);
    if (*end || limit < 1 || limit > 500)
        return dp_httpd_send_error(rq, 400, "invalid_query", "limit must be 1 to 500");
    rc = dp_store_deploy_list(c->store, app[0] ? app : NULL, (int)limit, &list, &err);
    return dp_httpd_answer(rq, 200, rc, rc ? NULL : json_pack("{s:o}", "deployments", list), &err);
}

int ctl_h_deployment(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_deployment d = {0};
    struct dp_err err = {0};
    long long id;
    json_t *out = NULL;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a deployment id is a positive number");
    rc = dp_store_deploy_get(c->store, id, &d, &err);
    if (!rc) {
        struct dp_user u = {0};
        bool known = dp_store_user_get(c->store, d.user_id, &u, NULL) == DP_OK;

        out = dp_deployment_json(&d, known ? u.username : NULL);
        if (!out)
            rc = dp_err_set(&err, DP_ENOMEM, "out of memory");
    }
    dp_deployment_clear(&d);
    return dp_httpd_answer(rq, 200, rc, out, &err);
}

int ctl_h_deployment_events(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_deployment d = {0};
    struct dp_err err = {0};
    long long id;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a deployment id is a positive number");
    if (dp_store_deploy_get(c->store, id, &d, &err))
        return dp_httpd_send_err(rq, &err);
    dp_deployment_clear(&d);
    return ctl_stream_events(rq, id, dp_sse_resume_after(rq));
}

int ctl_h_deployment_cancel(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_deployment d = {0};
    struct dp_err err = {0};
    long long id;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a deployment id is a positive number");
    rc = dp_store_deploy_get(c->store, id, &d, &err); /* unknown: 404 */
    dp_deployment_clear(&d);
    if (rc == DP_OK && (rc = dp_deploys_cancel(c->deploys, id, &err)) == DP_ENOTFOUND)
        rc = err.rc = DP_ECONFLICT; /* it exists but is not running: 409, not 404 */
    return dp_httpd_answer(
        rq, 202, rc, rc ? NULL : json_pack("{s:I, s:b}", "id", (json_int_t)id, "canceling", 1),
        &err);
}

/* stop, start or restart: the action is the route's last word. */
int ctl_h_deployment_act(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *action = strrchr(rq->ri->local_uri_raw, '/') + 1;
    struct dp_err err = {0};
    json_t *out = NULL;
    long long id;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a deployment id is a positive number");
    rc = dp_apps_act(&out, c->store, c->do_token, id, action, &err);
    return dp_httpd_answer(rq, 200, rc, out, &err);
}

int ctl_h_deployment_delete(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    long long id;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a deployment id is a positive number");
    rc = dp_apps_act(&out, c->store, c->do_token, id, "delete", &err);
    if (rc == DP_OK && json_is_true(json_object_get(out, "success")))
        rc = dp_store_deploy_delete(c->store, id, &err);
    return dp_httpd_answer(rq, 200, rc, out, &err);
}
