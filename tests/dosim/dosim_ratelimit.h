/* DigitalOcean's rate limits, per token, in sliding windows: each request counts for exactly
 * an hour (and a minute for the burst limit) after it was made. ratelimit-reset is when the
 * oldest counted request expires. A refused request is not counted. Tokens are kept as
 * SHA-256 digests, never as text. */
#ifndef DOSIM_RATELIMIT_H
#define DOSIM_RATELIMIT_H

#include "dosim_limits.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct dosim_rl_window {
    int64_t *t; /* request times, epoch ms, oldest at head */
    int cap, head, n;
};

struct dosim_rl_bucket {
    unsigned char id[32]; /* SHA-256 of the token */
    bool used;
    int64_t last_ms;
    struct dosim_rl_window hour, minute, keys;
};

struct dosim_rl {
    pthread_mutex_t mu;
    int lim_hour, lim_minute, lim_keys; /* lim_keys 0: GET /v2/account/keys not limited apart */
    struct dosim_rl_bucket b[DOSIM_RL_BUCKETS];
};

/* What the headers say about a request. */
struct dosim_rl_verdict {
    long limit, remaining;
    long long reset; /* epoch seconds */
    int retry_after; /* seconds; set when limited */
    bool limited;
};

void dosim_rl_init(struct dosim_rl *rl, int per_hour, int per_minute, int keys_per_minute);
void dosim_rl_clear(struct dosim_rl *rl);

/* Counts a request of token (keys_get: a GET /v2/account/keys) unless a limit is reached, and
 * fills v for the headers. */
void dosim_rl_take(struct dosim_rl *rl, const char *token, bool keys_get,
                   struct dosim_rl_verdict *v);

/* Fills v without counting anything (for answers before a token is known good). */
void dosim_rl_peek(struct dosim_rl *rl, const char *token, struct dosim_rl_verdict *v);

#endif
