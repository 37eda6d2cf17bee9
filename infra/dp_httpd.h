/* The server side of every HTTP surface: one request context, one-write JSON answers, bounded
 * bodies, and the civetweb start-up every daemon shares. Route handlers stay thin on top. */
#ifndef DP_HTTPD_H
#define DP_HTTPD_H

#include "dp_buf.h"
#include "dp_err.h"
#include "dp_log.h"

#include <civetweb.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DP_ROUTE_PARAMS_MAX 4
#define DP_ROUTE_PARAM_MAX  512 /* bytes of all captured path parameters */

/* One request being served. Lives on the worker's stack for the request's duration. */
struct dp_req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    struct dp_logctx log;
    void *app;         /* the daemon's context (struct agent, struct ctl) */
    const void *route; /* the matched route, for metrics */
    int nparams;
    const char *params[DP_ROUTE_PARAMS_MAX]; /* captured path parts, decoded */
    char param_buf[DP_ROUTE_PARAM_MAX];
    int status;      /* what was answered, for logs and metrics */
    bool keep_alive; /* false once the body was not read whole */
};

/* Fills rq for conn: request id from a valid X-Request-Id header, else a fresh random one. */
void dp_req_init(struct dp_req *rq, struct mg_connection *conn, const char *prog, void *app);

/* Sends status, headers and body in one write (keep-alive friendly: Content-Length always).
 * extra_headers: "Name: value\r\n" lines or NULL. Returns the status. */
int dp_httpd_send(struct dp_req *rq, int status, const char *content_type,
                  const char *extra_headers, const void *body, size_t len);

/* Sends a JSON value as the answer (compact). Returns the status. */
int dp_httpd_send_json(struct dp_req *rq, int status, const json_t *body);

/* Sends {"error": code, "detail": formatted sentence}. Returns the status. */
int dp_httpd_send_error(struct dp_req *rq, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sends 429 with Retry-After: wait_s. Returns 429. */
int dp_httpd_send_too_many(struct dp_req *rq, int wait_s);

/* Sends err as an error answer with the status its rc maps to. Returns the status. */
int dp_httpd_send_err(struct dp_req *rq, const struct dp_err *err);

/* A handler's last line: sends out with status when rc is DP_OK, else err; frees out. */
int dp_httpd_answer(struct dp_req *rq, int status, dp_rc rc, json_t *out, const struct dp_err *err);

/* The route's first {param} as a positive decimal id (a droplet, deployment, snapshot). */
bool dp_httpd_id_param(long long *out, const struct dp_req *rq);

/* Reads the whole body into out, at most max bytes. A declared or actual length past max is
 * DP_ETOOBIG (and the connection will close, since the body was not read). */
dp_rc dp_httpd_read_body(struct dp_req *rq, struct dp_buf *out, size_t max, struct dp_err *err);

/* Reads the body as a JSON object whatever Content-Type says (curl -d sends a form type).
 * Bounded by DP_BODY_MAX and DP_JSON_DEPTH_MAX. *out is the caller's. */
dp_rc dp_httpd_read_json(struct dp_req *rq, json_t **out, struct dp_err *err);

/* Answers "100 Continue" when the client asked for it (civetweb does not for handlers, and
 * curl would otherwise wait a second before sending a body). Call before reading a body. */
void dp_httpd_continue(struct dp_req *rq);

/* Copies query parameter name into buf; false when absent (buf keeps its default), too long or
 * not decodable. */
bool dp_httpd_query(const struct dp_req *rq, const char *name, char *buf, size_t size);

/* True when query parameter name is "1", "true" or "yes". */
bool dp_httpd_query_flag(const struct dp_req *rq, const char *name);

/* Marks the connection to close after this answer (a body was left unread). */
void dp_httpd_close_after(struct dp_req *rq);

/* What a daemon asks of civetweb. */
struct dp_httpd_opts {
    const char *listen;     /* "127.0.0.1:9999" */
    int threads;            /* worker pool = concurrent connections */
    const char *tls_cert;   /* PEM certificate (chain), or NULL for plain HTTP */
    const char *tls_key;    /* PEM private key for tls_cert */
    int request_timeout_ms; /* per read/write, not per request */
};

/* Starts civetweb with the opts, keep-alive and TCP_NODELAY on, automatic CORS answers off,
 * and handler serving every path (it does its own routing; app is its cbdata). With tls_cert
 * and tls_key every listening port serves HTTPS only (TLS 1.2+, via dp_tls); a TLS problem
 * fails the start with the reason, never falls back to plain HTTP. *out: mg_stop() it. */
dp_rc dp_httpd_start(struct mg_context **out, const struct dp_httpd_opts *o,
                     mg_request_handler handler, void *app, struct dp_err *err);

/* Stops civetweb promptly: the listening port is free within milliseconds and idle
 * connections end within civetweb's 2 s poll quantum. listen is the "ADDR:PORT" it serves. */
void dp_httpd_stop(struct mg_context *ctx, const char *listen);

#endif
