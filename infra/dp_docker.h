/* The Docker Engine API client (v1.41) over the unix socket, with libcurl. Never the CLI.
 * Every line of a Docker JSON stream is checked for an in-line error: Docker reports a failed
 * build or pull inside a 200 answer. */
#ifndef DP_DOCKER_H
#define DP_DOCKER_H

#include "dp_buf.h"
#include "dp_err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_DOCKER_API "/v1.41"

struct dp_docker {
    char socket_path[1024];
};

/* An answer read whole (non-streamed calls). */
struct dp_docker_resp {
    long status;
    struct dp_buf body; /* capped at DP_DOCKER_REPLY_MAX */
};

/* What a streamed call reports back, and how it is fed and cancelled. All optional. */
struct dp_docker_stream_cb {
    /* One JSON line of the answer (not an error line: those end the call with DP_EUPSTREAM).
     * A non-zero return stops the call with that code. */
    dp_rc (*on_line)(void *ud, json_t *line);
    /* Raw answer bytes, instead of on_line (exports, logs). */
    dp_rc (*on_data)(void *ud, const char *p, size_t n);
    /* Request body bytes for uploads: fill up to n, return the count, 0 at the end, or
     * (size_t)-1 to abort. */
    size_t (*read)(void *ud, char *buf, size_t n);
    /* Called about once a second and on every chunk: non-zero cancels the call (client gone,
     * shutdown). Closing the connection makes Docker cancel a build or pull. */
    int (*tick)(void *ud);
    void *ud;
};

/* A request the client sends: method, path below /v1.41 (with query), and options. */
struct dp_docker_req {
    const char *method;
    const char *path;
    const char *json_body;    /* sent as application/json, or NULL */
    const char *content_type; /* for streamed bodies through cb->read */
    const char *extra_header; /* one "Name: value" header, e.g. X-Registry-Auth, or NULL */
    long timeout_ms;          /* whole-call limit; 0 for streams that may run long */
};

void dp_docker_init(struct dp_docker *d, const char *socket_path);

void dp_docker_resp_clear(struct dp_docker_resp *r);

/* Performs a call and reads the whole answer. A non-2xx status is not an error here: the
 * caller decides (dp_docker_status_err maps it). DP_EUNAVAIL when the socket does not answer. */
dp_rc dp_docker_call(const struct dp_docker *d, const struct dp_docker_req *rq,
                     struct dp_docker_resp *out, struct dp_err *err);

/* Performs a streamed call. A non-2xx status becomes an error from Docker's message (404 ->
 * DP_ENOTFOUND, 400 -> DP_EINVAL, 409 -> DP_ECONFLICT, other -> DP_EUPSTREAM). With on_line,
 * the answer is split into JSON lines, each checked for "error"/"errorDetail". */
dp_rc dp_docker_stream(const struct dp_docker *d, const struct dp_docker_req *rq,
                       const struct dp_docker_stream_cb *cb, struct dp_err *err);

/* Maps a non-2xx answer to an error carrying Docker's {"message"}; what names the object. */
dp_rc dp_docker_status_err(const struct dp_docker_resp *r, const char *what, struct dp_err *err);

/* GET /_ping. */
dp_rc dp_docker_ping(const struct dp_docker *d, struct dp_err *err);

/* GET /version; *out is the caller's. */
dp_rc dp_docker_version(const struct dp_docker *d, json_t **out, struct dp_err *err);

#endif
