#include "cloudinit_template.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *cloudinit_template_find(const char *name)
{
    for (size_t i = 0; i < cloudinit_nembedded; i++) {
        if (strcmp(cloudinit_embedded[i].name, name) == 0)
            return cloudinit_embedded[i].text;
    }
    return NULL;
}

static dp_rc put_indent(struct dp_buf *out, size_t indent)
{
    return dp_buf_appendf(out, "%*s", (int)indent, "");
}

/* TEXT: lines after the first continue at the placeholder line's indentation. */
static dp_rc emit_text(struct dp_buf *out, const char *v, size_t indent)
{
    dp_rc rc = DP_OK;

    for (const char *nl; rc == DP_OK && (nl = strchr(v, '\n')); v = nl + 1) {
        rc = dp_buf_append(out, v, (size_t)(nl - v + 1));
        if (rc == DP_OK && nl[1])
            rc = put_indent(out, indent);
    }
    return rc ? rc : dp_buf_puts(out, v);
}

static dp_rc emit_quoted(struct dp_buf *out, const struct cloudinit_var *var, struct dp_err *err)
{
    dp_rc rc = dp_buf_puts(out, "\"");

    for (const unsigned char *p = (const unsigned char *)var->value; rc == DP_OK && *p; p++) {
        if (*p >= 0x80)
            return dp_err_set(err, DP_EINVAL, "%s is not ASCII", var->name);
        if (*p == '"' || *p == '\\')
            rc = dp_buf_appendf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            rc = dp_buf_appendf(out, "\\x%02x", *p);
        else
            rc = dp_buf_append(out, p, 1);
    }
    return rc ? rc : dp_buf_puts(out, "\"");
}

/* True when text can be a literal block scalar that reads back byte for byte. */
static bool block_ok(const char *text)
{
    size_t n = strlen(text);

    if (n == 0 || text[0] == ' ' || text[0] == '\n')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];

        if ((c < 0x20 && c != '\n') || c >= 0x7f)
            return false;
        /* Empty lines change the chomping; leading spaces make indentation ambiguous. */
        if (c == '\n' && i + 1 < n && (text[i + 1] == '\n' || text[i + 1] == ' '))
            return false;
    }
    return true;
}

static dp_rc emit_block(struct dp_buf *out, const struct cloudinit_var *var, size_t indent,
                        struct dp_err *err)
{
    const char *v = var->value;
    size_t n = strlen(v);
    dp_rc rc;

    if (!block_ok(v))
        return dp_err_set(err, DP_EINVAL, "%s cannot be written as a YAML block", var->name);
    rc = dp_buf_puts(out, v[n - 1] == '\n' ? "|" : "|-");
    while (rc == DP_OK && *v) {
        const char *nl = strchr(v, '\n');
        size_t len = nl ? (size_t)(nl - v) : strlen(v);

        rc = dp_buf_puts(out, "\n");
        if (rc == DP_OK)
            rc = put_indent(out, indent + 2);
        if (rc == DP_OK)
            rc = dp_buf_append(out, v, len);
        v += len + (nl ? 1 : 0);
    }
    return rc;
}

static const struct cloudinit_var *var_find(const struct cloudinit_var *vars, size_t nvars,
                                            const char *name, size_t len)
{
    for (size_t i = 0; i < nvars; i++) {
        if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
            return &vars[i];
    }
    return NULL;
}

/* The variable of the placeholder at p ("{{name}}" or "{{?name}}"); *end is past its "}}". */
static const struct cloudinit_var *placeholder(const char *p, const char **end,
                                               const struct cloudinit_var *vars, size_t nvars,
                                               struct dp_err *err)
{
    const char *name = p + 2 + (p[2] == '?');
    const char *close = strstr(name, "}}");
    const char *nl = strchr(name, '\n');
    const struct cloudinit_var *v;

    if (!close || (nl && nl < close)) {
        dp_err_set(err, DP_EINTERNAL, "template has an unterminated placeholder");
        return NULL;
    }
    v = var_find(vars, nvars, name, (size_t)(close - name));
    if (!v)
        dp_err_set(err, DP_EINTERNAL, "template names an unknown value '%.*s'",
                   (int)(close - name) > 40 ? 40 : (int)(close - name), name);
    else if (!v->value) /* {{?name}} lines without a value were left out before */
        dp_err_set(err, DP_EINTERNAL, "template value '%s' is missing", v->name);
    *end = close + 2;
    return v && v->value ? v : NULL;
}

static dp_rc emit_var(struct dp_buf *out, const struct cloudinit_var *v, size_t indent,
                      struct dp_err *err)
{
    switch (v->kind) {
    case CLOUDINIT_TEXT:
        return emit_text(out, v->value, indent);
    case CLOUDINIT_QUOTED:
        return emit_quoted(out, v, err);
    case CLOUDINIT_BLOCK:
        return emit_block(out, v, indent, err);
    case CLOUDINIT_GUARD:
        return DP_OK;
    }
    return dp_err_set(err, DP_EINTERNAL, "template value '%s' has no known kind", v->name);
}

/* True when the line [p, eol) holds a {{?name}} whose value is absent. */
static bool line_dropped(const char *p, const char *eol, const struct cloudinit_var *vars,
                         size_t nvars)
{
    for (const char *q = p; (q = strstr(q, "{{?")) && q < eol; q += 3) {
        const char *close = strstr(q, "}}");
        const struct cloudinit_var *v;

        if (!close || close > eol)
            return false; /* the expansion reports it */
        v = var_find(vars, nvars, q + 3, (size_t)(close - q - 3));
        if (v && !v->value)
            return true;
    }
    return false;
}

/* Expands one line [p, eol) and its newline, if any. */
static dp_rc expand_line(struct dp_buf *out, const char *p, const char *eol,
                         const struct cloudinit_var *vars, size_t nvars, struct dp_err *err)
{
    size_t indent = strspn(p, " ");
    dp_rc rc = DP_OK;

    while (rc == DP_OK && p < eol) {
        const char *ph = strstr(p, "{{");
        const struct cloudinit_var *v;

        if (!ph || ph >= eol)
            ph = eol;
        rc = dp_buf_append(out, p, (size_t)(ph - p));
        if (rc || ph == eol)
            break;
        v = placeholder(ph, &p, vars, nvars, err);
        if (!v)
            return DP_EINTERNAL;
        rc = emit_var(out, v, indent, err);
    }
    if (rc == DP_OK && *eol == '\n')
        rc = dp_buf_puts(out, "\n");
    return rc;
}

dp_rc cloudinit_template_expand(struct dp_buf *out, const char *tmpl,
                                const struct cloudinit_var *vars, size_t nvars, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    for (const char *p = tmpl; rc == DP_OK && *p;) {
        const char *eol = strchr(p, '\n');

        if (!eol)
            eol = p + strlen(p);
        if (!line_dropped(p, eol, vars, nvars))
            rc = expand_line(out, p, eol, vars, nvars, err);
        p = *eol ? eol + 1 : eol;
    }
    if (rc == DP_ETOOBIG)
        dp_err_setc(err, rc, "user_data_too_large",
                    "the user-data would be larger than %lu bytes (DigitalOcean takes < 64 KiB)",
                    (unsigned long)out->cap);
    else if (rc == DP_ENOMEM)
        dp_err_set(err, rc, "out of memory rendering user-data");
    return rc;
}

dp_rc cloudinit_render(struct dp_buf *out, const char *name, const struct cloudinit_var *vars,
                       size_t nvars, struct dp_err *err)
{
    const char *tmpl = cloudinit_template_find(name);
    dp_rc rc;

    dp_buf_init(out, CLOUDINIT_USER_DATA_MAX);
    if (!tmpl)
        return dp_err_set(err, DP_EINTERNAL, "no embedded template '%s'", name);
    /* Take the whole cap at once: growing by realloc would leave copies of keys in freed
     * memory. */
    rc = put_indent(out, CLOUDINIT_USER_DATA_MAX);
    if (rc)
        return dp_err_set(err, rc, "out of memory rendering user-data");
    dp_buf_reset(out);
    rc = cloudinit_template_expand(out, tmpl, vars, nvars, err);
    if (rc)
        cloudinit_wipe(out);
    return rc;
}

void cloudinit_wipe(struct dp_buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->alloc);
    dp_buf_clear(b);
}
