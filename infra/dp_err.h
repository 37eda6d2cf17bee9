/* One result type and one message for everything that can fail. */
#ifndef DP_ERR_H
#define DP_ERR_H

#include "dp_limits.h"

typedef enum {
    DP_OK = 0,
    DP_ENOMEM,
    DP_EINVAL,    /* bad input from a peer or a file */
    DP_ETOOBIG,   /* a dp_limits.h limit was hit */
    DP_EAUTH,     /* missing or wrong credentials */
    DP_ENOTFOUND, /* the thing named does not exist */
    DP_ECONFLICT, /* the thing exists or is busy */
    DP_EUPSTREAM, /* docker, git or an agent said no */
    DP_EUNAVAIL,  /* docker, git or an agent could not be reached */
    DP_ETIMEOUT,  /* a deadline passed */
    DP_ECANCELED, /* the client went away or we are shutting down */
    DP_EIO,       /* the local disk or a pipe failed */
    DP_EINTERNAL, /* our own bug or an impossible library state */
    DP_EDENIED,   /* a peer (DigitalOcean, an agent) refused our credentials: not the caller's,
                     so never a 401 to them */
} dp_rc;

struct dp_err {
    dp_rc rc;
    char code[DP_ERR_CODE_MAX]; /* short machine code, e.g. "image_not_found" */
    char msg[DP_ERR_MSG_MAX];   /* one sentence for humans, never a secret */
};

/* Records rc, the default code for rc and a message in err (may be NULL); returns rc. */
dp_rc dp_err_set(struct dp_err *err, dp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like dp_err_set with a specific short code instead of rc's default. */
dp_rc dp_err_setc(struct dp_err *err, dp_rc rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears err to DP_OK. */
void dp_err_clear(struct dp_err *err);

/* The default short code for rc ("bad_request", "not_found", ...). */
const char *dp_rc_code(dp_rc rc);

/* The HTTP status that fits rc (400, 404, 409, 413, 502, ...). */
int dp_rc_http_status(dp_rc rc);

#endif
