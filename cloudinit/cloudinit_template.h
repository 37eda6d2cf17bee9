/* Templates compiled into the library and their expansion into YAML-safe user-data. */
#ifndef CLOUDINIT_TEMPLATE_H
#define CLOUDINIT_TEMPLATE_H

#include "dp_buf.h"

#include <stddef.h>

/* DigitalOcean takes at most 64 KiB of user_data; we stay one byte below. */
#define CLOUDINIT_USER_DATA_MAX (64UL * 1024 - 1)

/* One template from templates/<name>.*.tmpl, as embedded by embed.cmake. */
struct cloudinit_embedded {
    const char *name;
    const char *text; /* NUL-terminated */
    size_t len;
};

extern const struct cloudinit_embedded cloudinit_embedded[]; /* generated at build time */
extern const size_t cloudinit_nembedded;

/* How a value is written where its placeholder stands. */
enum cloudinit_kind {
    CLOUDINIT_TEXT,   /* as is; later lines get the placeholder line's indentation */
    CLOUDINIT_QUOTED, /* a YAML double-quoted scalar: '"', '\' and controls escaped */
    CLOUDINIT_GUARD,  /* emits nothing: a line holding {{?name}} is kept only when set */
    CLOUDINIT_BLOCK,  /* a YAML literal block scalar ("|", or "|-" without a final newline),
                       * two spaces deeper than the placeholder's line */
};

struct cloudinit_var {
    const char *name;
    enum cloudinit_kind kind;
    const char *value; /* NULL: absent, allowed only for {{?name}} */
};

/* The embedded template called name ("provision"), or NULL. Static text. */
const char *cloudinit_template_find(const char *name);

/* Appends tmpl with every {{name}} replaced by its variable, written as its kind says, to out.
 * A line holding {{?name}} is left out when that value is NULL. TEXT values are the caller's
 * responsibility; QUOTED values must be ASCII; BLOCK values must be non-empty ASCII lines
 * without controls, none empty or starting with a space, and at most one final newline
 * (shapes YAML reads back byte for byte): anything else is
 * DP_EINVAL naming the variable (never its value). An unknown or unterminated placeholder is
 * DP_EINTERNAL (a template bug); DP_ETOOBIG past out's cap. On failure out may hold part. */
dp_rc cloudinit_template_expand(struct dp_buf *out, const char *tmpl,
                                const struct cloudinit_var *vars, size_t nvars, struct dp_err *err);

/* Renders the embedded template called name into out, which is initialized here with a cap of
 * CLOUDINIT_USER_DATA_MAX and allocated once (no realloc leaves a copy of a secret behind).
 * A bigger document is DP_ETOOBIG. On success out holds the document: release it with
 * cloudinit_wipe(). On failure out is already wiped and empty. */
dp_rc cloudinit_render(struct dp_buf *out, const char *name, const struct cloudinit_var *vars,
                       size_t nvars, struct dp_err *err);

/* Zeroes b's memory (it may hold keys) and frees it; b can be reused after dp_buf_init. */
void cloudinit_wipe(struct dp_buf *b);

#endif
