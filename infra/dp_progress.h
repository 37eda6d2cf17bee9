/* How a long operation (build, pull, load, clone, deploy) reports progress and learns that it
 * must stop. */
#ifndef DP_PROGRESS_H
#define DP_PROGRESS_H

#include "dp_err.h"

#include <jansson.h>

struct dp_progress {
    dp_rc (*emit)(void *ud, json_t *event); /* {"type":"log"|"progress",...}; borrowed */
    int (*tick)(void *ud);                  /* ~1/s and per chunk: non-zero cancels */
    void *ud;
};

#endif
