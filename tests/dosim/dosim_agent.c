#include "dosim_agent.h"

#include "dosim_ip.h"
#include "dosim_limits.h"
#include "dosim_tree.h"

#include "dp_ctr_spec.h"
#include "dp_stage.h"
#include "dp_url.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARGV_MAX   (32 + 2 * DOSIM_ALLOW_MAX)
#define ARGS_BYTES 16384
#define CONF_MAX   (64L * 1024)

/* fstatat of rel below root_fd with no symlink followed on the way or at the end. */
static bool rel_stat(int root_fd, const char *rel, struct stat *st)
{
    const char *leaf;
    int parent = dp_stage_open_parent(root_fd, rel, false, &leaf, NULL);
    bool ok;

    if (parent < 0)
        return false;
    ok = fstatat(parent, leaf, st, AT_SYMLINK_NOFOLLOW) == 0;
    close(parent);
    return ok;
}

void dosim_agent_probe(struct dosim_agent_probe *p, int root_fd, const char *agent_override)
{
    struct stat st;

    memset(p, 0, sizeof(*p));
    p->unit = (rel_stat(root_fd, DOSIM_UNIT_FILE, &st) && S_ISREG(st.st_mode)) ||
              (rel_stat(root_fd, DOSIM_UNIT_FILE_ETC, &st) && S_ISREG(st.st_mode));
    p->enabled = rel_stat(root_fd, DOSIM_UNIT_LINK, &st);
    if (agent_override && *agent_override)
        p->binary = access(agent_override, X_OK) == 0;
    else
        p->binary =
            rel_stat(root_fd, DOSIM_AGENT_BIN, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0111);
    p->key = rel_stat(root_fd, DOSIM_AGENT_KEY, &st) && S_ISREG(st.st_mode) && st.st_size > 0;
    p->bake_key =
        rel_stat(root_fd, DOSIM_AGENT_BAKEKEY, &st) && S_ISREG(st.st_mode) && st.st_size > 0;
}

dp_rc dosim_agent_enable(int root_fd, bool on, struct dp_err *err)
{
    const char *leaf;
    int wants = dp_stage_open_parent(root_fd, DOSIM_UNIT_LINK, on, &leaf, NULL);
    int rc = 0;

    if (wants < 0)
        return on ? dp_err_set(err, DP_EIO, "cannot make /" DOSIM_UNIT_WANTS ": %s",
                               strerror(errno))
                  : DP_OK;
    if (unlinkat(wants, leaf, 0) != 0 && errno != ENOENT)
        rc = -1;
    if (!rc && on)
        rc = symlinkat("/" DOSIM_UNIT_FILE, wants, leaf);
    close(wants);
    if (rc)
        return dp_err_set(err, DP_EIO, "cannot change /" DOSIM_UNIT_LINK ": %s", strerror(errno));
    return DP_OK;
}

struct args {
    char *v[ARGV_MAX + 1];
    int n;
    char store[ARGS_BYTES];
    size_t used;
};

static bool arg_add(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool arg_add(struct args *a, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (a->n == ARGV_MAX)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(a->store + a->used, sizeof(a->store) - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(a->store) - a->used)
        return false;
    a->v[a->n++] = a->store + a->used;
    a->used += (size_t)n + 1;
    return true;
}

/* "name = value" in agent.conf; *val points into line, trimmed. */
static bool conf_kv(char *line, const char **key, char **val)
{
    char *eq = strchr(line, '='), *e;

    while (isspace((unsigned char)*line))
        line++;
    if (!eq || *line == '#')
        return false;
    *eq = '\0';
    for (e = eq; e > line && isspace((unsigned char)e[-1]);)
        *--e = '\0';
    *val = eq + 1;
    while (isspace((unsigned char)**val))
        ++*val;
    for (e = *val + strlen(*val); e > *val && isspace((unsigned char)e[-1]);)
        *--e = '\0';
    *key = line;
    return true;
}

/* --tls-cert/--tls-key/--git-ca-file (mapped under the root) and --allow from the root's
 * agent.conf. */
static bool conf_args(struct args *a, const char *root, int root_fd)
{
    char buf[CONF_MAX + 1], rel[DOSIM_PATH_MAX], *save = NULL;
    int fd = dosim_tree_open_read(root_fd, DOSIM_AGENT_CONF);
    ssize_t n = fd >= 0 ? read(fd, buf, CONF_MAX) : 0;
    bool ok = true;

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (char *l = strtok_r(buf, "\n", &save); ok && l; l = strtok_r(NULL, "\n", &save)) {
        const char *key;
        char *val;

        if (!conf_kv(l, &key, &val) || !*val)
            continue;
        if ((!strcmp(key, "tls-cert") || !strcmp(key, "tls-key") || !strcmp(key, "git-ca-file")) &&
            dosim_tree_rel(rel, sizeof(rel), val, NULL) == DP_OK)
            ok = arg_add(a, "--%s", key) && arg_add(a, "%s/%s", root, rel);
        else if (!strcmp(key, "allow"))
            ok = arg_add(a, "--allow") && arg_add(a, "%s", val);
    }
    return ok;
}

/* --bake-key-file while the root holds one (a bake), and --cloud-dir always: what the unit's
 * agent.conf and defaults would give, mapped into the root. */
static bool bake_args(struct args *a, const struct dosim_agent_spec *s, int root_fd)
{
    struct stat st;

    if (rel_stat(root_fd, DOSIM_AGENT_BAKEKEY, &st) &&
        !(arg_add(a, "--bake-key-file") && arg_add(a, "%s/%s", s->root, DOSIM_AGENT_BAKEKEY)))
        return false;
    return arg_add(a, "--cloud-dir") && arg_add(a, "%s/%s", s->root, DOSIM_CLOUD_DIR);
}

static bool build_args(struct args *a, const struct dosim_agent_spec *s, int root_fd)
{
    char listen[64];

    snprintf(listen, sizeof(listen), "%s:%d", s->ip, DOSIM_AGENT_PORT);
    memset(a, 0, sizeof(*a));
    return arg_add(a, "%s", s->bin) && arg_add(a, "--listen") && arg_add(a, "%s", listen) &&
           arg_add(a, "--key-file") && arg_add(a, "%s/%s", s->root, DOSIM_AGENT_KEY) &&
           arg_add(a, "--data-root") && arg_add(a, "%s/%s", s->root, DOSIM_AGENT_DATA) &&
           arg_add(a, "--namespace") && arg_add(a, "%s", s->ns) && arg_add(a, "--publish-ip") &&
           arg_add(a, "%s", s->ip) && arg_add(a, "--docker-socket") &&
           arg_add(a, "%s", s->docker_socket) && bake_args(a, s, root_fd) &&
           conf_args(a, s->root, root_fd);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child(const struct args *a, int log_fd, int null_fd, pid_t parent)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    /* SIGTERM, SIGINT and SIGHUP stay blocked as in dosim: the agent blocks them too and takes
     * them with sigwait, so a stop that comes before it is ready still ends it cleanly. */
    sigaction(SIGPIPE, &dfl, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    close_range(3, ~0U, 0);
    execv(a->v[0], a->v);
    (void)!write(2, "dosim: cannot execute the agent\n", 32);
    _exit(127);
}

static void log_start(int fd, const struct args *a)
{
    char line[ARGS_BYTES + 64];
    size_t n = (size_t)snprintf(line, sizeof(line), "dosim: starting");

    for (int i = 0; i < a->n && n < sizeof(line); i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", a->v[i]);
    if (n < sizeof(line) - 1) {
        line[n++] = '\n';
        (void)!write(fd, line, n);
    }
}

dp_rc dosim_agent_spawn(pid_t *out, const struct dosim_agent_spec *s, struct dp_err *err)
{
    struct args *a = malloc(sizeof(*a));
    int root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int log_fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid(), pid = -1;
    dp_rc rc = DP_OK;

    *out = 0;
    if (!a || root_fd < 0 || log_fd < 0 || null_fd < 0) {
        rc = DP_EIO;
        dp_err_set(err, rc, "cannot prepare the agent: %s", strerror(errno));
    } else if (dosim_tree_mkdirs(root_fd, "var/lib", err)) {
        rc = DP_EIO;
    } else if (!build_args(a, s, root_fd)) {
        rc = DP_ETOOBIG;
        dp_err_set(err, rc, "the agent's command line is too long");
    } else {
        log_start(log_fd, a);
        pid = fork();
        if (pid == 0)
            child(a, log_fd, null_fd, parent);
        if (pid < 0) {
            rc = DP_EIO;
            dp_err_set(err, rc, "fork: %s", strerror(errno));
        }
    }
    if (root_fd >= 0)
        close(root_fd);
    if (log_fd >= 0)
        close(log_fd);
    if (null_fd >= 0)
        close(null_fd);
    free(a);
    *out = pid > 0 ? pid : 0;
    return rc;
}

static dp_rc docker_list(json_t **out, const struct dp_docker *d, const char *prefix,
                         const char *filter, struct dp_err *err)
{
    char esc[768], path[1024];
    struct dp_docker_req rq = {.method = "GET", .path = path, .timeout_ms = 30000};
    struct dp_docker_resp r;
    dp_rc rc;

    *out = NULL;
    if (dp_url_escape(esc, sizeof(esc), filter))
        return dp_err_set(err, DP_EINTERNAL, "filter too long");
    snprintf(path, sizeof(path), "%s%s", prefix, esc);
    rc = dp_docker_call(d, &rq, &r, err);
    if (!rc && r.status != 200)
        rc = dp_docker_status_err(&r, "list", err);
    if (!rc && !(*out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL)))
        rc = dp_err_set(err, DP_EUPSTREAM, "docker sent an unreadable list");
    dp_docker_resp_clear(&r);
    return rc;
}

static dp_rc docker_delete(const struct dp_docker *d, const char *prefix, const char *name,
                           const char *suffix, struct dp_err *err)
{
    char esc[512], path[700];
    struct dp_docker_req rq = {.method = "DELETE", .path = path, .timeout_ms = 60000};
    struct dp_docker_resp r;
    dp_rc rc;

    if (dp_url_escape(esc, sizeof(esc), name))
        return dp_err_set(err, DP_EINVAL, "name too long");
    snprintf(path, sizeof(path), "%s%s%s", prefix, esc, suffix);
    rc = dp_docker_call(d, &rq, &r, err);
    if (!rc && r.status >= 300 && r.status != 404)
        rc = dp_docker_status_err(&r, "remove", err);
    dp_docker_resp_clear(&r);
    return rc;
}

static dp_rc clean_volumes(const struct dp_docker *d, const char *ns, struct dp_err *err)
{
    char filter[128], prefix[64];
    json_t *ans = NULL, *v;
    size_t i;
    dp_rc rc;

    snprintf(prefix, sizeof(prefix), "%s_", ns);
    snprintf(filter, sizeof(filter), "{\"name\":[\"%s\"]}", prefix);
    rc = docker_list(&ans, d, "/volumes?filters=", filter, err);
    json_array_foreach(json_object_get(ans, "Volumes"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "Name"));

        if (!rc && name && strncmp(name, prefix, strlen(prefix)) == 0)
            rc = docker_delete(d, "/volumes/", name, "?force=1", err);
    }
    json_decref(ans);
    return rc;
}

dp_rc dosim_agent_clean_docker(const struct dp_docker *d, const char *ns, int *removed,
                               struct dp_err *err)
{
    char filter[128];
    json_t *list = NULL, *c;
    size_t i;
    dp_rc rc;

    *removed = 0;
    snprintf(filter, sizeof(filter), "{\"label\":[\"%s=%s\"]}", DP_LABEL_NAMESPACE, ns);
    rc = docker_list(&list, d, "/containers/json?all=1&filters=", filter, err);
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));

        if (!rc && id && !(rc = docker_delete(d, "/containers/", id, "?force=1&v=0", err)))
            ++*removed;
    }
    json_decref(list);
    return rc ? rc : clean_volumes(d, ns, err);
}
