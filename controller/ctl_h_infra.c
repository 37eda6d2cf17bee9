/* Setup status, snapshots, servers: thin routes over infra/dp_fleet. */
#include "ctl.h"

#include "cloudinit.h"
#include "dp_json.h"
#include "dp_snapshot_jobs.h"
#include "dp_snapshot_req.h"
#include "dp_sse.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_h_setup_status(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_setup_status(&out, &c->env.fleet, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

/* ---- bakes, streamed as SSE from this worker ---- */

#define BAKE_HEARTBEAT_MS DP_HEARTBEAT_MS /* DESIGN: at least every 15 s while quiet */

/* What every bake from here gets: this controller's agent package (its public URL, the
 * checksum beside the file it serves) and the addresses new agents admit. */
static dp_rc bake_fill(struct dp_snapshot_opts *o, struct ctl *c, char *url, size_t url_size,
                       char *sha, struct dp_err *err)
{
    char path[CTL_STR_MAX + 128];
    size_t n = strlen(c->conf.public_url);

    if (!c->cloud)
        return dp_err_setc(err, DP_EUNAVAIL, "no_cloud",
                           "no DigitalOcean token is set (settings or DO_TOKEN)");
    while (n > 0 && c->conf.public_url[n - 1] == '/')
        n--;
    snprintf(url, url_size, "%.*s/agent/package", (int)n, c->conf.public_url);
    snprintf(path, sizeof(path), "%s/node-agent-%s-linux-amd64.tar.gz.sha256", c->conf.package_dir,
             DP_VERSION);
    o->agent_url = url;
    o->agent_sha256 = sha;
    o->allow = c->allow;
    o->nallow = c->nallow;
    return dp_snapshot_sha256_file(sha, path, err);
}

/* Streams the bake's events after `after`: the viewer may leave, the bake runs on. */
static int bake_follow(struct dp_req *rq, long long id, long long after, const char *headers)
{
    struct ctl *c = rq->app;
    struct dp_sse sse;
    struct dp_events_sink sink = dp_sse_sink(&sse);
    struct dp_err err = {0};

    if (dp_sse_start_with(&sse, rq, headers))
        return rq->status;
    dp_snapshot_jobs_follow(c->bakes, id, after, &sink, BAKE_HEARTBEAT_MS, &err);
    return rq->status;
}

/* Checks the request and starts the bake (one at a time: 409 for a second one), then streams
 * it. The bake's number is in the X-Bake-Id header. */
static int bake_stream(struct dp_req *rq, enum dp_snapshot_kind kind)
{
    struct ctl *c = rq->app;
    struct dp_snapshot_opts fill = {0};
    struct dp_snapshot_job_start s = {.kind = kind, .user = ctl_user(rq)->username};
    char url[CTL_STR_MAX + 32], sha[65] = "", hdr[48];
    struct dp_err err = {0};
    json_t *body = NULL;
    long long id = 0;
    dp_rc rc = dp_httpd_read_json(rq, &body, &err);

    if (!rc)
        rc = bake_fill(&fill, c, url, sizeof(url), sha, &err);
    if (!rc)
        rc = dp_do_new(&s.cloud, dp_do_base_url(c->cloud), c->do_token, &err);
    if (!rc) {
        dp_snapshot_client_tune(s.cloud);
        s.body = body;
        s.agent_url = fill.agent_url;
        s.agent_sha256 = fill.agent_sha256;
        s.allow = fill.allow;
        s.nallow = fill.nallow;
        rc = dp_snapshot_jobs_start(c->bakes, &s, &id, &err); /* takes the client */
    }
    json_decref(body);
    if (rc)
        return dp_httpd_send_err(rq, &err);
    dp_log(DP_LOG_INFO, &rq->log, "%s bake %lld started by %s",
           kind == DP_SNAPSHOT_BASE ? "base" : "custom", id, ctl_user(rq)->username);
    snprintf(hdr, sizeof(hdr), "X-Bake-Id: %lld\r\n", id);
    return bake_follow(rq, id, 0, hdr);
}

/* {"regions":[...],"region","size"}: bakes the base snapshot, streamed as SSE. */
int ctl_h_setup_init(struct dp_req *rq)
{
    return bake_stream(rq, DP_SNAPSHOT_BASE);
}

/* {"from_snapshot_id","name","packages":[...],"regions","region","size"}: a custom snapshot. */
int ctl_h_images_build(struct dp_req *rq)
{
    return bake_stream(rq, DP_SNAPSHOT_CUSTOM);
}

/* The latest bake: its state and last event. */
int ctl_h_bake_status(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_snapshot_jobs_status(c->bakes, &out, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

/* The latest bake's events, replayed then live; Last-Event-ID (or ?after=) skips those seen,
 * ?id= insists on one bake. */
int ctl_h_bake_events(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    char q[24] = "";
    long long id = 0, latest;
    json_t *st = NULL;
    struct dp_err err = {0};

    if (dp_httpd_query(rq, "id", q, sizeof(q)) && (id = strtoll(q, NULL, 10)) <= 0)
        return dp_httpd_send_error(rq, 400, "invalid_id", "a bake id is a positive number");
    if (dp_snapshot_jobs_status(c->bakes, &st, &err))
        return dp_httpd_send_err(rq, &err);
    latest = json_integer_value(json_object_get(st, "id")); /* 0: none yet */
    json_decref(st);
    if (!latest || (id && id != latest)) /* 404 before the stream starts */
        return dp_httpd_send_error(rq, 404, "no_bake",
                                   latest ? "that bake's events are gone: only the latest "
                                            "bake's are kept"
                                          : "no bake has run since the controller started");
    return bake_follow(rq, id, dp_sse_resume_after(rq), NULL);
}

/* Stops the running bake ({"id"} optional: only that one); it deletes its droplet. */
int ctl_h_bake_cancel(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *body = NULL;
    long long id = 0;
    dp_rc rc = DP_OK;

    if (rq->ri->content_length > 0)
        rc = dp_httpd_read_json(rq, &body, &err);
    if (!rc)
        rc = dp_json_get_int(&id, body, "id", 1, LLONG_MAX, 0, &err);
    if (!rc)
        rc = dp_snapshot_jobs_cancel(c->bakes, id, &err);
    json_decref(body);
    if (!rc)
        dp_log(DP_LOG_INFO, &rq->log, "bake canceled by %s", ctl_user(rq)->username);
    return dp_httpd_answer(rq, 202, rc, rc ? NULL : json_pack("{s:b}", "canceling", 1), &err);
}

int ctl_h_snapshots(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_snapshots(&out, &c->env.fleet, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

int ctl_h_snapshot_transfer_all(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    long long id;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a snapshot id is a positive number");
    rc = dp_fleet_transfer_all(&out, &c->env.fleet, id, &err);
    return dp_httpd_answer(rq, 202, rc, out, &err);
}

int ctl_h_snapshot_delete(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    long long id;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a snapshot id is a positive number");
    rc = dp_fleet_snapshot_delete(&c->env.fleet, id, &err);
    return dp_httpd_answer(
        rq, 200, rc, rc ? NULL : json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1), &err);
}

/* The sizes new servers can have, cheapest first (the page's Size choices). */
int ctl_h_sizes(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_sizes(&out, &c->env.fleet, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

int ctl_h_servers(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_servers(&out, &c->env.fleet, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

/* A provision that failed after creating some servers: the error, plus the servers that exist
 * now (kept so the user can look; deleting them is one call each). */
static int partial(struct dp_req *rq, const struct dp_err *err, const json_t *made)
{
    json_t *out =
        json_pack("{s:s, s:s, s:O}", "error", err->code[0] ? err->code : dp_rc_code(err->rc),
                  "detail", err->msg, "servers_created", made);
    int st =
        out ? dp_httpd_send_json(rq, dp_rc_http_status(err->rc), out) : dp_httpd_send_err(rq, err);

    json_decref(out);
    return st;
}

/* {"count","snapshot_id","region","size"}: creates the servers and answers at once (202); they
 * come up by themselves and show in GET /infra/servers with their addresses. */
int ctl_h_servers_provision(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *region, *size;
    char snap[DP_FLEET_SNAPSHOT_ID_MAX], prefix[64], hex[9];
    struct dp_fleet_plan p = {0};
    struct dp_err err = {0};
    json_t *body = NULL, *made = NULL;
    long long count;
    dp_rc rc = dp_httpd_read_json(rq, &body, &err);

    if (!rc)
        rc = dp_json_get_int(&count, body, "count", 1, 100, 1, &err);
    if (!rc)
        rc = dp_json_get_str(&region, body, "region", false, 63, &err);
    if (!rc)
        rc = dp_json_get_str(&size, body, "size", false, 63, &err);
    if (!rc)
        rc = dp_fleet_snapshot_arg(snap, json_object_get(body, "snapshot_id"), &err);
    if (!rc)
        rc = dp_fleet_plan_make(&p, &c->env.fleet, snap, region, size, &err);
    dp_do_random_hex(hex, 4);
    snprintf(prefix, sizeof(prefix), "server-%s", hex);
    if (!rc)
        rc = dp_fleet_create(&c->env.fleet, &p, ctl_user(rq), prefix, NULL, 0, (int)count, &made,
                             &err);
    if (!rc)
        dp_log(DP_LOG_INFO, &rq->log, "provisioned %lld server(s) from %s in %s", count,
               p.image_name, p.region);
    json_decref(body);
    if (rc && json_array_size(made) > 0)
        rc = partial(rq, &err, made); /* some were made before the failure: say which */
    else
        rc = dp_httpd_answer(rq, 202, rc,
                             rc ? NULL
                                : json_pack("{s:O, s:{s:s, s:s, s:s}}", "servers", made, "plan",
                                            "snapshot", p.image_name, "region", p.region, "size",
                                            p.size),
                             &err);
    json_decref(made);
    dp_fleet_plan_clear(&p);
    return rc;
}

int ctl_h_server_delete(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    long long id;
    dp_rc rc;

    if (!dp_httpd_id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a server id is a positive number");
    rc = dp_fleet_delete(&c->env.fleet, id, &err);
    if (!rc)
        dp_log(DP_LOG_INFO, &rq->log, "deleted server %lld", id);
    return dp_httpd_answer(
        rq, 200, rc, rc ? NULL : json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1), &err);
}
