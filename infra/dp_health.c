#include "dp_health.h"

#include "dp_clock.h"
#include "dp_ctr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define DISK_LOW_BYTES (1024ULL * 1024 * 1024) /* below this free space we say "degraded" */

/* MemTotal and MemAvailable from /proc/meminfo, in bytes. */
static json_t *memory_info(void)
{
    unsigned long long total = 0, avail = 0, v;
    char line[256], key[64];
    FILE *f = fopen("/proc/meminfo", "re");

    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "%63[^:]: %llu", key, &v) != 2)
                continue;
            if (strcmp(key, "MemTotal") == 0)
                total = v * 1024;
            else if (strcmp(key, "MemAvailable") == 0)
                avail = v * 1024;
        }
        fclose(f);
    }
    return json_pack("{s:I, s:I}", "total_bytes", (json_int_t)total, "available_bytes",
                     (json_int_t)avail);
}

static json_t *disk_info(const char *path, unsigned long long *free_out)
{
    struct statvfs st;
    unsigned long long free_b = 0, total = 0;

    if (statvfs(path, &st) == 0) {
        free_b = (unsigned long long)st.f_bavail * st.f_frsize;
        total = (unsigned long long)st.f_blocks * st.f_frsize;
    }
    *free_out = free_b;
    return json_pack("{s:s, s:I, s:I}", "path", path, "free_bytes", (json_int_t)free_b,
                     "total_bytes", (json_int_t)total);
}

static const char *str_or(const char *s)
{
    return s ? s : "";
}

static json_t *docker_info(const struct dp_docker *d, bool *ok)
{
    struct dp_err err = {0};
    json_t *ver = NULL, *out;

    *ok = dp_docker_version(d, &ver, &err) == DP_OK;
    if (*ok)
        out = json_pack("{s:b, s:s, s:s}", "ok", 1, "version",
                        str_or(json_string_value(json_object_get(ver, "Version"))), "api_version",
                        str_or(json_string_value(json_object_get(ver, "ApiVersion"))));
    else
        out = json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
    json_decref(ver);
    return out;
}

/* Asks Docker now: its version and how many of our containers run. */
static json_t *docker_fresh(const struct dp_docker *client, const char *ns, long *running)
{
    bool ok = false;
    json_t *d = docker_info(client, &ok);

    *running = -1;
    if (ok) {
        struct dp_ctr_scope scope = {.docker = client, .namespace_ = ns};

        if (dp_ctr_count_running(running, &scope, NULL))
            *running = -1;
    }
    return d;
}

static void cache_store(struct dp_health_cache *c, json_t *d, long running)
{
    json_decref(c->docker);
    c->docker = d;
    c->running = running;
    c->at_ms = dp_mono_ms();
}

static void *refresher(void *arg)
{
    struct dp_health_cache *c = arg;

    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        int64_t now = dp_mono_ms();
        struct timespec ts;

        if (c->docker && now - c->wanted_ms < DP_HEALTH_IDLE_MS &&
            now - c->at_ms >= DP_HEALTH_TTL_MS) {
            long running;
            json_t *d;

            pthread_mutex_unlock(&c->lock);
            d = docker_fresh(c->client, c->namespace_, &running);
            pthread_mutex_lock(&c->lock);
            cache_store(c, d, running);
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 500L * 1000 * 1000; /* look again in 0.5 s */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->wake, &c->lock, &ts);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

dp_rc dp_health_cache_start(struct dp_health_cache *c, const struct dp_docker *client,
                            const char *namespace_, struct dp_err *err)
{
    pthread_condattr_t ca;

    memset(c, 0, sizeof(*c));
    c->running = -1;
    c->client = client;
    c->namespace_ = namespace_;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->thread, NULL, refresher, c) != 0)
        return dp_err_set(err, DP_ENOMEM, "cannot start the health refresher");
    c->started = true;
    return DP_OK;
}

void dp_health_cache_stop(struct dp_health_cache *c)
{
    if (!c->started)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    json_decref(c->docker);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    c->started = false;
}

/* Docker's part from the cache; only the first request ever asks Docker itself. */
static json_t *docker_cached(const struct dp_health_in *in, long *running)
{
    struct dp_health_cache *c = in->cache;
    json_t *d;

    pthread_mutex_lock(&c->lock);
    c->wanted_ms = dp_mono_ms();
    if (!c->docker) {
        pthread_mutex_unlock(&c->lock);
        d = docker_fresh(in->docker, in->namespace_, running);
        pthread_mutex_lock(&c->lock);
        if (!c->docker)
            cache_store(c, json_incref(d), *running);
    } else {
        d = json_incref(c->docker);
        *running = c->running;
        if (dp_mono_ms() - c->at_ms >= DP_HEALTH_TTL_MS)
            pthread_cond_signal(&c->wake); /* the refresher may be asleep after idling */
    }
    pthread_mutex_unlock(&c->lock);
    return d;
}

dp_rc dp_health_collect(json_t **out, const struct dp_health_in *in, struct dp_err *err)
{
    double load[3] = {0, 0, 0};
    unsigned long long free_b = 0;
    long running = -1;
    json_t *o, *docker;
    bool docker_ok;

    if (getloadavg(load, 3) != 3)
        load[0] = load[1] = load[2] = 0;
    docker = in->cache && in->cache->started ? docker_cached(in, &running)
                                             : docker_fresh(in->docker, in->namespace_, &running);
    docker_ok = json_is_true(json_object_get(docker, "ok"));
    o = json_pack("{s:s, s:o, s:o, s:o, s:[f,f,f], s:I}", "version", DP_VERSION, "docker", docker,
                  "disk", disk_info(in->data_root, &free_b), "memory", memory_info(), "load",
                  load[0], load[1], load[2], "uptime_s", (json_int_t)in->uptime_s);
    if (!o)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    json_object_set_new(o, "containers", json_pack("{s:I}", "running", (json_int_t)running));
    json_object_set_new(
        o, "status", json_string(docker_ok && free_b >= DISK_LOW_BYTES ? "healthy" : "degraded"));
    *out = o;
    return DP_OK;
}
