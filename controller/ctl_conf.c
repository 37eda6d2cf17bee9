#include "ctl_conf.h"

#include "dp_cidr.h"
#include "dp_conf.h"
#include "dp_ctr_spec.h"

#include <stddef.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static dp_rc allow_add(void *conf, const char *value, struct dp_err *err)
{
    struct ctl_conf *c = conf;
    struct dp_cidr one;

    if (c->nagent_allow == CTL_ALLOW_MAX)
        return dp_err_set(err, DP_EINVAL, "more than %d --agent-allow ranges", CTL_ALLOW_MAX);
    if (dp_cidr_parse(&one, value, err))
        return DP_EINVAL;
    snprintf(c->agent_allow[c->nagent_allow++], sizeof(c->agent_allow[0]), "%s", value);
    return DP_OK;
}

#define S(n, field, h) DP_OPT_STRING(struct ctl_conf, n, field, h)
#define I(n, field, lo, hi, h)                                                                     \
    {                                                                                              \
        n, DP_OPT_INT, offsetof(struct ctl_conf, field), 0, lo, hi, h, NULL                        \
    }
#define F(n, field, h)                                                                             \
    {                                                                                              \
        n, DP_OPT_FLAG, offsetof(struct ctl_conf, field), 0, 0, 0, h, NULL                         \
    }

static const struct dp_opt opts[] = {
    S("listen", listen, "ADDR:PORT to serve the dashboard and API on (default 127.0.0.1:8080)"),
    S("public-url", public_url,
      "how servers reach this controller, e.g. https://deploy.example.com (agent package "
      "downloads during bakes; default http://<listen>)"),
    S("db", db,
      "SQLite database file, made with mode 0600 (default /var/lib/deploy-infra/"
      "controller.db)"),
    S("static", static_dir,
      "folder with the dashboard (default: the one installed or built "
      "with this program)"),
    S("git-ca-file", git_ca_file,
      "PEM certificates new servers' agents trust for https:// git clones (a private git "
      "server); sent in their provision-time user-data"),
    S("spool-dir", spool_dir,
      "folder for uploads being processed, owned by this controller alone (default: spool/ "
      "beside the database)"),
    {"agent-allow", DP_OPT_CUSTOM, 0, 0, 0, 0,
     "IPv4 address or CIDR new servers' agents admit (repeatable; default: this controller's "
     "address from --public-url, or 127.0.0.0/8 for a local simulator)",
     allow_add},
    I("threads", threads, 16, 4096,
      "worker threads = concurrent connections: API calls, live SSE viewers (default 600)"),
    I("deploy-parallel", deploy_parallel, 1, 64, "servers a deploy works on at once (default 16)"),
    I("session-hours", session_hours, 1, 720, "how long a login lasts (default 12)"),
    I("code-max-mb", code_max_mb, 1, 65536,
      "unpacked size limit of one deploy's code, MiB (default 4096; a zip bomb stops here)"),
    I("agent-stall-seconds", agent_stall_s, 3, 3600,
      "an agent that sends nothing for this long during a step has failed (default 45; agents "
      "send a heartbeat every 5 s)"),
    S("base-image-python", base_python,
      "base image of generated Dockerfiles for Python code (default python:3.12-slim)"),
    S("base-image-node", base_node, "... for Node.js code (default node:20-slim)"),
    S("base-image-go", base_go_build, "... to build Go code (default golang:1.22)"),
    S("base-image-go-run", base_go_run,
      "... to run built Go programs (default gcr.io/distroless/static-debian12)"),
    S("base-image-static", base_static, "... to serve static sites (default busybox:1.36)"),
    S("example-image", example_image,
      "an image the dashboard's Deploy view offers to start with, e.g. a demo in a local "
      "registry (default: none)"),
    {"log-level", DP_OPT_LEVEL, offsetof(struct ctl_conf, log_level), 0, 0, 0,
     "error, warn, info or debug (default info)", NULL},
    F("check", check, "check the configuration and exit"),
    F("help", help, "show this help and exit"),
    F("version", version, "print the version and exit"),
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void ctl_conf_usage(const char *prog)
{
    printf("Usage: %s [options]\n\n"
           "The deploy platform's controller: the dashboard at /, the API at /api/v1/. It\n"
           "provisions servers on DigitalOcean, deploys code, git repositories and images to\n"
           "them, and streams every step live.\n\nOptions:\n",
           prog);
    dp_conf_usage(stdout, opts, NOPTS);
    printf("\nEnvironment:\n"
           "  DO_TOKEN                   the DigitalOcean token (or set it in Settings)\n"
           "  DO_API_URL                 the API's origin (default https://api.digitalocean.com)\n"
           "  CONTROLLER_ADMIN_PASSWORD  admin's password on first start (else one is generated "
           "and printed once)\n"
           "\nExample:\n  %s --listen 127.0.0.1:8080 --db /var/lib/deploy-infra/controller.db\n",
           prog);
}

/* <prefix> of this program (<prefix>/bin/controller, the same in the build tree). */
static void exe_prefix(char *out, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", out, size - 1);

    out[n > 0 ? n : 0] = '\0';
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(out, '/');

        if (slash)
            *slash = '\0';
    }
}

static bool is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The page and the agent package: installed beside the program, else the build tree's. */
static void find_files(struct ctl_conf *c)
{
    char prefix[CTL_STR_MAX / 2];
    char p[CTL_STR_MAX];

    exe_prefix(prefix, sizeof(prefix));
    snprintf(p, sizeof(p), "%s/share/deploy-infra/static", prefix);
    if (!c->static_dir[0])
        snprintf(c->static_dir, sizeof(c->static_dir), "%s",
                 is_dir(p) ? p : DP_SOURCE_DIR "/static");
    snprintf(p, sizeof(p), "%s/share/deploy-infra/package", prefix);
    if (!is_dir(p))
        snprintf(p, sizeof(p), "%s/package", prefix);
    snprintf(c->package_dir, sizeof(c->package_dir), "%s", p);
}

static void conf_defaults(struct ctl_conf *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
    snprintf(c->db, sizeof(c->db), "/var/lib/deploy-infra/controller.db");
    c->threads = 600;
    c->deploy_parallel = 16;
    c->session_hours = 12;
    c->code_max_mb = 4096;
    c->agent_stall_s = 45;
    c->log_level = DP_LOG_INFO;
}

static dp_rc conf_check(struct ctl_conf *c, struct dp_err *err)
{
    if (!strchr(c->listen, ':'))
        return dp_err_set(err, DP_EINVAL, "--listen must be ADDR:PORT, got '%s'", c->listen);
    if (!c->public_url[0])
        snprintf(c->public_url, sizeof(c->public_url), "http://%.1000s", c->listen);
    if (strncmp(c->public_url, "http://", 7) != 0 && strncmp(c->public_url, "https://", 8) != 0)
        return dp_err_set(err, DP_EINVAL, "--public-url must start with http:// or https://");
    if (c->db[0] != '/')
        return dp_err_set(err, DP_EINVAL, "--db must be an absolute path");
    if (c->example_image[0] && !dp_image_ref_valid(c->example_image))
        return dp_err_set(err, DP_EINVAL,
                          "--example-image must be an image reference such as "
                          "registry.example.com/team/app:1");
    if (!c->spool_dir[0]) { /* beside the database: one controller's own folder */
        char dbdir[CTL_STR_MAX];

        snprintf(dbdir, sizeof(dbdir), "%s", c->db);
        snprintf(c->spool_dir, sizeof(c->spool_dir), "%.*s/spool", CTL_STR_MAX - 7, dirname(dbdir));
    }
    find_files(c);
    return DP_OK;
}

enum ctl_conf_action ctl_conf_parse(struct ctl_conf *c, int argc, char **argv, struct dp_err *err)
{
    conf_defaults(c);
    if (dp_conf_parse(c, opts, NOPTS, argc, argv, err))
        return CTL_EXIT_USAGE;
    if (c->help || c->version)
        return CTL_EXIT_OK;
    if (conf_check(c, err))
        return CTL_EXIT_USAGE;
    return CTL_RUN;
}
