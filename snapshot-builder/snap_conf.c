/* The command line: a command (and its SNAPSHOT argument) anywhere among the flags, each
 * command's own flag table, and --help for each with examples and the exit codes. */
#include "snap.h"

#include "dp_cidr.h"
#include "dp_conf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static dp_rc add_cidr(char (*list)[64], int *n, const char *flag, const char *value,
                      struct dp_err *err)
{
    struct dp_cidr one;

    if (*n == SNAP_ALLOW_MAX)
        return dp_err_set(err, DP_EINVAL, "more than %d %s addresses", SNAP_ALLOW_MAX, flag);
    if (dp_cidr_parse(&one, value, err))
        return DP_EINVAL;
    snprintf(list[(*n)++], 64, "%s", value);
    return DP_OK;
}

static dp_rc allow_add(void *conf, const char *value, struct dp_err *err)
{
    struct snap_conf *c = conf;

    return add_cidr(c->allow, &c->nallow, "--allow", value, err);
}

static dp_rc ssh_add(void *conf, const char *value, struct dp_err *err)
{
    struct snap_conf *c = conf;

    return add_cidr(c->ssh_allow, &c->nssh, "--ssh-allow", value, err);
}

#define S(n, field, h) DP_OPT_STRING(struct snap_conf, n, field, h)
#define I(n, field, lo, hi, h)                                                                     \
    {                                                                                              \
        n, DP_OPT_INT, offsetof(struct snap_conf, field), 0, lo, hi, h, NULL                       \
    }
#define F(n, field, h)                                                                             \
    {                                                                                              \
        n, DP_OPT_FLAG, offsetof(struct snap_conf, field), 0, 0, 0, h, NULL                        \
    }

#define COMMON_OPTS                                                                                \
    F("json", json, "JSON lines on stdout (the same events the controller streams)"),              \
        F("help", help, "this help"),                                                              \
    {                                                                                              \
        "log-level", DP_OPT_LEVEL, offsetof(struct snap_conf, log_level), 0, 0, 0,                 \
            "error, warn, info or debug (default warn)", NULL                                      \
    }

#define BAKE_OPTS                                                                                  \
    S("regions", regions,                                                                          \
      "more regions to copy the snapshot to, comma-separated (e.g. sfo3,ams3)"),                   \
        S("region", region, "region the bake droplet runs in (default nyc3)"),                     \
        S("size", size, "droplet size to bake on (default s-1vcpu-1gb)"),                          \
        S("controller-url", controller_url,                                                        \
          "the controller's public URL; the agent package is <URL>/agent/package (default "        \
          "$CONTROLLER_URL, else http://127.0.0.1:8080)"),                                         \
        S("agent-url", agent_url,                                                                  \
          "the agent package the droplet downloads (default <controller-url>/agent/package)"),     \
        S("agent-sha256", agent_sha256, "its SHA-256 (default: fetched from <agent-url>.sha256)"), \
        {"allow",                                                                                  \
         DP_OPT_CUSTOM,                                                                            \
         0,                                                                                        \
         0,                                                                                        \
         0,                                                                                        \
         0,                                                                                        \
         "IPv4 address or CIDR the agent's port 9999 admits (repeatable; default: the "            \
         "controller's address from the agent URL, 127.0.0.0/8 when that is loopback). This "      \
         "machine must be among them: the baker talks to the agent",                               \
         allow_add},                                                                               \
        {"ssh-allow",                                                                              \
         DP_OPT_CUSTOM,                                                                            \
         0,                                                                                        \
         0,                                                                                        \
         0,                                                                                        \
         0,                                                                                        \
         "emergency admin address or CIDR for SSH (repeatable; none: no SSH at all)",              \
         ssh_add},                                                                                 \
        I("agent-timeout", agent_timeout_s, 5, 86400,                                              \
          "seconds to wait for the agent to answer (default 900: cloud-init installs Docker)"),    \
        I("shutdown-timeout", shutdown_timeout_s, 5, 3600,                                         \
          "seconds for a graceful shutdown before powering off (default 120)")

static const struct dp_opt base_opts[] = {BAKE_OPTS, COMMON_OPTS};

static const struct dp_opt custom_opts[] = {
    S("from", from, "the snapshot to start from: its id or name (required)"),
    S("packages", packages, "Debian packages to add, comma-separated (required)"),
    S("name", name, "N in the name custom-N-agent-<VERSION> (a-z, 0-9, '-'; default custom)"),
    BAKE_OPTS, COMMON_OPTS};

static const struct dp_opt list_opts[] = {COMMON_OPTS};

static const struct dp_opt transfer_opts[] = {
    S("regions", regions, "regions to copy to, comma-separated"),
    F("all-regions", all_regions, "every region that takes image transfers"),
    F("no-wait", no_wait, "start the transfers and return (default: wait until done)"),
    I("timeout", timeout_s, 10, 86400, "seconds to wait for the transfers (default 3600)"),
    COMMON_OPTS};

static const struct dp_opt rebuild_opts[] = {BAKE_OPTS, COMMON_OPTS};

struct command {
    const char *words; /* "bake base" */
    const char *usage, *what, *examples;
    const struct dp_opt *opts;
    size_t nopts;
    enum snap_cmd cmd;
    int nargs; /* positional arguments after the words */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct command commands[] = {
    {"bake base", "bake base [--regions R1,R2] [flags]",
     "Bakes base-docker-debian12-agent-<VERSION> from debian-12-x64: Docker, the node agent "
     "from the controller (checked by SHA-256), its firewall; then copies it to --regions.",
     "  DO_TOKEN=... snapshot-builder bake base --regions sfo3,ams3 \\\n"
     "      --controller-url https://deploy.example.com --allow 203.0.113.7\n"
     "  snapshot-builder bake base --agent-url https://x/node-agent.tar.gz --agent-sha256 "
     "<64 hex> --json\n",
     base_opts, N(base_opts), SNAP_BAKE_BASE, 0},
    {"bake custom", "bake custom --from SNAPSHOT --packages a,b [flags]",
     "Bakes custom-<name>-agent-<VERSION> on top of a snapshot (usually the base) with more "
     "Debian packages.",
     "  snapshot-builder bake custom --from base-docker-debian12-agent-" DP_VERSION
     " --packages postgresql-client,jq --name pg\n"
     "  snapshot-builder bake custom --from 151234567 --packages ffmpeg --regions sfo3\n",
     custom_opts, N(custom_opts), SNAP_BAKE_CUSTOM, 0},
    {"list", "list [--json]", "Lists the account's snapshots, newest first.",
     "  snapshot-builder list\n  snapshot-builder list --json | jq '.snapshots[].name'\n",
     list_opts, N(list_opts), SNAP_LIST, 0},
    {"transfer", "transfer SNAPSHOT --regions R1,R2 | --all-regions [flags]",
     "Copies a snapshot (by id or name) to more regions and waits until the copies are done.",
     "  snapshot-builder transfer base-docker-debian12-agent-" DP_VERSION " --regions sfo3,fra1\n"
     "  snapshot-builder transfer 151234567 --all-regions --no-wait\n",
     transfer_opts, N(transfer_opts), SNAP_TRANSFER, 1},
    {"delete", "delete SNAPSHOT", "Deletes a snapshot (by id or name) everywhere.",
     "  snapshot-builder delete custom-pg-agent-0.1.0\n", list_opts, N(list_opts), SNAP_DELETE, 1},
    {"rebuild", "rebuild [flags]",
     "Rebakes the base snapshot when VERSION (" DP_VERSION ") is newer than the agent version "
     "in the newest base's name, then copies it to the regions the old one was in (and "
     "--regions). Does nothing when the base is current; bakes one when there is none.",
     "  snapshot-builder rebuild --controller-url https://deploy.example.com\n", rebuild_opts,
     N(rebuild_opts), SNAP_REBUILD, 0},
};

static const char exit_codes[] =
    "Exit codes: 0 done (rebuild: also \"nothing to do\"); 1 the operation failed (the message\n"
    "names the step); 2 bad command line; 3 DO_TOKEN missing or refused, DO_API_URL wrong, or\n"
    "no agent package; 4 no such snapshot; 130 interrupted by SIGINT/SIGTERM (the bake droplet\n"
    "was deleted first; a second Ctrl-C during that clean-up quits at once).\n";

static void usage_all(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s COMMAND [flags]\n\n"
            "Bakes and manages the DigitalOcean snapshots servers boot from (version %s).\n\n"
            "Commands:\n",
            prog, DP_VERSION);
    for (size_t i = 0; i < N(commands); i++)
        fprintf(out, "  %s\n      %s\n", commands[i].usage, commands[i].what);
    fprintf(out,
            "\n'%s COMMAND --help' tells more. Every command takes --json.\n"
            "Environment: DO_TOKEN (required), DO_API_URL (default "
            "https://api.digitalocean.com), CONTROLLER_URL.\n\n%s",
            prog, exit_codes);
}

static void usage_command(FILE *out, const char *prog, const struct command *c)
{
    fprintf(out, "usage: %s %s\n\n%s\n\nFlags:\n", prog, c->usage, c->what);
    dp_conf_usage(out, c->opts, c->nopts);
    fprintf(out,
            "\nProgress: step, elapsed time and what it waits for; one updating line on a "
            "terminal,\nplain lines otherwise, JSON lines with --json. Bake droplets are "
            "deleted on success,\nfailure and Ctrl-C alike.\n\nExamples:\n%s\n"
            "Environment: DO_TOKEN (required), DO_API_URL.\n%s",
            c->examples, exit_codes);
}

/* ---- argv ---- */

static const struct dp_opt *find_opt(const struct command *c, const char *arg)
{
    size_t len = strcspn(arg + 2, "=");

    for (size_t i = 0; i < c->nopts; i++) {
        if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, arg + 2, len) == 0)
            return &c->opts[i];
    }
    return NULL;
}

/* Which command the words in argv name (flags skipped); NULL when none. */
static const struct command *command_of(int argc, char **argv, int *words_end)
{
    char words[64] = "";

    for (int i = 1, n = 0; i < argc && n < 2; i++) {
        if (argv[i][0] == '-')
            continue;
        snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%.20s", n ? " " : "",
                 argv[i]);
        n++;
        for (size_t k = 0; k < N(commands); k++) {
            if (strcmp(commands[k].words, words) == 0) {
                *words_end = n;
                return &commands[k];
            }
        }
    }
    return NULL;
}

/* Splits argv into the flags (fargv, for dp_conf_parse) and the positional arguments. */
static int split_args(struct snap *s, const struct command *c, int nwords, int argc, char **argv,
                      char **fargv, int *fargc)
{
    int npos = 0;

    fargv[0] = argv[0];
    *fargc = 1;
    for (int i = 1; i < argc; i++) {
        const struct dp_opt *o = strncmp(argv[i], "--", 2) == 0 ? find_opt(c, argv[i]) : NULL;

        if (o || strncmp(argv[i], "--", 2) == 0) {
            fargv[(*fargc)++] = argv[i];
            if (o && o->kind != DP_OPT_FLAG && !strchr(argv[i], '=') && i + 1 < argc)
                fargv[(*fargc)++] = argv[++i];
        } else if (npos++ >= nwords) {
            if (s->arg) {
                fprintf(stderr, "unexpected argument '%.64s' (try %s --help)\n", argv[i], c->words);
                return SNAP_EXIT_USAGE;
            }
            s->arg = argv[i];
        }
    }
    return SNAP_EXIT_OK;
}

static int check_command(const struct snap *s, const struct command *c)
{
    const struct snap_conf *k = &s->conf;
    const char *why = NULL;

    if (c->nargs && !s->arg)
        why = "needs the SNAPSHOT (an id or a name)";
    else if (!c->nargs && s->arg)
        why = "takes no argument";
    else if (c->cmd == SNAP_BAKE_CUSTOM && (!k->from[0] || !k->packages[0]))
        why = "needs --from SNAPSHOT and --packages a,b";
    else if (c->cmd == SNAP_TRANSFER && !k->regions[0] == !k->all_regions)
        why = "needs either --regions R1,R2 or --all-regions";
    if (!why)
        return SNAP_EXIT_OK;
    fprintf(stderr, "%s %s (try %s --help)\n", c->words, why, c->words);
    return SNAP_EXIT_USAGE;
}

int snap_conf_parse(struct snap *s, int argc, char **argv, bool *done)
{
    const struct command *c;
    struct dp_err err = {0};
    char **fargv = calloc((size_t)argc + 1, sizeof(char *));
    int nwords = 0, fargc = 0, rc;
    bool help = false;

    *done = false;
    s->conf.log_level = DP_LOG_WARN;
    for (int i = 1; i < argc; i++)
        help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    c = command_of(argc, argv, &nwords);
    if (!fargv || !c) {
        free(fargv);
        *done = true;
        if (argc > 1 && strcmp(argv[1], "--version") == 0)
            return printf("snapshot-builder %s\n", DP_VERSION) < 0;
        usage_all(help ? stdout : stderr, "snapshot-builder");
        return help ? SNAP_EXIT_OK : SNAP_EXIT_USAGE;
    }
    s->cmd = c->cmd;
    if (help) {
        free(fargv);
        usage_command(stdout, "snapshot-builder", c);
        *done = true;
        return SNAP_EXIT_OK;
    }
    rc = split_args(s, c, nwords, argc, argv, fargv, &fargc);
    if (rc == SNAP_EXIT_OK && dp_conf_parse(&s->conf, c->opts, c->nopts, fargc, fargv, &err)) {
        fprintf(stderr, "%s: %s\n", c->words, err.msg);
        rc = SNAP_EXIT_USAGE;
    }
    free(fargv);
    return rc ? rc : check_command(s, c);
}
