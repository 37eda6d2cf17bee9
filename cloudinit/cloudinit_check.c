#include "cloudinit_check.h"

#include "dp_cidr.h"
#include "dp_limits.h"

#include <stdio.h>
#include <string.h>

/* "invalid_" + field, the code every refusal carries. */
static const char *code_of(char *buf, size_t size, const char *field)
{
    snprintf(buf, size, "invalid_%s", field);
    return buf;
}

dp_rc cloudinit_check_key(const char *key, const char *field, struct dp_err *err)
{
    char code[DP_ERR_CODE_MAX];
    size_t n = key ? strlen(key) : 0;

    if (n < DP_KEY_MIN || n > DP_KEY_MAX)
        return dp_err_setc(err, DP_EINVAL, code_of(code, sizeof(code), field),
                           "%s: must be %d to %d characters", field, DP_KEY_MIN, DP_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c <= 0x20 || c >= 0x7f)
            return dp_err_setc(err, DP_EINVAL, code_of(code, sizeof(code), field),
                               "%s: only printable ASCII without spaces is allowed", field);
    }
    return DP_OK;
}

static dp_rc check_one_addr(const char *a, size_t i, const char *field, struct dp_err *err)
{
    char code[DP_ERR_CODE_MAX];
    struct dp_cidr c;
    size_t n = a ? strspn(a, "0123456789./") : 0;

    if (!a || a[n] || n > 18 || dp_cidr_parse(&c, a, NULL))
        return dp_err_setc(err, DP_EINVAL, code_of(code, sizeof(code), field),
                           "%s[%zu]: not an IPv4 address or CIDR (e.g. 203.0.113.7 or "
                           "10.0.0.0/8)",
                           field, i);
    return DP_OK;
}

dp_rc cloudinit_check_addrs(const char *const *addrs, size_t n, size_t min, size_t max,
                            const char *field, struct dp_err *err)
{
    char code[DP_ERR_CODE_MAX];
    dp_rc rc = DP_OK;

    if (n < min || n > max || (n && !addrs))
        return dp_err_setc(err, DP_EINVAL, code_of(code, sizeof(code), field),
                           "%s: %zu to %zu addresses are allowed", field, min, max);
    for (size_t i = 0; rc == DP_OK && i < n; i++)
        rc = check_one_addr(addrs[i], i, field, err);
    return rc;
}
