/* What /health reports about this server: Docker, disk, memory, load, containers. */
#ifndef DP_HEALTH_H
#define DP_HEALTH_H

#include "dp_docker.h"
#include "dp_err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define DP_HEALTH_TTL_MS 2000 /* Docker's part of /health is at most this old */

/* What Docker said last, so /health stays fast while Docker is busy building or pulling:
 * one caller refreshes a stale entry, the others answer with the previous one. */
struct dp_health_cache {
    pthread_mutex_t lock;
    bool refreshing;
    int64_t at_ms;  /* 0: never filled */
    json_t *docker; /* {"ok",...} */
    long running;   /* -1 when unknown */
};

void dp_health_cache_init(struct dp_health_cache *c);
void dp_health_cache_clear(struct dp_health_cache *c);

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
