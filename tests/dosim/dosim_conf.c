#include "dosim_conf.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind { OPT_STR, OPT_INT, OPT_DBL, OPT_LEVEL, OPT_FLAG };

struct opt {
    const char *name; /* flag without "--" */
    enum opt_kind kind;
    size_t offset;
    size_t size; /* OPT_STR: buffer size */
    double min, max;
    const char *help;
};

#define STR_OPT(n, field, h)                                                                       \
    {                                                                                              \
        n, OPT_STR, offsetof(struct dosim_conf, field), sizeof(((struct dosim_conf *)0)->field),   \
            0, 0, h                                                                                \
    }
#define NUM_OPT(n, kind, field, lo, hi, h)                                                         \
    {                                                                                              \
        n, kind, offsetof(struct dosim_conf, field), 0, lo, hi, h                                  \
    }

static const struct opt opts[] = {
    STR_OPT("listen", listen, "ADDR:PORT to serve the API on (default 127.0.0.1:8090)"),
    STR_OPT("state-dir", state_dir,
            "folder for droplet roots, logs and state.json; kept across restarts (default: a "
            "fresh temporary folder, removed with every droplet at exit)"),
    STR_OPT("agent", agent,
            "node-agent binary droplets run (default: the one their user-data installed, "
            "usr/bin/node-agent in the droplet's root)"),
    STR_OPT("agent-package", agent_package,
            "agent package archive for --seed-snapshot (default: "
            "<dosim's folder>/../package/node-agent-<VERSION>-linux-<arch>.tar.gz)"),
    STR_OPT("seed-snapshot", seed_snapshot,
            "start with one ready private snapshot of this name whose root carries the agent "
            "installed from the agent package and enabled, without a key"),
    STR_OPT("seed-regions", seed_regions,
            "comma-separated regions of the seed snapshot (default nyc1,sfo3,ams3)"),
    NUM_OPT("time-scale", OPT_DBL, time_scale, 0.01, 1000,
            "multiply every duration (default 1: active within 2 s, a snapshot within 5 s)"),
    STR_OPT("token", token, "accept only this bearer token (default: any non-empty token)"),
    STR_OPT("record", record,
            "append one JSON line per /v2 request to FILE (method, path, query, status, "
            "bodies, rate-limit headers)"),
    NUM_OPT("ratelimit-hour", OPT_INT, ratelimit_hour, 1, 1000000,
            "requests per token in a sliding hour (default 5000)"),
    NUM_OPT("ratelimit-minute", OPT_INT, ratelimit_minute, 1, 1000000,
            "requests per token in a sliding minute, the burst limit (default 250)"),
    NUM_OPT("keys-per-minute", OPT_INT, keys_per_minute, 0, 1000000,
            "GET /v2/account/keys per token in a sliding minute; 0 for no limit (default 10)"),
    NUM_OPT("droplet-limit", OPT_INT, droplet_limit, 1, 500,
            "the account's droplet limit (default 50)"),
    NUM_OPT("fail-429", OPT_DBL, fail_429, 0, 1,
            "share of /v2 requests answered 429 with retry-after (default 0)"),
    NUM_OPT("fail-500", OPT_DBL, fail_500, 0, 1, "share of /v2 requests answered 500 (default 0)"),
    NUM_OPT("slow-actions", OPT_DBL, slow_actions, 0.01, 1000,
            "extra factor on every action's duration (default 1)"),
    STR_OPT("errored-action", errored_action,
            "actions of this type (create, shutdown, power_off, power_on, snapshot, transfer, "
            "...) end 'errored' without effect"),
    NUM_OPT("create-500-after", OPT_INT, create_500_after, 0, 1000000,
            "the Nth droplet create from now answers 500 after it did create (once; 0 off)"),
    NUM_OPT("create-500-rate", OPT_DBL, create_500_rate, 0, 1,
            "share of droplet creates that answer 500 after they did create (default 0)"),
    STR_OPT("ip-lock-dir", ip_lock_dir,
            "folder of per-address lock files shared by every dosim (default /tmp/dosim-ips)"),
    STR_OPT("docker-socket", docker_socket,
            "Docker Engine API socket agents use and dosim cleans (default /var/run/docker.sock)"),
    NUM_OPT("threads", OPT_INT, threads, 4, 256, "worker threads = concurrent connections (32)"),
    {"log-level", OPT_LEVEL, offsetof(struct dosim_conf, log_level), 0, 0, 0,
     "error, warn, info or debug (default info)"},
    {"help", OPT_FLAG, offsetof(struct dosim_conf, help), 0, 0, 0, "show this help and exit"},
    {"version", OPT_FLAG, offsetof(struct dosim_conf, version), 0, 0, 0,
     "print the version and exit"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void dosim_conf_usage(const char *prog)
{
    printf("Usage: %s [options]\n\n"
           "dosim: a DigitalOcean API v2 simulator. Droplets are real: each gets its own\n"
           "loopback address, its user-data (#cloud-config) is carried out against a root\n"
           "folder, and a real node-agent serves on <address>:9999 once installed. Send\n"
           "'Authorization: Bearer <token>' to /v2/...; /_sim/... is the test admin API.\n\n"
           "Options:\n",
           prog);
    for (size_t i = 0; i < NOPTS; i++) {
        const char *arg = opts[i].kind == OPT_FLAG ? "" : " VALUE";

        printf("  --%s%s\n      %s\n", opts[i].name, arg, opts[i].help);
    }
    printf("\nExample:\n  %s --listen 127.0.0.1:8090 --seed-snapshot base-agent\n"
           "  curl -H 'Authorization: Bearer x' http://127.0.0.1:8090/v2/regions\n",
           prog);
}

static void conf_defaults(struct dosim_conf *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8090");
    snprintf(c->seed_regions, sizeof(c->seed_regions), "nyc1,sfo3,ams3");
    snprintf(c->ip_lock_dir, sizeof(c->ip_lock_dir), "/tmp/dosim-ips");
    snprintf(c->docker_socket, sizeof(c->docker_socket), "/var/run/docker.sock");
    c->time_scale = 1;
    c->slow_actions = 1;
    c->ratelimit_hour = 5000;
    c->ratelimit_minute = 250;
    c->keys_per_minute = 10;
    c->droplet_limit = 50;
    c->threads = 32;
    c->log_level = DP_LOG_INFO;
}

static const struct opt *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

static dp_rc opt_number(char *field, const struct opt *o, const char *v, struct dp_err *err)
{
    char *end;
    double n;

    errno = 0;
    n = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(n) || n < o->min || n > o->max ||
        (o->kind == OPT_INT && n != floor(n)))
        return dp_err_set(err, DP_EINVAL, "--%s must be a %snumber from %g to %g", o->name,
                          o->kind == OPT_INT ? "whole " : "", o->min, o->max);
    if (o->kind == OPT_INT)
        *(int *)(void *)field = (int)n;
    else
        *(double *)(void *)field = n;
    return DP_OK;
}

static dp_rc opt_apply(struct dosim_conf *c, const struct opt *o, const char *v, struct dp_err *err)
{
    char *field = (char *)c + o->offset;

    switch (o->kind) {
    case OPT_STR:
        if (strlen(v) >= o->size)
            return dp_err_set(err, DP_EINVAL, "--%s is longer than %zu bytes", o->name,
                              o->size - 1);
        memcpy(field, v, strlen(v) + 1);
        return DP_OK;
    case OPT_INT:
    case OPT_DBL:
        return opt_number(field, o, v, err);
    case OPT_LEVEL:
        if (!dp_log_parse_level((enum dp_log_level *)(void *)field, v))
            return dp_err_set(err, DP_EINVAL, "--log-level must be error, warn, info or debug");
        return DP_OK;
    case OPT_FLAG:
        *(bool *)(void *)field = true;
        return DP_OK;
    }
    return DP_EINTERNAL;
}

static dp_rc conf_args(struct dosim_conf *c, int argc, char **argv, struct dp_err *err)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '='), *val;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct opt *o = strncmp(arg, "--", 2) == 0 ? opt_find(arg + 2, nlen - 2) : NULL;

        if (!o)
            return dp_err_set(err, DP_EINVAL, "unknown option '%.64s' (try --help)", arg);
        if (o->kind == OPT_FLAG) {
            if (eq)
                return dp_err_set(err, DP_EINVAL, "--%s takes no value", o->name);
            val = "";
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc && argv[i + 1]) {
            val = argv[++i];
        } else {
            return dp_err_set(err, DP_EINVAL, "--%s needs a value", o->name);
        }
        if (opt_apply(c, o, val, err))
            return DP_EINVAL;
    }
    return DP_OK;
}

static bool action_type_known(const char *t)
{
    static const char *const types[] = {"create",   "shutdown", "power_off",
                                        "power_on", "reboot",   "power_cycle",
                                        "snapshot", "transfer", "rename"};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(t, types[i]) == 0)
            return true;
    }
    return false;
}

static dp_rc conf_check(const struct dosim_conf *c, struct dp_err *err)
{
    if (!strchr(c->listen, ':'))
        return dp_err_set(err, DP_EINVAL, "--listen must be ADDR:PORT, got '%s'", c->listen);
    if (c->state_dir[0] && c->state_dir[0] != '/')
        return dp_err_set(err, DP_EINVAL, "--state-dir must be an absolute path");
    if (c->ip_lock_dir[0] != '/')
        return dp_err_set(err, DP_EINVAL, "--ip-lock-dir must be an absolute path");
    if (c->errored_action[0] && !action_type_known(c->errored_action))
        return dp_err_set(err, DP_EINVAL, "--errored-action: unknown action type '%s'",
                          c->errored_action);
    if (c->fail_429 + c->fail_500 > 1)
        return dp_err_set(err, DP_EINVAL, "--fail-429 and --fail-500 add up to more than 1");
    return DP_OK;
}

enum dosim_conf_action dosim_conf_parse(struct dosim_conf *c, int argc, char **argv,
                                        struct dp_err *err)
{
    conf_defaults(c);
    if (conf_args(c, argc, argv, err))
        return DOSIM_EXIT_USAGE;
    if (c->help || c->version)
        return DOSIM_EXIT_OK;
    if (conf_check(c, err))
        return DOSIM_EXIT_USAGE;
    return DOSIM_RUN;
}
