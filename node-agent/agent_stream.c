#include "agent_stream.h"

static dp_rc stream_emit(void *ud, json_t *ev)
{
    struct agent_stream *s = ud;

    return dp_ndjson_send(&s->nd, ev);
}

int agent_stream_tick(void *ud)
{
    struct agent_stream *s = ud;

    if (atomic_load(&s->ag->stopping))
        return 1;
    return dp_ndjson_heartbeat_if_due(&s->nd) != DP_OK;
}

void agent_stream_init(struct agent_stream *s, struct dp_req *rq)
{
    dp_ndjson_init(&s->nd, rq);
    s->ag = rq->app;
    s->progress.emit = stream_emit;
    s->progress.tick = agent_stream_tick;
    s->progress.ud = s;
    atomic_fetch_add(&s->ag->metrics.streams_active, 1);
}

void agent_stream_finish(struct agent_stream *s, enum agent_op op, dp_rc rc, json_t *fields,
                         const struct dp_err *err)
{
    struct dp_err stopped;

    if (rc == DP_OK) {
        dp_ndjson_done(&s->nd, fields);
    } else {
        json_decref(fields);
        if (rc == DP_ECANCELED && atomic_load(&s->ag->stopping)) {
            dp_err_setc(&stopped, DP_EUNAVAIL, "agent_stopping", "the agent is shutting down");
            err = &stopped;
        }
        dp_log(DP_LOG_INFO, &s->nd.rq->log, "%s failed: %s", s->nd.rq->ri->local_uri_raw, err->msg);
        dp_ndjson_fail(&s->nd, err);
    }
    agent_count_op(s->ag, op, rc == DP_OK);
    dp_ndjson_clear(&s->nd);
    atomic_fetch_sub(&s->ag->metrics.streams_active, 1);
}
