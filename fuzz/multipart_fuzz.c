/* A multipart body through dp_multipart_read: the input is "<Content-Type>\n<body>", fed in
 * uneven pieces. Whatever the bytes: a failure leaves no file and no fields, a success leaves
 * exactly the one spooled file (mode 0600, as long as it says) and a JSON object. */
#include "fuzz.h"

#include "dp_multipart.h"
#include "dp_stage.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_FILE (256UL * 1024) /* the file part, bytes */
#define CT_MAX        256            /* the Content-Type line, bytes */

static char spool[64];

struct mem {
    const uint8_t *p;
    size_t len, pos;
};

static long mem_read(void *ud, void *buf, size_t size)
{
    struct mem *m = ud;
    size_t n = 1 + (m->pos * 13 + m->len) % 700; /* uneven, like a socket */

    if (n > size)
        n = size;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (long)n;
}

static void remove_spool(void)
{
    (void)dp_stage_remove_tree(AT_FDCWD, spool, NULL);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < CT_MAX ? size : CT_MAX);
    char ct[CT_MAX + 1];
    struct mem m;
    struct dp_multipart_opts o = {.content_type = ct,
                                  .read = mem_read,
                                  .read_ud = &m,
                                  .spool_dir = spool,
                                  .max_file = FUZZ_MAX_FILE};
    struct dp_multipart_result res;
    struct stat sb;
    dp_rc rc;

    if (!spool[0]) {
        snprintf(spool, sizeof(spool), "/tmp/dp-multipart-fuzz-XXXXXX");
        if (!mkdtemp(spool))
            abort();
        atexit(remove_spool);
    }
    if (!nl)
        return 0;
    memcpy(ct, data, (size_t)(nl - data));
    ct[nl - data] = '\0';
    m = (struct mem){nl + 1, size - (size_t)(nl - data) - 1, 0};
    o.file_field = size % 2 ? "code" : NULL;
    rc = dp_multipart_read(&res, &o, NULL);
    if (rc != DP_OK && (entries(spool) != 0 || res.fields || res.file_path[0]))
        abort(); /* a failure left something behind */
    if (rc == DP_OK && !json_is_object(res.fields))
        abort();
    if (rc == DP_OK && res.file_path[0] &&
        (stat(res.file_path, &sb) != 0 || (sb.st_mode & 0777) != 0600 ||
         (unsigned long long)sb.st_size != res.file_bytes || res.file_bytes > FUZZ_MAX_FILE))
        abort();
    if (rc == DP_OK && entries(spool) != (res.file_path[0] ? 1 : 0))
        abort();
    if (res.received > m.len)
        abort();
    dp_multipart_result_clear(&res);
    return 0;
}
