#include "dp_events.h"

#include "dp_clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH   256  /* events a viewer takes per round */
#define WAIT_MS 1000 /* longest sleep between checks (shutdown, heartbeat timing) */

struct mem_event {
    long long seq;
    char *json;
};

struct chan {
    long long id;
    pthread_cond_t cond;
    bool closed;
    bool dropped; /* memory-only hub: forgotten once its last viewer leaves */
    int viewers;
    long long last_seq;
    struct mem_event *ev;  /* ev[i].seq == first + i */
    size_t n, alloc, head; /* live entries are ev[head .. n) */
    size_t bytes;
    struct chan *next;
};

struct dp_events {
    pthread_mutex_t mu;
    struct dp_store *store; /* NULL: memory only */
    struct chan *chans;
    atomic_long viewers;
    bool stopping;
};

dp_rc dp_events_new(struct dp_events **out, struct dp_store *store, struct dp_err *err)
{
    struct dp_events *h = calloc(1, sizeof(*h));

    *out = NULL;
    if (!h)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    pthread_mutex_init(&h->mu, NULL);
    h->store = store;
    *out = h;
    return DP_OK;
}

static void chan_free(struct chan *c)
{
    for (size_t i = c->head; i < c->n; i++)
        free(c->ev[i].json);
    free(c->ev);
    pthread_cond_destroy(&c->cond);
    free(c);
}

void dp_events_free(struct dp_events *h)
{
    if (!h)
        return;
    while (h->chans) {
        struct chan *c = h->chans;

        h->chans = c->next;
        chan_free(c);
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void dp_events_shutdown(struct dp_events *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    for (struct chan *c = h->chans; c; c = c->next)
        pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&h->mu);
}

static struct chan *chan_find(struct dp_events *h, long long id)
{
    for (struct chan *c = h->chans; c; c = c->next) {
        if (c->id == id)
            return c;
    }
    return NULL;
}

static void chan_unlink(struct dp_events *h, struct chan *c)
{
    for (struct chan **p = &h->chans; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

dp_rc dp_events_open(struct dp_events *h, long long deployment_id, struct dp_err *err)
{
    struct chan *c = calloc(1, sizeof(*c));
    pthread_condattr_t ca;

    if (!c)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    c->id = deployment_id;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&h->mu);
    c->next = h->chans;
    h->chans = c;
    pthread_mutex_unlock(&h->mu);
    return DP_OK;
}

/* Keeps the event in memory, dropping the oldest past DP_EVENTS_MEM_MAX (viewers that far
 * behind read the store). */
static void chan_keep(struct chan *c, long long seq, char *json)
{
    if (c->n == c->alloc) {
        size_t live = c->n - c->head, alloc = c->alloc ? c->alloc * 2 : 64;
        struct mem_event *ev;

        if (c->head > live) { /* reuse the dropped front instead of growing */
            memmove(c->ev, c->ev + c->head, live * sizeof(*c->ev));
            c->n = live;
            c->head = 0;
        } else if ((ev = realloc(c->ev, alloc * sizeof(*ev)))) {
            c->ev = ev;
            c->alloc = alloc;
        }
    }
    if (c->n == c->alloc) {
        free(json); /* out of memory: the store still has it */
        return;
    }
    c->ev[c->n++] = (struct mem_event){seq, json};
    c->bytes += strlen(json);
    while (c->bytes > DP_EVENTS_MEM_MAX && c->head + 1 < c->n) {
        c->bytes -= strlen(c->ev[c->head].json);
        free(c->ev[c->head++].json);
    }
}

dp_rc dp_events_emit(struct dp_events *h, long long deployment_id, const json_t *ev, long long *seq,
                     struct dp_err *err)
{
    char *json = json_dumps(ev, JSON_COMPACT);
    long long s = 0;
    struct chan *c;
    dp_rc rc;

    if (!json)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    /* Store and publish under one lock, so memory holds the events in seq order. */
    pthread_mutex_lock(&h->mu);
    if (h->store) {
        rc = dp_store_event_append(h->store, deployment_id, json, &s, err);
        c = rc ? NULL : chan_find(h, deployment_id);
    } else {
        c = chan_find(h, deployment_id);
        rc = c ? DP_OK : dp_err_set(err, DP_ENOTFOUND, "no channel %lld", deployment_id);
        s = c ? c->last_seq + 1 : 0;
    }
    if (c) {
        c->last_seq = s;
        chan_keep(c, s, json);
        json = NULL;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&h->mu);
    free(json);
    if (seq)
        *seq = s;
    return rc;
}

void dp_events_close(struct dp_events *h, long long deployment_id)
{
    struct chan *c;

    pthread_mutex_lock(&h->mu);
    c = chan_find(h, deployment_id);
    if (c) {
        c->closed = true;
        pthread_cond_broadcast(&c->cond);
        if (c->viewers == 0 && h->store) { /* memory only: kept for replay until dropped */
            chan_unlink(h, c);
            chan_free(c);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void dp_events_drop(struct dp_events *h, long long id)
{
    struct chan *c;

    pthread_mutex_lock(&h->mu);
    c = chan_find(h, id);
    if (c && c->closed) {
        c->dropped = true;
        if (c->viewers == 0) {
            chan_unlink(h, c);
            chan_free(c);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

long dp_events_viewers(struct dp_events *h)
{
    return atomic_load(&h->viewers);
}

/* ---- viewers ---- */

/* A batch of events copied out of memory or read from the store, sent without any lock. */
struct batch {
    long long seq[BATCH];
    char *json[BATCH];
    int n;
};

static void batch_clear(struct batch *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->json[i]);
    b->n = 0;
}

/* Copies events after `after` from memory; false when they are older than memory holds (a
 * memory-only hub has nothing older: its viewers go on from the oldest it kept). */
static bool take_from_memory(const struct dp_events *h, struct chan *c, long long after,
                             struct batch *b)
{
    long long first = c->n > c->head ? c->ev[c->head].seq : c->last_seq + 1;

    if (after + 1 < first && h->store)
        return false;
    for (size_t i = c->head; i < c->n && b->n < BATCH; i++) {
        if (c->ev[i].seq <= after)
            continue;
        b->seq[b->n] = c->ev[i].seq;
        b->json[b->n++] = strdup(c->ev[i].json);
    }
    return true;
}

static dp_rc take_from_store(struct dp_events *h, long long id, long long after, struct batch *b,
                             struct dp_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    dp_rc rc = dp_store_events(h->store, id, after, BATCH, &rows, err);

    json_array_foreach(rows, i, r)
    {
        b->seq[b->n] = json_integer_value(json_object_get(r, "seq"));
        b->json[b->n++] = strdup(json_string_value(json_object_get(r, "data")));
    }
    json_decref(rows);
    return rc;
}

static int send_batch(const struct dp_events_sink *sink, struct batch *b, long long *after)
{
    for (int i = 0; i < b->n; i++) {
        if (b->json[i] && sink->send(sink->ud, b->seq[i], b->json[i]))
            return -1;
        *after = b->seq[i];
    }
    return 0;
}

static void wait_for_more(struct chan *c, pthread_mutex_t *mu, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cond, mu, &ts);
}

/* One round: what is new, or a wait. *state: 0 go on, 1 ended, -1 stopping. */
static dp_rc follow_round(struct dp_events *h, struct chan *c, long long id, long long after,
                          struct batch *b, int *state, struct dp_err *err)
{
    bool in_mem;

    *state = 0;
    pthread_mutex_lock(&h->mu);
    in_mem = !c || take_from_memory(h, c, after, b);
    if (c && in_mem && b->n == 0 && !c->closed && !h->stopping) {
        wait_for_more(c, &h->mu, WAIT_MS);
        in_mem = take_from_memory(h, c, after, b);
    }
    if (h->stopping)
        *state = -1;
    else if (in_mem && b->n == 0 && (!c || c->closed))
        *state = c ? 1 : 0; /* without a channel: the store decides below */
    pthread_mutex_unlock(&h->mu);
    if (!c && !h->store) {
        *state = 1; /* memory only: an unknown channel has nothing to send */
        return DP_OK;
    }
    if (!c || !in_mem) {
        dp_rc rc = take_from_store(h, id, after, b, err);

        if (rc == DP_OK && !c && b->n == 0)
            *state = 1; /* not running and nothing left: the whole log was sent */
        return rc;
    }
    return DP_OK;
}

static void viewer_leave(struct dp_events *h, struct chan *c)
{
    pthread_mutex_lock(&h->mu);
    if (c && --c->viewers == 0 && c->closed && (h->store || c->dropped)) {
        chan_unlink(h, c);
        chan_free(c);
    }
    pthread_mutex_unlock(&h->mu);
    atomic_fetch_sub(&h->viewers, 1);
}

dp_rc dp_events_follow(struct dp_events *h, long long deployment_id, long long after,
                       const struct dp_events_sink *sink, int heartbeat_ms, struct dp_err *err)
{
    struct batch b = {0};
    int64_t quiet_since = dp_mono_ms();
    struct chan *c;
    dp_rc rc = DP_OK;
    int state = 0;

    atomic_fetch_add(&h->viewers, 1);
    pthread_mutex_lock(&h->mu);
    c = chan_find(h, deployment_id);
    if (c)
        c->viewers++;
    pthread_mutex_unlock(&h->mu);
    while (rc == DP_OK && state == 0) {
        rc = follow_round(h, c, deployment_id, after, &b, &state, err);
        if (b.n)
            quiet_since = dp_mono_ms();
        if (rc == DP_OK && send_batch(sink, &b, &after))
            rc = DP_ECANCELED;
        else if (rc == DP_OK && b.n == 0 && dp_mono_ms() - quiet_since >= heartbeat_ms) {
            quiet_since = dp_mono_ms();
            if (sink->heartbeat(sink->ud, after))
                rc = DP_ECANCELED;
        }
        batch_clear(&b);
    }
    viewer_leave(h, c);
    return rc;
}
