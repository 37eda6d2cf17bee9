/* Table-driven configuration: long flags ("--name value" or "--name=value") and config files
 * ("name = value" lines) described once by an option table with bounds and help text. */
#ifndef DP_CONF_H
#define DP_CONF_H

#include "dp_err.h"

#include <stddef.h>
#include <stdio.h>

enum dp_opt_kind {
    DP_OPT_STR,    /* char[size] at offset */
    DP_OPT_INT,    /* int at offset, within [min, max] */
    DP_OPT_FLAG,   /* bool at offset, no value */
    DP_OPT_LEVEL,  /* enum dp_log_level at offset */
    DP_OPT_CUSTOM, /* custom(conf, value, err) */
    DP_OPT_CONFIG, /* --config FILE: read by dp_conf_parse before the other flags */
};

struct dp_opt {
    const char *name; /* without "--"; also the config file key */
    enum dp_opt_kind kind;
    size_t offset;
    size_t size;
    int min, max;
    const char *help;
    dp_rc (*custom)(void *conf, const char *value, struct dp_err *err);
};

#define DP_OPT_STRING(type, n, field, h)                                                           \
    {                                                                                              \
        n, DP_OPT_STR, offsetof(type, field), sizeof(((type *)0)->field), 0, 0, h, NULL            \
    }

/* Reads FILE (given by a DP_OPT_CONFIG option on the command line, when the table has one)
 * and then every flag, into conf; flags win over the file. Errors name the flag or the file and
 * line. */
dp_rc dp_conf_parse(void *conf, const struct dp_opt *opts, size_t n, int argc, char **argv,
                    struct dp_err *err);

/* Writes "  --name VALUE\n      help" for every option. */
void dp_conf_usage(FILE *out, const struct dp_opt *opts, size_t n);

#endif
