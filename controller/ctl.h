/* The controller's one context, built in main and handed to every handler as rq->app. */
#ifndef CTL_H
#define CTL_H

#include "ctl_conf.h"
#include "dp_authgate.h"
#include "dp_deploy.h"
#include "dp_do.h"
#include "dp_dockerfile.h"
#include "dp_events.h"
#include "dp_fleet.h"
#include "dp_router.h"
#include "dp_snapshot.h"
#include "dp_store.h"

#include <civetweb.h>
#include <stdatomic.h>

#define CTL_ROUTES_MAX 64

struct ctl_metrics {
    atomic_ulong requests[CTL_ROUTES_MAX][6]; /* by route and status class */
    atomic_ulong unrouted[6];
    atomic_ulong logins_failed;
};

struct ctl {
    struct ctl_conf conf;
    struct mg_context *mg;
    struct dp_store *store;
    struct dp_events *events;
    struct dp_do_client *cloud; /* NULL without a DigitalOcean token */
    char *do_token;             /* owned; wiped at exit */
    struct dp_deploy_env env;   /* holds the fleet (store, cloud, token, renderer, allow) */
    struct dp_deploys *deploys;
    struct dp_authgate *login_gate;
    const char *allow[CTL_ALLOW_MAX]; /* addresses new agents admit */
    size_t nallow;
    char *git_ca_pem; /* --git-ca-file's certificates for new agents, or NULL; owned */
    int spool_lock;   /* holds the spool folder's lock while we run (0: not taken) */
    struct dp_dockerfile_bases bases; /* from the flags, defaults where none */
    atomic_bool stopping;
    struct dp_memo *listing;        /* GET /infra/servers, shared for a moment (dp_fleet) */
    struct dp_snapshot_jobs *bakes; /* one at a time: each deletes leftover bake droplets first */
    struct ctl_metrics metrics;
};

extern const struct dp_route ctl_routes[];
extern const size_t ctl_routes_count;

/* The civetweb handler for every path: the page's files, then the API (auth first). */
int ctl_dispatch(struct mg_connection *conn, void *app);

/* The user a request authenticated as; only valid in API handlers (after the auth check). */
const struct dp_user *ctl_user(const struct dp_req *rq);

/* Handlers, one file per concern. */
int ctl_h_login(struct dp_req *rq);
int ctl_h_logout(struct dp_req *rq);
int ctl_h_credentials(struct dp_req *rq);
int ctl_h_version(struct dp_req *rq);
int ctl_h_settings_get(struct dp_req *rq);
int ctl_h_settings_put(struct dp_req *rq);
int ctl_h_setup_status(struct dp_req *rq);
int ctl_h_setup_init(struct dp_req *rq);
int ctl_h_images_build(struct dp_req *rq);
int ctl_h_bake_status(struct dp_req *rq);
int ctl_h_bake_events(struct dp_req *rq);
int ctl_h_bake_cancel(struct dp_req *rq);
int ctl_h_snapshots(struct dp_req *rq);
int ctl_h_snapshot_transfer_all(struct dp_req *rq);
int ctl_h_snapshot_delete(struct dp_req *rq);
int ctl_h_sizes(struct dp_req *rq);
int ctl_h_servers(struct dp_req *rq);
int ctl_h_servers_provision(struct dp_req *rq);
int ctl_h_server_delete(struct dp_req *rq);
int ctl_h_deploy(struct dp_req *rq);
int ctl_h_deploy_single(struct dp_req *rq);
int ctl_h_deploy_upload(struct dp_req *rq);
int ctl_h_agent_health(struct dp_req *rq);
int ctl_h_agent_proxy(struct dp_req *rq);
int ctl_h_deployments(struct dp_req *rq);
int ctl_h_deployment(struct dp_req *rq);
int ctl_h_deployment_events(struct dp_req *rq);
int ctl_h_deployment_cancel(struct dp_req *rq);
int ctl_h_deployment_act(struct dp_req *rq);
int ctl_h_deployment_delete(struct dp_req *rq);
int ctl_h_openapi(struct dp_req *rq);
int ctl_h_metrics(struct dp_req *rq);
int ctl_h_agent_package(struct dp_req *rq);

/* Serves a file of the page (static/) for GET paths outside /api/; 0 when there is none. */
int ctl_serve_static(struct dp_req *rq);

/* Streams a deployment's events as SSE from after (Last-Event-ID), then live. */
int ctl_stream_events(struct dp_req *rq, long long deployment_id, long long after);

#endif
