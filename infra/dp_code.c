#include "dp_code.h"

#include "dp_json.h"
#include "dp_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNIFF_BYTES  262                     /* "ustar" sits at 257 */
#define B64_OUT      (48UL * 1024)           /* decoded bytes written at once */
#define B64_TEXT_MAX (4 * DP_CODE_MAX_BYTES) /* a base64 field, bytes (whitespace included) */
#define TEMP_NAME    "/dp-code-XXXXXX"

struct intake {
    const struct dp_code_opts *o;
    struct dp_code_result *res;
    struct dp_dockerfile_scan scan;
    struct dp_buf generated;
    unsigned long long max_code;
    char decoded[PATH_MAX]; /* the decoded base64, removed at the end */
    const char *in_path;    /* the archive read */
    bool zip;
};

/* ---- temp files ---- */

/* Creates <spool_dir>/dp-code-XXXXXX<suffix>, mode 0600; the fd is the caller's. */
static int temp_create(char *path, size_t size, const char *dir, const char *suffix,
                       struct dp_err *err)
{
    int n = snprintf(path, size, "%s" TEMP_NAME "%s", dir ? dir : "", suffix);
    int fd;

    if (!dir || !dir[0] || n < 0 || (size_t)n >= size) {
        path[0] = '\0';
        dp_err_set(err, DP_EINVAL, "the spool folder is missing or its path is too long");
        return -1;
    }
    fd = mkostemps(path, (int)strlen(suffix), O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        dp_err_set(err, DP_EIO, "cannot create a temp file in %s: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        path[0] = '\0';
        return -1;
    }
    return fd;
}

static dp_rc write_all(int fd, const void *p, size_t n, struct dp_err *err)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return dp_err_set(err, DP_EIO, "cannot write the code to disk: %s",
                              w < 0 ? strerror(errno) : "short write");
        c += w;
        n -= (size_t)w;
    }
    return DP_OK;
}

/* ---- base64, decoded in pieces ---- */

enum { B64_SPACE = -2, B64_PAD = -3, B64_BAD = -1 };

/* Standard and URL-safe alphabets alike; whitespace (line breaks of `base64`) is skipped. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
        return B64_SPACE;
    return c == '=' ? B64_PAD : B64_BAD;
}

struct b64 {
    uint32_t acc;
    unsigned have, pad;
    unsigned char out[B64_OUT];
    size_t len;
    unsigned long long total;
};

static dp_rc b64_flush(struct b64 *d, int fd, struct dp_err *err)
{
    dp_rc rc = write_all(fd, d->out, d->len, err);

    d->len = 0;
    return rc;
}

static dp_rc b64_emit(struct intake *in, struct b64 *d, unsigned bytes, int fd, struct dp_err *err)
{
    static const unsigned shift[] = {16, 8, 0};

    dp_rc rc = d->len + 3 > sizeof(d->out) ? b64_flush(d, fd, err) : DP_OK;

    if (rc)
        return rc;
    for (unsigned i = 0; i < bytes; i++)
        d->out[d->len++] = (unsigned char)(d->acc >> shift[i]);
    d->total += bytes;
    if (d->total > in->max_code)
        return dp_err_setc(err, DP_ETOOBIG, "code_too_large", "the code is larger than %llu bytes",
                           in->max_code);
    return DP_OK;
}

static dp_rc b64_bad(size_t at, unsigned char c, const char *why, struct dp_err *err)
{
    char q[16];

    dp_path_quote(q, sizeof(q), (const char *)&c, 1, 1);
    return dp_err_setc(err, DP_EINVAL, "invalid_base64", "the code's base64 %s at byte %zu ('%s')",
                       why, at, q);
}

static dp_rc b64_step(struct intake *in, struct b64 *d, const unsigned char *s, size_t i, int fd,
                      struct dp_err *err)
{
    int v = b64_value(s[i]);

    if (v == B64_SPACE)
        return DP_OK;
    if (v == B64_BAD)
        return b64_bad(i, s[i], "has a character outside the alphabet", err);
    if (v == B64_PAD) {
        if (d->have < 2 || d->have + ++d->pad > 4)
            return b64_bad(i, s[i], "has '=' in the wrong place", err);
        return DP_OK;
    }
    if (d->pad)
        return b64_bad(i, s[i], "goes on after its '=' padding", err);
    d->acc = (d->acc << 6) | (uint32_t)v;
    if (++d->have < 4)
        return DP_OK;
    d->have = 0;
    return b64_emit(in, d, 3, fd, err);
}

/* The last 2 or 3 characters of a group without padding ("QQ", "QUI") are accepted. */
static dp_rc b64_end(struct intake *in, struct b64 *d, size_t len, int fd, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    if (d->have == 1)
        return dp_err_setc(err, DP_EINVAL, "invalid_base64",
                           "the code's base64 ends in the middle of a byte (at byte %zu)", len);
    if (d->have == 2) {
        d->acc <<= 12;
        rc = b64_emit(in, d, 1, fd, err);
    } else if (d->have == 3) {
        d->acc <<= 6;
        rc = b64_emit(in, d, 2, fd, err);
    }
    return rc ? rc : b64_flush(d, fd, err);
}

static dp_rc b64_decode(struct intake *in, struct dp_err *err)
{
    const unsigned char *s = (const unsigned char *)in->o->b64;
    struct b64 *d = calloc(1, sizeof(*d));
    dp_rc rc = DP_OK;
    int fd;

    if (!d)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    fd = temp_create(in->decoded, sizeof(in->decoded), in->o->spool_dir, "", err);
    if (fd < 0)
        rc = err ? err->rc : DP_EIO;
    for (size_t i = 0; !rc && i < in->o->b64_len; i++)
        rc = b64_step(in, d, s, i, fd, err);
    if (!rc)
        rc = b64_end(in, d, in->o->b64_len, fd, err);
    if (fd >= 0)
        close(fd);
    free(d);
    in->in_path = in->decoded;
    return rc;
}

/* ---- what the archive is ---- */

static dp_rc sniff(struct intake *in, struct dp_err *err)
{
    unsigned char h[SNIFF_BYTES] = {0};
    struct stat sb = {0};
    ssize_t n = -1;
    int fd = open(in->in_path, O_RDONLY | O_CLOEXEC);

    if (fd >= 0 && fstat(fd, &sb) == 0)
        n = S_ISREG(sb.st_mode) ? pread(fd, h, sizeof(h), 0) : (errno = EINVAL, -1);
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return dp_err_set(err, DP_EIO, "cannot read the spooled code: %s", strerror(errno));
    in->res->code_size = (unsigned long long)sb.st_size;
    if (sb.st_size == 0)
        return dp_err_setc(err, DP_EINVAL, "no_code", "the code is empty");
    if (in->res->code_size > in->max_code)
        return dp_err_setc(err, DP_ETOOBIG, "code_too_large", "the code is larger than %llu bytes",
                           in->max_code);
    /* PK\3\4 a member, PK\5\6 an empty zip, PK\7\8 a spanned one */
    in->zip = n >= 4 && h[0] == 'P' && h[1] == 'K' && (h[2] == 3 || h[2] == 5 || h[2] == 7) &&
              h[3] == h[2] + 1;
    if (in->zip && h[2] == 5)
        return dp_err_setc(err, DP_EINVAL, "no_code", "the zip is empty");
    if (in->zip)
        snprintf(in->res->format, sizeof(in->res->format), "zip");
    else if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        snprintf(in->res->format, sizeof(in->res->format), "tar.gz");
    else if (n >= 262 && memcmp(h + 257, "ustar", 5) == 0)
        snprintf(in->res->format, sizeof(in->res->format), "tar");
    else
        return dp_err_setc(err, DP_EINVAL, in->o->b64_zip ? "invalid_zip" : "invalid_tar",
                           "the code is not a zip, tar or tar.gz");
    return DP_OK;
}

/* ---- the conversion's hooks: detection, and the Dockerfile at the end ---- */

static bool hook_member(void *ud, const char *name, unsigned type, unsigned long long size)
{
    struct intake *in = ud;

    return dp_dockerfile_scan_member(&in->scan, name, type, size);
}

static void hook_data(void *ud, const void *p, size_t n)
{
    struct intake *in = ud;

    dp_dockerfile_scan_data(&in->scan, p, n);
}

static dp_rc hook_finish(void *ud, struct dp_zip2tar_extra *extra, struct dp_err *err)
{
    struct intake *in = ud;
    struct dp_dockerfile_opts go = {in->o->bases, in->o->port};
    char q[DP_UPLOAD_MAX_NAME * 4 + 8];
    dp_rc rc;

    in->res->runtime = dp_dockerfile_detect(&in->scan);
    if (in->res->runtime == DP_RUNTIME_DOCKERFILE) {
        snprintf(in->res->dockerfile, sizeof(in->res->dockerfile), "%s", in->scan.dockerfile);
        return DP_OK;
    }
    if (in->scan.dockerfile_named) {
        dp_path_quote(q, sizeof(q), in->scan.dockerfile, strlen(in->scan.dockerfile), 100);
        return dp_err_setc(err, DP_EINVAL, "dockerfile_not_found",
                           "the code has no file '%s' (the deploy's dockerfile field)", q);
    }
    rc = dp_dockerfile_generate(&in->generated, in->res->runtime, &in->scan, &go, err);
    if (rc)
        return rc;
    extra->name = DP_DOCKERFILE_DEFAULT;
    extra->data = in->generated.data;
    extra->len = in->generated.len;
    in->res->generated = true;
    snprintf(in->res->dockerfile, sizeof(in->res->dockerfile), "%s", DP_DOCKERFILE_DEFAULT);
    return DP_OK;
}

/* The single top folder to strip, unless the dockerfile field names a path through it. */
static dp_rc find_top(struct intake *in, const struct dp_zip2tar_opts *zo, struct dp_err *err)
{
    const char *df = in->scan.dockerfile;
    size_t n;
    dp_rc rc = dp_zip2tar_top(in->res->stripped, sizeof(in->res->stripped), zo, err);

    n = strlen(in->res->stripped);
    if (!rc && n && in->scan.dockerfile_named && strncmp(df, in->res->stripped, n) == 0 &&
        df[n] == '/')
        in->res->stripped[0] = '\0';
    return rc;
}

static dp_rc convert(struct intake *in, struct dp_err *err)
{
    struct dp_zip2tar_hook hook = {hook_member, hook_data, hook_finish, in};
    struct dp_zip2tar_opts zo = {.zip_path = in->in_path,
                                 .max_bytes = in->o->max_bytes,
                                 .max_entries = in->o->max_entries,
                                 .input_tar = !in->zip,
                                 .hook = &hook};
    struct dp_zip2tar_result zr;
    dp_rc rc = find_top(in, &zo, err);
    int fd = rc ? -1
                : temp_create(in->res->tar_path, sizeof(in->res->tar_path), in->o->spool_dir,
                              ".tar", err);

    if (rc || fd < 0)
        return rc ? rc : (err ? err->rc : DP_EIO);
    zo.out_fd = fd;
    zo.strip = in->res->stripped[0] ? in->res->stripped : NULL;
    rc = dp_zip2tar(&zr, &zo, err);
    if (close(fd) != 0 && !rc)
        rc = dp_err_set(err, DP_EIO, "cannot write the tar: %s", strerror(errno));
    in->res->files = zr.files;
    in->res->dirs = zr.dirs;
    in->res->bytes = zr.bytes;
    return rc;
}

static dp_rc pick_source(struct intake *in, struct dp_err *err)
{
    const struct dp_code_opts *o = in->o;
    bool b64 = o->b64 && o->b64_len > 0;

    if (o->file_path && b64)
        return dp_err_setc(err, DP_EINVAL, "invalid_request",
                           "send the code once: a file part or code_tar_b64/code_zip_b64");
    if (!o->file_path && !b64)
        return dp_err_setc(err, DP_EINVAL, "no_code",
                           "no code: send a zip or tar file, code_tar_b64 or code_zip_b64");
    if (o->file_path) {
        in->in_path = o->file_path;
        return DP_OK;
    }
    return b64_decode(in, err);
}

dp_rc dp_code_prepare(struct dp_code_result *out, const struct dp_code_opts *o, struct dp_err *err)
{
    struct intake *in = calloc(1, sizeof(*in));
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    if (!in)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    in->o = o;
    in->res = out;
    in->max_code = o->max_code ? o->max_code : DP_CODE_MAX_BYTES;
    dp_buf_init(&in->generated, DP_DOCKERFILE_MAX);
    rc = dp_dockerfile_scan_init(&in->scan, o->dockerfile, err);
    if (!rc)
        rc = pick_source(in, err);
    if (!rc)
        rc = sniff(in, err);
    if (!rc)
        rc = convert(in, err);
    if (in->decoded[0])
        unlink(in->decoded);
    if (rc)
        dp_code_result_clear(out);
    dp_dockerfile_scan_clear(&in->scan);
    dp_buf_clear(&in->generated);
    free(in);
    return rc;
}

void dp_code_result_clear(struct dp_code_result *r)
{
    if (r->tar_path[0])
        unlink(r->tar_path);
    memset(r, 0, sizeof(*r));
}

dp_rc dp_code_opts_from_json(struct dp_code_opts *o, const json_t *req, struct dp_err *err)
{
    const char *tar = NULL, *zip = NULL, *df = NULL;
    long long port = 0;
    dp_rc rc;

    if ((rc = dp_json_get_str(&tar, req, "code_tar_b64", false, B64_TEXT_MAX, err)) ||
        (rc = dp_json_get_str(&zip, req, "code_zip_b64", false, B64_TEXT_MAX, err)) ||
        (rc = dp_json_get_str(&df, req, "dockerfile", false, DP_UPLOAD_MAX_NAME, err)) ||
        (rc = dp_json_get_int(&port, req, "port", 1, 65535, 0, err)))
        return rc;
    if (tar && tar[0] && zip && zip[0])
        return dp_err_setc(err, DP_EINVAL, "invalid_request",
                           "send either code_tar_b64 or code_zip_b64, not both");
    o->b64_zip = zip && zip[0];
    o->b64 = o->b64_zip ? zip : tar;
    o->b64_len = o->b64 ? strlen(o->b64) : 0;
    o->dockerfile = df;
    o->port = (unsigned)port;
    return DP_OK;
}
