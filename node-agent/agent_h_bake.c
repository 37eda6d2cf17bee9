/* Bake mode: the one-time bake key (--bake-key-file) and POST /bake/finalize, whose action is
 * fixed (dp_bake_finalize): nothing in the request is read. */
#include "agent.h"

#include "dp_bake.h"
#include "dp_key.h"

#include <string.h>
#include <unistd.h>

void agent_load_bake_key(struct agent *ag, struct dp_logctx *lc)
{
    char key[DP_KEY_MAX + 1];
    struct dp_err err = {0};
    dp_rc rc;

    if (!ag->conf.bake_key_file[0])
        return;
    rc = dp_key_load_file(key, ag->conf.bake_key_file, &err);
    if (rc && rc != DP_ENOTFOUND) {
        dp_log(DP_LOG_WARN, lc, "bake key not loaded: %s", err.msg);
        return; /* the old one, if any, stays while its file exists */
    }
    pthread_rwlock_wrlock(&ag->key_lock);
    memcpy(ag->bake_key, key, sizeof(key)); /* "" when the file is gone */
    pthread_rwlock_unlock(&ag->key_lock);
    memset(key, 0, sizeof(key));
    if (rc == DP_OK)
        dp_log(DP_LOG_INFO, lc,
               "bake mode: the bake key from %s reaches GET /ping, GET /health and POST "
               "/bake/finalize",
               ag->conf.bake_key_file);
}

bool agent_bake_live(struct agent *ag)
{
    bool loaded;

    pthread_rwlock_rdlock(&ag->key_lock);
    loaded = ag->bake_key[0] != '\0';
    pthread_rwlock_unlock(&ag->key_lock);
    return loaded && access(ag->conf.bake_key_file, F_OK) == 0;
}

void agent_bake_forget(struct agent *ag)
{
    pthread_rwlock_wrlock(&ag->key_lock);
    memset(ag->bake_key, 0, sizeof(ag->bake_key));
    pthread_rwlock_unlock(&ag->key_lock);
}

static int send_result(struct dp_req *rq, const struct dp_bake_result *res)
{
    json_t *body = json_pack("{s:b, s:[]}", "finalized", 1, "removed");
    json_t *removed = json_object_get(body, "removed");
    int st;

    for (int i = 0; i < res->nremoved; i++)
        json_array_append_new(removed, json_string(res->removed[i]));
    st = body ? dp_httpd_send_json(rq, 200, body)
              : dp_httpd_send_error(rq, 500, "internal", "out of memory");
    json_decref(body);
    return st;
}

int agent_h_bake_finalize(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_bake_result res;
    struct dp_err err = {0};
    int st;

    if (rq->ri->content_length != 0)
        dp_httpd_close_after(rq); /* the body is ignored, never read */
    pthread_mutex_lock(&ag->bake_mu);
    if (!agent_bake_live(ag)) { /* another finalize got here first */
        pthread_mutex_unlock(&ag->bake_mu);
        return dp_httpd_send_error(rq, 401, "unauthorized", "the bake key is gone");
    }
    if (dp_bake_finalize(&res, ag->conf.bake_key_file, ag->conf.cloud_dir, &err)) {
        pthread_mutex_unlock(&ag->bake_mu);
        dp_log(DP_LOG_ERROR, &rq->log, "bake finalize failed: %s", err.msg);
        return dp_httpd_send_err(rq, &err);
    }
    agent_bake_forget(ag);
    pthread_mutex_unlock(&ag->bake_mu);
    dp_log(DP_LOG_INFO, &rq->log, "bake finalized: bake key and cloud-init state removed (%d)",
           res.nremoved);
    st = send_result(rq, &res);
    return st;
}
