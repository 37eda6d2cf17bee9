/* What /health reports about this server: Docker, disk, memory, load, containers. */
#ifndef DP_HEALTH_H
#define DP_HEALTH_H

#include "dp_docker.h"
#include "dp_err.h"

#include <jansson.h>
#include <stdint.h>

struct dp_health_in {
    const struct dp_docker *docker;
    const char *data_root;  /* its file system is the one reported under "disk" */
    const char *namespace_; /* "" for all containers this agent manages */
    int64_t uptime_s;       /* the agent's */
};

/* Collects the health object; never fails on a sick Docker (it reports "degraded" instead).
 * *out is the caller's; DP_ENOMEM only. */
dp_rc dp_health_collect(json_t **out, const struct dp_health_in *in, struct dp_err *err);

#endif
