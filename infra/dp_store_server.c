/* The store's servers: keyed by droplet id when it is non-zero, else by ip. Deleting marks a
 * server "deleted" (its row stays as history); listings and lookups by ip skip deleted ones. */
#include "dp_store_int.h"

#include <string.h>

#define SERVER_COLS                                                                                \
    "droplet_id, name, ip, region, size, image_id, image_name, owner_id, tls_pin, status, "        \
    "created_at"

#define SERVER_SET                                                                                 \
    "name = excluded.name, ip = excluded.ip, region = excluded.region, size = excluded.size, "     \
    "image_id = excluded.image_id, image_name = excluded.image_name, "                             \
    "owner_id = excluded.owner_id, tls_pin = excluded.tls_pin, status = excluded.status"

/* A status is a short lowercase word: ours ("new", "active", "off", "deleted") or whatever else
 * DigitalOcean reports (e.g. "archive"); "" is stored as "new". */
static bool server_status_ok(const char *status, size_t max)
{
    size_t n = strnlen(status, max);

    if (n == max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((status[i] >= 'a' && status[i] <= 'z') || status[i] == '_'))
            return false;
    }
    return true;
}

static dp_rc server_check(const struct dp_server *srv, struct dp_err *err)
{
    if (srv->droplet_id < 0)
        return dp_err_set(err, DP_EINVAL, "droplet id %lld is negative", srv->droplet_id);
    if (srv->droplet_id == 0 && strnlen(srv->ip, sizeof(srv->ip)) == 0)
        return dp_err_set(err, DP_EINVAL, "a server needs a droplet id or an ip");
    if (!server_status_ok(srv->status, sizeof(srv->status)))
        return dp_err_set(err, DP_EINVAL, "server status must be a lowercase word");
    return DP_OK;
}

static void server_bind(sqlite3_stmt *st, const struct dp_server *srv)
{
    sqlite3_bind_int64(st, 1, srv->droplet_id);
    dp_store_bind_text(st, 2, srv->name, sizeof(srv->name));
    dp_store_bind_text(st, 3, srv->ip, sizeof(srv->ip));
    dp_store_bind_text(st, 4, srv->region, sizeof(srv->region));
    dp_store_bind_text(st, 5, srv->size, sizeof(srv->size));
    sqlite3_bind_int64(st, 6, srv->image_id);
    dp_store_bind_text(st, 7, srv->image_name, sizeof(srv->image_name));
    sqlite3_bind_int64(st, 8, srv->owner_id);
    dp_store_bind_text(st, 9, srv->tls_pin, sizeof(srv->tls_pin));
    if (srv->status[0])
        dp_store_bind_text(st, 10, srv->status, sizeof(srv->status));
    else
        sqlite3_bind_text(st, 10, "new", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, srv->created_at ? srv->created_at : dp_store_now());
}

static void server_from_row(struct dp_server *out, sqlite3_stmt *st)
{
    memset(out, 0, sizeof(*out));
    out->droplet_id = sqlite3_column_int64(st, 0);
    dp_store_col_copy(out->name, sizeof(out->name), st, 1);
    dp_store_col_copy(out->ip, sizeof(out->ip), st, 2);
    dp_store_col_copy(out->region, sizeof(out->region), st, 3);
    dp_store_col_copy(out->size, sizeof(out->size), st, 4);
    out->image_id = sqlite3_column_int64(st, 5);
    dp_store_col_copy(out->image_name, sizeof(out->image_name), st, 6);
    out->owner_id = sqlite3_column_int64(st, 7);
    dp_store_col_copy(out->tls_pin, sizeof(out->tls_pin), st, 8);
    dp_store_col_copy(out->status, sizeof(out->status), st, 9);
    out->created_at = sqlite3_column_int64(st, 10);
}

dp_rc dp_store_server_put(struct dp_store *s, const struct dp_server *srv, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    rc = server_check(srv, err);
    if (rc)
        return rc;
    dp_store_lock(s);
    /* created_at is kept from the first put. */
    rc = dp_store_stmt(&st, s, DP_ST_SERVER_PUT,
                       "INSERT INTO servers (" SERVER_COLS ") "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                       "ON CONFLICT (droplet_id) WHERE droplet_id <> 0 DO UPDATE SET " SERVER_SET
                       " ON CONFLICT (ip) WHERE droplet_id = 0 DO UPDATE SET " SERVER_SET,
                       err);
    if (rc == DP_OK) {
        server_bind(st, srv);
        rc = dp_store_exec(s, st, "store: saving a server", err);
    }
    dp_store_unlock(s);
    return rc;
}

/* Runs a lookup already bound; DP_ENOTFOUND (with what) when it has no row. */
static dp_rc server_lookup_locked(struct dp_store *s, sqlite3_stmt *st, struct dp_server *out,
                                  const char *what, struct dp_err *err)
{
    int r = sqlite3_step(st);
    dp_rc rc = DP_OK;

    if (r == SQLITE_ROW)
        server_from_row(out, st);
    else if (r == SQLITE_DONE)
        rc = dp_err_set(err, DP_ENOTFOUND, "no server %s", what);
    else
        rc = dp_store_fail(s, r, "store: looking up a server", err);
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_server_by_ip(struct dp_store *s, const char *ip, struct dp_server *out,
                            struct dp_err *err)
{
    char what[96];
    sqlite3_stmt *st;
    dp_rc rc;

    if (!ip || !*ip || strlen(ip) >= sizeof(out->ip))
        return dp_err_set(err, DP_ENOTFOUND, "no server has that ip");
    snprintf(what, sizeof(what), "with ip %s", ip);
    dp_store_lock(s);
    /* DigitalOcean reuses addresses: the newest live server with it wins. */
    rc = dp_store_stmt(&st, s, DP_ST_SERVER_BY_IP,
                       "SELECT " SERVER_COLS " FROM servers WHERE ip = ?1 AND status <> 'deleted' "
                       "ORDER BY created_at DESC, id DESC LIMIT 1",
                       err);
    if (rc == DP_OK) {
        sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
        rc = server_lookup_locked(s, st, out, what, err);
    }
    dp_store_unlock(s);
    return rc;
}

dp_rc dp_store_server_by_id(struct dp_store *s, long long droplet_id, struct dp_server *out,
                            struct dp_err *err)
{
    char what[64];
    sqlite3_stmt *st;
    dp_rc rc;

    snprintf(what, sizeof(what), "with droplet id %lld", droplet_id);
    if (droplet_id <= 0)
        return dp_err_set(err, DP_ENOTFOUND, "no server %s", what);
    dp_store_lock(s);
    rc = dp_store_stmt(&st, s, DP_ST_SERVER_BY_ID,
                       "SELECT " SERVER_COLS " FROM servers WHERE droplet_id = ?1", err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(st, 1, droplet_id);
        rc = server_lookup_locked(s, st, out, what, err);
    }
    dp_store_unlock(s);
    return rc;
}

static json_t *server_json(const struct dp_server *v)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:I}", "droplet_id",
                     (json_int_t)v->droplet_id, "name", v->name, "ip", v->ip, "region", v->region,
                     "size", v->size, "image_id", (json_int_t)v->image_id, "image_name",
                     v->image_name, "owner_id", (json_int_t)v->owner_id, "tls_pin", v->tls_pin,
                     "status", v->status, "created_at", (json_int_t)v->created_at);
}

static dp_rc servers_locked(struct dp_store *s, json_t *arr, struct dp_err *err)
{
    struct dp_server v;
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_SERVER_LIST,
                       "SELECT " SERVER_COLS " FROM servers WHERE status <> 'deleted' "
                       "ORDER BY created_at, id",
                       err);
    if (rc)
        return rc;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        server_from_row(&v, st);
        if (json_array_append_new(arr, server_json(&v)) != 0) {
            rc = dp_err_set(err, DP_ENOMEM, "out of memory listing servers");
            break;
        }
    }
    if (rc == DP_OK && r != SQLITE_DONE)
        rc = dp_store_fail(s, r, "store: listing servers", err);
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_servers(struct dp_store *s, json_t **out, struct dp_err *err)
{
    json_t *arr = json_array();
    dp_rc rc;

    *out = NULL;
    if (!arr)
        return dp_err_set(err, DP_ENOMEM, "out of memory listing servers");
    dp_store_lock(s);
    rc = servers_locked(s, arr, err);
    dp_store_unlock(s);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return DP_OK;
}

dp_rc dp_store_server_delete(struct dp_store *s, long long droplet_id, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    if (droplet_id <= 0)
        return dp_err_set(err, DP_ENOTFOUND, "no server with droplet id %lld", droplet_id);
    dp_store_lock(s);
    rc = dp_store_stmt(&st, s, DP_ST_SERVER_DELETE,
                       "UPDATE servers SET status = 'deleted' WHERE droplet_id = ?1", err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(st, 1, droplet_id);
        rc = dp_store_exec(s, st, "store: deleting a server", err);
    }
    if (rc == DP_OK && sqlite3_changes(s->db) == 0)
        rc = dp_err_set(err, DP_ENOTFOUND, "no server with droplet id %lld", droplet_id);
    dp_store_unlock(s);
    return rc;
}
