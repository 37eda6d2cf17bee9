#include "dp_router.h"

#include <string.h>

#define SEGS_MAX 32

/* Splits path into segments in place; empty segments ("//", trailing "/") are dropped, so
 * "/app" and "/app/" match alike. */
static int split(char *path, char **segs)
{
    char *save = NULL;
    int n = 0;

    for (char *tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == SEGS_MAX)
            return -1;
        segs[n++] = tok;
    }
    return n;
}

static bool capture(struct dp_req *rq, size_t *used, char **segs, int from, int count)
{
    char *dst = rq->param_buf + *used;
    size_t left = sizeof(rq->param_buf) - *used;
    size_t len = 0;

    if (rq->nparams == DP_ROUTE_PARAMS_MAX)
        return false;
    for (int i = from; i < from + count; i++) {
        size_t sl = segs[i] ? strlen(segs[i]) : 0;

        if (!segs[i] || len + sl + 2 > left)
            return false;
        if (i > from)
            dst[len++] = '/';
        memcpy(dst + len, segs[i], sl);
        len += sl;
    }
    dst[len] = '\0';
    rq->params[rq->nparams++] = dst;
    *used += len + 1;
    return true;
}

static bool match_one(const char *pattern, char **segs, int nseg, struct dp_req *rq)
{
    char pbuf[256];
    char *psegs[SEGS_MAX] = {0};
    size_t used = 0;
    int np, si = 0;

    if (strlen(pattern) >= sizeof(pbuf))
        return false;
    memcpy(pbuf, pattern, strlen(pattern) + 1);
    np = split(pbuf, psegs);
    rq->nparams = 0;
    for (int pi = 0; pi < np; pi++) {
        size_t pl = strlen(psegs[pi]);

        if (psegs[pi][0] == '{' && pl > 3 && psegs[pi][pl - 2] == '*') {
            int take = nseg - si - (np - pi - 1); /* leave one segment per remaining part */

            if (take < 1 || !capture(rq, &used, segs, si, take))
                return false;
            si += take;
        } else if (psegs[pi][0] == '{') {
            if (si >= nseg || !capture(rq, &used, segs, si, 1))
                return false;
            si++;
        } else if (si >= nseg || strcmp(psegs[pi], segs[si++]) != 0) {
            return false;
        }
    }
    return si == nseg;
}

const struct dp_route *dp_router_match(const struct dp_route *table, size_t n, const char *method,
                                       const char *path, struct dp_req *rq, int *status)
{
    char buf[4096];
    char *segs[SEGS_MAX] = {0};
    int nseg;
    bool path_known = false;

    *status = 404;
    if (!path || strlen(path) >= sizeof(buf))
        return NULL;
    memcpy(buf, path, strlen(path) + 1);
    nseg = split(buf, segs);
    if (nseg < 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!match_one(table[i].pattern, segs, nseg, rq))
            continue;
        if (strcmp(table[i].method, method) == 0)
            return &table[i];
        path_known = true;
    }
    rq->nparams = 0;
    if (path_known)
        *status = 405;
    return NULL;
}
