#include "cloudinit.h"
#include "cloudinit_check.h"

#include <stdbool.h>
#include <string.h>

/* What an http(s) URL may hold here: RFC 3986's unreserved and reserved characters and '%',
 * less the quotes, '\', '$' and '`' a shell or YAML would read specially. */
static bool url_char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("-._~:/?#[]@!&()*+,;=%", c) != NULL;
}

static dp_rc check_url(const char *url, struct dp_err *err)
{
    size_t n = url ? strlen(url) : 0, scheme = 0;

    if (url && strncmp(url, "http://", 7) == 0)
        scheme = 7;
    else if (url && strncmp(url, "https://", 8) == 0)
        scheme = 8;
    if (!scheme || n > CLOUDINIT_URL_MAX || n == scheme || strchr("/?#", url[scheme]))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_url",
                           "agent_url: must be an http:// or https:// URL with a host, at most %d "
                           "bytes",
                           CLOUDINIT_URL_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!url_char_ok((unsigned char)url[i]))
            return dp_err_setc(err, DP_EINVAL, "invalid_agent_url",
                               "agent_url: character %zu is not allowed in a URL here", i);
    }
    return DP_OK;
}

static dp_rc check_sha256(const char *hex, struct dp_err *err)
{
    if (!hex || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_sha256",
                           "agent_sha256: must be 64 lowercase hex digits");
    return DP_OK;
}

/* Debian package names (policy 5.6.1) in lowercase: [a-z0-9][a-z0-9+.-]*, at least two
 * characters there; one character is allowed here too, apt says whether it exists. */
static dp_rc check_packages(const char *const *pkgs, size_t n, struct dp_err *err)
{
    if (n > CLOUDINIT_PACKAGES_MAX || (n && !pkgs))
        return dp_err_setc(err, DP_EINVAL, "invalid_packages", "packages: at most %d are allowed",
                           CLOUDINIT_PACKAGES_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *p = pkgs[i];
        size_t len = p ? strlen(p) : 0;

        if (len == 0 || len > CLOUDINIT_PACKAGE_MAX ||
            !strchr("abcdefghijklmnopqrstuvwxyz0123456789", p[0]) ||
            strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789+.-") != len)
            return dp_err_setc(err, DP_EINVAL, "invalid_packages",
                               "packages[%zu]: a Debian package name is lowercase letters, digits, "
                               "'+', '.' and '-', starting with a letter or digit, at most %d "
                               "characters",
                               i, CLOUDINIT_PACKAGE_MAX);
    }
    return DP_OK;
}

static dp_rc bake_check(const struct cloudinit_bake *in, struct dp_err *err)
{
    dp_rc rc = check_url(in->agent_url, err);

    if (rc == DP_OK)
        rc = check_sha256(in->agent_sha256, err);
    if (rc == DP_OK)
        rc = cloudinit_check_key(in->bake_key, "bake_key", err);
    if (rc == DP_OK)
        rc = cloudinit_check_addrs(in->allow, in->nallow, 1, CLOUDINIT_ALLOW_MAX, "allow", err);
    if (rc == DP_OK)
        rc = cloudinit_check_addrs(in->ssh_allow, in->nssh, 0, CLOUDINIT_ALLOW_MAX, "ssh_allow",
                                   err);
    if (rc == DP_OK)
        rc = check_packages(in->packages, in->npackages, err);
    return rc;
}

/* "a, b, c": the elements of an nft set (nft merges overlaps and host bits itself). */
static dp_rc join_set(struct dp_buf *b, const char *const *addrs, size_t n)
{
    dp_rc rc = DP_OK;

    for (size_t i = 0; rc == DP_OK && i < n; i++)
        rc = dp_buf_appendf(b, "%s%s", i ? ", " : "", addrs[i]);
    return rc;
}

/* The lines the template cannot hold: allow lines for agent.conf, the nft sets and SSH rules,
 * the extra package list entries. All from checked values. */
struct bake_text {
    struct dp_buf allow_lines, allow_set, ssh_rules, packages;
};

static dp_rc build_text(struct bake_text *t, const struct cloudinit_bake *in)
{
    dp_rc rc = DP_OK;

    dp_buf_init(&t->allow_lines, (size_t)CLOUDINIT_ALLOW_MAX * 32); /* "allow = " + 18 + "\n" */
    dp_buf_init(&t->allow_set, (size_t)CLOUDINIT_ALLOW_MAX * 24);
    dp_buf_init(&t->ssh_rules, (size_t)CLOUDINIT_ALLOW_MAX * 24 + 128);
    dp_buf_init(&t->packages, (size_t)CLOUDINIT_PACKAGES_MAX * (CLOUDINIT_PACKAGE_MAX + 8));
    for (size_t i = 0; rc == DP_OK && i < in->nallow; i++)
        rc = dp_buf_appendf(&t->allow_lines, "%sallow = %s", i ? "\n" : "", in->allow[i]);
    if (rc == DP_OK)
        rc = join_set(&t->allow_set, in->allow, in->nallow);
    if (rc == DP_OK && in->nssh) {
        rc = dp_buf_puts(&t->ssh_rules, "tcp dport 22 ip saddr { ");
        if (rc == DP_OK)
            rc = join_set(&t->ssh_rules, in->ssh_allow, in->nssh);
        if (rc == DP_OK)
            rc = dp_buf_puts(&t->ssh_rules, " } accept\n");
    }
    if (rc == DP_OK)
        rc = dp_buf_puts(&t->ssh_rules, "tcp dport 22 drop");
    for (size_t i = 0; rc == DP_OK && i < in->npackages; i++)
        rc = dp_buf_appendf(&t->packages, "%s- \"%s\"", i ? "\n" : "", in->packages[i]);
    return rc;
}

static void text_clear(struct bake_text *t)
{
    dp_buf_clear(&t->allow_lines);
    dp_buf_clear(&t->allow_set);
    dp_buf_clear(&t->ssh_rules);
    dp_buf_clear(&t->packages);
}

dp_rc cloudinit_bake_render(struct dp_buf *out, const struct cloudinit_bake *in, struct dp_err *err)
{
    struct bake_text t;
    dp_rc rc;

    dp_buf_init(out, CLOUDINIT_USER_DATA_MAX);
    rc = bake_check(in, err);
    if (rc)
        return rc;
    rc = build_text(&t, in);
    if (rc == DP_OK) {
        const struct cloudinit_var vars[] = {
            {"extra_packages", CLOUDINIT_TEXT, in->npackages ? t.packages.data : NULL},
            {"bake_key", CLOUDINIT_QUOTED, in->bake_key},
            {"allow_lines", CLOUDINIT_TEXT, t.allow_lines.data},
            {"allow_set", CLOUDINIT_TEXT, t.allow_set.data},
            {"ssh_rules", CLOUDINIT_TEXT, t.ssh_rules.data},
            {"agent_url", CLOUDINIT_QUOTED, in->agent_url},
            {"agent_sha256", CLOUDINIT_TEXT, in->agent_sha256},
        };

        rc = cloudinit_render(out, "bake", vars, sizeof(vars) / sizeof(vars[0]), err);
    } else {
        dp_err_set(err, rc, "out of memory rendering user-data");
    }
    text_clear(&t);
    return rc;
}

dp_rc cloudinit_render_snapshot_doc(void *ud, struct dp_buf *out, const struct dp_snapshot_doc *in,
                                    struct dp_err *err)
{
    struct cloudinit_bake b = {.agent_url = in->agent_url,
                               .agent_sha256 = in->agent_sha256,
                               .bake_key = in->bake_key,
                               .allow = in->allow,
                               .nallow = in->nallow,
                               .ssh_allow = in->ssh_allow,
                               .nssh = in->nssh,
                               .packages = in->packages,
                               .npackages = in->npackages};

    (void)ud;
    return cloudinit_bake_render(out, &b, err);
}
