/* The clone helper: this program re-run with DP_GIT_CHILD_ARG (see dp_git.h). It is the only
 * code that calls libgit2, so a stalled server blocks only a process the agent can kill. */
#include "dp_git.h"

#include "dp_buf.h"
#include "dp_clock.h"
#include "dp_json.h"

#include <errno.h>
#include <git2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHILD_CR_MS   1000             /* remote lines rewritten with '\r': one per second */
#define CHILD_SYS_CAS "/etc/ssl/certs" /* kept trusted next to --git-ca-file */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHILD_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CHILD_ASAN 1
#endif

#ifdef CHILD_ASAN
/* Debian's libgit2 1.5.1 never frees the pcre2 match data of its config regexps (a few per
 * git_clone, in git_remote_create): not ours, and a sanitizer build must not fail on it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpcre2-8.so\n"; /* by module: the fast unwinder stops inside it */
}
#endif

enum child_auth { AUTH_UNASKED, AUTH_NO_TOKEN, AUTH_REFUSED, AUTH_NO_PASSWORD, AUTH_NOT_HTTPS };

struct child {
    json_t *params;
    const char *url, *branch, *token, *dest, *ca_file; /* borrowed from params */
    int deadline_s;
    enum child_auth auth;
    int cred_calls;
    int milestone; /* transfer: 0 receiving, 1 all received, 2 all resolved */
    bool checkout_done;
    int64_t last_emit_ms;
    int64_t last_cr_ms;
    size_t text_len; /* remote text not yet ended by a newline */
    char text[DP_GIT_LOG_LINE_MAX + 1];
};

/* ---- output ---------------------------------------------------------------------------- */

static int out_write(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes ev (stolen) as one line. -1 when the agent stopped reading. */
static int child_emit(json_t *ev)
{
    char *s = ev ? dp_json_dump(ev) : NULL;
    int rc = -1;

    json_decref(ev);
    if (s)
        rc = out_write(s, strlen(s)) || out_write("\n", 1) ? -1 : 0;
    free(s);
    return rc;
}

/* Replaces every copy of the token in s with "***": a server may echo what it was sent. */
static void redact(char *s, const char *token)
{
    size_t tn = strlen(token);
    char *hit;

    if (tn < 4)
        return; /* too short to tell from ordinary text */
    while ((hit = strstr(s, token))) {
        hit[0] = hit[1] = hit[2] = '*';
        memmove(hit + 3, hit + tn, strlen(hit + tn) + 1);
    }
}

/* Control characters become spaces so a message stays one line. */
static void flatten(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
    }
}

/* ---- libgit2 callbacks ----------------------------------------------------------------- */

/* Counted: a refused token makes libgit2 ask again, forever unless we stop it here. */
static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload)
{
    struct child *c = payload;

    (void)user_from_url;
    if (!c->token[0])
        c->auth = AUTH_NO_TOKEN;
    else if (strncmp(url, "https://", 8) != 0)
        c->auth = AUTH_NOT_HTTPS;
    else if (!(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
        c->auth = AUTH_NO_PASSWORD;
    else if (++c->cred_calls > 1)
        c->auth = AUTH_REFUSED;
    else
        return git_credential_userpass_plaintext_new(out, "x-access-token", c->token);
    return GIT_EUSER;
}

static int on_transfer(const git_indexer_progress *st, void *payload)
{
    struct child *c = payload;
    int64_t now = dp_mono_ms();
    int m = 0;

    if (st->total_objects && st->received_objects == st->total_objects)
        m = st->indexed_deltas == st->total_deltas ? 2 : 1;
    if (m <= c->milestone && now - c->last_emit_ms < DP_GIT_PROGRESS_MS)
        return 0;
    c->milestone = m > c->milestone ? m : c->milestone;
    c->last_emit_ms = now;
    return child_emit(
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "type", "progress", "phase",
                  m ? "resolving" : "receiving", "received_objects",
                  (json_int_t)st->received_objects, "total_objects", (json_int_t)st->total_objects,
                  "indexed_objects", (json_int_t)st->indexed_objects, "received_bytes",
                  (json_int_t)st->received_bytes, "indexed_deltas", (json_int_t)st->indexed_deltas,
                  "total_deltas", (json_int_t)st->total_deltas));
}

static void on_checkout(const char *path, size_t done, size_t total, void *payload)
{
    struct child *c = payload;
    int64_t now = dp_mono_ms();

    (void)path;
    if (c->checkout_done || (done < total && now - c->last_emit_ms < DP_GIT_PROGRESS_MS))
        return;
    c->checkout_done = done >= total;
    c->last_emit_ms = now;
    child_emit(json_pack("{s:s, s:s, s:I, s:I}", "type", "progress", "phase", "checkout",
                         "completed", (json_int_t)done, "total", (json_int_t)total));
}

/* Ends the pending remote line; shown when show. */
static int text_flush(struct child *c, bool show)
{
    size_t n = c->text_len;
    char msg[DP_GIT_LOG_LINE_MAX + 16];

    c->text_len = 0;
    while (n > 0 && c->text[n - 1] == ' ')
        n--;
    if (!show || n == 0)
        return 0;
    snprintf(msg, sizeof(msg), "remote: %.*s", (int)n, c->text);
    redact(msg, c->token);
    return child_emit(
        json_pack("{s:s, s:o}", "type", "log", "message", dp_json_string_lossy(msg, strlen(msg))));
}

/* Remote text: raw bytes with '\r' progress rewrites; one event per line, bounded. */
static int on_sideband(const char *str, int len, void *payload)
{
    struct child *c = payload;

    for (int i = 0; i < len; i++) {
        char ch = str[i];
        int rc = 0;

        if (ch == '\n') {
            rc = text_flush(c, true);
        } else if (ch == '\r') {
            bool show = dp_mono_ms() - c->last_cr_ms >= CHILD_CR_MS;

            c->last_cr_ms = show ? dp_mono_ms() : c->last_cr_ms;
            rc = text_flush(c, show);
        } else if (c->text_len < DP_GIT_LOG_LINE_MAX && ((unsigned char)ch >= 0x20 || ch == '\t')) {
            c->text[c->text_len++] = (char)(ch == '\t' ? ' ' : ch);
        }
        if (rc)
            return -1;
    }
    return 0;
}

/* ---- the clone ------------------------------------------------------------------------- */

static dp_rc child_read_params(struct child *c, struct dp_err *err)
{
    struct dp_buf in;
    char buf[4096];
    ssize_t n;
    dp_rc rc = DP_OK;

    dp_buf_init(&in, DP_GIT_PARAMS_MAX);
    while (!rc && (n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno != EINTR)
            rc = dp_err_set(err, DP_EIO, "cannot read the clone's parameters");
        else if (n > 0 && dp_buf_append(&in, buf, (size_t)n))
            rc = dp_err_set(err, DP_ETOOBIG, "clone parameters over %lu bytes", DP_GIT_PARAMS_MAX);
    }
    explicit_bzero(buf, sizeof(buf));
    if (!rc)
        rc = dp_json_parse_object(&c->params, in.data ? in.data : "", in.len, 2, err);
    if (in.data)
        explicit_bzero(in.data, in.len);
    dp_buf_clear(&in);
    if (!rc && json_unpack(c->params, "{s:s, s:s, s:s, s:s, s:s, s:i}", "url", &c->url, "branch",
                           &c->branch, "token", &c->token, "dest", &c->dest, "ca_file", &c->ca_file,
                           "deadline_s", &c->deadline_s))
        rc = dp_err_set(err, DP_EINTERNAL, "clone parameters are incomplete");
    return rc;
}

/* No system, global or XDG git config: a url.*.insteadOf there could turn the checked URL
 * into file:// or ssh://. --git-ca-file adds to the system CAs (mbedTLS replaces the whole
 * chain on each call, so both go in one). */
static dp_rc child_setup(const struct child *c, struct dp_err *err)
{
    static const int levels[] = {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                                 GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA};
    const git_error *e;
    struct stat sb;

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "") < 0)
            return dp_err_set(err, DP_EINTERNAL, "cannot clear libgit2's config search path");
    }
    if (!c->ca_file[0])
        return DP_OK;
    if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, c->ca_file,
                         stat(CHILD_SYS_CAS, &sb) == 0 && S_ISDIR(sb.st_mode) ? CHILD_SYS_CAS
                                                                              : NULL) < 0) {
        e = git_error_last();
        return dp_err_setc(err, DP_EIO, "git_ca_file_invalid", "cannot load --git-ca-file: %s",
                           e ? e->message : "unknown error");
    }
    return DP_OK;
}

static dp_rc auth_error(const struct child *c, struct dp_err *err)
{
    static const char *const why[] = {
        [AUTH_NO_TOKEN] = "the server asks for credentials and no token was given",
        [AUTH_REFUSED] = "the server refused the token",
        [AUTH_NO_PASSWORD] = "the server offers no password or token authentication",
        [AUTH_NOT_HTTPS] = "a token is sent only over https://",
    };

    return dp_err_setc(err, DP_EAUTH, "git_auth_failed", "authentication failed: %s", why[c->auth]);
}

/* Maps a failed git_clone to one of ours; the message is libgit2's, one line, no token. */
static dp_rc clone_error(const struct child *c, int grc, struct dp_err *err)
{
    const git_error *e = git_error_last();
    char msg[DP_ERR_MSG_MAX];

    if (c->auth != AUTH_UNASKED)
        return auth_error(c, err);
    snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "unknown error");
    flatten(msg);
    redact(msg, c->token);
    if (grc == GIT_ECERTIFICATE)
        return dp_err_setc(err, DP_EUPSTREAM, "git_tls_failed",
                           "the git server's certificate is not trusted: %s", msg);
    if (grc == GIT_ENOTFOUND && c->branch[0])
        return dp_err_setc(err, DP_ENOTFOUND, "git_branch_not_found",
                           "branch '%s' is not in the repository", c->branch);
    if (e && e->klass == GIT_ERROR_NET)
        return dp_err_setc(err, DP_EUNAVAIL, "git_unreachable", "cannot reach the git server: %s",
                           msg);
    return dp_err_setc(err, DP_EUPSTREAM, "git_clone_failed", "git clone failed: %s", msg);
}

static dp_rc head_commit(char *commit, git_repository *repo, struct dp_err *err)
{
    git_object *obj = NULL;

    if (git_revparse_single(&obj, repo, "HEAD^{commit}") < 0)
        return dp_err_setc(err, DP_EUPSTREAM, "git_empty_repository",
                           "the clone has no commit checked out (empty repository?)");
    git_oid_tostr(commit, DP_GIT_OID_HEX + 1, git_object_id(obj));
    git_object_free(obj);
    return DP_OK;
}

static dp_rc child_clone(struct child *c, char *commit, struct dp_err *err)
{
    git_clone_options o = GIT_CLONE_OPTIONS_INIT;
    git_repository *repo = NULL;
    dp_rc rc;
    int grc;

    rc = dp_git_url_check(c->url, c->token[0] != '\0', err); /* again: this is the last gate */
    if (rc)
        return rc;
    if (git_libgit2_init() < 0)
        return dp_err_set(err, DP_EINTERNAL, "libgit2 did not start");
    rc = child_setup(c, err);
    if (!rc) {
        o.checkout_branch = c->branch[0] ? c->branch : NULL;
        o.local = GIT_CLONE_NO_LOCAL;
        o.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
        o.fetch_opts.callbacks.credentials = on_credentials;
        o.fetch_opts.callbacks.transfer_progress = on_transfer;
        o.fetch_opts.callbacks.sideband_progress = on_sideband;
        o.fetch_opts.callbacks.payload = c;
        o.checkout_opts.progress_cb = on_checkout;
        o.checkout_opts.progress_payload = c;
        grc = git_clone(&repo, c->url, c->dest, &o);
        text_flush(c, true);
        rc = grc < 0 ? clone_error(c, grc, err) : head_commit(commit, repo, err);
    }
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

static void child_result(dp_rc rc, const char *commit, const struct dp_err *err)
{
    if (rc == DP_OK) {
        child_emit(json_pack("{s:s, s:s}", "type", "result", "commit", commit));
        return;
    }
    child_emit(json_pack("{s:s, s:i, s:s, s:o}", "type", "result", "rc", (int)err->rc, "error",
                         err->code[0] ? err->code : dp_rc_code(err->rc), "detail",
                         dp_json_string_lossy(err->msg, strlen(err->msg))));
}

int dp_git_child_main(void)
{
    struct child c = {.url = "", .branch = "", .token = "", .dest = "", .ca_file = ""};
    struct dp_err err = {0};
    char commit[DP_GIT_OID_HEX + 1] = "";
    dp_rc rc;

    prctl(PR_SET_PDEATHSIG, SIGKILL); /* the agent died: stop at once */
    rc = child_read_params(&c, &err);
    if (!rc) {
        alarm((unsigned)c.deadline_s + 10); /* a backstop should the agent fail to kill us */
        rc = child_clone(&c, commit, &err);
    }
    child_result(rc, commit, &err);
    if (c.token[0])
        explicit_bzero((char *)c.token, strlen(c.token));
    json_decref(c.params);
    return rc ? 1 : 0;
}
