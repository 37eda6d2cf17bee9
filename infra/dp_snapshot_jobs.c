#include "dp_snapshot_jobs.h"

#include "dp_clock.h"
#include "dp_do.h"
#include "dp_snapshot_req.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One bake: its request (the options point into it) and its outcome. */
struct job {
    long long id;
    struct dp_snapshot_jobs *owner;
    enum dp_snapshot_kind kind;
    json_t *body;
    struct dp_snapshot_req req;
    char agent_url[1024];
    char agent_sha256[65];
    char user[64];
    struct dp_do_client *cloud;
    atomic_bool cancel;
    char started_at[32], ended_at[32];
    const char *state;  /* "running", "done", "failed", "canceled" */
    json_t *last_event; /* done or error; NULL while running */
};

struct dp_snapshot_jobs {
    struct dp_snapshot_jobs_conf conf;
    struct dp_events *hub; /* memory only: the latest bake's channel */
    pthread_mutex_t mu;    /* guards latest, running, thread and the latest's state */
    struct job *latest;
    bool running, joinable;
    pthread_t thread;
    long long next_id;
};

static void job_free(struct job *b)
{
    if (!b)
        return;
    json_decref(b->body);
    json_decref(b->last_event);
    dp_do_free(b->cloud);
    free(b);
}

dp_rc dp_snapshot_jobs_new(struct dp_snapshot_jobs **out, const struct dp_snapshot_jobs_conf *conf,
                           struct dp_err *err)
{
    struct dp_snapshot_jobs *j = calloc(1, sizeof(*j));

    *out = NULL;
    if (!j)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    if (dp_events_new(&j->hub, NULL, err)) {
        free(j);
        return err->rc;
    }
    j->conf = *conf;
    pthread_mutex_init(&j->mu, NULL);
    j->next_id = 1;
    *out = j;
    return DP_OK;
}

/* Waits for the bake thread of an ended (or canceled) bake. Called without j->mu. */
static void join_ended(struct dp_snapshot_jobs *j)
{
    pthread_t t;
    bool join;

    pthread_mutex_lock(&j->mu);
    join = j->joinable;
    t = j->thread;
    j->joinable = false;
    pthread_mutex_unlock(&j->mu);
    if (join)
        pthread_join(t, NULL);
}

void dp_snapshot_jobs_free(struct dp_snapshot_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    if (j->latest)
        atomic_store(&j->latest->cancel, true);
    pthread_mutex_unlock(&j->mu);
    join_ended(j);
    if (j->latest)
        dp_events_drop(j->hub, j->latest->id);
    job_free(j->latest);
    dp_events_free(j->hub);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void dp_snapshot_jobs_shutdown(struct dp_snapshot_jobs *j)
{
    dp_events_shutdown(j->hub);
}

/* ---- the bake's thread ---- */

static dp_rc job_emit(void *ud, json_t *ev)
{
    struct job *b = ud;
    struct dp_err err = {0};

    return dp_events_emit(b->owner->hub, b->id, ev, NULL, &err);
}

static int job_tick(void *ud)
{
    struct job *b = ud;
    const atomic_bool *stop = b->owner->conf.stopping;

    return atomic_load(&b->cancel) || (stop && atomic_load(stop));
}

/* Ends the bake: its last event for viewers and the status, then the channel; last, it is
 * no longer running (from then on the job may be freed by the next start). */
static void job_end(struct job *b, dp_rc rc, const struct dp_snapshot_result *res,
                    const struct dp_err *err)
{
    struct dp_snapshot_jobs *j = b->owner;
    json_t *last = rc ? dp_snapshot_error_event(res, err) : dp_snapshot_done_event(res, false);
    const struct dp_logctx *lc = j->conf.log;

    if (last)
        job_emit(b, last);
    if (rc)
        dp_log(DP_LOG_WARN, lc, "bake failed after %lu API calls: %s [bake %lld]", res->api_calls,
               err->msg, b->id);
    else
        dp_log(DP_LOG_INFO, lc, "baked %s (%lld) with %lu API calls [bake %lld]", res->name,
               res->image_id, res->api_calls, b->id);
    pthread_mutex_lock(&j->mu);
    b->last_event = last;
    b->state = rc == DP_OK ? "done" : rc == DP_ECANCELED ? "canceled" : "failed";
    dp_wall_rfc3339(b->ended_at, sizeof(b->ended_at));
    pthread_mutex_unlock(&j->mu);
    dp_events_close(j->hub, b->id);
    pthread_mutex_lock(&j->mu);
    j->running = false;
    pthread_mutex_unlock(&j->mu);
}

static void *job_main(void *arg)
{
    struct job *b = arg;
    struct dp_snapshot_jobs *j = b->owner;
    struct dp_progress pr = {job_emit, job_tick, b};
    struct dp_snapshot_env env = {.cloud = b->cloud,
                                  .render = j->conf.render,
                                  .render_ud = j->conf.render_ud,
                                  .pr = &pr,
                                  .log = j->conf.log};
    struct dp_snapshot_result res = {0};
    struct dp_err err = {0};
    dp_rc rc = dp_snapshot_bake(&res, &env, &b->req.opts, &err);

    dp_do_free(b->cloud); /* the token goes as soon as the bake ends */
    b->cloud = NULL;
    job_end(b, rc, &res, &err);
    dp_snapshot_result_clear(&res);
    return NULL;
}

/* ---- start, cancel, status, follow ---- */

/* A job from the request, its options pointing into its own copies. */
static dp_rc job_make(struct job **out, const struct dp_snapshot_job_start *s, struct dp_err *err)
{
    struct job *b = calloc(1, sizeof(*b));
    dp_rc rc;

    *out = NULL;
    if (!b || !(b->body = json_deep_copy(s->body))) {
        free(b);
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    rc = dp_snapshot_req_parse(&b->req, b->body, s->kind, err);
    if (!rc && (snprintf(b->agent_url, sizeof(b->agent_url), "%s", s->agent_url) >=
                    (int)sizeof(b->agent_url) ||
                strlen(s->agent_sha256) >= sizeof(b->agent_sha256)))
        rc = dp_err_set(err, DP_EINVAL, "the agent package's URL is too long");
    if (rc) {
        job_free(b);
        return rc;
    }
    snprintf(b->agent_sha256, sizeof(b->agent_sha256), "%s", s->agent_sha256);
    snprintf(b->user, sizeof(b->user), "%s", s->user ? s->user : "");
    b->kind = s->kind;
    b->req.opts.agent_url = b->agent_url;
    b->req.opts.agent_sha256 = b->agent_sha256;
    b->req.opts.allow = s->allow;
    b->req.opts.nallow = s->nallow;
    b->state = "running";
    dp_wall_rfc3339(b->started_at, sizeof(b->started_at));
    *out = b;
    return DP_OK;
}

/* Makes b the latest bake (j->mu held): the previous one's events go. */
static dp_rc job_install(struct dp_snapshot_jobs *j, struct job *b, struct dp_err *err)
{
    struct job *old = j->latest;

    b->id = j->next_id;
    b->owner = j;
    if (dp_events_open(j->hub, b->id, err))
        return err->rc;
    j->next_id++;
    if (old)
        dp_events_drop(j->hub, old->id);
    job_free(old);
    j->latest = b;
    j->running = true;
    return DP_OK;
}

static bool is_running(struct dp_snapshot_jobs *j)
{
    bool r;

    pthread_mutex_lock(&j->mu);
    r = j->running;
    pthread_mutex_unlock(&j->mu);
    return r;
}

static dp_rc busy(struct dp_err *err)
{
    return dp_err_setc(err, DP_ECONFLICT, "bake_in_progress",
                       "a bake is running on this controller; wait for it to end or cancel it");
}

dp_rc dp_snapshot_jobs_start(struct dp_snapshot_jobs *j, const struct dp_snapshot_job_start *s,
                             long long *id, struct dp_err *err)
{
    struct job *b = NULL;
    bool installed = false;
    dp_rc rc = job_make(&b, s, err);

    if (rc || !b) {
        dp_do_free(s->cloud);
        return rc ? rc : DP_ENOMEM;
    }
    b->cloud = s->cloud;
    if (is_running(j)) {
        job_free(b);
        return busy(err);
    }
    join_ended(j); /* the previous bake's thread, past its end: no wait */
    pthread_mutex_lock(&j->mu);
    rc = j->running ? busy(err) : job_install(j, b, err); /* another start may have won */
    installed = rc == DP_OK;
    if (!rc && pthread_create(&j->thread, NULL, job_main, b) != 0) {
        j->running = false;
        b->state = "failed";
        rc = dp_err_set(err, DP_EINTERNAL, "could not start the bake's thread");
    }
    j->joinable = rc == DP_OK;
    if (!rc)
        *id = b->id;
    pthread_mutex_unlock(&j->mu);
    if (!installed)
        job_free(b);
    else if (rc)
        dp_events_close(j->hub, b->id);
    return rc;
}

dp_rc dp_snapshot_jobs_cancel(struct dp_snapshot_jobs *j, long long id, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    pthread_mutex_lock(&j->mu);
    if (!j->running)
        rc = dp_err_setc(err, DP_ECONFLICT, "bake_not_running", "no bake is running");
    else if (id && j->latest->id != id)
        rc = dp_err_setc(err, DP_ECONFLICT, "bake_not_running", "bake %lld is not running", id);
    else
        atomic_store(&j->latest->cancel, true);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static json_t *job_status(const struct job *b)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:O?}", "id", (json_int_t)b->id, "kind",
                     b->kind == DP_SNAPSHOT_BASE ? "base" : "custom", "state", b->state,
                     "started_by", b->user, "started_at", b->started_at, "ended_at",
                     b->ended_at[0] ? b->ended_at : NULL, "last_event", b->last_event);
}

dp_rc dp_snapshot_jobs_status(struct dp_snapshot_jobs *j, json_t **out, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    pthread_mutex_lock(&j->mu);
    *out = j->latest ? job_status(j->latest) : json_pack("{s:n, s:s}", "id", "state", "none");
    if (!*out)
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    pthread_mutex_unlock(&j->mu);
    return rc;
}

dp_rc dp_snapshot_jobs_follow(struct dp_snapshot_jobs *j, long long id, long long after,
                              const struct dp_events_sink *sink, int heartbeat_ms,
                              struct dp_err *err)
{
    long long latest;

    pthread_mutex_lock(&j->mu);
    latest = j->latest ? j->latest->id : 0;
    pthread_mutex_unlock(&j->mu);
    if (!latest)
        return dp_err_setc(err, DP_ENOTFOUND, "no_bake",
                           "no bake has run since the controller started");
    if (id && id != latest)
        return dp_err_setc(err, DP_ENOTFOUND, "no_bake",
                           "bake %lld's events are gone: only the latest bake's are kept", id);
    return dp_events_follow(j->hub, latest, after, sink, heartbeat_ms, err);
}
