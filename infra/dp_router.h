/* Maps method + path to a handler. Patterns are literal segments, "{x}" (one segment) and
 * "{x*}" (one or more segments, for image references that contain '/'). */
#ifndef DP_ROUTER_H
#define DP_ROUTER_H

#include "dp_httpd.h"

typedef int (*dp_route_fn)(struct dp_req *rq);

struct dp_route {
    const char *method;  /* "GET", "POST", "DELETE" */
    const char *pattern; /* "/containers/{name}/stop" */
    dp_route_fn fn;
    const char *metric; /* short route name for metrics, e.g. "containers_stop" */
};

/* Finds the route for method and path (decoded, without query) and fills rq->params.
 * NULL with *status 404 (no pattern matches) or 405 (a pattern matches, another method). */
const struct dp_route *dp_router_match(const struct dp_route *table, size_t n, const char *method,
                                       const char *path, struct dp_req *rq, int *status);

#endif
