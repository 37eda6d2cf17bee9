/* The front door: /_sim (admin, no token) and /v2 (bearer token, rate limits, injected faults,
 * then the route table). Patterns use the OpenAPI path names, so counters read like the spec. */
#include "dosim_routes.h"

#include "dp_key.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct dp_route api_routes[] = {
    {"GET", "/v2/account", dosim_h_account, NULL},
    {"GET", "/v2/account/keys", dosim_h_keys_list, NULL},
    {"POST", "/v2/account/keys", dosim_h_key_create, NULL},
    {"GET", "/v2/account/keys/{ssh_key_identifier}", dosim_h_key_get, NULL},
    {"PUT", "/v2/account/keys/{ssh_key_identifier}", dosim_h_key_update, NULL},
    {"DELETE", "/v2/account/keys/{ssh_key_identifier}", dosim_h_key_delete, NULL},
    {"GET", "/v2/regions", dosim_h_regions, NULL},
    {"GET", "/v2/sizes", dosim_h_sizes, NULL},
    {"GET", "/v2/tags", dosim_h_tags_list, NULL},
    {"POST", "/v2/tags", dosim_h_tag_create, NULL},
    {"GET", "/v2/tags/{tag_id}", dosim_h_tag_get, NULL},
    {"DELETE", "/v2/tags/{tag_id}", dosim_h_tag_delete, NULL},
    {"POST", "/v2/tags/{tag_id}/resources", dosim_h_tag_resources_add, NULL},
    {"DELETE", "/v2/tags/{tag_id}/resources", dosim_h_tag_resources_remove, NULL},
    {"GET", "/v2/droplets", dosim_h_droplets_list, NULL},
    {"POST", "/v2/droplets", dosim_h_droplets_create, NULL},
    {"DELETE", "/v2/droplets", dosim_h_droplets_delete_tag, NULL},
    {"GET", "/v2/droplets/{droplet_id}", dosim_h_droplet_get, NULL},
    {"DELETE", "/v2/droplets/{droplet_id}", dosim_h_droplet_delete, NULL},
    {"GET", "/v2/droplets/{droplet_id}/snapshots", dosim_h_droplet_snapshots, NULL},
    {"GET", "/v2/droplets/{droplet_id}/actions", dosim_h_droplet_actions_list, NULL},
    {"POST", "/v2/droplets/{droplet_id}/actions", dosim_h_droplet_action_post, NULL},
    {"GET", "/v2/droplets/{droplet_id}/actions/{action_id}", dosim_h_droplet_action_get, NULL},
    {"GET", "/v2/actions", dosim_h_actions_list, NULL},
    {"GET", "/v2/actions/{action_id}", dosim_h_action_get, NULL},
    {"GET", "/v2/images", dosim_h_images_list, NULL},
    {"GET", "/v2/images/{image_id}", dosim_h_image_get, NULL},
    {"DELETE", "/v2/images/{image_id}", dosim_h_image_delete, NULL},
    {"GET", "/v2/images/{image_id}/actions", dosim_h_image_actions_list, NULL},
    {"POST", "/v2/images/{image_id}/actions", dosim_h_image_action_post, NULL},
    {"GET", "/v2/images/{image_id}/actions/{action_id}", dosim_h_image_action_get, NULL},
    {"GET", "/v2/snapshots", dosim_h_snapshots_list, NULL},
    {"GET", "/v2/snapshots/{snapshot_id}", dosim_h_snapshot_get, NULL},
    {"DELETE", "/v2/snapshots/{snapshot_id}", dosim_h_snapshot_delete, NULL},
};

static const struct dp_route sim_routes[] = {
    {"GET", "/_sim/state", dosim_h_sim_state, NULL},
    {"GET", "/_sim/faults", dosim_h_sim_faults_get, NULL},
    {"POST", "/_sim/faults", dosim_h_sim_faults_set, NULL},
    {"GET", "/_sim/droplets/{droplet_id}/log", dosim_h_sim_droplet_log, NULL},
    {"POST", "/_sim/reset-counters", dosim_h_sim_reset_counters, NULL},
};

#define NROUTES(t) (sizeof(t) / sizeof((t)[0]))

/* "http://" + the Host the client used (when it looks like a host), else the listen address. */
static void base_url(struct dosim_req *r)
{
    const char *host = mg_get_header(r->base.conn, "Host");

    if (!host || !*host || strlen(host) > 200 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
            strlen(host))
        host = r->sim->conf.listen;
    snprintf(r->base_url, sizeof(r->base_url), "http://%s", host);
}

/* The bearer token, or NULL when there is none. */
static const char *bearer(struct mg_connection *conn)
{
    const char *auth = mg_get_header(conn, "Authorization");

    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return *auth ? auth : NULL;
}

static bool token_ok(const struct dosim *sim, const char *token)
{
    if (!token)
        return false;
    if (!sim->conf.token[0])
        return true;
    return dp_key_equal(token, strlen(token), sim->conf.token);
}

static void route(struct dosim_req *r, const struct dp_route *table, size_t n)
{
    const char *method = r->base.ri->request_method;
    const struct dp_route *rt;
    int status;

    rt = dp_router_match(table, n, method, r->base.ri->local_uri_raw, &r->base, &status);
    if (!rt) {
        if (status == 405)
            dosim_reply_error(r, 405, "method_not_allowed", "%s is not allowed here", method);
        else
            dosim_reply_not_found(r);
        return;
    }
    r->base.route = rt;
    rt->fn(&r->base);
}

static void serve_api(struct dosim_req *r)
{
    const char *token = bearer(r->base.conn);
    bool keys_get = strcmp(r->base.ri->request_method, "GET") == 0 &&
                    strcmp(r->base.ri->local_uri_raw, "/v2/account/keys") == 0;

    r->api = true;
    if (!token_ok(r->sim, token)) {
        dosim_rl_peek(&r->sim->rl, NULL, &r->rl);
        dosim_reply_error(r, 401, "unauthorized", "Unable to authenticate you.");
        return;
    }
    dosim_rl_take(&r->sim->rl, token, keys_get, &r->rl);
    if (r->rl.limited) {
        dosim_reply_error(r, 429, "too_many_requests", "API rate limit exceeded.");
        return;
    }
    switch (dosim_faults_roll(&r->sim->faults)) {
    case DOSIM_FAULT_429:
        r->rl.remaining = 0;
        r->rl.retry_after = 1;
        dosim_reply_error(r, 429, "too_many_requests", "API rate limit exceeded.");
        return;
    case DOSIM_FAULT_500:
        dosim_reply_error(r, 500, "server_error", "Unexpected server-side error");
        return;
    case DOSIM_FAULT_NONE:
        break;
    }
    route(r, api_routes, NROUTES(api_routes));
}

int dosim_dispatch(struct mg_connection *conn, void *app)
{
    struct dosim *sim = app;
    struct dosim_req r;
    const char *path;

    memset(&r, 0, sizeof(r));
    dp_req_init(&r.base, conn, "dosim", sim);
    r.sim = sim;
    base_url(&r);
    path = r.base.ri->local_uri_raw;
    if (strncmp(path, "/_sim/", 6) == 0)
        route(&r, sim_routes, NROUTES(sim_routes));
    else if (strncmp(path, "/v2/", 4) == 0 || strcmp(path, "/v2") == 0)
        serve_api(&r);
    else
        dosim_reply_not_found(&r);
    if (r.base.status >= 500)
        dp_log(DP_LOG_WARN, &r.base.log, "%s %.200s -> %d", r.base.ri->request_method, path,
               r.base.status);
    else
        dp_log(DP_LOG_DEBUG, &r.base.log, "%s %.200s -> %d", r.base.ri->request_method, path,
               r.base.status);
    json_decref(r.body);
    return r.base.status ? r.base.status : 500;
}
