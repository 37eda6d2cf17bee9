/* multipart/form-data read as a stream: the same small form split at every offset (and read a
 * byte at a time) must give the same fields and file; malformed bodies, limits and filenames;
 * every failure leaves the spool folder empty. */
#include "dp_multipart.h"
#include "dp_stage.h"
#include "th.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64];

/* ---- the body, in pieces ---- */

struct feed {
    const char *p;
    size_t len, pos;
    size_t split;  /* the first read stops here */
    size_t step;   /* at most this many bytes a read (0: no limit) */
    long break_at; /* >= 0: fail once pos reaches it */
};

static long feed_read(void *ud, void *buf, size_t size)
{
    struct feed *f = ud;
    size_t end = f->pos < f->split ? f->split : f->len, n = end - f->pos;

    if (f->break_at >= 0 && f->pos >= (size_t)f->break_at)
        return -1;
    if (f->break_at >= 0 && f->pos + n > (size_t)f->break_at)
        n = (size_t)f->break_at - f->pos;
    if (f->step && n > f->step)
        n = f->step;
    if (n > size)
        n = size;
    memcpy(buf, f->p + f->pos, n);
    f->pos += n;
    return (long)n;
}

static int entries_in(const char *dir)
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

struct run {
    const char *ct;
    const char *file_field;
    unsigned long long max_file;
    size_t split, step;
    long break_at;
};

static dp_rc parse(const struct run *r, const char *body, size_t len,
                   struct dp_multipart_result *res, struct dp_err *err)
{
    struct feed f = {body, len, 0, r->split, r->step, r->break_at ? r->break_at : -1};
    struct dp_multipart_opts o = {.content_type =
                                      r->ct ? r->ct : "multipart/form-data; boundary=XyZ",
                                  .read = feed_read,
                                  .read_ud = &f,
                                  .file_field = r->file_field,
                                  .spool_dir = top,
                                  .max_file = r->max_file};
    dp_rc rc;

    dp_err_clear(err);
    rc = dp_multipart_read(res, &o, err);
    if (rc) {
        TH_EQ_INT(entries_in(top), 0);
        TH_CHECK(res->fields == NULL && !res->file_path[0]);
    }
    return rc;
}

static char *fields_text(const struct dp_multipart_result *res)
{
    static char buf[4096];
    char *s = json_dumps(res->fields, JSON_COMPACT | JSON_SORT_KEYS);

    snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
    free(s);
    return buf;
}

static size_t file_content(const struct dp_multipart_result *res, char *buf, size_t size)
{
    int fd = open(res->file_path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, size) : -1;

    if (fd >= 0)
        close(fd);
    return n > 0 ? (size_t)n : 0;
}

/* ---- the form every split is tried on ---- */

static const char file_bytes[] = "PK\3\4\0\0binary\r\n--Xy\r\n-\r\n-- XyZ a--XyZ\r\r\n\r\n--X\0"
                                 "\0end\r\n-";
#define FILE_LEN (sizeof(file_bytes) - 1)

static size_t form(char *out, size_t size)
{
    static const char *head = "this preamble is ignored\r\n"
                              "--XyZ\r\n"
                              "Content-Disposition: form-data; name=\"name\"\r\n"
                              "\r\n"
                              "web\r\n"
                              "--XyZ  \t\r\n"
                              "Content-Disposition: form-data; name=\"port\"\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "\r\n"
                              "8080\r\n"
                              "--XyZ\r\n"
                              "content-disposition: FORM-DATA; name=code; "
                              "filename=\"C:\\\\Users\\\\me\\\\my app.zip\"\r\n"
                              "Content-Type: application/zip\r\n"
                              "\r\n";
    static const char *tail = "\r\n"
                              "--XyZ\r\n"
                              "Content-Disposition: form-data; name=\"tags\"\r\n"
                              "\r\n"
                              "a\r\n"
                              "--XyZ\r\n"
                              "Content-Disposition: form-data; name=\"tags\"\r\n"
                              "\r\n"
                              "\r\n"
                              "--XyZ\r\n"
                              "Content-Disposition: form-data; name=\"env_vars\"\r\n"
                              "\r\n"
                              "{\"A\": \"caf\xc3\xa9\"}\r\n"
                              "--XyZ--\r\n"
                              "and an epilogue";
    size_t n = 0;

    memcpy(out + n, head, strlen(head));
    n += strlen(head);
    memcpy(out + n, file_bytes, FILE_LEN);
    n += FILE_LEN;
    memcpy(out + n, tail, strlen(tail));
    n += strlen(tail);
    (void)size;
    return n;
}

static bool form_ok(const struct run *r, const char *body, size_t len)
{
    struct dp_multipart_result res;
    struct dp_err err;
    char got[256];
    struct stat sb;
    bool ok;
    dp_rc rc = parse(r, body, len, &res, &err);

    if (rc) {
        fprintf(stderr, "split %zu step %zu: [%s] %s\n", r->split, r->step, err.code, err.msg);
        return false;
    }
    ok = strcmp(fields_text(&res), "{\"env_vars\":\"{\\\"A\\\": \\\"caf\xc3\xa9\\\"}\",\"name\":"
                                   "\"web\",\"port\":\"8080\",\"tags\":[\"a\",\"\"]}") == 0 &&
         file_content(&res, got, sizeof(got)) == FILE_LEN &&
         memcmp(got, file_bytes, FILE_LEN) == 0 && strcmp(res.file_name, "my_app.zip") == 0 &&
         strcmp(res.file_field, "code") == 0 && res.file_bytes == FILE_LEN && res.received == len &&
         res.drained && stat(res.file_path, &sb) == 0 && (sb.st_mode & 0777) == 0600 &&
         strncmp(res.file_path, top, strlen(top)) == 0;
    if (!ok)
        fprintf(stderr, "split %zu step %zu: fields %s name %s bytes %llu\n", r->split, r->step,
                fields_text(&res), res.file_name, res.file_bytes);
    dp_multipart_result_clear(&res);
    TH_EQ_INT(entries_in(top), 0);
    return ok;
}

static void every_split_gives_the_same_form(void)
{
    char body[2048];
    size_t len = form(body, sizeof(body));
    int bad = 0;

    for (size_t k = 0; k <= len; k++) {
        struct run r = {.split = k};

        bad += !form_ok(&r, body, len);
    }
    for (size_t step = 1; step <= 9; step++) {
        struct run r = {.step = step};

        bad += !form_ok(&r, body, len);
    }
    TH_EQ_INT(bad, 0);
}

static void file_field_named(void)
{
    static const char body[] = "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"code\"\r\n\r\n"
                               "sent with curl -F code=<file\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"other\"; filename=\"\"\r\n"
                               "Content-Type: application/octet-stream\r\n\r\n"
                               "\r\n"
                               "--XyZ--";
    struct run r = {.file_field = "code"};
    struct dp_multipart_result res;
    struct dp_err err;
    char got[64];

    TH_EQ_INT(parse(&r, body, sizeof(body) - 1, &res, &err), DP_OK);
    TH_EQ_STR(fields_text(&res), "{}"); /* the empty browser file input is nothing */
    TH_EQ_INT(file_content(&res, got, sizeof(got)), 28);
    TH_EQ_STR(res.file_field, "code");
    TH_EQ_STR(res.file_name, "");
    TH_CHECK(res.drained);
    dp_multipart_result_clear(&res);
    dp_multipart_result_clear(&res); /* twice is fine */
    TH_EQ_INT(entries_in(top), 0);
}

static void boundaries_quoted_and_odd(void)
{
    static const char body[] =
        "\r\n--a b'()+_,-./:=?\r\n"
        "Content-Disposition: form-data; name=\"k\"; filename=\".hidden\"\r\n"
        "\r\n"
        "\r\n--a b'()+_,-./:=?--";
    struct run r = {.ct = "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b'()+_,-./:=?\""};
    struct dp_multipart_result res;
    struct dp_err err;
    char b[80];

    TH_EQ_INT(parse(&r, body, sizeof(body) - 1, &res, &err), DP_OK);
    TH_EQ_STR(res.file_name, "_hidden");
    TH_EQ_INT(res.file_bytes, 0); /* an empty file with a name is still the file */
    TH_CHECK(res.file_path[0]);
    dp_multipart_result_clear(&res);

    TH_EQ_INT(dp_multipart_boundary(b, sizeof(b), "multipart/form-data;boundary=abc;x=1", NULL),
              DP_OK);
    TH_EQ_STR(b, "abc");
    TH_EQ_INT(
        dp_multipart_boundary(b, sizeof(b), "multipart/form-data; a=\"x;y\"; boundary=q\\\"", NULL),
        DP_EINVAL); /* '"' is not a boundary character */
    TH_EQ_INT(dp_multipart_boundary(b, sizeof(b),
                                    "multipart/form-data; x=\"a;boundary=b\"; "
                                    "boundary=c",
                                    NULL),
              DP_OK);
    TH_EQ_STR(b, "c");
}

static void bad_content_types(void)
{
    static const char *cts[] = {
        "application/json",
        "multipart/mixed; boundary=x",
        "multipart/form-datax; boundary=x",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"unterminated",
        "multipart/form-data; boundary=ends-with-space\" \"",
        "multipart/form-data; boundary=has\001control",
        ("multipart/form-data; boundary=1234567890123456789012345678901234567890123456789012345678"
         "9012345678901"),
        "multipart/form-data; charset",
    };
    char b[80];
    struct dp_err err = {0};

    for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
        TH_EQ_INT(dp_multipart_boundary(b, sizeof(b), cts[i], &err), DP_EINVAL);
        TH_EQ_STR(err.code, "invalid_multipart");
        TH_EQ_STR(b, "");
    }
    TH_EQ_INT(dp_multipart_boundary(b, sizeof(b), NULL, &err), DP_EINVAL);
    TH_EQ_INT(dp_multipart_boundary(b, sizeof(b),
                                    "multipart/form-data; boundary=123456789012345678901234567890"
                                    "1234567890123456789012345678901234567890",
                                    &err),
              DP_OK); /* 70 is the most */
}

struct bad {
    const char *body;
    const char *code;
    const char *needle;
};

static void malformed_bodies(void)
{
    static const struct bad cases[] = {
        {"", "invalid_multipart", "no boundary line"},
        {"no boundary anywhere", "invalid_multipart", "no boundary line"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without end",
         "invalid_multipart", "ends inside part 'a'"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n", "invalid_multipart",
         "inside a part's headers"},
        {"--XyZ", "invalid_multipart", "right after a boundary"},
        {"--XyZgarbage\r\n\r\n", "invalid_multipart", "goes on after the boundary"},
        {"--XyZ\n\n", "invalid_multipart", "goes on after the boundary"},
        {"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", "invalid_multipart",
         "no Content-Disposition"},
        {"--XyZ\r\n\r\nx\r\n--XyZ--", "invalid_multipart", "no Content-Disposition"},
        {"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "must be form-data"},
        {"--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "has no name"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "has no name"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "empty"},
        {"--XyZ\r\nbroken header\r\n\r\nx\r\n--XyZ--", "invalid_multipart", "has no name"},
        {"--XyZ\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "folded"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\ncontent-disposition: form-data; "
         "name=b\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "two Content-Disposition"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\xfe\r\n--XyZ--",
         "invalid_multipart", "not UTF-8"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\nx\r\n--XyZ--",
         "invalid_multipart", "not UTF-8"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n1\r\n"
         "--XyZ\r\nContent-Disposition: form-data; name=\"g\"; filename=\"b\"\r\n\r\n2\r\n"
         "--XyZ--",
         "invalid_multipart", "second file (part 'g')"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"0123456789012345678901234567890123456"
         "78901234567890123456789012345\"\r\n\r\nx\r\n--XyZ--",
         "field_too_large", "longer than 64 bytes"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r = {.step = 5};
        struct dp_multipart_result res;
        struct dp_err err;

        TH_CHECK(parse(&r, cases[i].body, strlen(cases[i].body), &res, &err) != DP_OK);
        TH_EQ_STR(err.code, cases[i].code);
        if (!strstr(err.msg, cases[i].needle))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err.msg, cases[i].needle);
        TH_CHECK(strstr(err.msg, cases[i].needle));
    }
}

/* A body of n parts, each "name<i>" with value bytes of 'v'. */
static char *fields_body(int parts, size_t value, size_t *len)
{
    char *b = malloc((size_t)parts * (value + 128) + 16);
    size_t o = 0;

    for (int i = 0; i < parts; i++) {
        o += (size_t)sprintf(b + o, "--XyZ\r\nContent-Disposition: form-data; name=\"n%d\"\r\n\r\n",
                             i);
        memset(b + o, 'v', value);
        o += value;
        o += (size_t)sprintf(b + o, "\r\n");
    }
    o += (size_t)sprintf(b + o, "--XyZ--\r\n");
    *len = o;
    return b;
}

static void limits(void)
{
    struct run r = {0};
    struct dp_multipart_result res;
    struct dp_err err;
    size_t len;
    char *b;

    b = fields_body(64, 10, &len);
    TH_EQ_INT(parse(&r, b, len, &res, &err), DP_OK);
    TH_EQ_INT(json_object_size(res.fields), 64);
    dp_multipart_result_clear(&res);
    free(b);
    b = fields_body(65, 10, &len);
    TH_EQ_INT(parse(&r, b, len, &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "field_too_large");
    TH_CHECK(strstr(err.msg, "more than 64 fields"));
    free(b);
    b = fields_body(1, DP_MULTIPART_VALUE_MAX, &len);
    TH_EQ_INT(parse(&r, b, len, &res, &err), DP_OK);
    dp_multipart_result_clear(&res);
    free(b);
    b = fields_body(1, DP_MULTIPART_VALUE_MAX + 1, &len);
    TH_EQ_INT(parse(&r, b, len, &res, &err), DP_ETOOBIG);
    TH_CHECK(strstr(err.msg, "field 'n0' is longer than 1 MiB"));
    free(b);
    b = fields_body(9, DP_MULTIPART_VALUE_MAX, &len);
    TH_EQ_INT(parse(&r, b, len, &res, &err), DP_ETOOBIG);
    TH_CHECK(strstr(err.msg, "8 MiB"));
    free(b);
}

static void header_and_preamble_limits(void)
{
    char *b = malloc(80 * 1024);
    struct run r = {0};
    struct dp_multipart_result res;
    struct dp_err err;
    size_t o;

    o = (size_t)sprintf(b, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ");
    memset(b + o, 'p', 9000);
    o += 9000;
    o += (size_t)sprintf(b + o, "\r\n\r\nx\r\n--XyZ--");
    TH_EQ_INT(parse(&r, b, o, &res, &err), DP_ETOOBIG);
    TH_CHECK(strstr(err.msg, "headers are longer than 8 KiB"));

    memset(b, 'p', 70 * 1024);
    o = 70 * 1024 + (size_t)sprintf(b + 70 * 1024, "\r\n--XyZ--");
    TH_EQ_INT(parse(&r, b, o, &res, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "first 64 KiB"));
    free(b);
}

static void file_limits_and_broken_streams(void)
{
    static const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"app.tar\"\r\n\r\n"
        "0123456789012345678901234567890123456789\r\n--XyZ--\r\n";
    struct run r = {.max_file = 39, .step = 7};
    struct dp_multipart_result res;
    struct dp_err err;

    TH_EQ_INT(parse(&r, body, sizeof(body) - 1, &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "upload_too_large");
    TH_CHECK(strstr(err.msg, "larger than 39 bytes"));
    r.max_file = 40;
    TH_EQ_INT(parse(&r, body, sizeof(body) - 1, &res, &err), DP_OK);
    TH_EQ_INT(res.file_bytes, 40);
    dp_multipart_result_clear(&res);

    for (long at = 1; at < (long)sizeof(body) - 3; at += 9) {
        struct run brk = {.break_at = at, .step = 4};

        TH_EQ_INT(parse(&brk, body, sizeof(body) - 1, &res, &err), DP_ECANCELED);
        TH_EQ_INT(res.received, at);
    }
    r = (struct run){.file_field = "code"};
    TH_EQ_INT(parse(&r, body, sizeof(body) - 1, &res, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "a file in part 'f'"));
}

static void epilogue_drain_is_bounded(void)
{
    size_t n = DP_MULTIPART_EPILOGUE_MAX + 300 * 1024;
    char *b = malloc(n);
    struct run r = {0};
    struct dp_multipart_result res;
    struct dp_err err;
    int k = sprintf(b, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--");

    memset(b + k, 'e', n - (size_t)k);
    TH_EQ_INT(parse(&r, b, n, &res, &err), DP_OK);
    TH_CHECK(!res.drained);
    TH_CHECK(res.received < n);
    dp_multipart_result_clear(&res);
    free(b);
}

int main(void)
{
    snprintf(top, sizeof(top), "/tmp/dp-test-multipart-XXXXXX");
    if (!mkdtemp(top))
        return 1;
    TH_RUN(every_split_gives_the_same_form);
    TH_RUN(file_field_named);
    TH_RUN(boundaries_quoted_and_odd);
    TH_RUN(bad_content_types);
    TH_RUN(malformed_bodies);
    TH_RUN(limits);
    TH_RUN(header_and_preamble_limits);
    TH_RUN(file_limits_and_broken_streams);
    TH_RUN(epilogue_drain_is_bounded);
    dp_stage_remove_tree(AT_FDCWD, top, NULL);
    TH_EXIT();
}
