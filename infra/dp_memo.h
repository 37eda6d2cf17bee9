/* A JSON answer shared for a short while. Askers at the same moment share one computation (one
 * DigitalOcean listing for 64 dashboards, not 64), and askers within ttl of it get a copy of its
 * answer; a change the program knows of (a server created or deleted) forgets it at once. */
#ifndef DP_MEMO_H
#define DP_MEMO_H

#include "dp_err.h"

#include <jansson.h>
#include <stdint.h>

struct dp_memo;

/* Computes the answer into *out (the caller's) or fails. */
typedef dp_rc (*dp_memo_fn)(json_t **out, void *ud, struct dp_err *err);

dp_rc dp_memo_new(struct dp_memo **out, int64_t ttl_ms);
void dp_memo_free(struct dp_memo *m); /* NULL is fine */

/* *out: a deep copy of an answer at most ttl_ms old, else of the one fn computes now. While a
 * computation runs, other askers wait for it and share its result, error included. Errors are
 * never kept: the next asker after a failure computes again. */
dp_rc dp_memo_get(struct dp_memo *m, json_t **out, dp_memo_fn fn, void *ud, struct dp_err *err);

/* Drops the kept answer; one being computed now is handed to its waiters but not kept (it may
 * predate the change). */
void dp_memo_forget(struct dp_memo *m);

#endif
