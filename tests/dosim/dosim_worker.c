/* Worker threads: each waits for the earliest due action, claims it and carries it out
 * without the mutex, so a slow snapshot copy never holds up the API. */
#include "dosim_droplet.h"

#include "dp_clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define IDLE_WAIT_MS 200 /* also how often agents that exited are noticed */

static const struct {
    const char *type;
    double seconds; /* before --time-scale and the slow factor */
} durations[] = {
    {"create", 1.0},      {"shutdown", 0.5}, {"power_off", 0.3}, {"power_on", 0.5}, {"reboot", 0.8},
    {"power_cycle", 0.6}, {"snapshot", 2.0}, {"transfer", 2.0},  {"rename", 0.1},
};

static int64_t duration_ms(struct dosim *sim, const char *type)
{
    double s = 1.0;

    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        if (strcmp(durations[i].type, type) == 0)
            s = durations[i].seconds;
    }
    return (int64_t)(s * 1000 * sim->conf.time_scale * dosim_faults_slow(&sim->faults));
}

struct dosim_action *dosim_action_start(struct dosim *sim, const char *type, const char *rtype,
                                        long long rid, const struct dosim_region *region)
{
    struct dosim_action *a =
        dosim_action_add(&sim->st, type, rtype, rid, region, dp_mono_ms() + duration_ms(sim, type));

    if (!a)
        return NULL;
    if (!dosim_vec_push(&sim->pending, a)) {
        dosim_action_finish(a, false);
        return a;
    }
    pthread_cond_broadcast(&sim->wake);
    return a;
}

/* The earliest pending action; *wait_ms until it is due (0 when due now). */
static struct dosim_action *earliest(struct dosim *sim, int64_t now, int64_t *wait_ms)
{
    struct dosim_action *best = NULL;

    for (size_t i = 0; i < sim->pending.n; i++) {
        struct dosim_action *a = sim->pending.v[i];

        if (!best || a->due_ms < best->due_ms)
            best = a;
    }
    *wait_ms = !best ? IDLE_WAIT_MS : best->due_ms > now ? best->due_ms - now : 0;
    if (*wait_ms > IDLE_WAIT_MS)
        *wait_ms = IDLE_WAIT_MS;
    return best;
}

/* Under mu: takes a off the queue with references to what it acts on. */
static void claim(struct dosim *sim, struct dosim_action *a, struct dosim_job *job)
{
    memset(job, 0, sizeof(*job));
    dosim_vec_remove(&sim->pending, a);
    a->claimed = true;
    job->a = a;
    job->errored = dosim_faults_errored(&sim->faults, a->type);
    if (strcmp(a->resource_type, "droplet") == 0) {
        job->d = dosim_droplet_find(&sim->st, a->resource_id);
        if (job->d)
            dosim_droplet_ref(job->d);
        if (job->d && strcmp(a->type, "create") == 0)
            job->im = dosim_image_find(&sim->st, job->d->image_id);
    } else {
        job->im = dosim_image_find(&sim->st, a->resource_id);
    }
    if (job->im)
        dosim_image_ref(job->im);
}

static void wait_ms(struct dosim *sim, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&sim->wake, &sim->mu, &ts);
}

static void *worker_main(void *arg)
{
    struct dosim *sim = arg;
    struct dosim_job job;

    pthread_mutex_lock(&sim->mu);
    while (!atomic_load(&sim->stopping)) {
        int64_t now = dp_mono_ms(), wait;
        struct dosim_action *a;

        dosim_agents_reap(sim);
        a = earliest(sim, now, &wait);
        if (!a || wait > 0) {
            wait_ms(sim, wait > 0 ? wait : IDLE_WAIT_MS);
            continue;
        }
        claim(sim, a, &job);
        pthread_mutex_unlock(&sim->mu);
        dosim_job_run(sim, &job);
        pthread_mutex_lock(&sim->mu);
    }
    pthread_mutex_unlock(&sim->mu);
    return NULL;
}

dp_rc dosim_workers_start(struct dosim *sim, struct dp_err *err)
{
    for (int i = 0; i < DOSIM_WORKERS; i++) {
        int e = pthread_create(&sim->workers[i], NULL, worker_main, sim);

        if (e)
            return dp_err_set(err, DP_EINTERNAL, "cannot start a worker: %s", strerror(e));
        sim->nworkers++;
    }
    return DP_OK;
}

void dosim_workers_stop(struct dosim *sim)
{
    pthread_mutex_lock(&sim->mu);
    atomic_store(&sim->stopping, true);
    pthread_cond_broadcast(&sim->wake);
    pthread_mutex_unlock(&sim->mu);
    for (int i = 0; i < sim->nworkers; i++)
        pthread_join(sim->workers[i], NULL);
    sim->nworkers = 0;
}
