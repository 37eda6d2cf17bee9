#include "dp_do.h"

#include "dp_buf.h"
#include "dp_clock.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct dp_do_client {
    char base[512];
    char *token;
    struct dp_do_policy pol;
    struct dp_do_stats stats;
    int (*cancel)(void *ud);
    void *cancel_ud;
    int per_page;
};

/* One HTTP exchange's outcome. */
struct exchange {
    long status;
    struct dp_buf body;
    int64_t retry_after_ms; /* -1: none */
    long rl_remaining;      /* -1: none */
    long long rl_reset;     /* epoch seconds, 0: none */
    char request_id[80];
    CURLcode cc;
};

static const struct dp_do_policy default_policy = {
    .max_attempts = 6,
    .max_total_ms = 120000,
    .base_ms = 500,
    .max_backoff_ms = 30000,
    .timeout_ms = 30000,
};

void dp_do_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];

    if (n > sizeof(b))
        n = sizeof(b);
    if (RAND_bytes(b, (int)n) != 1)
        memset(b, 0, n);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* http:// only to loopback: the simulator. Anything else must be https://. */
static dp_rc base_check(const char *url, struct dp_err *err)
{
    const char *host;

    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return dp_err_setc(
            err, DP_EINVAL, "invalid_api_url",
            "DO_API_URL must start with https:// (http:// only for a local simulator)");
    if (!*host || strchr(host, '@') || strchr(host, '?') || strchr(host, '#'))
        return dp_err_setc(err, DP_EINVAL, "invalid_api_url", "DO_API_URL must be an origin");
    if (url[4] == ':' && strncmp(host, "127.", 4) != 0 && strncmp(host, "localhost", 9) != 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_api_url",
                           "DO_API_URL uses http:// to a host that is not loopback; the token "
                           "would cross the network in clear");
    return DP_OK;
}

dp_rc dp_do_new(struct dp_do_client **out, const char *base_url, const char *token,
                struct dp_err *err)
{
    struct dp_do_client *c;
    dp_rc rc;

    *out = NULL;
    if (!token || !*token)
        return dp_err_setc(err, DP_EAUTH, "no_token", "no DigitalOcean token (set DO_TOKEN)");
    if (strlen(token) > 512 || strpbrk(token, " \t\r\n"))
        return dp_err_setc(err, DP_EAUTH, "bad_token",
                           "the DigitalOcean token holds spaces or is too long");
    if (!base_url || !*base_url)
        base_url = DP_DO_DEFAULT_URL;
    rc = base_check(base_url, err);
    if (rc)
        return rc;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->token = strdup(token))) {
        free(c);
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    snprintf(c->base, sizeof(c->base), "%s", base_url);
    while (c->base[0] && c->base[strlen(c->base) - 1] == '/')
        c->base[strlen(c->base) - 1] = '\0';
    c->pol = default_policy;
    c->per_page = DP_DO_PER_PAGE;
    *out = c;
    return DP_OK;
}

dp_rc dp_do_from_env(struct dp_do_client **out, struct dp_err *err)
{
    return dp_do_new(out, getenv("DO_API_URL"), getenv("DO_TOKEN"), err);
}

void dp_do_free(struct dp_do_client *c)
{
    if (!c)
        return;
    if (c->token) {
        OPENSSL_cleanse(c->token, strlen(c->token));
        free(c->token);
    }
    free(c);
}

void dp_do_set_policy(struct dp_do_client *c, const struct dp_do_policy *p)
{
    c->pol = *p;
}

const struct dp_do_policy *dp_do_get_policy(const struct dp_do_client *c)
{
    return &c->pol;
}

void dp_do_set_cancel(struct dp_do_client *c, int (*cancel)(void *ud), void *ud)
{
    c->cancel = cancel;
    c->cancel_ud = ud;
}

void dp_do_set_page_size(struct dp_do_client *c, int per_page)
{
    c->per_page = per_page < 1 ? 1 : per_page > DP_DO_PER_PAGE ? DP_DO_PER_PAGE : per_page;
}

const struct dp_do_stats *dp_do_stats(const struct dp_do_client *c)
{
    return &c->stats;
}

const char *dp_do_base_url(const struct dp_do_client *c)
{
    return c->base;
}

dp_rc dp_do_sleep(struct dp_do_client *c, int64_t ms, struct dp_err *err)
{
    int64_t end = dp_mono_ms() + ms;

    for (;;) {
        int64_t left = end - dp_mono_ms();

        if (c->cancel && c->cancel(c->cancel_ud))
            return dp_err_setc(err, DP_ECANCELED, "canceled", "canceled");
        if (left <= 0)
            return DP_OK;
        dp_sleep_ms(left < 100 ? left : 100);
    }
}

/* ---- one exchange ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct exchange *x = ud;

    return dp_buf_append(&x->body, p, size * nmemb) ? 0 : size * nmemb;
}

/* "Name: value\r\n" -> value in out when the name matches (case-insensitive). */
static bool header_value(char *out, size_t size, const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name), v;

    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    v = nl + 1;
    while (v < len && (line[v] == ' ' || line[v] == '\t'))
        v++;
    while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    snprintf(out, size, "%.*s", (int)(len - v), line + v);
    return true;
}

static int64_t retry_after_ms(const char *v)
{
    char *end;
    long s = strtol(v, &end, 10);
    time_t when;

    if (*v && !*end && s >= 0)
        return (int64_t)s * 1000;
    when = curl_getdate(v, NULL); /* an HTTP-date */
    if (when < 0)
        return -1;
    return when > time(NULL) ? (int64_t)(when - time(NULL)) * 1000 : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct exchange *x = ud;
    size_t n = size * nmemb;
    char v[128];

    if (header_value(v, sizeof(v), p, n, "retry-after"))
        x->retry_after_ms = retry_after_ms(v);
    else if (header_value(v, sizeof(v), p, n, "ratelimit-remaining"))
        x->rl_remaining = strtol(v, NULL, 10);
    else if (header_value(v, sizeof(v), p, n, "ratelimit-reset"))
        x->rl_reset = strtoll(v, NULL, 10);
    else if (header_value(v, sizeof(v), p, n, "x-request-id"))
        snprintf(x->request_id, sizeof(x->request_id), "%.79s", v);
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t cc, curl_off_t d)
{
    struct dp_do_client *c = ud;

    (void)a, (void)b, (void)cc, (void)d;
    return c->cancel && c->cancel(c->cancel_ud);
}

/* The Authorization header, built for one request and wiped after it. */
static struct curl_slist *request_headers(const struct dp_do_client *c, char *auth, size_t size)
{
    struct curl_slist *h = NULL;

    snprintf(auth, size, "Authorization: Bearer %s", c->token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    return h;
}

static void exchange_run(struct dp_do_client *c, struct exchange *x, const char *method,
                         const char *url, const char *body)
{
    char auth[600];
    struct curl_slist *hdrs = request_headers(c, auth, sizeof(auth));
    CURL *curl = curl_easy_init();

    x->status = 0;
    x->retry_after_ms = -1;
    x->rl_remaining = -1;
    x->rl_reset = 0;
    x->request_id[0] = '\0';
    dp_buf_reset(&x->body);
    if (!curl) {
        x->cc = CURLE_OUT_OF_MEMORY;
        goto cleanup;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "deploy-infra/" DP_VERSION);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->pol.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L); /* the token goes to this origin only */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    x->cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &x->status);
cleanup:
    curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);
    OPENSSL_cleanse(auth, sizeof(auth));
    atomic_fetch_add(&c->stats.calls, 1);
    if (x->status == 429)
        atomic_fetch_add(&c->stats.rate_limited, 1);
    else if (x->status >= 500)
        atomic_fetch_add(&c->stats.server_errors, 1);
}

/* ---- errors ---- */

static void fault_fill(struct dp_do_fault *f, const struct exchange *x)
{
    json_t *j = x->body.len ? json_loadb(x->body.data, x->body.len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    const char *rid = json_string_value(json_object_get(j, "request_id"));

    memset(f, 0, sizeof(*f));
    f->status = x->status;
    snprintf(f->id, sizeof(f->id), "%s", id ? id : "");
    snprintf(f->message, sizeof(f->message), "%s", msg ? msg : "");
    snprintf(f->request_id, sizeof(f->request_id), "%s", rid ? rid : x->request_id);
    if (!f->message[0] && json_is_string(json_object_get(j, "error")))
        snprintf(f->message, sizeof(f->message), "%s",
                 json_string_value(json_object_get(j, "error"))); /* POST /v2/tags 400 shape */
    json_decref(j);
}

static dp_rc status_rc(const struct dp_do_fault *f)
{
    switch (f->status) {
    case 400:
        return DP_EINVAL;
    case 401:
    case 403:
        return DP_EDENIED; /* our token was refused: a 502 to our callers, never their 401 */
    case 404:
        return DP_ENOTFOUND;
    case 422:
        return strstr(f->message, "pending event") ? DP_ECONFLICT : DP_EINVAL;
    default:
        return f->status >= 500 || f->status == 429 ? DP_EUNAVAIL : DP_EUPSTREAM;
    }
}

static dp_rc answer_error(const struct exchange *x, const char *method, const char *path,
                          int attempts, struct dp_do_fault *fault, struct dp_err *err)
{
    char where[96];
    struct dp_do_fault f;

    snprintf(where, sizeof(where), "%s %.*s", method, (int)strcspn(path, "?"), path);
    if (x->status == 0) {
        bool timeout = x->cc == CURLE_OPERATION_TIMEDOUT;

        memset(&f, 0, sizeof(f));
        f.attempts = attempts;
        if (fault)
            *fault = f;
        if (x->cc == CURLE_ABORTED_BY_CALLBACK)
            return dp_err_setc(err, DP_ECANCELED, "canceled", "%s: canceled", where);
        return dp_err_setc(err, timeout ? DP_ETIMEOUT : DP_EUNAVAIL, "do_unreachable",
                           "%s: DigitalOcean did not answer (%s) after %d attempt(s)", where,
                           curl_easy_strerror(x->cc), attempts);
    }
    fault_fill(&f, x);
    f.attempts = attempts;
    if (fault)
        *fault = f;
    return dp_err_setc(err, status_rc(&f), f.id[0] ? f.id : "do_error",
                       "%s: DigitalOcean answered %ld %s%s%s%s%s", where, f.status,
                       f.message[0] ? f.message : "(no message)",
                       attempts > 1 ? " after retries" : "", f.request_id[0] ? " (request " : "",
                       f.request_id, f.request_id[0] ? ")" : "");
}

/* ---- retries ---- */

static bool retryable(const struct exchange *x, enum dp_do_retry retry)
{
    if (x->status == 429)
        return true; /* refused before anything was done */
    if (retry != DP_DO_RETRY_SAFE)
        return false;
    if (x->status == 0)
        return x->cc != CURLE_ABORTED_BY_CALLBACK;
    return x->status >= 500 && x->status != 501;
}

/* How long to wait before attempt n+1: Retry-After when given; an exhausted rate limit
 * waits for its reset; otherwise full jitter over an exponential cap. */
static int64_t backoff_ms(const struct dp_do_client *c, const struct exchange *x, int n)
{
    int64_t cap = c->pol.base_ms;
    unsigned r = 0;

    if (x->retry_after_ms >= 0)
        return x->retry_after_ms;
    if (x->status == 429 && x->rl_remaining == 0 && x->rl_reset > 0) {
        long long wait_s = x->rl_reset - (long long)time(NULL);

        if (wait_s > 0)
            return wait_s * 1000;
    }
    for (int i = 0; i < n && cap < c->pol.max_backoff_ms; i++)
        cap *= 2;
    if (cap > c->pol.max_backoff_ms)
        cap = c->pol.max_backoff_ms;
    RAND_bytes((unsigned char *)&r, sizeof(r));
    return 20 + (int64_t)(r % (unsigned)(cap + 1));
}

static dp_rc parse_answer(const struct exchange *x, json_t **out, struct dp_err *err)
{
    json_error_t je;

    *out = NULL;
    if (x->status == 204 || x->body.len == 0)
        return DP_OK;
    *out = json_loadb(x->body.data, x->body.len, 0, &je);
    if (!*out)
        return dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer",
                           "DigitalOcean sent an unreadable answer (%s)", je.text);
    return DP_OK;
}

dp_rc dp_do_call(struct dp_do_client *c, const char *method, const char *path_query,
                 const json_t *body, enum dp_do_retry retry, json_t **out,
                 struct dp_do_fault *fault, struct dp_err *err)
{
    char url[2048];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct exchange x = {0};
    int64_t t0 = dp_mono_ms();
    dp_rc rc = DP_OK;
    int n;

    *out = NULL;
    if (fault)
        memset(fault, 0, sizeof(*fault));
    if ((body && !text) ||
        (size_t)snprintf(url, sizeof(url), "%s%s", c->base, path_query) >= sizeof(url)) {
        free(text);
        return dp_err_set(err, DP_EINVAL, "request too large");
    }
    dp_buf_init(&x.body, DP_DO_REPLY_MAX);
    for (n = 1;; n++) {
        int64_t wait;

        exchange_run(c, &x, method, url, text);
        if (x.status >= 200 && x.status < 300) {
            rc = parse_answer(&x, out, err);
            break;
        }
        wait = backoff_ms(c, &x, n - 1);
        if (!retryable(&x, retry) || n >= c->pol.max_attempts ||
            dp_mono_ms() - t0 + wait > c->pol.max_total_ms) {
            rc = answer_error(&x, method, path_query, n, fault, err);
            break;
        }
        atomic_fetch_add(&c->stats.retries, 1);
        rc = dp_do_sleep(c, wait, err);
        if (rc)
            break;
    }
    dp_buf_clear(&x.body);
    free(text);
    return rc;
}

/* ---- pagination ---- */

/* The next page's path from links.pages.next (an absolute URL on our origin), or "". */
static void next_page(char *out, size_t size, const struct dp_do_client *c, const json_t *page)
{
    const char *next = json_string_value(
        json_object_get(json_object_get(json_object_get(page, "links"), "pages"), "next"));
    const char *path;

    out[0] = '\0';
    if (!next)
        return;
    path = strstr(next, "/v2/");
    (void)c; /* the origin in next may differ from ours (a proxy); keep our own */
    if (path)
        snprintf(out, size, "%s", path);
}

dp_rc dp_do_list(struct dp_do_client *c, const char *path_query, const char *key, json_t **out,
                 struct dp_err *err)
{
    char path[2048];
    json_t *all = json_array();
    dp_rc rc = DP_OK;
    int pages = 0;

    *out = NULL;
    snprintf(path, sizeof(path), "%s%sper_page=%d", path_query, strchr(path_query, '?') ? "&" : "?",
             c->per_page);
    while (rc == DP_OK && path[0]) {
        json_t *page = NULL, *items;

        if (++pages > DP_DO_PAGES_MAX) {
            rc = dp_err_set(err, DP_ETOOBIG, "listing %s has more than %d pages", key,
                            DP_DO_PAGES_MAX);
            break;
        }
        rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &page, NULL, err);
        items = json_object_get(page, key);
        if (rc == DP_OK && !json_is_array(items))
            rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer",
                             "DigitalOcean's %s listing has no "
                             "'%s' array",
                             path_query, key);
        if (rc == DP_OK) {
            json_array_extend(all, items);
            next_page(path, sizeof(path), c, page);
        }
        json_decref(page);
    }
    if (rc == DP_OK)
        *out = all;
    else
        json_decref(all);
    return rc;
}
