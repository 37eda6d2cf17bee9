#include "dosim_http.h"

#include "dp_json.h"
#include "dp_router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 2048

static void rl_headers(char *out, size_t size, const struct dosim_rl_verdict *v, int status)
{
    int n = snprintf(
        out, size, "ratelimit-limit: %ld\r\nratelimit-remaining: %ld\r\nratelimit-reset: %lld\r\n",
        v->limit, v->remaining, v->reset);

    if (status == 429 && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "retry-after: %d\r\n",
                 v->retry_after > 0 ? v->retry_after : 1);
}

static void count(struct dosim_req *r, int status)
{
    const struct dp_route *route = r->base.route;
    char key[300], code[8];
    json_t *per;

    snprintf(key, sizeof(key), "%s %s", r->base.ri->request_method,
             route ? route->pattern : "unmatched");
    snprintf(code, sizeof(code), "%d", status);
    pthread_mutex_lock(&r->sim->mu);
    per = json_object_get(r->sim->counters, key);
    if (!per) {
        per = json_object();
        json_object_set_new(r->sim->counters, key, per);
    }
    json_object_set_new(per, code,
                        json_integer(json_integer_value(json_object_get(per, code)) + 1));
    pthread_mutex_unlock(&r->sim->mu);
}

static json_t *query_object(const char *qs)
{
    json_t *o = json_object();
    char name[256], value[URL_MAX];

    while (qs && *qs) {
        size_t len = strcspn(qs, "&");
        const char *eq = memchr(qs, '=', len);
        size_t nlen = eq ? (size_t)(eq - qs) : len;

        if (nlen > 0 && mg_url_decode(qs, (int)nlen, name, sizeof(name), 1) >= 0 &&
            mg_url_decode(eq ? eq + 1 : "", eq ? (int)(len - nlen - 1) : 0, value, sizeof(value),
                          1) >= 0)
            json_object_set_new(o, name, dp_json_string_lossy(value, strlen(value)));
        qs += len;
        if (*qs == '&')
            qs++;
    }
    return o;
}

static void record(struct dosim_req *r, int status, const json_t *body, const char *hdrs)
{
    const struct mg_request_info *ri = r->base.ri;
    json_t *h = json_object(), *line;
    char *text, name[64], value[64];

    /* "name: value\r\n" lines back into an object of strings, as they went on the wire */
    for (const char *p = hdrs; sscanf(p, "%63[^:]: %63[^\r]", name, value) == 2;) {
        json_object_set_new(h, name, json_string(value));
        p = strstr(p, "\r\n");
        if (!p)
            break;
        p += 2;
    }
    line = json_pack("{s:s, s:s, s:o, s:i, s:O?, s:O?, s:o}", "method", ri->request_method, "path",
                     ri->local_uri_raw, "query", query_object(ri->query_string), "status", status,
                     "request_body", r->body, "response_body", body, "response_headers", h);
    text = line ? dp_json_dump(line) : NULL;
    if (text) {
        pthread_mutex_lock(&r->sim->record_mu);
        fprintf(r->sim->record, "%s\n", text);
        fflush(r->sim->record);
        pthread_mutex_unlock(&r->sim->record_mu);
    }
    free(text);
    json_decref(line);
}

int dosim_reply(struct dosim_req *r, int status, json_t *body)
{
    char hdrs[256] = "";
    char *text = body ? dp_json_dump(body) : NULL;

    if (body && !text) {
        json_decref(body);
        body = json_pack("{s:s, s:s}", "id", "server_error", "message", "out of memory");
        status = 500;
        text = body ? dp_json_dump(body) : NULL;
    }
    if (r->api)
        rl_headers(hdrs, sizeof(hdrs), &r->rl, status);
    dp_httpd_send(&r->base, status, "application/json", hdrs, text ? text : "",
                  text ? strlen(text) : 0);
    if (r->api)
        count(r, status);
    if (r->api && r->sim->record)
        record(r, status, body, hdrs);
    free(text);
    json_decref(body);
    return status;
}

int dosim_reply_error(struct dosim_req *r, int status, const char *id, const char *fmt, ...)
{
    char msg[DP_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return dosim_reply(r, status,
                       json_pack("{s:s, s:o, s:s}", "id", id, "message",
                                 dp_json_string_lossy(msg, strlen(msg)), "request_id",
                                 r->base.log.req_id));
}

int dosim_reply_not_found(struct dosim_req *r)
{
    return dosim_reply_error(r, 404, "not_found", "The resource you requested could not be found.");
}

int dosim_reply_422(struct dosim_req *r, const char *message)
{
    return dosim_reply_error(r, 422, "unprocessable_entity", "%s", message);
}

static long query_long(const struct dosim_req *r, const char *name, long def, long min, long max)
{
    char buf[32], *end;
    long v;

    if (!dp_httpd_query(&r->base, name, buf, sizeof(buf)))
        return def;
    v = strtol(buf, &end, 10);
    if (!buf[0] || *end)
        return def;
    return v < min ? min : v > max ? max : v;
}

/* base + path + "?page=N" + every other raw query parameter, in the order they came. */
static void page_url(char *out, size_t size, const struct dosim_req *r, long page)
{
    const char *qs = r->base.ri->query_string;
    int n = snprintf(out, size, "%s%s?page=%ld", r->base_url, r->base.ri->local_uri_raw, page);

    while (qs && *qs && n > 0 && (size_t)n < size) {
        size_t len = strcspn(qs, "&");

        if (len > 0 && !(len >= 4 && strncmp(qs, "page", 4) == 0 && (len == 4 || qs[4] == '=')))
            n += snprintf(out + n, size - (size_t)n, "&%.*s", (int)len, qs);
        qs += len;
        if (*qs == '&')
            qs++;
    }
}

static void add_link(json_t *pages, const char *rel, const struct dosim_req *r, long page)
{
    char url[URL_MAX];

    page_url(url, sizeof(url), r, page);
    json_object_set_new(pages, rel, json_string(url));
}

int dosim_reply_list(struct dosim_req *r, const char *key, json_t *items)
{
    long page = query_long(r, "page", 1, 1, 1000000000L);
    long per = query_long(r, "per_page", DOSIM_PER_PAGE_DEF, 1, DOSIM_PER_PAGE_MAX);
    long total = (long)json_array_size(items);
    long last = total ? (total + per - 1) / per : 1;
    json_t *slice = json_array(), *pages = json_object(), *links;

    for (long i = (page - 1) * per; i < total && i < page * per; i++)
        json_array_append(slice, json_array_get(items, (size_t)i));
    json_decref(items);
    if (page > 1) {
        add_link(pages, "first", r, 1);
        add_link(pages, "prev", r, page - 1 <= last ? page - 1 : last);
    }
    if (page < last) {
        add_link(pages, "last", r, last);
        add_link(pages, "next", r, page + 1);
    }
    if (json_object_size(pages))
        links = json_pack("{s:o}", "pages", pages);
    else {
        json_decref(pages);
        links = json_object();
    }
    return dosim_reply(r, 200,
                       json_pack("{s:o, s:o, s:{s:I}}", key, slice, "links", links, "meta", "total",
                                 (json_int_t)total));
}

int dosim_body(struct dosim_req *r, const json_t **out)
{
    struct dp_buf buf;
    struct dp_err err = {0};
    dp_rc rc = dp_httpd_read_body(&r->base, &buf, DP_BODY_MAX, &err);

    *out = NULL;
    if (rc == DP_ETOOBIG) {
        dp_buf_clear(&buf);
        return dosim_reply_error(r, 413, "request_entity_too_large", "%s", err.msg);
    }
    if (!rc && buf.len == 0)
        r->body = json_object();
    else if (!rc)
        rc = dp_json_parse_object(&r->body, buf.data, buf.len, DP_JSON_DEPTH_MAX, &err);
    dp_buf_clear(&buf);
    if (rc || !r->body)
        return dosim_reply_error(r, 400, "bad_request", "error parsing request body");
    *out = r->body;
    return 0;
}

bool dosim_param_id(const struct dosim_req *r, int i, long long *out)
{
    const char *s = i < r->base.nparams ? r->base.params[i] : NULL;
    char *end;

    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return false;
    *out = strtoll(s, &end, 10);
    return *out > 0;
}

bool dosim_param_str(const struct dosim_req *r, int i, char *buf, size_t size)
{
    const char *s = i < r->base.nparams ? r->base.params[i] : NULL;

    return s && mg_url_decode(s, (int)strlen(s), buf, (int)size, 0) >= 0;
}

bool dosim_query(const struct dosim_req *r, const char *name, char *buf, size_t size)
{
    return dp_httpd_query(&r->base, name, buf, size);
}
