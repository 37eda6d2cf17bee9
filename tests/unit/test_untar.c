/* Uploads unpacked below a temporary data root: tars are built in memory with libarchive's
 * writer and fed in small uneven pieces, the way a socket delivers them. Every refusal is
 * checked to leave nothing behind: no staging leftovers, the target untouched, nothing
 * outside the root. */
#include "dp_stage.h"
#include "dp_untar.h"
#include "th.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAR_CAP (4UL * 1024 * 1024)

enum kind { F, D, L, H, CHR, FIFO };

struct m {
    enum kind k;
    const char *name;
    const char *data; /* file content, link target */
    long mode;
};

struct tar {
    char *buf;
    size_t len;
};

static char top[64];   /* this test's temporary folder */
static char root[96];  /* the data root of the current test */
static char outer[96]; /* a folder next to the root that must stay empty */

static void add_member(struct archive *w, const struct m *m)
{
    struct archive_entry *e = archive_entry_new();
    size_t len = m->k == F && m->data ? strlen(m->data) : 0;
    static const int types[] = {AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG, AE_IFCHR, AE_IFIFO};

    archive_entry_set_pathname(e, m->name);
    archive_entry_set_filetype(e, (unsigned)types[m->k]);
    archive_entry_set_perm(e, (mode_t)(m->mode ? m->mode : (m->k == D ? 0755 : 0644)));
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (m->k == L)
        archive_entry_set_symlink(e, m->data);
    if (m->k == H)
        archive_entry_set_hardlink(e, m->data);
    if (archive_write_header(w, e) != ARCHIVE_OK)
        fprintf(stderr, "tar writer: %s\n", archive_error_string(w));
    if (len)
        archive_write_data(w, m->data, len);
    archive_entry_free(e);
}

static struct tar make_tar_f(const struct m *ms, size_t n, bool gzip)
{
    struct tar t = {malloc(TAR_CAP), 0};
    struct archive *w = archive_write_new();

    archive_write_set_format_pax_restricted(w);
    if (gzip)
        archive_write_add_filter_gzip(w);
    archive_write_set_bytes_in_last_block(w, 1);
    archive_write_open_memory(w, t.buf, TAR_CAP, &t.len);
    for (size_t i = 0; i < n; i++)
        add_member(w, &ms[i]);
    archive_write_close(w);
    archive_write_free(w);
    return t;
}

#define make_tar(ms) make_tar_f((ms), sizeof(ms) / sizeof((ms)[0]), false)

/* ---- the stream: uneven pieces, optionally breaking after some bytes ---- */

struct feed {
    const char *p;
    size_t len, pos, step;
    long break_at; /* >= 0: fail once pos reaches it */
};

static long feed_read(void *ud, void *buf, size_t size)
{
    struct feed *f = ud;
    size_t n = f->step + (f->pos % 7); /* odd sizes cross every boundary */

    if (f->break_at >= 0 && f->pos >= (size_t)f->break_at)
        return -1;
    if (n > size)
        n = size;
    if (n > f->len - f->pos)
        n = f->len - f->pos;
    if (f->break_at >= 0 && f->pos + n > (size_t)f->break_at)
        n = (size_t)f->break_at - f->pos;
    memcpy(buf, f->p + f->pos, n);
    f->pos += n;
    return (long)n;
}

struct run {
    const char *path;
    bool clean;
    unsigned long long max_bytes, max_body;
    unsigned long max_entries;
    long break_at;
};

static dp_rc untar_run(const struct run *r, const char *buf, size_t len,
                       struct dp_untar_result *res, struct dp_err *err)
{
    struct feed f = {buf, len, 0, 1000, r->break_at ? r->break_at : -1};
    struct dp_untar_opts o = {.data_root = root,
                              .path = r->path ? r->path : "/app/web",
                              .clean = r->clean,
                              .read = feed_read,
                              .read_ud = &f,
                              .max_bytes = r->max_bytes,
                              .max_body = r->max_body,
                              .max_entries = r->max_entries};

    dp_err_clear(err);
    return dp_untar(res, &o, err);
}

static dp_rc untar_tar(const struct run *r, struct tar t, struct dp_untar_result *res,
                       struct dp_err *err)
{
    dp_rc rc = untar_run(r, t.buf, t.len, res, err);

    free(t.buf);
    return rc;
}

/* ---- looking at the disk ---- */

static char *at(const char *rel)
{
    static char p[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", root, rel);
    return p[i];
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

static bool exists(const char *p)
{
    struct stat sb;

    return lstat(p, &sb) == 0;
}

static int mode_of(const char *p)
{
    struct stat sb;

    return lstat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static char *content(const char *p)
{
    static char buf[256];
    int fd = open(p, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return fd >= 0 ? buf : NULL;
}

static void put(const char *rel, const char *text)
{
    char dir[512];
    FILE *f;

    snprintf(dir, sizeof(dir), "%s", at(rel));
    *strrchr(dir, '/') = '\0';
    for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(dir, 0755);
        *s = '/';
    }
    mkdir(dir, 0755);
    f = fopen(at(rel), "w");
    fputs(text, f);
    fclose(f);
}

/* No upload leftovers: .staging empty, nothing new next to the root. */
static void nothing_left(void)
{
    TH_CHECK(entries_in(at(DP_STAGING_DIR)) <= 0);
    TH_EQ_INT(entries_in(outer), 0);
}

static void remove_top(void)
{
    char cmd[400];

    if (!top[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    TH_EQ_INT(system(cmd), 0);
}

/* A new top folder holding the data root and, beside it, a folder that must stay empty. */
static void fresh_root(void)
{
    remove_top();
    snprintf(top, sizeof(top), "/tmp/dp-test-untar-XXXXXX");
    TH_CHECK(mkdtemp(top) != NULL);
    snprintf(root, sizeof(root), "%s/root", top);
    snprintf(outer, sizeof(outer), "%s/outside", top);
    mkdir(root, 0750);
    mkdir(outer, 0755);
}

static void expect_unsafe(dp_rc rc, const struct dp_err *err, const char *msg_part)
{
    TH_EQ_INT(rc, DP_EINVAL);
    TH_EQ_STR(err->code, "unsafe_member");
    if (!strstr(err->msg, msg_part)) {
        th_failures++;
        fprintf(stderr, "message lacks '%s': %s\n", msg_part, err->msg);
    }
}

/* ---- tests ---- */

static void good_tree_with_modes_and_dirs(void)
{
    static const struct m ms[] = {
        {D, "./", NULL, 0},
        {D, "dir/", NULL, 0700},
        {F, "dir/a.txt", "hello", 0600},
        {F, "dir/run.sh", "#!/bin/sh\n", 04755},
        {D, "empty/", NULL, 0},
        {F, "./top.txt", "top", 0666},
        {F, "caf\xc3\xa9.txt", "utf8", 0},
        {F, "zero", "", 0},
    };
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {.path = "/app/web"};

    fresh_root();
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_INT(res.files, 5);
    TH_EQ_INT(res.dirs, 3);
    TH_EQ_INT(res.bytes, 5 + 10 + 3 + 4);
    TH_CHECK(res.drained);
    TH_EQ_STR(content(at("app/web/dir/a.txt")), "hello");
    TH_EQ_STR(content(at("app/web/caf\xc3\xa9.txt")), "utf8");
    TH_EQ_INT(mode_of(at("app/web/dir/a.txt")), 0644);
    TH_EQ_INT(mode_of(at("app/web/dir/run.sh")), 0755); /* setuid dropped */
    TH_EQ_INT(mode_of(at("app/web/top.txt")), 0644);
    TH_EQ_INT(mode_of(at("app/web/dir")), 0755);
    TH_EQ_INT(mode_of(at("app/web/empty")), 0755);
    TH_EQ_INT(mode_of(at("app/web")), 0755);
    TH_EQ_INT(entries_in(at("app/web/empty")), 0);
    nothing_left();
}

static void gzip_is_accepted(void)
{
    static const struct m ms[] = {{F, "a.txt", "zipped", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {.path = "/app/gz"};

    fresh_root();
    TH_EQ_INT(untar_tar(&r, make_tar_f(ms, 1, true), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/gz/a.txt")), "zipped");
}

static void dotdot_refused_nothing_written(void)
{
    static const struct m ms[] = {{F, "ok.txt", "ok", 0}, {F, "../outside/evil", "x", 0}};
    static const struct m deep[] = {{F, "a/b/../../../../outside/evil", "x", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {.path = "/app/web"};

    fresh_root();
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "'../outside/evil'");
    TH_CHECK(strstr(err.msg, "'..'") != NULL);
    TH_CHECK(!exists(at("app")));
    nothing_left();
    expect_unsafe(untar_tar(&r, make_tar(deep), &res, &err), &err, "'..'");
    nothing_left();
}

static void absolute_refused(void)
{
    struct m ms[] = {{F, NULL, "x", 0}};
    char abs[512];
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    snprintf(abs, sizeof(abs), "%s/abs-evil", outer);
    ms[0].name = abs;
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "absolute");
    TH_CHECK(!exists(abs));
    TH_CHECK(!exists(at("app")));
    nothing_left();
}

static void symlink_escapes_refused(void)
{
    static const struct m up[] = {{L, "l", "../outside", 0}};
    static const struct m up2[] = {{D, "d/", NULL, 0}, {L, "d/l", "../../x", 0}};
    static const struct m abs[] = {{L, "l", "/etc", 0}};
    static const struct m mid[] = {{L, "d/l", "a/../../x", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    expect_unsafe(untar_tar(&r, make_tar(up), &res, &err), &err, "outside the upload");
    TH_CHECK(strstr(err.msg, "'../outside'") != NULL);
    expect_unsafe(untar_tar(&r, make_tar(up2), &res, &err), &err, "'d/l'");
    expect_unsafe(untar_tar(&r, make_tar(abs), &res, &err), &err, "'/etc'");
    expect_unsafe(untar_tar(&r, make_tar(mid), &res, &err), &err, "outside");
    TH_CHECK(!exists(at("app")));
    nothing_left();
}

static void symlink_inside_allowed(void)
{
    static const struct m ms[] = {{F, "top.txt", "t", 0},
                                  {L, "d/l", "../top.txt", 0},
                                  {L, "dl", "d", 0},
                                  {L, "dangling", "not/yet", 0},
                                  {L, "self", ".", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};
    char buf[64] = "";

    fresh_root();
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_CHECK(readlink(at("app/web/d/l"), buf, sizeof(buf) - 1) > 0);
    TH_EQ_STR(buf, "../top.txt");
    TH_EQ_STR(content(at("app/web/dl/l")), "t");
    TH_EQ_INT(res.files, 5);
    nothing_left();
}

/* "l -> sub" then "l/x": the second member would be written through the link. */
static void write_through_symlink_refused(void)
{
    static const struct m ms[] = {{D, "sub/", NULL, 0}, {L, "l", "sub", 0}, {F, "l/x", "x", 0}};
    static const struct m self[] = {{L, "l", ".", 0}, {F, "l/l/l/x", "x", 0}};
    static const struct m file[] = {{F, "f", "x", 0}, {F, "f/x", "x", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "written through 'l'");
    expect_unsafe(untar_tar(&r, make_tar(self), &res, &err), &err, "through");
    expect_unsafe(untar_tar(&r, make_tar(file), &res, &err), &err, "through 'f'");
    TH_CHECK(!exists(at("app")));
    nothing_left();
}

/* A symlink already in the target (a clone could leave one) is replaced, never followed. */
static void merge_never_follows_target_symlinks(void)
{
    static const struct m ms[] = {{F, "out/x", "mine", 0}, {F, "lf", "new", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};
    char victim[512];

    fresh_root();
    put("app/web/keep.txt", "k");
    TH_EQ_INT(symlink(outer, at("app/web/out")), 0);
    snprintf(victim, sizeof(victim), "%s/victim", outer);
    TH_EQ_INT(symlink(victim, at("app/web/lf")), 0);
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/web/out/x")), "mine");
    TH_EQ_STR(content(at("app/web/lf")), "new");
    TH_EQ_INT(mode_of(at("app/web/out")), 0755); /* a real folder now */
    TH_EQ_STR(content(at("app/web/keep.txt")), "k");
    TH_CHECK(!exists(victim));
    TH_EQ_INT(entries_in(outer), 0);
}

/* A folder on the way to the target that is a symlink is refused before reading. */
static void target_through_symlink_refused(void)
{
    static const struct m ms[] = {{F, "x", "x", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    TH_EQ_INT(symlink(outer, at("app")), 0);
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_ECONFLICT);
    TH_EQ_STR(err.code, "path_conflict");
    TH_CHECK(strstr(err.msg, "'/app'") != NULL);
    TH_EQ_INT(res.received, 0); /* nothing was read */
    TH_EQ_INT(entries_in(outer), 0);
    r.clean = true;
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_ECONFLICT);
    TH_EQ_INT(entries_in(outer), 0);
    nothing_left();
}

static void target_file_needs_clean(void)
{
    static const struct m ms[] = {{F, "x", "x", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    put("app/web", "a file");
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_ECONFLICT);
    TH_CHECK(strstr(err.msg, "clean=1") != NULL);
    TH_EQ_STR(content(at("app/web")), "a file");
    r.clean = true;
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/web/x")), "x");
    nothing_left();
}

static void hardlinks_to_earlier_files(void)
{
    static const struct m ms[] = {{F, "f", "shared", 0}, {H, "d/h", "f", 0}, {H, "f", "f", 0}};
    static const struct m out[] = {{H, "h", "../outside/x", 0}};
    static const struct m missing[] = {{H, "h", "nope", 0}};
    static const struct m tolink[] = {{L, "l", "f", 0}, {H, "h", "l", 0}};
    static const struct m todir[] = {{D, "d/", NULL, 0}, {H, "h", "d", 0}};
    static const struct m abs[] = {{H, "h", "/etc/passwd", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};
    struct stat sb;

    fresh_root();
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/web/d/h")), "shared");
    TH_CHECK(stat(at("app/web/f"), &sb) == 0 && sb.st_nlink == 2);
    expect_unsafe(untar_tar(&r, make_tar(out), &res, &err), &err, "'..'");
    expect_unsafe(untar_tar(&r, make_tar(missing), &res, &err), &err, "written earlier");
    expect_unsafe(untar_tar(&r, make_tar(tolink), &res, &err), &err, "written earlier");
    expect_unsafe(untar_tar(&r, make_tar(todir), &res, &err), &err, "written earlier");
    expect_unsafe(untar_tar(&r, make_tar(abs), &res, &err), &err, "absolute");
    nothing_left();
}

/* A later member of a hard-linked name replaces the name, never the shared file. */
static void later_member_does_not_write_through_hardlink(void)
{
    static const struct m ms[] = {{F, "f", "one", 0}, {H, "h", "f", 0}, {F, "h", "two", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/web/f")), "one");
    TH_EQ_STR(content(at("app/web/h")), "two");
}

static void devices_and_fifos_refused(void)
{
    static const struct m chr[] = {{CHR, "null", NULL, 0}};
    static const struct m fifo[] = {{FIFO, "pipe", NULL, 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    expect_unsafe(untar_tar(&r, make_tar(chr), &res, &err), &err, "device");
    expect_unsafe(untar_tar(&r, make_tar(fifo), &res, &err), &err, "FIFO");
    nothing_left();
}

static void bad_names_refused(void)
{
    static char longname[DP_UPLOAD_MAX_NAME + 2], deepname[400];
    struct m ms[] = {{F, NULL, "x", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    memset(longname, 'a', sizeof(longname) - 1);
    ms[0].name = longname;
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "longer than 1024");
    TH_CHECK(strstr(err.msg, "...") != NULL); /* shortened in the message */
    for (size_t i = 0, o = 0; i < DP_UPLOAD_MAX_DEPTH + 2; i++)
        o += (size_t)snprintf(deepname + o, sizeof(deepname) - o, "%s",
                              i <= DP_UPLOAD_MAX_DEPTH ? "d/" : "f");
    ms[0].name = deepname;
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "deeper than 64");
    ms[0].name = "a\nb";
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "'a\\x0ab'");
    ms[0].name = ".";
    expect_unsafe(untar_tar(&r, make_tar(ms), &res, &err), &err, "top folder");
    nothing_left();
}

static void limits_leave_target_untouched(void)
{
    static const struct m big[] = {{F, "a", "0123456789", 0}, {F, "b", "0123456789", 0}};
    static const struct m many[] = {{F, "a", "", 0}, {F, "b", "", 0}, {F, "c", "", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {.max_bytes = 15};

    fresh_root();
    put("app/web/old.txt", "old");
    TH_EQ_INT(untar_tar(&r, make_tar(big), &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "upload_too_large");
    TH_CHECK(strstr(err.msg, "'b'") != NULL);
    r = (struct run){.max_entries = 2, .clean = true};
    TH_EQ_INT(untar_tar(&r, make_tar(many), &res, &err), DP_ETOOBIG);
    TH_EQ_STR(err.code, "upload_too_large");
    r = (struct run){.max_body = 2000, .clean = true};
    TH_EQ_INT(untar_tar(&r, make_tar(big), &res, &err), DP_ETOOBIG);
    TH_EQ_INT(entries_in(at("app/web")), 1);
    TH_EQ_STR(content(at("app/web/old.txt")), "old");
    nothing_left();
}

/* A ustar header for a regular file claiming size (octal text), with its checksum. */
static void ustar_header(char h[512], const char *name, const char *size_octal)
{
    unsigned sum = 0;

    memset(h, 0, 512);
    snprintf(h, 100, "%s", name);
    snprintf(h + 100, 8, "0000644");
    snprintf(h + 108, 8, "0000000");
    snprintf(h + 116, 8, "0000000");
    snprintf(h + 124, 12, "%s", size_octal);
    snprintf(h + 136, 12, "14000000000");
    h[156] = '0';
    snprintf(h + 257, 6, "ustar");
    h[263] = h[264] = '0';
    memset(h + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
}

/* A header that claims more than the limit is refused before any of its data is read. */
static void claimed_size_refused_up_front(void)
{
    char hdr[512];
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {.max_bytes = 1024ULL * 1024};

    fresh_root();
    ustar_header(hdr, "huge", "40000000000"); /* 4 GiB, and the data never comes */
    TH_EQ_INT(untar_run(&r, hdr, sizeof(hdr), &res, &err), DP_ETOOBIG);
    TH_CHECK(strstr(err.msg, "'huge'") != NULL);
    TH_CHECK(!exists(at("app")));
    nothing_left();
}

static void clean_replaces_default_merges(void)
{
    static const struct m ms[] = {
        {F, "new.txt", "new", 0}, {F, "keep/n.txt", "n", 0}, {F, "same.txt", "after", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    put("app/web/old.txt", "old");
    put("app/web/keep/k.txt", "k");
    put("app/web/same.txt", "before");
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/web/old.txt")), "old");
    TH_EQ_STR(content(at("app/web/keep/k.txt")), "k");
    TH_EQ_STR(content(at("app/web/keep/n.txt")), "n");
    TH_EQ_STR(content(at("app/web/same.txt")), "after");
    nothing_left();
    r.clean = true;
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_CHECK(!exists(at("app/web/old.txt")));
    TH_CHECK(!exists(at("app/web/keep/k.txt")));
    TH_EQ_STR(content(at("app/web/keep/n.txt")), "n");
    TH_EQ_INT(entries_in(at("app/web")), 3);
    nothing_left();
}

static void broken_stream_is_canceled(void)
{
    static const struct m ms[] = {{F, "a", "aaaa", 0}, {F, "b", "bbbb", 0}, {F, "c", "c", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {.break_at = 1600, .clean = true};

    fresh_root();
    put("app/web/old.txt", "old");
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_ECANCELED);
    TH_CHECK(strstr(err.msg, "went away") != NULL);
    TH_EQ_STR(content(at("app/web/old.txt")), "old");
    TH_EQ_INT(entries_in(at("app/web")), 1);
    /* Broken exactly at a header boundary, where a tar reader sees a plausible end. */
    r.break_at = 1024;
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_ECANCELED);
    TH_EQ_INT(entries_in(at("app/web")), 1);
    nothing_left();
}

static void damaged_and_empty_tars_refused(void)
{
    static const struct m ms[] = {{F, "a", "0123456789", 0}, {F, "b", "0123456789", 0}};
    struct tar t = make_tar(ms);
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};
    char junk[2048];

    fresh_root();
    TH_EQ_INT(untar_run(&r, t.buf, 512 + 5, &res, &err), DP_EINVAL); /* cut inside data */
    TH_EQ_STR(err.code, "invalid_tar");
    t.buf[1024 + 148] ^= 0x55; /* the second header's checksum */
    TH_EQ_INT(untar_run(&r, t.buf, t.len, &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_tar");
    free(t.buf);
    memset(junk, 'j', sizeof(junk));
    TH_EQ_INT(untar_run(&r, junk, sizeof(junk), &res, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_tar");
    TH_EQ_INT(untar_run(&r, junk, 0, &res, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "empty") != NULL);
    TH_CHECK(!exists(at("app")));
    nothing_left();
}

static void duplicates_last_wins(void)
{
    static const struct m ms[] = {{F, "a", "first", 0}, {F, "a", "second", 0},   {D, "d/", NULL, 0},
                                  {F, "d/x", "x", 0},   {F, "d", "file now", 0}, {L, "s", "a", 0},
                                  {F, "s", "plain", 0}};
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};

    fresh_root();
    TH_EQ_INT(untar_tar(&r, make_tar(ms), &res, &err), DP_OK);
    TH_EQ_STR(content(at("app/web/a")), "second");
    TH_EQ_STR(content(at("app/web/d")), "file now");
    TH_EQ_INT(mode_of(at("app/web/s")), 0644);
    nothing_left();
}

static void trailing_bytes_are_drained(void)
{
    static const struct m ms[] = {{F, "a", "a", 0}};
    struct tar t = make_tar(ms);
    struct dp_untar_result res;
    struct dp_err err;
    struct run r = {0};
    char *padded = calloc(1, t.len + 20000);

    fresh_root();
    memcpy(padded, t.buf, t.len);
    TH_EQ_INT(untar_run(&r, padded, t.len + 20000, &res, &err), DP_OK);
    TH_CHECK(res.drained);
    TH_EQ_INT(res.received, t.len + 20000);
    free(padded);
    free(t.buf);
}

static void sweep_removes_leftovers(void)
{
    struct dp_stage st = DP_STAGE_INIT;
    struct dp_err err = {0};

    fresh_root();
    TH_EQ_INT(dp_stage_open(&st, root, &err), DP_OK);
    TH_CHECK(st.path && strstr(st.path, "/.staging/up-") != NULL);
    put(".staging/left/over/file", "x");
    TH_EQ_INT(dp_stage_sweep(root, &err), DP_OK);
    TH_CHECK(!exists(at(DP_STAGING_DIR)));
    dp_stage_close(&st);
    dp_stage_close(&st); /* twice is fine */
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    TH_RUN(good_tree_with_modes_and_dirs);
    TH_RUN(gzip_is_accepted);
    TH_RUN(dotdot_refused_nothing_written);
    TH_RUN(absolute_refused);
    TH_RUN(symlink_escapes_refused);
    TH_RUN(symlink_inside_allowed);
    TH_RUN(write_through_symlink_refused);
    TH_RUN(merge_never_follows_target_symlinks);
    TH_RUN(target_through_symlink_refused);
    TH_RUN(target_file_needs_clean);
    TH_RUN(hardlinks_to_earlier_files);
    TH_RUN(later_member_does_not_write_through_hardlink);
    TH_RUN(devices_and_fifos_refused);
    TH_RUN(bad_names_refused);
    TH_RUN(limits_leave_target_untouched);
    TH_RUN(claimed_size_refused_up_front);
    TH_RUN(clean_replaces_default_merges);
    TH_RUN(broken_stream_is_canceled);
    TH_RUN(damaged_and_empty_tars_refused);
    TH_RUN(duplicates_last_wins);
    TH_RUN(trailing_bytes_are_drained);
    TH_RUN(sweep_removes_leftovers);
    remove_top();
    TH_EXIT();
}
