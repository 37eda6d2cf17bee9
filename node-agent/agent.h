/* The agent's one context, built in main and handed to every handler as rq->app. */
#ifndef AGENT_H
#define AGENT_H

#include "agent_conf.h"
#include "dp_authgate.h"
#include "dp_docker.h"
#include "dp_health.h"
#include "dp_limits.h"
#include "dp_router.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define AGENT_ROUTES_MAX 32

/* Long operations counted by outcome in /metrics. */
enum agent_op {
    AGENT_OP_UPLOAD,
    AGENT_OP_CLONE,
    AGENT_OP_BUILD,
    AGENT_OP_PULL,
    AGENT_OP_LOAD,
    AGENT_OP_EXPORT,
    AGENT_OP_RUN,
    AGENT_OP__COUNT
};

struct agent_metrics {
    atomic_ulong requests[AGENT_ROUTES_MAX][6]; /* by route index and status class (n/100) */
    atomic_ulong unrouted[6];                   /* 404/405 and refused before routing */
    atomic_ulong auth_failures;
    atomic_ulong auth_blocked;
    atomic_ulong ops[AGENT_OP__COUNT][2]; /* [op][0 ok, 1 failed] */
    atomic_ullong upload_bytes;
    atomic_long streams_active;
};

struct agent {
    struct agent_conf conf;
    struct dp_docker docker;
    struct mg_context *mg;
    struct dp_authgate *gate;
    pthread_rwlock_t key_lock;     /* SIGHUP swaps the key while requests read it */
    char key[DP_KEY_MAX + 1];      /* "" when no key is configured: every request is refused */
    char bake_key[DP_KEY_MAX + 1]; /* "" outside a bake; under key_lock */
    pthread_mutex_t bake_mu;       /* one finalize at a time */
    atomic_bool stopping;          /* SIGTERM: long operations end */
    int64_t started_mono_s;
    char self_exe[1024]; /* this binary, re-run for the git clone helper */
    struct agent_metrics metrics;
    struct dp_health_cache health;
};

/* The route table, in agent_routes.c. */
extern const struct dp_route agent_routes[];
extern const size_t agent_routes_count;

/* The civetweb handler for every path: auth first, then routing. */
int agent_dispatch(struct mg_connection *conn, void *app);

/* Re-reads the key file; keeps the old key when the new one is unreadable. Also re-reads the
 * bake key file (a missing one ends bake mode). */
void agent_reload_key(struct agent *ag);

/* Loads the bake key from --bake-key-file, if one is given; a missing file is no bake mode. */
void agent_load_bake_key(struct agent *ag, struct dp_logctx *lc);

/* True while the bake key is loaded and its file still exists. */
bool agent_bake_live(struct agent *ag);

/* Forgets the bake key (after finalize). */
void agent_bake_forget(struct agent *ag);

/* Counts an operation's outcome for /metrics. */
void agent_count_op(struct agent *ag, enum agent_op op, int ok);

/* Handlers, one file per concern. */
int agent_h_ping(struct dp_req *rq);
int agent_h_health(struct dp_req *rq);
int agent_h_metrics(struct dp_req *rq);
int agent_h_upload(struct dp_req *rq);
int agent_h_git_clone(struct dp_req *rq);
int agent_h_build(struct dp_req *rq);
int agent_h_pull(struct dp_req *rq);
int agent_h_export(struct dp_req *rq);
int agent_h_load(struct dp_req *rq);
int agent_h_run(struct dp_req *rq);
int agent_h_list(struct dp_req *rq);
int agent_h_inspect(struct dp_req *rq);
int agent_h_start(struct dp_req *rq);
int agent_h_stop(struct dp_req *rq);
int agent_h_restart(struct dp_req *rq);
int agent_h_remove(struct dp_req *rq);
int agent_h_logs(struct dp_req *rq);
int agent_h_bake_finalize(struct dp_req *rq);

#endif
