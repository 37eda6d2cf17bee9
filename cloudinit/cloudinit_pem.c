#include "cloudinit_pem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PEM_LABEL_MAX 40 /* longest label we would ever echo, bytes */

enum pem_phase {
    PEM_BEGIN, /* expecting "-----BEGIN L-----" */
    PEM_FIRST, /* expecting the first base64 line */
    PEM_BODY,  /* expecting base64 or "-----END L-----" */
};

struct pem_state {
    const char *field;
    const char *const *labels;
    size_t max_blocks;
    enum pem_phase phase;
    const char *label; /* the open block's label, not NUL-terminated */
    size_t label_len;
    size_t b64;  /* base64 characters in the open block */
    bool padded; /* the last base64 line ended in '=' */
    size_t blocks;
    int lineno;
};

static dp_rc pem_fail(const struct pem_state *st, struct dp_err *err, const char *what)
{
    char code[DP_ERR_CODE_MAX];

    snprintf(code, sizeof(code), "invalid_%s", st->field);
    return dp_err_setc(err, DP_EINVAL, code, "%s: line %d: %s", st->field, st->lineno, what);
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool label_allowed(const struct pem_state *st, const char *label, size_t len)
{
    for (const char *const *l = st->labels; *l; l++) {
        if (strlen(*l) == len && memcmp(*l, label, len) == 0)
            return true;
    }
    return false;
}

/* A label made of capitals, digits and spaces is not secret; anything else is not echoed. */
static bool label_echoable(const char *label, size_t len)
{
    if (len == 0 || len > PEM_LABEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!(label[i] >= 'A' && label[i] <= 'Z') && !(label[i] >= '0' && label[i] <= '9') &&
            label[i] != ' ')
            return false;
    }
    return true;
}

static dp_rc pem_wrong_label(const struct pem_state *st, const char *label, size_t len,
                             struct dp_err *err)
{
    char what[DP_ERR_MSG_MAX / 2];
    size_t n;

    if (label_echoable(label, len))
        n = (size_t)snprintf(what, sizeof(what), "%.*s is not accepted here; expected", (int)len,
                             label);
    else
        n = (size_t)snprintf(what, sizeof(what), "unexpected PEM label; expected");
    for (const char *const *l = st->labels; *l && n < sizeof(what); l++) {
        const char *sep = l == st->labels ? " " : l[1] ? ", " : " or ";

        n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s", sep, *l);
    }
    return pem_fail(st, err, what);
}

static dp_rc pem_begin(struct pem_state *st, const char *line, size_t len, struct dp_err *err)
{
    static const char head[] = "-----BEGIN ", tail[] = "-----";
    size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;

    if (!has_prefix(line, len, head) || len < hl + tl + 1 || memcmp(line + len - tl, tail, tl) != 0)
        return pem_fail(st, err,
                        st->blocks ? "expected -----BEGIN after -----END"
                                   : "expected a -----BEGIN line");
    st->label = line + hl;
    st->label_len = len - hl - tl;
    if (!label_allowed(st, st->label, st->label_len))
        return pem_wrong_label(st, st->label, st->label_len, err);
    if (++st->blocks > st->max_blocks)
        return pem_fail(st, err,
                        st->max_blocks == 1 ? "only one PEM block is allowed" : "too many blocks");
    st->phase = PEM_FIRST;
    st->b64 = 0;
    st->padded = false;
    return DP_OK;
}

static dp_rc pem_end(struct pem_state *st, const char *line, size_t len, struct dp_err *err)
{
    static const char head[] = "-----END ";
    size_t hl = sizeof(head) - 1;

    if (len != hl + st->label_len + 5 || !has_prefix(line, len, head) ||
        memcmp(line + hl, st->label, st->label_len) != 0 || memcmp(line + len - 5, "-----", 5) != 0)
        return pem_fail(st, err, "expected the -----END line of the open block");
    if (st->b64 % 4)
        return pem_fail(st, err, "the block's base64 length is not a multiple of 4");
    st->phase = PEM_BEGIN;
    return DP_OK;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static dp_rc pem_body(struct pem_state *st, const char *line, size_t len, struct dp_err *err)
{
    size_t i = 0, pad;

    if (st->padded)
        return pem_fail(st, err, "base64 continues after '=' padding");
    if (len > CLOUDINIT_PEM_LINE_MAX)
        return pem_fail(st, err, "base64 line longer than 76 characters");
    while (i < len && b64_char(line[i]))
        i++;
    for (pad = 0; i + pad < len && line[i + pad] == '=';)
        pad++;
    if (i + pad != len || pad > 2 || i == 0)
        return pem_fail(st, err, "not a base64 line (headers and other text are refused)");
    st->padded = pad > 0;
    st->b64 += len;
    st->phase = PEM_BODY;
    return DP_OK;
}

static dp_rc pem_line(struct pem_state *st, const char *line, size_t len, struct dp_err *err)
{
    if (len == 0)
        return pem_fail(st, err, "empty line");
    switch (st->phase) {
    case PEM_BEGIN:
        return pem_begin(st, line, len, err);
    case PEM_BODY:
        if (has_prefix(line, len, "-----"))
            return pem_end(st, line, len, err);
        return pem_body(st, line, len, err);
    case PEM_FIRST:
        break;
    }
    return pem_body(st, line, len, err);
}

/* Only printable ASCII and '\n': no '\r', tabs, NULs or bytes YAML would have to escape. */
static dp_rc pem_charset(struct pem_state *st, const char *pem, struct dp_err *err)
{
    st->lineno = 1;
    for (const unsigned char *p = (const unsigned char *)pem; *p; p++) {
        if (*p == '\n')
            st->lineno++;
        else if (*p < 0x20 || *p >= 0x7f)
            return pem_fail(st, err, "control character or non-ASCII byte");
    }
    return DP_OK;
}

dp_rc cloudinit_pem_check(const char *pem, const char *field, const char *const *labels,
                          size_t max_blocks, struct dp_err *err)
{
    struct pem_state st = {.field = field, .labels = labels, .max_blocks = max_blocks};
    const char *p = pem;
    dp_rc rc;

    if (!pem || !*pem) {
        st.lineno = 1;
        return pem_fail(&st, err, "empty; a PEM block is needed");
    }
    rc = pem_charset(&st, pem, err);
    st.lineno = 0;
    while (rc == DP_OK && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        st.lineno++;
        rc = pem_line(&st, p, len, err);
        p += len + (nl ? 1 : 0);
    }
    if (rc == DP_OK && st.phase != PEM_BEGIN)
        rc = pem_fail(&st, err, "the last block has no -----END line");
    return rc;
}
