/* Paths that clients name below the agent's data root ("/app/web"): normalised and checked
 * lexically, never resolved. Whoever writes below the root must still not follow symlinks
 * (dp_stage and dp_untar open every component with O_NOFOLLOW). */
#ifndef DP_PATH_H
#define DP_PATH_H

#include "dp_err.h"

#include <stdbool.h>
#include <stddef.h>

#define DP_PATH_SEG_MAX 255 /* one path segment, bytes (NAME_MAX) */

/* Normalises a client path: "/app/web", "/app/web/", "app/web" and "/app//./web" all give
 * "/app/web". Refused with DP_EINVAL (code "invalid_path"): empty or "/" alone, longer than
 * DP_PATH_MAX, any ".." segment (never resolved), control characters, and segments with
 * characters other than [A-Za-z0-9._-] or starting with '.' or '-' (dot names below the
 * root are the agent's own, such as ".staging"). DP_ETOOBIG when out is too small. */
dp_rc dp_path_normalize(char *out, size_t size, const char *in, struct dp_err *err);

/* Joins an absolute data_root and a path that dp_path_normalize gave (anything else is
 * DP_EINVAL) into abs_out; the result is lexically inside data_root and never data_root
 * itself. DP_ETOOBIG when abs_out is too small. */
dp_rc dp_path_under_root(char *abs_out, size_t size, const char *data_root, const char *normalized,
                         struct dp_err *err);

/* True when a symlink stored at member (a relative, normalised path such as "a/b/link")
 * with this target can only ever resolve inside the tree it belongs to: the target is
 * relative, climbs only with leading ".." segments and never above the tree's top. Checked
 * for every link, this holds even when links point through other links. */
bool dp_path_link_target_ok(const char *member, const char *target);

/* Writes s (len bytes, any content) into out for a message: at most max visible bytes,
 * control and non-ASCII bytes as \xNN, "..." when shortened. Always NUL-terminates. */
void dp_path_quote(char *out, size_t size, const char *s, size_t len, size_t max);

#endif
