/* systemctl for node-agent, and the small shell builtins and tools runcmd lines use. */
#include "dosim_cmd.h"

#include "dosim_agent.h"
#include "dosim_tree.h"

#include "dp_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctl_args {
    const char *verb;
    bool now, has_unit;
};

static bool is_agent_unit(const char *u)
{
    return strcmp(u, "node-agent") == 0 || strcmp(u, "node-agent.service") == 0;
}

static bool ctl_parse(struct ctl_args *a, const struct dosim_sh_cmd *c)
{
    static const char *const verbs[] = {"daemon-reload", "enable", "disable",
                                        "start",         "stop",   "restart",
                                        "try-restart",   "reload", "reload-or-restart"};
    bool known = false;

    memset(a, 0, sizeof(*a));
    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];

        if (!strcmp(w, "-q") || !strcmp(w, "--quiet") || !strcmp(w, "--no-block"))
            continue;
        if (!strcmp(w, "--now"))
            a->now = true;
        else if (!a->verb)
            a->verb = w;
        else if (!a->has_unit && is_agent_unit(w))
            a->has_unit = true;
        else
            return false;
    }
    for (size_t i = 0; a->verb && i < sizeof(verbs) / sizeof(verbs[0]); i++)
        known = known || strcmp(a->verb, verbs[i]) == 0;
    if (!known || (a->now && strcmp(a->verb, "enable") != 0 && strcmp(a->verb, "disable") != 0))
        return false;
    return strcmp(a->verb, "daemon-reload") == 0 ? !a->has_unit : a->has_unit;
}

bool dosim_cmd_systemctl_ok(const struct dosim_sh_cmd *c)
{
    struct ctl_args a;

    return ctl_parse(&a, c);
}

static int ctl_enable(struct dosim_ci *ci, bool on, bool now)
{
    struct dosim_agent_probe p;
    struct dp_err err = {0};

    dosim_agent_probe(&p, ci->root_fd, NULL);
    if (on && !p.unit) {
        dosim_ci_log(ci, "Failed to enable unit: Unit file node-agent.service does not exist.");
        return 1;
    }
    if (dosim_agent_enable(ci->root_fd, on, &err)) {
        dosim_ci_log(ci, "Failed to %s unit: %s", on ? "enable" : "disable", err.msg);
        return 1;
    }
    if (on && !p.enabled)
        dosim_ci_log(ci, "Created symlink /" DOSIM_UNIT_LINK " → /" DOSIM_UNIT_FILE ".");
    else if (!on && p.enabled)
        dosim_ci_log(ci, "Removed \"/" DOSIM_UNIT_LINK "\".");
    if (!now)
        return 0;
    return ci->unit(ci->ud, on ? "start" : "stop", ci->log);
}

int dosim_cmd_systemctl(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    struct ctl_args a;

    if (!ctl_parse(&a, c))
        return 2;
    if (strcmp(a.verb, "daemon-reload") == 0)
        return 0;
    if (strcmp(a.verb, "enable") == 0 || strcmp(a.verb, "disable") == 0)
        return ctl_enable(ci, a.verb[0] == 'e', a.now);
    return ci->unit(ci->ud, a.verb, ci->log);
}

/* set -e, set -eu, set -o errexit, set +e, ...: only the shell options runcmd cares about. */
static bool set_parse(const struct dosim_sh_cmd *c, int *errexit)
{
    *errexit = -1;
    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];

        if ((w[0] != '-' && w[0] != '+') || !w[1])
            return false;
        if (strcmp(w + 1, "o") == 0) {
            const char *name = c->argv[++i];

            if (!name)
                return false;
            if (strcmp(name, "errexit") == 0)
                *errexit = w[0] == '-';
            else if (strcmp(name, "pipefail") != 0 && strcmp(name, "nounset") != 0 &&
                     strcmp(name, "xtrace") != 0)
                return false;
        } else if (strspn(w + 1, "euxv") != strlen(w + 1)) {
            return false;
        } else if (strchr(w + 1, 'e')) {
            *errexit = w[0] == '-';
        }
    }
    return c->argc > 1;
}

static bool paths_only(const struct dosim_sh_cmd *c, const char *flags)
{
    int paths = 0;

    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];

        if (w[0] == '-' && (!w[1] || strspn(w + 1, flags) != strlen(w + 1)))
            return false;
        paths += w[0] != '-';
    }
    return paths > 0;
}

/* mv [-f] SRC DST: exactly two paths. */
static bool mv_parse(const struct dosim_sh_cmd *c, const char **src, const char **dst)
{
    int paths = 0;

    *src = *dst = NULL;
    for (int i = 1; i < c->argc; i++) {
        const char *w = c->argv[i];

        if (w[0] == '-' && strcmp(w, "-f") != 0)
            return false;
        if (w[0] == '-')
            continue;
        if (paths++ == 0)
            *src = w;
        else
            *dst = w;
    }
    return paths == 2;
}

bool dosim_cmd_simple_ok(const struct dosim_sh_cmd *c)
{
    const char *n = c->argv[0], *src, *dst;
    int e;

    if (strcmp(n, "mv") == 0)
        return mv_parse(c, &src, &dst);
    if (!strcmp(n, "true") || !strcmp(n, ":") || !strcmp(n, "false") || !strcmp(n, "echo"))
        return true;
    if (strcmp(n, "set") == 0)
        return set_parse(c, &e);
    if (strcmp(n, "mkdir") == 0)
        return paths_only(c, "p");
    if (strcmp(n, "rm") == 0)
        return paths_only(c, "frR");
    return false;
}

static int run_mkdir(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    struct dp_err err = {0};
    char rel[DOSIM_PATH_MAX];
    int status = 0;

    for (int i = 1; i < c->argc; i++) {
        if (c->argv[i][0] == '-')
            continue;
        if (dosim_tree_rel(rel, sizeof(rel), c->argv[i], &err) ||
            dosim_tree_mkdirs(ci->root_fd, rel, &err)) {
            dosim_ci_log(ci, "mkdir: cannot create directory '%s': %s", c->argv[i], err.msg);
            status = 1;
        }
    }
    return status;
}

static int rm_one(struct dosim_ci *ci, const char *path, bool force, bool recursive)
{
    char rel[DOSIM_PATH_MAX];
    const char *leaf;
    struct dp_err err = {0};
    int parent, rc = 0;

    if (dosim_tree_rel(rel, sizeof(rel), path, &err) || !rel[0]) {
        dosim_ci_log(ci, "rm: refusing to remove '%s'", path);
        return 1;
    }
    parent = dp_stage_open_parent(ci->root_fd, rel, false, &leaf, NULL);
    if (parent < 0)
        return force ? 0 : (dosim_ci_log(ci, "rm: cannot remove '%s'", path), 1);
    if (recursive)
        rc = dp_stage_remove_tree(parent, leaf, &err) ? -1 : 0;
    else if (unlinkat(parent, leaf, 0) != 0 && !(force && errno == ENOENT))
        rc = -1;
    close(parent);
    if (rc)
        dosim_ci_log(ci, "rm: cannot remove '%s'", path);
    return rc ? 1 : 0;
}

static int run_rm(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    bool force = false, recursive = false;
    int status = 0;

    for (int i = 1; i < c->argc; i++) {
        if (c->argv[i][0] == '-') {
            force = force || strchr(c->argv[i], 'f');
            recursive = recursive || strpbrk(c->argv[i], "rR");
        }
    }
    for (int i = 1; i < c->argc; i++) {
        if (c->argv[i][0] != '-' && rm_one(ci, c->argv[i], force, recursive))
            status = 1;
    }
    return status;
}

/* Opens the parent of a guest path below the root (never through a symlink); -1 when it is
 * missing or the path is the root. */
static int guest_parent(struct dosim_ci *ci, const char *path, char *rel, size_t size,
                        const char **leaf)
{
    if (dosim_tree_rel(rel, size, path, NULL) || !rel[0])
        return -1;
    return dp_stage_open_parent(ci->root_fd, rel, false, leaf, NULL);
}

/* mv SRC DST within the root: one rename; into DST when DST is a folder. */
static int run_mv(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    char srel[DOSIM_PATH_MAX], drel[DOSIM_PATH_MAX];
    const char *src, *dst, *sleaf = NULL, *dleaf = NULL;
    int sdir, ddir, into = -1, rc = -1;
    struct stat st;

    mv_parse(c, &src, &dst);
    sdir = guest_parent(ci, src, srel, sizeof(srel), &sleaf);
    ddir = guest_parent(ci, dst, drel, sizeof(drel), &dleaf);
    if (sdir >= 0 && ddir >= 0 && fstatat(ddir, dleaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode))
        into = openat(ddir, dleaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sdir >= 0 && ddir >= 0)
        rc = renameat(sdir, sleaf, into >= 0 ? into : ddir, into >= 0 ? sleaf : dleaf);
    if (rc != 0)
        dosim_ci_log(ci, "mv: cannot move '%s' to '%s': %s", src, dst,
                     sdir < 0 || ddir < 0 ? "No such file or directory" : strerror(errno));
    if (into >= 0)
        close(into);
    if (sdir >= 0)
        close(sdir);
    if (ddir >= 0)
        close(ddir);
    return rc ? 1 : 0;
}

static int run_echo(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    char line[DOSIM_LINE_MAX];
    size_t n = 0;

    line[0] = '\0';
    for (int i = 1; i < c->argc && n < sizeof(line); i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", i > 1 ? " " : "", c->argv[i]);
    dosim_ci_log(ci, "%s", line);
    return 0;
}

int dosim_cmd_simple(struct dosim_ci *ci, const struct dosim_sh_cmd *c)
{
    const char *n = c->argv[0];
    int e;

    if (strcmp(n, "false") == 0)
        return 1;
    if (strcmp(n, "echo") == 0)
        return run_echo(ci, c);
    if (strcmp(n, "set") == 0) {
        set_parse(c, &e);
        if (e >= 0)
            ci->errexit = e;
        return 0;
    }
    if (strcmp(n, "mkdir") == 0)
        return run_mkdir(ci, c);
    if (strcmp(n, "rm") == 0)
        return run_rm(ci, c);
    if (strcmp(n, "mv") == 0)
        return run_mv(ci, c);
    return 0; /* true, : */
}

void dosim_cmd_describe(char *out, size_t size, const struct dosim_sh_cmd *c)
{
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < c->argc && n + 1 < size; i++) {
        const char *w = c->argv[i];
        const char *q = strncmp(w, "http", 4) == 0 ? strchr(w, '?') : NULL;
        bool secret =
            (i > 0 && (!strcmp(c->argv[i - 1], "-H") || !strcmp(c->argv[i - 1], "--header"))) ||
            (strncmp(w, "-H", 2) == 0 && w[2]);
        int len = q ? (int)(q - w) : (int)strlen(w);

        n += (size_t)snprintf(out + n, size - n, "%s%.*s%s", i ? " " : "", secret ? 3 : len,
                              secret ? "***" : w, q ? "?***" : "");
    }
}
