/* Zip to tar with bounded memory: the zip is a spooled file read seekably (the central
 * directory gives sizes and symlinks; the streaming reader loses both), the tar is written to
 * a file descriptor as entries are read. Members are checked by the upload rules
 * (dp_untar_member_name, dp_path_link_target_ok): unsafe ones are refused, directories kept,
 * ownership neutral, modes 0644/0755. Actual bytes are counted (headers can lie): a bomb stops
 * at the limit. */
#ifndef DP_ZIP2TAR_H
#define DP_ZIP2TAR_H

#include "dp_err.h"

#define DP_ZIP_MAX_BYTES   (4ULL * 1024 * 1024 * 1024) /* unpacked, bytes */
#define DP_ZIP_MAX_ENTRIES 100000                      /* members */

struct dp_zip2tar_opts {
    const char *zip_path;         /* a regular file */
    int out_fd;                   /* the tar is written here (file, pipe or socket) */
    unsigned long long max_bytes; /* 0: DP_ZIP_MAX_BYTES */
    unsigned long max_entries;    /* 0: DP_ZIP_MAX_ENTRIES */
};

struct dp_zip2tar_result {
    unsigned long long files; /* regular files and symlinks */
    unsigned long long dirs;
    unsigned long long bytes; /* unpacked file bytes */
};

/* Converts. Errors: DP_EINVAL code "invalid_zip" (damaged, encrypted, not a zip),
 * "unsafe_member" (the member named), DP_ETOOBIG "zip_too_large", DP_EIO when writing failed
 * (the reader of out_fd went away). The tar is complete only on success. */
dp_rc dp_zip2tar(struct dp_zip2tar_result *out, const struct dp_zip2tar_opts *o,
                 struct dp_err *err);

#endif
