/* The controller's bakes: one at a time, each in a thread of its own, so the viewer that started
 * it may leave (a closed tab, a dropped network) without stopping it. Its events are kept in
 * memory (the latest bake's, until the next one starts) for any number of viewers to replay and
 * follow, with the same numbering as a deployment's. A bake stops when asked (cancel) or when
 * the process stops; it is not kept across restarts: one killed with the process leaves its
 * droplet, which the next bake deletes. */
#ifndef DP_SNAPSHOT_JOBS_H
#define DP_SNAPSHOT_JOBS_H

#include "dp_events.h"
#include "dp_log.h"
#include "dp_snapshot.h"

#include <stdatomic.h>

struct dp_snapshot_jobs;

/* What every bake of one controller shares; the pointers outlive the jobs. */
struct dp_snapshot_jobs_conf {
    dp_snapshot_render_fn render;
    void *render_ud;
    const struct dp_logctx *log;
    const atomic_bool *stopping; /* set: the running bake is canceled */
};

/* One bake's start: the request and what the controller adds to it. Strings are copied. */
struct dp_snapshot_job_start {
    enum dp_snapshot_kind kind;
    const json_t *body;       /* the request body (dp_snapshot_req_parse) */
    const char *agent_url;    /* the agent package new droplets download */
    const char *agent_sha256; /* its SHA-256 */
    const char *const *allow; /* addresses agents admit; must outlive the jobs */
    size_t nallow;
    struct dp_do_client *cloud; /* this bake's own client: taken over, success or not */
    const char *user;           /* who asked */
};

dp_rc dp_snapshot_jobs_new(struct dp_snapshot_jobs **out, const struct dp_snapshot_jobs_conf *conf,
                           struct dp_err *err);

/* Cancels a running bake, waits for it to end (it deletes its droplet), frees everything.
 * Viewers must be gone (dp_snapshot_jobs_shutdown first). NULL is fine. */
void dp_snapshot_jobs_free(struct dp_snapshot_jobs *j);

/* Wakes every viewer so it returns (the process is stopping). */
void dp_snapshot_jobs_shutdown(struct dp_snapshot_jobs *j);

/* Checks the request (DP_EINVAL naming the field) and starts the bake; *id is its number.
 * DP_ECONFLICT "bake_in_progress" while another runs. */
dp_rc dp_snapshot_jobs_start(struct dp_snapshot_jobs *j, const struct dp_snapshot_job_start *s,
                             long long *id, struct dp_err *err);

/* Asks the running bake to stop (id 0: whichever runs). DP_ECONFLICT "bake_not_running" when
 * none runs or id names another. The bake deletes its droplet and ends with an error event. */
dp_rc dp_snapshot_jobs_cancel(struct dp_snapshot_jobs *j, long long id, struct dp_err *err);

/* {"id","kind","state":"running"|"done"|"failed"|"canceled","started_by","started_at",
 * "ended_at"|null,"last_event"|null} of the latest bake; {"id":null,"state":"none"} before the
 * first. *out: the caller's. */
dp_rc dp_snapshot_jobs_status(struct dp_snapshot_jobs *j, json_t **out, struct dp_err *err);

/* Sends the latest bake's events after `after`, then each new one while it runs (heartbeats
 * after heartbeat_ms of quiet); returns when it has ended and all was sent, when the viewer is
 * gone (DP_ECANCELED) or at shutdown. id 0: the latest; another id than the latest's:
 * DP_ENOTFOUND "no_bake" (its events are gone). */
dp_rc dp_snapshot_jobs_follow(struct dp_snapshot_jobs *j, long long id, long long after,
                              const struct dp_events_sink *sink, int heartbeat_ms,
                              struct dp_err *err);

#endif
