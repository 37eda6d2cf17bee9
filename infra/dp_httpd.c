#include "dp_httpd.h"

#include "dp_json.h"
#include "dp_tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_MAX 1024 /* status line and headers of a one-write answer */

static bool req_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > DP_REQ_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    }
    return true;
}

void dp_req_init(struct dp_req *rq, struct mg_connection *conn, const char *prog, void *app)
{
    const char *hdr = mg_get_header(conn, "X-Request-Id");

    memset(rq, 0, sizeof(*rq));
    rq->conn = conn;
    rq->ri = mg_get_request_info(conn);
    rq->app = app;
    rq->keep_alive = true;
    rq->log.prog = prog;
    if (hdr && req_id_valid(hdr)) {
        memcpy(rq->log.req_id, hdr, strlen(hdr) + 1);
    } else {
        unsigned char r[4] = {0};

        RAND_bytes(r, sizeof(r));
        snprintf(rq->log.req_id, sizeof(rq->log.req_id), "%02x%02x%02x%02x", r[0], r[1], r[2],
                 r[3]);
    }
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

void dp_httpd_close_after(struct dp_req *rq)
{
    if (rq->keep_alive) {
        rq->keep_alive = false;
        mg_disable_connection_keep_alive(rq->conn);
    }
}

int dp_httpd_send(struct dp_req *rq, int status, const char *content_type,
                  const char *extra_headers, const void *body, size_t len)
{
    char head[HEAD_MAX];
    char *msg;
    int n;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: no-store\r\nX-Request-Id: %s\r\n%s%s\r\n",
                 status, status_text(status), content_type, len, rq->log.req_id,
                 rq->keep_alive ? "" : "Connection: close\r\n", extra_headers ? extra_headers : "");
    rq->status = status;
    if (n < 0 || (size_t)n >= sizeof(head))
        return status;
    /* Headers and body in one send: two segments per answer cost ~3x in throughput. */
    msg = malloc((size_t)n + len);
    if (!msg) {
        mg_write(rq->conn, head, (size_t)n);
        mg_write(rq->conn, body, len);
        return status;
    }
    memcpy(msg, head, (size_t)n);
    if (len)
        memcpy(msg + n, body, len);
    mg_write(rq->conn, msg, (size_t)n + len);
    free(msg);
    return status;
}

int dp_httpd_send_json(struct dp_req *rq, int status, const json_t *body)
{
    char *text = dp_json_dump(body);
    int rc;

    if (!text)
        return dp_httpd_send(rq, 500, "application/json", NULL,
                             "{\"error\":\"internal\",\"detail\":\"out of memory\"}", 45);
    rc = dp_httpd_send(rq, status, "application/json", NULL, text, strlen(text));
    free(text);
    return rc;
}

static int send_error_text(struct dp_req *rq, int status, const char *code, const char *detail,
                           const char *extra)
{
    json_t *o = json_pack("{s:s, s:o}", "error", code, "detail",
                          dp_json_string_lossy(detail, strlen(detail)));
    char *text = o ? dp_json_dump(o) : NULL;
    int rc;

    if (!text)
        rc = dp_httpd_send(rq, status, "application/json", extra, "{\"error\":\"internal\"}", 20);
    else
        rc = dp_httpd_send(rq, status, "application/json", extra, text, strlen(text));
    free(text);
    json_decref(o);
    return rc;
}

int dp_httpd_send_error(struct dp_req *rq, int status, const char *code, const char *fmt, ...)
{
    char detail[DP_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return send_error_text(rq, status, code, detail, NULL);
}

int dp_httpd_send_too_many(struct dp_req *rq, int wait_s)
{
    char extra[48];
    char detail[128];

    snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", wait_s > 0 ? wait_s : 1);
    snprintf(detail, sizeof(detail),
             "too many failed authentications from this address; retry in %d s", wait_s);
    return send_error_text(rq, 429, "too_many_requests", detail, extra);
}

int dp_httpd_send_err(struct dp_req *rq, const struct dp_err *err)
{
    const char *code = err->code[0] ? err->code : dp_rc_code(err->rc);

    return send_error_text(rq, dp_rc_http_status(err->rc), code, err->msg, NULL);
}

int dp_httpd_answer(struct dp_req *rq, int status, dp_rc rc, json_t *out, const struct dp_err *err)
{
    int st = rc ? dp_httpd_send_err(rq, err) : dp_httpd_send_json(rq, status, out);

    json_decref(out);
    return st;
}

bool dp_httpd_id_param(long long *out, const struct dp_req *rq)
{
    char *end;

    *out = strtoll(rq->params[0], &end, 10);
    return *rq->params[0] && !*end && *out > 0;
}

dp_rc dp_httpd_read_body(struct dp_req *rq, struct dp_buf *out, size_t max, struct dp_err *err)
{
    char chunk[16384];
    int n;

    dp_buf_init(out, max);
    if (rq->ri->content_length > 0 && (unsigned long long)rq->ri->content_length > max) {
        dp_httpd_close_after(rq);
        return dp_err_setc(err, DP_ETOOBIG, "body_too_large",
                           "request body of %lld bytes is over the limit of %zu bytes",
                           rq->ri->content_length, max);
    }
    dp_httpd_continue(rq);
    while ((n = mg_read(rq->conn, chunk, sizeof(chunk))) > 0) {
        dp_rc rc = dp_buf_append(out, chunk, (size_t)n);

        if (rc == DP_ETOOBIG) {
            dp_httpd_close_after(rq);
            return dp_err_setc(err, DP_ETOOBIG, "body_too_large",
                               "request body is over the limit of %zu bytes", max);
        }
        if (rc)
            return dp_err_set(err, rc, "out of memory reading the request body");
    }
    if (n < 0) {
        dp_httpd_close_after(rq);
        return dp_err_set(err, DP_EIO, "the request body could not be read");
    }
    return DP_OK;
}

dp_rc dp_httpd_read_json(struct dp_req *rq, json_t **out, struct dp_err *err)
{
    struct dp_buf body;
    dp_rc rc;

    *out = NULL;
    rc = dp_httpd_read_body(rq, &body, DP_BODY_MAX, err);
    if (rc == DP_OK)
        rc =
            dp_json_parse_object(out, body.data ? body.data : "", body.len, DP_JSON_DEPTH_MAX, err);
    dp_buf_clear(&body);
    return rc;
}

void dp_httpd_continue(struct dp_req *rq)
{
    const char *expect = mg_get_header(rq->conn, "Expect");

    if (expect && strcasecmp(expect, "100-continue") == 0)
        mg_write(rq->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

bool dp_httpd_query(const struct dp_req *rq, const char *name, char *buf, size_t size)
{
    const char *qs = rq->ri->query_string;
    char probe[1];

    /* mg_get_var() empties buf even when the name is absent; probe first so the caller's
     * default survives (-1: absent; -2: present but longer than the probe). */
    if (!qs || mg_get_var(qs, strlen(qs), name, probe, sizeof(probe)) == -1)
        return false;
    return mg_get_var(qs, strlen(qs), name, buf, size) >= 0;
}

bool dp_httpd_query_flag(const struct dp_req *rq, const char *name)
{
    char v[8];

    if (!dp_httpd_query(rq, name, v, sizeof(v)))
        return false;
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0;
}

/* civetweb's user data: what the init_ssl callback needs while mg_start2() runs. dp_httpd owns
 * it (exit_context frees it); handlers get the daemon's app as their cbdata, not from here. */
struct httpd_srv {
    void *app;
    const struct dp_httpd_opts *starting; /* only inside mg_start2() */
    struct dp_err tls_err;                /* why the certificate or key did not load */
};

/* Called by civetweb inside mg_start2() with the SSL_CTX it made: we load our separate
 * certificate and key files ourselves (its ssl_certificate option wants both in one file). */
static int httpd_init_ssl(void *ssl_ctx, void *user_data)
{
    struct httpd_srv *srv = user_data;
    const struct dp_httpd_opts *o = srv->starting;

    if (dp_tls_ctx_load(ssl_ctx, o->tls_cert, o->tls_key, &srv->tls_err))
        return -1; /* mg_start2() fails: no plain-HTTP fallback */
    return 1;      /* certificate, key, protocol floor and ciphers are all set */
}

static void httpd_exit_context(const struct mg_context *ctx)
{
    free(mg_get_user_data(ctx));
}

/* "127.0.0.1:9999" -> "127.0.0.1:9999s" for TLS: civetweb's per-port suffix, on every port.
 * A caller's own 's' without a certificate is refused: civetweb would start TLS unprepared. */
static dp_rc listen_spec(char *out, size_t size, const char *listen, bool tls, struct dp_err *err)
{
    size_t n = 0;
    const char *p = listen;

    while (*p && n + 2 < size) {
        size_t len = strcspn(p, ",");

        if (!tls && len > 0 && p[len - 1] == 's')
            return dp_err_set(err, DP_EINVAL,
                              "listen address '%s' asks for TLS; give a certificate and key",
                              listen);
        if (n + len + 2 >= size)
            break;
        memcpy(out + n, p, len);
        n += len;
        if (tls && len > 0 && p[len - 1] != 's')
            out[n++] = 's';
        p += len;
        if (*p == ',')
            out[n++] = *p++;
    }
    out[n] = '\0';
    if (*p)
        return dp_err_set(err, DP_EINVAL, "listen address '%s' is too long", listen);
    return DP_OK;
}

struct httpd_optbuf {
    char threads[16], timeout[16], ports[128];
    const char *opts[32];
};

static void httpd_options(struct httpd_optbuf *b, const struct dp_httpd_opts *o)
{
    const char **opts = b->opts;
    int i = 0;

    snprintf(b->threads, sizeof(b->threads), "%d", o->threads);
    snprintf(b->timeout, sizeof(b->timeout), "%d", o->request_timeout_ms);
    opts[i++] = "listening_ports", opts[i++] = b->ports;
    opts[i++] = "num_threads", opts[i++] = b->threads;
    opts[i++] = "request_timeout_ms", opts[i++] = b->timeout;
    opts[i++] = "enable_keep_alive", opts[i++] = "yes";
    opts[i++] = "keep_alive_timeout_ms", opts[i++] = "5000";
    opts[i++] = "tcp_nodelay", opts[i++] = "1"; /* Nagle + delayed ACK cost 40 ms an answer */
    /* civetweb answers CORS preflights itself unless these are empty; the page is same-origin */
    opts[i++] = "access_control_allow_origin", opts[i++] = "";
    opts[i++] = "access_control_allow_methods", opts[i++] = "";
    opts[i++] = "access_control_allow_headers", opts[i++] = "";
    if (o->tls_cert)
        opts[i++] = "ssl_protocol_version", opts[i++] = "4"; /* TLS 1.2 and later */
    opts[i] = NULL;
}

/* Checks the TLS settings and readies civetweb's TLS before any TLS port exists. */
static dp_rc httpd_tls_prepare(const struct dp_httpd_opts *o, struct dp_err *err)
{
    if (!o->tls_cert && !o->tls_key)
        return DP_OK;
    if (!o->tls_cert || !o->tls_key)
        return dp_err_set(err, DP_EINVAL, "HTTPS needs both a certificate and a key");
    return dp_tls_civetweb_init(err);
}

/* Why mg_start2() failed: our certificate loader's reason, else civetweb's. */
static dp_rc start_error(const struct httpd_srv *srv, const struct dp_httpd_opts *o,
                         const char *errtext, struct dp_err *err)
{
    const char *why = errtext[0] ? errtext : "civetweb failed to start";

    if (srv->tls_err.rc)
        return dp_err_setc(err, srv->tls_err.rc, srv->tls_err.code, "cannot serve HTTPS on %s: %s",
                           o->listen, srv->tls_err.msg);
    return dp_err_setc(err, DP_EUNAVAIL, "listen_failed", "cannot serve on %s: %s", o->listen, why);
}

dp_rc dp_httpd_start(struct mg_context **out, const struct dp_httpd_opts *o,
                     mg_request_handler handler, void *app, struct dp_err *err)
{
    char errtext[256] = "";
    unsigned errcode = 0;
    struct httpd_optbuf b;
    struct mg_callbacks cbs;
    struct mg_error_data ed = {&errcode, errtext, sizeof(errtext)};
    struct mg_init_data init = {&cbs, NULL, b.opts};
    struct httpd_srv *srv;
    dp_rc rc;

    *out = NULL;
    rc = httpd_tls_prepare(o, err);
    if (!rc)
        rc = listen_spec(b.ports, sizeof(b.ports), o->listen, o->tls_cert != NULL, err);
    if (rc)
        return rc;
    httpd_options(&b, o);
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return dp_err_set(err, DP_ENOMEM, "out of memory starting the server");
    srv->app = app;
    srv->starting = o;
    memset(&cbs, 0, sizeof(cbs));
    cbs.init_ssl = o->tls_cert ? httpd_init_ssl : NULL;
    cbs.exit_context = httpd_exit_context;
    init.user_data = srv;
    *out = mg_start2(&init, &ed);
    if (!*out) {
        rc = start_error(srv, o, errtext, err);
        free(srv); /* civetweb calls exit_context only for a server that started */
        return rc;
    }
    srv->starting = NULL;
    mg_set_request_handler(*out, "/", handler, app);
    return DP_OK;
}

struct stopper {
    struct mg_context *ctx;
    atomic_bool done;
};

static void *stop_run(void *arg)
{
    struct stopper *s = arg;

    mg_stop(s->ctx);
    atomic_store(&s->done, true);
    return NULL;
}

/* Connects to and at once hangs up on addr:port, which wakes civetweb's accept loop. */
static void poke(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return;
    if (inet_pton(AF_INET, addr, &sa.sin_addr) == 1)
        (void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
}

void dp_httpd_stop(struct mg_context *ctx, const char *listen)
{
    struct stopper s = {.ctx = ctx};
    char addr[64] = "127.0.0.1";
    const char *colon = strrchr(listen, ':');
    int port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
    pthread_t t;

    if (colon && (size_t)(colon - listen) < sizeof(addr) && colon != listen &&
        strncmp(listen, "0.0.0.0", 7) != 0)
        snprintf(addr, sizeof(addr), "%.*s", (int)(colon - listen), listen);
    if (pthread_create(&t, NULL, stop_run, &s) != 0) {
        mg_stop(ctx);
        return;
    }
    /* civetweb's accept loop checks its stop flag only between 2 s polls; a connection makes
     * the poll return now, so the port is released at once. Bounded: 300 x 10 ms. */
    for (int i = 0; i < 300 && !atomic_load(&s.done); i++) {
        struct timespec ts = {0, 10000000L}; /* 10 ms */

        nanosleep(&ts, NULL);
        if (port > 0 && i % 5 == 0)
            poke(addr, port);
    }
    pthread_join(t, NULL);
}
