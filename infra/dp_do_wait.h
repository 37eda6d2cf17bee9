/* Waiting on DigitalOcean efficiently: one listing per poll however many droplets are
 * awaited, intervals that grow, an errored action reported at once. */
#ifndef DP_DO_WAIT_H
#define DP_DO_WAIT_H

#include "dp_do.h"

#include <stddef.h>

/* How to wait: a deadline and a poll interval that grows. */
struct dp_do_wait {
    int64_t timeout_ms;
    int64_t first_ms;    /* first poll after (default 1000) */
    int64_t max_poll_ms; /* longest interval (default 10000) */
    /* Told what is awaited and for how long, after each poll (may be NULL). */
    void (*progress)(void *ud, const char *what, int64_t elapsed_ms, size_t done, size_t total);
    void *ud;
    /* This wait's own cancel check (may be NULL), consulted with the client's at least every
     * 100 ms while it sleeps: non-zero ends the wait with DP_ECANCELED, code "canceled". */
    int (*cancel)(void *cancel_ud);
    void *cancel_ud;
};

/* Waits until every droplet in ids (found through tag: one listing a poll, whatever n) has
 * status (and is unlocked when unlocked is set). A droplet that vanishes fails the wait at
 * once. *out (may be NULL): the last listing of those droplets. */
dp_rc dp_do_wait_droplets(struct dp_do_client *c, const char *tag, const long long *ids, size_t n,
                          const char *status, bool unlocked, const struct dp_do_wait *w,
                          json_t **out, struct dp_err *err);

/* Polls an action (path "/v2/actions/ID" or "/v2/images/ID/actions/AID") until completed. An
 * errored action fails at once (DP_EUPSTREAM, code "action_errored"), not at the deadline. */
dp_rc dp_do_wait_action(struct dp_do_client *c, const char *path, const struct dp_do_wait *w,
                        json_t **out, struct dp_err *err);

/* Waits until every action in ids (actions on image image_id, e.g. transfers) has completed,
 * with one listing of the image's actions a poll however many are awaited (an action missing
 * from its first page is fetched alone). An errored action fails at once (DP_EUPSTREAM, code
 * "action_errored"). */
dp_rc dp_do_wait_image_actions(struct dp_do_client *c, long long image_id, const long long *ids,
                               size_t n, const struct dp_do_wait *w, struct dp_err *err);

#endif
