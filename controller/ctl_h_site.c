/* The page's files, the API description, /metrics, and the agent package for bakes. */
#include "ctl.h"

#include "dp_do.h"
#include "dp_prom.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (64UL * 1024 * 1024) /* a file served whole, bytes */

static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n";

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".gz", "application/gzip"},
        {".sha256", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    }
    return "application/octet-stream";
}

/* Only plain names below the folder: letters, digits, '.', '-', '_', '/', no "..", no dot files. */
static bool path_ok(const char *p)
{
    if (strstr(p, "..") || strstr(p, "/.") || strstr(p, "//") || strlen(p) > 200)
        return false;
    for (; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("._-/", *p))
            return false;
    }
    return true;
}

/* Sends dir/rel whole (never following a symlink at the end); 0 when there is no such file. */
static int send_file(struct dp_req *rq, const char *dir, const char *rel, const char *extra)
{
    char path[2048];
    struct stat st;
    char *buf;
    ssize_t n;
    int fd, status;

    if (!path_ok(rel) || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (unsigned long)st.st_size > FILE_MAX ||
        !(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return 0;
    }
    n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    status = n == st.st_size
                 ? dp_httpd_send(rq, 200, content_type(rel), extra, buf, (size_t)n)
                 : dp_httpd_send_error(rq, 500, "io_error", "%s could not be read", rel);
    free(buf);
    return status;
}

int ctl_serve_static(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *m = rq->ri->request_method, *p = rq->ri->local_uri_raw;

    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        return 0;
    while (*p == '/')
        p++;
    return send_file(rq, c->conf.static_dir, *p ? p : "index.html", security_headers);
}

int ctl_h_openapi(struct dp_req *rq)
{
    struct ctl *c = rq->app;

    if (send_file(rq, c->conf.static_dir, "openapi.json", NULL))
        return rq->status;
    return dp_httpd_send_error(rq, 404, "not_found", "the API description is not installed");
}

/* GET /agent/node-agent-<VERSION>-linux-<arch>.tar.gz (and .sha256), or /agent/package and
 * /agent/package.sha256 for the one this controller was built with. */
int ctl_h_agent_package(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *name = rq->ri->local_uri_raw + strlen("/agent/");
    char file[256];

    if (strcmp(name, "package") == 0 || strcmp(name, "package.sha256") == 0)
        snprintf(file, sizeof(file), "node-agent-%s-linux-amd64.tar.gz%s", DP_VERSION,
                 name[7] ? ".sha256" : "");
    else
        snprintf(file, sizeof(file), "%.200s", name);
    if (strncmp(file, "node-agent-", 11) == 0 && send_file(rq, c->conf.package_dir, file, NULL))
        return rq->status;
    return dp_httpd_send_error(rq, 404, "not_found", "no agent package %.100s here", name);
}

/* ---- /metrics ---- */

static void metrics_requests(struct dp_buf *b, struct ctl *c)
{
    static const char *const cls[] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *n = "controller_requests_total";

    dp_prom_head(b, n, "counter", "HTTP requests answered, by route and status class.");
    for (size_t r = 0; r < ctl_routes_count; r++) {
        for (int k = 1; k < 6; k++) {
            unsigned long v = atomic_load(&c->metrics.requests[r][k]);
            char labels[128], route[64];

            snprintf(route, sizeof(route), "%s", ctl_routes[r].metric);
            route[strcspn(route, "!")] = '\0';
            snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%s\"", route, cls[k]);
            if (v)
                dp_prom_sample(b, n, labels, (double)v);
        }
    }
    for (int k = 1; k < 6; k++) {
        char labels[64];

        snprintf(labels, sizeof(labels), "route=\"none\",code=\"%s\"", cls[k]);
        dp_prom_sample(b, n, labels, (double)atomic_load(&c->metrics.unrouted[k]));
    }
}

static void metric(struct dp_buf *b, const char *name, const char *type, const char *help, double v)
{
    dp_prom_head(b, name, type, help);
    dp_prom_sample(b, name, "", v);
}

static void metrics_deploys(struct dp_buf *b, struct ctl *c)
{
    const char *n = "controller_deploys_total";
    unsigned long ok = atomic_load(&c->env.deploys_ok), bad = atomic_load(&c->env.deploys_failed),
                  cancel = atomic_load(&c->env.deploys_canceled);

    dp_prom_head(b, n, "counter", "Deploys finished, by outcome.");
    dp_prom_sample(b, n, "outcome=\"succeeded\"", (double)ok);
    dp_prom_sample(b, n, "outcome=\"failed\"", (double)bad);
    dp_prom_sample(b, n, "outcome=\"canceled\"", (double)cancel);
    metric(b, "controller_deploy_seconds_total", "counter",
           "Seconds spent in finished deploys (divide by the deploys for the mean).",
           (double)atomic_load(&c->env.deploy_ms_total) / 1000.0);
    metric(b, "controller_deploys_running", "gauge", "Deploys running now.",
           (double)(c->deploys ? dp_deploys_running(c->deploys) : 0));
    metric(b, "controller_sse_viewers", "gauge", "Clients following a deploy's events now.",
           (double)dp_events_viewers(c->events));
}

static void metrics_cloud(struct dp_buf *b, struct ctl *c)
{
    const struct dp_do_stats *s = c->cloud ? dp_do_stats(c->cloud) : NULL;

    metric(b, "controller_cloud_api_calls_total", "counter",
           "Requests sent to the DigitalOcean API, retries included.",
           s ? (double)atomic_load(&s->calls) : 0);
    metric(b, "controller_cloud_api_retries_total", "counter",
           "Retried DigitalOcean API requests (429, 5xx, no answer).",
           s ? (double)atomic_load(&s->retries) : 0);
    metric(b, "controller_cloud_api_rate_limited_total", "counter", "DigitalOcean API answers 429.",
           s ? (double)atomic_load(&s->rate_limited) : 0);
}

int ctl_h_metrics(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    struct dp_buf b;
    int st;

    dp_buf_init(&b, (size_t)512 * 1024);
    metrics_requests(&b, c);
    metrics_deploys(&b, c);
    metrics_cloud(&b, c);
    metric(&b, "controller_logins_failed_total", "counter", "Failed logins.",
           (double)atomic_load(&c->metrics.logins_failed));
    dp_prom_head(&b, "controller_build_info", "gauge", "The controller's version.");
    dp_prom_sample(&b, "controller_build_info", "version=\"" DP_VERSION "\"", 1);
    st = dp_httpd_send(rq, 200, DP_PROM_CONTENT_TYPE, NULL, b.data ? b.data : "", b.len);
    dp_buf_clear(&b);
    return st;
}
