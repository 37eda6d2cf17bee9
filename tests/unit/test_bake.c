/* dp_bake_finalize: what it removes (cloud-init's instance state, then the bake key), what it
 * leaves (the seed, the scripts, anything a symlink points to), and its refusals. */
#include "dp_bake.h"
#include "th.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/dp-test-bake.XXXXXX";

static void path_of(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", dir, rel);
}

static void make_dir(const char *rel)
{
    char p[512];

    path_of(p, sizeof(p), rel);
    TH_CHECK(mkdir(p, 0755) == 0);
}

static void make_file(const char *rel)
{
    char p[512];
    int fd;

    path_of(p, sizeof(p), rel);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    TH_CHECK(fd >= 0 && write(fd, "x\n", 2) == 2);
    if (fd >= 0)
        close(fd);
}

static bool exists(const char *rel)
{
    char p[512];
    struct stat st;

    path_of(p, sizeof(p), rel);
    return lstat(p, &st) == 0;
}

static void removes_state_then_key(void)
{
    char cloud[512], key[512], target[512];
    struct dp_bake_result res;
    struct dp_err err = {0};

    make_dir("outside");
    make_file("outside/keep");
    make_dir("cloud");
    make_dir("cloud/instances");
    make_dir("cloud/instances/i-1");
    make_file("cloud/instances/i-1/user-data.txt");
    make_dir("cloud/data");
    make_file("cloud/data/instance-id");
    make_file("cloud/sem"); /* a file where a folder usually is: removed all the same */
    make_dir("cloud/seed");
    make_dir("cloud/scripts");
    make_file("bake-key");
    path_of(target, sizeof(target), "outside");
    path_of(cloud, sizeof(cloud), "cloud/instance");
    TH_CHECK(symlink(target, cloud) == 0);
    path_of(cloud, sizeof(cloud), "cloud/instances/i-1/link");
    TH_CHECK(symlink(target, cloud) == 0);
    path_of(cloud, sizeof(cloud), "cloud");
    path_of(key, sizeof(key), "bake-key");

    TH_EQ_INT(dp_bake_finalize(&res, key, cloud, &err), DP_OK);
    TH_EQ_INT(res.nremoved, 5);
    TH_CHECK(strstr(res.removed[0], "/cloud/instances") != NULL);
    TH_CHECK(strstr(res.removed[1], "/cloud/instance") != NULL);
    TH_CHECK(strstr(res.removed[2], "/cloud/data") != NULL);
    TH_CHECK(strstr(res.removed[3], "/cloud/sem") != NULL);
    TH_EQ_STR(res.removed[4], key);
    TH_CHECK(!exists("cloud/instances") && !exists("cloud/instance") && !exists("cloud/data"));
    TH_CHECK(!exists("cloud/sem") && !exists("bake-key"));
    TH_CHECK(exists("cloud/seed") && exists("cloud/scripts") && exists("outside/keep"));

    /* Again: nothing left to remove is fine, and nothing is listed. */
    TH_EQ_INT(dp_bake_finalize(&res, key, cloud, &err), DP_OK);
    TH_EQ_INT(res.nremoved, 0);
}

static void missing_cloud_dir_and_refusals(void)
{
    char cloud[512], key[512];
    struct dp_bake_result res;
    struct dp_err err = {0};

    path_of(cloud, sizeof(cloud), "no-such-cloud");
    path_of(key, sizeof(key), "key2");
    make_file("key2");
    TH_EQ_INT(dp_bake_finalize(&res, key, cloud, &err), DP_OK);
    TH_EQ_INT(res.nremoved, 1);
    TH_CHECK(!exists("key2"));
    TH_EQ_INT(dp_bake_finalize(&res, "bake-key", cloud, &err), DP_EINVAL);
    TH_EQ_INT(dp_bake_finalize(&res, key, "var/lib/cloud", &err), DP_EINVAL);
    TH_EQ_INT(dp_bake_finalize(&res, NULL, cloud, &err), DP_EINVAL);
}

static void unremovable_key_is_an_error(void)
{
    char cloud[512], key[512];
    struct dp_bake_result res;
    struct dp_err err = {0};

    /* A folder where the key file should be: unlink fails, the error names the file. */
    make_dir("key-dir");
    make_file("key-dir/x");
    path_of(cloud, sizeof(cloud), "no-such-cloud");
    path_of(key, sizeof(key), "key-dir");
    TH_EQ_INT(dp_bake_finalize(&res, key, cloud, &err), DP_EIO);
    TH_CHECK(strstr(err.msg, "bake key file") != NULL);
    TH_CHECK(exists("key-dir/x"));
}

int main(void)
{
    char cmd[600];

    if (!mkdtemp(dir))
        return 1;
    TH_RUN(removes_state_then_key);
    TH_RUN(missing_cloud_dir_and_refusals);
    TH_RUN(unremovable_key_is_an_error);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TH_EXIT();
}
