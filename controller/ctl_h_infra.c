/* Setup status, snapshots, servers: thin routes over infra/dp_fleet. */
#include "ctl.h"

#include "cloudinit.h"
#include "dp_json.h"
#include "dp_snapshot_req.h"
#include "dp_sse.h"

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

/* Runs the bake with its own DigitalOcean client (the cancel check and the call count are this
 * bake's alone) and streams its events, then the last one. */
static int bake_run(struct dp_req *rq, const struct dp_snapshot_opts *o)
{
    struct ctl *c = rq->app;
    struct dp_do_client *cloud = NULL;
    struct dp_snapshot_result res = {0};
    struct dp_sse_feed feed;
    struct dp_err err = {0};
    json_t *last;

    if (dp_do_new(&cloud, dp_do_base_url(c->cloud), c->do_token, &err))
        return dp_httpd_send_err(rq, &err);
    dp_snapshot_client_tune(cloud);
    if (dp_sse_feed_start(&feed, rq, BAKE_HEARTBEAT_MS, &c->stopping) == DP_OK) {
        struct dp_snapshot_env env = {.cloud = cloud,
                                      .render = cloudinit_render_snapshot_doc,
                                      .render_ud = c,
                                      .pr = &feed.pr,
                                      .log = &rq->log};
        dp_rc rc = dp_snapshot_bake(&res, &env, o, &err);

        last = rc ? dp_snapshot_error_event(&res, &err) : dp_snapshot_done_event(&res, false);
        if (last)
            dp_sse_feed_send(&feed, last);
        json_decref(last);
        if (rc)
            dp_log(DP_LOG_WARN, &rq->log, "bake failed after %lu API calls: %s", res.api_calls,
                   err.msg);
        else
            dp_log(DP_LOG_INFO, &rq->log, "baked %s (%lld) with %lu API calls", res.name,
                   res.image_id, res.api_calls);
    }
    dp_snapshot_result_clear(&res);
    dp_do_free(cloud);
    return rq->status;
}

/* Reads and checks the request, then bakes (one bake at a time: 409 for a second one). */
static int bake_stream(struct dp_req *rq, enum dp_snapshot_kind kind)
{
    struct ctl *c = rq->app;
    struct dp_snapshot_req req;
    char url[CTL_STR_MAX + 32], sha[65] = "";
    struct dp_err err = {0};
    json_t *body = NULL;
    int st;
    dp_rc rc = dp_httpd_read_json(rq, &body, &err);

    if (!rc)
        rc = dp_snapshot_req_parse(&req, body, kind, &err);
    if (!rc)
        rc = bake_fill(&req.opts, c, url, sizeof(url), sha, &err);
    if (!rc && atomic_exchange(&c->baking, true))
        rc = dp_err_setc(&err, DP_ECONFLICT, "bake_in_progress",
                         "a bake is running on this controller; wait for it to end");
    if (rc) {
        json_decref(body);
        return dp_httpd_send_err(rq, &err);
    }
    dp_log(DP_LOG_INFO, &rq->log, "%s bake started by %s",
           kind == DP_SNAPSHOT_BASE ? "base" : "custom", ctl_user(rq)->username);
    st = bake_run(rq, &req.opts);
    atomic_store(&c->baking, false);
    json_decref(body);
    return st;
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
