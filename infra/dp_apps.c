#include "dp_apps.h"

#include "dp_agentc.h"
#include "dp_key.h"

#include <stdio.h>
#include <string.h>

static dp_rc act_on_server(json_t **state, struct dp_store *store, const char *do_token,
                           const char *ip, const char *app, const char *action, struct dp_err *err)
{
    struct dp_server s;
    struct dp_agent_target t;
    char key[DP_DERIVED_KEY_LEN + 1], path[128];
    json_t *ans = NULL;
    dp_rc rc = dp_store_server_by_ip(store, ip, &s, err);

    if (!rc)
        rc = dp_key_derive(key, do_token, (unsigned long long)s.owner_id, err);
    if (rc)
        return rc;
    dp_agent_target_init(&t, ip, key, s.tls_pin);
    memset(key, 0, sizeof(key));
    if (strcmp(action, "delete") == 0) {
        snprintf(path, sizeof(path), "/containers/%s", app);
        rc = dp_agent_call(&t, "DELETE", path, NULL, &ans, err);
        if (rc == DP_ENOTFOUND)
            rc = DP_OK; /* already gone */
    } else {
        snprintf(path, sizeof(path), "/containers/%s/%s", app, action);
        rc = dp_agent_call(&t, "POST", path, NULL, &ans, err);
    }
    *state = json_incref(json_object_get(ans, "state"));
    json_decref(ans);
    return rc;
}

dp_rc dp_apps_act(json_t **out, struct dp_store *store, const char *do_token,
                  long long deployment_id, const char *action, struct dp_err *err)
{
    struct dp_deployment dep = {0};
    json_t *servers, *srv, *res = json_array();
    bool all_ok = true;
    size_t i;
    dp_rc rc = dp_store_deploy_get(store, deployment_id, &dep, err);

    *out = NULL;
    if (rc == DP_OK && strcmp(dep.status, "running") == 0)
        rc = dp_err_setc(err, DP_ECONFLICT, "deploy_in_progress",
                         "deployment %lld is still running; cancel it first", deployment_id);
    servers = rc ? NULL : dep.result;
    json_array_foreach(servers, i, srv)
    {
        const char *ip = json_string_value(json_object_get(srv, "ip"));
        struct dp_err e = {0};
        json_t *state = NULL;
        dp_rc r;

        if (!ip || !*ip)
            continue;
        r = act_on_server(&state, store, do_token, ip, dep.app, action, &e);
        all_ok = all_ok && r == DP_OK;
        json_array_append_new(res, json_pack("{s:s, s:b, s:o, s:s?}", "ip", ip, "success", r == 0,
                                             "state", state ? state : json_null(), "error",
                                             r ? e.msg : NULL));
    }
    if (rc == DP_OK)
        *out = json_pack("{s:I, s:s, s:s, s:b, s:O}", "deployment_id", (json_int_t)deployment_id,
                         "app", dep.app, "action", action, "success", all_ok, "servers", res);
    json_decref(res);
    dp_deployment_clear(&dep);
    return rc;
}
