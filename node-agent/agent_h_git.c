/* POST /git/clone: {"url","branch","token","path"} -> NDJSON, done has "commit" and "path". */
#include "agent_stream.h"

#include "dp_git.h"

int agent_h_git_clone(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_git_place pl = {.self_exe = ag->self_exe,
                              .data_root = ag->conf.data_root,
                              .ca_file = ag->conf.git_ca_file,
                              .timeout_s = ag->conf.git_timeout_s,
                              .stall_s = DP_GIT_STALL_S,
                              .log = &rq->log};
    struct dp_git_result res;
    struct agent_stream s;
    struct dp_err err = {0};
    json_t *req = NULL;
    dp_rc rc;

    if (dp_httpd_read_json(rq, &req, &err)) {
        agent_count_op(ag, AGENT_OP_CLONE, 0);
        return dp_httpd_send_err(rq, &err);
    }
    agent_stream_init(&s, rq);
    rc = dp_git_clone(&res, &pl, req, &s.progress, &err);
    json_decref(req);
    agent_stream_finish(&s, AGENT_OP_CLONE, rc,
                        rc ? NULL : json_pack("{s:s, s:s}", "commit", res.commit, "path", res.path),
                        &err);
    return rq->status;
}
