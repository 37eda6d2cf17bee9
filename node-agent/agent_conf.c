#include "agent_conf.h"

#include "dp_conf.h"
#include "dp_limits.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static dp_rc allow_add(void *conf, const char *value, struct dp_err *err)
{
    struct agent_conf *c = conf;

    if (c->nallow == AGENT_ALLOW_MAX)
        return dp_err_set(err, DP_EINVAL, "more than %d --allow ranges", AGENT_ALLOW_MAX);
    return dp_cidr_parse(&c->allow[c->nallow++], value, err);
}

#define S(n, field, h) DP_OPT_STRING(struct agent_conf, n, field, h)

static const struct dp_opt opts[] = {
    S("listen", listen, "ADDR:PORT to serve on (default 0.0.0.0:9999)"),
    S("key-file", key_file,
      "file holding the agent key as text (default /etc/node-agent/key); re-read on SIGHUP"),
    S("bake-key-file", bake_key_file,
      "while this file exists, its one-time bake key reaches GET /ping, GET /health and "
      "POST /bake/finalize (and nothing else); finalize removes it"),
    S("cloud-dir", cloud_dir,
      "cloud-init's state folder that POST /bake/finalize clears (default /var/lib/cloud)"),
    S("data-root", data_root,
      "folder that uploads and clones land under (default /var/lib/node-agent)"),
    S("docker-socket", docker_socket, "Docker Engine API socket (default /var/run/docker.sock)"),
    S("publish-ip", publish_ip,
      "host address that container ports are published on (default: all addresses)"),
    S("namespace", namespace_,
      "scope container names and listings to NS, so several agents can share one engine"),
    S("tls-cert", tls_cert, "PEM certificate: serve HTTPS (needs --tls-key)"),
    S("tls-key", tls_key, "PEM private key for --tls-cert"),
    S("git-ca-file", git_ca_file, "PEM CA bundle trusted for https:// git clones"),
    {"allow", DP_OPT_CUSTOM, 0, 0, 0, 0,
     "only serve clients from this IPv4 CIDR (repeatable; default: any address)", allow_add},
    S("user", user,
      "drop to this user after binding; it gets the data root, must be able to read the key "
      "file, and needs a group (e.g. docker) that reaches the Docker socket"),
    {"config", DP_OPT_CONFIG, offsetof(struct agent_conf, config),
     sizeof(((struct agent_conf *)0)->config), 0, 0,
     "read these settings from FILE first: one 'name = value' a line", NULL},
    {"threads", DP_OPT_INT, offsetof(struct agent_conf, threads), 0, 4, 1024,
     "worker threads = concurrent connections, streams included (default 32)", NULL},
    {"git-timeout", DP_OPT_INT, offsetof(struct agent_conf, git_timeout_s), 0, 5, 3600,
     "seconds a whole git clone may take (default 600)", NULL},
    {"log-level", DP_OPT_LEVEL, offsetof(struct agent_conf, log_level), 0, 0, 0,
     "error, warn, info or debug (default info)", NULL},
    {"check", DP_OPT_FLAG, offsetof(struct agent_conf, check), 0, 0, 0,
     "check the configuration and exit", NULL},
    {"help", DP_OPT_FLAG, offsetof(struct agent_conf, help), 0, 0, 0, "show this help and exit",
     NULL},
    {"version", DP_OPT_FLAG, offsetof(struct agent_conf, version), 0, 0, 0,
     "print the version and exit", NULL},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void agent_conf_usage(const char *prog)
{
    printf("Usage: %s [options]\n\n"
           "The node agent: builds images, pulls images, clones git repositories and runs\n"
           "containers on this server through the local Docker engine. Every request needs\n"
           "the agent key in an X-API-Key or 'Authorization: Bearer' header.\n\nOptions:\n",
           prog);
    dp_conf_usage(stdout, opts, NOPTS);
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
    snprintf(c->cloud_dir, sizeof(c->cloud_dir), "/var/lib/cloud");
    snprintf(c->docker_socket, sizeof(c->docker_socket), "/var/run/docker.sock");
    c->threads = 32;
    c->git_timeout_s = DP_GIT_DEADLINE_S;
    c->log_level = DP_LOG_INFO;
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
    if (c->cloud_dir[0] != '/')
        return dp_err_set(err, DP_EINVAL, "--cloud-dir must be an absolute path");
    if (c->bake_key_file[0] && c->bake_key_file[0] != '/')
        return dp_err_set(err, DP_EINVAL, "--bake-key-file must be an absolute path");
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

enum agent_conf_action agent_conf_parse(struct agent_conf *c, int argc, char **argv,
                                        struct dp_err *err)
{
    conf_defaults(c);
    if (dp_conf_parse(c, opts, NOPTS, argc, argv, err))
        return AGENT_EXIT_USAGE;
    if (c->help || c->version)
        return AGENT_EXIT_OK;
    if (conf_check(c, err))
        return AGENT_EXIT_USAGE;
    return AGENT_RUN;
}
