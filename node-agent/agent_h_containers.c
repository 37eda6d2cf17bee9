/* POST /containers/run, GET /containers, GET /containers/{name}, POST /containers/{name}/
 * start|stop|restart, DELETE /containers/{name}, GET /containers/{name}/logs. */
#include "agent_stream.h"

#include "dp_ctr.h"
#include "dp_json.h"

#include <stdlib.h>
#include <string.h>

static struct dp_ctr_scope scope(struct agent *ag)
{
    struct dp_ctr_scope s = {&ag->docker, ag->conf.namespace_, ag->conf.publish_ip};

    return s;
}

int agent_h_run(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_ctr_scope s = scope(ag);
    struct dp_err err = {0};
    json_t *req = NULL, *out = NULL;
    dp_rc rc = dp_httpd_read_json(rq, &req, &err);

    if (rc == DP_OK) {
        rc = dp_ctr_run(&out, &s, req, &err);
        agent_count_op(ag, AGENT_OP_RUN, rc == DP_OK);
        if (rc == DP_OK)
            dp_log(DP_LOG_INFO, &rq->log, "container %s started",
                   json_string_value(json_object_get(out, "name")));
    }
    json_decref(req);
    return dp_httpd_answer(rq, 201, rc, out, &err);
}

int agent_h_list(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_ctr_scope s = scope(ag);
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_ctr_list(&out, &s, &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

int agent_h_inspect(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_ctr_scope s = scope(ag);
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_ctr_inspect(&out, &s, rq->params[0], &err);

    return dp_httpd_answer(rq, 200, rc, out, &err);
}

static int act(struct dp_req *rq, enum dp_ctr_action a)
{
    struct agent *ag = rq->app;
    struct dp_ctr_scope s = scope(ag);
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_ctr_act(&out, &s, rq->params[0], a, &err);

    if (rc == DP_OK)
        dp_log(DP_LOG_INFO, &rq->log, "container %s %s", rq->params[0],
               json_string_value(json_object_get(out, "state")));
    return dp_httpd_answer(rq, 200, rc, out, &err);
}

int agent_h_start(struct dp_req *rq)
{
    return act(rq, DP_CTR_START);
}

int agent_h_stop(struct dp_req *rq)
{
    return act(rq, DP_CTR_STOP);
}

int agent_h_restart(struct dp_req *rq)
{
    return act(rq, DP_CTR_RESTART);
}

int agent_h_remove(struct dp_req *rq)
{
    return act(rq, DP_CTR_REMOVE);
}

static dp_rc log_line(void *ud, const char *stream, const char *line, size_t len)
{
    struct agent_stream *s = ud;
    json_t *ev = json_pack("{s:s, s:s, s:o}", "type", "log", "stream", stream, "message",
                           dp_json_string_lossy(line, len));
    dp_rc rc = ev ? dp_ndjson_send(&s->nd, ev) : DP_ENOMEM;

    json_decref(ev);
    return rc;
}

int agent_h_logs(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_ctr_scope sc = scope(ag);
    struct agent_stream s;
    struct dp_ctr_log_cb cb = {log_line, agent_stream_tick, &s};
    struct dp_err err = {0};
    char tailtxt[16] = "100";
    long tail;
    char *end;
    dp_rc rc;

    dp_httpd_query(rq, "tail", tailtxt, sizeof(tailtxt));
    tail = strcmp(tailtxt, "all") == 0 ? -1 : strtol(tailtxt, &end, 10);
    if (tail != -1 && (*end || tail < 0 || tail > DP_LOG_TAIL_MAX))
        return dp_httpd_send_error(rq, 400, "invalid_query", "tail must be 'all' or 0 to %d",
                                   DP_LOG_TAIL_MAX);
    agent_stream_init(&s, rq);
    rc = dp_ctr_logs(&sc, rq->params[0], tail, dp_httpd_query_flag(rq, "follow"), &cb, &err);
    agent_stream_finish(&s, AGENT_OP__COUNT, rc, NULL, &err);
    return rq->status;
}
