/* Inside the snapshot service (dp_snapshot*.c only): one operation's context (progress, cancel,
 * the step it is in, the API calls it made) and the pieces bake, transfer and rebuild share. */
#ifndef DP_SNAPSHOT_INT_H
#define DP_SNAPSHOT_INT_H

#include "dp_do_wait.h"
#include "dp_snapshot.h"

#include <stdatomic.h>

/* Defaults of the waits, ms. */
#define SNAP_ACTIVE_MS   600000LL  /* 10 min */
#define SNAP_AGENT_MS    900000LL  /* 15 min */
#define SNAP_SHUTDOWN_MS 120000LL  /* 2 min */
#define SNAP_SNAPSHOT_MS 3600000LL /* 60 min */
#define SNAP_TRANSFER_MS 3600000LL /* 60 min */
#define SNAP_POWEROFF_MS 300000LL  /* 5 min after power_off: the droplet is off */

/* Longest poll intervals of the long waits, ms: they grow x1.5 from 1-2 s up to these, so a
 * real snapshot (minutes) or transfer (tens of minutes) costs tens of calls, not hundreds. */
#define SNAP_SNAPSHOT_POLL_MS 30000LL
#define SNAP_TRANSFER_POLL_MS 60000LL

/* Steps, as events and errors name them. */
#define STEP_PREPARE  "preparing"
#define STEP_SWEEP    "cleaning up leftovers"
#define STEP_CREATE   "creating droplet"
#define STEP_ACTIVE   "waiting for active"
#define STEP_AGENT    "waiting for agent"
#define STEP_FINALIZE "finalizing"
#define STEP_SHUTDOWN "shutting down"
#define STEP_POWEROFF "powering off"
#define STEP_SNAPSHOT "snapshotting"
#define STEP_FIND     "finding image"
#define STEP_DELETE   "deleting droplet"
#define STEP_TRANSFER "transferring"

/* One operation in progress. */
struct snap_ctx {
    const struct dp_snapshot_env *env;
    struct dp_progress pr; /* env->pr's emit; tick = snap_canceled (for the agent client) */
    int64_t t0;
    unsigned long calls0;
    const char *step;
    char waiting_for[192]; /* the step's, repeated by its polls */
    bool canceled;         /* the caller asked to stop (latched) */
    bool cleaning;         /* clean-up runs: cancel checks say no */
    bool owns_cancel;      /* the client's cancel check is ours (env->pr has a tick) */
};

/* Starts ctx: the clock, the call counter, and, when env->pr has a tick, the cancel check on
 * env->cloud (such a client must not be shared with other threads meanwhile). */
void snap_ctx_begin(struct snap_ctx *ctx, const struct dp_snapshot_env *env);

/* Removes the cancel check; the API calls made since begin. */
unsigned long snap_ctx_end(struct snap_ctx *ctx);

/* Non-zero when the caller asked to stop (and clean-up is not running). */
int snap_canceled(void *ctx);

/* Enters step and emits its progress event (waiting_for may be NULL). */
void snap_step(struct snap_ctx *ctx, const char *step, const char *waiting_for);

/* Emits a log event (and a log line when env->log is set). */
void snap_log(struct snap_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A wait that reports each poll as progress of the current step. */
void snap_wait_init(struct dp_do_wait *w, struct snap_ctx *ctx, int64_t timeout_ms,
                    int64_t first_ms, int64_t max_poll_ms);

/* Prefixes err's message with the failed step ("<step> failed: ..."), or says the operation
 * was canceled during it. */
void snap_fail(struct snap_ctx *ctx, dp_rc rc, struct dp_err *err);

/* Starts transfers of img to the regions it lacks (regions, or every region that takes
 * transfers when all), waits for them when wait; *started gets [{"region","action_id"}] and
 * *in_regions the regions img is in afterwards (both new arrays). */
dp_rc snap_transfer(struct snap_ctx *ctx, const json_t *img, const char *const *regions, size_t n,
                    bool all, bool wait, int64_t timeout_ms, json_t **started, json_t **in_regions,
                    struct dp_err *err);

#endif
