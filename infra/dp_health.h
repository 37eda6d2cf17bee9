/* What /health reports about this server: Docker, disk, memory, load, containers. */
#ifndef DP_HEALTH_H
#define DP_HEALTH_H

#include "dp_docker.h"
#include "dp_err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define DP_HEALTH_TTL_MS  2000  /* Docker's part of /health is at most about this old */
#define DP_HEALTH_IDLE_MS 30000 /* no /health for this long: stop asking Docker */

/* What Docker said last. A refresher thread asks Docker while /health is in use, so no
 * request waits on a Docker that is busy building or pulling; only the very first request
 * asks Docker itself. */
struct dp_health_cache {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool started, stop;
    int64_t at_ms;     /* 0: never filled */
    int64_t wanted_ms; /* last /health */
    json_t *docker;    /* {"ok",...} */
    long running;      /* -1 when unknown */
    const struct dp_docker *client;
    const char *namespace_;
};

/* Starts the refresher for this Docker and namespace (both must outlive the cache). */
dp_rc dp_health_cache_start(struct dp_health_cache *c, const struct dp_docker *client,
                            const char *namespace_, struct dp_err *err);

/* Stops the refresher (waits for a Docker call in flight) and frees what it holds. */
void dp_health_cache_stop(struct dp_health_cache *c);

struct dp_health_in {
    const struct dp_docker *docker;
    const char *data_root;  /* its file system is the one reported under "disk" */
    const char *namespace_; /* "" for all containers this agent manages */
    int64_t uptime_s;       /* the agent's */
    struct dp_health_cache *cache;
};

/* Collects the health object; never fails on a sick Docker (it reports "degraded" instead).
 * *out is the caller's; DP_ENOMEM only. */
dp_rc dp_health_collect(json_t **out, const struct dp_health_in *in, struct dp_err *err);

#endif
