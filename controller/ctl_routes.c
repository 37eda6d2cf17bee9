/* The page's files outside /api/, then the API: auth before routing, then the route table. */
#include "ctl.h"

#include "dp_clock.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#define API "/api/v1"

/* Routes that need no login carry a NULL-free metric name ending in "!". */
const struct dp_route ctl_routes[] = {
    {"POST", API "/auth/login", ctl_h_login, "login!"},
    {"GET", API "/openapi.json", ctl_h_openapi, "openapi!"},
    {"GET", API "/version", ctl_h_version, "version!"},
    {"POST", API "/auth/logout", ctl_h_logout, "logout"},
    {"GET", API "/me/credentials", ctl_h_credentials, "credentials"},
    {"GET", API "/settings", ctl_h_settings_get, "settings_get"},
    {"PUT", API "/settings", ctl_h_settings_put, "settings_put"},
    {"GET", API "/infra/setup/status", ctl_h_setup_status, "setup_status"},
    {"POST", API "/infra/setup/init/stream", ctl_h_setup_init, "setup_init"},
    {"POST", API "/infra/images/build/stream", ctl_h_images_build, "images_build"},
    {"GET", API "/infra/bake", ctl_h_bake_status, "bake_status"},
    {"GET", API "/infra/bake/events", ctl_h_bake_events, "bake_events"},
    {"POST", API "/infra/bake/cancel", ctl_h_bake_cancel, "bake_cancel"},
    {"GET", API "/infra/snapshots", ctl_h_snapshots, "snapshots"},
    {"POST", API "/infra/snapshots/{id}/transfer-all", ctl_h_snapshot_transfer_all,
     "snapshot_transfer"},
    {"DELETE", API "/infra/snapshots/{id}", ctl_h_snapshot_delete, "snapshot_delete"},
    {"GET", API "/infra/sizes", ctl_h_sizes, "sizes"},
    {"GET", API "/infra/servers", ctl_h_servers, "servers"},
    {"POST", API "/infra/servers/provision", ctl_h_servers_provision, "servers_provision"},
    {"DELETE", API "/infra/servers/{id}", ctl_h_server_delete, "server_delete"},
    {"POST", API "/infra/deploy", ctl_h_deploy, "deploy"},
    {"POST", API "/infra/deploy/single", ctl_h_deploy_single, "deploy_single"},
    {"POST", API "/infra/deploy/upload", ctl_h_deploy_upload, "deploy_upload"},
    {"GET", API "/infra/agent/health", ctl_h_agent_health, "agent_health"},
    {"POST", API "/infra/agent/{ip}/build", ctl_h_agent_proxy, "agent_build"},
    {"POST", API "/infra/agent/{ip}/containers/run", ctl_h_agent_proxy, "agent_run"},
    {"POST", API "/infra/agent/{ip}/pull", ctl_h_agent_proxy, "agent_pull"},
    {"POST", API "/infra/agent/{ip}/git/clone", ctl_h_agent_proxy, "agent_clone"},
    {"GET", API "/deployments", ctl_h_deployments, "deployments"},
    {"GET", API "/deployments/{id}", ctl_h_deployment, "deployment"},
    {"GET", API "/deployments/{id}/events", ctl_h_deployment_events, "deployment_events"},
    {"POST", API "/deployments/{id}/cancel", ctl_h_deployment_cancel, "deployment_cancel"},
    {"POST", API "/deployments/{id}/stop", ctl_h_deployment_act, "deployment_stop"},
    {"POST", API "/deployments/{id}/start", ctl_h_deployment_act, "deployment_start"},
    {"POST", API "/deployments/{id}/restart", ctl_h_deployment_act, "deployment_restart"},
    {"DELETE", API "/deployments/{id}", ctl_h_deployment_delete, "deployment_delete"},
};
const size_t ctl_routes_count = sizeof(ctl_routes) / sizeof(ctl_routes[0]);

_Static_assert(sizeof(ctl_routes) / sizeof(ctl_routes[0]) <= CTL_ROUTES_MAX, "grow CTL_ROUTES_MAX");

/* A request with the user it authenticated as. */
struct ctl_req {
    struct dp_req base;
    struct dp_user user;
};

const struct dp_user *ctl_user(const struct dp_req *rq)
{
    return &((const struct ctl_req *)(const void *)rq)->user;
}

static bool is_public(const struct dp_route *r)
{
    size_t n = strlen(r->metric);

    return n && r->metric[n - 1] == '!';
}

/* The session behind "Authorization: Bearer <token>"; answers 401 when there is none. */
static int authenticate(struct ctl *c, struct ctl_req *cr)
{
    const char *auth = mg_get_header(cr->base.conn, "Authorization");
    struct dp_err err = {0};

    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
        dp_store_session_user(c->store, auth + 7, &cr->user, &err) == DP_OK)
        return 0;
    return dp_httpd_send_error(&cr->base, 401, "unauthorized",
                               "log in first (POST /api/v1/auth/login) and send the token as "
                               "'Authorization: Bearer <token>'");
}

static void count(struct ctl *c, const struct dp_route *r, int status)
{
    int cls = status / 100;

    if (cls < 0 || cls > 5)
        cls = 0;
    if (r)
        atomic_fetch_add(&c->metrics.requests[r - ctl_routes][cls], 1);
    else
        atomic_fetch_add(&c->metrics.unrouted[cls], 1);
}

static int serve_api(struct ctl *c, struct ctl_req *cr)
{
    const struct dp_route *r;
    int status;

    r = dp_router_match(ctl_routes, ctl_routes_count, cr->base.ri->request_method,
                        cr->base.ri->local_uri_raw, &cr->base, &status);
    if (!(r && is_public(r)) && authenticate(c, cr)) {
        count(c, NULL, cr->base.status);
        return cr->base.status;
    }
    if (!r) {
        dp_httpd_send_error(&cr->base, status, status == 404 ? "not_found" : "method_not_allowed",
                            "%s %.200s is not a route of this API", cr->base.ri->request_method,
                            cr->base.ri->local_uri_raw);
    } else {
        cr->base.route = r;
        r->fn(&cr->base);
    }
    count(c, r, cr->base.status);
    return cr->base.status;
}

int ctl_dispatch(struct mg_connection *conn, void *app)
{
    struct ctl *c = app;
    struct ctl_req cr;
    const char *path;

    memset(&cr.user, 0, sizeof(cr.user));
    dp_req_init(&cr.base, conn, "ctl", c);
    path = cr.base.ri->local_uri_raw;
    if (strncmp(path, API "/", strlen(API) + 1) == 0 || strcmp(path, API) == 0)
        return serve_api(c, &cr);
    if (strcmp(path, "/metrics") == 0)
        return ctl_h_metrics(&cr.base);
    if (strncmp(path, "/agent/", 7) == 0)
        return ctl_h_agent_package(&cr.base);
    if (ctl_serve_static(&cr.base))
        return cr.base.status;
    return dp_httpd_send_error(&cr.base, 404, "not_found", "nothing at %.200s", path);
}
