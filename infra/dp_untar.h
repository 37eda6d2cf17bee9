/* Unpacks a streamed tar (plain or gzip) below the data root with bounded memory: members are
 * checked before anything is written for them, the tree is built in a staging directory
 * (dp_stage) and moved into place only when the whole archive was good, so a refused or
 * broken upload leaves nothing behind and the target untouched.
 *
 * Members: regular files (mode 0755 if any x bit, else 0644; setuid/setgid dropped),
 * directories (0755), symlinks whose target passes dp_path_link_target_ok (relative, climbing
 * only with leading ".." and never above the upload), and hard links to a file an earlier
 * member of the same upload wrote (made with linkat; a later member of that name replaces the
 * name, never the shared file). Refused: absolute names, ".." components, empty names, control
 * characters, names over DP_UPLOAD_MAX_NAME or deeper than DP_UPLOAD_MAX_DEPTH, devices,
 * FIFOs, sockets, and any member below a symlink or a file ("l -> sub" then "l/x"). Files are
 * made with openat(O_EXCL | O_NOFOLLOW) relative to directory fds, so no symlink, in the
 * upload or in the target, ever redirects a write. */
#ifndef DP_UNTAR_H
#define DP_UNTAR_H

#include "dp_err.h"

#include <stdbool.h>
#include <stddef.h>

/* Pulls up to size bytes of the archive into buf: >0 bytes, 0 at the end of the stream, <0
 * when the stream broke (the client went away, or we are shutting down). */
typedef long (*dp_untar_read_fn)(void *ud, void *buf, size_t size);

struct dp_untar_opts {
    const char *data_root; /* absolute; staging happens in <data_root>/.staging */
    const char *path;      /* the target, as dp_path_normalize gave it */
    bool clean;            /* replace the target instead of merging into it */
    dp_untar_read_fn read; /* called only once the target was checked */
    void *read_ud;
    unsigned long long max_bytes; /* unpacked bytes; 0 means DP_UPLOAD_MAX_BYTES */
    unsigned long long max_body;  /* archive bytes read; 0 means DP_UPLOAD_MAX_BODY */
    unsigned long max_entries;    /* members; 0 means DP_UPLOAD_MAX_ENTRIES */
};

struct dp_untar_result {
    unsigned long long files;    /* files, symlinks and hard links written (not directories) */
    unsigned long long dirs;     /* directory members */
    unsigned long long bytes;    /* unpacked size of the files */
    unsigned long long received; /* archive bytes read from the stream, also on failure */
    bool drained;                /* the stream was read to its end (the connection can stay) */
};

/* Normalises a member name into out ("./a//b/" gives "a/b"; "." and "./" give "", the
 * upload's top itself); DP_EINVAL code "unsafe_member" for the names refused above. */
dp_rc dp_untar_member_name(char *out, size_t size, const char *raw, struct dp_err *err);

/* Unpacks the stream into <data_root><path>: with clean, or when the target is missing, the
 * target is replaced in one rename; otherwise merged (see dp_stage_commit). Errors, with the
 * offending member named (quoted, shortened): DP_EINVAL code "unsafe_member" for a refused
 * member, DP_EINVAL "invalid_tar" for a damaged or empty archive, DP_ETOOBIG
 * "upload_too_large" past a limit, DP_ECANCELED when the stream broke, DP_ECONFLICT
 * "path_conflict" when the target or a folder on its way is a file or a symlink, DP_EIO for
 * the disk. On any error nothing of the upload remains below the data root. */
dp_rc dp_untar(struct dp_untar_result *out, const struct dp_untar_opts *o, struct dp_err *err);

#endif
