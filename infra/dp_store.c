/* The store's core: the file, the connection, cached statements, transactions, settings. */
#include "dp_store_int.h"

#include "dp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_BUSY_MS       5000  /* wait for another process's write lock, ms */
#define STORE_SETTING_KEY   128   /* a setting's name, bytes */
#define STORE_SETTING_VALUE 65536 /* a setting's value, bytes */

/* ---- the file ---- */

/* Opens or creates path's file with mode 0600 (umask cannot widen it) and narrows a wider mode
 * to 0600 with a warning. Only a regular file is accepted; symlinks are not followed. */
static dp_rc store_file_mode(const char *path, bool create, struct dp_err *err)
{
    struct dp_logctx lc;
    struct stat st;
    int fd, flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | (create ? O_CREAT : 0);

    fd = open(path, flags, 0600);
    if (fd < 0 && !create && errno == ENOENT)
        return DP_OK;
    if (fd < 0)
        return dp_err_set(err, DP_EIO, "cannot open database %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dp_err_set(err, DP_EINVAL, "database %s is not a regular file", path);
    }
    if ((st.st_mode & 0777) != 0600) {
        if (st.st_mode & 077) {
            dp_logctx_init(&lc, "ctl");
            dp_log(DP_LOG_WARN, &lc, "database file %s had mode %04o, set to 0600", path,
                   (unsigned)(st.st_mode & 0777));
        }
        if (fchmod(fd, 0600) != 0) {
            close(fd);
            return dp_err_set(err, DP_EIO, "cannot set mode 0600 on %s: %s", path, strerror(errno));
        }
    }
    close(fd);
    return DP_OK;
}

/* The database and, when present, its WAL and shared-memory files (SQLite creates those with
 * the database's mode). */
static dp_rc store_files_mode(const char *path, struct dp_err *err)
{
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    char side[4096];
    dp_rc rc;

    rc = store_file_mode(path, true, err);
    for (size_t i = 0; rc == DP_OK && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (snprintf(side, sizeof(side), "%s%s", path, suffixes[i]) >= (int)sizeof(side))
            return dp_err_set(err, DP_EINVAL, "database path too long");
        rc = store_file_mode(side, false, err);
    }
    return rc;
}

/* ---- the connection ---- */

static dp_rc store_pragma(struct dp_store *s, const char *sql, const char *want, struct dp_err *err)
{
    sqlite3_stmt *st = NULL;
    const char *got;
    int r;
    dp_rc rc = DP_OK;

    r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (r != SQLITE_OK)
        return dp_store_fail(s, r, sql, err);
    r = sqlite3_step(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        rc = dp_store_fail(s, r, sql, err);
    } else if (want) {
        got = r == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (!got || strcmp(got, want) != 0)
            rc = dp_err_set(err, DP_EIO, "%s gave %s, not %s", sql, got ? got : "nothing", want);
    }
    sqlite3_finalize(st);
    return rc;
}

/* WAL with synchronous=NORMAL: a commit is in the WAL file before the call returns, so killing
 * the process loses nothing committed (only a power cut can lose the last commits). */
static dp_rc store_configure(struct dp_store *s, struct dp_err *err)
{
    dp_rc rc;

    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    rc = store_pragma(s, "PRAGMA journal_mode=WAL", "wal", err);
    if (rc == DP_OK)
        rc = store_pragma(s, "PRAGMA synchronous=NORMAL", NULL, err);
    if (rc == DP_OK)
        rc = store_pragma(s, "PRAGMA foreign_keys=ON", NULL, err);
    if (rc == DP_OK)
        rc = store_pragma(s, "PRAGMA foreign_keys", "1", err);
    return rc;
}

dp_rc dp_store_open(struct dp_store **out, const char *path, struct dp_err *err)
{
    struct dp_store *s;
    int r;
    dp_rc rc;

    *out = NULL;
    rc = store_files_mode(path, err);
    if (rc)
        return rc;
    s = calloc(1, sizeof(*s));
    if (!s)
        return dp_err_set(err, DP_ENOMEM, "out of memory opening the store");
    pthread_mutex_init(&s->mu, NULL);
    r = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (r != SQLITE_OK) {
        rc = dp_err_set(err, DP_EIO, "cannot open database %s: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
        goto cleanup;
    }
    rc = store_configure(s, err);
    if (rc == DP_OK)
        rc = dp_store_migrate(s, path, err);

cleanup:
    if (rc) {
        dp_store_close(s);
        return rc;
    }
    *out = s;
    return DP_OK;
}

void dp_store_close(struct dp_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < DP_ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int dp_store_schema_version(struct dp_store *s)
{
    return s->version;
}

/* ---- helpers for the other store files ---- */

void dp_store_lock(struct dp_store *s)
{
    pthread_mutex_lock(&s->mu);
}

void dp_store_unlock(struct dp_store *s)
{
    pthread_mutex_unlock(&s->mu);
}

dp_rc dp_store_stmt(sqlite3_stmt **out, struct dp_store *s, enum dp_store_st id, const char *sql,
                    struct dp_err *err)
{
    int r;

    if (!s->st[id]) {
        r = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
        if (r != SQLITE_OK) {
            s->st[id] = NULL;
            *out = NULL;
            return dp_store_fail(s, r, "store: preparing a statement", err);
        }
    }
    *out = s->st[id];
    return DP_OK;
}

void dp_store_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

dp_rc dp_store_fail(struct dp_store *s, int sqlrc, const char *what, struct dp_err *err)
{
    switch (sqlrc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return dp_err_set(err, DP_ECONFLICT, "%s: already exists", what);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return dp_err_set(err, DP_ENOTFOUND, "%s: refers to a row that does not exist", what);
    case SQLITE_NOMEM:
        return dp_err_set(err, DP_ENOMEM, "%s: out of memory", what);
    default:
        return dp_err_set(err, DP_EIO, "%s: %s", what, sqlite3_errmsg(s->db));
    }
}

dp_rc dp_store_exec(struct dp_store *s, sqlite3_stmt *st, const char *what, struct dp_err *err)
{
    int r = sqlite3_step(st);
    dp_rc rc = DP_OK;

    if (r != SQLITE_DONE)
        rc = dp_store_fail(s, r, what, err);
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_tx_begin(struct dp_store *s, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc = dp_store_stmt(&st, s, DP_ST_BEGIN, "BEGIN IMMEDIATE", err);

    return rc ? rc : dp_store_exec(s, st, "store: begin", err);
}

dp_rc dp_store_tx_end(struct dp_store *s, dp_rc rc, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc r;

    if (rc == DP_OK) {
        r = dp_store_stmt(&st, s, DP_ST_COMMIT, "COMMIT", err);
        if (r == DP_OK)
            r = dp_store_exec(s, st, "store: commit", err);
        if (r == DP_OK)
            return DP_OK;
        rc = r;
    }
    /* After a failed COMMIT or any failure inside: undo whatever is left (a no-op when SQLite
     * already rolled back). The caller's error stays in err. */
    if (!sqlite3_get_autocommit(s->db) &&
        dp_store_stmt(&st, s, DP_ST_ROLLBACK, "ROLLBACK", NULL) == DP_OK)
        (void)dp_store_exec(s, st, "store: rollback", NULL);
    return rc;
}

int dp_store_bind_text(sqlite3_stmt *st, int col, const char *text, size_t max)
{
    return sqlite3_bind_text(st, col, text, (int)strnlen(text, max), SQLITE_STATIC);
}

void dp_store_col_copy(char *buf, size_t size, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);

    snprintf(buf, size, "%s", t ? t : "");
}

int64_t dp_store_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- settings ---- */

static dp_rc setting_key_check(const char *key, struct dp_err *err)
{
    size_t n = key ? strnlen(key, STORE_SETTING_KEY + 1) : 0;

    if (n == 0 || n > STORE_SETTING_KEY)
        return dp_err_set(err, DP_EINVAL, "setting name must be 1 to %d bytes", STORE_SETTING_KEY);
    return DP_OK;
}

static dp_rc setting_get_locked(struct dp_store *s, const char *key, char **out, struct dp_err *err)
{
    sqlite3_stmt *st;
    const char *v;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_SETTING_GET, "SELECT value FROM settings WHERE key = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        v = (const char *)sqlite3_column_text(st, 0);
        *out = strdup(v ? v : "");
        if (!*out)
            rc = dp_err_set(err, DP_ENOMEM, "out of memory reading setting %s", key);
    } else if (r != SQLITE_DONE) {
        rc = dp_store_fail(s, r, "store: reading a setting", err);
    }
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_setting_get(struct dp_store *s, const char *key, char **out, struct dp_err *err)
{
    dp_rc rc;

    *out = NULL;
    rc = setting_key_check(key, err);
    if (rc)
        return rc;
    dp_store_lock(s);
    rc = setting_get_locked(s, key, out, err);
    dp_store_unlock(s);
    return rc;
}

static dp_rc setting_set_locked(struct dp_store *s, const char *key, const char *value,
                                struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    if (!value)
        rc =
            dp_store_stmt(&st, s, DP_ST_SETTING_DELETE, "DELETE FROM settings WHERE key = ?1", err);
    else
        rc = dp_store_stmt(&st, s, DP_ST_SETTING_PUT,
                           "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return dp_store_exec(s, st, "store: writing a setting", err);
}

dp_rc dp_store_setting_set(struct dp_store *s, const char *key, const char *value,
                           struct dp_err *err)
{
    dp_rc rc;

    rc = setting_key_check(key, err);
    if (rc)
        return rc;
    if (value && strnlen(value, STORE_SETTING_VALUE + 1) > STORE_SETTING_VALUE)
        return dp_err_set(err, DP_ETOOBIG, "setting %s is longer than %d bytes", key,
                          STORE_SETTING_VALUE);
    dp_store_lock(s);
    rc = setting_set_locked(s, key, value, err);
    dp_store_unlock(s);
    return rc;
}
