#include "dp_context.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dp_context {
    pthread_t thread;
    int rfd, wfd;
    int dirfd;
    char dir[64];       /* "/proc/self/fd/N": the directory opened safely by the caller */
    struct dp_err perr; /* the producer's outcome */
    atomic_bool failed; /* set before the producer closes its end */
};

static bool skipped(const char *rel)
{
    return strcmp(rel, ".git") == 0 || strncmp(rel, ".git/", 5) == 0;
}

static dp_rc copy_data(struct archive *disk, struct archive *w, struct dp_err *err)
{
    const void *p;
    size_t n;
    la_int64_t off;
    int r;

    while ((r = archive_read_data_block(disk, &p, &n, &off)) == ARCHIVE_OK) {
        if (archive_write_data(w, p, n) < 0)
            return dp_err_set(err, DP_EIO, "writing the build context: %s",
                              archive_error_string(w));
    }
    if (r != ARCHIVE_EOF)
        return dp_err_set(err, DP_EIO, "reading the build context: %s", archive_error_string(disk));
    return DP_OK;
}

/* Writes one entry with its path relative to the context root and neutral ownership. */
static dp_rc put_entry(struct dp_context *c, struct archive *disk, struct archive *w,
                       struct archive_entry *e, const char *rel, struct dp_err *err)
{
    archive_entry_set_pathname(e, rel);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, NULL);
    archive_entry_set_gname(e, NULL);
    if (archive_write_header(w, e) != ARCHIVE_OK)
        return dp_err_set(err, DP_EIO, "writing the build context: %s", archive_error_string(w));
    (void)c;
    if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0)
        return copy_data(disk, w, err);
    return DP_OK;
}

static dp_rc walk(struct dp_context *c, struct archive *disk, struct archive *w, struct dp_err *err)
{
    struct archive_entry *e = archive_entry_new();
    size_t dlen = strlen(c->dir);
    dp_rc rc = DP_OK;
    int r;

    while (rc == DP_OK && (r = archive_read_next_header2(disk, e)) != ARCHIVE_EOF) {
        const char *path = archive_entry_pathname(e);
        const char *rel;

        if (r < ARCHIVE_WARN) {
            rc = dp_err_set(err, DP_EIO, "reading the build context: %s",
                            archive_error_string(disk));
            break;
        }
        if (!path || strncmp(path, c->dir, dlen) != 0)
            continue;
        rel = path[dlen] == '/' ? path + dlen + 1 : path + dlen;
        if (*rel && skipped(rel))
            continue; /* not descended into */
        if (archive_entry_filetype(e) == AE_IFDIR)
            archive_read_disk_descend(disk);
        if (*rel)
            rc = put_entry(c, disk, w, e, rel, err);
    }
    archive_entry_free(e);
    return rc;
}

static void *produce(void *arg)
{
    struct dp_context *c = arg;
    struct archive *disk = archive_read_disk_new();
    struct archive *w = archive_write_new();
    dp_rc rc = DP_OK;

    /* Hybrid: the top (our fd's magic link) is entered, links inside stay links. */
    archive_read_disk_set_symlink_hybrid(disk);
    archive_write_set_format_pax_restricted(w);
    archive_write_set_bytes_in_last_block(w, 1);
    if (archive_write_open_fd(w, c->wfd) != ARCHIVE_OK ||
        archive_read_disk_open(disk, c->dir) != ARCHIVE_OK)
        rc = dp_err_set(&c->perr, DP_EIO, "cannot read the build context %s: %s", c->dir,
                        archive_error_string(disk));
    if (rc == DP_OK)
        rc = walk(c, disk, w, &c->perr);
    if (rc == DP_OK && archive_write_close(w) != ARCHIVE_OK)
        dp_err_set(&c->perr, DP_EIO, "finishing the build context: %s", archive_error_string(w));
    archive_read_free(disk);
    archive_write_free(w);
    if (c->perr.rc)
        atomic_store(&c->failed, true);
    close(c->wfd); /* EOF for the reader */
    c->wfd = -1;
    return NULL;
}

dp_rc dp_context_open(struct dp_context **out, int dirfd, struct dp_err *err)
{
    struct dp_context *c = calloc(1, sizeof(*c));
    int fds[2];

    *out = NULL;
    if (!c || pipe2(fds, O_CLOEXEC) != 0) {
        free(c);
        close(dirfd);
        return dp_err_set(err, DP_EIO, "cannot stream the build context: %s", strerror(errno));
    }
    c->dirfd = dirfd;
    snprintf(c->dir, sizeof(c->dir), "/proc/self/fd/%d", dirfd);
    c->rfd = fds[0];
    c->wfd = fds[1];
    if (pthread_create(&c->thread, NULL, produce, c) != 0) {
        close(fds[0]);
        close(fds[1]);
        close(dirfd);
        free(c);
        return dp_err_set(err, DP_ENOMEM, "cannot start the build context writer");
    }
    *out = c;
    return DP_OK;
}

ssize_t dp_context_read(struct dp_context *c, char *buf, size_t n)
{
    ssize_t r;

    do {
        r = read(c->rfd, buf, n);
    } while (r < 0 && errno == EINTR);
    if (r == 0 && atomic_load(&c->failed))
        return -1; /* a short tar must not look complete to Docker */
    return r;
}

dp_rc dp_context_close(struct dp_context *c, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    if (!c)
        return DP_OK;
    close(c->rfd); /* a producer still writing gets EPIPE and stops */
    pthread_join(c->thread, NULL);
    close(c->dirfd);
    if (atomic_load(&c->failed))
        rc = dp_err_set(err, c->perr.rc, "%s", c->perr.msg);
    free(c);
    return rc;
}
