#include "dp_bake.h"

#include "dp_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void note(struct dp_bake_result *out, const char *dir, const char *name)
{
    if (out->nremoved < DP_BAKE_REMOVED_MAX)
        snprintf(out->removed[out->nremoved++], DP_BAKE_PATH_MAX, "%s%s%s", dir,
                 name && dir[strlen(dir) - 1] != '/' ? "/" : "", name ? name : "");
}

static dp_rc clean_cloud_dir(struct dp_bake_result *out, const char *cloud_dir, struct dp_err *err)
{
    static const char *const entries[] = DP_BAKE_CLOUD_ENTRIES;
    int fd = open(cloud_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dp_rc rc = DP_OK;

    if (fd < 0)
        return errno == ENOENT ? DP_OK
                               : dp_err_set(err, DP_EIO, "cannot open cloud dir %s: %s", cloud_dir,
                                            strerror(errno));
    for (size_t i = 0; rc == DP_OK && i < sizeof(entries) / sizeof(entries[0]); i++) {
        struct stat st;

        if (fstatat(fd, entries[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rc = dp_err_set(err, DP_EIO, "cannot inspect %s/%s: %s", cloud_dir, entries[i],
                                strerror(errno));
            continue;
        }
        rc = dp_stage_remove_tree(fd, entries[i], err);
        if (rc == DP_OK)
            note(out, cloud_dir, entries[i]);
    }
    close(fd);
    return rc;
}

dp_rc dp_bake_finalize(struct dp_bake_result *out, const char *bake_key_file, const char *cloud_dir,
                       struct dp_err *err)
{
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    if (!bake_key_file || bake_key_file[0] != '/' || !cloud_dir || cloud_dir[0] != '/')
        return dp_err_set(err, DP_EINVAL, "the bake key file and cloud dir must be absolute");
    rc = clean_cloud_dir(out, cloud_dir, err);
    if (rc)
        return rc;
    if (unlink(bake_key_file) == 0)
        note(out, bake_key_file, NULL);
    else if (errno != ENOENT)
        return dp_err_set(err, DP_EIO, "cannot remove the bake key file %s: %s", bake_key_file,
                          strerror(errno));
    return DP_OK;
}
