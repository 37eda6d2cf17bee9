/* zip2tar IN.zip OUT.tar: the controller's converter as a command, for tests and benchmarks. */
#include "dp_zip2tar.h"

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct dp_zip2tar_opts o = {0};
    struct dp_zip2tar_result r;
    struct dp_err err = {0};
    int fd;
    dp_rc rc;

    setlocale(LC_ALL, "C.UTF-8"); /* libarchive converts UTF-8 names through the locale */
    if (argc != 3) {
        fprintf(stderr, "usage: zip2tar IN.zip OUT.tar\n");
        return 2;
    }
    fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(argv[2]);
        return 1;
    }
    o.zip_path = argv[1];
    o.out_fd = fd;
    rc = dp_zip2tar(&r, &o, &err);
    close(fd);
    if (rc) {
        fprintf(stderr, "zip2tar: [%s] %s\n", err.code, err.msg);
        unlink(argv[2]); /* nothing half-written */
        return 1;
    }
    printf("files=%llu dirs=%llu bytes=%llu\n", r.files, r.dirs, r.bytes);
    return 0;
}
