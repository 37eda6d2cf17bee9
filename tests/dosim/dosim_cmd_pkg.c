/* The commands that fetch, check and install a package: curl, sha256sum, tar. */
#include "dosim_cmd.h"

#include "dosim_fetch.h"
#include "dosim_tree.h"

#include "dp_path.h"
#include "dp_untar.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUMS_FILE_MAX (1024L * 1024) /* a checksum file, bytes */

struct curl_args {
    const char *url, *out, *header, *cacert;
    long max_time, connect;
    bool fail;
};

static bool num_arg(long *out, const char *s)
{
    char *end;

    *out = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && *out >= 0 && *out <= 86400;
}

/* -fsSL style clusters; 'o' and 'H' take the rest of the word or the next word. */
static bool curl_short(struct curl_args *a, const struct dosim_sh_cmd *c, int *i)
{
    for (const char *p = c->argv[*i] + 1; *p; p++) {
        const char **dst = *p == 'o' ? &a->out : *p == 'H' ? &a->header : NULL;

        if (dst) {
            *dst = p[1] ? p + 1 : c->argv[++*i];
            return *dst != NULL;
        }
        if (*p == 'f')
            a->fail = true;
        else if (!strchr("sSL", *p))
            return false;
    }
    return true;
}

static bool curl_long(struct curl_args *a, const struct dosim_sh_cmd *c, int *i)
{
    const char *o = c->argv[*i], *v = c->argv[*i + 1];
    long ignored;

    if (strcmp(o, "--fail") == 0)
        return a->fail = true;
    if (!strcmp(o, "--silent") || !strcmp(o, "--show-error") || !strcmp(o, "--location"))
        return true;
    ++*i;
    if (strcmp(o, "--output") == 0)
        return (a->out = v) != NULL;
    if (strcmp(o, "--header") == 0)
        return (a->header = v) != NULL;
    if (strcmp(o, "--cacert") == 0)
        return (a->cacert = v) != NULL;
    if (strcmp(o, "--max-time") == 0)
        return num_arg(&a->max_time, v);
    if (strcmp(o, "--connect-timeout") == 0)
        return num_arg(&a->connect, v);
    if (strcmp(o, "--retry") == 0 || strcmp(o, "--retry-delay") == 0)
        return num_arg(&ignored, v);
    return false;
}

static bool curl_parse(struct curl_args *a, const struct dosim_sh_cmd *c)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];
        bool ok;

        if (w[0] == '-' && w[1] == '-')
            ok = curl_long(a, c, &i);
        else if (w[0] == '-' && w[1])
            ok = curl_short(a, c, &i);
        else
            ok = !a->url && (a->url = w);
        if (!ok)
            return false;
    }
    return a->url && a->out && (!a->header || !strpbrk(a->header, "\r\n"));
}

bool dosim_cmd_curl_ok(const struct dosim_sh_cmd *c)
{
    struct curl_args a;

    return curl_parse(&a, c);
}

int dosim_cmd_curl(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    struct curl_args a;
    char out_rel[DOSIM_PATH_MAX], ca_rel[DOSIM_PATH_MAX], ca_abs[DOSIM_PATH_MAX * 2 + 8];
    struct dosim_fetch f = {.root_fd = ci->root_fd, .rel_out = out_rel};
    struct dp_err err = {0};
    unsigned long long bytes;
    long status = 0;

    if (!curl_parse(&a, c))
        return 2;
    if (dosim_tree_rel(out_rel, sizeof(out_rel), a.out, &err) ||
        (a.cacert && dosim_tree_rel(ca_rel, sizeof(ca_rel), a.cacert, &err))) {
        dosim_ci_log(ci, "curl: %s", err.msg);
        return 2;
    }
    if (a.cacert) {
        snprintf(ca_abs, sizeof(ca_abs), "%s/root/%s", ci->droplet_dir, ca_rel);
        f.cacert = ca_abs;
    }
    f.url = a.url, f.header = a.header, f.fail = a.fail;
    f.timeout_s = a.max_time, f.connect_s = a.connect;
    if (dosim_fetch_run(&f, &status, &bytes, &err)) {
        if (a.fail && status >= 400)
            dosim_ci_log(ci, "curl: (22) The requested URL returned error: %ld", status);
        else
            dosim_ci_log(ci, "curl: %s", err.msg);
        return status >= 400 ? 22 : 7;
    }
    dosim_ci_log(ci, "dosim: downloaded %llu bytes (HTTP %ld) to %s", bytes, status, a.out);
    return 0;
}

struct sum_args {
    bool check, status, quiet;
    const char *file;
};

static bool sum_parse(struct sum_args *a, const struct dosim_sh_cmd *c)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];

        if (!strcmp(w, "-c") || !strcmp(w, "--check"))
            a->check = true;
        else if (!strcmp(w, "--status"))
            a->status = true;
        else if (!strcmp(w, "--quiet"))
            a->quiet = true;
        else if (!strcmp(w, "--strict") || !strcmp(w, "-w") || !strcmp(w, "--warn"))
            continue;
        else if ((w[0] == '-' && w[1]) || a->file)
            return false;
        else
            a->file = w;
    }
    return a->check;
}

bool dosim_cmd_sha256sum_ok(const struct dosim_sh_cmd *c, bool piped)
{
    struct sum_args a;
    bool from_stdin;

    if (!sum_parse(&a, c))
        return false;
    from_stdin = !a.file || strcmp(a.file, "-") == 0;
    return from_stdin == piped;
}

/* The SHA-256 of rel below the root as lowercase hex; false when it cannot be read. */
static bool file_sha256(char hex[65], int root_fd, const char *rel)
{
    unsigned char buf[65536], md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int fd = dosim_tree_open_read(root_fd, rel);
    ssize_t n = 0;
    bool ok = ctx && fd >= 0 && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

    while (ok && (n = read(fd, buf, sizeof(buf))) > 0)
        ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
    ok = ok && n == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    for (unsigned i = 0; ok && i < mdlen; i++)
        snprintf(hex + (size_t)2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    return ok;
}

/* "HEX  PATH" or "HEX *PATH" (sha256sum's own format); false for anything else. */
static bool sum_line(char *line, char **hex, char **path)
{
    size_t n = strlen(line);

    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        line[--n] = '\0';
    if (n < 67 || strspn(line, "0123456789abcdefABCDEF") != 64 || line[64] != ' ' ||
        (line[65] != ' ' && line[65] != '*'))
        return false;
    line[64] = '\0';
    *hex = line;
    *path = line + 66;
    return true;
}

struct sum_tally {
    int ok, bad, unreadable, malformed;
};

static void sum_check_one(struct dosim_ci *ci, const struct sum_args *a, char *line,
                          struct sum_tally *t)
{
    char *hex, *path, rel[DOSIM_PATH_MAX], got[65];

    if (!sum_line(line, &hex, &path)) {
        t->malformed += line[strspn(line, " \t\r\n")] != '\0';
        return;
    }
    if (dosim_tree_rel(rel, sizeof(rel), path, NULL) || !file_sha256(got, ci->root_fd, rel)) {
        t->unreadable++;
        if (!a->status)
            dosim_ci_log(ci, "sha256sum: %s: No such file or directory\n%s: FAILED open or read",
                         path, path);
        return;
    }
    for (char *p = hex; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(got, hex) == 0) {
        t->ok++;
        if (!a->status && !a->quiet)
            dosim_ci_log(ci, "%s: OK", path);
    } else {
        t->bad++;
        if (!a->status)
            dosim_ci_log(ci, "%s: FAILED", path);
    }
}

static char *read_sums_file(struct dosim_ci *ci, const char *file)
{
    char rel[DOSIM_PATH_MAX];
    char *buf = NULL;
    ssize_t n = -1;
    int fd = -1;

    if (!dosim_tree_rel(rel, sizeof(rel), file, NULL))
        fd = dosim_tree_open_read(ci->root_fd, rel);
    if (fd >= 0 && (buf = malloc(SUMS_FILE_MAX + 1)))
        n = read(fd, buf, SUMS_FILE_MAX);
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        free(buf);
        dosim_ci_log(ci, "sha256sum: %s: No such file or directory", file);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int dosim_cmd_sha256sum(struct dosim_ci *ci, const struct dosim_sh_cmd *c, const char *stdin_text)
{
    struct sum_args a;
    struct sum_tally t = {0};
    char *text, *save = NULL;

    if (!sum_parse(&a, c))
        return 2;
    text = stdin_text ? strdup(stdin_text) : read_sums_file(ci, a.file);
    if (!text)
        return 1;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        sum_check_one(ci, &a, l, &t);
    free(text);
    if (t.ok + t.bad + t.unreadable == 0) {
        dosim_ci_log(ci, "sha256sum: no properly formatted SHA256 checksum lines found");
        return 1;
    }
    if (t.bad && !a.status)
        dosim_ci_log(ci, "sha256sum: WARNING: %d computed checksum%s did NOT match", t.bad,
                     t.bad == 1 ? "" : "s");
    return t.bad || t.unreadable ? 1 : 0;
}

struct tar_args {
    const char *file, *dir;
    bool extract;
};

/* "xzf" or "-xzvf": f and C take the next word, in the order their letters come. */
static bool tar_cluster(struct tar_args *a, const struct dosim_sh_cmd *c, int *i, const char *w)
{
    for (const char *p = w; *p; p++) {
        if (*p == 'x')
            a->extract = true;
        else if (*p == 'f' || *p == 'C')
            *(*p == 'f' ? &a->file : &a->dir) = c->argv[++*i];
        else if (!strchr("zvpo", *p))
            return false;
        if ((*p == 'f' && !a->file) || (*p == 'C' && !a->dir))
            return false;
    }
    return true;
}

static bool tar_long(struct tar_args *a, const struct dosim_sh_cmd *c, int *i, const char *w)
{
    static const char *const flags[] = {"--extract",
                                        "--gzip",
                                        "--gunzip",
                                        "--verbose",
                                        "--no-same-owner",
                                        "--no-same-permissions",
                                        "--preserve-permissions"};

    for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
        if (strcmp(w, flags[k]) == 0)
            return (a->extract = a->extract || k == 0), true;
    }
    if (strncmp(w, "--file=", 7) == 0)
        return (a->file = w + 7), true;
    if (strncmp(w, "--directory=", 12) == 0)
        return (a->dir = w + 12), true;
    if (strcmp(w, "--file") == 0 || strcmp(w, "--directory") == 0)
        return (*(w[2] == 'f' ? &a->file : &a->dir) = c->argv[++*i]) != NULL;
    return false;
}

static bool tar_parse(struct tar_args *a, const struct dosim_sh_cmd *c)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];
        bool ok;

        if (w[0] == '-' && w[1] == '-')
            ok = tar_long(a, c, &i, w);
        else if (w[0] == '-')
            ok = tar_cluster(a, c, &i, w + 1);
        else
            ok = i == 1 && tar_cluster(a, c, &i, w); /* "tar xzf ..." */
        if (!ok)
            return false;
    }
    return a->extract && a->file;
}

bool dosim_cmd_tar_ok(const struct dosim_sh_cmd *c)
{
    struct tar_args a;

    return tar_parse(&a, c);
}

static long read_fd(void *ud, void *buf, size_t size)
{
    ssize_t n;

    do
        n = read(*(int *)ud, buf, size);
    while (n < 0 && errno == EINTR);
    return (long)n;
}

int dosim_cmd_tar(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    struct tar_args a;
    char file_rel[DOSIM_PATH_MAX] = "", dir_rel[DOSIM_PATH_MAX] = "";
    char target[DOSIM_PATH_MAX + 8], norm[DOSIM_PATH_MAX + 8];
    struct dp_untar_opts o = {.data_root = ci->droplet_dir, .path = norm, .read = read_fd};
    struct dp_untar_result res;
    struct dp_err err = {0};
    int fd = -1;
    dp_rc rc;

    if (!tar_parse(&a, c))
        return 2;
    rc = dosim_tree_rel(file_rel, sizeof(file_rel), a.file, &err);
    if (!rc)
        rc = dosim_tree_rel(dir_rel, sizeof(dir_rel), a.dir ? a.dir : "/", &err);
    snprintf(target, sizeof(target), "/root%s%s", dir_rel[0] ? "/" : "", dir_rel);
    if (!rc)
        rc = dp_path_normalize(norm, sizeof(norm), target, &err);
    if (!rc && (fd = dosim_tree_open_read(ci->root_fd, file_rel)) < 0)
        rc = dp_err_set(&err, DP_EIO, "%s: Cannot open: %s", a.file, strerror(errno));
    o.read_ud = &fd;
    if (!rc)
        rc = dp_untar(&res, &o, &err);
    if (fd >= 0)
        close(fd);
    if (rc) {
        dosim_ci_log(ci, "tar: %s", err.msg);
        return 2;
    }
    dosim_ci_log(ci, "dosim: unpacked %llu files (%llu bytes) into %s", res.files, res.bytes,
                 a.dir ? a.dir : "/");
    return 0;
}
