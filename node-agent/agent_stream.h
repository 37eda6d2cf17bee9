/* Glue between a long operation in infra/ and the NDJSON answer: events go to the client,
 * heartbeats keep it informed, and a gone client or a shutdown cancels the operation. */
#ifndef AGENT_STREAM_H
#define AGENT_STREAM_H

#include "agent.h"
#include "dp_image.h"
#include "dp_ndjson.h"

struct agent_stream {
    struct dp_ndjson nd;
    struct agent *ag;
    struct dp_progress progress; /* hand this to infra/ */
};

/* Starts (lazily) an NDJSON answer for rq and counts it as active. */
void agent_stream_init(struct agent_stream *s, struct dp_req *rq);

/* Non-zero when the operation must stop: the agent is stopping or the client is gone (noticed
 * by a heartbeat write when quiet). */
int agent_stream_tick(void *ud);

/* Ends the stream with done (fields stolen) or with err, counts the outcome of op. */
void agent_stream_finish(struct agent_stream *s, enum agent_op op, dp_rc rc, json_t *fields,
                         const struct dp_err *err);

#endif
