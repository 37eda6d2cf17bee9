/* dp_memo: one computation for askers at the same moment, copies within ttl, errors never
 * kept, forget. No timing is asserted: threads meet on flags, not on sleeps. */
#include "dp_memo.h"
#include "th.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

static atomic_int calls;
static atomic_bool started, release, fail_next;

/* {"n": the call's number}; waits for `release` when asked to block. */
static dp_rc answer(json_t **out, void *ud, struct dp_err *err)
{
    int n = atomic_fetch_add(&calls, 1) + 1;

    atomic_store(&started, true);
    while (ud && !atomic_load(&release))
        usleep(1000);
    if (atomic_exchange(&fail_next, false))
        return dp_err_setc(err, DP_EUPSTREAM, "cloud_down", "the cloud answered 503");
    *out = json_pack("{s:i}", "n", n);
    return DP_OK;
}

static int n_of(const json_t *v)
{
    return (int)json_integer_value(json_object_get(v, "n"));
}

static void reset(void)
{
    atomic_store(&calls, 0);
    atomic_store(&started, false);
    atomic_store(&release, false);
    atomic_store(&fail_next, false);
}

static void copies_within_ttl(void)
{
    struct dp_memo *m = NULL;
    json_t *a = NULL, *b = NULL;

    reset();
    TH_EQ_INT(dp_memo_new(&m, 60000), DP_OK);
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, NULL), DP_OK);
    json_object_set_new(a, "n", json_integer(99)); /* a copy: the kept answer is untouched */
    TH_EQ_INT(dp_memo_get(m, &b, answer, NULL, NULL), DP_OK);
    TH_EQ_INT(calls, 1);
    TH_EQ_INT(n_of(b), 1);
    json_decref(a);
    json_decref(b);
    dp_memo_forget(m);
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, NULL), DP_OK);
    TH_EQ_INT(n_of(a), 2);
    json_decref(a);
    dp_memo_free(m);
}

static void expires(void)
{
    struct dp_memo *m = NULL;
    json_t *a = NULL;

    reset();
    TH_EQ_INT(dp_memo_new(&m, 1), DP_OK);
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, NULL), DP_OK);
    json_decref(a);
    usleep(5000);
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, NULL), DP_OK);
    TH_EQ_INT(n_of(a), 2);
    json_decref(a);
    dp_memo_free(m);
}

static void errors_are_not_kept(void)
{
    struct dp_memo *m = NULL;
    struct dp_err err = {0};
    json_t *a = NULL;

    reset();
    TH_EQ_INT(dp_memo_new(&m, 60000), DP_OK);
    atomic_store(&fail_next, true);
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, &err), DP_EUPSTREAM);
    TH_CHECK(a == NULL);
    TH_EQ_STR(err.code, "cloud_down");
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, NULL), DP_OK);
    TH_EQ_INT(calls, 2);
    json_decref(a);
    dp_memo_free(m);
}

struct asker {
    pthread_t t;
    struct dp_memo *m;
    void *block;
    json_t *got;
    dp_rc rc;
};

static void *ask(void *p)
{
    struct asker *a = p;

    a->rc = dp_memo_get(a->m, &a->got, answer, a->block, NULL);
    return NULL;
}

/* Eight askers while the first computation is held: one computation, the same answer for all. */
static void one_computation_for_many(void)
{
    struct dp_memo *m = NULL;
    struct asker k[8] = {0};
    int same = 0;

    reset();
    TH_EQ_INT(dp_memo_new(&m, 60000), DP_OK);
    for (int i = 0; i < 8; i++) {
        k[i].m = m;
        k[i].block = &release; /* only a computing asker blocks on it */
        pthread_create(&k[i].t, NULL, ask, &k[i]);
    }
    while (!atomic_load(&started))
        usleep(1000);
    atomic_store(&release, true);
    for (int i = 0; i < 8; i++) {
        pthread_join(k[i].t, NULL);
        same += k[i].rc == DP_OK && n_of(k[i].got) == 1;
        json_decref(k[i].got);
    }
    TH_EQ_INT(calls, 1);
    TH_EQ_INT(same, 8);
    dp_memo_free(m);
}

/* A forget while a computation runs: its asker gets its answer, the next asker computes anew. */
static void forget_during_a_computation(void)
{
    struct dp_memo *m = NULL;
    struct asker k = {0};
    json_t *a = NULL;

    reset();
    TH_EQ_INT(dp_memo_new(&m, 60000), DP_OK);
    k.m = m;
    k.block = &release;
    pthread_create(&k.t, NULL, ask, &k);
    while (!atomic_load(&started))
        usleep(1000);
    dp_memo_forget(m);
    atomic_store(&release, true);
    pthread_join(k.t, NULL);
    TH_EQ_INT(k.rc, DP_OK);
    TH_EQ_INT(n_of(k.got), 1);
    TH_EQ_INT(dp_memo_get(m, &a, answer, NULL, NULL), DP_OK);
    TH_EQ_INT(n_of(a), 2);
    json_decref(k.got);
    json_decref(a);
    dp_memo_free(m);
}

int main(void)
{
    TH_RUN(copies_within_ttl);
    TH_RUN(expires);
    TH_RUN(errors_are_not_kept);
    TH_RUN(one_computation_for_many);
    TH_RUN(forget_during_a_computation);
    TH_EXIT();
}
