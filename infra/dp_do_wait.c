#include "dp_do_wait.h"

#include "dp_clock.h"
#include "dp_do_droplet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GONE_GRACE_MS 30000 /* a droplet not listed yet this soon after create is not "gone" */

static int64_t first_interval(const struct dp_do_wait *w)
{
    return w->first_ms > 0 ? w->first_ms : 1000;
}

static int64_t next_interval(const struct dp_do_wait *w, int64_t cur)
{
    int64_t max = w->max_poll_ms > 0 ? w->max_poll_ms : 10000;
    int64_t next = cur + cur / 2; /* x1.5 */

    return next > max ? max : next;
}

/* Sleeps ms in slices of at most 100 ms, each after the wait's cancel check; dp_do_sleep
 * consults the client's. DP_ECANCELED (code "canceled") when either fires. */
static dp_rc wait_sleep(struct dp_do_client *c, const struct dp_do_wait *w, int64_t ms,
                        struct dp_err *err)
{
    int64_t end = dp_mono_ms() + ms;

    for (;;) {
        int64_t left = end - dp_mono_ms();
        dp_rc rc;

        if (w->cancel && w->cancel(w->cancel_ud))
            return dp_err_setc(err, DP_ECANCELED, "canceled", "canceled");
        if (left <= 0)
            return dp_do_sleep(c, 0, err); /* the client's check, once more */
        rc = dp_do_sleep(c, left < 100 ? left : 100, err);
        if (rc)
            return rc;
    }
}

static json_t *find_id(const json_t *list, long long id)
{
    json_t *d;
    size_t i;

    json_array_foreach(list, i, d)
    {
        if (dp_do_droplet_id(d) == id)
            return d;
    }
    return NULL;
}

/* Counts the awaited droplets that are there; DP_ENOTFOUND when one seen before vanished. */
static dp_rc count_ready(size_t *ready, json_t *mine, const json_t *list, const long long *ids,
                         bool *seen, size_t n, const char *status, bool unlocked, int64_t elapsed,
                         struct dp_err *err)
{
    *ready = 0;
    json_array_clear(mine);
    for (size_t i = 0; i < n; i++) {
        json_t *d = find_id(list, ids[i]);

        if (!d && (seen[i] || elapsed > GONE_GRACE_MS))
            return dp_err_setc(err, DP_ENOTFOUND, "droplet_gone",
                               "droplet %lld disappeared while waiting for it to be %s", ids[i],
                               status);
        if (!d)
            continue;
        seen[i] = true;
        json_array_append(mine, d);
        if (strcmp(dp_do_droplet_status(d), status) == 0 && (!unlocked || !dp_do_droplet_locked(d)))
            (*ready)++;
    }
    return DP_OK;
}

dp_rc dp_do_wait_droplets(struct dp_do_client *c, const char *tag, const long long *ids, size_t n,
                          const char *status, bool unlocked, const struct dp_do_wait *w,
                          json_t **out, struct dp_err *err)
{
    bool *seen = calloc(n ? n : 1, sizeof(bool));
    json_t *mine;
    int64_t t0 = dp_mono_ms(), interval = first_interval(w);
    char what[96];
    size_t ready = 0;
    dp_rc rc = DP_OK;

    if (!seen)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    mine = json_array();

    snprintf(what, sizeof(what), "%zu droplet(s) to be %s%s", n, status,
             unlocked ? " and unlocked" : "");
    while (rc == DP_OK) {
        json_t *list = NULL;

        rc = wait_sleep(c, w, interval, err);
        if (rc == DP_OK)
            rc = dp_do_droplets_list(c, tag, true, &list, err); /* one call for all n */
        if (rc == DP_OK)
            rc = count_ready(&ready, mine, list, ids, seen, n, status, unlocked, dp_mono_ms() - t0,
                             err);
        json_decref(list);
        if (rc == DP_OK && w->progress)
            w->progress(w->ud, what, dp_mono_ms() - t0, ready, n);
        if (rc == DP_OK && ready == n)
            break;
        if (rc == DP_OK && dp_mono_ms() - t0 > w->timeout_ms)
            rc = dp_err_setc(err, DP_ETIMEOUT, "wait_timeout",
                             "waited %lld s for %s; %zu of %zu are",
                             (long long)(dp_mono_ms() - t0) / 1000, what, ready, n);
        interval = next_interval(w, interval);
    }
    if (rc == DP_OK && out)
        *out = json_incref(mine);
    json_decref(mine);
    free(seen);
    return rc;
}

/* The action's verdict: 0 running, 1 completed, or an error for "errored". */
static int action_state(const json_t *a, const char *path, struct dp_err *err, dp_rc *rc)
{
    const char *s = json_string_value(json_object_get(a, "status"));
    const char *type = json_string_value(json_object_get(a, "type"));

    if (s && strcmp(s, "completed") == 0)
        return 1;
    if (s && strcmp(s, "errored") == 0) {
        *rc =
            dp_err_setc(err, DP_EUPSTREAM, "action_errored",
                        "DigitalOcean reports the %s action (%s) errored", type ? type : "", path);
        return -1;
    }
    return 0;
}

dp_rc dp_do_wait_action(struct dp_do_client *c, const char *path, const struct dp_do_wait *w,
                        json_t **out, struct dp_err *err)
{
    int64_t t0 = dp_mono_ms(), interval = first_interval(w);
    json_t *action = NULL;
    dp_rc rc = DP_OK;

    if (out)
        *out = NULL;
    while (rc == DP_OK) {
        json_t *ans = NULL;
        int state;

        rc = wait_sleep(c, w, interval, err);
        if (rc == DP_OK)
            rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
        json_decref(action);
        action = rc == DP_OK ? json_incref(json_object_get(ans, "action")) : NULL;
        json_decref(ans);
        if (rc)
            break;
        state = action_state(action, path, err, &rc);
        if (w->progress)
            w->progress(w->ud, "the action to complete", dp_mono_ms() - t0, state == 1, 1);
        if (state != 0)
            break;
        if (dp_mono_ms() - t0 > w->timeout_ms)
            rc = dp_err_setc(err, DP_ETIMEOUT, "wait_timeout",
                             "waited %lld s for the action %s to complete",
                             (long long)(dp_mono_ms() - t0) / 1000, path);
        interval = next_interval(w, interval);
    }
    if (rc == DP_OK && out)
        *out = action;
    else
        json_decref(action);
    return rc;
}

static json_t *action_in(const json_t *list, long long id)
{
    json_t *a;
    size_t k;

    json_array_foreach(list, k, a)
    {
        if (json_integer_value(json_object_get(a, "id")) == id)
            return a;
    }
    return NULL;
}

/* The image's actions: the first page of its listing (the API documents no paging parameters
 * for it), plus any awaited action not on that page, fetched one by one. */
static dp_rc image_actions(json_t **out, struct dp_do_client *c, long long image_id,
                           const long long *ids, size_t n, struct dp_err *err)
{
    char path[96];
    json_t *ans = NULL;
    dp_rc rc;

    snprintf(path, sizeof(path), "/v2/images/%lld/actions", image_id);
    rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
    *out = rc ? NULL : json_incref(json_object_get(ans, "actions"));
    json_decref(ans);
    if (!rc && !json_is_array(*out)) {
        json_decref(*out);
        *out = json_array();
    }
    for (size_t i = 0; rc == DP_OK && i < n; i++) {
        if (action_in(*out, ids[i]))
            continue;
        snprintf(path, sizeof(path), "/v2/images/%lld/actions/%lld", image_id, ids[i]);
        rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
        if (rc == DP_OK)
            json_array_append(*out, json_object_get(ans, "action"));
        json_decref(ans);
    }
    return rc;
}

/* How many of the awaited image actions completed; an error for an errored one. */
static dp_rc count_actions(size_t *done, const json_t *list, const long long *ids, size_t n,
                           long long image_id, struct dp_err *err)
{
    *done = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *a = action_in(list, ids[i]);
        const char *s = json_string_value(json_object_get(a, "status"));
        const char *type = json_string_value(json_object_get(a, "type"));

        if (s && strcmp(s, "errored") == 0)
            return dp_err_setc(err, DP_EUPSTREAM, "action_errored",
                               "DigitalOcean reports the %s action %lld on image %lld errored",
                               type ? type : "", ids[i], image_id);
        if (s && strcmp(s, "completed") == 0)
            (*done)++;
    }
    return DP_OK;
}

dp_rc dp_do_wait_image_actions(struct dp_do_client *c, long long image_id, const long long *ids,
                               size_t n, const struct dp_do_wait *w, struct dp_err *err)
{
    int64_t t0 = dp_mono_ms(), interval = first_interval(w);
    char what[96];
    size_t done = 0;
    dp_rc rc = DP_OK;

    snprintf(what, sizeof(what), "%zu action(s) on image %lld to complete", n, image_id);
    while (rc == DP_OK && done < n) {
        json_t *list = NULL;

        rc = wait_sleep(c, w, interval, err);
        if (rc == DP_OK)
            rc = image_actions(&list, c, image_id, ids, n, err); /* one call for all n */
        if (rc == DP_OK)
            rc = count_actions(&done, list, ids, n, image_id, err);
        json_decref(list);
        if (rc == DP_OK && w->progress)
            w->progress(w->ud, what, dp_mono_ms() - t0, done, n);
        if (rc == DP_OK && done < n && dp_mono_ms() - t0 > w->timeout_ms)
            rc = dp_err_setc(err, DP_ETIMEOUT, "wait_timeout",
                             "waited %lld s for %s; %zu of %zu did",
                             (long long)(dp_mono_ms() - t0) / 1000, what, done, n);
        interval = next_interval(w, interval);
    }
    return rc;
}
