/* The store's schema as an ordered list of migration steps. PRAGMA user_version holds how many
 * steps a file has had; opening applies the missing ones, each in its own transaction, and
 * refuses a file with more steps than this program knows. Steps are only ever appended: never
 * edit one that has shipped. */
#include "dp_store_int.h"

#include <stdio.h>

/* Step 1: the first schema.
 * - A deployment's lock is the partial unique index deployments_one_running: at most one row
 *   per app may be "running", so taking the lock is inserting the row (in the transaction
 *   that computes its version) and releasing it is any status change; no lock row can
 *   outlive or contradict its deployment.
 * - servers are keyed by droplet_id when non-zero, else by ip (two partial unique indexes).
 * - sessions hold only the SHA-256 (hex) of each token. */
static const char migration_1[] =
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  pw_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE sessions ("
    "  token_hash TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX sessions_by_expiry ON sessions (expires_at);"
    "CREATE INDEX sessions_by_user ON sessions (user_id);"
    "CREATE TABLE settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE servers ("
    "  id INTEGER PRIMARY KEY,"
    "  droplet_id INTEGER NOT NULL DEFAULT 0,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  ip TEXT NOT NULL DEFAULT '',"
    "  region TEXT NOT NULL DEFAULT '',"
    "  size TEXT NOT NULL DEFAULT '',"
    "  image_id INTEGER NOT NULL DEFAULT 0,"
    "  image_name TEXT NOT NULL DEFAULT '',"
    "  owner_id INTEGER NOT NULL DEFAULT 0,"
    "  tls_pin TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL DEFAULT 'new',"
    "  created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX servers_by_droplet ON servers (droplet_id) WHERE droplet_id <> 0;"
    "CREATE UNIQUE INDEX servers_by_ip_only ON servers (ip) WHERE droplet_id = 0;"
    "CREATE INDEX servers_by_ip ON servers (ip);"
    "CREATE TABLE deployments ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  app TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  user_id INTEGER NOT NULL REFERENCES users (id),"
    "  created_at INTEGER NOT NULL,"
    "  finished_at INTEGER,"
    "  summary TEXT,"
    "  result TEXT,"
    "  UNIQUE (app, version));"
    "CREATE UNIQUE INDEX deployments_one_running ON deployments (app) WHERE status = 'running';"
    "CREATE INDEX deployments_by_user ON deployments (user_id);"
    "CREATE TABLE events ("
    "  deployment_id INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  data TEXT NOT NULL,"
    "  PRIMARY KEY (deployment_id, seq)) WITHOUT ROWID;";

/* 2: an app's versions never repeat, even after its newest deployment is deleted (an image
 * tag like web:v3 must name one build only). */
static const char migration_2[] =
    "CREATE TABLE app_versions ("
    "  app TEXT PRIMARY KEY,"
    "  last INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO app_versions (app, last) SELECT app, max(version) FROM deployments GROUP BY app;";

/* migrations[i] takes a file from version i to i + 1. */
static const char *const migrations[] = {
    migration_1,
    migration_2,
};

#define MIGRATIONS_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

int dp_store_migrate_latest(void)
{
    return MIGRATIONS_COUNT;
}

static dp_rc migrate_read_version(struct dp_store *s, int *out, struct dp_err *err)
{
    sqlite3_stmt *st = NULL;
    int r;

    r = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        dp_rc rc = dp_store_fail(s, r, "store: reading the schema version", err);

        sqlite3_finalize(st);
        return rc;
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return DP_OK;
}

/* Applies step `to` (1-based) inside the caller's transaction. The version is our own integer,
 * not a value from outside (PRAGMA takes no bound parameters). */
static dp_rc migrate_step(struct dp_store *s, int to, struct dp_err *err)
{
    char sql[64];
    int r;

    r = sqlite3_exec(s->db, migrations[to - 1], NULL, NULL, NULL);
    if (r != SQLITE_OK)
        return dp_err_set(err, DP_EIO, "store: migration to schema version %d failed: %s", to,
                          sqlite3_errmsg(s->db));
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", to);
    r = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (r != SQLITE_OK)
        return dp_store_fail(s, r, "store: recording the schema version", err);
    return DP_OK;
}

/* One step in its own transaction; *version: the file's version after it (re-read inside the
 * transaction, so another process that migrated meanwhile is seen). */
static dp_rc migrate_next(struct dp_store *s, const char *path, int *version, struct dp_err *err)
{
    dp_rc rc;

    rc = dp_store_tx_begin(s, err);
    if (rc)
        return rc;
    rc = migrate_read_version(s, version, err);
    if (rc == DP_OK && *version > MIGRATIONS_COUNT)
        rc = dp_err_setc(err, DP_EINVAL, "store_too_new",
                         "database %s has schema version %d but this program knows only up to "
                         "%d: run a newer controller",
                         path, *version, MIGRATIONS_COUNT);
    if (rc == DP_OK && *version < MIGRATIONS_COUNT) {
        rc = migrate_step(s, *version + 1, err);
        if (rc == DP_OK)
            (*version)++;
    }
    return dp_store_tx_end(s, rc, err);
}

dp_rc dp_store_migrate(struct dp_store *s, const char *path, struct dp_err *err)
{
    int version = 0;
    dp_rc rc;

    rc = migrate_read_version(s, &version, err);
    while (rc == DP_OK && version < MIGRATIONS_COUNT)
        rc = migrate_next(s, path, &version, err);
    if (rc == DP_OK && version > MIGRATIONS_COUNT)
        rc = migrate_next(s, path, &version, err); /* reports store_too_new */
    if (rc == DP_OK)
        s->version = version;
    return rc;
}
