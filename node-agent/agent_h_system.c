/* GET /ping, /health, /metrics. */
#include "agent.h"

#include "dp_clock.h"
#include "dp_health.h"
#include "dp_prom.h"

#include <stdio.h>
#include <string.h>

int agent_h_ping(struct dp_req *rq)
{
    static const char body[] = "{\"status\":\"ok\",\"version\":\"" DP_VERSION "\"}";

    return dp_httpd_send(rq, 200, "application/json", NULL, body, sizeof(body) - 1);
}

int agent_h_health(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_health_in in = {.docker = &ag->docker,
                              .data_root = ag->conf.data_root,
                              .namespace_ = ag->conf.namespace_,
                              .uptime_s = dp_mono_s() - ag->started_mono_s,
                              .cache = &ag->health};
    struct dp_err err = {0};
    json_t *h = NULL;
    int st;

    if (dp_health_collect(&h, &in, &err))
        return dp_httpd_send_err(rq, &err);
    st = dp_httpd_send_json(rq, 200, h);
    json_decref(h);
    return st;
}

static const char *const op_names[AGENT_OP__COUNT] = {"upload", "clone",  "build", "pull",
                                                      "load",   "export", "run"};

static void metrics_requests(struct dp_buf *b, struct agent *ag)
{
    static const char *const cls[] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *n = "node_agent_requests_total";

    dp_prom_head(b, n, "counter", "HTTP requests answered, by route and status class.");
    for (size_t r = 0; r < agent_routes_count; r++) {
        for (int c = 1; c < 6; c++) {
            unsigned long v = atomic_load(&ag->metrics.requests[r][c]);
            char labels[128];

            snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%s\"", agent_routes[r].metric,
                     cls[c]);
            if (v || c == 2)
                dp_prom_sample(b, n, labels, (double)v);
        }
    }
    for (int c = 1; c < 6; c++) {
        char labels[64];

        snprintf(labels, sizeof(labels), "route=\"none\",code=\"%s\"", cls[c]);
        dp_prom_sample(b, n, labels, (double)atomic_load(&ag->metrics.unrouted[c]));
    }
}

static void metrics_ops(struct dp_buf *b, struct agent *ag)
{
    const char *n = "node_agent_operations_total";

    dp_prom_head(b, n, "counter", "Long operations finished, by kind and outcome.");
    for (int op = 0; op < AGENT_OP__COUNT; op++) {
        for (int o = 0; o < 2; o++) {
            char labels[64];

            snprintf(labels, sizeof(labels), "op=\"%s\",outcome=\"%s\"", op_names[op],
                     o ? "failed" : "ok");
            dp_prom_sample(b, n, labels, (double)atomic_load(&ag->metrics.ops[op][o]));
        }
    }
}

int agent_h_metrics(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct dp_buf b;
    int st;

    dp_buf_init(&b, (size_t)256 * 1024);
    metrics_requests(&b, ag);
    metrics_ops(&b, ag);
    dp_prom_head(&b, "node_agent_auth_failures_total", "counter",
                 "Requests refused for a missing or wrong key.");
    dp_prom_sample(&b, "node_agent_auth_failures_total", "",
                   (double)atomic_load(&ag->metrics.auth_failures));
    dp_prom_head(&b, "node_agent_auth_blocked_total", "counter",
                 "Requests answered 429 because their address failed too often.");
    dp_prom_sample(&b, "node_agent_auth_blocked_total", "",
                   (double)atomic_load(&ag->metrics.auth_blocked));
    dp_prom_head(&b, "node_agent_upload_bytes_total", "counter", "Bytes of tar received.");
    dp_prom_sample(&b, "node_agent_upload_bytes_total", "",
                   (double)atomic_load(&ag->metrics.upload_bytes));
    dp_prom_head(&b, "node_agent_streams_active", "gauge", "Long operations streaming now.");
    dp_prom_sample(&b, "node_agent_streams_active", "",
                   (double)atomic_load(&ag->metrics.streams_active));
    dp_prom_head(&b, "node_agent_uptime_seconds", "gauge", "Seconds since the agent started.");
    dp_prom_sample(&b, "node_agent_uptime_seconds", "", (double)(dp_mono_s() - ag->started_mono_s));
    dp_prom_head(&b, "node_agent_build_info", "gauge", "The agent's version.");
    dp_prom_sample(&b, "node_agent_build_info", "version=\"" DP_VERSION "\"", 1);
    st = dp_httpd_send(rq, 200, DP_PROM_CONTENT_TYPE, NULL, b.data ? b.data : "", b.len);
    dp_buf_clear(&b);
    return st;
}
