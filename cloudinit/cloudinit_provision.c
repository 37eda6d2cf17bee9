#include "cloudinit.h"
#include "cloudinit_check.h"
#include "cloudinit_pem.h"

#include <stdbool.h>
#include <string.h>

static const char *const cert_labels[] = {"CERTIFICATE", NULL};
static const char *const key_labels[] = {"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", NULL};

static bool label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            c != '-')
            return false;
    }
    return true;
}

static dp_rc check_hostname(const char *h, struct dp_err *err)
{
    size_t n = strlen(h);
    bool ok = n > 0 && n <= CLOUDINIT_HOSTNAME_MAX;

    for (const char *p = h; ok;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);

        ok = label_ok(p, len);
        if (!dot)
            break;
        p = dot + 1;
    }
    if (!ok)
        return dp_err_setc(err, DP_EINVAL, "invalid_hostname",
                           "hostname: must be dot-separated labels of 1 to 63 letters, digits "
                           "or '-', %d characters at most",
                           CLOUDINIT_HOSTNAME_MAX);
    return DP_OK;
}

static dp_rc provision_check(const struct cloudinit_provision *in, struct dp_err *err)
{
    dp_rc rc = cloudinit_check_key(in->agent_key, "agent_key", err);

    if (rc == DP_OK)
        rc = cloudinit_pem_check(in->tls_cert_pem, "tls_cert", cert_labels, CLOUDINIT_CHAIN_MAX,
                                 err);
    if (rc == DP_OK)
        rc = cloudinit_pem_check(in->tls_key_pem, "tls_key", key_labels, 1, err);
    if (rc == DP_OK)
        rc = cloudinit_check_addrs(in->allow, in->nallow, 1, CLOUDINIT_ALLOW_MAX, "allow", err);
    if (rc == DP_OK && in->hostname)
        rc = check_hostname(in->hostname, err);
    if (rc == DP_OK && in->git_ca_pem)
        rc = cloudinit_pem_check(in->git_ca_pem, "git_ca", cert_labels, CLOUDINIT_CHAIN_MAX, err);
    return rc;
}

dp_rc cloudinit_provision_render(struct dp_buf *out, const struct cloudinit_provision *in,
                                 struct dp_err *err)
{
    struct dp_buf allow;
    dp_rc rc;

    dp_buf_init(out, CLOUDINIT_USER_DATA_MAX);
    rc = provision_check(in, err);
    if (rc)
        return rc;
    dp_buf_init(&allow, (size_t)CLOUDINIT_ALLOW_MAX * 32); /* "allow = " + 18 + "\n" */
    for (size_t i = 0; rc == DP_OK && i < in->nallow; i++)
        rc = dp_buf_appendf(&allow, "%sallow = %s", i ? "\n" : "", in->allow[i]);
    if (rc == DP_OK) {
        const struct cloudinit_var vars[] = {
            {"hostname", CLOUDINIT_QUOTED, in->hostname},
            {"agent_key", CLOUDINIT_QUOTED, in->agent_key},
            {"tls_cert", CLOUDINIT_BLOCK, in->tls_cert_pem},
            {"tls_key", CLOUDINIT_BLOCK, in->tls_key_pem},
            {"allow_lines", CLOUDINIT_TEXT, allow.data},
            {"git_ca", CLOUDINIT_BLOCK, in->git_ca_pem},
            {"git_ca_guard", CLOUDINIT_GUARD, in->git_ca_pem ? "" : NULL},
        };

        rc = cloudinit_render(out, "provision", vars, sizeof(vars) / sizeof(vars[0]), err);
    } else {
        dp_err_set(err, rc, "out of memory rendering user-data");
    }
    dp_buf_clear(&allow);
    return rc;
}
