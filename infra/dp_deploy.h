/* The unified deploy: one request, any source (code, git, image), any targets (servers the
 * controller knows, by address, and new ones provisioned from a snapshot), servers worked in
 * parallel (bounded), one failing server never stopping the others. Code and git are built once,
 * on the first server, and the image is streamed agent to agent to the rest, so every server
 * runs the same image id. Every step is an event (dp_events); the last is
 *   {"type":"done","success":<all ok>,"deployment_id","app","version",
 *    "servers":[{"ip","success","error","image_id","container_id"}]}.
 * Secrets (DO token, agent keys, git token, registry password, env values) never reach an event,
 * a log line or the stored summary: env values show as KEY=***. */
#ifndef DP_DEPLOY_H
#define DP_DEPLOY_H

#include "dp_do.h"
#include "dp_err.h"
#include "dp_events.h"
#include "dp_fleet.h"
#include "dp_log.h"
#include "dp_store.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#define DP_DEPLOY_NEW_MAX      100 /* new servers one deploy may create */
#define DP_DEPLOY_TARGETS_MAX  256 /* servers in one deploy */
#define DP_DEPLOY_PARALLEL_DEF 16  /* servers worked at once */

enum dp_source { DP_SRC_IMAGE, DP_SRC_GIT, DP_SRC_CODE };

/* A validated deploy request. Secrets are owned copies, wiped by dp_deploy_req_clear. */
struct dp_deploy_req {
    char app[64];
    int port;    /* the container's port, published on the same host port; 0: none */
    json_t *env; /* {"KEY":"value"}; owned */
    char environment[64];
    json_t *labels; /* extra container labels from "tags"; owned */
    enum dp_source source;
    char image[256]; /* image: the reference; code/git: set by the build */
    char *registry_user, *registry_password;
    char *git_url, *git_token;
    char git_branch[256];
    char dockerfile[1025]; /* path inside the code or repository; "" for the default */
    char code_tar[4096];   /* code: a prepared tar file (dp_code), removed when the deploy ends */
    json_t *server_ips;    /* ["1.2.3.4", ...]; owned */
    int new_count;
    char snapshot_id[32], region[64], size[64];
    json_t *summary; /* what was asked without secrets, for the store and the page */
};

/* Validates a deploy request body (JSON, or the text fields of a multipart form) into *out.
 * Each problem is DP_EINVAL naming the field; no secret appears in a message. The code itself
 * is attached by the caller (code_tar) after dp_code prepared it. */
dp_rc dp_deploy_req_parse(struct dp_deploy_req *out, const json_t *body, struct dp_err *err);
void dp_deploy_req_clear(struct dp_deploy_req *r);

/* What the deploy needs from its controller. Read-only while deploys run. */
struct dp_deploy_env {
    struct dp_fleet fleet; /* store, DigitalOcean, token, user-data renderer, allow */
    struct dp_events *events;
    int parallel;            /* servers at once; 0: DP_DEPLOY_PARALLEL_DEF */
    long long agent_wait_ms; /* for new servers' agents to answer (default 600 s) */
    long agent_stall_ms;     /* an agent stream silent this long is dead (0: the default) */
    struct dp_logctx log;
    atomic_ulong deploys_ok, deploys_failed, deploys_canceled;
    atomic_ullong deploy_ms_total; /* for /metrics */
};

struct dp_deploys; /* the running deploys, for cancel and shutdown */

dp_rc dp_deploys_new(struct dp_deploys **out, struct dp_deploy_env *env, struct dp_err *err);

/* Cancels every running deploy and waits for them (bounded by wait_ms), then frees. */
void dp_deploys_free(struct dp_deploys *d, int wait_ms);

/* Starts a deploy by user: takes the app's lock (DP_ECONFLICT "deploy_in_progress" naming who
 * holds it and since when), opens its event channel, and runs it in its own thread, so a viewer
 * leaving does not stop it. The request is moved into the deploy (r is cleared). */
dp_rc dp_deploys_start(struct dp_deploys *d, struct dp_deploy_req *r, const struct dp_user *user,
                       long long *deployment_id, struct dp_err *err);

/* Asks a running deploy to stop: its agent streams are closed (which stops builds, pulls and
 * clones on the servers) and it ends with status "canceled". DP_ENOTFOUND when not running. */
dp_rc dp_deploys_cancel(struct dp_deploys *d, long long deployment_id, struct dp_err *err);

/* Running deploys now. */
long dp_deploys_running(struct dp_deploys *d);

#endif
