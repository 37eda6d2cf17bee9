/* The containers an agent manages: run (with a safe replace), list, start/stop/restart/remove,
 * logs. Scoped to the agent's namespace; a container without our labels is never touched. */
#ifndef DP_CTR_H
#define DP_CTR_H

#include "dp_ctr_spec.h"
#include "dp_docker.h"
#include "dp_err.h"

#include <jansson.h>
#include <stdbool.h>

struct dp_ctr_scope {
    const struct dp_docker *docker;
    const char *namespace_; /* "" for none */
    const char *publish_ip; /* "" for all addresses */
};

enum dp_ctr_action { DP_CTR_START, DP_CTR_STOP, DP_CTR_RESTART, DP_CTR_REMOVE };

/* Creates and starts the container described by a /containers/run request. With replace, an
 * existing container of that name is stopped and kept aside until the new one runs, and put
 * back if it does not. *out = {"id","name","state"}, the caller's. */
dp_rc dp_ctr_run(json_t **out, const struct dp_ctr_scope *s, const json_t *req, struct dp_err *err);

/* {"containers":[{"name","id","image","image_id","state","status","ports","labels","created"}]}
 * for this namespace. */
dp_rc dp_ctr_list(json_t **out, const struct dp_ctr_scope *s, struct dp_err *err);

/* Number of running containers in this namespace. */
dp_rc dp_ctr_count_running(long *out, const struct dp_ctr_scope *s, struct dp_err *err);

/* Applies action to the container named name; *out = {"name","state"}. DP_ENOTFOUND when it
 * does not exist here (or is not ours). */
dp_rc dp_ctr_act(json_t **out, const struct dp_ctr_scope *s, const char *name,
                 enum dp_ctr_action action, struct dp_err *err);

/* One container's details: the list entry plus exit code, restart count, started/finished. */
dp_rc dp_ctr_inspect(json_t **out, const struct dp_ctr_scope *s, const char *name,
                     struct dp_err *err);

/* Receives decoded log lines; a non-zero return stops the logs. */
struct dp_ctr_log_cb {
    dp_rc (*on_line)(void *ud, const char *stream, const char *line, size_t len);
    int (*tick)(void *ud); /* non-zero: stop (client gone, shutting down) */
    void *ud;
};

/* Streams the last tail lines (0..DP_LOG_TAIL_MAX, -1 for all), then new ones while follow is
 * set and the container runs. */
dp_rc dp_ctr_logs(const struct dp_ctr_scope *s, const char *name, long tail, bool follow,
                  const struct dp_ctr_log_cb *cb, struct dp_err *err);

#endif
