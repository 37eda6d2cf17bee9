/* POST /git/clone: URL, branch and token checks, and a clone run in a helper process (this
 * same binary re-run with DP_GIT_CHILD_ARG) so that a deadline, a stall detector and a client
 * that goes away can always stop it: libgit2 1.5 has no timeouts and blocks on a stalled read.
 * The clone lands in a staging folder under the data root and is moved into place only whole. */
#ifndef DP_GIT_H
#define DP_GIT_H

#include "dp_err.h"
#include "dp_limits.h"
#include "dp_log.h"
#include "dp_progress.h"

#include <jansson.h>
#include <stdbool.h>

#define DP_GIT_CHILD_ARG    "--internal-git-clone" /* argv[1] of the helper */
#define DP_GIT_BRANCH_MAX   255                    /* branch name, bytes */
#define DP_GIT_PARAMS_MAX   (16UL * 1024)          /* the helper's JSON input, bytes */
#define DP_GIT_LINE_MAX     (8UL * 1024)           /* one line from the helper, bytes */
#define DP_GIT_LOG_LINE_MAX 1024                   /* one line of remote text, bytes */
#define DP_GIT_PROGRESS_MS  500                    /* between progress events, ms */
#define DP_GIT_REAP_MS      5000                   /* wait for a helper that closed stdout */
#define DP_GIT_OID_HEX      40
#define DP_GIT_POLL_MS      200 /* the supervisor checks limits at least this often */

/* Checks a clone URL before anything reaches libgit2: scheme exactly https://, http:// or
 * git:// (with_token: https:// only), a host (name, IPv4 or [IPv6]) and optional port, no
 * userinfo, a path, no query, fragment, spaces or control characters, at most DP_URL_MAX
 * bytes. DP_EINVAL; the message never repeats the URL (it may hold a password). */
dp_rc dp_git_url_check(const char *url, bool with_token, struct dp_err *err);

/* Checks a branch name by git's ref rules (git check-ref-format --branch), at most
 * DP_GIT_BRANCH_MAX bytes. DP_EINVAL. */
dp_rc dp_git_branch_check(const char *branch, struct dp_err *err);

/* Checks a token: 1 to DP_CREDENTIAL_MAX bytes, no control characters. DP_EINVAL. */
dp_rc dp_git_token_check(const char *token, struct dp_err *err);

/* Where and how clones run. */
struct dp_git_place {
    const char *self_exe;  /* this program, re-run as the clone helper */
    const char *data_root; /* clones land below it */
    const char *ca_file;   /* PEM CA trusted for https:// besides the system's; NULL or "" */
    int timeout_s;         /* a whole clone */
    int stall_s;           /* no word from the helper (no progress, no remote text) */
    const struct dp_logctx *log;
};

struct dp_git_result {
    char commit[DP_GIT_OID_HEX + 1]; /* the checked-out commit */
    char path[DP_PATH_MAX + 1];      /* the normalized path below the data root ("/app/web") */
};

/* Clones req {"url","branch","token","path"} into the data root, replacing what is at path
 * only once the clone is complete. Sends a log event when the helper starts, then progress
 * and log events through pr; pr->tick cancels. Bad input is DP_EINVAL (or DP_ECONFLICT for a
 * path through a file) before any event; afterwards DP_EAUTH (git_auth_failed), DP_ETIMEOUT
 * (git_timeout), DP_ECANCELED, DP_ENOTFOUND (git_branch_not_found), DP_EUPSTREAM,
 * DP_EUNAVAIL, DP_EIO. On failure nothing is left in the data root. The token reaches the
 * helper through a pipe and libgit2 through its credentials callback only, for the url's own
 * host (redirects to another host are refused); it never appears in .git/config, events,
 * messages or logs. The caller ignores SIGPIPE (a helper may die before reading). */
dp_rc dp_git_clone(struct dp_git_result *out, const struct dp_git_place *pl, const json_t *req,
                   const struct dp_progress *pr, struct dp_err *err);

/* The helper's main: reads {"url","branch","token","dest","ca_file","deadline_s"} from stdin,
 * clones, writes NDJSON events to stdout and ends with {"type":"result",...}. Returns the exit
 * status (0 with a commit). Call first thing in main when argv[1] is DP_GIT_CHILD_ARG. */
int dp_git_child_main(void);

#endif
