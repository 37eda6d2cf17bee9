/* The controller's client for node agents: HTTPS with the agent's key pinned (or plain HTTP
 * for local tests), the agent key in X-API-Key, NDJSON streams read event by event, and a
 * bounded time for an agent that stops answering. Cancelling a stream closes the connection,
 * which is how a cancel reaches the agent (it stops the build, pull or clone). */
#ifndef DP_AGENTC_H
#define DP_AGENTC_H

#include "dp_err.h"
#include "dp_progress.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_AGENT_PORT 9999

/* Where an agent is and how to trust it. Read-only during calls; thread-safe. */
struct dp_agent_target {
    char url[128];   /* "https://203.0.113.7:9999" (or http:// for a local agent) */
    char key[257];   /* the agent key (never logged) */
    char pin[64];    /* "sha256//<base64>" public-key pin for https, or "" */
    char req_id[65]; /* sent as X-Request-Id so agent logs follow the deploy, or "" */
    long connect_ms; /* default 5000 */
    long stall_ms;   /* a stream with no byte for this long is dead (default 45000: agents
                        send a heartbeat every 5 s) */
};

/* Fills t for ip with the default port, https when pin is non-empty. */
void dp_agent_target_init(struct dp_agent_target *t, const char *ip, const char *key,
                          const char *pin);

/* GET /ping; *version_out (may be NULL, 32 bytes) gets the agent's version. Quick: ~2 s
 * timeout. DP_EAUTH on 401, DP_EUNAVAIL when nothing answers. */
dp_rc dp_agent_ping(const struct dp_agent_target *t, char *version_out, struct dp_err *err);

/* Polls /ping until the agent answers with 200, at most timeout_ms, checking pr->tick. */
dp_rc dp_agent_wait_ready(const struct dp_agent_target *t, int64_t timeout_ms,
                          const struct dp_progress *pr, struct dp_err *err);

/* A JSON call: method, path (with query), body (may be NULL) -> *out (the caller's; NULL for
 * empty answers). A non-2xx answer is an error carrying the agent's {"error","detail"}. */
dp_rc dp_agent_call(const struct dp_agent_target *t, const char *method, const char *path,
                    const json_t *body, json_t **out, struct dp_err *err);

/* A streamed call (build, pull, git clone, load, logs): each NDJSON event but the last goes to
 * pr->emit (log and progress; heartbeats are swallowed); the last must be "done" (its object,
 * the caller's, in *done) or "error" (then the error, with the agent's code and detail).
 * pr->tick non-zero cancels (closes the connection). A stream that ends without a last event
 * or stalls past stall_ms is DP_EUNAVAIL "agent stopped answering". A pre-stream JSON error
 * answer (4xx/5xx) is an error too. body_fd >= 0 streams that file as the request body instead
 * of json_body (uploads of a spooled tar). */
dp_rc dp_agent_stream(const struct dp_agent_target *t, const char *path, const json_t *json_body,
                      int body_fd, const struct dp_progress *pr, json_t **done, struct dp_err *err);

/* POST /upload?path=...&clean=... with the tar in file descriptor fd (read from its current
 * offset to the end). *out: the agent's answer. */
dp_rc dp_agent_upload(const struct dp_agent_target *t, const char *path, bool clean, int fd,
                      json_t **out, struct dp_err *err);

/* Copies image ref from agent `from` to agent `to`: GET /images/{ref}/export streamed into POST
 * /images/load as it arrives (no copy on the controller's disk or in its memory beyond a pipe).
 * *image_id (DP_IMAGE_ID_MAX bytes) gets the id the target reports. pr->tick cancels both. */
dp_rc dp_agent_copy_image(const struct dp_agent_target *from, const struct dp_agent_target *to,
                          const char *ref, char *image_id, const struct dp_progress *pr,
                          struct dp_err *err);

#endif
