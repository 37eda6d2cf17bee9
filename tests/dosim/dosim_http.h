/* The HTTP side of dosim: one request context, answers with DigitalOcean's headers and error
 * bodies, pagination, the --record log and the per-route counters. */
#ifndef DOSIM_HTTP_H
#define DOSIM_HTTP_H

#include "dosim.h"

#include "dp_httpd.h"

#include <jansson.h>
#include <stdbool.h>

/* A request being served; handlers get &base and find the rest with dosim_req_of. */
struct dosim_req {
    struct dp_req base; /* first member */
    struct dosim *sim;
    json_t *body; /* the parsed request body (for --record); owned */
    bool api;     /* a /v2 request: rate-limit headers, counters, record */
    struct dosim_rl_verdict rl;
    char base_url[300]; /* "http://host:port", for links */
};

static inline struct dosim_req *dosim_req_of(struct dp_req *rq)
{
    return (struct dosim_req *)(void *)rq;
}

/* Sends status with body (stolen; NULL sends no body) plus the rate-limit headers, then counts
 * and records it. Returns status. */
int dosim_reply(struct dosim_req *r, int status, json_t *body);

/* Sends {"id","message","request_id"}. */
int dosim_reply_error(struct dosim_req *r, int status, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 404 "The resource you requested could not be found." */
int dosim_reply_not_found(struct dosim_req *r);

/* 422 unprocessable_entity with message. */
int dosim_reply_422(struct dosim_req *r, const char *message);

/* Sends one page of items (stolen) under key, with links.pages (absolute URLs keeping the other
 * query parameters) and meta.total, after page/per_page (default 20, at most 200). */
int dosim_reply_list(struct dosim_req *r, const char *key, json_t *items);

/* Reads the body as a JSON object whatever Content-Type says (empty means {}), keeps it for
 * the record. 0 with *out borrowed, or the status already answered (400/413). */
int dosim_body(struct dosim_req *r, const json_t **out);

/* Path parameter i as a positive integer; false when it is not one. */
bool dosim_param_id(const struct dosim_req *r, int i, long long *out);

/* Path parameter i, percent-decoded, into buf; false when it does not fit. */
bool dosim_param_str(const struct dosim_req *r, int i, char *buf, size_t size);

/* Query parameter name into buf; false when absent. */
bool dosim_query(const struct dosim_req *r, const char *name, char *buf, size_t size);

#endif
