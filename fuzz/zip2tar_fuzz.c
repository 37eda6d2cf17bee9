/* An upload through the controller's converter: the input is written to a temp file and read
 * as a zip (or as a tar when it looks like one), converted into a temp tar, and both are
 * deleted. What must hold whatever the bytes: a tar that came out is one the agent's own
 * dp_untar accepts (the converter's rules are the agent's, never looser), and the single-top
 * scan never fails. */
#include "fuzz.h"

#include "dp_stage.h"
#include "dp_untar.h"
#include "dp_zip2tar.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_BYTES   (1UL * 1024 * 1024) /* unpacked, so bombs stay small */
#define FUZZ_MAX_ENTRIES 256

static char dir[64]; /* holds the input, the output and the agent's data root */
static char in_path[96];
static char out_path[96];
static char root[96];

static void remove_dir(void)
{
    (void)dp_stage_remove_tree(AT_FDCWD, dir, NULL);
}

static void setup(void)
{
    if (dir[0])
        return;
    snprintf(dir, sizeof(dir), "/tmp/dp-zip2tar-fuzz-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(in_path, sizeof(in_path), "%s/in", dir);
    snprintf(out_path, sizeof(out_path), "%s/out.tar", dir);
    snprintf(root, sizeof(root), "%s/root", dir);
    if (mkdir(root, 0700) != 0)
        abort();
    atexit(remove_dir);
}

static long fd_read(void *ud, void *buf, size_t size)
{
    return (long)read(*(int *)ud, buf, size);
}

/* The agent must take whatever the converter wrote. */
static void agent_takes(void)
{
    int fd = open(out_path, O_RDONLY | O_CLOEXEC);
    struct dp_untar_opts o = {
        .data_root = root, .path = "/app/fuzz", .clean = true, .read = fd_read, .read_ud = &fd};
    struct dp_untar_result r;
    struct dp_err err = {0};

    if (fd < 0)
        abort();
    if (dp_untar(&r, &o, &err) != DP_OK) {
        fprintf(stderr, "agent refused the converted tar: [%s] %s\n", err.code, err.msg);
        abort();
    }
    close(fd);
    (void)dp_stage_remove_tree(AT_FDCWD, root, NULL);
    if (mkdir(root, 0700) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dp_zip2tar_opts o = {
        .zip_path = in_path, .max_bytes = FUZZ_MAX_BYTES, .max_entries = FUZZ_MAX_ENTRIES};
    struct dp_zip2tar_result r;
    char top[DP_ZIP_TOP_MAX + 1];
    int fd;
    dp_rc rc;

    setup();
    o.input_tar = (size > 2 && data[0] == 0x1f && data[1] == 0x8b) ||
                  (size > 262 && memcmp(data + 257, "ustar", 5) == 0);
    fd = open(in_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    if (dp_zip2tar_top(top, sizeof(top), &o, NULL) != DP_OK)
        abort();
    o.strip = top[0] ? top : NULL;
    fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    o.out_fd = fd;
    rc = dp_zip2tar(&r, &o, NULL);
    close(fd);
    if (rc == DP_OK)
        agent_takes();
    if (rc == DP_EINTERNAL)
        abort();
    unlink(in_path);
    unlink(out_path);
    return 0;
}
