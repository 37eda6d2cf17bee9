#include "dosim_ratelimit.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_MS   3600000LL
#define MINUTE_MS 60000LL

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dosim_rl_init(struct dosim_rl *rl, int per_hour, int per_minute, int keys_per_minute)
{
    memset(rl, 0, sizeof(*rl));
    pthread_mutex_init(&rl->mu, NULL);
    rl->lim_hour = per_hour;
    rl->lim_minute = per_minute;
    rl->lim_keys = keys_per_minute;
}

static void window_free(struct dosim_rl_window *w)
{
    free(w->t);
    memset(w, 0, sizeof(*w));
}

void dosim_rl_clear(struct dosim_rl *rl)
{
    for (int i = 0; i < DOSIM_RL_BUCKETS; i++) {
        window_free(&rl->b[i].hour);
        window_free(&rl->b[i].minute);
        window_free(&rl->b[i].keys);
    }
    pthread_mutex_destroy(&rl->mu);
}

static bool window_init(struct dosim_rl_window *w, int cap)
{
    window_free(w);
    if (cap <= 0)
        return true;
    w->t = calloc((size_t)cap, sizeof(*w->t));
    w->cap = w->t ? cap : 0;
    return w->t != NULL;
}

static void window_expire(struct dosim_rl_window *w, int64_t now, int64_t span)
{
    while (w->n > 0 && w->t[w->head] <= now - span) {
        w->head = (w->head + 1) % w->cap;
        w->n--;
    }
}

static void window_push(struct dosim_rl_window *w, int64_t now)
{
    if (w->cap == 0)
        return;
    if (w->n == w->cap) { /* full: the oldest gives way (the limit check comes first) */
        w->head = (w->head + 1) % w->cap;
        w->n--;
    }
    w->t[(w->head + w->n) % w->cap] = now;
    w->n++;
}

static int seconds_until(const struct dosim_rl_window *w, int64_t now, int64_t span)
{
    int64_t ms = w->n ? w->t[w->head] + span - now : 1000;

    return ms <= 1000 ? 1 : (int)((ms + 999) / 1000);
}

/* The token's bucket, made (or taken from the least recently used one) when new. */
static struct dosim_rl_bucket *bucket_for(struct dosim_rl *rl, const char *token, int64_t now)
{
    unsigned char id[32];
    unsigned int len = 0;
    struct dosim_rl_bucket *lru = &rl->b[0];

    EVP_Digest(token, strlen(token), id, &len, EVP_sha256(), NULL);
    for (int i = 0; i < DOSIM_RL_BUCKETS; i++) {
        struct dosim_rl_bucket *b = &rl->b[i];

        if (b->used && memcmp(b->id, id, sizeof(id)) == 0)
            return b;
        if (!b->used || (lru->used && b->last_ms < lru->last_ms))
            lru = b;
    }
    if (!window_init(&lru->hour, rl->lim_hour) || !window_init(&lru->minute, rl->lim_minute) ||
        !window_init(&lru->keys, rl->lim_keys)) {
        lru->used = false;
        return NULL;
    }
    memcpy(lru->id, id, sizeof(id));
    lru->used = true;
    lru->last_ms = now;
    return lru;
}

static void verdict_fill(struct dosim_rl_verdict *v, const struct dosim_rl *rl,
                         const struct dosim_rl_bucket *b, int64_t now)
{
    v->limit = rl->lim_hour;
    v->remaining = b ? rl->lim_hour - b->hour.n : rl->lim_hour;
    if (v->remaining < 0)
        v->remaining = 0;
    v->reset = (b && b->hour.n ? b->hour.t[b->hour.head] + HOUR_MS : now) / 1000;
}

/* Which window refuses this request, if any: 0 none, else sets retry_after. */
static bool limited(struct dosim_rl *rl, struct dosim_rl_bucket *b, bool keys_get, int64_t now,
                    struct dosim_rl_verdict *v)
{
    if (b->minute.n >= rl->lim_minute)
        v->retry_after = seconds_until(&b->minute, now, MINUTE_MS);
    else if (b->hour.n >= rl->lim_hour)
        v->retry_after = seconds_until(&b->hour, now, HOUR_MS);
    else if (keys_get && rl->lim_keys > 0 && b->keys.n >= rl->lim_keys)
        v->retry_after = seconds_until(&b->keys, now, MINUTE_MS);
    else
        return false;
    return true;
}

void dosim_rl_take(struct dosim_rl *rl, const char *token, bool keys_get,
                   struct dosim_rl_verdict *v)
{
    int64_t now = now_ms();
    struct dosim_rl_bucket *b;

    memset(v, 0, sizeof(*v));
    pthread_mutex_lock(&rl->mu);
    b = bucket_for(rl, token, now);
    if (b) {
        b->last_ms = now;
        window_expire(&b->hour, now, HOUR_MS);
        window_expire(&b->minute, now, MINUTE_MS);
        window_expire(&b->keys, now, MINUTE_MS);
        v->limited = limited(rl, b, keys_get, now, v);
        if (!v->limited) {
            window_push(&b->hour, now);
            window_push(&b->minute, now);
            if (keys_get)
                window_push(&b->keys, now);
        }
    }
    verdict_fill(v, rl, b, now);
    if (v->limited) /* a burst refusal reads 0 even with hourly quota left */
        v->remaining = 0;
    pthread_mutex_unlock(&rl->mu);
}

void dosim_rl_peek(struct dosim_rl *rl, const char *token, struct dosim_rl_verdict *v)
{
    int64_t now = now_ms();
    struct dosim_rl_bucket *b = NULL;
    unsigned char id[32];
    unsigned int len = 0;

    memset(v, 0, sizeof(*v));
    pthread_mutex_lock(&rl->mu);
    if (token && *token) {
        EVP_Digest(token, strlen(token), id, &len, EVP_sha256(), NULL);
        for (int i = 0; i < DOSIM_RL_BUCKETS && !b; i++) {
            if (rl->b[i].used && memcmp(rl->b[i].id, id, sizeof(id)) == 0)
                b = &rl->b[i];
        }
    }
    if (b)
        window_expire(&b->hour, now, HOUR_MS);
    verdict_fill(v, rl, b, now);
    pthread_mutex_unlock(&rl->mu);
}
