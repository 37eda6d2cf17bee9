/* The parent side of a clone: checks, the helper process and its supervision, and the move of
 * the finished tree into place. The helper side is in dp_git_child.c. */
#include "dp_git.h"

#include "dp_buf.h"

#include "dp_clock.h"
#include "dp_json.h"
#include "dp_path.h"
#include "dp_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- checks ---------------------------------------------------------------------------- */

static const struct {
    const char *prefix;
    bool token_ok;
} git_schemes[] = {{"https://", true}, {"http://", false}, {"git://", false}};

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static dp_rc bad_url(struct dp_err *err, const char *why)
{
    return dp_err_setc(err, DP_EINVAL, "invalid_url", "url %s", why);
}

/* An optional ":port" at p (up to end): 1 to 65535. */
static bool port_ok(const char *p, const char *end)
{
    long v = 0;

    if (p == end)
        return true;
    if (*p++ != ':' || p == end || end - p > 5)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    return v >= 1 && v <= 65535;
}

/* The end of a "[v6]" host starting at p, or NULL. */
static const char *host_v6_end(const char *p, const char *end)
{
    const char *h = ++p;

    while (p < end && *p != ']' && (is_hex(*p) || *p == ':' || *p == '.'))
        p++;
    return p < end && *p == ']' && p > h ? p + 1 : NULL;
}

/* The end of a host name or IPv4 address starting at p, or NULL. */
static const char *host_name_end(const char *p, const char *end)
{
    const char *h = p;

    while (p < end && (is_alnum(*p) || *p == '.' || *p == '-' || *p == '_'))
        p++;
    if (p == h || *h == '-' || *h == '.' || p - h > 253)
        return NULL;
    return p;
}

/* host[:port] or [v6][:port] between p and end. */
static dp_rc authority_check(const char *p, const char *end, struct dp_err *err)
{
    if (p == end)
        return bad_url(err, "has no host");
    p = *p == '[' ? host_v6_end(p, end) : host_name_end(p, end);
    if (!p)
        return bad_url(err, "has no valid host (letters, digits, '.', '-', '_' or [IPv6])");
    if (!port_ok(p, end))
        return bad_url(err, "has a bad port (1 to 65535)");
    return DP_OK;
}

/* RFC 3986 path characters, '@' excepted (see dp_git_url_check). */
static bool path_char_ok(char c)
{
    return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:/", c));
}

static dp_rc path_check(const char *p, struct dp_err *err)
{
    if (*p != '/' || p[1] == '\0')
        return bad_url(err, "has no repository path");
    for (; *p; p++) {
        if (*p == '%') {
            if (!is_hex(p[1]) || !is_hex(p[2]))
                return bad_url(err, "has a bad %-escape");
            p += 2;
        } else if (*p == '?' || *p == '#') {
            return bad_url(err, "must not have a query or fragment");
        } else if (!path_char_ok(*p)) {
            return bad_url(err, "has a character that must be %-escaped (space, control, "
                                "quote or non-ASCII)");
        }
    }
    return DP_OK;
}

dp_rc dp_git_url_check(const char *url, bool with_token, struct dp_err *err)
{
    size_t len = url ? strnlen(url, DP_URL_MAX + 1) : 0;
    const char *p = NULL, *end;
    bool token_ok = false;
    dp_rc rc;

    if (len == 0)
        return dp_err_setc(err, DP_EINVAL, "missing_field", "field 'url' is required");
    if (len > DP_URL_MAX)
        return dp_err_setc(err, DP_EINVAL, "invalid_url", "url is longer than %d bytes",
                           DP_URL_MAX);
    for (size_t i = 0; i < sizeof(git_schemes) / sizeof(git_schemes[0]) && !p; i++) {
        size_t n = strlen(git_schemes[i].prefix);

        if (strncmp(url, git_schemes[i].prefix, n) == 0) {
            p = url + n;
            token_ok = git_schemes[i].token_ok;
        }
    }
    if (!p)
        return bad_url(err, "must start with https://, http:// or git:// (file://, ssh://, "
                            "local paths and host:path forms are refused)");
    if (strchr(url, '@'))
        return bad_url(err, "must not hold a user name or password; send the token in "
                            "'token'");
    if (with_token && !token_ok)
        return dp_err_setc(err, DP_EINVAL, "token_needs_https",
                           "a token is sent only over https://; use an https:// url or no "
                           "token");
    end = p + strcspn(p, "/?#");
    rc = authority_check(p, end, err);
    return rc ? rc : path_check(end, err);
}

static dp_rc bad_branch(struct dp_err *err, const char *why)
{
    return dp_err_setc(err, DP_EINVAL, "invalid_branch", "branch %s", why);
}

/* Per '/'-separated component: no leading '.', no ".lock" ending, not empty. */
static dp_rc branch_components(const char *b, struct dp_err *err)
{
    while (*b) {
        size_t n = strcspn(b, "/");

        if (n == 0)
            return bad_branch(err, "has an empty component ('//' or a '/' at either end)");
        if (b[0] == '.')
            return bad_branch(err, "has a component starting with '.'");
        if (n >= 5 && memcmp(b + n - 5, ".lock", 5) == 0)
            return bad_branch(err, "has a component ending with '.lock'");
        b += n;
        if (*b == '/' && *++b == '\0')
            return bad_branch(err, "has an empty component ('//' or a '/' at either end)");
    }
    return DP_OK;
}

dp_rc dp_git_branch_check(const char *b, struct dp_err *err)
{
    size_t n = b ? strnlen(b, DP_GIT_BRANCH_MAX + 1) : 0;

    if (n == 0)
        return bad_branch(err, "is empty");
    if (n > DP_GIT_BRANCH_MAX)
        return dp_err_setc(err, DP_EINVAL, "invalid_branch", "branch is longer than %d bytes",
                           DP_GIT_BRANCH_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];

        if (c < 0x20 || c == 0x7f || strchr(" ~^:?*[\\", c))
            return bad_branch(err, "has a space, a control character or one of ~^:?*[\\");
    }
    if (b[0] == '-')
        return bad_branch(err, "must not start with '-'");
    if (strcmp(b, "HEAD") == 0 || strcmp(b, "@") == 0)
        return bad_branch(err, "must not be HEAD or @");
    if (strstr(b, "..") || strstr(b, "@{"))
        return bad_branch(err, "must not contain '..' or '@{'");
    if (b[n - 1] == '.')
        return bad_branch(err, "must not end with '.'");
    return branch_components(b, err);
}

dp_rc dp_git_token_check(const char *token, struct dp_err *err)
{
    size_t n = token ? strnlen(token, DP_CREDENTIAL_MAX + 1) : 0;

    if (n == 0 || n > DP_CREDENTIAL_MAX)
        return dp_err_setc(err, DP_EINVAL, "invalid_token", "token must be 1 to %d bytes",
                           DP_CREDENTIAL_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)token[i] < 0x20 || token[i] == 0x7f)
            return dp_err_setc(err, DP_EINVAL, "invalid_token",
                               "token must not contain control characters");
    }
    return DP_OK;
}

/* ---- the request ----------------------------------------------------------------------- */

struct clone_req {
    const char *url, *branch, *token; /* borrowed from the request; "" when absent */
    char path[DP_PATH_MAX + 1];       /* normalized */
};

static dp_rc req_read(struct clone_req *r, const json_t *req, const char *data_root,
                      struct dp_err *err)
{
    char abs[DP_PATH_MAX * 2];
    const char *path = NULL;
    dp_rc rc;

    /* Lengths are checked below, with codes that name the field. */
    if ((rc = dp_json_get_str(&r->url, req, "url", true, DP_BODY_MAX, err)) ||
        (rc = dp_json_get_str(&r->branch, req, "branch", false, DP_BODY_MAX, err)) ||
        (rc = dp_json_get_str(&r->token, req, "token", false, DP_BODY_MAX, err)) ||
        (rc = dp_json_get_str(&path, req, "path", true, DP_BODY_MAX, err)))
        return rc;
    r->branch = r->branch ? r->branch : "";
    r->token = r->token ? r->token : "";
    if ((rc = dp_git_url_check(r->url, r->token[0] != '\0', err)))
        return rc;
    if (r->branch[0] && (rc = dp_git_branch_check(r->branch, err)))
        return rc;
    if (r->token[0] && (rc = dp_git_token_check(r->token, err)))
        return rc;
    if ((rc = dp_path_normalize(r->path, sizeof(r->path), path, err)) ||
        (rc = dp_path_under_root(abs, sizeof(abs), data_root, r->path, err)))
        return rc;
    return dp_stage_check(data_root, r->path, true, err);
}

/* ---- the helper process ---------------------------------------------------------------- */

struct git_run {
    pid_t pid;  /* the helper and its process group; 0 once reaped */
    int status; /* its wait status once reaped */
    int out_fd; /* its stdout; -1 when closed */
    bool eof;   /* it closed stdout */
    struct dp_buf line;
    json_t *result; /* its {"type":"result",...} line */
    int64_t start_ms, last_word_ms;
};

/* The helper gets a clean environment: no HOME, so no user git config; sanitizer options
 * pass so its reports reach the agent's log like the agent's own. */
static void helper_env(char **envp, size_t max)
{
    static const char *const keep[] = {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
    static char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    size_t n = 0;

    envp[n++] = path;
    for (char **e = environ; e && *e && n + 1 < max; e++) {
        for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
            if (strncmp(*e, keep[k], strlen(keep[k])) == 0 && n + 1 < max)
                envp[n++] = *e;
        }
    }
    envp[n] = NULL;
}

/* Own process group (killed as a whole), default signals, an empty mask (the agent's threads
 * block SIGTERM), only stdin, stdout and stderr (the agent's log) open. Returns an errno. */
static int helper_spawn_attrs(posix_spawnattr_t *at, posix_spawn_file_actions_t *fa, int in,
                              int out)
{
    sigset_t none, all;
    int e;

    sigemptyset(&none);
    sigfillset(&all);
    if ((e = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF)) ||
        (e = posix_spawnattr_setpgroup(at, 0)) || (e = posix_spawnattr_setsigmask(at, &none)) ||
        (e = posix_spawnattr_setsigdefault(at, &all)) ||
        (e = posix_spawn_file_actions_adddup2(fa, in, 0)) ||
        (e = posix_spawn_file_actions_adddup2(fa, out, 1)) ||
        (e = posix_spawn_file_actions_addclosefrom_np(fa, 3)))
        return e;
    return 0;
}

static dp_rc write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DP_EIO;
        p += w;
        n -= (size_t)w;
    }
    return DP_OK;
}

/* The helper's input; the token goes through a pipe, never argv (visible in ps). */
static dp_rc helper_feed(int fd, const struct clone_req *r, const struct dp_git_place *pl,
                         const char *dest, struct dp_err *err)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "url", r->url, "branch", r->branch,
                          "token", r->token, "dest", dest, "ca_file",
                          pl->ca_file ? pl->ca_file : "", "deadline_s", pl->timeout_s);
    char *text = p ? dp_json_dump(p) : NULL;
    dp_rc rc = DP_ENOMEM;
    int e = 0;

    if (text) {
        rc = write_all(fd, text, strlen(text)); /* small: fits the pipe, does not block */
        e = errno;
        explicit_bzero(text, strlen(text));
    }
    free(text);
    json_decref(p);
    if (rc == DP_ENOMEM)
        return dp_err_set(err, rc, "out of memory");
    return rc ? dp_err_set(err, rc, "cannot hand the clone to its helper: %s", strerror(e)) : DP_OK;
}

static dp_rc helper_start(struct git_run *g, const struct dp_git_place *pl,
                          const struct clone_req *r, const char *dest, struct dp_err *err)
{
    char *argv[] = {(char *)pl->self_exe, DP_GIT_CHILD_ARG, NULL};
    int in[2] = {-1, -1}, out[2] = {-1, -1}, e = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char *envp[8];
    dp_rc rc;

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        e = errno;
        goto done;
    }
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_init(&fa);
    helper_env(envp, sizeof(envp) / sizeof(envp[0]));
    e = helper_spawn_attrs(&at, &fa, in[0], out[1]);
    if (!e)
        e = posix_spawn(&g->pid, pl->self_exe, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
done:
    if (in[0] >= 0)
        close(in[0]);
    if (out[1] >= 0)
        close(out[1]);
    g->out_fd = out[0];
    if (e) {
        g->pid = 0;
        if (in[1] >= 0)
            close(in[1]);
        return dp_err_set(err, DP_EINTERNAL, "cannot start the git helper: %s", strerror(e));
    }
    g->start_ms = g->last_word_ms = dp_mono_ms();
    rc = helper_feed(in[1], r, pl, dest, err);
    close(in[1]);
    return rc;
}

/* Waits for the helper up to ms (negative: kill its group first, then wait). */
static void helper_reap(struct git_run *g, int64_t ms)
{
    int64_t until = dp_mono_ms() + (ms > 0 ? ms : 0);
    pid_t w = 0;

    if (g->pid <= 0)
        return;
    while (ms > 0 && (w = waitpid(g->pid, &g->status, WNOHANG)) == 0 && dp_mono_ms() < until)
        dp_sleep_ms(20);
    if (ms > 0 && w == g->pid) {
        g->pid = 0;
        return;
    }
    kill(-g->pid, SIGKILL); /* the group: nothing it started may outlive it */
    while (waitpid(g->pid, &g->status, 0) < 0 && errno == EINTR)
        ;
    g->pid = 0;
}

/* ---- supervision ----------------------------------------------------------------------- */

static dp_rc helper_line(struct git_run *g, const char *p, size_t n, const struct dp_progress *pr,
                         const struct dp_git_place *pl)
{
    json_t *ev = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    dp_rc rc = DP_OK;

    if (!type) {
        dp_log(DP_LOG_WARN, pl->log, "git helper wrote a line that is not an event");
    } else if (strcmp(type, "result") == 0) {
        json_decref(g->result);
        g->result = json_incref(ev);
    } else if (strcmp(type, "progress") == 0 || strcmp(type, "log") == 0) {
        g->last_word_ms = dp_mono_ms();
        if (pr && pr->emit && pr->emit(pr->ud, ev))
            rc = DP_ECANCELED;
    }
    json_decref(ev);
    return rc;
}

/* Reads what the helper wrote and handles every whole line. */
static dp_rc helper_read(struct git_run *g, const struct dp_progress *pr,
                         const struct dp_git_place *pl, struct dp_err *err)
{
    char buf[4096], *nl;
    ssize_t n = read(g->out_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return DP_OK;
    if (n < 0)
        return dp_err_set(err, DP_EIO, "git helper pipe: %s", strerror(errno));
    if (n == 0) {
        g->eof = true;
        return DP_OK;
    }
    if (dp_buf_append(&g->line, buf, (size_t)n))
        return dp_err_set(err, DP_EINTERNAL, "git helper wrote a line over %lu bytes",
                          DP_GIT_LINE_MAX);
    while (g->line.len && (nl = memchr(g->line.data, '\n', g->line.len))) {
        size_t len = (size_t)(nl - g->line.data);
        dp_rc rc = helper_line(g, g->line.data, len, pr, pl);

        dp_buf_consume(&g->line, len + 1);
        if (rc)
            return dp_err_set(err, rc, "the clone was canceled: the client went away");
    }
    if (g->line.len > DP_GIT_LINE_MAX)
        return dp_err_set(err, DP_EINTERNAL, "git helper wrote a line over %lu bytes",
                          DP_GIT_LINE_MAX);
    return DP_OK;
}

/* Why the clone must stop now, if it must. */
static dp_rc limits_check(const struct git_run *g, const struct dp_git_place *pl,
                          const struct dp_progress *pr, struct dp_err *err)
{
    int64_t now = dp_mono_ms();

    if (pr && pr->tick && pr->tick(pr->ud))
        return dp_err_set(err, DP_ECANCELED, "the clone was canceled: the client went away");
    if (now - g->start_ms >= (int64_t)pl->timeout_s * 1000)
        return dp_err_setc(err, DP_ETIMEOUT, "git_timeout",
                           "the clone did not finish within %d s (--git-timeout)", pl->timeout_s);
    if (now - g->last_word_ms >= (int64_t)pl->stall_s * 1000)
        return dp_err_setc(err, DP_ETIMEOUT, "git_timeout",
                           "the git server sent nothing for %d s: the clone was stopped",
                           pl->stall_s);
    return DP_OK;
}

/* Streams the helper's events until it closes stdout or a limit ends the clone. */
static dp_rc helper_watch(struct git_run *g, const struct dp_git_place *pl,
                          const struct dp_progress *pr, struct dp_err *err)
{
    dp_rc rc = DP_OK;

    while (!rc && !g->eof) {
        struct pollfd pfd = {.fd = g->out_fd, .events = POLLIN};
        int n = poll(&pfd, 1, DP_GIT_POLL_MS);

        if (n < 0 && errno != EINTR)
            return dp_err_set(err, DP_EIO, "poll on the git helper: %s", strerror(errno));
        if (n > 0)
            rc = helper_read(g, pr, pl, err);
        if (!rc && !g->eof)
            rc = limits_check(g, pl, pr, err);
    }
    return rc;
}

static bool commit_ok(const char *c)
{
    if (!c || strlen(c) != DP_GIT_OID_HEX)
        return false;
    for (; *c; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return false;
    }
    return true;
}

static bool code_ok(const char *c)
{
    size_t n = c ? strlen(c) : 0;

    if (n == 0 || n >= DP_ERR_CODE_MAX)
        return false;
    return strspn(c, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/* The helper's verdict: its result line and its exit status. */
static dp_rc helper_verdict(char *commit, const struct git_run *g, struct dp_err *err)
{
    const char *c = json_string_value(json_object_get(g->result, "commit"));
    const char *code = json_string_value(json_object_get(g->result, "error"));
    const char *detail = json_string_value(json_object_get(g->result, "detail"));
    json_int_t rc = json_integer_value(json_object_get(g->result, "rc"));
    bool exited0 = WIFEXITED(g->status) && WEXITSTATUS(g->status) == 0;

    if (commit_ok(c) && exited0) {
        memcpy(commit, c, DP_GIT_OID_HEX + 1);
        return DP_OK;
    }
    if (code_ok(code) && detail && rc > DP_OK && rc <= DP_EINTERNAL)
        return dp_err_setc(err, (dp_rc)rc, code, "%s", detail);
    if (WIFSIGNALED(g->status))
        return dp_err_set(err, DP_EINTERNAL, "the git helper was killed by signal %d",
                          WTERMSIG(g->status));
    return dp_err_set(err, DP_EINTERNAL, "the git helper exited with status %d and no result",
                      WIFEXITED(g->status) ? WEXITSTATUS(g->status) : -1);
}

static dp_rc emit_start(const struct dp_progress *pr, const struct clone_req *r)
{
    char msg[DP_URL_MAX + DP_GIT_BRANCH_MAX + DP_PATH_MAX + 64];
    json_t *ev;
    dp_rc rc = DP_OK;

    snprintf(msg, sizeof(msg), "cloning %s%s%s into %s", r->url, r->branch[0] ? " branch " : "",
             r->branch, r->path);
    ev = json_pack("{s:s, s:s}", "type", "log", "message", msg);
    if (!ev)
        return DP_ENOMEM;
    if (pr && pr->emit)
        rc = pr->emit(pr->ud, ev);
    json_decref(ev);
    return rc ? DP_ECANCELED : DP_OK;
}

/* Runs the helper into st->path and waits for its verdict. */
static dp_rc clone_run(char *commit, const struct dp_git_place *pl, const struct clone_req *r,
                       const char *dest, const struct dp_progress *pr, struct dp_err *err)
{
    struct git_run g = {.out_fd = -1, .status = -1}; /* -1: neither exited nor signaled */
    dp_rc rc;

    dp_buf_init(&g.line, DP_GIT_LINE_MAX + 4096);
    rc = helper_start(&g, pl, r, dest, err);
    if (!rc && emit_start(pr, r))
        rc = dp_err_set(err, DP_ECANCELED, "the clone was canceled: the client went away");
    if (!rc)
        rc = helper_watch(&g, pl, pr, err);
    helper_reap(&g, rc ? -1 : DP_GIT_REAP_MS); /* on any failure: kill, then reap */
    if (!rc)
        rc = helper_verdict(commit, &g, err);
    if (g.out_fd >= 0)
        close(g.out_fd);
    json_decref(g.result);
    dp_buf_clear(&g.line);
    return rc;
}

dp_rc dp_git_clone(struct dp_git_result *out, const struct dp_git_place *pl, const json_t *req,
                   const struct dp_progress *pr, struct dp_err *err)
{
    struct dp_stage st = {.root_fd = -1, .parent_fd = -1, .fd = -1};
    struct clone_req r;
    int64_t t0 = dp_mono_ms();
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = req_read(&r, req, pl->data_root, err);
    if (rc)
        return rc;
    rc = dp_stage_open(&st, pl->data_root, err);
    if (!rc) {
        dp_log(DP_LOG_INFO, pl->log, "git clone url=%s branch=%s path=%s token=%s", r.url,
               r.branch[0] ? r.branch : "-", r.path, r.token[0] ? "yes" : "no");
        rc = clone_run(out->commit, pl, &r, st.path, pr, err);
    }
    if (!rc)
        rc = dp_stage_commit(&st, r.path, true, err);
    dp_stage_close(&st);
    if (rc)
        return rc;
    memcpy(out->path, r.path, sizeof(out->path));
    dp_log(DP_LOG_INFO, pl->log, "git clone done path=%s commit=%s ms=%lld", r.path, out->commit,
           (long long)(dp_mono_ms() - t0));
    return DP_OK;
}
