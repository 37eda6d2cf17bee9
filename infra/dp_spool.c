/* Claiming the spool folder: lock, then sweep leftovers of a crashed run. */
#include "dp_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".controller.lock"

/* Only names our writers make (mkstemp templates in dp_code, dp_multipart, the intake). */
static int ours(const char *name)
{
    return strncmp(name, "dp-code-", 8) == 0 || strncmp(name, "dp-upload-", 10) == 0;
}

static int sweep(int dfd)
{
    DIR *d = fdopendir(dup(dfd));
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (ours(e->d_name) && unlinkat(dfd, e->d_name, 0) == 0)
            n++;
    closedir(d);
    return n;
}

dp_rc dp_spool_claim(const char *dir, int *lock_fd, int *removed, struct dp_err *err)
{
    int dfd, lfd;

    *lock_fd = -1;
    *removed = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return dp_err_set(err, DP_EIO, "cannot make the spool folder %.200s: %s", dir,
                          strerror(errno));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return dp_err_set(err, DP_EIO, "cannot open the spool folder %.200s: %s", dir,
                          strerror(errno));
    lfd = openat(dfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        if (lfd >= 0)
            close(lfd);
        close(dfd);
        return e == EWOULDBLOCK
                   ? dp_err_set(err, DP_ECONFLICT,
                                "the spool folder %.200s is in use by another controller; give "
                                "each controller its own --spool-dir",
                                dir)
                   : dp_err_set(err, DP_EIO, "cannot lock the spool folder %.200s: %s", dir,
                                strerror(e));
    }
    *removed = sweep(dfd);
    close(dfd);
    *lock_fd = lfd;
    return DP_OK;
}
