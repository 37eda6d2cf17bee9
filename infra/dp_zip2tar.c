#include "dp_zip2tar.h"

#include "dp_limits.h"
#include "dp_path.h"
#include "dp_untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#define READ_BLOCK ((size_t)64 * 1024)

struct conv {
    struct archive *in, *out;
    const struct dp_zip2tar_opts *o;
    struct dp_zip2tar_result *res;
    unsigned long entries;
    char name[DP_UPLOAD_MAX_NAME + 1];
};

static dp_rc zip_error(struct conv *c, struct dp_err *err)
{
    const char *why = archive_error_string(c->in);

    return dp_err_setc(err, DP_EINVAL, "invalid_zip", "the zip cannot be read%s%s: %s",
                       c->name[0] ? " at " : "", c->name, why ? why : "not a zip");
}

static dp_rc write_error(struct conv *c, struct dp_err *err)
{
    const char *why = archive_error_string(c->out);

    return dp_err_setc(err, DP_EIO, "write_failed", "writing the tar failed: %s",
                       why ? why : "unknown error");
}

/* Copies the entry's data, counting real bytes against the declared size and the total. */
static dp_rc copy_data(struct conv *c, la_int64_t declared, struct dp_err *err)
{
    unsigned long long max = c->o->max_bytes ? c->o->max_bytes : DP_ZIP_MAX_BYTES;
    unsigned long long seen = 0;
    const void *p;
    size_t n;
    la_int64_t off;
    int r;

    while ((r = archive_read_data_block(c->in, &p, &n, &off)) == ARCHIVE_OK) {
        seen += n;
        c->res->bytes += n;
        if (seen > (unsigned long long)declared || c->res->bytes > max)
            return dp_err_setc(err, DP_ETOOBIG, "zip_too_large", "'%s' unpacks past %s", c->name,
                               seen > (unsigned long long)declared ? "its declared size"
                                                                   : "the size limit");
        if (archive_write_data(c->out, p, n) < 0)
            return write_error(c, err);
    }
    return r == ARCHIVE_EOF ? DP_OK : zip_error(c, err);
}

/* Rewrites e as a neutral tar member, or refuses it. */
static dp_rc member_check(struct conv *c, struct archive_entry *e, struct dp_err *err)
{
    mode_t type = archive_entry_filetype(e);
    const char *link = archive_entry_symlink(e);
    unsigned long long max = c->o->max_bytes ? c->o->max_bytes : DP_ZIP_MAX_BYTES;

    if (type == AE_IFLNK && (!link || !dp_path_link_target_ok(c->name, link)))
        return dp_err_setc(err, DP_EINVAL, "unsafe_member",
                           "symlink '%s' points outside the upload", c->name);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return dp_err_setc(err, DP_EINVAL, "unsafe_member", "'%s' is not a file, folder or link",
                           c->name);
    if (type == AE_IFREG && (archive_entry_size(e) < 0 ||
                             (unsigned long long)archive_entry_size(e) > max - c->res->bytes))
        return dp_err_setc(err, DP_ETOOBIG, "zip_too_large",
                           "'%s' would unpack past the size limit of %llu bytes", c->name, max);
    archive_entry_set_pathname(e, c->name);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, NULL);
    archive_entry_set_gname(e, NULL);
    if (type == AE_IFDIR)
        archive_entry_set_perm(e, 0755);
    else if (type == AE_IFREG)
        archive_entry_set_perm(e, (archive_entry_perm(e) & 0111) ? 0755 : 0644);
    return DP_OK;
}

static dp_rc one_entry(struct conv *c, struct archive_entry *e, struct dp_err *err)
{
    const char *raw = archive_entry_pathname(e);
    unsigned long max = c->o->max_entries ? c->o->max_entries : DP_ZIP_MAX_ENTRIES;
    dp_rc rc;

    c->name[0] = '\0';
    if (++c->entries > max)
        return dp_err_setc(err, DP_ETOOBIG, "zip_too_large", "the zip has more than %lu members",
                           max);
    if (!raw)
        return dp_err_setc(err, DP_EINVAL, "unsafe_member", "member %lu has an unreadable name",
                           c->entries);
    rc = dp_untar_member_name(c->name, sizeof(c->name), raw, err);
    if (rc || !c->name[0])
        return rc; /* "./" is the top itself: nothing to write */
    rc = member_check(c, e, err);
    if (rc)
        return rc;
    if (archive_write_header(c->out, e) != ARCHIVE_OK)
        return write_error(c, err);
    if (archive_entry_filetype(e) == AE_IFDIR)
        c->res->dirs++;
    else
        c->res->files++;
    if (archive_entry_filetype(e) == AE_IFREG)
        return copy_data(c, archive_entry_size(e), err);
    return DP_OK;
}

static dp_rc open_both(struct conv *c, struct dp_err *err)
{
    c->in = archive_read_new();
    c->out = archive_write_new();
    if (!c->in || !c->out)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    archive_read_support_format_zip_seekable(c->in); /* zip only, and only the seekable reader */
    if (archive_read_open_filename(c->in, c->o->zip_path, READ_BLOCK) != ARCHIVE_OK)
        return zip_error(c, err);
    archive_write_set_format_pax_restricted(c->out);
    archive_write_set_bytes_in_last_block(c->out, 1);
    if (archive_write_open_fd(c->out, c->o->out_fd) != ARCHIVE_OK)
        return write_error(c, err);
    return DP_OK;
}

dp_rc dp_zip2tar(struct dp_zip2tar_result *out, const struct dp_zip2tar_opts *o, struct dp_err *err)
{
    struct conv c = {.o = o, .res = out};
    struct archive_entry *e;
    dp_rc rc;
    int r;

    memset(out, 0, sizeof(*out));
    rc = open_both(&c, err);
    while (rc == DP_OK && (r = archive_read_next_header(c.in, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) /* WARN is a name charset note; the name is still there */
            rc = zip_error(&c, err);
        else
            rc = one_entry(&c, e, err);
    }
    if (rc == DP_OK && c.entries == 0)
        rc = dp_err_setc(err, DP_EINVAL, "invalid_zip", "the zip holds no files");
    if (rc == DP_OK && archive_write_close(c.out) != ARCHIVE_OK)
        rc = write_error(&c, err);
    archive_read_free(c.in);
    archive_write_free(c.out);
    return rc;
}
