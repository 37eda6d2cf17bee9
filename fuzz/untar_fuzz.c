/* Feeds the input as a tar upload into a temporary data root, in uneven pieces, and checks
 * what must hold whatever the bytes: nothing lands beside the data root, no staging is left,
 * and a refused upload leaves no target. Half the runs merge into a target that already holds
 * a file, a folder and a symlink pointing outside the root. */
#include "fuzz.h"

#include "dp_stage.h"
#include "dp_untar.h"

#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_BYTES   (1UL * 1024 * 1024) /* unpacked, so gzip bombs stay small */
#define FUZZ_MAX_ENTRIES 256

static char outer[64];   /* holds only the data root */
static char root[80];    /* the data root */
static char staging[96]; /* its .staging */
static int root_fd = -1;

struct mem {
    const uint8_t *p;
    size_t len, pos;
};

static long mem_read(void *ud, void *buf, size_t size)
{
    struct mem *m = ud;
    size_t n = 1 + (m->pos * 7 + m->len) % 1500; /* uneven, like a socket */

    if (n > size)
        n = size;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (long)n;
}

static void remove_outer(void)
{
    (void)dp_stage_remove_tree(AT_FDCWD, outer, NULL);
}

static void setup(void)
{
    if (root_fd >= 0)
        return;
    setlocale(LC_ALL, "C.UTF-8");
    snprintf(outer, sizeof(outer), "/tmp/dp-untar-fuzz-XXXXXX");
    if (!mkdtemp(outer))
        abort();
    snprintf(root, sizeof(root), "%s/root", outer);
    snprintf(staging, sizeof(staging), "%s/%s", root, DP_STAGING_DIR);
    if (mkdir(root, 0750) != 0)
        abort();
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        abort();
    atexit(remove_outer);
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void existing_target(void)
{
    int fd;

    if (mkdirat(root_fd, "app", 0755) != 0 || mkdirat(root_fd, "app/fuzz", 0755) != 0 ||
        mkdirat(root_fd, "app/fuzz/d", 0755) != 0 || symlinkat(outer, root_fd, "app/fuzz/s") != 0)
        abort();
    fd = openat(root_fd, "app/fuzz/f", O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m = {data, size, 0};
    bool merge = size > 0 && (data[size - 1] & 1);
    struct dp_untar_opts o = {.data_root = root,
                              .path = "/app/fuzz",
                              .clean = size % 3 == 0,
                              .read = mem_read,
                              .read_ud = &m,
                              .max_bytes = FUZZ_MAX_BYTES,
                              .max_entries = FUZZ_MAX_ENTRIES,
                              .max_body = 4 * FUZZ_MAX_BYTES};
    struct dp_untar_result res;
    struct dp_err err = {0};
    struct stat sb;
    dp_rc rc;

    setup();
    if (merge)
        existing_target();
    rc = dp_untar(&res, &o, &err);
    if (entries(outer) != 1)
        abort(); /* something landed beside the data root */
    if (entries(staging) > 0)
        abort(); /* a staging folder was left behind */
    if (rc != DP_OK && !merge && fstatat(root_fd, "app/fuzz", &sb, AT_SYMLINK_NOFOLLOW) == 0)
        abort(); /* a refused upload left a target */
    if (rc != DP_OK && merge &&
        (fstatat(root_fd, "app/fuzz/f", &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
         fstatat(root_fd, "app/fuzz/s", &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(sb.st_mode)))
        abort(); /* a refused upload changed the target */
    (void)dp_stage_remove_tree(root_fd, "app", NULL);
    return 0;
}
