/* A droplet's root folder as its guest sees it: guest paths mapped under the root, files
 * written and folders made without ever following a symlink, and whole trees copied (a
 * snapshot) and removed. */
#ifndef DOSIM_TREE_H
#define DOSIM_TREE_H

#include "dp_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Maps a guest path ("/etc/node-agent/key", or relative to "/") to a path relative to the
 * root ("etc/node-agent/key"; "" for the root itself). Refuses ".." (DP_EINVAL), control
 * characters and over-long paths: nothing a guest names escapes its root. */
dp_rc dosim_tree_rel(char *out, size_t size, const char *guest_path, struct dp_err *err);

/* Writes data at rel below the root fd (parents made 0755), replacing the file in one rename
 * or appending to it, then sets mode. The file is never reached through a symlink. */
dp_rc dosim_tree_write(int root_fd, const char *rel, const void *data, size_t len, mode_t mode,
                       bool append, struct dp_err *err);

/* Makes the folder rel below the root fd and its parents (mkdir -p). */
dp_rc dosim_tree_mkdirs(int root_fd, const char *rel, struct dp_err *err);

/* Opens rel below the root fd for reading without following symlinks; -1 with errno. */
int dosim_tree_open_read(int root_fd, const char *rel);

/* Copies the tree src to dst (which must not exist): folders, regular files (mode kept,
 * setuid/setgid dropped) and symlinks as they are; other kinds are skipped. *bytes gets the
 * size of the files. On failure dst is removed. */
dp_rc dosim_tree_copy(const char *src, const char *dst, unsigned long long *bytes,
                      struct dp_err *err);

/* Removes the tree at path (absolute) without following symlinks; missing is fine. */
dp_rc dosim_tree_remove(const char *path, struct dp_err *err);

/* mkdir -p for an absolute host path (our own folders: state dir, droplet dirs). */
dp_rc dosim_mkdirs_abs(const char *path, mode_t mode, struct dp_err *err);

#endif
