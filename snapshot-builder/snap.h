/* snapshot-builder: the one context main builds (flags, the cloud, the output, interrupts) and
 * the pieces that share it. The work itself is infra/dp_snapshot's. */
#ifndef SNAP_H
#define SNAP_H

#include "dp_do.h"
#include "dp_log.h"
#include "dp_snapshot.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SNAP_ALLOW_MAX 16
#define SNAP_STR_MAX   2048

/* Exit codes (also in --help). */
enum snap_exit {
    SNAP_EXIT_OK = 0,
    SNAP_EXIT_FAILED = 1,    /* the operation failed; the message says at which step */
    SNAP_EXIT_USAGE = 2,     /* bad command line */
    SNAP_EXIT_CONFIG = 3,    /* DO_TOKEN missing or refused, DO_API_URL wrong, no agent package */
    SNAP_EXIT_NOT_FOUND = 4, /* the snapshot named does not exist */
    SNAP_EXIT_INTERRUPTED = 130 /* SIGINT or SIGTERM: stopped after cleaning up */
};

enum snap_cmd {
    SNAP_BAKE_BASE,
    SNAP_BAKE_CUSTOM,
    SNAP_LIST,
    SNAP_TRANSFER,
    SNAP_DELETE,
    SNAP_REBUILD
};

struct snap_conf {
    char regions[SNAP_STR_MAX];
    char region[64];
    char size[64];
    char agent_url[SNAP_STR_MAX];
    char agent_sha256[80];
    char controller_url[SNAP_STR_MAX];
    char allow[SNAP_ALLOW_MAX][64];
    int nallow;
    char ssh_allow[SNAP_ALLOW_MAX][64];
    int nssh;
    char from[DP_SNAPSHOT_NAME_MAX + 1];
    char packages[SNAP_STR_MAX];
    char name[64];
    int agent_timeout_s, shutdown_timeout_s, timeout_s;
    bool all_regions, no_wait, json, help, version;
    enum dp_log_level log_level;
};

/* How progress is shown: JSON lines on stdout, one updating line on a terminal, or plain lines
 * on stderr. */
struct snap_out {
    bool json, tty;
    int64_t t0, last_draw_ms;
    char step[64], waiting_for[192];
    bool line_open;         /* the terminal's status line holds text */
    atomic_int *interrupts; /* SIGINT/SIGTERM seen */
};

struct snap {
    struct snap_conf conf;
    enum snap_cmd cmd;
    const char *arg; /* the SNAPSHOT of transfer and delete */
    struct dp_do_client *cloud;
    struct snap_out out;
    struct dp_progress pr;
    atomic_int interrupts;
    struct dp_logctx log;
    const char *version;  /* DP_VERSION, or DP_VERSION_OVERRIDE (tests) */
    char *test_user_data; /* DP_TEST_BAKE_USER_DATA's file (tests), or NULL */
};

/* Parses argv into s->cmd, s->arg and s->conf; SNAP_EXIT_OK to go on, else the exit code (help
 * printed: SNAP_EXIT_OK is returned through *done). */
int snap_conf_parse(struct snap *s, int argc, char **argv, bool *done);

/* Progress: fills s->pr (emit and tick) over s->out. */
void snap_out_init(struct snap *s);

/* Writes the last event: a JSON line, or a human summary (stdout) / error (stderr). */
void snap_out_final(struct snap *s, const json_t *ev);

/* Writes a JSON answer (list, transfer, delete): as one line with --json, else by fmt. */
void snap_out_answer(struct snap *s, const json_t *answer, void (*human)(const json_t *, FILE *));

/* Writes one error line (or an error event with --json). */
void snap_out_error(struct snap *s, const struct dp_err *err);

/* The commands; each returns an exit code. */
int snap_cmd_bake(struct snap *s);
int snap_cmd_rebuild(struct snap *s);
int snap_cmd_list(struct snap *s);
int snap_cmd_transfer(struct snap *s);
int snap_cmd_delete(struct snap *s);

/* The exit code for a failed operation's rc. */
int snap_exit_for(dp_rc rc);

#endif
