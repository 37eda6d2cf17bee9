#include "dp_conf.h"

#include "dp_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 2048

void dp_conf_usage(FILE *out, const struct dp_opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  --%s%s\n      %s\n", opts[i].name,
                opts[i].kind == DP_OPT_FLAG ? "" : " VALUE", opts[i].help);
}

static const struct dp_opt *opt_find(const struct dp_opt *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    }
    return NULL;
}

static dp_rc opt_int(int *dst, const struct dp_opt *o, const char *v, struct dp_err *err)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < o->min || n > o->max)
        return dp_err_set(err, DP_EINVAL, "--%s must be a whole number from %d to %d", o->name,
                          o->min, o->max);
    *dst = (int)n;
    return DP_OK;
}

static dp_rc opt_apply(void *conf, const struct dp_opt *o, const char *v, struct dp_err *err)
{
    char *field = (char *)conf + o->offset;

    switch (o->kind) {
    case DP_OPT_STR:
        if (strlen(v) >= o->size)
            return dp_err_set(err, DP_EINVAL, "--%s is longer than %zu bytes", o->name,
                              o->size - 1);
        memcpy(field, v, strlen(v) + 1);
        return DP_OK;
    case DP_OPT_INT:
        return opt_int((int *)(void *)field, o, v, err);
    case DP_OPT_LEVEL:
        if (!dp_log_parse_level((enum dp_log_level *)(void *)field, v))
            return dp_err_set(err, DP_EINVAL, "--log-level must be error, warn, info or debug");
        return DP_OK;
    case DP_OPT_CUSTOM:
        return o->custom(conf, v, err);
    case DP_OPT_FLAG:
        *(bool *)(void *)field = true;
        return DP_OK;
    case DP_OPT_CONFIG:
        return DP_OK;
    }
    return DP_EINTERNAL;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static dp_rc file_line(void *conf, const struct dp_opt *opts, size_t n, char *line,
                       const char *path, int lineno, struct dp_err *err)
{
    char *eq, *key;
    const struct dp_opt *o;
    dp_rc rc;

    line = trim(line);
    if (!*line || *line == '#')
        return DP_OK;
    eq = strchr(line, '=');
    if (!eq)
        return dp_err_set(err, DP_EINVAL, "%s:%d: expected 'name = value'", path, lineno);
    *eq = '\0';
    key = trim(line);
    o = opt_find(opts, n, key);
    if (!o || o->kind == DP_OPT_FLAG || o->kind == DP_OPT_CONFIG)
        return dp_err_set(err, DP_EINVAL, "%s:%d: unknown setting '%.64s'", path, lineno, key);
    rc = opt_apply(conf, o, trim(eq + 1), err);
    if (rc && err) {
        char msg[DP_ERR_MSG_MAX];

        memcpy(msg, err->msg, sizeof(msg)); /* the message is rewritten from itself */
        dp_err_set(err, rc, "%s:%d: %.200s", path, lineno, msg);
    }
    return rc;
}

static dp_rc conf_file(void *conf, const struct dp_opt *opts, size_t n, const char *path,
                       struct dp_err *err)
{
    char line[LINE_MAX_BYTES];
    int lineno = 0;
    dp_rc rc = DP_OK;
    FILE *f = fopen(path, "re");

    if (!f)
        return dp_err_set(err, DP_EINVAL, "cannot read config file %s: %s", path, strerror(errno));
    while (rc == DP_OK && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f))
            rc = dp_err_set(err, DP_EINVAL, "%s:%d: line too long", path, lineno);
        else
            rc = file_line(conf, opts, n, line, path, lineno, err);
    }
    fclose(f);
    return rc;
}

/* The option a "--name" or "--name=value" argument names; *eq points at its '=' or is NULL. */
static const struct dp_opt *arg_option(const struct dp_opt *opts, size_t n, const char *arg,
                                       const char **eq, struct dp_err *err)
{
    char name[64];
    size_t nlen;
    const struct dp_opt *o;

    *eq = strchr(arg, '=');
    nlen = *eq ? (size_t)(*eq - arg) : strlen(arg);
    if (strncmp(arg, "--", 2) != 0 || nlen - 2 >= sizeof(name)) {
        dp_err_set(err, DP_EINVAL, "unexpected argument '%.64s' (try --help)", arg);
        return NULL;
    }
    memcpy(name, arg + 2, nlen - 2);
    name[nlen - 2] = '\0';
    o = opt_find(opts, n, name);
    if (!o)
        dp_err_set(err, DP_EINVAL, "unknown option '--%.64s' (try --help)", name);
    return o;
}

/* The value of option o at argv[*i]: after '=' or the next argument (moving *i past it). */
static dp_rc arg_value(const char **val, const struct dp_opt *o, const char *eq, int *i, int argc,
                       char **argv, struct dp_err *err)
{
    *val = "";
    if (o->kind == DP_OPT_FLAG)
        return DP_OK;
    if (eq)
        *val = eq + 1;
    else if (*i + 1 < argc && argv[*i + 1])
        *val = argv[++*i];
    else
        return dp_err_set(err, DP_EINVAL, "--%s needs a value", o->name);
    return DP_OK;
}

/* --config FILE: remembers the path, then reads the file's options. */
static dp_rc config_apply(void *conf, const struct dp_opt *opts, size_t n, const struct dp_opt *o,
                          const char *val, struct dp_err *err)
{
    struct dp_opt as_str = {o->name, DP_OPT_STR, o->offset, o->size, 0, 0, o->help, NULL};
    dp_rc rc = opt_apply(conf, &as_str, val, err);

    return rc ? rc : conf_file(conf, opts, n, val, err);
}

/* Walks the flags; config_only reads just --config (and stores nothing else). */
static dp_rc args_walk(void *conf, const struct dp_opt *opts, size_t n, int argc, char **argv,
                       bool config_only, struct dp_err *err)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *eq, *val;
        const struct dp_opt *o = arg_option(opts, n, argv[i], &eq, err);
        dp_rc rc = o ? arg_value(&val, o, eq, &i, argc, argv, err) : DP_EINVAL;

        if (rc)
            return rc;
        if (config_only && o->kind == DP_OPT_CONFIG)
            rc = config_apply(conf, opts, n, o, val, err);
        else if (!config_only && o->kind != DP_OPT_CONFIG && opt_apply(conf, o, val, err))
            rc = err ? err->rc : DP_EINVAL;
        if (rc)
            return rc;
    }
    return DP_OK;
}

dp_rc dp_conf_parse(void *conf, const struct dp_opt *opts, size_t n, int argc, char **argv,
                    struct dp_err *err)
{
    dp_rc rc = args_walk(conf, opts, n, argc, argv, true, err);

    return rc ? rc : args_walk(conf, opts, n, argc, argv, false, err);
}
