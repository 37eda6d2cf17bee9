#include "dp_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *code;
    int status;
} rc_table[] = {
    [DP_OK] = {"ok", 200},
    [DP_ENOMEM] = {"out_of_memory", 503},
    [DP_EINVAL] = {"bad_request", 400},
    [DP_ETOOBIG] = {"too_large", 413},
    [DP_EAUTH] = {"unauthorized", 401},
    [DP_ENOTFOUND] = {"not_found", 404},
    [DP_ECONFLICT] = {"conflict", 409},
    [DP_EUPSTREAM] = {"upstream_error", 502},
    [DP_EUNAVAIL] = {"unavailable", 503},
    [DP_ETIMEOUT] = {"timeout", 504},
    [DP_ECANCELED] = {"canceled", 499},
    [DP_EIO] = {"io_error", 500},
    [DP_EINTERNAL] = {"internal", 500},
    [DP_EDENIED] = {"upstream_denied", 502},
};

const char *dp_rc_code(dp_rc rc)
{
    if ((unsigned)rc >= sizeof(rc_table) / sizeof(rc_table[0]))
        return "internal";
    return rc_table[rc].code;
}

int dp_rc_http_status(dp_rc rc)
{
    if ((unsigned)rc >= sizeof(rc_table) / sizeof(rc_table[0]))
        return 500;
    return rc_table[rc].status;
}

static dp_rc err_vset(struct dp_err *err, dp_rc rc, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static dp_rc err_vset(struct dp_err *err, dp_rc rc, const char *code, const char *fmt, va_list ap)
{
    if (!err)
        return rc;
    err->rc = rc;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : dp_rc_code(rc));
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return rc;
}

dp_rc dp_err_set(struct dp_err *err, dp_rc rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, rc, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

dp_rc dp_err_setc(struct dp_err *err, dp_rc rc, const char *code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, rc, code, fmt, ap);
    va_end(ap);
    return rc;
}

void dp_err_clear(struct dp_err *err)
{
    if (!err)
        return;
    err->rc = DP_OK;
    err->code[0] = '\0';
    err->msg[0] = '\0';
}
