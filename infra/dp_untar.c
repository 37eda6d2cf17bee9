#include "dp_untar.h"

#include "dp_path.h"
#include "dp_stage.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUOTE_MAX 100 /* visible bytes of a member name in a message */
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)
#define STR_(x)   #x
#define STR(x)    STR_(x) /* a limit's value inside a message literal */

struct untar {
    const struct dp_untar_opts *o;
    struct dp_untar_result *res;
    struct archive *a;
    struct dp_stage st;
    char *block; /* DP_UPLOAD_BLOCK bytes from the client */
    unsigned long long max_bytes, max_body;
    unsigned long max_entries, entries;
    bool ended;                        /* the stream said 0 */
    bool broken;                       /* the stream said <0 */
    bool too_big;                      /* past max_body */
    char name[DP_UPLOAD_MAX_NAME + 1]; /* the member being written, normalised */
    char q[QUOTE_BUF];                 /* the member as messages show it */
};

/* ---- names ---- */

static dp_rc unsafe(struct dp_err *err, const char *raw, const char *why)
{
    char q[QUOTE_BUF];

    if (!raw)
        raw = "?";
    dp_path_quote(q, sizeof(q), raw, strlen(raw), QUOTE_MAX);
    return dp_err_setc(err, DP_EINVAL, "unsafe_member", "member '%s' %s", q, why);
}

static bool has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

static const char *name_problem(const char *raw)
{
    if (!*raw)
        return "has an empty name";
    if (strlen(raw) > DP_UPLOAD_MAX_NAME)
        return "has a name longer than " STR(DP_UPLOAD_MAX_NAME) " bytes";
    if (raw[0] == '/')
        return "is an absolute path";
    if (has_control(raw))
        return "has control characters in its name";
    return NULL;
}

/* Checks one component of raw (n bytes at p); returns why it is refused, or NULL. */
static const char *component_problem(const char *p, size_t n, size_t depth)
{
    if (n == 2 && p[0] == '.' && p[1] == '.')
        return "has a '..' component";
    if (n > DP_PATH_SEG_MAX)
        return "has a component longer than 255 bytes";
    if (depth > DP_UPLOAD_MAX_DEPTH + 1)
        return "is nested deeper than " STR(DP_UPLOAD_MAX_DEPTH) " folders";
    return NULL;
}

dp_rc dp_untar_member_name(char *out, size_t size, const char *raw, struct dp_err *err)
{
    const char *why = raw ? name_problem(raw) : "has a name that cannot be read";
    size_t o = 0, depth = 0;

    if (size)
        out[0] = '\0';
    for (const char *p = raw; !why && *p;) {
        size_t n = strcspn(p, "/");
        bool skip = n == 0 || (n == 1 && p[0] == '.');

        why = component_problem(p, n, depth + !skip);
        if (!why && !skip && o + (o > 0) + n + 1 > size)
            why = "has a name that is too long";
        if (!why && !skip) {
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
            out[o] = '\0';
            depth++;
        }
        p += n + (p[n] == '/');
    }
    if (why && size)
        out[0] = '\0';
    return why ? unsafe(err, raw, why) : DP_OK;
}

static const char *entry_path(struct archive_entry *e)
{
    const char *s = archive_entry_pathname(e);

    return s ? s : archive_entry_pathname_utf8(e); /* UTF-8 names in the C locale */
}

static const char *entry_hardlink(struct archive_entry *e)
{
    const char *s = archive_entry_hardlink(e);

    return s ? s : archive_entry_hardlink_utf8(e);
}

static const char *entry_symlink(struct archive_entry *e)
{
    const char *s = archive_entry_symlink(e);

    return s ? s : archive_entry_symlink_utf8(e);
}

/* ---- the stream ---- */

static la_ssize_t stream_read(struct archive *a, void *ud, const void **buf)
{
    struct untar *u = ud;
    long n;

    if (u->ended)
        return 0;
    n = u->o->read(u->o->read_ud, u->block, DP_UPLOAD_BLOCK);
    if (n < 0) {
        u->broken = true;
        archive_set_error(a, EIO, "the upload stream broke");
        return -1;
    }
    if (n == 0) {
        u->ended = true;
        return 0;
    }
    u->res->received += (unsigned long long)n;
    if (u->res->received > u->max_body) {
        u->too_big = true;
        archive_set_error(a, EFBIG, "the upload is too large");
        return -1;
    }
    *buf = u->block;
    return n;
}

static dp_rc too_big_bytes(struct untar *u, struct dp_err *err)
{
    return dp_err_setc(err, DP_ETOOBIG, "upload_too_large",
                       "the upload unpacks to more than %llu bytes (at member '%s')", u->max_bytes,
                       u->q);
}

/* What a libarchive failure means: the client left, the body was too big, or a bad tar. */
static dp_rc archive_fail(struct untar *u, struct dp_err *err)
{
    const char *msg = archive_error_string(u->a);

    if (u->broken)
        return dp_err_set(err, DP_ECANCELED, "the client went away after %llu bytes",
                          u->res->received);
    if (u->too_big)
        return dp_err_setc(err, DP_ETOOBIG, "upload_too_large",
                           "the upload is larger than %llu bytes", u->max_body);
    if (u->res->received == 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_tar", "the upload is empty; send a tar");
    return dp_err_setc(err, DP_EINVAL, "invalid_tar",
                       "the upload is not a readable tar or tar.gz after %llu bytes: %.160s",
                       u->res->received, msg ? msg : "unknown error");
}

static dp_rc archive_start(struct untar *u, struct dp_err *err)
{
    u->a = archive_read_new();
    if (!u->a)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    archive_read_support_format_tar(u->a); /* tar only: ustar, pax, GNU */
    if (archive_read_support_filter_gzip(u->a) != ARCHIVE_OK) {
        /* WARN means an external gzip program would run: never from a peer's bytes. */
        archive_read_free(u->a);
        u->a = archive_read_new();
        if (!u->a)
            return dp_err_set(err, DP_ENOMEM, "out of memory");
        archive_read_support_format_tar(u->a);
    }
    if (archive_read_open(u->a, u, NULL, stream_read, NULL) != ARCHIVE_OK)
        return archive_fail(u, err);
    return DP_OK;
}

/* Reads what follows the tar's end (padding, a gzip trailer) so the connection can stay. */
static dp_rc drain(struct untar *u, struct dp_err *err)
{
    unsigned long long extra = 0;

    while (!u->ended && extra <= DP_UPLOAD_TRAILER_MAX) {
        long n = u->o->read(u->o->read_ud, u->block, DP_UPLOAD_BLOCK);

        if (n < 0)
            return dp_err_set(err, DP_ECANCELED, "the client went away after %llu bytes",
                              u->res->received);
        if (n == 0)
            u->ended = true;
        extra += (unsigned long long)n;
        u->res->received += (unsigned long long)n;
    }
    u->res->drained = u->ended;
    return DP_OK;
}

/* ---- writing one member, always relative to directory fds, never through a symlink ---- */

/* The directory for u->name's last component, inside the staged tree. */
static int member_parent(struct untar *u, const char **leaf, dp_rc *rc, struct dp_err *err)
{
    size_t bad = 0;
    int fd = dp_stage_open_parent(u->st.fd, u->name, true, leaf, &bad);
    char q[QUOTE_BUF];

    if (fd >= 0)
        return fd;
    if (errno == ENOTDIR || errno == ELOOP) {
        dp_path_quote(q, sizeof(q), u->name, bad, QUOTE_MAX);
        *rc =
            dp_err_setc(err, DP_EINVAL, "unsafe_member",
                        "member '%s' would be written through '%s', a symlink or a file", u->q, q);
    } else {
        *rc = dp_err_set(err, DP_EIO, "cannot create the folders of member '%s': %s", u->q,
                         strerror(errno));
    }
    return -1;
}

static dp_rc write_fail(struct untar *u, const char *what, struct dp_err *err)
{
    int e = errno;

    if (e == ENOSPC || e == EDQUOT)
        return dp_err_set(err, DP_EIO, "the disk is full (member '%s')", u->q);
    return dp_err_set(err, DP_EIO, "cannot %s member '%s': %s", what, u->q, strerror(e));
}

static int create_file(int parent, const char *leaf, mode_t mode)
{
    return openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
}

/* An earlier member of the same name goes: a later one wins, as with tar itself. */
static dp_rc make_room(int parent, const char *leaf, struct dp_err *err)
{
    return dp_stage_remove_tree(parent, leaf, err);
}

static dp_rc pwrite_all(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DP_EIO;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return DP_OK;
}

/* Copies the member's data; sparse holes stay holes. *end is the highest offset written. */
static dp_rc copy_data(struct untar *u, int fd, unsigned long long *end, struct dp_err *err)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;

    *end = 0;
    while ((r = archive_read_data_block(u->a, &buf, &len, &off)) == ARCHIVE_OK ||
           r == ARCHIVE_WARN) {
        unsigned long long stop = (unsigned long long)off + len;

        if (off < 0 || u->res->bytes + stop > u->max_bytes)
            return too_big_bytes(u, err);
        if (pwrite_all(fd, buf, len, (off_t)off))
            return write_fail(u, "write", err);
        if (stop > *end)
            *end = stop;
    }
    return r == ARCHIVE_EOF ? DP_OK : archive_fail(u, err);
}

static dp_rc file_finish(struct untar *u, int fd, struct archive_entry *e, mode_t mode,
                         unsigned long long size, struct dp_err *err)
{
    struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

    if (ftruncate(fd, (off_t)size) != 0 || fchmod(fd, mode) != 0)
        return write_fail(u, "finish", err);
    if (archive_entry_mtime_is_set(e)) {
        ts[1].tv_sec = archive_entry_mtime(e);
        ts[1].tv_nsec = 0;
        ts[0] = ts[1];
        (void)futimens(fd, ts); /* for build caches; not worth failing over */
    }
    u->res->files++;
    u->res->bytes += size;
    return DP_OK;
}

static dp_rc put_file(struct untar *u, struct archive_entry *e, struct dp_err *err)
{
    mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
    long long declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    unsigned long long end = 0;
    const char *leaf;
    dp_rc rc = DP_OK;
    int parent, fd;

    if (declared < 0 || u->res->bytes + (unsigned long long)declared > u->max_bytes)
        return too_big_bytes(u, err); /* refused before a byte of it is written */
    parent = member_parent(u, &leaf, &rc, err);
    if (parent < 0)
        return rc;
    fd = create_file(parent, leaf, mode);
    if (fd < 0 && errno == EEXIST && (rc = make_room(parent, leaf, err)) == DP_OK)
        fd = create_file(parent, leaf, mode);
    close(parent);
    if (fd < 0)
        return rc ? rc : write_fail(u, "create", err);
    rc = copy_data(u, fd, &end, err);
    if (end < (unsigned long long)declared)
        end = (unsigned long long)declared; /* a trailing hole in a sparse file */
    if (!rc)
        rc = file_finish(u, fd, e, mode, end, err);
    close(fd);
    return rc;
}

static dp_rc put_dir(struct untar *u, struct dp_err *err)
{
    struct stat sb;
    const char *leaf;
    dp_rc rc = DP_OK;
    int parent, fd;

    u->res->dirs++;
    if (!u->name[0])
        return DP_OK; /* "./": the upload's top, made already */
    parent = member_parent(u, &leaf, &rc, err);
    if (parent < 0)
        return rc;
    if (fstatat(parent, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(sb.st_mode))
        rc = make_room(parent, leaf, err);
    if (!rc && mkdirat(parent, leaf, 0755) != 0 && errno != EEXIST)
        rc = write_fail(u, "create", err);
    fd = rc ? -1 : openat(parent, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (!rc && (fd < 0 || fchmod(fd, 0755) != 0))
        rc = write_fail(u, "open", err);
    if (fd >= 0)
        close(fd);
    close(parent);
    return rc;
}

static dp_rc put_symlink(struct untar *u, struct archive_entry *e, struct dp_err *err)
{
    const char *target = entry_symlink(e), *leaf;
    char q[QUOTE_BUF];
    dp_rc rc = DP_OK;
    int parent, r;

    if (!target || strlen(target) > DP_UPLOAD_MAX_NAME || !u->name[0] ||
        !dp_path_link_target_ok(u->name, target)) {
        dp_path_quote(q, sizeof(q), target ? target : "?", target ? strlen(target) : 1, QUOTE_MAX);
        return dp_err_setc(err, DP_EINVAL, "unsafe_member",
                           "symlink '%s' points to '%s', outside the upload (targets must be "
                           "relative and stay inside)",
                           u->q, q);
    }
    parent = member_parent(u, &leaf, &rc, err);
    if (parent < 0)
        return rc;
    r = symlinkat(target, parent, leaf);
    if (r != 0 && errno == EEXIST && (rc = make_room(parent, leaf, err)) == DP_OK)
        r = symlinkat(target, parent, leaf);
    close(parent);
    if (r != 0)
        return rc ? rc : write_fail(u, "create", err);
    u->res->files++;
    return DP_OK;
}

/* The hard link's target must be a regular file an earlier member wrote. */
static int link_source(struct untar *u, const char *tname, const char **tleaf)
{
    struct stat sb;
    int tparent = dp_stage_open_parent(u->st.fd, tname, false, tleaf, NULL);

    if (tparent < 0)
        return -1;
    if (fstatat(tparent, *tleaf, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
        close(tparent);
        return -1;
    }
    return tparent;
}

static dp_rc put_hardlink(struct untar *u, const char *raw_target, struct dp_err *err)
{
    char tname[DP_UPLOAD_MAX_NAME + 1], q[QUOTE_BUF];
    const char *leaf, *tleaf;
    dp_rc rc = dp_untar_member_name(tname, sizeof(tname), raw_target, err);
    int parent, tparent = -1, r = -1;

    if (rc)
        return rc;
    if (strcmp(tname, u->name) == 0)
        return DP_OK; /* a link to itself: nothing to do */
    tparent = tname[0] ? link_source(u, tname, &tleaf) : -1;
    if (tparent < 0) {
        dp_path_quote(q, sizeof(q), raw_target, strlen(raw_target), QUOTE_MAX);
        return dp_err_setc(err, DP_EINVAL, "unsafe_member",
                           "hard link '%s' must point to a file written earlier in the upload, "
                           "not '%s'",
                           u->q, q);
    }
    parent = member_parent(u, &leaf, &rc, err);
    if (parent >= 0) {
        r = linkat(tparent, tleaf, parent, leaf, 0);
        if (r != 0 && errno == EEXIST && (rc = make_room(parent, leaf, err)) == DP_OK)
            r = linkat(tparent, tleaf, parent, leaf, 0);
        if (r != 0 && !rc)
            rc = write_fail(u, "link", err);
        close(parent);
    }
    close(tparent);
    if (!rc)
        u->res->files++;
    return rc;
}

static dp_rc put_member(struct untar *u, struct archive_entry *e, struct dp_err *err)
{
    const char *raw = entry_path(e), *hard = entry_hardlink(e);
    dp_rc rc;

    dp_path_quote(u->q, sizeof(u->q), raw ? raw : "?", raw ? strlen(raw) : 1, QUOTE_MAX);
    rc = dp_untar_member_name(u->name, sizeof(u->name), raw, err);
    if (rc)
        return rc;
    if (hard)
        return put_hardlink(u, hard, err);
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        if (!u->name[0])
            return unsafe(err, raw, "is a file in place of the upload's top folder");
        return put_file(u, e, err);
    case AE_IFDIR:
        return put_dir(u, err);
    case AE_IFLNK:
        return put_symlink(u, e, err);
    default:
        return unsafe(err, raw,
                      "is a device, FIFO or socket; only files, folders and links "
                      "are allowed");
    }
}

static dp_rc extract_all(struct untar *u, struct dp_err *err)
{
    struct archive_entry *e;
    int r;

    while ((r = archive_read_next_header(u->a, &e)) != ARCHIVE_EOF) {
        dp_rc rc;

        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return archive_fail(u, err);
        if (++u->entries > u->max_entries)
            return dp_err_setc(err, DP_ETOOBIG, "upload_too_large",
                               "the upload has more than %lu members", u->max_entries);
        rc = put_member(u, e, err);
        if (rc)
            return rc;
    }
    if (u->broken)
        return archive_fail(u, err); /* an EOF that was really the stream breaking */
    return DP_OK;
}

dp_rc dp_untar(struct dp_untar_result *out, const struct dp_untar_opts *o, struct dp_err *err)
{
    struct untar u = {.o = o, .res = out, .st = DP_STAGE_INIT};
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    u.max_bytes = o->max_bytes ? o->max_bytes : DP_UPLOAD_MAX_BYTES;
    u.max_body = o->max_body ? o->max_body : DP_UPLOAD_MAX_BODY;
    u.max_entries = o->max_entries ? o->max_entries : DP_UPLOAD_MAX_ENTRIES;
    rc = dp_stage_check(o->data_root, o->path, o->clean, err);
    if (!rc)
        rc = dp_stage_open(&u.st, o->data_root, err);
    u.block = rc ? NULL : malloc(DP_UPLOAD_BLOCK);
    if (!rc && !u.block)
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    if (!rc)
        rc = archive_start(&u, err);
    if (!rc)
        rc = extract_all(&u, err);
    if (!rc)
        rc = drain(&u, err);
    if (!rc)
        rc = dp_stage_commit(&u.st, o->path, o->clean, err);
    if (u.a)
        archive_read_free(u.a);
    dp_stage_close(&u.st); /* removes whatever was not committed */
    free(u.block);
    return rc;
}
