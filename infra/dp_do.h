/* The DigitalOcean API v2 client core: one authenticated request with bounded retries
 * (exponential backoff with full jitter on 429 and 5xx, honouring retry-after and the
 * rate-limit headers), pagination, errors that carry DigitalOcean's id, message and request id,
 * and call counting. The token goes only into the Authorization header: never a URL, a log
 * line or an error. Thread-safe: one client serves every thread (one curl handle per call). */
#ifndef DP_DO_H
#define DP_DO_H

#include "dp_err.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define DP_DO_DEFAULT_URL "https://api.digitalocean.com"
#define DP_DO_MANAGED_TAG "dp-managed"         /* every droplet the platform creates carries it */
#define DP_DO_REPLY_MAX   (16UL * 1024 * 1024) /* one answer, bytes */
#define DP_DO_PAGES_MAX   500                  /* pages followed in one listing */
#define DP_DO_PER_PAGE    200                  /* the API's maximum */

/* How hard to try. */
struct dp_do_policy {
    int max_attempts;       /* per request, including the first (default 6) */
    int64_t max_total_ms;   /* all attempts and waits of one request (default 120 s) */
    int64_t base_ms;        /* first backoff cap (default 500 ms) */
    int64_t max_backoff_ms; /* backoff cap (default 30 s) */
    long timeout_ms;        /* one HTTP exchange (default 30 s) */
};

/* What the client did, for /metrics and benchmarks. */
struct dp_do_stats {
    atomic_ulong calls;         /* HTTP requests sent, retries included */
    atomic_ulong retries;       /* of which were retries */
    atomic_ulong rate_limited;  /* 429 answers */
    atomic_ulong server_errors; /* 5xx answers */
};

struct dp_do_client;

/* What went wrong at DigitalOcean, beyond dp_err's one line. */
struct dp_do_fault {
    long status;       /* HTTP status, 0 when no answer came */
    char id[64];       /* DigitalOcean's error id ("unprocessable_entity") */
    char message[256]; /* DigitalOcean's message */
    char request_id[80];
    int attempts; /* requests sent for this call */
};

/* A client for base_url (an origin such as https://api.digitalocean.com; "/v2/..." is
 * appended) and token. Plain http:// is refused unless the host is a loopback address (the
 * simulator): the token must not cross a network in clear. *out: dp_do_free() it. */
dp_rc dp_do_new(struct dp_do_client **out, const char *base_url, const char *token,
                struct dp_err *err);

/* dp_do_new from DO_API_URL (default DP_DO_DEFAULT_URL) and DO_TOKEN. DP_EAUTH when DO_TOKEN
 * is unset or empty. */
dp_rc dp_do_from_env(struct dp_do_client **out, struct dp_err *err);

void dp_do_free(struct dp_do_client *c); /* NULL is fine; wipes the token */

/* Replaces the retry policy (defaults are set by dp_do_new). */
void dp_do_set_policy(struct dp_do_client *c, const struct dp_do_policy *p);

/* The retry policy in force, for calls that retry in rounds of their own (a create). */
const struct dp_do_policy *dp_do_get_policy(const struct dp_do_client *c);

/* A cancel check (e.g. Ctrl-C) consulted during waits and transfers; non-zero stops the
 * current call with DP_ECANCELED. */
void dp_do_set_cancel(struct dp_do_client *c, int (*cancel)(void *ud), void *ud);

/* Items asked per page in listings (1..200; default 200, the API's maximum). */
void dp_do_set_page_size(struct dp_do_client *c, int per_page);

/* The client's counters (live). */
const struct dp_do_stats *dp_do_stats(const struct dp_do_client *c);

/* The origin requests go to (no token in it). */
const char *dp_do_base_url(const struct dp_do_client *c);

/* How a request may be retried. */
enum dp_do_retry {
    DP_DO_RETRY_SAFE, /* GET, DELETE, idempotent POSTs: retry 429, 5xx and transport errors */
    DP_DO_RETRY_429,  /* creates: retry only 429 (nothing was done); else the caller checks */
};

/* Sends method path_query (starting "/v2/") with an optional JSON body and parses the answer
 * into *out (NULL for 204 or an empty body; the caller's). A non-2xx answer after retries is
 * an error: 401/403 -> DP_EDENIED (our token refused), 404 -> DP_ENOTFOUND, 422 -> DP_ECONFLICT
 * when the droplet is locked ("pending event") else DP_EINVAL, 400 -> DP_EINVAL, 429/5xx ->
 * DP_EUNAVAIL, transport
 * -> DP_EUNAVAIL or DP_ETIMEOUT. err's code is DigitalOcean's id; fault (may be NULL) gets the
 * details. */
dp_rc dp_do_call(struct dp_do_client *c, const char *method, const char *path_query,
                 const json_t *body, enum dp_do_retry retry, json_t **out,
                 struct dp_do_fault *fault, struct dp_err *err);

/* GETs every page of a listing (per_page=200, following links.pages.next) and collects the
 * arrays under key into *out (a new array, the caller's). path_query may already hold a query. */
dp_rc dp_do_list(struct dp_do_client *c, const char *path_query, const char *key, json_t **out,
                 struct dp_err *err);

/* Sleeps ms unless the cancel check fires (then DP_ECANCELED). */
dp_rc dp_do_sleep(struct dp_do_client *c, int64_t ms, struct dp_err *err);

/* Random hex of n bytes into out (2n+1 chars), for unique names and tags. */
void dp_do_random_hex(char *out, size_t n);

#endif
