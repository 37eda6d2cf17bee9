/* The running deploys: start, cancel, the thread of each, its events and its last word. */
#include "dp_deploy_int.h"

#include "dp_clock.h"
#include "dp_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dp_deploys {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    struct dp_deploy_env *env;
    struct deploy *running;
    long count;
};

/* ---- events ---- */

static void emit(struct deploy *d, json_t *ev)
{
    struct dp_err err = {0};

    if (ev && dp_events_emit(d->env->events, d->id, ev, NULL, &err))
        dp_log(DP_LOG_ERROR, &d->env->log, "deployment %lld: event not stored: %s", d->id, err.msg);
    json_decref(ev);
}

void deploy_log(struct deploy *d, const char *ip, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *ev;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ev = json_pack("{s:s, s:o}", "type", "log", "message", dp_json_string_lossy(msg, strlen(msg)));
    if (ev && ip)
        json_object_set_new(ev, "server", json_string(ip));
    emit(d, ev);
}

void deploy_step(struct deploy *d, const char *ip, const char *step)
{
    json_t *ev = json_pack("{s:s, s:s}", "type", "progress", "step", step);

    if (ev && ip)
        json_object_set_new(ev, "server", json_string(ip));
    emit(d, ev);
}

void deploy_fail_job(struct deploy *d, struct srv_job *j, const struct dp_err *err)
{
    j->ok = false;
    snprintf(j->error, sizeof(j->error), "%s", err->msg[0] ? err->msg : "failed");
    deploy_log(d, j->ip, "failed: %s", j->error);
    deploy_step(d, j->ip, "failed");
}

/* Agent stream events, tagged with the server they came from. */
static dp_rc job_emit(void *ud, json_t *ev)
{
    struct job_progress *p = ud;
    json_t *copy = json_deep_copy(ev);

    if (copy) {
        json_object_set_new(copy, "server", json_string(p->j->ip));
        emit(p->d, copy);
    }
    return DP_OK;
}

static int job_tick(void *ud)
{
    struct job_progress *p = ud;

    return atomic_load(&p->d->cancel);
}

void job_progress_init(struct job_progress *p, struct deploy *d, struct srv_job *j)
{
    p->pr.emit = job_emit;
    p->pr.tick = job_tick;
    p->pr.ud = p;
    p->d = d;
    p->j = j;
}

/* ---- bounded parallel work over the servers ---- */

struct pool {
    struct deploy *d;
    void (*fn)(struct deploy *d, struct srv_job *j);
    atomic_size_t next;
};

static void *pool_run(void *arg)
{
    struct pool *p = arg;
    size_t i;

    while ((i = atomic_fetch_add(&p->next, 1)) < p->d->njobs) {
        struct srv_job *j = &p->d->jobs[i];

        if (j->ok && !atomic_load(&p->d->cancel))
            p->fn(p->d, j);
    }
    return NULL;
}

void deploy_each(struct deploy *d, void (*fn)(struct deploy *d, struct srv_job *j))
{
    int width = d->env->parallel > 0 ? d->env->parallel : DP_DEPLOY_PARALLEL_DEF;
    struct pool p = {.d = d, .fn = fn};
    pthread_t t[64];
    int n = 0;

    if ((size_t)width > d->njobs)
        width = (int)d->njobs;
    for (; n < width && n < 64; n++) {
        if (pthread_create(&t[n], NULL, pool_run, &p) != 0)
            break;
    }
    if (n == 0)
        pool_run(&p); /* no thread to be had: work here */
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* ---- the deploy ---- */

static size_t ok_count(const struct deploy *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->njobs; i++)
        n += d->jobs[i].ok;
    return n;
}

static json_t *servers_result(const struct deploy *d)
{
    json_t *a = json_array();

    for (size_t i = 0; i < d->njobs; i++) {
        const struct srv_job *j = &d->jobs[i];

        json_array_append_new(a, json_pack("{s:s, s:b, s:s?, s:s, s:s, s:I}", "ip", j->ip,
                                           "success", j->ok, "error", j->ok ? NULL : j->error,
                                           "image_id", j->image_id, "container_id", j->container_id,
                                           "droplet_id", (json_int_t)j->droplet_id));
    }
    return a;
}

/* The last event, and the stored outcome. */
static void deploy_finish(struct deploy *d, const struct dp_err *fatal, int64_t t0)
{
    bool canceled = atomic_load(&d->cancel);
    bool success = !fatal && !canceled && d->njobs > 0 && ok_count(d) == d->njobs;
    const char *status = canceled ? "canceled" : success ? "succeeded" : "failed";
    json_t *servers = servers_result(d);
    json_t *done =
        json_pack("{s:s, s:b, s:I, s:s, s:I, s:s, s:O}", "type", "done", "success", success,
                  "deployment_id", (json_int_t)d->id, "app", d->req.app, "version",
                  (json_int_t)d->version, "image", d->tag, "servers", servers);
    struct dp_err err = {0};

    if (fatal)
        json_object_set_new(done, "error", json_string(fatal->msg));
    if (canceled)
        json_object_set_new(done, "error", json_string("canceled"));
    emit(d, done);
    if (dp_store_deploy_finish(d->env->fleet.store, d->id, status, servers, &err))
        dp_log(DP_LOG_ERROR, &d->env->log, "deployment %lld: outcome not stored: %s", d->id,
               err.msg);
    atomic_fetch_add(canceled  ? &d->env->deploys_canceled
                     : success ? &d->env->deploys_ok
                               : &d->env->deploys_failed,
                     1);
    atomic_fetch_add(&d->env->deploy_ms_total, (unsigned long long)(dp_mono_ms() - t0));
    dp_log(DP_LOG_INFO, &d->env->log, "deployment %lld app=%s v%lld %s (%zu/%zu servers ok)", d->id,
           d->req.app, d->version, status, ok_count(d), d->njobs);
}

static dp_rc deploy_targets(struct deploy *d, struct dp_err *err)
{
    dp_rc rc = deploy_resolve_existing(d, err);

    if (rc == DP_OK && d->req.new_count > 0)
        rc = deploy_provision_new(d, err);
    if (rc == DP_OK)
        deploy_each(d, deploy_wait_agent);
    if (rc == DP_OK && ok_count(d) == 0)
        rc = dp_err_setc(err, DP_EUNAVAIL, "no_server_ready", "no server is ready to deploy to");
    return rc;
}

static void deploy_run(struct deploy *d)
{
    static const char *const src[] = {"image", "git", "code"};
    int64_t t0 = dp_mono_ms();
    struct dp_err err = {0};
    dp_rc rc;

    /* First event: a client that only holds the stream learns the deployment's id from it
     * (to replay it, or cancel it) before anything else happens. */
    emit(d, json_pack("{s:s, s:s, s:I, s:s, s:I}", "type", "progress", "step", "started",
                      "deployment_id", (json_int_t)d->id, "app", d->req.app, "version",
                      (json_int_t)d->version));
    deploy_log(d, NULL,
               "deployment %lld: %s version %lld from %s to %zu known and %d new server(s)", d->id,
               d->req.app, d->version, src[d->req.source], json_array_size(d->req.server_ips),
               d->req.new_count);
    rc = deploy_targets(d, &err);
    if (rc == DP_OK && !atomic_load(&d->cancel))
        rc = deploy_prepare_image(d, &err);
    if (rc == DP_OK && !atomic_load(&d->cancel))
        deploy_each(d, deploy_run_container);
    deploy_finish(d, rc && !atomic_load(&d->cancel) ? &err : NULL, t0);
}

static void registry_remove(struct dp_deploys *r, struct deploy *d)
{
    pthread_mutex_lock(&r->mu);
    for (struct deploy **p = &r->running; *p; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    r->count--;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
}

static void *deploy_thread(void *arg)
{
    struct deploy *d = arg;
    struct dp_deploys *r = d->owner;

    deploy_run(d);
    dp_events_close(d->env->events, d->id);
    registry_remove(r, d);
    dp_deploy_req_clear(&d->req);
    pthread_mutex_destroy(&d->jobs_mu);
    free(d->jobs);
    free(d);
    return NULL;
}

/* ---- the registry ---- */

dp_rc dp_deploys_new(struct dp_deploys **out, struct dp_deploy_env *env, struct dp_err *err)
{
    struct dp_deploys *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (!r)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->changed, NULL);
    r->env = env;
    *out = r;
    return DP_OK;
}

void dp_deploys_free(struct dp_deploys *r, int wait_ms)
{
    int64_t end = dp_mono_ms() + wait_ms;

    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    for (struct deploy *d = r->running; d; d = d->next)
        atomic_store(&d->cancel, true);
    while (r->count > 0 && dp_mono_ms() < end) {
        pthread_mutex_unlock(&r->mu);
        dp_sleep_ms(50);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    if (r->count > 0)
        return; /* threads still use it: leak rather than free under them (process exits) */
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

long dp_deploys_running(struct dp_deploys *r)
{
    long n;

    pthread_mutex_lock(&r->mu);
    n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static dp_rc deploy_begin(struct deploy *d, struct dp_deploy_req *r, struct dp_err *err)
{
    static const char *const src[] = {"image", "git", "code"};
    struct dp_deployment dep = {0};
    char holder[256] = "";
    dp_rc rc = dp_store_deploy_begin(d->env->fleet.store, r->app, src[r->source], d->user.id,
                                     r->summary, &dep, holder, sizeof(holder), err);

    if (rc == DP_ECONFLICT)
        return dp_err_setc(err, DP_ECONFLICT, "deploy_in_progress",
                           "app '%s' is being deployed: %s", r->app, holder);
    if (rc)
        return rc;
    d->id = dep.id;
    d->version = dep.version;
    dp_deployment_clear(&dep);
    if (r->source == DP_SRC_IMAGE)
        snprintf(d->tag, sizeof(d->tag), "%s", r->image);
    else
        snprintf(d->tag, sizeof(d->tag), "%s:v%lld", r->app, d->version);
    snprintf(d->deploy_tag, sizeof(d->deploy_tag), "dp-deploy-%lld", d->id);
    rc = dp_events_open(d->env->events, d->id, err);
    if (rc) /* never started: free the app's lock now rather than at the next restart */
        dp_store_deploy_finish(d->env->fleet.store, d->id, "failed", NULL, NULL);
    return rc;
}

dp_rc dp_deploys_start(struct dp_deploys *reg, struct dp_deploy_req *r, const struct dp_user *user,
                       long long *deployment_id, struct dp_err *err)
{
    struct deploy *d;
    dp_rc rc = deploy_check_targets(reg->env->fleet.store, r->server_ips, err);

    if (rc)
        return rc;
    if (r->new_count > 0 && !reg->env->fleet.cloud)
        return dp_err_setc(err, DP_EINVAL, "no_cloud",
                           "new servers need a DigitalOcean token (settings or DO_TOKEN)");
    d = calloc(1, sizeof(*d));
    if (!d)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    d->owner = reg;
    d->env = reg->env;
    d->user = *user;
    pthread_mutex_init(&d->jobs_mu, NULL);
    rc = deploy_begin(d, r, err);
    if (rc) {
        pthread_mutex_destroy(&d->jobs_mu);
        free(d);
        return rc;
    }
    d->req = *r; /* moved: the deploy owns the secrets now */
    memset(r, 0, sizeof(*r));
    *deployment_id = d->id;
    pthread_mutex_lock(&reg->mu);
    d->next = reg->running;
    reg->running = d;
    reg->count++;
    pthread_mutex_unlock(&reg->mu);
    if (pthread_create(&d->thread, NULL, deploy_thread, d) != 0) {
        deploy_thread(d); /* no thread: run here rather than lose it */
        return DP_OK;
    }
    pthread_detach(d->thread);
    return DP_OK;
}

dp_rc dp_deploys_cancel(struct dp_deploys *reg, long long deployment_id, struct dp_err *err)
{
    dp_rc rc = dp_err_setc(err, DP_ENOTFOUND, "not_running", "deployment %lld is not running",
                           deployment_id);

    pthread_mutex_lock(&reg->mu);
    for (struct deploy *d = reg->running; d; d = d->next) {
        if (d->id == deployment_id) {
            atomic_store(&d->cancel, true);
            dp_err_clear(err);
            rc = DP_OK;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}
