#include "dosim_tree.h"

#include "dosim_limits.h"

#include "dp_stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BLOCK (64 * 1024)

dp_rc dosim_tree_rel(char *out, size_t size, const char *guest_path, struct dp_err *err)
{
    size_t n = 0;
    const char *p = guest_path;

    if (!guest_path || strlen(guest_path) >= size || strlen(guest_path) > DOSIM_PATH_MAX)
        return dp_err_set(err, DP_EINVAL, "path is missing or too long");
    while (*p) {
        size_t len = strcspn(p, "/");

        if (len == 2 && strncmp(p, "..", 2) == 0)
            return dp_err_set(err, DP_EINVAL, "path '%.200s' climbs with '..'", guest_path);
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return dp_err_set(err, DP_EINVAL, "path has control characters");
        }
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
        while (*p == '/')
            p++;
    }
    out[n] = '\0';
    return DP_OK;
}

static dp_rc io_fail(struct dp_err *err, const char *what, const char *rel)
{
    return dp_err_set(err, DP_EIO, "cannot %s /%.200s: %s", what, rel, strerror(errno));
}

dp_rc dosim_tree_mkdirs(int root_fd, const char *rel, struct dp_err *err)
{
    char path[DOSIM_PATH_MAX + 4];
    const char *leaf;
    int fd;

    if (!*rel)
        return DP_OK;
    snprintf(path, sizeof(path), "%s/.", rel); /* the leaf "." makes rel itself a parent */
    fd = dp_stage_open_parent(root_fd, path, true, &leaf, NULL);
    if (fd < 0)
        return io_fail(err, "make folder", rel);
    close(fd);
    return DP_OK;
}

static dp_rc write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DP_EIO;
        p += w;
        len -= (size_t)w;
    }
    return DP_OK;
}

static dp_rc write_append(int parent, const char *leaf, const char *rel, const void *data,
                          size_t len, mode_t mode, struct dp_err *err)
{
    int fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, mode);
    dp_rc rc;

    if (fd < 0)
        return io_fail(err, "open", rel);
    rc = write_all(fd, data, len);
    if (!rc && fchmod(fd, mode) != 0)
        rc = DP_EIO;
    close(fd);
    return rc ? io_fail(err, "write", rel) : DP_OK;
}

static dp_rc write_replace(int parent, const char *leaf, const char *rel, const void *data,
                           size_t len, mode_t mode, struct dp_err *err)
{
    char tmp[NAME_MAX + 16];
    int fd;
    dp_rc rc;

    snprintf(tmp, sizeof(tmp), ".%.200s.dosim-%ld", leaf, (long)getpid());
    unlinkat(parent, tmp, 0);
    fd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(err, "create", rel);
    rc = write_all(fd, data, len);
    if (!rc && fchmod(fd, mode) != 0)
        rc = DP_EIO;
    close(fd);
    if (!rc && renameat(parent, tmp, parent, leaf) != 0)
        rc = DP_EIO;
    if (rc) {
        unlinkat(parent, tmp, 0);
        return io_fail(err, "write", rel);
    }
    return DP_OK;
}

dp_rc dosim_tree_write(int root_fd, const char *rel, const void *data, size_t len, mode_t mode,
                       bool append, struct dp_err *err)
{
    const char *leaf;
    int parent;
    dp_rc rc;

    if (!*rel)
        return dp_err_set(err, DP_EINVAL, "cannot write a file at /");
    parent = dp_stage_open_parent(root_fd, rel, true, &leaf, NULL);
    if (parent < 0)
        return io_fail(err, "make the folders of", rel);
    if (append)
        rc = write_append(parent, leaf, rel, data, len, mode & 07777, err);
    else
        rc = write_replace(parent, leaf, rel, data, len, mode & 07777, err);
    close(parent);
    return rc;
}

int dosim_tree_open_read(int root_fd, const char *rel)
{
    const char *leaf;
    int parent = dp_stage_open_parent(root_fd, rel, false, &leaf, NULL);
    int fd;

    if (parent < 0)
        return -1;
    fd = openat(parent, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(parent);
    return fd;
}

struct copy {
    unsigned long long bytes;
    struct dp_err *err;
};

static dp_rc copy_dir(struct copy *c, int src, int dst, int depth);

static dp_rc copy_file(struct copy *c, int src_dir, int dst_dir, const char *name, mode_t mode)
{
    char buf[COPY_BLOCK];
    int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = -1;
    ssize_t n = 0;
    dp_rc rc = DP_OK;

    if (in >= 0)
        out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     mode & 01777);
    if (in < 0 || out < 0)
        rc = dp_err_set(c->err, DP_EIO, "cannot copy '%.200s': %s", name, strerror(errno));
    while (!rc && (n = read(in, buf, sizeof(buf))) > 0) {
        rc = write_all(out, buf, (size_t)n);
        c->bytes += (unsigned long long)n;
    }
    if (!rc && n < 0)
        rc = dp_err_set(c->err, DP_EIO, "cannot read '%.200s': %s", name, strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static dp_rc copy_link(struct copy *c, int src_dir, int dst_dir, const char *name)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);

    if (n < 0)
        return dp_err_set(c->err, DP_EIO, "cannot read link '%.200s'", name);
    target[n] = '\0';
    if (symlinkat(target, dst_dir, name) != 0)
        return dp_err_set(c->err, DP_EIO, "cannot copy link '%.200s'", name);
    return DP_OK;
}

static dp_rc copy_subdir(struct copy *c, int src_dir, int dst_dir, const char *name, int depth)
{
    int s = -1, d = -1;
    dp_rc rc;

    if (mkdirat(dst_dir, name, 0755) != 0)
        return dp_err_set(c->err, DP_EIO, "cannot make folder '%.200s'", name);
    s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    d = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0 || d < 0)
        rc = dp_err_set(c->err, DP_EIO, "cannot open folder '%.200s'", name);
    else
        rc = copy_dir(c, s, d, depth + 1);
    if (s >= 0)
        close(s);
    if (d >= 0)
        close(d);
    return rc;
}

static dp_rc copy_entry(struct copy *c, int src, int dst, const char *name, int depth)
{
    struct stat st;

    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return DP_OK; /* gone meanwhile (a live snapshot) */
    if (S_ISDIR(st.st_mode))
        return copy_subdir(c, src, dst, name, depth);
    if (S_ISREG(st.st_mode))
        return copy_file(c, src, dst, name, st.st_mode);
    if (S_ISLNK(st.st_mode))
        return copy_link(c, src, dst, name);
    return DP_OK; /* sockets, fifos, devices: not part of a disk image here */
}

static dp_rc copy_dir(struct copy *c, int src, int dst, int depth)
{
    int fd;
    DIR *dir;
    struct dirent *e;
    dp_rc rc = DP_OK;

    if (depth > DOSIM_TREE_DEPTH)
        return dp_err_set(c->err, DP_ETOOBIG, "folders nested deeper than %d", DOSIM_TREE_DEPTH);
    fd = dup(src);
    dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return dp_err_set(c->err, DP_EIO, "cannot list a folder: %s", strerror(errno));
    }
    while (!rc && (e = readdir(dir))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = copy_entry(c, src, dst, e->d_name, depth);
    }
    closedir(dir);
    return rc;
}

dp_rc dosim_tree_copy(const char *src, const char *dst, unsigned long long *bytes,
                      struct dp_err *err)
{
    struct copy c = {.err = err};
    int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int d = -1;
    dp_rc rc;

    *bytes = 0;
    if (s < 0)
        return dp_err_set(err, DP_EIO, "cannot open %s: %s", src, strerror(errno));
    if (mkdir(dst, 0755) == 0)
        d = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
        rc = dp_err_set(err, DP_EIO, "cannot make %s: %s", dst, strerror(errno));
    else
        rc = copy_dir(&c, s, d, 0);
    close(s);
    if (d >= 0)
        close(d);
    if (rc)
        dosim_tree_remove(dst, NULL);
    *bytes = c.bytes;
    return rc;
}

dp_rc dosim_tree_remove(const char *path, struct dp_err *err)
{
    char parent[DOSIM_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;
    dp_rc rc;

    if (!slash || slash == path || (size_t)(slash - path) >= sizeof(parent))
        return dp_err_set(err, DP_EINVAL, "refusing to remove '%s'", path);
    memcpy(parent, path, (size_t)(slash - path));
    parent[slash - path] = '\0';
    fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? DP_OK : dp_err_set(err, DP_EIO, "cannot open %s", parent);
    rc = dp_stage_remove_tree(fd, slash + 1, err);
    close(fd);
    return rc;
}

dp_rc dosim_mkdirs_abs(const char *path, mode_t mode, struct dp_err *err)
{
    char buf[DOSIM_PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf) || path[0] != '/')
        return dp_err_set(err, DP_EINVAL, "bad folder path '%.200s'", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return dp_err_set(err, DP_EIO, "cannot make %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return dp_err_set(err, DP_EIO, "cannot make %s: %s", buf, strerror(errno));
    return DP_OK;
}
