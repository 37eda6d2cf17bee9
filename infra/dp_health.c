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

void dp_health_cache_init(struct dp_health_cache *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->running = -1;
}

void dp_health_cache_clear(struct dp_health_cache *c)
{
    json_decref(c->docker);
    pthread_mutex_destroy(&c->lock);
}

/* Asks Docker now: its version and how many of our containers run. */
static json_t *docker_fresh(const struct dp_health_in *in, long *running)
{
    bool ok = false;
    json_t *d = docker_info(in->docker, &ok);

    *running = -1;
    if (ok) {
        struct dp_ctr_scope scope = {.docker = in->docker, .namespace_ = in->namespace_};

        if (dp_ctr_count_running(running, &scope, NULL))
            *running = -1;
    }
    return d;
}

/* Docker's part, from the cache when fresh enough or when another caller is refreshing it. */
static json_t *docker_cached(const struct dp_health_in *in, long *running)
{
    struct dp_health_cache *c = in->cache;
    int64_t now = dp_mono_ms();
    json_t *d;

    pthread_mutex_lock(&c->lock);
    if (c->docker && (now - c->at_ms < DP_HEALTH_TTL_MS || c->refreshing)) {
        d = json_incref(c->docker);
        *running = c->running;
        pthread_mutex_unlock(&c->lock);
        return d;
    }
    c->refreshing = true;
    pthread_mutex_unlock(&c->lock);
    d = docker_fresh(in, running);
    pthread_mutex_lock(&c->lock);
    json_decref(c->docker);
    c->docker = json_incref(d);
    c->running = *running;
    c->at_ms = dp_mono_ms();
    c->refreshing = false;
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
    docker = in->cache ? docker_cached(in, &running) : docker_fresh(in, &running);
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
