/* The agent's bake mode: the one fixed action a baker may ask of a droplet before it becomes a
 * snapshot. Nothing in it comes from a request. */
#ifndef DP_BAKE_H
#define DP_BAKE_H

#include "dp_err.h"

#define DP_BAKE_PATH_MAX    1200 /* one removed path, bytes incl. NUL */
#define DP_BAKE_REMOVED_MAX 8    /* entries one finalize can remove */

/* What cloud-init keeps per instance below its cloud dir and `cloud-init clean` clears (the
 * seed and the scripts stay): removing them makes a droplet made from the snapshot a new
 * instance that runs its own user-data and starts clean. */
#define DP_BAKE_CLOUD_ENTRIES                                                                      \
    {                                                                                              \
        "instances", "instance", "data", "sem", "handlers"                                         \
    }

struct dp_bake_result {
    char removed[DP_BAKE_REMOVED_MAX][DP_BAKE_PATH_MAX]; /* absolute paths, in removal order */
    int nremoved;
};

/* Finalizes a bake: removes DP_BAKE_CLOUD_ENTRIES below cloud_dir (trees, files or links,
 * never following a symlink below cloud_dir; the dir itself may be a link, it is the
 * administrator's), then the bake key file. Entries already missing are fine and not listed;
 * a missing cloud_dir is fine. The key goes last, so a failure leaves it for a retry.
 * DP_EINVAL for a relative path; DP_EIO naming the entry that could not be removed. */
dp_rc dp_bake_finalize(struct dp_bake_result *out, const char *bake_key_file, const char *cloud_dir,
                       struct dp_err *err);

#endif
