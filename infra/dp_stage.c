#include "dp_stage.h"

#include "dp_path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TREE_DEPTH_MAX 256 /* levels dp_stage_remove_tree and the merge descend (a DIR each) */
#define QUOTE_BUF      (80 * 4 + 8)
#define DIR_FLAGS      (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int open_child_dir(int fd, const char *name, bool create)
{
    int c = openat(fd, name, DIR_FLAGS);

    if (c >= 0 || errno != ENOENT || !create)
        return c;
    if (mkdirat(fd, name, 0755) != 0) {
        if (errno != EEXIST)
            return -1;
        return openat(fd, name, DIR_FLAGS); /* made by someone else meanwhile */
    }
    c = openat(fd, name, DIR_FLAGS);
    if (c >= 0)
        (void)fchmod(c, 0755); /* whatever the umask */
    return c;
}

int dp_stage_open_parent(int at, const char *rel, bool create, const char **leaf, size_t *bad_len)
{
    char seg[DP_PATH_SEG_MAX + 1];
    const char *p = rel;
    int fd = fcntl(at, F_DUPFD_CLOEXEC, 0);

    while (fd >= 0) {
        size_t n;
        int next;

        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (p[n] == '\0') {
            *leaf = p;
            return fd;
        }
        if (n > DP_PATH_SEG_MAX) {
            close(fd);
            errno = ENAMETOOLONG;
            fd = -1;
        } else {
            memcpy(seg, p, n);
            seg[n] = '\0';
            next = open_child_dir(fd, seg, create);
            close(fd);
            fd = next;
        }
        if (fd < 0 && bad_len)
            *bad_len = (size_t)(p - rel) + n;
        p += n;
    }
    return -1;
}

static dp_rc io_err(struct dp_err *err, const char *what, const char *name)
{
    char q[QUOTE_BUF];
    int e = errno;

    dp_path_quote(q, sizeof(q), name, strlen(name), 80);
    return dp_err_set(err, DP_EIO, "cannot %s '%s': %s", what, q, strerror(e));
}

/* ---- removal: one open DIR per level, never a symlink followed ---- */

struct level {
    DIR *dir;
    int dst; /* the merge's target directory at this level; -1 for removal */
    char name[DP_PATH_SEG_MAX + 1];
};

struct walk {
    struct level *v;
    size_t n, alloc;
};

static bool is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

static bool entry_is_dir(int fd, const struct dirent *d)
{
    struct stat sb;

    if (d->d_type != DT_UNKNOWN)
        return d->d_type == DT_DIR;
    return fstatat(fd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

/* Opens name in fd as a new level on top of w; takes nothing on failure. */
static int walk_push(struct walk *w, int fd, const char *name, int dst)
{
    int c;
    DIR *d;

    if (w->n == TREE_DEPTH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (w->n == w->alloc) {
        size_t na = w->alloc ? w->alloc * 2 : 8;
        struct level *nv = realloc(w->v, na * sizeof(*nv));

        if (!nv)
            return -1;
        w->v = nv;
        w->alloc = na;
    }
    c = openat(fd, name, DIR_FLAGS);
    d = c >= 0 ? fdopendir(c) : NULL;
    if (!d) {
        if (c >= 0)
            close(c);
        return -1;
    }
    w->v[w->n].dir = d;
    w->v[w->n].dst = dst;
    snprintf(w->v[w->n].name, sizeof(w->v[w->n].name), "%s", name);
    w->n++;
    return 0;
}

static void walk_pop(struct walk *w)
{
    struct level *l = &w->v[--w->n];

    closedir(l->dir);
    if (l->dst >= 0)
        close(l->dst);
}

static void walk_free(struct walk *w)
{
    while (w->n > 0)
        walk_pop(w);
    free(w->v);
}

/* Removes the non-directories of the top level; stops at the first subdirectory (pushed). */
static int remove_step(struct walk *w, bool *pushed)
{
    struct level *top = &w->v[w->n - 1];
    int fd = dirfd(top->dir);
    struct dirent *d;

    *pushed = false;
    errno = 0;
    while ((d = readdir(top->dir)) != NULL) {
        if (is_dot(d->d_name))
            continue;
        if (entry_is_dir(fd, d)) {
            *pushed = true;
            return walk_push(w, fd, d->d_name, -1);
        }
        if (unlinkat(fd, d->d_name, 0) != 0 && errno != ENOENT)
            return -1;
        errno = 0;
    }
    return errno ? -1 : 0;
}

dp_rc dp_stage_remove_tree(int at, const char *name, struct dp_err *err)
{
    struct walk w = {0};
    struct stat sb;
    dp_rc rc = DP_OK;

    if (fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? DP_OK : io_err(err, "inspect", name);
    if (!S_ISDIR(sb.st_mode))
        return unlinkat(at, name, 0) == 0 || errno == ENOENT ? DP_OK : io_err(err, "remove", name);
    if (walk_push(&w, at, name, -1) != 0) {
        rc = io_err(err, "open", name);
        walk_free(&w);
        return rc;
    }
    while (w.n > 0) {
        bool pushed;
        char done[DP_PATH_SEG_MAX + 1];
        int parent;

        if (remove_step(&w, &pushed) != 0) {
            rc = io_err(err, "remove below", w.v[w.n - 1].name);
            break;
        }
        if (pushed)
            continue;
        snprintf(done, sizeof(done), "%s", w.v[w.n - 1].name);
        walk_pop(&w);
        parent = w.n > 0 ? dirfd(w.v[w.n - 1].dir) : at;
        if (unlinkat(parent, done, AT_REMOVEDIR) != 0 && errno != ENOENT) {
            rc = io_err(err, "remove", done);
            break;
        }
    }
    walk_free(&w);
    return rc;
}

/* ---- open, check, commit, close ---- */

static void random_name(char *out, size_t size)
{
    unsigned char r[8];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        unsigned long long t =
            (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);

        memcpy(r, &t, sizeof(r));
    }
    snprintf(out, size, "up-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
             r[6], r[7]);
}

static dp_rc stage_mkdir(struct dp_stage *st, struct dp_err *err)
{
    for (int tries = 0; tries < 4; tries++) {
        random_name(st->name, sizeof(st->name));
        if (mkdirat(st->parent_fd, st->name, 0755) == 0) {
            st->fd = openat(st->parent_fd, st->name, DIR_FLAGS);
            if (st->fd < 0)
                return io_err(err, "open", st->name);
            (void)fchmod(st->fd, 0755); /* it becomes the target */
            return DP_OK;
        }
        if (errno != EEXIST)
            break;
    }
    st->name[0] = '\0';
    return dp_err_set(err, DP_EIO, "cannot create a staging directory: %s", strerror(errno));
}

dp_rc dp_stage_open(struct dp_stage *st, const char *data_root, struct dp_err *err)
{
    size_t rlen = strlen(data_root);
    dp_rc rc;

    memset(st, 0, sizeof(*st));
    st->root_fd = st->parent_fd = st->fd = -1;
    while (rlen > 1 && data_root[rlen - 1] == '/')
        rlen--;
    st->root_fd = open(data_root, DIR_FLAGS & ~O_NOFOLLOW); /* the root itself is the admin's */
    if (st->root_fd < 0)
        return dp_err_set(err, DP_EIO, "cannot open the data root %.200s: %s", data_root,
                          strerror(errno));
    if (mkdirat(st->root_fd, DP_STAGING_DIR, 0700) != 0 && errno != EEXIST)
        return io_err(err, "create", DP_STAGING_DIR);
    st->parent_fd = openat(st->root_fd, DP_STAGING_DIR, DIR_FLAGS);
    if (st->parent_fd < 0)
        return io_err(err, "open", DP_STAGING_DIR);
    rc = stage_mkdir(st, err);
    if (rc)
        return rc;
    if (asprintf(&st->path, "%.*s/%s/%s", (int)rlen, data_root, DP_STAGING_DIR, st->name) < 0) {
        st->path = NULL;
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    return DP_OK;
}

static dp_rc conflict(struct dp_err *err, const char *path, size_t len, const char *what)
{
    char q[DP_PATH_MAX + 8];

    dp_path_quote(q, sizeof(q), path, len, 120);
    return dp_err_setc(err, DP_ECONFLICT, "path_conflict", "'%s' %s", q, what);
}

dp_rc dp_stage_check(const char *data_root, const char *path, bool clean, struct dp_err *err)
{
    const char *leaf;
    size_t bad = 0;
    struct stat sb;
    dp_rc rc = DP_OK;
    int root = open(data_root, DIR_FLAGS & ~O_NOFOLLOW), parent;

    if (root < 0)
        return dp_err_set(err, DP_EIO, "cannot open the data root %.200s: %s", data_root,
                          strerror(errno));
    parent = dp_stage_open_parent(root, path + (path[0] == '/'), false, &leaf, &bad);
    if (parent < 0 && errno != ENOENT)
        rc = conflict(err, path, bad + (path[0] == '/'), "is a file or a symlink, not a folder");
    if (parent >= 0 && fstatat(parent, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !clean &&
        !S_ISDIR(sb.st_mode))
        rc = conflict(err, path, strlen(path),
                      "exists and is not a folder; upload with clean=1 to replace it");
    if (parent >= 0)
        close(parent);
    close(root);
    return rc;
}

static bool exists_as_dir(int dirfd, const char *name, bool *exists)
{
    struct stat sb;

    *exists = fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
    return *exists && S_ISDIR(sb.st_mode);
}

/* Moves the entry name of src to dst, replacing whatever dst has under that name. */
static dp_rc merge_replace(int src, int dst, const char *name, bool src_dir, struct dp_err *err)
{
    bool exists;
    bool dst_dir = exists_as_dir(dst, name, &exists);

    if (exists && (dst_dir || src_dir)) {
        dp_rc rc = dp_stage_remove_tree(dst, name, err); /* a rename cannot swap kinds */

        if (rc)
            return rc;
    }
    if (renameat(src, name, dst, name) != 0)
        return io_err(err, "move into place", name);
    return DP_OK;
}

/* Moves the top level's entries into its dst; descends where both sides are directories. */
static dp_rc merge_step(struct walk *w, bool *pushed, struct dp_err *err)
{
    struct level *top = &w->v[w->n - 1];
    int src = dirfd(top->dir), dst = top->dst;
    struct dirent *d;

    *pushed = false;
    while ((d = readdir(top->dir)) != NULL) {
        bool exists, src_dir;
        int sub;
        dp_rc rc;

        if (is_dot(d->d_name))
            continue;
        src_dir = entry_is_dir(src, d);
        if (src_dir && exists_as_dir(dst, d->d_name, &exists)) {
            sub = openat(dst, d->d_name, DIR_FLAGS);
            if (sub < 0 || walk_push(w, src, d->d_name, sub) != 0) {
                if (sub >= 0)
                    close(sub);
                return io_err(err, "open", d->d_name);
            }
            *pushed = true;
            return DP_OK;
        }
        rc = merge_replace(src, dst, d->d_name, src_dir, err);
        if (rc)
            return rc;
    }
    return DP_OK;
}

static dp_rc merge_tree(struct dp_stage *st, int target, struct dp_err *err)
{
    struct walk w = {0};
    dp_rc rc = DP_OK;
    int dst = fcntl(target, F_DUPFD_CLOEXEC, 0);

    if (dst < 0 || walk_push(&w, st->parent_fd, st->name, dst) != 0) {
        rc = io_err(err, "open", st->name);
        if (dst >= 0)
            close(dst);
        walk_free(&w);
        return rc;
    }
    while (rc == DP_OK && w.n > 0) {
        bool pushed;
        char done[DP_PATH_SEG_MAX + 1];

        rc = merge_step(&w, &pushed, err);
        if (rc || pushed)
            continue;
        snprintf(done, sizeof(done), "%s", w.v[w.n - 1].name);
        walk_pop(&w);
        if (w.n > 0 && unlinkat(dirfd(w.v[w.n - 1].dir), done, AT_REMOVEDIR) != 0)
            rc = io_err(err, "remove the merged", done);
    }
    walk_free(&w);
    return rc;
}

/* renameat2(RENAME_NOREPLACE), with a check-then-rename where the file system lacks it. */
static int rename_noreplace(int sfd, const char *s, int dfd, const char *d)
{
    bool exists;

    if (renameat2(sfd, s, dfd, d, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    (void)exists_as_dir(dfd, d, &exists);
    if (exists) {
        errno = EEXIST;
        return -1;
    }
    return renameat(sfd, s, dfd, d);
}

/* clean: the staged tree takes the target's place in one rename; the old tree goes. */
static dp_rc commit_exchange(struct dp_stage *st, int parent, const char *leaf, struct dp_err *err)
{
    char old[sizeof(st->name) + 8];

    /* Once the new tree is in place the upload has succeeded: removing the old one is best
     * effort (dp_stage_close tries again, dp_stage_sweep at the next start). */
    if (renameat2(st->parent_fd, st->name, parent, leaf, RENAME_EXCHANGE) == 0) {
        (void)dp_stage_remove_tree(st->parent_fd, st->name, NULL); /* now the old tree */
        return DP_OK;
    }
    if (errno != EINVAL && errno != ENOSYS)
        return io_err(err, "replace", leaf);
    /* No RENAME_EXCHANGE on this file system: move the old tree aside first. */
    snprintf(old, sizeof(old), "%s-old", st->name);
    if (renameat(parent, leaf, st->parent_fd, old) != 0)
        return io_err(err, "move aside", leaf);
    if (renameat(st->parent_fd, st->name, parent, leaf) != 0) {
        dp_rc rc = io_err(err, "move into place", leaf);

        (void)renameat(st->parent_fd, old, parent, leaf); /* put the old one back */
        return rc;
    }
    st->name[0] = '\0';
    (void)dp_stage_remove_tree(st->parent_fd, old, NULL);
    return DP_OK;
}

static dp_rc commit_into(struct dp_stage *st, int parent, const char *leaf, bool clean,
                         struct dp_err *err)
{
    bool exists;
    int target;
    dp_rc rc;

    if (rename_noreplace(st->parent_fd, st->name, parent, leaf) == 0) {
        st->name[0] = '\0';
        return DP_OK;
    }
    if (errno != EEXIST && errno != ENOTEMPTY)
        return io_err(err, "move into place", leaf);
    if (clean)
        return commit_exchange(st, parent, leaf, err);
    if (!exists_as_dir(parent, leaf, &exists))
        return dp_err_setc(err, DP_ECONFLICT, "path_conflict",
                           "the target exists and is not a folder; use clean=1 to replace it");
    target = openat(parent, leaf, DIR_FLAGS);
    if (target < 0)
        return io_err(err, "open", leaf);
    rc = merge_tree(st, target, err);
    close(target);
    return rc;
}

dp_rc dp_stage_commit(struct dp_stage *st, const char *path, bool clean, struct dp_err *err)
{
    const char *rel = path + (path[0] == '/'), *leaf;
    size_t bad = 0;
    int parent;
    dp_rc rc;

    if (st->fd < 0 || !st->name[0])
        return dp_err_set(err, DP_EINTERNAL, "nothing staged to commit");
    close(st->fd); /* the tree is complete */
    st->fd = -1;
    parent = dp_stage_open_parent(st->root_fd, rel, true, &leaf, &bad);
    if (parent < 0)
        return errno == ENOTDIR || errno == ELOOP
                   ? conflict(err, path, bad + (rel - path), "is a file or a symlink, not a folder")
                   : io_err(err, "create the folders of", path);
    if (!*leaf)
        rc = dp_err_set(err, DP_EINVAL, "the target must not be the data root");
    else
        rc = commit_into(st, parent, leaf, clean, err);
    close(parent);
    return rc;
}

void dp_stage_close(struct dp_stage *st)
{
    if (st->fd >= 0)
        close(st->fd);
    if (st->parent_fd >= 0 && st->name[0])
        (void)dp_stage_remove_tree(st->parent_fd, st->name, NULL);
    if (st->parent_fd >= 0)
        close(st->parent_fd);
    if (st->root_fd >= 0)
        close(st->root_fd);
    free(st->path);
    memset(st, 0, sizeof(*st));
    st->root_fd = st->parent_fd = st->fd = -1;
}

dp_rc dp_stage_sweep(const char *data_root, struct dp_err *err)
{
    int root = open(data_root, DIR_FLAGS & ~O_NOFOLLOW);
    dp_rc rc;

    if (root < 0)
        return dp_err_set(err, DP_EIO, "cannot open the data root %.200s: %s", data_root,
                          strerror(errno));
    rc = dp_stage_remove_tree(root, DP_STAGING_DIR, err);
    close(root);
    return rc;
}

int dp_stage_open_dir(const char *data_root, const char *path, struct dp_err *err)
{
    const char *leaf = NULL;
    int root, parent, fd = -1, e;

    root = open(data_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        dp_err_set(err, DP_EIO, "cannot open the data root: %s", strerror(errno));
        return -1;
    }
    parent = dp_stage_open_parent(root, path, false, &leaf, NULL);
    if (parent >= 0 && *leaf)
        fd = openat(parent, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    e = errno;
    if (parent >= 0)
        close(parent);
    close(root);
    if (fd >= 0)
        return fd;
    if (e == ENOENT)
        dp_err_setc(err, DP_ENOTFOUND, "path_not_found",
                    "nothing at '%s' on this server; upload or clone it first", path);
    else
        dp_err_setc(err, DP_EINVAL, "invalid_path",
                    "'%s' is not a folder (a file or a symlink is in the way)", path);
    return -1;
}
