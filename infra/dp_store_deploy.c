/* The store's deployments, their per-app lock and their events. The lock is the partial unique
 * index deployments_one_running (see dp_store_migrate.c): begin inserts the "running" row in
 * the transaction that reads the holder and computes the version; any other status frees it. */
#include "dp_store_int.h"

#include "dp_clock.h"
#include "dp_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPLOY_LIST_MAX 500
#define EVENTS_PAGE_MAX 10000 /* events per dp_store_events call */

#define DEPLOY_COLS                                                                                \
    "id, app, version, source, status, user_id, created_at, coalesce(finished_at, 0), summary, "   \
    "result"

#define INTERRUPTED_EVENT                                                                          \
    "{\"type\":\"error\",\"error\":\"interrupted\",\"detail\":\"the controller stopped while "     \
    "this deployment ran\"}"

void dp_deployment_clear(struct dp_deployment *d)
{
    if (!d)
        return;
    json_decref(d->summary);
    json_decref(d->result);
    d->summary = NULL;
    d->result = NULL;
}

static bool app_name_ok(const char *app)
{
    size_t n = app ? strnlen(app, DP_NAME_MAX + 1) : 0;

    if (n == 0 || n > DP_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = app[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '_' || c == '.' || c == '-'))))
            return false;
    }
    return true;
}

static bool one_of(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        if (strcmp(v, list[i]) == 0)
            return true;
    }
    return false;
}

/* Compact text of v (NULL for NULL); DP_ENOMEM when it cannot be written. */
static dp_rc json_text(char **out, const json_t *v, struct dp_err *err)
{
    *out = NULL;
    if (!v)
        return DP_OK;
    *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return *out ? DP_OK : dp_err_set(err, DP_ENOMEM, "cannot write a deployment's JSON");
}

static json_t *json_col(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);

    return t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
}

static void deploy_from_row(struct dp_deployment *d, sqlite3_stmt *st)
{
    memset(d, 0, sizeof(*d));
    d->id = sqlite3_column_int64(st, 0);
    dp_store_col_copy(d->app, sizeof(d->app), st, 1);
    d->version = sqlite3_column_int64(st, 2);
    dp_store_col_copy(d->source, sizeof(d->source), st, 3);
    dp_store_col_copy(d->status, sizeof(d->status), st, 4);
    d->user_id = sqlite3_column_int64(st, 5);
    d->created_at = sqlite3_column_int64(st, 6);
    d->finished_at = sqlite3_column_int64(st, 7);
    d->summary = json_col(st, 8);
    d->result = json_col(st, 9);
}

/* ---- begin ---- */

/* DP_ECONFLICT with holder filled when app has a running deployment. */
static dp_rc deploy_holder_locked(struct dp_store *s, const char *app, char *holder,
                                  size_t holder_size, struct dp_err *err)
{
    char since[32];
    sqlite3_stmt *st;
    const char *who;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_HOLDER,
                       "SELECT d.id, u.username, d.created_at FROM deployments d "
                       "LEFT JOIN users u ON u.id = d.user_id "
                       "WHERE d.app = ?1 AND d.status = 'running'",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        who = (const char *)sqlite3_column_text(st, 1);
        dp_unix_rfc3339(since, sizeof(since), sqlite3_column_int64(st, 2));
        if (holder && holder_size)
            snprintf(holder, holder_size, "deployment %lld by %s since %s",
                     (long long)sqlite3_column_int64(st, 0), who ? who : "(deleted user)", since);
        rc = dp_err_setc(err, DP_ECONFLICT, "deploy_in_progress",
                         "app %s is already being deployed: deployment %lld by %s since %s", app,
                         (long long)sqlite3_column_int64(st, 0), who ? who : "(deleted user)",
                         since);
    } else if (r != SQLITE_DONE) {
        rc = dp_store_fail(s, r, "store: reading the app's lock", err);
    }
    dp_store_done(st);
    return rc;
}

struct deploy_new {
    const char *app, *source, *summary;
    long long user_id;
    int64_t now;
};

/* The app's last version, kept apart from the deployments so deleting one never frees its
 * number. */
static dp_rc app_version_put(struct dp_store *s, const char *app, long long version,
                             struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc = dp_store_stmt(&st, s, DP_ST_APP_VERSION_PUT,
                             "INSERT INTO app_versions (app, last) VALUES (?1, ?2) "
                             "ON CONFLICT (app) DO UPDATE SET last = excluded.last",
                             err);

    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    rc = dp_store_exec(s, st, "store: numbering an app's versions", err);
    return rc;
}

static dp_rc deploy_insert_locked(struct dp_store *s, const struct deploy_new *n,
                                  struct dp_deployment *out, struct dp_err *err)
{
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_INSERT,
                       "INSERT INTO deployments (app, version, source, status, user_id, "
                       "created_at, summary) "
                       "SELECT ?1, coalesce((SELECT last FROM app_versions WHERE app = ?1), 0) "
                       "+ 1, ?2, 'running', ?3, ?4, ?5 RETURNING id, version",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, n->app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, n->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n->user_id);
    sqlite3_bind_int64(st, 4, n->now);
    if (n->summary)
        sqlite3_bind_text(st, 5, n->summary, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->version = sqlite3_column_int64(st, 1);
        r = sqlite3_step(st);
    }
    if (r != SQLITE_DONE)
        rc = dp_store_fail(s, r, "store: starting a deployment", err);
    if (rc == DP_ENOTFOUND)
        rc = dp_err_set(err, DP_ENOTFOUND, "no user with id %lld", n->user_id);
    dp_store_done(st);
    if (rc == DP_OK)
        rc = app_version_put(s, n->app, out->version, err);
    return rc;
}

static dp_rc deploy_begin_locked(struct dp_store *s, const struct deploy_new *n,
                                 struct dp_deployment *out, char *holder, size_t holder_size,
                                 struct dp_err *err)
{
    dp_rc rc;

    rc = dp_store_tx_begin(s, err);
    if (rc)
        return rc;
    rc = deploy_holder_locked(s, n->app, holder, holder_size, err);
    if (rc == DP_OK)
        rc = deploy_insert_locked(s, n, out, err);
    return dp_store_tx_end(s, rc, err);
}

dp_rc dp_store_deploy_begin(struct dp_store *s, const char *app, const char *source,
                            long long user_id, const json_t *summary, struct dp_deployment *out,
                            char *holder, size_t holder_size, struct dp_err *err)
{
    static const char *const sources[] = {"image", "git", "code"};
    struct deploy_new n = {.app = app, .source = source, .user_id = user_id};
    char *text = NULL;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    if (holder && holder_size)
        holder[0] = '\0';
    if (!app_name_ok(app))
        return dp_err_set(err, DP_EINVAL, "app name must be 1 to %d of A-Z a-z 0-9 _ . -",
                          DP_NAME_MAX);
    if (!one_of(source, sources, sizeof(sources) / sizeof(sources[0])))
        return dp_err_set(err, DP_EINVAL, "deployment source must be image, git or code");
    rc = json_text(&text, summary, err);
    if (rc)
        return rc;
    n.summary = text;
    n.now = dp_store_now();
    dp_store_lock(s);
    rc = deploy_begin_locked(s, &n, out, holder, holder_size, err);
    dp_store_unlock(s);
    if (rc == DP_OK) {
        snprintf(out->app, sizeof(out->app), "%s", app);
        snprintf(out->source, sizeof(out->source), "%s", source);
        snprintf(out->status, sizeof(out->status), "running");
        out->user_id = user_id;
        out->created_at = n.now;
        out->summary = summary ? json_deep_copy(summary) : NULL;
    }
    free(text);
    return rc;
}

/* ---- finish, get, list, delete ---- */

/* After an UPDATE or DELETE guarded by "status = 'running'" (or its opposite) changed nothing:
 * DP_ENOTFOUND for a missing row, else DP_ECONFLICT naming the status found. */
static dp_rc deploy_why_not(struct dp_store *s, long long id, const char *doing, struct dp_err *err)
{
    char status[16] = "";
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_STATUS, "SELECT status FROM deployments WHERE id = ?1",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        dp_store_col_copy(status, sizeof(status), st, 0);
    else if (r != SQLITE_DONE)
        rc = dp_store_fail(s, r, "store: reading a deployment", err);
    dp_store_done(st);
    if (rc)
        return rc;
    if (!status[0])
        return dp_err_set(err, DP_ENOTFOUND, "no deployment %lld", id);
    return dp_err_set(err, DP_ECONFLICT, "cannot %s deployment %lld: it is %s", doing, id, status);
}

static dp_rc deploy_finish_locked(struct dp_store *s, long long id, const char *status,
                                  const char *result, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_FINISH,
                       "UPDATE deployments SET status = ?2, finished_at = ?3, result = ?4 "
                       "WHERE id = ?1 AND status = 'running'",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, dp_store_now());
    if (result)
        sqlite3_bind_text(st, 4, result, -1, SQLITE_STATIC);
    rc = dp_store_exec(s, st, "store: finishing a deployment", err);
    if (rc == DP_OK && sqlite3_changes(s->db) == 0)
        rc = deploy_why_not(s, id, "finish", err);
    return rc;
}

dp_rc dp_store_deploy_finish(struct dp_store *s, long long id, const char *status, json_t *result,
                             struct dp_err *err)
{
    static const char *const ends[] = {"succeeded", "failed", "canceled", "interrupted"};
    char *text = NULL;
    dp_rc rc;

    if (!one_of(status, ends, sizeof(ends) / sizeof(ends[0]))) {
        json_decref(result);
        return dp_err_set(err, DP_EINVAL,
                          "a deployment ends succeeded, failed, canceled or interrupted");
    }
    rc = json_text(&text, result, err);
    json_decref(result);
    if (rc)
        return rc;
    dp_store_lock(s);
    rc = deploy_finish_locked(s, id, status, text, err);
    dp_store_unlock(s);
    free(text);
    return rc;
}

/* Runs a bound query of DEPLOY_COLS; DP_ENOTFOUND (message what) without a row. */
static dp_rc deploy_read_locked(struct dp_store *s, sqlite3_stmt *st, struct dp_deployment *out,
                                const char *what, struct dp_err *err)
{
    int r = sqlite3_step(st);
    dp_rc rc = DP_OK;

    if (r == SQLITE_ROW)
        deploy_from_row(out, st);
    else if (r == SQLITE_DONE)
        rc = dp_err_set(err, DP_ENOTFOUND, "%s", what);
    else
        rc = dp_store_fail(s, r, "store: reading a deployment", err);
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_deploy_get(struct dp_store *s, long long id, struct dp_deployment *out,
                          struct dp_err *err)
{
    char what[64];
    sqlite3_stmt *st;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    snprintf(what, sizeof(what), "no deployment %lld", id);
    dp_store_lock(s);
    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_GET,
                       "SELECT " DEPLOY_COLS " FROM deployments WHERE id = ?1", err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = deploy_read_locked(s, st, out, what, err);
    }
    dp_store_unlock(s);
    return rc;
}

dp_rc dp_store_deploy_latest_ok(struct dp_store *s, const char *app, struct dp_deployment *out,
                                struct dp_err *err)
{
    char what[DP_NAME_MAX + 64];
    sqlite3_stmt *st;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    if (!app_name_ok(app))
        return dp_err_set(err, DP_ENOTFOUND, "no such app");
    snprintf(what, sizeof(what), "app %s has no succeeded deployment", app);
    dp_store_lock(s);
    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_LATEST_OK,
                       "SELECT " DEPLOY_COLS " FROM deployments "
                       "WHERE app = ?1 AND status = 'succeeded' ORDER BY version DESC LIMIT 1",
                       err);
    if (rc == DP_OK) {
        sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
        rc = deploy_read_locked(s, st, out, what, err);
    }
    dp_store_unlock(s);
    return rc;
}

json_t *dp_deployment_json(const struct dp_deployment *d, const char *username)
{
    char created[32], finished[32];

    dp_unix_rfc3339(created, sizeof(created), d->created_at);
    if (d->finished_at)
        dp_unix_rfc3339(finished, sizeof(finished), d->finished_at);
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s?, s:s, s:s?, s:O?, s:O?}", "id",
                     (json_int_t)d->id, "app", d->app, "version", (json_int_t)d->version, "source",
                     d->source, "status", d->status, "user", username, "created_at", created,
                     "finished_at", d->finished_at ? finished : NULL, "summary", d->summary,
                     "servers", d->result);
}

static const char *col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static json_t *deploy_list_row(sqlite3_stmt *st)
{
    char created[32], finished[32];
    int64_t fin = sqlite3_column_int64(st, 7);

    dp_unix_rfc3339(created, sizeof(created), sqlite3_column_int64(st, 6));
    if (fin)
        dp_unix_rfc3339(finished, sizeof(finished), fin);
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s?, s:s, s:s?}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "app", col_text(st, 1), "version",
                     (json_int_t)sqlite3_column_int64(st, 2), "source", col_text(st, 3), "status",
                     col_text(st, 4), "user", col_text(st, 5), "created_at", created, "finished_at",
                     fin ? finished : NULL);
}

static dp_rc deploy_list_locked(struct dp_store *s, const char *app, int limit, json_t *arr,
                                struct dp_err *err)
{
#define DEPLOY_LIST_SQL                                                                            \
    "SELECT d.id, d.app, d.version, d.source, d.status, u.username, d.created_at, "                \
    "coalesce(d.finished_at, 0) FROM deployments d LEFT JOIN users u ON u.id = d.user_id "
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    if (app)
        rc =
            dp_store_stmt(&st, s, DP_ST_DEPLOY_LIST_APP,
                          DEPLOY_LIST_SQL "WHERE d.app = ?2 ORDER BY d.version DESC LIMIT ?1", err);
    else
        rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_LIST, DEPLOY_LIST_SQL "ORDER BY d.id DESC LIMIT ?1",
                           err);
#undef DEPLOY_LIST_SQL
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, limit);
    if (app)
        sqlite3_bind_text(st, 2, app, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (json_array_append_new(arr, deploy_list_row(st)) != 0) {
            rc = dp_err_set(err, DP_ENOMEM, "out of memory listing deployments");
            break;
        }
    }
    if (rc == DP_OK && r != SQLITE_DONE)
        rc = dp_store_fail(s, r, "store: listing deployments", err);
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_deploy_list(struct dp_store *s, const char *app, int limit, json_t **out,
                           struct dp_err *err)
{
    json_t *arr;
    dp_rc rc;

    *out = NULL;
    if (limit < 1 || limit > DEPLOY_LIST_MAX)
        return dp_err_set(err, DP_EINVAL, "limit must be 1 to %d", DEPLOY_LIST_MAX);
    arr = json_array();
    if (!arr)
        return dp_err_set(err, DP_ENOMEM, "out of memory listing deployments");
    dp_store_lock(s);
    rc = deploy_list_locked(s, app, limit, arr, err);
    dp_store_unlock(s);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return DP_OK;
}

dp_rc dp_store_deploy_delete(struct dp_store *s, long long id, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    dp_store_lock(s);
    /* Its events go with it (ON DELETE CASCADE). */
    rc = dp_store_stmt(&st, s, DP_ST_DEPLOY_DELETE,
                       "DELETE FROM deployments WHERE id = ?1 AND status <> 'running'", err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = dp_store_exec(s, st, "store: deleting a deployment", err);
    }
    if (rc == DP_OK && sqlite3_changes(s->db) == 0)
        rc = deploy_why_not(s, id, "delete", err);
    dp_store_unlock(s);
    return rc;
}

/* ---- interrupted deployments ---- */

static dp_rc deploy_interrupt_locked(struct dp_store *s, long long *count, struct dp_err *err)
{
    sqlite3_stmt *ev, *mark;
    dp_rc rc;

    rc = dp_store_stmt(&ev, s, DP_ST_DEPLOY_INTERRUPT_EVENTS,
                       "INSERT INTO events (deployment_id, seq, data) "
                       "SELECT d.id, 1 + coalesce((SELECT max(e.seq) FROM events e "
                       "WHERE e.deployment_id = d.id), 0), ?1 "
                       "FROM deployments d WHERE d.status = 'running'",
                       err);
    if (rc == DP_OK)
        rc = dp_store_stmt(&mark, s, DP_ST_DEPLOY_INTERRUPT_MARK,
                           "UPDATE deployments SET status = 'interrupted', finished_at = ?1 "
                           "WHERE status = 'running'",
                           err);
    if (rc == DP_OK)
        rc = dp_store_tx_begin(s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(ev, 1, INTERRUPTED_EVENT, -1, SQLITE_STATIC);
    rc = dp_store_exec(s, ev, "store: logging interrupted deployments", err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(mark, 1, dp_store_now());
        rc = dp_store_exec(s, mark, "store: marking interrupted deployments", err);
    }
    if (rc == DP_OK)
        *count = sqlite3_changes(s->db);
    return dp_store_tx_end(s, rc, err);
}

dp_rc dp_store_deploy_interrupt_all(struct dp_store *s, long long *count, struct dp_err *err)
{
    long long n = 0;
    dp_rc rc;

    dp_store_lock(s);
    rc = deploy_interrupt_locked(s, &n, err);
    dp_store_unlock(s);
    if (count)
        *count = rc == DP_OK ? n : 0;
    return rc;
}

/* ---- events ---- */

dp_rc dp_store_event_append(struct dp_store *s, long long deployment_id, const char *json,
                            long long *seq, struct dp_err *err)
{
    sqlite3_stmt *st;
    size_t n = json ? strnlen(json, DP_EVENT_MAX + 1) : 0;
    int r;
    dp_rc rc;

    if (seq)
        *seq = 0;
    if (n == 0)
        return dp_err_set(err, DP_EINVAL, "empty event");
    if (n > DP_EVENT_MAX)
        return dp_err_set(err, DP_ETOOBIG, "event longer than %lu bytes", DP_EVENT_MAX);
    dp_store_lock(s);
    /* One statement, so one transaction: it reads the last seq and inserts the next one
     * atomically, and is committed (in the WAL) when the statement completes. */
    rc = dp_store_stmt(&st, s, DP_ST_EVENT_APPEND,
                       "INSERT INTO events (deployment_id, seq, data) "
                       "SELECT ?1, coalesce(max(seq), 0) + 1, ?2 FROM events "
                       "WHERE deployment_id = ?1 RETURNING seq",
                       err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(st, 1, deployment_id);
        sqlite3_bind_text(st, 2, json, (int)n, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            if (seq)
                *seq = sqlite3_column_int64(st, 0);
            r = sqlite3_step(st);
        }
        if (r != SQLITE_DONE)
            rc = dp_store_fail(s, r, "store: appending an event", err);
        if (rc == DP_ENOTFOUND)
            rc = dp_err_set(err, DP_ENOTFOUND, "no deployment %lld", deployment_id);
        dp_store_done(st);
    }
    dp_store_unlock(s);
    return rc;
}

static dp_rc events_locked(struct dp_store *s, long long deployment_id, long long after, int limit,
                           json_t *arr, struct dp_err *err)
{
    sqlite3_stmt *st;
    const char *data;
    json_t *o;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_EVENT_LIST,
                       "SELECT seq, data FROM events WHERE deployment_id = ?1 AND seq > ?2 "
                       "ORDER BY seq LIMIT ?3",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, deployment_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, limit);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        data = (const char *)sqlite3_column_text(st, 1);
        o = json_pack("{s:I, s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "data",
                      dp_json_string_lossy(data ? data : "", (size_t)sqlite3_column_bytes(st, 1)));
        if (json_array_append_new(arr, o) != 0) {
            rc = dp_err_set(err, DP_ENOMEM, "out of memory reading events");
            break;
        }
    }
    if (rc == DP_OK && r != SQLITE_DONE)
        rc = dp_store_fail(s, r, "store: reading events", err);
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_events(struct dp_store *s, long long deployment_id, long long after, int limit,
                      json_t **out, struct dp_err *err)
{
    json_t *arr;
    dp_rc rc;

    *out = NULL;
    if (limit < 1 || limit > EVENTS_PAGE_MAX)
        return dp_err_set(err, DP_EINVAL, "limit must be 1 to %d", EVENTS_PAGE_MAX);
    arr = json_array();
    if (!arr)
        return dp_err_set(err, DP_ENOMEM, "out of memory reading events");
    dp_store_lock(s);
    rc = events_locked(s, deployment_id, after, limit, arr, err);
    dp_store_unlock(s);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return DP_OK;
}
