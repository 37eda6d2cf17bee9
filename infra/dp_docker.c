#include "dp_docker.h"

#include "dp_limits.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_docker_init(struct dp_docker *d, const char *socket_path)
{
    snprintf(d->socket_path, sizeof(d->socket_path), "%s", socket_path);
}

void dp_docker_resp_clear(struct dp_docker_resp *r)
{
    dp_buf_clear(&r->body);
}

/* State of one call while curl runs it. */
struct call {
    const struct dp_docker_stream_cb *cb;
    CURL *curl;
    long status;
    struct dp_buf *whole;  /* non-streamed: the whole answer */
    struct dp_buf line;    /* streamed: the partial line */
    struct dp_buf errbody; /* streamed, non-2xx: Docker's error answer */
    dp_rc stop_rc;         /* why we stopped curl, when we did */
    struct dp_err *err;
};

static void message_of(char *out, size_t size, const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;

    if (m)
        snprintf(out, size, "%s", m);
    else
        snprintf(out, size, "%.*s", (int)(len > 200 ? 200 : len), body);
    json_decref(j);
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    }
    while (*out && out[strlen(out) - 1] == ' ')
        out[strlen(out) - 1] = '\0';
}

static dp_rc status_err(long status, const char *body, size_t len, const char *what,
                        struct dp_err *err)
{
    char msg[DP_ERR_MSG_MAX - 64];

    message_of(msg, sizeof(msg), body ? body : "", body ? len : 0);
    switch (status) {
    case 400:
        return dp_err_setc(err, DP_EINVAL, "docker_bad_request", "%s: %s", what, msg);
    case 404:
        return dp_err_setc(err, DP_ENOTFOUND, "not_found", "%s: %s", what, msg);
    case 409:
        return dp_err_setc(err, DP_ECONFLICT, "conflict", "%s: %s", what, msg);
    default:
        return dp_err_setc(err, DP_EUPSTREAM, "docker_error", "%s: docker answered %ld: %s", what,
                           status, msg);
    }
}

dp_rc dp_docker_status_err(const struct dp_docker_resp *r, const char *what, struct dp_err *err)
{
    return status_err(r->status, r->body.data, r->body.len, what, err);
}

/* Checks one stream line for Docker's in-line error and hands the rest to on_line. */
static dp_rc stream_line(struct call *c, const char *p, size_t n)
{
    json_t *j, *detail;
    const char *msg;
    dp_rc rc = DP_OK;

    while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0)
        return DP_OK;
    j = json_loadb(p, n, 0, NULL);
    if (!j)
        return DP_OK; /* not JSON: Docker never sends such lines; nothing to act on */
    detail = json_object_get(j, "errorDetail");
    msg = json_string_value(json_object_get(detail, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(j, "error"));
    if (msg || detail) {
        rc = dp_err_setc(c->err, DP_EUPSTREAM, "docker_error", "%s", msg ? msg : "docker failed");
    } else if (c->cb->on_line) {
        rc = c->cb->on_line(c->cb->ud, j);
    }
    json_decref(j);
    return rc;
}

static dp_rc stream_feed(struct call *c, const char *p, size_t n)
{
    if (c->cb->on_data)
        return c->cb->on_data(c->cb->ud, p, n);
    if (!c->cb->on_line && !c->cb->on_data)
        return DP_OK;
    if (dp_buf_append(&c->line, p, n))
        return dp_err_set(c->err, DP_ETOOBIG, "docker sent a line longer than %lu bytes",
                          DP_DOCKER_LINE_MAX);
    for (;;) {
        char *nl = memchr(c->line.data, '\n', c->line.len);
        dp_rc rc;

        if (!nl)
            return DP_OK;
        rc = stream_line(c, c->line.data, (size_t)(nl - c->line.data));
        if (rc)
            return rc;
        dp_buf_consume(&c->line, (size_t)(nl - c->line.data) + 1);
    }
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct call *c = ud;
    size_t n = size * nmemb;

    if (!c->status)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->whole) {
        if (dp_buf_append(c->whole, p, n)) {
            c->stop_rc =
                dp_err_set(c->err, DP_ETOOBIG, "docker answer over %lu bytes", DP_DOCKER_REPLY_MAX);
            return 0;
        }
        return n;
    }
    if (c->status < 200 || c->status > 299) {
        dp_buf_append(&c->errbody, p, n); /* capped; the message is at the start */
        return n;
    }
    if (c->cb->tick && c->cb->tick(c->cb->ud)) {
        c->stop_rc = dp_err_set(c->err, DP_ECANCELED, "canceled");
        return 0;
    }
    c->stop_rc = stream_feed(c, p, n);
    return c->stop_rc ? 0 : n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct call *c = ud;
    size_t n = c->cb->read(c->cb->ud, buf, size * nmemb);

    if (n == (size_t)-1) {
        if (!c->stop_rc)
            c->stop_rc = dp_err_set(c->err, DP_ECANCELED, "the upload to docker was aborted");
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct call *c = ud;

    (void)dt, (void)dn, (void)ut, (void)un;
    if (c->cb && c->cb->tick && c->cb->tick(c->cb->ud)) {
        c->stop_rc = dp_err_set(c->err, DP_ECANCELED, "canceled");
        return 1;
    }
    return 0;
}

static struct curl_slist *call_headers(const struct dp_docker_req *rq)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");

    if (rq->json_body)
        h = curl_slist_append(h, "Content-Type: application/json");
    else if (rq->content_type) {
        char ct[128];

        snprintf(ct, sizeof(ct), "Content-Type: %s", rq->content_type);
        h = curl_slist_append(h, ct);
    }
    if (rq->extra_header)
        h = curl_slist_append(h, rq->extra_header);
    return h;
}

static void call_setup(CURL *curl, const struct dp_docker *d, const struct dp_docker_req *rq,
                       struct call *c, char *url, size_t url_size)
{
    snprintf(url, url_size, "http://docker%s%s", DP_DOCKER_API, rq->path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)DP_DOCKER_CONNECT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    if (rq->json_body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->json_body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->json_body));
    } else if (c->cb && c->cb->read) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L); /* unknown size: chunked */
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, c);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
}

static dp_rc curl_result(CURLcode cc, const struct dp_docker *d, struct call *c, const char *what)
{
    if (cc == CURLE_OK)
        return DP_OK;
    if (c->stop_rc)
        return c->stop_rc;
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        return dp_err_setc(c->err, DP_EUNAVAIL, "docker_unavailable",
                           "docker is not answering on %s", d->socket_path);
    case CURLE_OPERATION_TIMEDOUT:
        return dp_err_setc(c->err, DP_ETIMEOUT, "docker_timeout", "%s: docker took too long", what);
    default:
        return dp_err_setc(c->err, DP_EUPSTREAM, "docker_error", "%s: %s", what,
                           curl_easy_strerror(cc));
    }
}

static dp_rc call_run(const struct dp_docker *d, const struct dp_docker_req *rq, struct call *c)
{
    char url[4096];
    struct curl_slist *hdrs;
    CURLcode cc;
    dp_rc rc;

    if (strlen(rq->path) > sizeof(url) - 64)
        return dp_err_set(c->err, DP_ETOOBIG, "docker request path too long");
    c->curl = curl_easy_init();
    if (!c->curl)
        return dp_err_set(c->err, DP_ENOMEM, "cannot start a docker request");
    hdrs = call_headers(rq);
    call_setup(c->curl, d, rq, c, url, sizeof(url));
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(c->curl);
    if (!c->status)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    rc = curl_result(cc, d, c, rq->path);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c->curl);
    c->curl = NULL;
    return rc;
}

dp_rc dp_docker_call(const struct dp_docker *d, const struct dp_docker_req *rq,
                     struct dp_docker_resp *out, struct dp_err *err)
{
    static const struct dp_docker_stream_cb none = {0};
    struct call c = {.cb = &none, .whole = &out->body, .err = err};
    dp_rc rc;

    out->status = 0;
    dp_buf_init(&out->body, DP_DOCKER_REPLY_MAX);
    rc = call_run(d, rq, &c);
    out->status = c.status;
    return rc;
}

dp_rc dp_docker_stream(const struct dp_docker *d, const struct dp_docker_req *rq,
                       const struct dp_docker_stream_cb *cb, struct dp_err *err)
{
    struct call c = {.cb = cb, .err = err};
    dp_rc rc;

    dp_buf_init(&c.line, DP_DOCKER_LINE_MAX);
    dp_buf_init(&c.errbody, 8192);
    rc = call_run(d, rq, &c);
    if (rc == DP_OK && (c.status < 200 || c.status > 299)) {
        char what[64];

        /* Name the call, not its query: that can be long and say nothing to the user. */
        snprintf(what, sizeof(what), "docker %.*s", (int)strcspn(rq->path, "?"), rq->path);
        rc = status_err(c.status, c.errbody.data, c.errbody.len, what, err);
    } else if (rc == DP_OK && c.line.len)
        rc = stream_line(&c, c.line.data, c.line.len); /* a last line without newline */
    dp_buf_clear(&c.line);
    dp_buf_clear(&c.errbody);
    return rc;
}

dp_rc dp_docker_ping(const struct dp_docker *d, struct dp_err *err)
{
    struct dp_docker_req rq = {.method = "GET", .path = "/_ping", .timeout_ms = 5000};
    struct dp_docker_resp r;
    dp_rc rc = dp_docker_call(d, &rq, &r, err);

    if (rc == DP_OK && r.status != 200)
        rc = dp_docker_status_err(&r, "docker ping", err);
    dp_docker_resp_clear(&r);
    return rc;
}

dp_rc dp_docker_version(const struct dp_docker *d, json_t **out, struct dp_err *err)
{
    struct dp_docker_req rq = {.method = "GET", .path = "/version", .timeout_ms = 5000};
    struct dp_docker_resp r;
    dp_rc rc = dp_docker_call(d, &rq, &r, err);

    *out = NULL;
    if (rc == DP_OK && r.status != 200)
        rc = dp_docker_status_err(&r, "docker version", err);
    if (rc == DP_OK) {
        *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        if (!*out)
            rc =
                dp_err_setc(err, DP_EUPSTREAM, "docker_error", "docker sent an unreadable version");
    }
    dp_docker_resp_clear(&r);
    return rc;
}
