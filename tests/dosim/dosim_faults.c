#include "dosim_faults.h"

#include "dp_json.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void dosim_faults_init(struct dosim_faults *f, const struct dosim_conf *c)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->p429 = c->fail_429;
    f->p500 = c->fail_500;
    f->slow = c->slow_actions;
    f->create_500_rate = c->create_500_rate;
    f->create_500_after = c->create_500_after;
    snprintf(f->errored, sizeof(f->errored), "%s", c->errored_action);
    if (RAND_bytes((unsigned char *)&f->rng, sizeof(f->rng)) != 1 || f->rng == 0)
        f->rng = (uint64_t)time(NULL) | 1;
}

void dosim_faults_clear(struct dosim_faults *f)
{
    pthread_mutex_destroy(&f->mu);
}

/* xorshift64*: a uniform double in [0, 1). Called under f->mu. */
static double uniform(struct dosim_faults *f)
{
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return (double)((f->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

enum dosim_fault dosim_faults_roll(struct dosim_faults *f)
{
    enum dosim_fault out = DOSIM_FAULT_NONE;
    double u;

    pthread_mutex_lock(&f->mu);
    if (f->p429 > 0 || f->p500 > 0) {
        u = uniform(f);
        if (u < f->p429)
            out = DOSIM_FAULT_429;
        else if (u < f->p429 + f->p500)
            out = DOSIM_FAULT_500;
    }
    pthread_mutex_unlock(&f->mu);
    return out;
}

bool dosim_faults_create_500(struct dosim_faults *f)
{
    bool fire = false;

    pthread_mutex_lock(&f->mu);
    if (f->create_500_after > 0 && ++f->creates_seen >= f->create_500_after) {
        fire = true;
        f->create_500_after = 0; /* once */
        f->creates_seen = 0;
    }
    if (!fire && f->create_500_rate > 0)
        fire = uniform(f) < f->create_500_rate;
    pthread_mutex_unlock(&f->mu);
    return fire;
}

double dosim_faults_slow(struct dosim_faults *f)
{
    double s;

    pthread_mutex_lock(&f->mu);
    s = f->slow;
    pthread_mutex_unlock(&f->mu);
    return s;
}

bool dosim_faults_errored(struct dosim_faults *f, const char *type)
{
    bool e;

    pthread_mutex_lock(&f->mu);
    e = f->errored[0] && strcmp(f->errored, type) == 0;
    pthread_mutex_unlock(&f->mu);
    return e;
}

dp_rc dosim_faults_set(struct dosim_faults *f, const json_t *j, struct dp_err *err)
{
    double p429, p500, slow, rate;
    long long after;
    const char *errored = NULL;
    dp_rc rc;

    pthread_mutex_lock(&f->mu);
    rc = dp_json_get_num(&p429, j, "fail_429", 0, 1, f->p429, err);
    if (!rc)
        rc = dp_json_get_num(&p500, j, "fail_500", 0, 1, f->p500, err);
    if (!rc)
        rc = dp_json_get_num(&slow, j, "slow_actions", 0.01, 1000, f->slow, err);
    if (!rc)
        rc = dp_json_get_num(&rate, j, "create_500_rate", 0, 1, f->create_500_rate, err);
    if (!rc)
        rc = dp_json_get_int(&after, j, "create_500_after", 0, 1000000, f->create_500_after, err);
    if (!rc)
        rc = dp_json_get_str(&errored, j, "errored_action", false, sizeof(f->errored) - 1, err);
    if (!rc && p429 + p500 > 1)
        rc = dp_err_set(err, DP_EINVAL, "fail_429 and fail_500 add up to more than 1");
    if (!rc) {
        if (json_object_get(j, "create_500_after"))
            f->creates_seen = 0;
        f->p429 = p429, f->p500 = p500, f->slow = slow, f->create_500_rate = rate;
        f->create_500_after = (int)after;
        if (errored || json_is_null(json_object_get(j, "errored_action")))
            snprintf(f->errored, sizeof(f->errored), "%s", errored ? errored : "");
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

json_t *dosim_faults_json(struct dosim_faults *f)
{
    json_t *o;

    pthread_mutex_lock(&f->mu);
    o = json_pack("{s:f, s:f, s:f, s:s, s:i, s:f}", "fail_429", f->p429, "fail_500", f->p500,
                  "slow_actions", f->slow, "errored_action", f->errored, "create_500_after",
                  f->create_500_after, "create_500_rate", f->create_500_rate);
    pthread_mutex_unlock(&f->mu);
    return o;
}
