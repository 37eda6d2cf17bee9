/* A tree is built in a private staging directory inside the data root and only moved into
 * place when it is complete, so a failed upload or clone leaves nothing behind and a client
 * never sees a half-written target. Nothing here follows a symlink below the data root:
 * every component is opened with O_NOFOLLOW relative to its parent's fd. */
#ifndef DP_STAGE_H
#define DP_STAGE_H

#include "dp_err.h"

#include <stdbool.h>
#include <stddef.h>

#define DP_STAGING_DIR ".staging" /* below the data root; clients cannot name dot paths */

struct dp_stage {
    int root_fd;   /* the data root */
    int parent_fd; /* <data root>/.staging */
    int fd;        /* the staged tree's top directory, filled by the caller */
    char name[32]; /* its name in .staging; "" once committed or removed */
    char *path;    /* its absolute path, for tools that need one (libgit2); owned */
};

#define DP_STAGE_INIT                                                                              \
    {                                                                                              \
        .root_fd = -1, .parent_fd = -1, .fd = -1                                                   \
    }

/* Creates a fresh empty directory <data_root>/.staging/<random> (mode 0755) to fill through
 * st->fd or st->path. Call dp_stage_close() afterwards whatever this returns. The data root
 * itself may be a symlink (it is the administrator's); nothing below it is followed. */
dp_rc dp_stage_open(struct dp_stage *st, const char *data_root, struct dp_err *err);

/* Checks without writing anything that the normalised path (see dp_path_normalize) can take
 * a staged tree: no existing component is a file or a symlink, and without clean the target
 * is missing or a directory. DP_ECONFLICT (code "path_conflict") naming the component. */
dp_rc dp_stage_check(const char *data_root, const char *path, bool clean, struct dp_err *err);

/* Moves the staged tree to <data_root><path>, making missing parents (0755). When clean or
 * when the target is missing, the target becomes the staged tree in one rename and the old
 * tree is removed afterwards. Otherwise the staged tree is merged into the target directory:
 * directories merge, anything else replaces what has its name (each file appears whole;
 * the merge as a whole is not atomic). Failures leave the staged tree for dp_stage_close. */
dp_rc dp_stage_commit(struct dp_stage *st, const char *path, bool clean, struct dp_err *err);

/* Removes whatever is still staged and closes everything; st may be DP_STAGE_INIT,
 * half-opened or already closed. */
void dp_stage_close(struct dp_stage *st);

/* Removes every leftover in <data_root>/.staging (a crash mid-upload). Call at start-up
 * before serving: it would remove the trees of uploads under way. */
dp_rc dp_stage_sweep(const char *data_root, struct dp_err *err);

/* Removes name in directory at and everything below it, never following a symlink; a missing name
 * is fine. DP_EIO naming the entry that could not be removed. */
dp_rc dp_stage_remove_tree(int at, const char *name, struct dp_err *err);

/* Opens the directory that holds the last segment of rel ("a/b/c" opens a/b) starting at
 * directory at, never following a symlink; with create, missing directories are made (0755).
 * Returns an fd to close, or -1 with errno: ENOENT (missing, without create), ENOTDIR or ELOOP (a
 * component is a file or a symlink), ENAMETOOLONG. *leaf points into rel; "" when rel names
 * at itself. *bad_len (may be NULL) gets the length of rel's prefix that failed. */
int dp_stage_open_parent(int at, const char *rel, bool create, const char **leaf, size_t *bad_len);

/* Opens the directory at a normalised path below data_root ("/app/web") without following
 * any symlink below the root: what a client names is read where it really is, never through
 * a link a cloned repository planted. Returns an fd to close, or -1 with err: DP_ENOTFOUND
 * (code "path_not_found") when missing, DP_EINVAL when a component is a file or a symlink. */
int dp_stage_open_dir(const char *data_root, const char *path, struct dp_err *err);

#endif
