/* Counts failed authentications per source address and blocks noisy ones for a while.
 * Nothing sleeps: a blocked address gets an immediate 429 with Retry-After. */
#ifndef DP_AUTHGATE_H
#define DP_AUTHGATE_H

#include "dp_err.h"

#include <stdint.h>

struct dp_authgate;

/* A gate that blocks an address for block_s seconds after max_fail failures within window_s
 * seconds, tracking up to slots addresses (the stalest is forgotten first). */
dp_rc dp_authgate_new(struct dp_authgate **out, int max_fail, int window_s, int block_s, int slots);
void dp_authgate_free(struct dp_authgate *g); /* NULL is fine */

/* Seconds addr must still wait (>0), or 0 when it may try. now_s: dp_mono_s(). */
int dp_authgate_wait_s(struct dp_authgate *g, const char *addr, int64_t now_s);

/* Records a failure from addr; returns the seconds it must now wait (0 while not blocked). */
int dp_authgate_fail(struct dp_authgate *g, const char *addr, int64_t now_s);

/* Forgets addr's failures after a success. */
void dp_authgate_ok(struct dp_authgate *g, const char *addr);

#endif
