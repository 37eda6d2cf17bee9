/* The events of deployments: each is stored (dp_store, committed) before anyone can see it, then
 * published to every live viewer. A running deployment has a channel that keeps its recent
 * events in memory, so any number of viewers follow it without each querying the store; a
 * viewer that starts late or reconnects with Last-Event-ID replays from the store and then
 * follows live. Viewers run in their own threads: a slow one never holds up the deploy or the
 * others. */
#ifndef DP_EVENTS_H
#define DP_EVENTS_H

#include "dp_err.h"
#include "dp_store.h"

#include <jansson.h>

#define DP_EVENTS_MEM_MAX (16UL * 1024 * 1024) /* event text kept in memory per channel, bytes */

struct dp_events;

/* store NULL makes a memory-only hub (for work not kept across restarts, such as bakes): its
 * channels number their own events and stay after dp_events_close, replayable, until
 * dp_events_drop. */
dp_rc dp_events_new(struct dp_events **out, struct dp_store *store, struct dp_err *err);

/* Frees the hub; every channel must be closed and every viewer gone (see dp_events_shutdown). */
void dp_events_free(struct dp_events *h);

/* Wakes every viewer so it returns (the process is stopping); later follows return at once. */
void dp_events_shutdown(struct dp_events *h);

/* Opens the live channel of a deployment (before its first event). */
dp_rc dp_events_open(struct dp_events *h, long long deployment_id, struct dp_err *err);

/* Stores ev (an object) as the deployment's next event, then wakes its viewers; *seq (may be
 * NULL) gets its sequence number. Events of one deployment are numbered in the order they are
 * emitted, whatever thread emits them. */
dp_rc dp_events_emit(struct dp_events *h, long long deployment_id, const json_t *ev, long long *seq,
                     struct dp_err *err);

/* Ends the live channel: viewers send what is left and return. */
void dp_events_close(struct dp_events *h, long long deployment_id);

/* Memory-only hub: forgets a closed channel (at once, or when its last viewer leaves). */
void dp_events_drop(struct dp_events *h, long long id);

/* Viewers following right now (for /metrics). */
long dp_events_viewers(struct dp_events *h);

/* Where a viewer's events go. send/heartbeat return non-zero when the viewer is gone. */
struct dp_events_sink {
    int (*send)(void *ud, long long seq, const char *json);
    int (*heartbeat)(void *ud, long long last_seq);
    void *ud;
};

/* Sends every event with seq > after, then, while the deployment runs, each new one as it
 * comes, with a heartbeat after heartbeat_ms of quiet. Returns when the deployment has ended
 * and everything was sent, when the viewer is gone (DP_ECANCELED), or at shutdown. */
dp_rc dp_events_follow(struct dp_events *h, long long deployment_id, long long after,
                       const struct dp_events_sink *sink, int heartbeat_ms, struct dp_err *err);

#endif
