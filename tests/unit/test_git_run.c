/* dp_git_clone's supervisor with stand-in helpers (shell scripts in place of the real clone
 * helper): events, the result, the deadline, the stall detector, cancel, helpers that die, the
 * process group killed, and nothing left in the data root after a failure. */
#include "dp_git.h"
#include "dp_stage.h"
#include "th.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static char top[64];   /* the test's temp dir */
static char data[128]; /* the data root */
static struct dp_logctx lc;

struct sink {
    int events;
    int ticks;
    int cancel_at; /* tick number that cancels; 0 never */
};

static dp_rc sink_emit(void *ud, json_t *ev)
{
    struct sink *s = ud;

    (void)ev;
    s->events++;
    return DP_OK;
}

static int sink_tick(void *ud)
{
    struct sink *s = ud;

    return s->cancel_at && ++s->ticks >= s->cancel_at;
}

/* Writes an executable script top/name; "@T@" in body stands for top. */
static void script(char *path, size_t size, const char *name, const char *body)
{
    FILE *f;

    snprintf(path, size, "%s/%s", top, name);
    f = fopen(path, "w");
    fputs("#!/bin/sh\n", f);
    for (const char *p = body; *p; p++) {
        if (strncmp(p, "@T@", 3) == 0) {
            fputs(top, f);
            p += 2;
        } else {
            fputc(*p, f);
        }
    }
    fclose(f);
    chmod(path, 0755);
}

static dp_rc run(const char *exe, int timeout_s, int stall_s, struct sink *s,
                 struct dp_git_result *res, struct dp_err *err)
{
    struct dp_git_place pl = {.self_exe = exe,
                              .data_root = data,
                              .ca_file = "",
                              .timeout_s = timeout_s,
                              .stall_s = stall_s,
                              .log = &lc};
    struct dp_progress pr = {sink_emit, sink_tick, s};
    json_t *req = json_pack("{s:s, s:s, s:s}", "url", "https://example.invalid/r.git", "token",
                            "tok-unit-secret", "path", "/app/x/");
    dp_rc rc = dp_git_clone(res, &pl, req, &pr, err);

    json_decref(req);
    return rc;
}

static bool nothing_left(void)
{
    char p[256];
    struct stat sb;
    int n = 0;

    snprintf(p, sizeof(p), "%s/app/x", data);
    if (lstat(p, &sb) == 0)
        return false;
    snprintf(p, sizeof(p), "%s/.staging", data);
    for (int fd = open(p, O_RDONLY | O_DIRECTORY); fd >= 0; fd = -1) {
        FILE *ls;
        char cmd[300];

        close(fd);
        snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", p);
        ls = popen(cmd, "r");
        if (!ls || fscanf(ls, "%d", &n) != 1)
            n = -1;
        if (ls)
            pclose(ls);
    }
    return n == 0;
}

static bool is_zombie(int pid)
{
    char p[64], state = '?';
    FILE *f;

    snprintf(p, sizeof(p), "/proc/%d/stat", pid);
    f = fopen(p, "r");
    if (!f)
        return true;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
        state = '?';
    fclose(f);
    return state == 'Z';
}

/* Whether the process named in top/name is gone. SIGKILL to a group is delivered
 * asynchronously: a member may run for a moment after kill() returns, so this waits for it,
 * up to 5 s. */
static bool pid_file_dead(const char *name)
{
    char p[256];
    FILE *f;
    int pid = 0;

    snprintf(p, sizeof(p), "%s/%s", top, name);
    f = fopen(p, "r");
    if (!f)
        return false;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    for (int i = 0; pid > 0 && i < 250; i++) {
        if (kill(pid, 0) != 0 || is_zombie(pid)) /* its parent died: reaped later */
            return true;
        usleep(20 * 1000);
    }
    return false;
}

static void test_success(void)
{
    struct dp_git_result res;
    struct dp_err err = {0};
    struct sink s = {0};
    char exe[256], p[256], buf[512] = "";
    struct stat sb;
    FILE *f;

    script(exe, sizeof(exe), "ok.sh",
           "printf '%s\\n' \"$*\" >@T@/argv\n"
           "cat >@T@/stdin\n"
           "dest=$(sed -n 's/.*\"dest\":\"\\([^\"]*\\)\".*/\\1/p' @T@/stdin)\n"
           "echo hello >\"$dest/file.txt\"\n"
           "echo '{\"type\":\"progress\",\"phase\":\"receiving\"}'\n"
           "echo '{\"type\":\"log\",\"message\":\"remote: hi\"}'\n"
           "echo '{\"type\":\"result\",\"commit\":\"" COMMIT "\"}'\n");
    TH_EQ_INT(run(exe, 10, 5, &s, &res, &err), DP_OK);
    TH_EQ_STR(res.commit, COMMIT);
    TH_EQ_STR(res.path, "/app/x");
    TH_EQ_INT(s.events, 3); /* the start line, progress, log */
    snprintf(p, sizeof(p), "%s/app/x/file.txt", data);
    TH_EQ_INT(stat(p, &sb), 0);
    snprintf(p, sizeof(p), "%s/argv", top);
    f = fopen(p, "r");
    TH_CHECK(f && fgets(buf, sizeof(buf), f));
    TH_EQ_STR(buf, DP_GIT_CHILD_ARG "\n"); /* the token never in argv */
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "%s/stdin", top);
    f = fopen(p, "r");
    TH_CHECK(f && fgets(buf, sizeof(buf), f) && strstr(buf, "\"token\":\"tok-unit-secret\""));
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "%s/app", data);
    TH_EQ_INT(dp_stage_remove_tree(AT_FDCWD, p, &err), DP_OK);
}

static void test_stall(void)
{
    struct dp_git_result res;
    struct dp_err err = {0};
    struct sink s = {0};
    char exe[256];

    script(exe, sizeof(exe), "stall.sh",
           "cat >/dev/null\n"
           "echo '{\"type\":\"log\",\"message\":\"remote: hi\"}'\n"
           "sleep 30 &\n"
           "echo $! >@T@/stall.pid\n"
           "wait\n");
    TH_EQ_INT(run(exe, 20, 1, &s, &res, &err), DP_ETIMEOUT);
    TH_EQ_STR(err.code, "git_timeout");
    TH_CHECK(strstr(err.msg, "sent nothing for 1 s") != NULL);
    TH_CHECK(pid_file_dead("stall.pid")); /* the whole process group went */
    TH_CHECK(nothing_left());
}

static void test_deadline(void)
{
    struct dp_git_result res;
    struct dp_err err = {0};
    struct sink s = {0};
    char exe[256];

    script(exe, sizeof(exe), "busy.sh",
           "cat >/dev/null\n"
           "while :; do echo '{\"type\":\"progress\"}'; sleep 0.1; done\n");
    TH_EQ_INT(run(exe, 1, 5, &s, &res, &err), DP_ETIMEOUT);
    TH_EQ_STR(err.code, "git_timeout");
    TH_CHECK(strstr(err.msg, "within 1 s") != NULL);
    TH_CHECK(s.events > 3);
    TH_CHECK(nothing_left());
}

static void test_cancel(void)
{
    struct dp_git_result res;
    struct dp_err err = {0};
    struct sink s = {.cancel_at = 3};
    char exe[256];

    script(exe, sizeof(exe), "quiet.sh", "cat >/dev/null\nsleep 30\n");
    TH_EQ_INT(run(exe, 20, 20, &s, &res, &err), DP_ECANCELED);
    TH_CHECK(nothing_left());
}

static void test_helper_failures(void)
{
    struct dp_git_result res;
    struct dp_err err = {0};
    struct sink s = {0};
    char exe[256];

    script(exe, sizeof(exe), "auth.sh",
           "cat >/dev/null\n"
           "echo '{\"type\":\"result\",\"rc\":4,\"error\":\"git_auth_failed\","
           "\"detail\":\"authentication failed: the server refused the token\"}'\nexit 1\n");
    TH_EQ_INT(run(exe, 10, 5, &s, &res, &err), DP_EAUTH);
    TH_EQ_STR(err.code, "git_auth_failed");
    TH_CHECK(nothing_left());

    script(exe, sizeof(exe), "crash.sh", "cat >/dev/null\nexit 3\n");
    TH_EQ_INT(run(exe, 10, 5, &s, &res, &err), DP_EINTERNAL);
    TH_CHECK(strstr(err.msg, "status 3") != NULL);
    TH_CHECK(nothing_left());

    script(exe, sizeof(exe), "badcommit.sh",
           "cat >/dev/null\necho '{\"type\":\"result\",\"commit\":\"xyz\"}'\n");
    TH_EQ_INT(run(exe, 10, 5, &s, &res, &err), DP_EINTERNAL);
    TH_CHECK(nothing_left());

    script(exe, sizeof(exe), "badcode.sh",
           "cat >/dev/null\necho '{\"type\":\"result\",\"rc\":99,\"error\":\"Bad Code\","
           "\"detail\":\"x\"}'\nexit 1\n");
    TH_EQ_INT(run(exe, 10, 5, &s, &res, &err), DP_EINTERNAL);

    TH_EQ_INT(run("/nonexistent/helper", 10, 5, &s, &res, &err), DP_EINTERNAL);
    TH_CHECK(nothing_left());
}

static void test_bad_request(void)
{
    struct dp_git_place pl = {
        .self_exe = "/bin/false", .data_root = data, .timeout_s = 5, .stall_s = 5, .log = &lc};
    struct dp_git_result res;
    struct dp_err err = {0};
    json_t *req = json_pack("{s:s, s:s}", "url", "file:///etc", "path", "/app/x");

    TH_EQ_INT(dp_git_clone(&res, &pl, req, NULL, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_url");
    json_decref(req);
    req = json_pack("{s:s, s:s}", "url", "git://h/r.git", "path", "/app/../x");
    TH_EQ_INT(dp_git_clone(&res, &pl, req, NULL, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_path");
    json_decref(req);
    req = json_pack("{s:s}", "url", "git://h/r.git");
    TH_EQ_INT(dp_git_clone(&res, &pl, req, NULL, &err), DP_EINVAL);
    json_decref(req);
    TH_CHECK(nothing_left());
}

int main(void)
{
    struct dp_err err = {0};

    signal(SIGPIPE, SIG_IGN); /* as in the agent */
    dp_logctx_init(&lc, "test");
    dp_log_set_level(DP_LOG_ERROR);
    snprintf(top, sizeof(top), "/tmp/dp-unit-git.XXXXXX");
    if (!mkdtemp(top))
        return 1;
    snprintf(data, sizeof(data), "%s/data", top);
    mkdir(data, 0750);
    TH_RUN(test_success);
    TH_RUN(test_stall);
    TH_RUN(test_deadline);
    TH_RUN(test_cancel);
    TH_RUN(test_helper_failures);
    TH_RUN(test_bad_request);
    dp_stage_remove_tree(AT_FDCWD, top, &err);
    TH_EXIT();
}
