/* The only module that writes logs: one line per call, program and request id on every line. */
#ifndef DP_LOG_H
#define DP_LOG_H

#include "dp_limits.h"

#include <stdbool.h>

enum dp_log_level { DP_LOG_ERROR = 0, DP_LOG_WARN, DP_LOG_INFO, DP_LOG_DEBUG };

struct dp_logctx {
    const char *prog;               /* "agent", "ctl", "snap" */
    char req_id[DP_REQ_ID_MAX + 1]; /* "-" outside a request */
};

/* Sets the most verbose level written; call once in main before threads start. */
void dp_log_set_level(enum dp_log_level lvl);

/* Parses "error|warn|info|debug"; returns false for anything else. */
bool dp_log_parse_level(enum dp_log_level *out, const char *s);

/* True when lvl would be written; test it before building costly debug arguments. */
bool dp_log_enabled(enum dp_log_level lvl);

/* Fills lc for prog outside any request (req_id "-"). */
void dp_logctx_init(struct dp_logctx *lc, const char *prog);

/* Writes one line to stderr with a single write(2): time, level, prog, req=..., message.
 * Control characters in the message are replaced so a peer cannot forge lines. Never pass
 * keys, tokens or passwords. */
void dp_log(enum dp_log_level lvl, const struct dp_logctx *lc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
