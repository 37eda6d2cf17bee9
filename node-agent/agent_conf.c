#include "agent_conf.h"

#include "dp_limits.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind {
    OPT_STR,
    OPT_INT,
    OPT_ALLOW,
    OPT_LEVEL,
    OPT_FLAG,
    OPT_OWN_CONFIG /* --config: read before the other flags */
};

struct opt {
    const char *name; /* flag without "--"; also the config file key */
    enum opt_kind kind;
    size_t offset;
    size_t size; /* OPT_STR: buffer size */
    int min, max;
    const char *help;
};

#define STR_OPT(n, field, h)                                                                       \
    {                                                                                              \
        n, OPT_STR, offsetof(struct agent_conf, field), sizeof(((struct agent_conf *)0)->field),   \
            0, 0, h                                                                                \
    }

static const struct opt opts[] = {
    STR_OPT("listen", listen, "ADDR:PORT to serve on (default 0.0.0.0:9999)"),
    STR_OPT("key-file", key_file,
            "file holding the agent key as text (default /etc/node-agent/key); re-read on SIGHUP"),
    STR_OPT("data-root", data_root,
            "folder that uploads and clones land under (default /var/lib/node-agent)"),
    STR_OPT("docker-socket", docker_socket,
            "Docker Engine API socket (default /var/run/docker.sock)"),
    STR_OPT("publish-ip", publish_ip,
            "host address that container ports are published on (default: all addresses)"),
    STR_OPT("namespace", namespace_,
            "scope container names and listings to NS, so several agents can share one engine"),
    STR_OPT("tls-cert", tls_cert, "PEM certificate: serve HTTPS (needs --tls-key)"),
    STR_OPT("tls-key", tls_key, "PEM private key for --tls-cert"),
    STR_OPT("git-ca-file", git_ca_file, "PEM CA bundle trusted for https:// git clones"),
    {"allow", OPT_ALLOW, 0, 0, 0, 0,
     "only serve clients from this IPv4 CIDR (repeatable; default: any address)"},
    STR_OPT("user", user,
            "drop to this user after binding; it gets the data root, must be able to read the "
            "key file, and needs a group (e.g. docker) that reaches the Docker socket"),
    {"config", OPT_OWN_CONFIG, offsetof(struct agent_conf, config), 0, 0, 0,
     "read these settings from FILE first: one 'name = value' a line"},
    {"threads", OPT_INT, offsetof(struct agent_conf, threads), 0, 4, 1024,
     "worker threads = concurrent connections, streams included (default 32)"},
    {"git-timeout", OPT_INT, offsetof(struct agent_conf, git_timeout_s), 0, 5, 3600,
     "seconds a whole git clone may take (default 600)"},
    {"log-level", OPT_LEVEL, offsetof(struct agent_conf, log_level), 0, 0, 0,
     "error, warn, info or debug (default info)"},
    {"check", OPT_FLAG, offsetof(struct agent_conf, check), 0, 0, 0,
     "check the configuration and exit"},
    {"help", OPT_FLAG, offsetof(struct agent_conf, help), 0, 0, 0, "show this help and exit"},
    {"version", OPT_FLAG, offsetof(struct agent_conf, version), 0, 0, 0,
     "print the version and exit"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void agent_conf_usage(const char *prog)
{
    printf("Usage: %s [options]\n\n"
           "The node agent: builds images, pulls images, clones git repositories and runs\n"
           "containers on this server through the local Docker engine. Every request needs\n"
           "the agent key in an X-API-Key or 'Authorization: Bearer' header.\n\nOptions:\n",
           prog);
    for (size_t i = 0; i < NOPTS; i++) {
        const char *arg = opts[i].kind == OPT_FLAG ? "" : " VALUE";

        printf("  --%s%s\n      %s\n", opts[i].name, arg, opts[i].help);
    }
    printf("\nExample:\n  %s --listen 127.0.0.1:9999 --key-file /etc/node-agent/key\n"
           "  curl -H \"X-API-Key: $(cat /etc/node-agent/key)\" http://127.0.0.1:9999/ping\n",
           prog);
}

static void conf_defaults(struct agent_conf *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "0.0.0.0:9999");
    snprintf(c->key_file, sizeof(c->key_file), "/etc/node-agent/key");
    snprintf(c->data_root, sizeof(c->data_root), "/var/lib/node-agent");
    snprintf(c->docker_socket, sizeof(c->docker_socket), "/var/run/docker.sock");
    c->threads = 32;
    c->git_timeout_s = DP_GIT_DEADLINE_S;
    c->log_level = DP_LOG_INFO;
}

static const struct opt *opt_find(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    }
    return NULL;
}

static dp_rc opt_int(int *dst, const struct opt *o, const char *v, struct dp_err *err)
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

static dp_rc opt_apply(struct agent_conf *c, const struct opt *o, const char *v, struct dp_err *err)
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
        return opt_int((int *)(void *)field, o, v, err);
    case OPT_LEVEL:
        if (!dp_log_parse_level((enum dp_log_level *)(void *)field, v))
            return dp_err_set(err, DP_EINVAL, "--log-level must be error, warn, info or debug");
        return DP_OK;
    case OPT_ALLOW:
        if (c->nallow == AGENT_ALLOW_MAX)
            return dp_err_set(err, DP_EINVAL, "more than %d --allow ranges", AGENT_ALLOW_MAX);
        return dp_cidr_parse(&c->allow[c->nallow++], v, err);
    case OPT_FLAG:
        *(bool *)(void *)field = true;
        return DP_OK;
    case OPT_OWN_CONFIG:
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

static dp_rc conf_file_line(struct agent_conf *c, char *line, const char *path, int lineno,
                            struct dp_err *err)
{
    char *eq, *key, *val;
    const struct opt *o;
    dp_rc rc;

    line = trim(line);
    if (!*line || *line == '#')
        return DP_OK;
    eq = strchr(line, '=');
    if (!eq)
        return dp_err_set(err, DP_EINVAL, "%s:%d: expected 'name = value'", path, lineno);
    *eq = '\0';
    key = trim(line);
    val = trim(eq + 1);
    o = opt_find(key);
    if (!o || o->kind == OPT_FLAG || o->kind == OPT_OWN_CONFIG)
        return dp_err_set(err, DP_EINVAL, "%s:%d: unknown setting '%.64s'", path, lineno, key);
    rc = opt_apply(c, o, val, err);
    if (rc && err) {
        char msg[DP_ERR_MSG_MAX];

        memcpy(msg, err->msg, sizeof(msg)); /* the message is rewritten from itself */
        dp_err_set(err, rc, "%s:%d: %.200s", path, lineno, msg);
    }
    return rc;
}

static dp_rc conf_file(struct agent_conf *c, const char *path, struct dp_err *err)
{
    char line[AGENT_STR_MAX + 128];
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
            rc = conf_file_line(c, line, path, lineno, err);
    }
    fclose(f);
    return rc;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

static dp_rc conf_check(const struct agent_conf *c, struct dp_err *err)
{
    if (!strchr(c->listen, ':'))
        return dp_err_set(err, DP_EINVAL, "--listen must be ADDR:PORT, got '%s'", c->listen);
    if (c->data_root[0] != '/')
        return dp_err_set(err, DP_EINVAL, "--data-root must be an absolute path");
    if (!!c->tls_cert[0] != !!c->tls_key[0])
        return dp_err_set(err, DP_EINVAL, "--tls-cert and --tls-key go together");
    if (c->namespace_[0] && !name_ok(c->namespace_, DP_NAMESPACE_MAX))
        return dp_err_set(err, DP_EINVAL,
                          "--namespace must be 1 to %d lowercase letters, digits or '-'",
                          DP_NAMESPACE_MAX);
    if (c->publish_ip[0]) {
        struct dp_cidr one;

        if (dp_cidr_parse(&one, c->publish_ip, NULL) || strchr(c->publish_ip, '/'))
            return dp_err_set(err, DP_EINVAL, "--publish-ip must be an IPv4 address");
    }
    return DP_OK;
}

/* Finds --config before anything else so flags given on the command line win over the file. */
static const char *find_config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

/* The option a "--name" or "--name=value" argument names; *eq points at its '=' or is NULL. */
static const struct opt *arg_option(const char *arg, const char **eq, struct dp_err *err)
{
    char name[64];
    size_t nlen;
    const struct opt *o;

    *eq = strchr(arg, '=');
    nlen = *eq ? (size_t)(*eq - arg) : strlen(arg);
    if (strncmp(arg, "--", 2) != 0 || nlen - 2 >= sizeof(name)) {
        dp_err_set(err, DP_EINVAL, "unexpected argument '%.64s' (try --help)", arg);
        return NULL;
    }
    memcpy(name, arg + 2, nlen - 2);
    name[nlen - 2] = '\0';
    o = opt_find(name);
    if (!o)
        dp_err_set(err, DP_EINVAL, "unknown option '--%.64s' (try --help)", name);
    return o;
}

static dp_rc conf_args(struct agent_conf *c, int argc, char **argv, struct dp_err *err)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *eq, *val = "";
        const struct opt *o = arg_option(argv[i], &eq, err);

        if (!o)
            return DP_EINVAL;
        if (o->kind != OPT_FLAG && eq)
            val = eq + 1;
        else if (o->kind != OPT_FLAG && i + 1 < argc && argv[i + 1])
            val = argv[++i];
        else if (o->kind != OPT_FLAG)
            return dp_err_set(err, DP_EINVAL, "--%s needs a value", o->name);
        if (o->kind != OPT_OWN_CONFIG && opt_apply(c, o, val, err))
            return err ? err->rc : DP_EINVAL;
    }
    return DP_OK;
}

enum agent_conf_action agent_conf_parse(struct agent_conf *c, int argc, char **argv,
                                        struct dp_err *err)
{
    const char *cfg = find_config_flag(argc, argv);

    conf_defaults(c);
    if (cfg) {
        snprintf(c->config, sizeof(c->config), "%s", cfg);
        if (conf_file(c, cfg, err))
            return AGENT_EXIT_USAGE;
    }
    if (conf_args(c, argc, argv, err))
        return AGENT_EXIT_USAGE;
    if (c->help || c->version)
        return AGENT_EXIT_OK;
    if (conf_check(c, err))
        return AGENT_EXIT_USAGE;
    return AGENT_RUN;
}
