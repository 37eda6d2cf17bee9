#include "dp_authgate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ADDR_MAX 48 /* civetweb's remote_addr size */

struct gate_slot {
    char addr[ADDR_MAX];
    int64_t window_start_s;
    int64_t blocked_until_s;
    int64_t last_seen_s;
    int fails;
};

struct dp_authgate {
    pthread_mutex_t lock;
    int max_fail, window_s, block_s, nslots;
    struct gate_slot *slots;
};

dp_rc dp_authgate_new(struct dp_authgate **out, int max_fail, int window_s, int block_s, int slots)
{
    struct dp_authgate *g = calloc(1, sizeof(*g));

    *out = NULL;
    if (!g)
        return DP_ENOMEM;
    g->slots = calloc((size_t)slots, sizeof(*g->slots));
    if (!g->slots) {
        free(g);
        return DP_ENOMEM;
    }
    pthread_mutex_init(&g->lock, NULL);
    g->max_fail = max_fail;
    g->window_s = window_s;
    g->block_s = block_s;
    g->nslots = slots;
    *out = g;
    return DP_OK;
}

void dp_authgate_free(struct dp_authgate *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g->slots);
    free(g);
}

#define GATE_PROBES 8 /* slots looked at per address: O(1) per request */

static unsigned gate_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The slot for addr, or NULL; with create, the empty or stalest slot of addr's probe window
 * becomes addr's. */
static struct gate_slot *gate_find(struct dp_authgate *g, const char *addr, int create)
{
    unsigned start = gate_hash(addr) % (unsigned)g->nslots;
    struct gate_slot *stalest = NULL;

    for (int i = 0; i < GATE_PROBES && i < g->nslots; i++) {
        struct gate_slot *s = &g->slots[(start + (unsigned)i) % (unsigned)g->nslots];

        if (s->addr[0] && strcmp(s->addr, addr) == 0)
            return s;
        /* An empty slot beats any used one; among used ones the stalest goes. */
        if (!stalest ||
            (stalest->addr[0] && (!s->addr[0] || s->last_seen_s < stalest->last_seen_s)))
            stalest = s;
    }
    if (!create)
        return NULL;
    memset(stalest, 0, sizeof(*stalest));
    strncpy(stalest->addr, addr, sizeof(stalest->addr) - 1);
    return stalest;
}

int dp_authgate_wait_s(struct dp_authgate *g, const char *addr, int64_t now_s)
{
    struct gate_slot *s;
    int wait = 0;

    pthread_mutex_lock(&g->lock);
    s = gate_find(g, addr, 0);
    if (s && s->blocked_until_s > now_s)
        wait = (int)(s->blocked_until_s - now_s);
    pthread_mutex_unlock(&g->lock);
    return wait;
}

int dp_authgate_fail(struct dp_authgate *g, const char *addr, int64_t now_s)
{
    struct gate_slot *s;
    int wait = 0;

    pthread_mutex_lock(&g->lock);
    s = gate_find(g, addr, 1);
    if (now_s - s->window_start_s >= g->window_s || s->fails == 0) {
        s->window_start_s = now_s;
        s->fails = 0;
    }
    s->fails++;
    s->last_seen_s = now_s;
    if (s->fails >= g->max_fail) {
        s->blocked_until_s = now_s + g->block_s;
        s->fails = 0;
    }
    if (s->blocked_until_s > now_s)
        wait = (int)(s->blocked_until_s - now_s);
    pthread_mutex_unlock(&g->lock);
    return wait;
}

void dp_authgate_ok(struct dp_authgate *g, const char *addr)
{
    struct gate_slot *s;

    pthread_mutex_lock(&g->lock);
    s = gate_find(g, addr, 0);
    if (s && s->blocked_until_s == 0)
        s->fails = 0;
    pthread_mutex_unlock(&g->lock);
}
