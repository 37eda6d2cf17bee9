/* The controller's state in SQLite: users, sessions, settings, servers seen, deployments and
 * every event of every deployment. One file (mode 0600, WAL), versioned migrations run at
 * open, one connection guarded by a mutex (every function is thread-safe). A restart loses
 * nothing; deployments that were running when the process died are marked "interrupted". */
#ifndef DP_STORE_H
#define DP_STORE_H

#include "dp_err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_store;

/* Opens (creating with mode 0600) and migrates the database at path. A database newer than this
 * program (a higher schema version) is refused. *out: dp_store_close() it. */
dp_rc dp_store_open(struct dp_store **out, const char *path, struct dp_err *err);
void dp_store_close(struct dp_store *s); /* NULL is fine */

/* The schema version after migrations. */
int dp_store_schema_version(struct dp_store *s);

/* ---- users and sessions ---- */

struct dp_user {
    long long id; /* feeds the agent key derivation */
    char username[65];
};

/* Creates a user with a PBKDF2-SHA256 hash of password (dp_password). DP_ECONFLICT when the name
 * is taken. Username: 1..64 of [A-Za-z0-9_.-]. */
dp_rc dp_store_user_create(struct dp_store *s, const char *username, const char *password,
                           struct dp_user *out, struct dp_err *err);

/* Number of users (0 on a new database: the controller then creates "admin"). */
dp_rc dp_store_user_count(struct dp_store *s, long long *out, struct dp_err *err);

/* Checks a password; DP_EAUTH (same message for an unknown user and a wrong password, and the
 * same time spent) when it does not match. */
dp_rc dp_store_user_verify(struct dp_store *s, const char *username, const char *password,
                           struct dp_user *out, struct dp_err *err);

dp_rc dp_store_user_get(struct dp_store *s, long long id, struct dp_user *out, struct dp_err *err);

/* Makes a session for user: token_out gets 64 hex characters (the bearer token, shown once;
 * only its SHA-256 is stored); *expires_at: Unix seconds, now + ttl_s. */
dp_rc dp_store_session_create(struct dp_store *s, long long user_id, int64_t ttl_s,
                              char token_out[65], int64_t *expires_at, struct dp_err *err);

/* The user a bearer token belongs to; DP_EAUTH when unknown or expired (expired rows are
 * deleted). Constant-time with respect to the token's content. */
dp_rc dp_store_session_user(struct dp_store *s, const char *token, struct dp_user *out,
                            struct dp_err *err);

/* Ends a session (logout); DP_ENOTFOUND when the token has none. */
dp_rc dp_store_session_delete(struct dp_store *s, const char *token, struct dp_err *err);

/* ---- settings (key -> text) ---- */

/* *out: a new string (free it) or NULL when unset. */
dp_rc dp_store_setting_get(struct dp_store *s, const char *key, char **out, struct dp_err *err);
dp_rc dp_store_setting_set(struct dp_store *s, const char *key, const char *value,
                           struct dp_err *err); /* value NULL deletes */

/* ---- servers the controller provisioned or saw ---- */

struct dp_server {
    long long droplet_id; /* 0 for a server not on DigitalOcean */
    char name[256];
    char ip[64]; /* "" until active */
    char region[64];
    char size[64];
    long long image_id; /* the snapshot it was made from */
    char image_name[256];
    long long owner_id; /* the user whose key its agent holds */
    char tls_pin[64];   /* "sha256//<base64 SPKI hash>" of its agent's certificate; "" = http */
    char status[32];    /* "new", "active", "off", "deleted" */
    int64_t created_at;
};

/* Inserts or updates (by droplet_id, else by ip) a server. */
dp_rc dp_store_server_put(struct dp_store *s, const struct dp_server *srv, struct dp_err *err);

/* By ip, the newest server not deleted (DigitalOcean reuses addresses); DP_ENOTFOUND when no
 * server has it. By droplet id, deleted ones included. */
dp_rc dp_store_server_by_ip(struct dp_store *s, const char *ip, struct dp_server *out,
                            struct dp_err *err);
dp_rc dp_store_server_by_id(struct dp_store *s, long long droplet_id, struct dp_server *out,
                            struct dp_err *err);

/* Every server not deleted, oldest first: *out array of objects with the struct's fields under
 * their names (ids and created_at as integers; the caller's). */
dp_rc dp_store_servers(struct dp_store *s, json_t **out, struct dp_err *err);

/* Marks a server "deleted" (the row stays as history); DP_ENOTFOUND for an unknown id. */
dp_rc dp_store_server_delete(struct dp_store *s, long long droplet_id, struct dp_err *err);

/* ---- deployments and their events ---- */

struct dp_deployment {
    long long id;
    char app[64];
    long long version; /* per app, 1, 2, ... */
    char source[16];   /* "image", "git", "code" */
    char status[16];   /* "running", "succeeded", "failed", "canceled", "interrupted" */
    long long user_id;
    int64_t created_at, finished_at; /* Unix seconds; finished_at 0 while running */
    json_t *summary;                 /* what was asked, secrets removed; owned */
    json_t *result;                  /* the done event's servers array, or NULL; owned */
};

void dp_deployment_clear(struct dp_deployment *d);

/* The API's shape of one deployment, the list's fields (times in RFC 3339, finished_at null
 * while running, user by name) plus "summary" and "servers" (the done event's results). */
json_t *dp_deployment_json(const struct dp_deployment *d, const char *username);

/* Starts a deployment of app: takes the app's lock (one deploy at a time per app) and gives
 * the next version. DP_ECONFLICT (code "deploy_in_progress") when another deployment of app
 * runs: holder gets "deployment N by USER since TIME" for the message. */
dp_rc dp_store_deploy_begin(struct dp_store *s, const char *app, const char *source,
                            long long user_id, const json_t *summary, struct dp_deployment *out,
                            char *holder, size_t holder_size, struct dp_err *err);

/* Ends a deployment with status ("succeeded", "failed", "canceled", "interrupted") and result
 * (stolen, may be NULL), releasing the app's lock. DP_ENOTFOUND for an unknown id,
 * DP_ECONFLICT when it is no longer running. */
dp_rc dp_store_deploy_finish(struct dp_store *s, long long id, const char *status, json_t *result,
                             struct dp_err *err);

dp_rc dp_store_deploy_get(struct dp_store *s, long long id, struct dp_deployment *out,
                          struct dp_err *err);

/* The newest deployments first, at most limit (1..500), optionally of one app: *out array. */
dp_rc dp_store_deploy_list(struct dp_store *s, const char *app, int limit, json_t **out,
                           struct dp_err *err);

/* The latest succeeded deployment of app (its servers and image), for stop/start/restart/delete. */
dp_rc dp_store_deploy_latest_ok(struct dp_store *s, const char *app, struct dp_deployment *out,
                                struct dp_err *err);

/* Deletes a deployment row and its events (not running ones: DP_ECONFLICT). */
dp_rc dp_store_deploy_delete(struct dp_store *s, long long id, struct dp_err *err);

/* Marks every deployment still "running" as "interrupted", sets finished_at and frees their
 * locks (at start-up, before serving); *count: how many. Each gets one last event
 * {"type":"error","error":"interrupted","detail":"the controller stopped while this deployment
 * ran"} so its log says why; no "done" event follows it. */
dp_rc dp_store_deploy_interrupt_all(struct dp_store *s, long long *count, struct dp_err *err);

/* Appends an event (compact JSON text of an object) to a deployment, committed before this
 * returns; *seq: its sequence number (1, 2, ... per deployment). */
dp_rc dp_store_event_append(struct dp_store *s, long long deployment_id, const char *json,
                            long long *seq, struct dp_err *err);

/* Events with seq > after, in order, at most limit (1..10000; page with after): *out array of
 * {"seq":N,"data":"<json>"}, empty for an unknown deployment. */
dp_rc dp_store_events(struct dp_store *s, long long deployment_id, long long after, int limit,
                      json_t **out, struct dp_err *err);

#endif
