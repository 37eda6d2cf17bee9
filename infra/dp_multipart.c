#include "dp_multipart.h"

#include "dp_buf.h"
#include "dp_path.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DELIM_MAX    (4 + DP_MULTIPART_BOUNDARY_MAX) /* "\r\n--" + boundary */
#define PREAMBLE_MAX (64UL * 1024)                   /* bytes before the first boundary */
#define PADDING_MAX  64                              /* spaces after a boundary */
#define QUOTE_MAX    64                              /* visible bytes of a name in a message */
#define QUOTE_BUF    (QUOTE_MAX * 4 + 8)
#define TEMP_NAME    "/dp-upload-XXXXXX"
#define FORM_DATA    "multipart/form-data"
#define FILE_CHARS   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-"

/* ---- the Content-Type ---- */

static dp_rc fail(struct dp_err *err, dp_rc rc, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static dp_rc fail(struct dp_err *err, dp_rc rc, const char *code, const char *fmt, va_list ap)
{
    char msg[DP_ERR_MSG_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    return dp_err_setc(err, rc, code, "%s", msg);
}

/* DP_EINVAL "invalid_multipart". */
static dp_rc bad(struct dp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static dp_rc bad(struct dp_err *err, const char *fmt, ...)
{
    va_list ap;
    dp_rc rc;

    va_start(ap, fmt);
    rc = fail(err, DP_EINVAL, "invalid_multipart", fmt, ap);
    va_end(ap);
    return rc;
}

/* DP_ETOOBIG "field_too_large". */
static dp_rc too_large(struct dp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static dp_rc too_large(struct dp_err *err, const char *fmt, ...)
{
    va_list ap;
    dp_rc rc;

    va_start(ap, fmt);
    rc = fail(err, DP_ETOOBIG, "field_too_large", fmt, ap);
    va_end(ap);
    return rc;
}

/* s for a message: shortened, control and non-ASCII bytes escaped. */
static const char *quoted(char *q, const char *s)
{
    dp_path_quote(q, QUOTE_BUF, s ? s : "", s ? strlen(s) : 0, QUOTE_MAX);
    return q;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* One parameter value at *p, quoted (with \" and \\ escapes) or a token, into out (NULL: only
 * skipped). Returns false when it is unterminated or does not fit. */
static bool param_value(const char **p, char *out, size_t size)
{
    const char *s = *p;
    size_t o = 0;
    bool quoted = *s == '"';

    s += quoted;
    while (*s && (quoted ? *s != '"' : (*s != ';' && *s != ' ' && *s != '\t'))) {
        if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
            s++;
        if (out && o + 1 >= size)
            return false;
        if (out)
            out[o++] = *s;
        s++;
    }
    if (quoted && *s != '"')
        return false;
    if (out)
        out[o] = '\0';
    *p = s + quoted;
    return true;
}

/* Walks "; key=value" parameters from p; copies the value of key into out. *found tells if it
 * was there; false on a malformed list or a value that does not fit. */
static bool param_find(const char *p, const char *key, char *out, size_t size, bool *found)
{
    size_t klen = strlen(key);

    *found = false;
    for (p = skip_ws(p); *p; p = skip_ws(p)) {
        const char *name, *eq;
        bool want;

        if (*p != ';')
            return false;
        name = skip_ws(p + 1);
        if (!*name)
            return true; /* a trailing ';' */
        eq = strchr(name, '=');
        if (!eq)
            return false;
        want = !*found && (size_t)(eq - name) == klen && strncasecmp(name, key, klen) == 0;
        p = skip_ws(eq + 1);
        if (!param_value(&p, want ? out : NULL, size))
            return false;
        *found = *found || want;
    }
    return true;
}

static bool boundary_ok(const char *b)
{
    static const char bchars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789'()+_,-./:=? ";
    size_t n = strlen(b);

    return n > 0 && n <= DP_MULTIPART_BOUNDARY_MAX && strspn(b, bchars) == n && b[n - 1] != ' ';
}

dp_rc dp_multipart_boundary(char *out, size_t size, const char *content_type, struct dp_err *err)
{
    const char *p = content_type ? skip_ws(content_type) : "";
    char q[QUOTE_BUF];
    bool found = false;
    size_t tlen = strlen(FORM_DATA);

    if (size)
        out[0] = '\0';
    if (strncasecmp(p, FORM_DATA, tlen) != 0 || (p[tlen] && !strchr("; \t", p[tlen])))
        return bad(err, "the body must be multipart/form-data, not '%s'", quoted(q, p));
    if (!param_find(p + tlen, "boundary", out, size, &found) || !found || !boundary_ok(out)) {
        if (size)
            out[0] = '\0';
        return bad(err, "the Content-Type '%s' has no valid boundary (1 to 70 characters)",
                   quoted(q, p));
    }
    return DP_OK;
}

/* ---- the parser ---- */

enum state { PREAMBLE, AFTER_DELIM, PADDING, HEADERS, BODY, EPILOGUE };
enum kind { TEXT, FILE_PART, OTHER_FILE };

struct mp {
    const struct dp_multipart_opts *o;
    struct dp_multipart_result *res;
    char delim[DELIM_MAX + 1]; /* "\r\n--" + boundary */
    size_t dlen;
    enum state state;
    char *buf; /* DP_MULTIPART_BLOCK + DP_MULTIPART_HEADERS_MAX + DELIM_MAX */
    size_t len, pos, cap;
    unsigned long long preamble, max_file;
    unsigned padding, parts, texts;
    size_t text_total;
    bool eof;
    /* the part being read */
    enum kind kind;
    bool has_filename;
    char name[DP_MULTIPART_NAME_MAX + 1];
    char filename[DP_MULTIPART_FILENAME_MAX + 1];
    struct dp_buf value;
    int fd;
    char q[QUOTE_BUF]; /* the part's name for messages */
};

/* The last path segment of raw, restricted to FILE_CHARS (others become '_'), no leading dot. */
static void sanitize_filename(char *out, size_t size, const char *raw)
{
    const char *base = raw;
    size_t o = 0;

    for (const char *s = raw; *s; s++) {
        if (*s == '/' || *s == '\\')
            base = s + 1;
    }
    for (; *base && o + 1 < size; base++) {
        if (strchr(FILE_CHARS, *base))
            out[o++] = *base;
        else
            out[o++] = '_';
    }
    out[o] = '\0';
    if (out[0] == '.')
        out[0] = '_';
}

static bool name_ok(const char *s)
{
    json_t *probe;

    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    }
    probe = json_string(s); /* NULL when not UTF-8 */
    json_decref(probe);
    return s[0] && probe;
}

/* Content-Disposition: form-data; name="..."[; filename="..."] */
static dp_rc disposition(struct mp *m, const char *v, struct dp_err *err)
{
    char raw[DP_MULTIPART_HEADERS_MAX], q[QUOTE_BUF];
    bool found;

    if (strncasecmp(v, "form-data", 9) != 0 || (v[9] && !strchr("; \t", v[9])))
        return bad(err, "a part's Content-Disposition must be form-data, not '%s'", quoted(q, v));
    if (!param_find(v + 9, "name", raw, sizeof(raw), &found) || !found)
        return bad(err, "a part's Content-Disposition '%s' has no name", quoted(q, v));
    if (strlen(raw) > DP_MULTIPART_NAME_MAX)
        return too_large(err, "a field name is longer than 64 bytes");
    if (!name_ok(raw))
        return bad(err, "the field name '%s' is empty or not UTF-8 text", quoted(q, raw));
    memcpy(m->name, raw, strlen(raw) + 1);
    dp_path_quote(m->q, sizeof(m->q), m->name, strlen(m->name), QUOTE_MAX);
    if (!param_find(v + 9, "filename", raw, sizeof(raw), &found))
        return bad(err, "a part's Content-Disposition '%s' is malformed", quoted(q, v));
    m->has_filename = found;
    if (found)
        sanitize_filename(m->filename, sizeof(m->filename), raw);
    return DP_OK;
}

/* One header line (NUL-terminated, no CRLF). Only Content-Disposition matters. */
static dp_rc header_line(struct mp *m, char *line, bool *seen_cd, struct dp_err *err)
{
    char *colon = strchr(line, ':'), q[QUOTE_BUF];
    size_t n = colon ? (size_t)(colon - line) : 0;

    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (!colon || n == 0)
        return bad(err, "a part header '%s' has no name", quoted(q, line));
    if (n != 19 || strncasecmp(line, "Content-Disposition", 19) != 0)
        return DP_OK;
    if (*seen_cd)
        return bad(err, "a part has two Content-Disposition headers");
    *seen_cd = true;
    return disposition(m, skip_ws(colon + 1), err);
}

/* Text, the file, or a file that is not the one asked for. */
static enum kind part_kind(const struct mp *m)
{
    if (!m->o->file_field)
        return m->has_filename ? FILE_PART : TEXT;
    if (strcmp(m->name, m->o->file_field) == 0)
        return FILE_PART;
    return m->has_filename ? OTHER_FILE : TEXT;
}

/* The part's header block (len bytes at block, CRLF-separated lines; cut in place). */
static dp_rc part_headers(struct mp *m, char *block, size_t len, struct dp_err *err)
{
    bool seen_cd = false;
    dp_rc rc = DP_OK;

    if (memchr(block, '\0', len))
        return bad(err, "a part's headers hold a NUL byte");
    if (len && (block[0] == ' ' || block[0] == '\t' || memmem(block, len, "\r\n ", 3) ||
                memmem(block, len, "\r\n\t", 3)))
        return bad(err, "a part header is folded over lines (obsolete; send one line)");
    block[len] = '\0';
    for (char *line = len ? block : NULL; !rc && line;) {
        char *end = strstr(line, "\r\n");

        if (end)
            *end = '\0';
        rc = header_line(m, line, &seen_cd, err);
        line = end ? end + 2 : NULL;
    }
    if (!rc && !seen_cd)
        return bad(err, "a part has no Content-Disposition header");
    return rc;
}

static dp_rc part_start(struct mp *m, char *block, size_t len, struct dp_err *err)
{
    dp_rc rc;

    m->has_filename = false;
    m->filename[0] = m->name[0] = '\0';
    m->fd = -1;
    dp_buf_reset(&m->value);
    rc = part_headers(m, block, len, err);
    if (rc)
        return rc;
    m->kind = part_kind(m);
    if (++m->parts > DP_MULTIPART_FIELDS_MAX + 1) /* the fields and the file */
        return too_large(err, "the form has more than 64 fields");
    return DP_OK;
}

static dp_rc file_open(struct mp *m, struct dp_err *err)
{
    char *path = m->res->file_path;
    const char *dir = m->o->spool_dir;
    int n;

    if (m->kind == OTHER_FILE)
        return bad(err, "the form has a file in part '%s'; send it as the file part", m->q);
    if (m->res->file_field[0])
        return bad(err, "the form has a second file (part '%s'); send one", m->q);
    n = snprintf(path, sizeof(m->res->file_path), "%s" TEMP_NAME, dir ? dir : "");
    if (!dir || !dir[0] || n < 0 || (size_t)n >= sizeof(m->res->file_path)) {
        path[0] = '\0';
        return dp_err_set(err, DP_EINVAL, "the spool folder is missing or its path is too long");
    }
    m->fd = mkostemp(path, O_CLOEXEC);
    if (m->fd < 0 || fchmod(m->fd, 0600) != 0) {
        dp_err_set(err, DP_EIO, "cannot create a temp file in %s: %s", dir, strerror(errno));
        if (m->fd >= 0)
            close(m->fd);
        m->fd = -1;
        unlink(path);
        path[0] = '\0';
        return err ? err->rc : DP_EIO;
    }
    snprintf(m->res->file_field, sizeof(m->res->file_field), "%s", m->name);
    snprintf(m->res->file_name, sizeof(m->res->file_name), "%s", m->filename);
    return DP_OK;
}

static dp_rc file_write(struct mp *m, const char *p, size_t n, struct dp_err *err)
{
    if (m->res->file_bytes + n > m->max_file)
        return dp_err_setc(err, DP_ETOOBIG, "upload_too_large",
                           "the file is larger than %llu bytes", m->max_file);
    m->res->file_bytes += n;
    while (n > 0) {
        ssize_t w = write(m->fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return dp_err_set(err, DP_EIO, "cannot write the upload to disk: %s",
                              w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
    }
    return DP_OK;
}

/* Bytes of the current part's content. */
static dp_rc part_data(struct mp *m, const char *p, size_t n, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    if (n == 0)
        return DP_OK;
    if (m->kind == TEXT) {
        if (m->text_total + n > DP_MULTIPART_TEXT_MAX)
            return too_large(err, "the form's text fields hold more than 8 MiB");
        m->text_total += n;
        rc = dp_buf_append(&m->value, p, n);
        if (rc == DP_ETOOBIG)
            return too_large(err, "field '%s' is longer than 1 MiB", m->q);
        return rc ? dp_err_set(err, rc, "out of memory") : DP_OK;
    }
    if (m->fd < 0)
        rc = file_open(m, err);
    return rc ? rc : file_write(m, p, n, err);
}

static dp_rc add_field(struct mp *m, struct dp_err *err)
{
    json_t *v = json_stringn(m->value.data ? m->value.data : "", m->value.len);
    json_t *old = json_object_get(m->res->fields, m->name), *arr;

    if (!v)
        return bad(err, "field '%s' is not UTF-8 text", m->q);
    if (++m->texts > DP_MULTIPART_FIELDS_MAX) {
        json_decref(v);
        return too_large(err, "the form has more than 64 fields");
    }
    if (!old)
        return json_object_set_new(m->res->fields, m->name, v)
                   ? dp_err_set(err, DP_ENOMEM, "out of memory")
                   : DP_OK;
    if (json_is_array(old))
        return json_array_append_new(old, v) ? dp_err_set(err, DP_ENOMEM, "out of memory") : DP_OK;
    arr = json_array();
    if (!arr || json_array_append(arr, old) || json_array_append_new(arr, v) ||
        json_object_set_new(m->res->fields, m->name, arr)) {
        json_decref(v);
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    return DP_OK;
}

static dp_rc part_end(struct mp *m, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    if (m->kind == TEXT)
        return add_field(m, err);
    if (m->fd < 0 && m->has_filename && m->filename[0])
        rc = file_open(m, err); /* an empty file with a name is still the file */
    if (m->fd >= 0 && close(m->fd) != 0 && !rc)
        rc = dp_err_set(err, DP_EIO, "cannot write the upload to disk: %s", strerror(errno));
    m->fd = -1;
    return rc; /* an empty, nameless file input (a browser's) is no file */
}

/* ---- the state machine over buf[pos, len) ---- */

static dp_rc truncated(struct mp *m, struct dp_err *err)
{
    if (m->state == PREAMBLE)
        return bad(err, "the body has no boundary line");
    if (m->state == BODY)
        return bad(err, "the body ends inside part '%s' (no closing boundary)", m->q);
    if (m->state == HEADERS)
        return bad(err, "the body ends inside a part's headers");
    return bad(err, "the body ends right after a boundary (no closing '--')");
}

/* Looks for the delimiter; emits (or drops) what cannot belong to it. */
static dp_rc scan_delim(struct mp *m, bool *more, struct dp_err *err)
{
    const char *hit = memmem(m->buf + m->pos, m->len - m->pos, m->delim, m->dlen);
    size_t end = hit ? (size_t)(hit - m->buf) : m->len > m->dlen - 1 ? m->len - (m->dlen - 1) : 0;
    dp_rc rc = DP_OK;

    if (end < m->pos)
        end = m->pos;
    if (m->state == BODY)
        rc = part_data(m, m->buf + m->pos, end - m->pos, err);
    else if ((m->preamble += end - m->pos) > PREAMBLE_MAX)
        return bad(err, "no boundary line in the first 64 KiB of the body");
    if (rc)
        return rc;
    m->pos = end;
    if (!hit) {
        *more = true;
        return DP_OK;
    }
    if (m->state == BODY && (rc = part_end(m, err)) != DP_OK)
        return rc;
    m->pos += m->dlen;
    m->state = AFTER_DELIM;
    m->padding = 0;
    return DP_OK;
}

static dp_rc after_delim(struct mp *m, bool *more, struct dp_err *err)
{
    const char *p = m->buf + m->pos;
    size_t avail = m->len - m->pos;

    if (m->state == AFTER_DELIM) {
        if (avail < 2) {
            *more = true;
            return DP_OK;
        }
        m->state = p[0] == '-' && p[1] == '-' ? EPILOGUE : PADDING;
        m->pos += m->state == EPILOGUE ? 2 : 0;
        return DP_OK;
    }
    while (avail > 0 && (*p == ' ' || *p == '\t')) {
        if (++m->padding > PADDING_MAX)
            return bad(err, "a boundary line goes on after the boundary");
        p++, avail--, m->pos++;
    }
    if (avail < 2) {
        *more = true;
        return DP_OK;
    }
    if (p[0] != '\r' || p[1] != '\n')
        return bad(err, "a boundary line goes on after the boundary (or is not CRLF)");
    m->state = HEADERS; /* pos stays on this CRLF: an empty header block is "\r\n\r\n" */
    return DP_OK;
}

static dp_rc headers(struct mp *m, bool *more, struct dp_err *err)
{
    const char *hit = memmem(m->buf + m->pos, m->len - m->pos, "\r\n\r\n", 4);
    size_t start = m->pos + 2, end;
    dp_rc rc;

    if (!hit) {
        if (m->len - m->pos > DP_MULTIPART_HEADERS_MAX + 4)
            return too_large(err, "a part's headers are longer than 8 KiB");
        *more = true;
        return DP_OK;
    }
    end = (size_t)(hit - m->buf);
    if (end - m->pos > DP_MULTIPART_HEADERS_MAX + 2)
        return too_large(err, "a part's headers are longer than 8 KiB");
    /* The block is cut in place (a NUL on the blank line's first CR). */
    rc = part_start(m, m->buf + start, end > start ? end - start : 0, err);
    if (rc)
        return rc;
    m->pos = end + 4;
    m->state = BODY;
    return DP_OK;
}

/* Consumes what it can of buf; stops when it needs more bytes or the form ended. */
static dp_rc process(struct mp *m, struct dp_err *err)
{
    bool more = false;
    dp_rc rc = DP_OK;

    while (!rc && !more && m->state != EPILOGUE) {
        switch (m->state) {
        case PREAMBLE:
        case BODY:
            rc = scan_delim(m, &more, err);
            break;
        case AFTER_DELIM:
        case PADDING:
            rc = after_delim(m, &more, err);
            break;
        default:
            rc = headers(m, &more, err);
            break;
        }
    }
    if (!rc && more && m->eof)
        rc = truncated(m, err);
    return rc;
}

static dp_rc pull(struct mp *m, struct dp_err *err)
{
    size_t room = m->cap - m->len;
    long n = m->o->read(m->o->read_ud, m->buf + m->len,
                        room < DP_MULTIPART_BLOCK ? room : DP_MULTIPART_BLOCK);

    if (n < 0)
        return dp_err_set(err, DP_ECANCELED, "the client went away after %llu bytes",
                          m->res->received);
    m->eof = n == 0;
    m->len += (size_t)n;
    m->res->received += (unsigned long long)n;
    return DP_OK;
}

/* Reads what follows the closing boundary (bounded) so the connection can stay. */
static void drain(struct mp *m)
{
    unsigned long long extra = 0;
    long n = 1;

    while (!m->eof && extra <= DP_MULTIPART_EPILOGUE_MAX) {
        n = m->o->read(m->o->read_ud, m->buf, DP_MULTIPART_BLOCK);
        if (n <= 0)
            break;
        extra += (unsigned long long)n;
        m->res->received += (unsigned long long)n;
    }
    m->res->drained = m->eof || n == 0;
}

static dp_rc run(struct mp *m, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    while (!rc && m->state != EPILOGUE) {
        rc = pull(m, err);
        if (!rc)
            rc = process(m, err);
        if (!rc) {
            memmove(m->buf, m->buf + m->pos, m->len - m->pos);
            m->len -= m->pos;
            m->pos = 0;
        }
    }
    if (!rc)
        drain(m);
    return rc;
}

static dp_rc mp_init(struct mp *m, const struct dp_multipart_opts *o,
                     struct dp_multipart_result *out, struct dp_err *err)
{
    char boundary[DP_MULTIPART_BOUNDARY_MAX + 1];
    dp_rc rc = dp_multipart_boundary(boundary, sizeof(boundary), o->content_type, err);

    if (rc)
        return rc;
    m->o = o;
    m->res = out;
    m->fd = -1;
    m->max_file = o->max_file ? o->max_file : DP_MULTIPART_FILE_MAX;
    m->dlen = (size_t)snprintf(m->delim, sizeof(m->delim), "\r\n--%s", boundary);
    dp_buf_init(&m->value, DP_MULTIPART_VALUE_MAX);
    m->cap = DP_MULTIPART_BLOCK + DP_MULTIPART_HEADERS_MAX + DELIM_MAX + 8;
    m->buf = malloc(m->cap);
    out->fields = json_object();
    if (!m->buf || !out->fields)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    memcpy(m->buf, "\r\n", 2); /* so a boundary at the very start is a delimiter too */
    m->len = 2;
    return DP_OK;
}

dp_rc dp_multipart_read(struct dp_multipart_result *out, const struct dp_multipart_opts *o,
                        struct dp_err *err)
{
    struct mp *m = calloc(1, sizeof(*m));
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    if (!m)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    rc = mp_init(m, o, out, err);
    if (!rc)
        rc = run(m, err);
    if (m->fd >= 0)
        close(m->fd);
    if (rc) {
        unsigned long long received = out->received;

        dp_multipart_result_clear(out);
        out->received = received;
    }
    dp_buf_clear(&m->value);
    free(m->buf);
    free(m);
    return rc;
}

void dp_multipart_result_clear(struct dp_multipart_result *r)
{
    if (r->file_path[0])
        unlink(r->file_path);
    json_decref(r->fields);
    memset(r, 0, sizeof(*r));
}
