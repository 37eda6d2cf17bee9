/* Internals shared by the dp_store*.c files: the store itself, its cached statements,
 * transactions and error mapping. Not for any other module. */
#ifndef DP_STORE_INT_H
#define DP_STORE_INT_H

#include "dp_store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>

/* Every statement the store runs, prepared once on first use and reused. */
enum dp_store_st {
    DP_ST_BEGIN,
    DP_ST_COMMIT,
    DP_ST_ROLLBACK,
    DP_ST_USER_INSERT,
    DP_ST_USER_COUNT,
    DP_ST_USER_BY_NAME,
    DP_ST_USER_BY_ID,
    DP_ST_SESSION_PURGE,
    DP_ST_SESSION_INSERT,
    DP_ST_SESSION_GET,
    DP_ST_SESSION_DELETE,
    DP_ST_SETTING_GET,
    DP_ST_SETTING_PUT,
    DP_ST_SETTING_DELETE,
    DP_ST_SERVER_PUT,
    DP_ST_SERVER_BY_IP,
    DP_ST_SERVER_BY_ID,
    DP_ST_SERVER_LIST,
    DP_ST_SERVER_DELETE,
    DP_ST_DEPLOY_HOLDER,
    DP_ST_DEPLOY_INSERT,
    DP_ST_APP_VERSION_PUT,
    DP_ST_DEPLOY_FINISH,
    DP_ST_DEPLOY_STATUS,
    DP_ST_DEPLOY_GET,
    DP_ST_DEPLOY_LATEST_OK,
    DP_ST_DEPLOY_LIST,
    DP_ST_DEPLOY_LIST_APP,
    DP_ST_DEPLOY_DELETE,
    DP_ST_DEPLOY_INTERRUPT_EVENTS,
    DP_ST_DEPLOY_INTERRUPT_MARK,
    DP_ST_EVENT_APPEND,
    DP_ST_EVENT_LIST,
    DP_ST_COUNT
};

struct dp_store {
    sqlite3 *db;
    pthread_mutex_t mu; /* held around every public function's database work */
    int version;        /* schema version after migrations */
    sqlite3_stmt *st[DP_ST_COUNT];
};

/* The schema: applies every migration step the file lacks, each in its own transaction.
 * DP_EINVAL (code "store_too_new") for a file written by a newer program. */
dp_rc dp_store_migrate(struct dp_store *s, const char *path, struct dp_err *err);

/* The newest schema version this program knows. */
int dp_store_migrate_latest(void);

void dp_store_lock(struct dp_store *s);
void dp_store_unlock(struct dp_store *s);

/* *out: the statement id, prepared from sql on first use; reset it with dp_store_done(). */
dp_rc dp_store_stmt(sqlite3_stmt **out, struct dp_store *s, enum dp_store_st id, const char *sql,
                    struct dp_err *err);

/* Resets a statement and clears its bindings (ends its read, if any). NULL is fine. */
void dp_store_done(sqlite3_stmt *st);

/* Maps a failed SQLite call (its result code sqlrc) to dp_rc with a message starting with what:
 * uniqueness -> DP_ECONFLICT, a missing referenced row -> DP_ENOTFOUND, no memory ->
 * DP_ENOMEM, anything else -> DP_EIO with sqlite3_errmsg. */
dp_rc dp_store_fail(struct dp_store *s, int sqlrc, const char *what, struct dp_err *err);

/* Runs a statement that returns no rows (bindings already made) and resets it. */
dp_rc dp_store_exec(struct dp_store *s, sqlite3_stmt *st, const char *what, struct dp_err *err);

/* BEGIN IMMEDIATE; and its end: COMMIT when rc is DP_OK, else ROLLBACK. Returns rc, or the
 * commit's failure. */
dp_rc dp_store_tx_begin(struct dp_store *s, struct dp_err *err);
dp_rc dp_store_tx_end(struct dp_store *s, dp_rc rc, struct dp_err *err);

/* Binds a text of at most max bytes (a fixed struct field need not be NUL-terminated). */
int dp_store_bind_text(sqlite3_stmt *st, int col, const char *text, size_t max);

/* Copies column col's text into a buffer of size bytes ("" for NULL), cutting if needed. */
void dp_store_col_copy(char *buf, size_t size, sqlite3_stmt *st, int col);

/* Unix seconds now. */
int64_t dp_store_now(void);

#endif
