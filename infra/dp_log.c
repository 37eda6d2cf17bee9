#include "dp_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set once in main before threads; read by every thread. */
static atomic_int log_level = DP_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void dp_log_set_level(enum dp_log_level lvl)
{
    atomic_store(&log_level, (int)lvl);
}

bool dp_log_parse_level(enum dp_log_level *out, const char *s)
{
    for (int i = 0; i <= DP_LOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum dp_log_level)i;
            return true;
        }
    }
    return false;
}

bool dp_log_enabled(enum dp_log_level lvl)
{
    return (int)lvl <= atomic_load(&log_level);
}

void dp_logctx_init(struct dp_logctx *lc, const char *prog)
{
    lc->prog = prog;
    lc->req_id[0] = '-';
    lc->req_id[1] = '\0';
}

static size_t scrub_controls(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
    }
    return n;
}

void dp_log(enum dp_log_level lvl, const struct dp_logctx *lc, const char *fmt, ...)
{
    char line[DP_LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int head, body;
    size_t n;

    if (!dp_log_enabled(lvl))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    head = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s req=%s ",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    ts.tv_nsec / 1000000, level_names[lvl], lc && lc->prog ? lc->prog : "-",
                    lc ? lc->req_id : "-");
    if (head < 0 || (size_t)head >= sizeof(line) - 2)
        return;
    va_start(ap, fmt);
    body = vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
    va_end(ap);
    if (body < 0)
        body = 0;
    n = (size_t)head + (size_t)body;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    scrub_controls(line + head, n - (size_t)head);
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
