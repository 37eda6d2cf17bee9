/* Dropping root after the listening ports are bound (--user). */
#ifndef DP_PRIVDROP_H
#define DP_PRIVDROP_H

#include "dp_err.h"

#include <sys/types.h>

/* Looks user up; fills its uid and gid. DP_EINVAL when there is no such user. */
dp_rc dp_privdrop_lookup(uid_t *uid, gid_t *gid, const char *user, struct dp_err *err);

/* Becomes user for good: its primary and supplementary groups (the docker group that reaches
 * the Docker socket is usually supplementary; civetweb's run_as_user would drop it), then its
 * uid, in every thread; then checks that root cannot be regained. */
dp_rc dp_privdrop(const char *user, struct dp_err *err);

#endif
