/* --seed-snapshot: one ready private snapshot whose root carries the agent installed from the
 * agent package and enabled, without a key (keys come with provision-time user-data), as if a
 * bake had made it. */
#ifndef DOSIM_SEED_H
#define DOSIM_SEED_H

#include "dosim.h"

#include "dp_err.h"

#define DOSIM_SEED_SOURCE 399999999LL /* the droplet it was "baked" on, long gone */

/* Makes the seed snapshot unless there is none to make or one of that name exists (restored).
 * DP_EINVAL for an unknown region, DP_EIO when the package cannot be unpacked. */
dp_rc dosim_seed(struct dosim *sim, struct dp_err *err);

#endif
