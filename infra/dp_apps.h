/* A deployed app on every server its deployment reached: stop, start, restart, delete. */
#ifndef DP_APPS_H
#define DP_APPS_H

#include "dp_err.h"
#include "dp_store.h"

#include <jansson.h>

/* Applies action ("stop", "start", "restart", "delete") to the app of deployment_id on each
 * server of that deployment (in parallel is not needed: these are quick), with each server's
 * own key and pin. *out = {"deployment_id","app","action","success","servers":[{"ip","success",
 * "state","error"}]}; a server failing does not stop the others. DP_ENOTFOUND for an unknown
 * deployment; DP_ECONFLICT while it still runs. */
dp_rc dp_apps_act(json_t **out, struct dp_store *store, const char *do_token,
                  long long deployment_id, const char *action, struct dp_err *err);

#endif
