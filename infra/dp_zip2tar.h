/* Zip (or tar) to a checked tar with bounded memory: the input is a spooled file read seekably
 * (for a zip the central directory gives sizes and symlinks; the streaming reader loses both),
 * the tar is written to a file descriptor as entries are read. Members are checked by the
 * agent's upload rules (dp_untar_member_name, dp_path_link_target_ok), so whatever passes here
 * also unpacks on an agent: unsafe ones are refused, directories kept, ownership neutral, modes
 * 0644/0755, no member below an earlier symlink or file, hard links (tar only) only to earlier
 * files. Actual bytes are counted (headers can lie): a bomb stops at the limit.
 *
 * A zip's "__MACOSX/" folder (Finder's metadata) is left out.
 *
 * Names come out as UTF-8 whatever the program's locale (the conversion runs in a thread-local
 * C.UTF-8 locale): a name that is not valid UTF-8 is read as CP437 in a zip (the zip format's
 * default) and as Latin-1 in a tar. */
#ifndef DP_ZIP2TAR_H
#define DP_ZIP2TAR_H

#include "dp_err.h"

#include <stdbool.h>
#include <stddef.h>

#define DP_ZIP_MAX_BYTES   (4ULL * 1024 * 1024 * 1024) /* unpacked, bytes */
#define DP_ZIP_MAX_ENTRIES 100000                      /* members */
#define DP_ZIP_TOP_MAX     255                         /* a stripped top folder's name, bytes */

/* One more regular file (mode 0644) the finish hook appends at the end of the tar. */
struct dp_zip2tar_extra {
    const char *name; /* a normalised member name, e.g. "Dockerfile" */
    const void *data;
    size_t len;
};

/* What a caller may watch and add while converting; every member may be NULL. */
struct dp_zip2tar_hook {
    /* Before each member is written: its name as written (normalised, top folder stripped),
     * its type (AE_IFREG, AE_IFDIR, AE_IFLNK; a hard link is AE_IFREG) and declared size.
     * Returns true to be handed the member's bytes through data. */
    bool (*member)(void *ud, const char *name, unsigned type, unsigned long long size);
    /* The bytes of a member that member() asked for, in order. */
    void (*data)(void *ud, const void *p, size_t n);
    /* After the last member, before the tar is closed: may fill *extra (left zeroed: nothing
     * to add). The bytes must live until dp_zip2tar returns. An error stops the conversion. */
    dp_rc (*finish)(void *ud, struct dp_zip2tar_extra *extra, struct dp_err *err);
    void *ud;
};

struct dp_zip2tar_opts {
    const char *zip_path;         /* a regular file */
    int out_fd;                   /* the tar is written here (file, pipe or socket) */
    unsigned long long max_bytes; /* 0: DP_ZIP_MAX_BYTES */
    unsigned long max_entries;    /* 0: DP_ZIP_MAX_ENTRIES */
    bool input_tar;    /* zip_path holds a tar or tar.gz instead of a zip (errors say "tar") */
    const char *strip; /* a top folder removed from every name (dp_zip2tar_top); NULL: none */
    const struct dp_zip2tar_hook *hook; /* NULL: none */
};

struct dp_zip2tar_result {
    unsigned long long files; /* regular files, symlinks and hard links (extra included) */
    unsigned long long dirs;
    unsigned long long bytes; /* unpacked file bytes */
};

/* Converts. Errors: DP_EINVAL code "invalid_zip" (damaged, encrypted, not a zip) or
 * "invalid_tar" with input_tar, "unsafe_member" (the member named), "no_code" when the
 * archive holds no file at all; DP_ETOOBIG "zip_too_large" ("code_too_large" with input_tar);
 * DP_EIO when writing failed (the reader of out_fd went away); whatever the finish hook says.
 * The tar is complete only on success. */
dp_rc dp_zip2tar(struct dp_zip2tar_result *out, const struct dp_zip2tar_opts *o,
                 struct dp_err *err);

/* Reads member names only (o->zip_path, o->input_tar; the rest is ignored) and writes into top
 * the one folder every member lies in, or "" when members sit at the top, the archive is empty
 * or cannot be read (dp_zip2tar reports that). Stops at the first member that decides it, so
 * an archive with files at its top costs one header. Fails only with DP_ENOMEM. */
dp_rc dp_zip2tar_top(char *top, size_t size, const struct dp_zip2tar_opts *o, struct dp_err *err);

#endif
