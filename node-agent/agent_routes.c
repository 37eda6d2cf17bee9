/* Auth before routing, then the route table. Handlers live in agent_h_*.c. */
#include "agent.h"

#include "dp_clock.h"
#include "dp_key.h"

#include <string.h>
#include <unistd.h>

const struct dp_route agent_routes[] = {
    {"GET", "/ping", agent_h_ping, "ping"},
    {"GET", "/health", agent_h_health, "health"},
    {"GET", "/metrics", agent_h_metrics, "metrics"},
    {"POST", "/upload", agent_h_upload, "upload"},
    {"POST", "/git/clone", agent_h_git_clone, "git_clone"},
    {"POST", "/build", agent_h_build, "build"},
    {"POST", "/pull", agent_h_pull, "pull"},
    {"GET", "/images/{ref*}/export", agent_h_export, "image_export"},
    {"POST", "/images/load", agent_h_load, "image_load"},
    {"POST", "/containers/run", agent_h_run, "containers_run"},
    {"GET", "/containers", agent_h_list, "containers_list"},
    {"GET", "/containers/{name}", agent_h_inspect, "containers_inspect"},
    {"POST", "/containers/{name}/start", agent_h_start, "containers_start"},
    {"POST", "/containers/{name}/stop", agent_h_stop, "containers_stop"},
    {"POST", "/containers/{name}/restart", agent_h_restart, "containers_restart"},
    {"DELETE", "/containers/{name}", agent_h_remove, "containers_remove"},
    {"GET", "/containers/{name}/logs", agent_h_logs, "containers_logs"},
    {"POST", "/bake/finalize", agent_h_bake_finalize, "bake_finalize"},
};
const size_t agent_routes_count = sizeof(agent_routes) / sizeof(agent_routes[0]);

_Static_assert(sizeof(agent_routes) / sizeof(agent_routes[0]) <= AGENT_ROUTES_MAX,
               "grow AGENT_ROUTES_MAX");

void agent_reload_key(struct agent *ag)
{
    char key[DP_KEY_MAX + 1];
    struct dp_err err = {0};
    struct dp_logctx lc;

    dp_logctx_init(&lc, "agent");
    agent_load_bake_key(ag, &lc);
    if (dp_key_load_file(key, ag->conf.key_file, &err)) {
        dp_log(DP_LOG_WARN, &lc, "key not reloaded: %s", err.msg);
        return;
    }
    pthread_rwlock_wrlock(&ag->key_lock);
    memcpy(ag->key, key, sizeof(key));
    pthread_rwlock_unlock(&ag->key_lock);
    memset(key, 0, sizeof(key));
    dp_log(DP_LOG_INFO, &lc, "key reloaded from %s", ag->conf.key_file);
}

void agent_count_op(struct agent *ag, enum agent_op op, int ok)
{
    if (op >= AGENT_OP__COUNT)
        return; /* not a counted operation (logs) */
    atomic_fetch_add(&ag->metrics.ops[op][ok ? 0 : 1], 1);
}

/* The presented key: X-API-Key, or Authorization: Bearer. */
static const char *presented_key(struct mg_connection *conn)
{
    const char *k = mg_get_header(conn, "X-API-Key");
    const char *auth;

    if (k)
        return k;
    auth = mg_get_header(conn, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return NULL;
}

/* Which keys the presented one is: the agent key, the bake key (while its file exists), both
 * (an administrator's choice), or neither. */
struct key_verdict {
    bool normal, bake, none_configured;
};

static struct key_verdict key_check(struct agent *ag, const char *presented)
{
    struct key_verdict v = {0};
    size_t n = presented ? strlen(presented) : 0;

    pthread_rwlock_rdlock(&ag->key_lock);
    v.none_configured = !ag->key[0] && !ag->bake_key[0];
    v.normal = presented && ag->key[0] && dp_key_equal(presented, n, ag->key);
    v.bake = presented && ag->bake_key[0] && dp_key_equal(presented, n, ag->bake_key);
    pthread_rwlock_unlock(&ag->key_lock);
    if (v.bake && access(ag->conf.bake_key_file, F_OK) != 0)
        v.bake = false; /* the file went away: bake mode is over */
    return v;
}

/* Answers and returns non-zero when the request may not go on; *v says which key it holds. */
static int gatekeep(struct agent *ag, struct dp_req *rq, struct key_verdict *v)
{
    const char *addr = rq->ri->remote_addr;
    int wait;

    if (ag->conf.nallow && !dp_cidr_contains_any(ag->conf.allow, ag->conf.nallow, addr))
        return dp_httpd_send_error(rq, 403, "forbidden", "address %s is not allowed", addr);
    wait = dp_authgate_wait_s(ag->gate, addr, dp_mono_s());
    if (wait > 0) {
        atomic_fetch_add(&ag->metrics.auth_blocked, 1);
        return dp_httpd_send_too_many(rq, wait);
    }
    *v = key_check(ag, presented_key(rq->conn));
    if (v->normal || v->bake)
        return 0;
    atomic_fetch_add(&ag->metrics.auth_failures, 1);
    wait = dp_authgate_fail(ag->gate, addr, dp_mono_s());
    dp_log(DP_LOG_WARN, &rq->log, "auth failed addr=%s path=%.128s", addr, rq->ri->local_uri_raw);
    if (wait > 0)
        return dp_httpd_send_too_many(rq, wait);
    if (v->none_configured)
        return dp_httpd_send_error(rq, 401, "unauthorized", "this agent has no key configured yet");
    return dp_httpd_send_error(rq, 401, "unauthorized", "missing or wrong agent key");
}

/* The key is known but this route is not for it: 403 (authenticated, not authorized), which
 * the auth gate does not count as a failure. The bake key reaches /ping, /health and
 * /bake/finalize; /bake/finalize takes nothing else. */
static int scope_check(struct dp_req *rq, const struct dp_route *r, const struct key_verdict *v)
{
    bool finalize = r && r->fn == agent_h_bake_finalize;
    bool bake_ok = finalize || (r && (r->fn == agent_h_ping || r->fn == agent_h_health));

    if (finalize && !v->bake)
        return dp_httpd_send_error(rq, 403, "forbidden",
                                   "POST /bake/finalize takes the bake key only");
    if (!v->normal && !bake_ok)
        return dp_httpd_send_error(rq, 403, "forbidden",
                                   "the bake key reaches only GET /ping, GET /health and POST "
                                   "/bake/finalize");
    return 0;
}

static void count_request(struct agent *ag, const struct dp_route *r, int status)
{
    int cls = status / 100;

    if (cls < 0 || cls > 5)
        cls = 0;
    if (r)
        atomic_fetch_add(&ag->metrics.requests[r - agent_routes][cls], 1);
    else
        atomic_fetch_add(&ag->metrics.unrouted[cls], 1);
}

int agent_dispatch(struct mg_connection *conn, void *app)
{
    struct agent *ag = app;
    struct key_verdict v = {0};
    struct dp_req rq;
    const struct dp_route *r;
    int status;

    dp_req_init(&rq, conn, "agent", ag);
    if (gatekeep(ag, &rq, &v)) {
        count_request(ag, NULL, rq.status);
        return rq.status;
    }
    r = dp_router_match(agent_routes, agent_routes_count, rq.ri->request_method,
                        rq.ri->local_uri_raw, &rq, &status);
    if (scope_check(&rq, r, &v)) {
        r = NULL; /* counted with the refusals before routing */
    } else if (!r) {
        dp_httpd_send_error(&rq, status, status == 404 ? "not_found" : "method_not_allowed",
                            "%s %.200s is not a route of this agent", rq.ri->request_method,
                            rq.ri->local_uri_raw);
    } else {
        rq.route = r;
        r->fn(&rq);
    }
    count_request(ag, r, rq.status);
    return rq.status ? rq.status : 500;
}
