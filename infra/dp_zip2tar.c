#include "dp_zip2tar.h"

#include "dp_limits.h"
#include "dp_path.h"
#include "dp_untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define READ_BLOCK  ((size_t)64 * 1024)          /* bytes libarchive reads from the input at once */
#define WRITE_BLOCK 65536                        /* bytes per write(2) of the tar */
#define QUOTE_MAX   100                          /* visible bytes of a member name in a message */
#define QUOTE_BUF   (QUOTE_MAX * 4 + 8)          /* ... once quoted */
#define NAME_BUF    (3 * DP_UPLOAD_MAX_NAME + 1) /* a name of legal length, converted to UTF-8 */
#define MACOS_META  "__MACOSX" /* the folder macOS adds to zips for its metadata; left out */

/* ---- names seen so far: 64-bit hashes of names with what each name was ----
 * The set only grows, so a hash collision can only make a check stricter (a refused upload),
 * never let a member through that the agent would refuse. */

enum { SEEN_FILE = 1, SEEN_DIR = 2, SEEN_LINK = 4 };

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL
#define SEEN_FIRST 1024 /* slots allocated at first use */

struct seen {
    uint64_t *key; /* 0: a free slot */
    unsigned char *what;
    size_t mask, used;
};

static uint64_t hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1;
}

static size_t seen_slot(const struct seen *s, uint64_t key)
{
    size_t i = (size_t)key & s->mask;

    while (s->key[i] && s->key[i] != key)
        i = (i + 1) & s->mask;
    return i;
}

static unsigned seen_find(const struct seen *s, uint64_t key)
{
    return s->key ? s->what[seen_slot(s, key)] : 0;
}

static dp_rc seen_grow(struct seen *s)
{
    size_t cap = s->key ? (s->mask + 1) * 2 : SEEN_FIRST;
    struct seen n = {calloc(cap, sizeof(uint64_t)), calloc(cap, 1), cap - 1, s->used};

    if (!n.key || !n.what) {
        free(n.key);
        free(n.what);
        return DP_ENOMEM;
    }
    for (size_t i = 0; s->key && i <= s->mask; i++) {
        if (s->key[i]) {
            size_t j = seen_slot(&n, s->key[i]);

            n.key[j] = s->key[i];
            n.what[j] = s->what[i];
        }
    }
    free(s->key);
    free(s->what);
    *s = n;
    return DP_OK;
}

static dp_rc seen_add(struct seen *s, uint64_t key, unsigned what)
{
    size_t i;

    if ((!s->key || (s->used + 1) * 2 > s->mask + 1) && seen_grow(s))
        return DP_ENOMEM;
    if (!s->key)
        return DP_ENOMEM; /* not reached: seen_grow allocates or fails */
    i = seen_slot(s, key);
    if (!s->key[i]) {
        s->key[i] = key;
        s->used++;
    }
    s->what[i] |= (unsigned char)what;
    return DP_OK;
}

static void seen_free(struct seen *s)
{
    free(s->key);
    free(s->what);
}

/* The length of the first folder on name's way that an earlier member made a file or a
 * symlink (0: none); *key is name's own hash. */
static size_t blocked_prefix(const struct seen *s, const char *name, uint64_t *key)
{
    uint64_t h = FNV_OFFSET;
    size_t bad = 0;

    for (size_t i = 0; name[i]; i++) {
        if (name[i] == '/' && !bad && (seen_find(s, hash_final(h)) & (SEEN_FILE | SEEN_LINK)))
            bad = i;
        h = (h ^ (unsigned char)name[i]) * FNV_PRIME;
    }
    *key = hash_final(h);
    return bad;
}

/* ---- names as UTF-8 ---- */

static const uint16_t cp437_high[128] = {
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7, 0x00ea, 0x00eb, 0x00e8, 0x00ef,
    0x00ee, 0x00ec, 0x00c4, 0x00c5, 0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192, 0x00e1, 0x00ed, 0x00f3, 0x00fa,
    0x00f1, 0x00d1, 0x00aa, 0x00ba, 0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557,
    0x255d, 0x255c, 0x255b, 0x2510, 0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567, 0x2568, 0x2564, 0x2565, 0x2559,
    0x2558, 0x2552, 0x2553, 0x256b, 0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4, 0x03a6, 0x0398, 0x03a9, 0x03b4,
    0x221e, 0x03c6, 0x03b5, 0x2229, 0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0,
};

/* Length of the valid UTF-8 sequence at s (1-4), or 0 (overlong, surrogate, past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], n, min, cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    for (unsigned i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

static bool utf8_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p);

        if (!n)
            return false;
        p += n;
    }
    return true;
}

/* raw as UTF-8: itself when valid, else decoded from CP437 (zip) or Latin-1 (tar) into buf.
 * Names too long to be legal stay as they are for dp_untar_member_name to refuse. */
static const char *as_utf8(char *buf, size_t size, const char *raw, bool cp437)
{
    size_t o = 0;

    if (utf8_valid(raw) || strlen(raw) > DP_UPLOAD_MAX_NAME || size < NAME_BUF)
        return raw;
    for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
        unsigned cp = *p < 0x80 ? *p : (cp437 ? cp437_high[*p - 0x80] : *p);

        if (cp < 0x80) {
            buf[o++] = (char)cp;
        } else if (cp < 0x800) {
            buf[o++] = (char)(0xc0 | (cp >> 6));
            buf[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            buf[o++] = (char)(0xe0 | (cp >> 12));
            buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    buf[o] = '\0';
    return buf;
}

static const char *entry_path(struct archive_entry *e)
{
    const char *s = archive_entry_pathname(e);

    return s ? s : archive_entry_pathname_utf8(e);
}

static const char *entry_symlink(struct archive_entry *e)
{
    const char *s = archive_entry_symlink(e);

    return s ? s : archive_entry_symlink_utf8(e);
}

static const char *entry_hardlink(struct archive_entry *e)
{
    const char *s = archive_entry_hardlink(e);

    return s ? s : archive_entry_hardlink_utf8(e);
}

/* libarchive converts names through the locale: run in C.UTF-8 whatever the program set. */
struct utf8_locale {
    locale_t utf8, old;
};

static void utf8_locale_enter(struct utf8_locale *l)
{
    l->utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    l->old = l->utf8 ? uselocale(l->utf8) : (locale_t)0;
}

static void utf8_locale_leave(struct utf8_locale *l)
{
    if (!l->utf8)
        return;
    uselocale(l->old);
    freelocale(l->utf8);
}

/* ---- the conversion ---- */

struct conv {
    struct archive *in, *out;
    const struct dp_zip2tar_opts *o;
    const struct dp_zip2tar_hook *hook;
    struct dp_zip2tar_result *res;
    unsigned long long max_bytes;
    unsigned long max_entries, entries;
    size_t strip_len; /* strlen(o->strip) */
    struct seen seen;
    bool want_data;                      /* the hook reads the current member's bytes */
    char name[DP_UPLOAD_MAX_NAME + 1];   /* the member as written */
    char q[QUOTE_BUF];                   /* the member as messages show it */
    char scratch[NAME_BUF];              /* a name or link target converted to UTF-8 */
    char target[DP_UPLOAD_MAX_NAME + 1]; /* a hard link's target, normalised */
};

static const char *kind(const struct conv *c)
{
    return c->o->input_tar ? "tar" : "zip";
}

static const char *code_invalid(const struct conv *c)
{
    return c->o->input_tar ? "invalid_tar" : "invalid_zip";
}

static const char *code_big(const struct conv *c)
{
    return c->o->input_tar ? "code_too_large" : "zip_too_large";
}

static dp_rc read_error(struct conv *c, struct dp_err *err)
{
    const char *why = archive_error_string(c->in);

    return dp_err_setc(err, DP_EINVAL, code_invalid(c), "the %s cannot be read%s%s%s: %.160s",
                       kind(c), c->q[0] ? " at '" : "", c->q, c->q[0] ? "'" : "",
                       why ? why : "not a readable archive");
}

static dp_rc write_error(struct conv *c, struct dp_err *err)
{
    const char *why = archive_error_string(c->out);

    return dp_err_setc(err, DP_EIO, "write_failed", "writing the tar failed: %.160s",
                       why ? why : "unknown error");
}

static dp_rc unsafe(struct conv *c, const char *why, struct dp_err *err)
{
    return dp_err_setc(err, DP_EINVAL, "unsafe_member", "member '%s' %s", c->q, why);
}

static dp_rc too_big(struct conv *c, struct dp_err *err)
{
    return dp_err_setc(err, DP_ETOOBIG, code_big(c),
                       "the %s unpacks to more than %llu bytes (at member '%s')", kind(c),
                       c->max_bytes, c->q);
}

static dp_rc write_all(struct conv *c, const void *p, size_t n, struct dp_err *err)
{
    if (c->want_data && c->hook->data)
        c->hook->data(c->hook->ud, p, n);
    if (archive_write_data(c->out, p, n) != (la_ssize_t)n)
        return write_error(c, err);
    return DP_OK;
}

/* Holes in a sparse tar member become zeros: the tar written is never sparse. */
static dp_rc write_zeros(struct conv *c, unsigned long long n, struct dp_err *err)
{
    static const char zeros[4096];
    dp_rc rc = DP_OK;

    while (n > 0 && !rc) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

        rc = write_all(c, zeros, k, err);
        n -= k;
    }
    return rc;
}

/* Copies the entry's data, counting real bytes against the declared size and the total. */
static dp_rc copy_data(struct conv *c, unsigned long long declared, struct dp_err *err)
{
    unsigned long long pos = 0;
    const void *p;
    size_t n;
    la_int64_t off;
    dp_rc rc = DP_OK;
    int r = ARCHIVE_EOF;

    while (!rc && (r = archive_read_data_block(c->in, &p, &n, &off)) == ARCHIVE_OK) {
        unsigned long long start = off < 0 ? 0 : (unsigned long long)off;

        if (off < 0 || start < pos)
            return read_error(c, err);
        if (start + n > declared)
            return dp_err_setc(err, DP_ETOOBIG, code_big(c),
                               "member '%s' unpacks past its declared size of %llu bytes", c->q,
                               declared);
        c->res->bytes += start + n - pos;
        if (c->res->bytes > c->max_bytes)
            return too_big(c, err);
        rc = write_zeros(c, start - pos, err);
        if (!rc)
            rc = write_all(c, p, n, err);
        pos = start + n;
    }
    if (rc)
        return rc;
    return r == ARCHIVE_EOF ? DP_OK : read_error(c, err);
}

/* Normalises raw into out (stripping the top folder); *skip for the archive's own top. */
static dp_rc member_name(struct conv *c, char *out, size_t size, const char *raw, bool *skip,
                         struct dp_err *err)
{
    const char *name = as_utf8(c->scratch, sizeof(c->scratch), raw, !c->o->input_tar);
    dp_rc rc = dp_untar_member_name(out, size, name, err);

    *skip = false;
    if (rc)
        return rc;
    if (!c->o->input_tar && strncmp(out, MACOS_META, strlen(MACOS_META)) == 0 &&
        (out[strlen(MACOS_META)] == '/' || !out[strlen(MACOS_META)])) {
        *skip = true; /* Finder's resource forks beside the real files: never code */
        return DP_OK;
    }
    if (c->strip_len && strncmp(out, c->o->strip, c->strip_len) == 0 &&
        (out[c->strip_len] == '/' || !out[c->strip_len])) {
        size_t rest = strlen(out + c->strip_len);

        memmove(out, out + c->strip_len + (rest > 0), rest ? rest : 1);
    } else if (c->strip_len) {
        return unsafe(c, "names something outside the archive's single top folder", err);
    }
    *skip = !out[0]; /* "./" or the stripped folder: the top itself, nothing to write */
    return DP_OK;
}

static dp_rc check_symlink(struct conv *c, struct archive_entry *e, struct dp_err *err)
{
    const char *raw = entry_symlink(e);
    const char *target =
        raw ? as_utf8(c->scratch, sizeof(c->scratch), raw, !c->o->input_tar) : NULL;
    char q[QUOTE_BUF];

    if (target && strlen(target) <= DP_UPLOAD_MAX_NAME && dp_path_link_target_ok(c->name, target)) {
        archive_entry_set_symlink(e, target);
        return DP_OK;
    }
    dp_path_quote(q, sizeof(q), target ? target : "?", target ? strlen(target) : 1, QUOTE_MAX);
    return dp_err_setc(err, DP_EINVAL, "unsafe_member",
                       "symlink '%s' points to '%s', outside the upload (targets must be "
                       "relative and stay inside)",
                       c->q, q);
}

/* A hard link (tar only) must point to a file an earlier member wrote; *self for a link to
 * itself (nothing to write). */
static dp_rc check_hardlink(struct conv *c, const char *raw, bool *self, struct dp_err *err)
{
    uint64_t key;
    bool top;
    dp_rc rc = member_name(c, c->target, sizeof(c->target), raw, &top, err);

    if (rc)
        return rc;
    *self = strcmp(c->target, c->name) == 0;
    if (!*self &&
        (top || blocked_prefix(&c->seen, c->target, &key) || seen_find(&c->seen, key) != SEEN_FILE))
        return unsafe(c, "is a hard link to something other than a file written earlier", err);
    return DP_OK;
}

/* Checks e by the agent's rules and rewrites it as a neutral tar member. */
static dp_rc member_check(struct conv *c, struct archive_entry *e, struct dp_err *err)
{
    mode_t type = archive_entry_filetype(e);
    la_int64_t size = archive_entry_size(e);
    dp_rc rc;

    if (archive_entry_is_encrypted(e))
        return dp_err_setc(err, DP_EINVAL, code_invalid(c),
                           "member '%s' is encrypted; pack the code without a password", c->q);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return unsafe(c, "is a device, FIFO or socket; only files, folders and links are allowed",
                      err);
    if (type == AE_IFLNK && (rc = check_symlink(c, e, err)) != DP_OK)
        return rc;
    if (type == AE_IFREG && (size < 0 || (unsigned long long)size > c->max_bytes - c->res->bytes))
        return too_big(c, err);
    archive_entry_set_pathname(e, c->name);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, NULL);
    archive_entry_set_gname(e, NULL);
    archive_entry_unset_atime(e);
    archive_entry_unset_ctime(e);
    archive_entry_unset_birthtime(e);
    archive_entry_xattr_clear(e);
    archive_entry_acl_clear(e);
    archive_entry_sparse_clear(e);
    archive_entry_set_fflags(e, 0, 0);
    if (type == AE_IFDIR)
        archive_entry_set_perm(e, 0755);
    else if (type == AE_IFREG)
        archive_entry_set_perm(e, (archive_entry_perm(e) & 0111) ? 0755 : 0644);
    if (type != AE_IFREG)
        archive_entry_set_size(e, 0);
    return DP_OK;
}

/* Records the member's name (refusing one below an earlier symlink or file). */
static dp_rc tree_check(struct conv *c, unsigned what, struct dp_err *err)
{
    char q[QUOTE_BUF];
    uint64_t key;
    size_t bad = blocked_prefix(&c->seen, c->name, &key);

    if (bad) {
        dp_path_quote(q, sizeof(q), c->name, bad, QUOTE_MAX);
        return dp_err_setc(err, DP_EINVAL, "unsafe_member",
                           "member '%s' would be written through '%s', a symlink or a file", c->q,
                           q);
    }
    if (seen_add(&c->seen, key, what))
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    return DP_OK;
}

static dp_rc write_member(struct conv *c, struct archive_entry *e, bool hard, struct dp_err *err)
{
    mode_t type = archive_entry_filetype(e);
    unsigned long long size =
        hard || type != AE_IFREG ? 0 : (unsigned long long)archive_entry_size(e);

    c->want_data = c->hook && c->hook->member &&
                   c->hook->member(c->hook->ud, c->name, hard ? AE_IFREG : (unsigned)type, size);
    if (archive_write_header(c->out, e) != ARCHIVE_OK)
        return write_error(c, err);
    if (type == AE_IFDIR)
        c->res->dirs++;
    else
        c->res->files++;
    if (type == AE_IFREG && !hard)
        return copy_data(c, size, err);
    return DP_OK;
}

static dp_rc one_entry(struct conv *c, struct archive_entry *e, struct dp_err *err)
{
    const char *raw = entry_path(e), *hard;
    bool skip, self = false;
    dp_rc rc;

    c->q[0] = '\0';
    if (++c->entries > c->max_entries)
        return dp_err_setc(err, DP_ETOOBIG, code_big(c), "the %s has more than %lu members",
                           kind(c), c->max_entries);
    if (!raw)
        return dp_err_setc(err, DP_EINVAL, "unsafe_member", "member %lu has an unreadable name",
                           c->entries);
    dp_path_quote(c->q, sizeof(c->q), raw, strlen(raw), QUOTE_MAX);
    rc = member_name(c, c->name, sizeof(c->name), raw, &skip, err);
    if (rc || skip)
        return rc;
    hard = entry_hardlink(e);
    if (hard && !c->o->input_tar)
        return unsafe(c, "is a hard link, which a zip cannot hold", err);
    if (hard && (rc = check_hardlink(c, hard, &self, err)) != DP_OK)
        return rc;
    if (self)
        return DP_OK;
    if (hard) {
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, c->target);
        archive_entry_set_size(e, 0);
    }
    rc = member_check(c, e, err);
    if (!rc)
        rc = tree_check(c,
                        archive_entry_filetype(e) == AE_IFDIR   ? SEEN_DIR
                        : archive_entry_filetype(e) == AE_IFLNK ? SEEN_LINK
                                                                : SEEN_FILE,
                        err);
    if (!rc)
        rc = write_member(c, e, hard != NULL, err);
    return rc;
}

/* The finish hook's file, written at the top like any member. */
static dp_rc write_extra(struct conv *c, const struct dp_zip2tar_extra *x, struct dp_err *err)
{
    struct archive_entry *e;
    dp_rc rc;

    dp_path_quote(c->q, sizeof(c->q), x->name, strlen(x->name), QUOTE_MAX);
    rc = dp_untar_member_name(c->name, sizeof(c->name), x->name, err);
    if (!rc && !c->name[0])
        rc = dp_err_set(err, DP_EINTERNAL, "an added member needs a name");
    if (!rc)
        rc = tree_check(c, SEEN_FILE, err);
    if (rc)
        return rc;
    e = archive_entry_new();
    if (!e)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, c->name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)x->len);
    archive_entry_set_mtime(e, 0, 0);
    c->want_data = false;
    rc = archive_write_header(c->out, e) == ARCHIVE_OK ? DP_OK : write_error(c, err);
    if (!rc && x->len)
        rc = write_all(c, x->data, x->len, err);
    archive_entry_free(e);
    if (!rc) {
        c->res->files++;
        c->res->bytes += x->len;
    }
    return rc;
}

static dp_rc open_input(struct conv *c, struct dp_err *err)
{
    c->in = archive_read_new();
    if (!c->in)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    if (!c->o->input_tar) {
        archive_read_support_format_zip_seekable(c->in); /* zip only, only the seekable reader */
    } else {
        archive_read_support_format_tar(c->in); /* ustar, pax, GNU */
        /* WARN would mean an external gzip program runs on a peer's bytes: never. */
        if (archive_read_support_filter_gzip(c->in) != ARCHIVE_OK) {
            archive_read_free(c->in);
            c->in = archive_read_new();
            if (!c->in)
                return dp_err_set(err, DP_ENOMEM, "out of memory");
            archive_read_support_format_tar(c->in);
        }
    }
    if (archive_read_open_filename(c->in, c->o->zip_path, READ_BLOCK) != ARCHIVE_OK)
        return read_error(c, err);
    return DP_OK;
}

static dp_rc open_both(struct conv *c, struct dp_err *err)
{
    dp_rc rc = open_input(c, err);

    if (rc)
        return rc;
    c->out = archive_write_new();
    if (!c->out)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    archive_write_set_format_pax_restricted(c->out);
    archive_write_set_bytes_per_block(c->out, WRITE_BLOCK);
    archive_write_set_bytes_in_last_block(c->out, 1);
    if (archive_write_open_fd(c->out, c->o->out_fd) != ARCHIVE_OK)
        return write_error(c, err);
    return DP_OK;
}

static dp_rc finish(struct conv *c, struct dp_err *err)
{
    struct dp_zip2tar_extra extra = {0};
    dp_rc rc;

    if (c->res->files == 0)
        return dp_err_setc(err, DP_EINVAL, "no_code", "the %s holds no files", kind(c));
    if (c->hook && c->hook->finish) {
        rc = c->hook->finish(c->hook->ud, &extra, err);
        if (!rc && extra.name)
            rc = write_extra(c, &extra, err);
        if (rc)
            return rc;
    }
    if (archive_write_close(c->out) != ARCHIVE_OK)
        return write_error(c, err);
    return DP_OK;
}

static dp_rc convert(struct conv *c, struct dp_err *err)
{
    struct archive_entry *e;
    dp_rc rc = open_both(c, err);
    int r;

    while (!rc && (r = archive_read_next_header(c->in, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) /* WARN is a name charset note; the name is still there */
            rc = read_error(c, err);
        else
            rc = one_entry(c, e, err);
    }
    return rc ? rc : finish(c, err);
}

dp_rc dp_zip2tar(struct dp_zip2tar_result *out, const struct dp_zip2tar_opts *o, struct dp_err *err)
{
    struct conv *c = calloc(1, sizeof(*c));
    struct utf8_locale loc;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    if (!c)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    c->o = o;
    c->hook = o->hook;
    c->res = out;
    c->max_bytes = o->max_bytes ? o->max_bytes : DP_ZIP_MAX_BYTES;
    c->max_entries = o->max_entries ? o->max_entries : DP_ZIP_MAX_ENTRIES;
    c->strip_len = o->strip ? strlen(o->strip) : 0;
    utf8_locale_enter(&loc);
    rc = convert(c, err);
    if (c->in)
        archive_read_free(c->in);
    if (c->out)
        archive_write_free(c->out);
    utf8_locale_leave(&loc);
    seen_free(&c->seen);
    free(c);
    return rc;
}

/* ---- the single top folder ---- */

/* Looks at one name: false once it decides there is no single top folder. */
static bool top_step(char *top, size_t size, const char *name, bool dir, bool *below)
{
    size_t seg = strcspn(name, "/");

    if (!name[0])
        return true; /* "./" */
    if (!name[seg] && !dir)
        return false; /* a file or link at the top */
    if (!top[0] && seg < size) {
        memcpy(top, name, seg);
        top[seg] = '\0';
    } else if (strlen(top) != seg || strncmp(top, name, seg) != 0) {
        return false;
    }
    *below = *below || name[seg] == '/';
    return true;
}

/* A symlink that stays inside the archive only by climbing out of the top folder and back in
 * ("top/a" -> "../top/b"): stripping that folder would make it escape. */
static bool link_needs_top(struct conv *c, struct archive_entry *e)
{
    const char *target = entry_symlink(e), *below = strchr(c->name, '/');

    return archive_entry_filetype(e) == AE_IFLNK && target && below &&
           dp_path_link_target_ok(c->name, target) && !dp_path_link_target_ok(below + 1, target);
}

/* Reads names until one decides; true when every member lies below the one folder in top. */
static bool top_scan(struct conv *c, char *top, size_t size)
{
    struct archive_entry *e;
    bool below = false;
    int r;

    while ((r = archive_read_next_header(c->in, &e)) != ARCHIVE_EOF) {
        const char *raw = r < ARCHIVE_WARN ? NULL : entry_path(e);
        bool skip;

        if (!raw || member_name(c, c->name, sizeof(c->name), raw, &skip, NULL))
            return false;
        if (!skip && !top_step(top, size, c->name, archive_entry_filetype(e) == AE_IFDIR, &below))
            return false;
        if (!skip && link_needs_top(c, e))
            return false;
    }
    return below;
}

dp_rc dp_zip2tar_top(char *top, size_t size, const struct dp_zip2tar_opts *o, struct dp_err *err)
{
    struct conv *c = calloc(1, sizeof(*c));
    struct utf8_locale loc;
    dp_rc rc;

    if (size)
        top[0] = '\0';
    if (!c || size == 0) {
        free(c);
        return size ? dp_err_set(err, DP_ENOMEM, "out of memory") : DP_OK;
    }
    c->o = o;
    utf8_locale_enter(&loc);
    rc = open_input(c, NULL); /* a damaged archive is dp_zip2tar's to report */
    if (rc || !top_scan(c, top, size))
        top[0] = '\0';
    if (c->in)
        archive_read_free(c->in);
    utf8_locale_leave(&loc);
    free(c);
    return rc == DP_ENOMEM ? dp_err_set(err, DP_ENOMEM, "out of memory") : DP_OK;
}
