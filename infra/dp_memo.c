#include "dp_memo.h"

#include "dp_clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct dp_memo {
    pthread_mutex_t mu;
    pthread_cond_t done; /* a computation ended */
    int64_t ttl_ms;
    json_t *kept; /* the last answer, or NULL */
    int64_t kept_at;
    bool computing;
    uint64_t gen;    /* bumped by forget: a computation that saw an older one is not kept */
    uint64_t flight; /* bumped when a computation ends; waiters watch it */
    json_t *last;    /* the ended computation's answer for its waiters (NULL on error) */
    struct dp_err last_err;
};

dp_rc dp_memo_new(struct dp_memo **out, int64_t ttl_ms)
{
    struct dp_memo *m = calloc(1, sizeof(*m));

    *out = m;
    if (!m)
        return DP_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->done, NULL);
    m->ttl_ms = ttl_ms;
    return DP_OK;
}

void dp_memo_free(struct dp_memo *m)
{
    if (!m)
        return;
    json_decref(m->kept);
    json_decref(m->last);
    pthread_cond_destroy(&m->done);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void dp_memo_forget(struct dp_memo *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    json_decref(m->kept);
    m->kept = NULL;
    m->gen++;
    pthread_mutex_unlock(&m->mu);
}

/* The copy handed out, or the shared error; called with mu held. */
static dp_rc hand_out(json_t **out, const json_t *answer, const struct dp_err *shared,
                      struct dp_err *err)
{
    if (!answer) {
        if (err)
            *err = *shared;
        return shared->rc ? shared->rc : DP_EIO;
    }
    *out = json_deep_copy(answer);
    return *out ? DP_OK : dp_err_set(err, DP_ENOMEM, "out of memory");
}

/* Runs fn outside the lock and publishes its result to waiters (and keeps it when no forget
 * came meanwhile); called and returns with mu held. */
static dp_rc compute(struct dp_memo *m, json_t **out, dp_memo_fn fn, void *ud, struct dp_err *err)
{
    uint64_t gen = m->gen;
    struct dp_err e = {0};
    json_t *answer = NULL;
    dp_rc rc;

    m->computing = true;
    pthread_mutex_unlock(&m->mu);
    rc = fn(&answer, ud, &e);
    pthread_mutex_lock(&m->mu);
    m->computing = false;
    m->flight++;
    json_decref(m->last);
    m->last = rc ? NULL : json_incref(answer);
    m->last_err = e;
    if (rc == DP_OK && gen == m->gen) {
        json_decref(m->kept);
        m->kept = json_incref(answer);
        m->kept_at = dp_mono_ms();
    }
    pthread_cond_broadcast(&m->done);
    rc = hand_out(out, answer, &e, err);
    json_decref(answer);
    return rc;
}

dp_rc dp_memo_get(struct dp_memo *m, json_t **out, dp_memo_fn fn, void *ud, struct dp_err *err)
{
    dp_rc rc;

    *out = NULL;
    pthread_mutex_lock(&m->mu);
    if (m->kept && dp_mono_ms() - m->kept_at <= m->ttl_ms) {
        rc = hand_out(out, m->kept, NULL, err);
    } else if (m->computing) {
        uint64_t flight = m->flight;

        while (m->flight == flight)
            pthread_cond_wait(&m->done, &m->mu);
        rc = hand_out(out, m->last, &m->last_err, err);
    } else {
        rc = compute(m, out, fn, ud, err);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
