#include "dp_path.h"

#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 80 /* visible bytes of a client path in a message */

void dp_path_quote(char *out, size_t size, const char *s, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, shown = 0, i;

    if (size == 0)
        return;
    for (i = 0; i < len && shown < max; i++, shown++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= size)
                break;
            out[o++] = (char)c;
            continue;
        }
        if (o + 4 >= size)
            break;
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    if (i < len && o + 3 < size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static bool seg_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static dp_rc bad_path(struct dp_err *err, const char *in, const char *why)
{
    char q[QUOTE_MAX * 4 + 8];

    dp_path_quote(q, sizeof(q), in, strlen(in), QUOTE_MAX);
    return dp_err_setc(err, DP_EINVAL, "invalid_path", "path '%s' %s", q, why);
}

/* Checks one segment (not "" or "."); returns why it is refused, or NULL. */
static const char *seg_problem(const char *seg, size_t n)
{
    if (n == 2 && seg[0] == '.' && seg[1] == '.')
        return "has a '..' segment; name the folder directly";
    if (n > DP_PATH_SEG_MAX)
        return "has a segment longer than 255 bytes";
    if (seg[0] == '.' || seg[0] == '-')
        return "has a segment starting with '.' or '-'";
    for (size_t i = 0; i < n; i++) {
        if (!seg_char_ok(seg[i]))
            return "may only use letters, digits, '.', '_', '-' and '/'";
    }
    return NULL;
}

static dp_rc normalize_into(char *out, size_t size, const char *in, struct dp_err *err)
{
    size_t o = 0;

    for (const char *p = in; *p;) {
        size_t n = strcspn(p, "/");
        const char *why;

        if (n == 0 || (n == 1 && p[0] == '.')) {
            p += n + (p[n] == '/');
            continue;
        }
        why = seg_problem(p, n);
        if (why)
            return bad_path(err, in, why);
        if (o + 1 + n + 1 > size)
            return dp_err_set(err, DP_ETOOBIG, "normalised path does not fit %zu bytes", size);
        out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        out[o] = '\0';
        p += n + (p[n] == '/');
    }
    if (o == 0)
        return bad_path(err, in, "names the data root itself; name a folder such as /app/NAME");
    return DP_OK;
}

dp_rc dp_path_normalize(char *out, size_t size, const char *in, struct dp_err *err)
{
    dp_rc rc;

    if (size == 0)
        return dp_err_set(err, DP_ETOOBIG, "no room for a path");
    out[0] = '\0';
    if (!in || !*in)
        return dp_err_setc(err, DP_EINVAL, "invalid_path", "path is empty");
    if (strnlen(in, DP_PATH_MAX + 1) > DP_PATH_MAX)
        return dp_err_setc(err, DP_EINVAL, "invalid_path", "path is longer than %d bytes",
                           DP_PATH_MAX);
    rc = normalize_into(out, size, in, err);
    if (rc)
        out[0] = '\0'; /* never a half-made path */
    return rc;
}

dp_rc dp_path_under_root(char *abs_out, size_t size, const char *data_root, const char *normalized,
                         struct dp_err *err)
{
    char check[DP_PATH_MAX + 1];
    size_t rlen;
    dp_rc rc;
    int n;

    if (size)
        abs_out[0] = '\0';
    if (!data_root || data_root[0] != '/')
        return dp_err_set(err, DP_EINVAL, "the data root must be an absolute path");
    rc = dp_path_normalize(check, sizeof(check), normalized, err);
    if (rc)
        return rc;
    if (strcmp(check, normalized) != 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_path", "path is not normalised");
    rlen = strlen(data_root);
    while (rlen > 0 && data_root[rlen - 1] == '/')
        rlen--; /* "/" or "/srv/" as the root: no doubled slash */
    n = snprintf(abs_out, size, "%.*s%s", (int)rlen, data_root, normalized);
    if (n < 0 || (size_t)n >= size) {
        if (size)
            abs_out[0] = '\0';
        return dp_err_set(err, DP_ETOOBIG, "path below the data root is longer than %zu bytes",
                          size - 1);
    }
    return DP_OK;
}

/* Segments of s, skipping empty and "." ones. */
static size_t count_segments(const char *s)
{
    size_t n = 0;

    while (*s) {
        size_t len = strcspn(s, "/");

        if (len > 0 && !(len == 1 && s[0] == '.'))
            n++;
        s += len + (s[len] == '/');
    }
    return n;
}

bool dp_path_link_target_ok(const char *member, const char *target)
{
    size_t depth, ups = 0;
    bool climbing = true;

    if (!member || !target || !*target || target[0] == '/')
        return false;
    depth = count_segments(member);
    if (depth == 0)
        return false;
    depth--; /* the link's own directory */
    for (const char *p = target; *p;) {
        size_t len = strcspn(p, "/");
        bool up = len == 2 && p[0] == '.' && p[1] == '.';

        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return false;
        }
        if (up && !climbing)
            return false; /* "a/../b" could climb out of a link "a" */
        if (up)
            ups++;
        else if (len > 0 && !(len == 1 && p[0] == '.'))
            climbing = false;
        p += len + (p[len] == '/');
    }
    return ups <= depth;
}
