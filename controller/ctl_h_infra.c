/* Setup status, snapshots, servers: thin routes over infra/dp_fleet. */
#include "ctl.h"

#include "dp_json.h"

#include <stdio.h>
#include <stdlib.h>

/* Answers a JSON result or the error. */
static int answer(struct dp_req *rq, int status, dp_rc rc, json_t *out, const struct dp_err *err)
{
    int st = rc ? dp_httpd_send_err(rq, err) : dp_httpd_send_json(rq, status, out);

    json_decref(out);
    return st;
}

static bool id_param(long long *out, const struct dp_req *rq)
{
    char *end;

    *out = strtoll(rq->params[0], &end, 10);
    return *rq->params[0] && !*end && *out > 0;
}

int ctl_h_setup_status(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_setup_status(&out, &c->env.fleet, &err);

    return answer(rq, 200, rc, out, &err);
}

/* Baking lands with the snapshot builder; until then these say so plainly. */
int ctl_h_setup_init(struct dp_req *rq)
{
    return dp_httpd_send_error(rq, 501, "not_implemented",
                               "baking a base snapshot is not available in this version yet");
}

int ctl_h_images_build(struct dp_req *rq)
{
    return dp_httpd_send_error(rq, 501, "not_implemented",
                               "building a custom snapshot is not available in this version yet");
}

int ctl_h_snapshots(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_snapshots(&out, &c->env.fleet, &err);

    return answer(rq, 200, rc, out, &err);
}

int ctl_h_snapshot_transfer_all(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    long long id;
    dp_rc rc;

    if (!id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a snapshot id is a positive number");
    rc = dp_fleet_transfer_all(&out, &c->env.fleet, id, &err);
    return answer(rq, 202, rc, out, &err);
}

int ctl_h_snapshot_delete(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    long long id;
    dp_rc rc;

    if (!id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a snapshot id is a positive number");
    rc = dp_fleet_snapshot_delete(&c->env.fleet, id, &err);
    return answer(rq, 200, rc,
                  rc ? NULL : json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1), &err);
}

int ctl_h_servers(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_fleet_servers(&out, &c->env.fleet, &err);

    return answer(rq, 200, rc, out, &err);
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
        rc = answer(rq, 202, rc,
                    rc ? NULL
                       : json_pack("{s:O, s:{s:s, s:s, s:s}}", "servers", made, "plan", "snapshot",
                                   p.image_name, "region", p.region, "size", p.size),
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

    if (!id_param(&id, rq))
        return dp_httpd_send_error(rq, 400, "invalid_id", "a server id is a positive number");
    rc = dp_fleet_delete(&c->env.fleet, id, &err);
    if (!rc)
        dp_log(DP_LOG_INFO, &rq->log, "deleted server %lld", id);
    return answer(rq, 200, rc,
                  rc ? NULL : json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1), &err);
}
