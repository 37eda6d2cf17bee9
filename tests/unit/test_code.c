/* Code intake: zips and tars (made here with libarchive's writers, hostile ones patched byte by
 * byte) and base64 text go through dp_code_prepare; the tar that comes out is listed member by
 * member and must also unpack with the agent's own dp_untar. Every failure must leave the spool
 * folder empty. */
#include "dp_code.h"
#include "dp_stage.h"
#include "dp_untar.h"
#include "dp_zip2tar.h"
#include "th.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARC_CAP (16UL * 1024 * 1024)

enum kind { F, D, L, H, CHR };

struct m {
    enum kind k;
    const char *name;
    const char *data; /* file content, link target */
    long mode;
    size_t fill; /* > 0: the file holds this many 'z' bytes instead of data */
};

struct arc {
    unsigned char *buf;
    size_t len;
};

static char top[64];    /* this test's temporary folder */
static char spool[96];  /* the spool folder dp_code writes into */
static char inputs[96]; /* archives handed to dp_code */

/* ---- making archives ---- */

static void add_member(struct archive *w, const struct m *m)
{
    static const int types[] = {AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG, AE_IFCHR};
    struct archive_entry *e = archive_entry_new();
    size_t len = m->fill ? m->fill : (m->k == F && m->data ? strlen(m->data) : 0);

    archive_entry_set_pathname(e, m->name);
    archive_entry_set_filetype(e, (unsigned)types[m->k]);
    archive_entry_set_perm(e, (mode_t)(m->mode ? m->mode : (m->k == D ? 0755 : 0644)));
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (m->k == L)
        archive_entry_set_symlink(e, m->data);
    if (m->k == H)
        archive_entry_set_hardlink(e, m->data);
    if (archive_write_header(w, e) < ARCHIVE_WARN)
        fprintf(stderr, "writer: %s\n", archive_error_string(w));
    if (m->fill) {
        char *z = malloc(m->fill);

        memset(z, 'z', m->fill);
        archive_write_data(w, z, m->fill);
        free(z);
    } else if (len) {
        archive_write_data(w, m->data, len);
    }
    archive_entry_free(e);
}

static struct arc make_arc(const struct m *ms, size_t n, const char *fmt)
{
    struct arc a = {malloc(ARC_CAP), 0};
    struct archive *w = archive_write_new();

    if (strcmp(fmt, "zip") == 0) {
        archive_write_set_format_zip(w);
        archive_write_set_options(w, "zip:compression=deflate");
    } else {
        archive_write_set_format_pax_restricted(w);
        if (strcmp(fmt, "tar.gz") == 0)
            archive_write_add_filter_gzip(w);
        archive_write_set_bytes_in_last_block(w, 1);
    }
    archive_write_open_memory(w, a.buf, ARC_CAP, &a.len);
    for (size_t i = 0; i < n; i++)
        add_member(w, &ms[i]);
    archive_write_close(w);
    archive_write_free(w);
    return a;
}

#define ZIP(ms)   make_arc((ms), sizeof(ms) / sizeof((ms)[0]), "zip")
#define TAR(ms)   make_arc((ms), sizeof(ms) / sizeof((ms)[0]), "tar")
#define TARGZ(ms) make_arc((ms), sizeof(ms) / sizeof((ms)[0]), "tar.gz")

/* ---- patching zips: every central directory record (and its local header) ---- */

static uint32_t le32(const unsigned char *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned le16(const unsigned char *p)
{
    return p[0] | (unsigned)p[1] << 8;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

struct patch {
    unsigned set_flags, clear_flags; /* general purpose bits, both headers */
    long usize;                      /* >= 0: the uncompressed size both headers claim */
    char from, to;                   /* a byte of every name replaced */
    const char *only;                /* non-NULL: only the member of this name */
};

static void zip_patch(struct arc *a, const struct patch *p)
{
    for (size_t i = 0; i + 46 <= a->len; i++) {
        unsigned char *c = a->buf + i, *l;
        unsigned nlen;

        if (le32(c) != 0x02014b50)
            continue;
        l = a->buf + le32(c + 42);
        nlen = le16(c + 28);
        if (p->only && (nlen != strlen(p->only) || memcmp(c + 46, p->only, nlen) != 0))
            continue;
        for (unsigned char *h = c + 8; h; h = h == c + 8 ? l + 6 : NULL) {
            unsigned f = (le16(h) | p->set_flags) & ~p->clear_flags;

            h[0] = (unsigned char)f;
            h[1] = (unsigned char)(f >> 8);
        }
        if (p->usize >= 0) {
            put32(c + 24, (uint32_t)p->usize);
            put32(l + 22, (uint32_t)p->usize);
        }
        for (unsigned k = 0; p->from && k < nlen; k++) {
            if (c[46 + k] == (unsigned char)p->from)
                c[46 + k] = (unsigned char)p->to;
            if (l[30 + k] == (unsigned char)p->from)
                l[30 + k] = (unsigned char)p->to;
        }
    }
}

/* ---- files and folders ---- */

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        fprintf(stderr, "cannot write %s\n", path);
    if (fd >= 0)
        close(fd);
}

static const char *input(struct arc a)
{
    static char path[160];

    snprintf(path, sizeof(path), "%s/upload", inputs);
    write_file(path, a.buf, a.len);
    free(a.buf);
    return path;
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

/* The members of a tar, one line each: "d name", "f name 0755 size", "l name -> target",
 * "h name -> target"; joined by '\n'. */
static char *listing(const char *path)
{
    static char out[8192];
    struct archive *r = archive_read_new();
    struct archive_entry *e;
    size_t o = 0;

    out[0] = '\0';
    archive_read_support_format_tar(r);
    if (archive_read_open_filename(r, path, 10240) != ARCHIVE_OK) {
        archive_read_free(r);
        return out;
    }
    while (archive_read_next_header(r, &e) == ARCHIVE_OK && o < sizeof(out) - 512) {
        const char *n = archive_entry_pathname_utf8(e);
        mode_t t = archive_entry_filetype(e);

        if (archive_entry_hardlink(e))
            o += (size_t)snprintf(out + o, sizeof(out) - o, "h %s -> %s\n", n,
                                  archive_entry_hardlink(e));
        else if (t == AE_IFDIR) /* the pax writer ends folder names with '/' */
            o += (size_t)snprintf(out + o, sizeof(out) - o, "d %.*s\n",
                                  (int)(strlen(n) - (n[strlen(n) - 1] == '/')), n);
        else if (t == AE_IFLNK)
            o += (size_t)snprintf(out + o, sizeof(out) - o, "l %s -> %s\n", n,
                                  archive_entry_symlink(e));
        else
            o +=
                (size_t)snprintf(out + o, sizeof(out) - o, "f %s %04o %lld\n", n,
                                 (unsigned)archive_entry_perm(e), (long long)archive_entry_size(e));
    }
    archive_read_free(r);
    return out;
}

/* The content of member name in the tar at path (up to 4 KiB), or NULL. */
static char *member_text(const char *path, const char *name)
{
    static char buf[4096];
    struct archive *r = archive_read_new();
    struct archive_entry *e;
    char *found = NULL;

    archive_read_support_format_tar(r);
    if (archive_read_open_filename(r, path, 10240) == ARCHIVE_OK) {
        while (!found && archive_read_next_header(r, &e) == ARCHIVE_OK) {
            if (strcmp(archive_entry_pathname_utf8(e), name) == 0) {
                la_ssize_t n = archive_read_data(r, buf, sizeof(buf) - 1);

                buf[n > 0 ? n : 0] = '\0';
                found = buf;
            }
        }
    }
    archive_read_free(r);
    return found;
}

static long file_read(void *ud, void *buf, size_t size)
{
    return (long)read(*(int *)ud, buf, size < 3000 ? size : 3000);
}

/* The agent's own unpacking of the tar must accept it. */
static dp_rc agent_accepts(const char *tar_path)
{
    char root[160];
    int fd = open(tar_path, O_RDONLY);
    struct dp_untar_opts o = {.path = "/app/x", .read = file_read, .read_ud = &fd};
    struct dp_untar_result r;
    struct dp_err err = {0};
    dp_rc rc;

    snprintf(root, sizeof(root), "%s/agent", top);
    mkdir(root, 0755);
    o.data_root = root;
    rc = dp_untar(&r, &o, &err);
    if (rc)
        fprintf(stderr, "agent refused: [%s] %s\n", err.code, err.msg);
    close(fd);
    dp_stage_remove_tree(AT_FDCWD, root, NULL);
    return rc;
}

/* ---- running dp_code ---- */

struct run {
    const char *dockerfile;
    unsigned long long max_bytes, max_code;
    unsigned long max_entries;
    const char *b64;
    bool b64_zip;
};

static dp_rc prepare(const struct run *r, const char *file, struct dp_code_result *res,
                     struct dp_err *err)
{
    struct dp_code_opts o = {.spool_dir = spool,
                             .file_path = file,
                             .b64 = r ? r->b64 : NULL,
                             .b64_len = r && r->b64 ? strlen(r->b64) : 0,
                             .b64_zip = r && r->b64_zip,
                             .dockerfile = r ? r->dockerfile : NULL,
                             .port = 8080,
                             .max_code = r ? r->max_code : 0,
                             .max_bytes = r ? r->max_bytes : 0,
                             .max_entries = r ? r->max_entries : 0};
    dp_rc rc;

    dp_err_clear(err);
    rc = dp_code_prepare(res, &o, err);
    if (rc) {
        TH_EQ_INT(entries_in(spool), 0); /* a failure leaves nothing */
        TH_EQ_STR(res->tar_path, "");
    }
    return rc;
}

static dp_rc prepare_arc(const struct run *r, struct arc a, struct dp_code_result *res,
                         struct dp_err *err)
{
    return prepare(r, input(a), res, err);
}

/* ---- tests ---- */

static const struct m web_app[] = {
    {D, "app/", NULL, 0, 0},
    {F, "app/run.sh", "#!/bin/sh\nexec httpd\n", 0755, 0},
    {F, "app/data.txt", "plain", 0600, 0},
    {D, "app/empty/", NULL, 0, 0},
    {L, "app/latest", "data.txt", 0, 0},
    {F, "index.html", "<h1>hi</h1>", 0, 0},
    {F, "Dockerfile", "FROM busybox\nCOPY . /www\n", 0, 0},
};

static void zip_kept_dirs_modes_links(void)
{
    struct dp_code_result res;
    struct dp_err err;
    struct stat sb;

    TH_EQ_INT(prepare_arc(NULL, ZIP(web_app), &res, &err), DP_OK);
    TH_EQ_STR(res.format, "zip");
    TH_EQ_STR(dp_runtime_name(res.runtime), "dockerfile");
    TH_CHECK(!res.generated);
    TH_EQ_STR(res.dockerfile, "Dockerfile");
    TH_EQ_STR(res.stripped, "");
    TH_EQ_INT(res.files, 5);
    TH_EQ_INT(res.dirs, 2);
    TH_EQ_STR(listing(res.tar_path), "d app\n"
                                     "f app/run.sh 0755 21\n"
                                     "f app/data.txt 0644 5\n"
                                     "d app/empty\n"
                                     "l app/latest -> data.txt\n"
                                     "f index.html 0644 11\n"
                                     "f Dockerfile 0644 25\n");
    TH_CHECK(stat(res.tar_path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    TH_CHECK(strncmp(res.tar_path, spool, strlen(spool)) == 0);
    TH_EQ_INT(agent_accepts(res.tar_path), DP_OK);
    dp_code_result_clear(&res);
    TH_EQ_INT(entries_in(spool), 0);
}

static void tar_and_targz_rewritten(void)
{
    static const struct m ms[] = {
        {F, "./main.py", "print(1)\n", 04755, 0},
        {F, "requirements.txt", "flask\n", 0, 0},
        {D, "pkg", NULL, 0, 0},
        {F, "pkg/a.py", "x = 1\n", 0, 0},
        {H, "pkg/b.py", "pkg/a.py", 0, 0},
        {L, "pkg/up", "../main.py", 0, 0},
    };
    const char *want = "f main.py 0755 9\n"
                       "f requirements.txt 0644 6\n"
                       "d pkg\n"
                       "f pkg/a.py 0644 6\n"
                       "h pkg/b.py -> pkg/a.py\n"
                       "l pkg/up -> ../main.py\n";
    struct dp_code_result res;
    struct dp_err err;
    char *l;

    TH_EQ_INT(prepare_arc(NULL, TAR(ms), &res, &err), DP_OK);
    TH_EQ_STR(res.format, "tar");
    TH_EQ_STR(dp_runtime_name(res.runtime), "python");
    TH_CHECK(res.generated);
    l = listing(res.tar_path);
    TH_CHECK(strncmp(l, want, strlen(want)) == 0);
    TH_CHECK(strncmp(l + strlen(want), "f Dockerfile 0644 ", 18) == 0);
    TH_CHECK(strstr(member_text(res.tar_path, "Dockerfile"), "CMD [\"python\", \"main.py\"]"));
    TH_EQ_INT(agent_accepts(res.tar_path), DP_OK);
    dp_code_result_clear(&res);

    TH_EQ_INT(prepare_arc(NULL, TARGZ(ms), &res, &err), DP_OK);
    TH_EQ_STR(res.format, "tar.gz");
    TH_CHECK(strncmp(listing(res.tar_path), want, strlen(want)) == 0);
    dp_code_result_clear(&res);
}

static void expect_refused(struct arc a, const char *code, const char *needle)
{
    struct dp_code_result res;
    struct dp_err err;

    TH_CHECK(prepare_arc(NULL, a, &res, &err) != DP_OK);
    TH_EQ_STR(err.code, code);
    if (needle && !strstr(err.msg, needle))
        fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
    TH_CHECK(!needle || strstr(err.msg, needle));
}

static void unsafe_members_refused(void)
{
    static const struct m dotdot[] = {{F, "ok.txt", "ok", 0, 0}, {F, "a/../../evil", "x", 0, 0}};
    static const struct m abs[] = {{F, "/etc/evil", "x", 0, 0}};
    static const struct m esc[] = {{F, "ok", "1", 0, 0}, {L, "a/l", "../../etc", 0, 0}};
    static const struct m absl[] = {{F, "ok", "1", 0, 0}, {L, "l", "/etc/passwd", 0, 0}};
    static const struct m through[] = {
        {D, "sub/", NULL, 0, 0}, {L, "l", "sub", 0, 0}, {F, "l/x", "through", 0, 0}};
    static const struct m below_file[] = {{F, "f", "1", 0, 0}, {F, "f/x", "2", 0, 0}};
    static const struct m hard_out[] = {{F, "a", "1", 0, 0}, {H, "h", "../../etc/passwd", 0, 0}};
    static const struct m hard_later[] = {{H, "h", "a", 0, 0}, {F, "a", "1", 0, 0}};
    static const struct m dev[] = {{F, "a", "1", 0, 0}, {CHR, "null", NULL, 0, 0}};
    static const struct m ctl[] = {{F, "a\nb", "1", 0, 0}};

    expect_refused(ZIP(dotdot), "unsafe_member", "'a/../../evil' has a '..' component");
    expect_refused(TAR(dotdot), "unsafe_member", "'..'");
    expect_refused(ZIP(abs), "unsafe_member", "absolute");
    expect_refused(TAR(abs), "unsafe_member", "absolute");
    expect_refused(ZIP(esc), "unsafe_member", "symlink 'a/l' points to '../../etc'");
    expect_refused(TAR(esc), "unsafe_member", "outside the upload");
    expect_refused(ZIP(absl), "unsafe_member", "'/etc/passwd'");
    expect_refused(TAR(absl), "unsafe_member", "'/etc/passwd'");
    expect_refused(ZIP(through), "unsafe_member", "'l/x' would be written through 'l'");
    expect_refused(TAR(through), "unsafe_member", "through 'l'");
    expect_refused(ZIP(below_file), "unsafe_member", "through 'f'");
    expect_refused(TAR(hard_out), "unsafe_member", "'..'");
    expect_refused(TAR(hard_later), "unsafe_member", "hard link");
    expect_refused(TAR(dev), "unsafe_member", "device");
    expect_refused(TAR(ctl), "unsafe_member", "control characters");
}

static void symlink_inside_kept(void)
{
    static const struct m ms[] = {
        {D, "a/b/", NULL, 0, 0},
        {F, "a/b/c.txt", "c", 0, 0},
        {L, "a/b/up", "../../top", 0, 0},
        {L, "a/b/side", "c.txt", 0, 0},
        {F, "top", "t", 0, 0},
        {F, "index.html", "i", 0, 0},
    };
    struct dp_code_result res;
    struct dp_err err;

    TH_EQ_INT(prepare_arc(NULL, ZIP(ms), &res, &err), DP_OK);
    TH_CHECK(strstr(listing(res.tar_path), "l a/b/up -> ../../top\nl a/b/side -> c.txt\n"));
    TH_EQ_STR(dp_runtime_name(res.runtime), "static");
    TH_EQ_INT(agent_accepts(res.tar_path), DP_OK);
    dp_code_result_clear(&res);
}

/* A zip whose central directory says 1000 bytes for a member that inflates to 4 MiB. */
static void lying_zip_stopped_by_real_bytes(void)
{
    static const struct m ms[] = {{F, "index.html", "hi", 0, 0},
                                  {F, "bomb.txt", NULL, 0, 4UL * 1024 * 1024}};
    struct arc a = ZIP(ms);
    struct patch p = {0, 0, 1000, 0, 0, "bomb.txt"};
    struct run limit = {.max_bytes = 1024 * 1024};
    struct dp_code_result res;
    struct dp_err err;

    TH_CHECK(a.len < 64 * 1024); /* it really is a bomb */
    zip_patch(&a, &p);
    TH_EQ_INT(prepare_arc(NULL, a, &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "zip_too_large");
    TH_CHECK(strstr(err.msg, "'bomb.txt' unpacks past its declared size of 1000 bytes"));

    /* Honest headers, but past the unpacked limit: refused before a byte is written. */
    TH_EQ_INT(prepare_arc(&limit, ZIP(ms), &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "zip_too_large");
    TH_CHECK(strstr(err.msg, "more than 1048576 bytes"));
}

static void limits_on_entries_and_code_size(void)
{
    static const struct m ms[] = {{F, "a", "1", 0, 0}, {F, "b", "2", 0, 0}, {F, "c", "3", 0, 0}};
    struct run few = {.max_entries = 2}, small = {.max_code = 64};
    struct dp_code_result res;
    struct dp_err err;

    TH_EQ_INT(prepare_arc(&few, ZIP(ms), &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "zip_too_large");
    TH_CHECK(strstr(err.msg, "more than 2 members"));
    TH_EQ_INT(prepare_arc(&few, TAR(ms), &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "code_too_large");
    TH_EQ_INT(prepare_arc(&small, TAR(ms), &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "code_too_large");
}

static void corrupt_encrypted_empty_zips(void)
{
    static const struct m ms[] = {
        {F, "index.html", "<p>a page long enough to deflate</p>", 0, 0},
        {F, "b.txt", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0, 0}};
    static const struct m dirs[] = {{D, "a/", NULL, 0, 0}, {D, "a/b/", NULL, 0, 0}};
    struct patch enc = {1, 0, -1, 0, 0, NULL};
    struct arc a = ZIP(ms);
    struct dp_code_result res;
    struct dp_err err;

    zip_patch(&a, &enc);
    expect_refused(a, "invalid_zip", "'index.html' is encrypted");

    a = ZIP(ms);
    for (size_t i = 30 + le16(a.buf + 26) + le16(a.buf + 28), k = 0; k < 8; i++, k++)
        a.buf[i] ^= 0x5a; /* inside the first member's deflate stream */
    expect_refused(a, "invalid_zip", "cannot be read");

    a = ZIP(ms);
    a.len -= 30; /* the end of the central directory is gone */
    expect_refused(a, "invalid_zip", NULL);

    expect_refused(make_arc(NULL, 0, "zip"), "no_code", "empty");
    expect_refused(ZIP(dirs), "no_code", "no files");
    expect_refused(TAR(dirs), "no_code", "no files");

    a = (struct arc){(unsigned char *)strdup("not an archive at all, just text\n"), 33};
    TH_CHECK(prepare_arc(NULL, a, &res, &err) == DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_tar");
    a = (struct arc){(unsigned char *)strdup(""), 0};
    expect_refused(a, "no_code", "empty");
}

/* Names without the UTF-8 flag are CP437 (0x82 is e-acute); valid UTF-8 stays as it is. */
static void non_utf8_names(void)
{
    static const struct m ms[] = {{F, "cafX.txt", "cp437", 0, 0}, {F, "index.html", "i", 0, 0}};
    static const struct m utf[] = {{F, "caf\xc3\xa9/\xc3\xbc.txt", "utf8", 0, 0},
                                   {F, "index.html", "i", 0, 0}};
    static const struct m latin[] = {{F, "lat\xe9.txt", "latin-1", 0, 0},
                                     {F, "index.html", "i", 0, 0}};
    struct patch cp = {0, 1 << 11, -1, 'X', (char)0x82, NULL};
    struct arc a = ZIP(ms);
    struct dp_code_result res;
    struct dp_err err;

    zip_patch(&a, &cp);
    setlocale(LC_ALL, "C"); /* the converter runs in its own C.UTF-8 locale whatever this is */
    TH_EQ_INT(prepare_arc(NULL, a, &res, &err), DP_OK);
    setlocale(LC_ALL, "C.UTF-8");
    TH_CHECK(strstr(listing(res.tar_path), "f caf\xc3\xa9.txt 0644 5\n"));
    TH_EQ_INT(agent_accepts(res.tar_path), DP_OK);
    dp_code_result_clear(&res);

    TH_EQ_INT(prepare_arc(NULL, ZIP(utf), &res, &err), DP_OK);
    TH_CHECK(strstr(listing(res.tar_path), "f caf\xc3\xa9/\xc3\xbc.txt 0644 4\n"));
    dp_code_result_clear(&res);

    TH_EQ_INT(prepare_arc(NULL, TAR(latin), &res, &err), DP_OK);
    TH_CHECK(strstr(listing(res.tar_path), "f lat\xc3\xa9.txt 0644 7\n"));
    dp_code_result_clear(&res);
}

static void single_top_folder_stripped(void)
{
    static const struct m ms[] = {{D, "proj-main/", NULL, 0, 0},
                                  {F, "proj-main/package.json", "{\"main\":\"srv.js\"}", 0, 0},
                                  {F, "proj-main/srv.js", "//", 0, 0},
                                  {L, "proj-main/lnk", "srv.js", 0, 0},
                                  {F, "proj-main/docker/Dockerfile", "FROM x\n", 0, 0}};
    static const struct m mac[] = {{F, "site/index.html", "<p>", 0, 0},
                                   {D, "__MACOSX/", NULL, 0, 0},
                                   {F, "__MACOSX/site/._index.html", "\5\26\7", 0, 0}};
    const char *want = "f package.json 0644 17\nf srv.js 0644 2\nl lnk -> srv.js\n"
                       "f docker/Dockerfile 0644 7\nf Dockerfile 0644 ";
    struct run named = {.dockerfile = "proj-main/docker/Dockerfile"};
    struct run inner = {.dockerfile = "docker/Dockerfile"};
    struct dp_code_result res;
    struct dp_err err;

    TH_EQ_INT(prepare_arc(NULL, ZIP(ms), &res, &err), DP_OK);
    TH_EQ_STR(res.stripped, "proj-main");
    TH_EQ_STR(dp_runtime_name(res.runtime), "node");
    TH_CHECK(strncmp(listing(res.tar_path), want, strlen(want)) == 0);
    TH_CHECK(strstr(member_text(res.tar_path, "Dockerfile"), "CMD [\"node\", \"srv.js\"]"));
    dp_code_result_clear(&res);

    TH_EQ_INT(prepare_arc(&inner, TAR(ms), &res, &err), DP_OK);
    TH_EQ_STR(res.stripped, "proj-main");
    TH_EQ_STR(dp_runtime_name(res.runtime), "dockerfile");
    TH_EQ_STR(res.dockerfile, "docker/Dockerfile");
    dp_code_result_clear(&res);

    /* Finder's "__MACOSX/" beside the folder is left out, so the folder is still the top. */
    TH_EQ_INT(prepare_arc(NULL, ZIP(mac), &res, &err), DP_OK);
    TH_EQ_STR(res.stripped, "site");
    TH_CHECK(strncmp(listing(res.tar_path), "f index.html 0644 3\nf Dockerfile 0644 ", 38) == 0);
    dp_code_result_clear(&res);

    /* The field names a path through the folder: the layout stays as uploaded. */
    TH_EQ_INT(prepare_arc(&named, ZIP(ms), &res, &err), DP_OK);
    TH_EQ_STR(res.stripped, "");
    TH_EQ_STR(res.dockerfile, "proj-main/docker/Dockerfile");
    TH_CHECK(strstr(listing(res.tar_path), "f proj-main/srv.js 0644 2\n"));
    dp_code_result_clear(&res);
}

static void dockerfile_field(void)
{
    static const struct m ms[] = {{F, "index.html", "<p>", 0, 0},
                                  {F, "ops/Dockerfile.prod", "FROM y\n", 0, 0}};
    struct run prod = {.dockerfile = "./ops//Dockerfile.prod"};
    struct run missing = {.dockerfile = "ops/Dockerfile"};
    struct run bad = {.dockerfile = "../Dockerfile"};
    struct run deflt = {.dockerfile = "Dockerfile"};
    struct dp_code_result res;
    struct dp_err err;

    TH_EQ_INT(prepare_arc(&prod, ZIP(ms), &res, &err), DP_OK);
    TH_EQ_STR(res.dockerfile, "ops/Dockerfile.prod");
    TH_CHECK(!res.generated);
    dp_code_result_clear(&res);

    TH_EQ_INT(prepare_arc(&missing, ZIP(ms), &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "dockerfile_not_found");
    TH_CHECK(strstr(err.msg, "'ops/Dockerfile'"));
    TH_EQ_INT(prepare_arc(&bad, ZIP(ms), &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_dockerfile");

    /* Naming the default is the default: generated when missing. */
    TH_EQ_INT(prepare_arc(&deflt, ZIP(ms), &res, &err), DP_OK);
    TH_CHECK(res.generated);
    TH_EQ_STR(dp_runtime_name(res.runtime), "static");
    TH_CHECK(strstr(member_text(res.tar_path, "Dockerfile"),
                    "CMD [\"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"));
    dp_code_result_clear(&res);
}

static void nothing_to_build(void)
{
    static const struct m ms[] = {{F, "README.md", "# hi", 0, 0}};
    static const struct m node[] = {{F, "package.json", "{\"name\":\"x\"}", 0, 0}};
    static const struct m badjson[] = {{F, "package.json", "{\"name\":", 0, 0}};

    expect_refused(ZIP(ms), "no_runtime", "add a Dockerfile");
    expect_refused(ZIP(node), "no_entrypoint", "start");
    expect_refused(TAR(badjson), "invalid_package_json", "not a JSON object");
}

static char *b64(const unsigned char *p, size_t n, size_t wrap)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(n * 2 + 16);
    size_t o = 0, col = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {al[v >> 18], al[(v >> 12) & 63], i + 1 < n ? al[(v >> 6) & 63] : '=',
                     i + 2 < n ? al[v & 63] : '='};

        for (int k = 0; k < 4; k++) {
            out[o++] = q[k];
            if (wrap && ++col % wrap == 0)
                out[o++] = '\n';
        }
    }
    out[o] = '\0';
    return out;
}

static void base64_code(void)
{
    static const struct m ms[] = {{F, "main.go", "package main\n", 0, 0},
                                  {F, "go.mod", "module x\n", 0, 0}};
    struct arc a = TAR(ms), z = ZIP(ms);
    char *text = b64(a.buf, a.len, 76), *ztext = b64(z.buf, z.len, 0);
    struct run r = {.b64 = text};
    struct dp_code_result res;
    struct dp_err err;
    size_t n;

    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_OK);
    TH_EQ_STR(res.format, "tar");
    TH_EQ_INT(res.code_size, a.len);
    TH_EQ_STR(dp_runtime_name(res.runtime), "go");
    dp_code_result_clear(&res);

    r = (struct run){.b64 = ztext, .b64_zip = true};
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_OK);
    TH_EQ_STR(res.format, "zip");
    dp_code_result_clear(&res);

    n = strlen(ztext);
    while (n > 0 && ztext[n - 1] == '=')
        ztext[--n] = '\0'; /* padding left out is fine */
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_OK);
    dp_code_result_clear(&res);

    ztext[10] = '*';
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_base64");
    TH_CHECK(strstr(err.msg, "at byte 10 ('*')"));
    ztext[10] = '=';
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_base64");
    r.b64 = "QUJD\nR";
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "middle of a byte"));
    r.b64 = "QUJDRA==";
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_zip"); /* "ABCD" is no archive */
    r = (struct run){.b64 = text, .max_code = 100};
    TH_EQ_INT(prepare(&r, NULL, &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "code_too_large");
    r = (struct run){.b64 = text};
    TH_EQ_INT(prepare(&r, input(TAR(ms)), &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_request");
    TH_EQ_INT(prepare(NULL, NULL, &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "no_code");
    free(text);
    free(ztext);
    free(a.buf);
    free(z.buf);
}

static void opts_from_request(void)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "code_zip_b64", "UEsFBg==", "dockerfile",
                            "d/Dockerfile", "port", "3000");
    struct dp_code_opts o = {0};
    struct dp_err err = {0};

    TH_EQ_INT(dp_code_opts_from_json(&o, req, &err), DP_OK);
    TH_CHECK(o.b64_zip);
    TH_EQ_INT(o.b64_len, 8);
    TH_EQ_STR(o.dockerfile, "d/Dockerfile");
    TH_EQ_INT(o.port, 3000);
    json_object_set_new(req, "code_tar_b64", json_string("AAAA"));
    TH_EQ_INT(dp_code_opts_from_json(&o, req, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_request");
    json_object_del(req, "code_tar_b64");
    json_object_set_new(req, "port", json_integer(70000));
    TH_EQ_INT(dp_code_opts_from_json(&o, req, &err), DP_EINVAL);
    json_decref(req);
}

/* The converter alone: a pipe as output, the top folder scan, and a zip hard link refusal. */
static void zip2tar_direct(void)
{
    static const struct m flat[] = {{F, "a", "1", 0, 0}, {D, "d/", NULL, 0, 0}};
    static const struct m one[] = {
        {D, "x/", NULL, 0, 0}, {F, "x/a", "1", 0, 0}, {D, "x/y/", NULL, 0, 0}};
    static const struct m only_dir[] = {{D, "x/", NULL, 0, 0}};
    static const struct m back_in[] = {{F, "x/a", "1", 0, 0}, {L, "x/l", "../x/a", 0, 0}};
    struct dp_zip2tar_opts o = {0};
    struct dp_zip2tar_result r;
    struct dp_err err = {0};
    char t[DP_ZIP_TOP_MAX + 1];
    int fds[2];

    o.zip_path = input(ZIP(flat));
    TH_EQ_INT(dp_zip2tar_top(t, sizeof(t), &o, &err), DP_OK);
    TH_EQ_STR(t, "");
    o.zip_path = input(ZIP(one));
    TH_EQ_INT(dp_zip2tar_top(t, sizeof(t), &o, &err), DP_OK);
    TH_EQ_STR(t, "x");
    o.zip_path = input(ZIP(back_in)); /* stripping "x" would make the link escape */
    TH_EQ_INT(dp_zip2tar_top(t, sizeof(t), &o, &err), DP_OK);
    TH_EQ_STR(t, "");
    o.zip_path = input(ZIP(only_dir));
    TH_EQ_INT(dp_zip2tar_top(t, sizeof(t), &o, &err), DP_OK);
    TH_EQ_STR(t, "");
    o.input_tar = true;
    o.zip_path = input(TAR(one));
    TH_EQ_INT(dp_zip2tar_top(t, sizeof(t), &o, &err), DP_OK);
    TH_EQ_STR(t, "x");

    /* Into a pipe whose reader is gone: a write error, not a crash. */
    TH_CHECK(pipe(fds) == 0);
    close(fds[0]);
    o.out_fd = fds[1];
    TH_EQ_INT(dp_zip2tar(&r, &o, &err), DP_EIO);
    close(fds[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setlocale(LC_ALL, "C.UTF-8"); /* for the helpers' writers and listings */
    snprintf(top, sizeof(top), "/tmp/dp-test-code-XXXXXX");
    if (!mkdtemp(top))
        return 1;
    snprintf(spool, sizeof(spool), "%s/spool", top);
    snprintf(inputs, sizeof(inputs), "%s/in", top);
    mkdir(spool, 0700);
    mkdir(inputs, 0700);
    TH_RUN(zip_kept_dirs_modes_links);
    TH_RUN(tar_and_targz_rewritten);
    TH_RUN(unsafe_members_refused);
    TH_RUN(symlink_inside_kept);
    TH_RUN(lying_zip_stopped_by_real_bytes);
    TH_RUN(limits_on_entries_and_code_size);
    TH_RUN(corrupt_encrypted_empty_zips);
    TH_RUN(non_utf8_names);
    TH_RUN(single_top_folder_stripped);
    TH_RUN(dockerfile_field);
    TH_RUN(nothing_to_build);
    TH_RUN(base64_code);
    TH_RUN(opts_from_request);
    TH_RUN(zip2tar_direct);
    dp_stage_remove_tree(AT_FDCWD, top, NULL);
    TH_EXIT();
}
