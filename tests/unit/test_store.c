/* The controller's SQLite store: migrations and re-open, file mode, a future schema refused,
 * users, sessions, settings, servers, deployments with their per-app lock, interrupted
 * deployments, events (order, paging, concurrency, speed) and durability across kill -9. */
#include "dp_password.h"
#include "dp_store.h"
#include "th.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PW "correct horse battery"

static char test_dir[64];
static int test_db_n;

/* A fresh database path in the test's folder. */
static void db_path(char *buf, size_t size)
{
    snprintf(buf, size, "%s/ctl-%d.db", test_dir, ++test_db_n);
}

static struct dp_store *open_new(char *path, size_t size)
{
    struct dp_store *s = NULL;
    struct dp_err err = {0};

    db_path(path, size);
    TH_EQ_INT(dp_store_open(&s, path, &err), DP_OK);
    if (!s)
        fprintf(stderr, "     open: %s\n", err.msg);
    return s;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs one SQL statement on the file behind the store's back; returns the first column of the
 * first row as an integer (0 without a row). */
static long long raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = 0;

    TH_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    TH_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static long long make_user(struct dp_store *s, const char *name)
{
    struct dp_user u = {0};

    TH_EQ_INT(dp_store_user_create(s, name, PW, &u, NULL), DP_OK);
    return u.id;
}

/* ---- the file ---- */

static void migrates_and_reopens(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));
    long long n = -1;

    if (!s)
        return;
    TH_CHECK(dp_store_schema_version(s) >= 1);
    TH_EQ_INT(raw_sql(path, "PRAGMA user_version"), dp_store_schema_version(s));
    TH_EQ_INT(dp_store_user_count(s, &n, NULL), DP_OK);
    TH_EQ_INT(n, 0);
    make_user(s, "admin");
    dp_store_close(s);
    s = NULL;
    for (int i = 0; i < 2; i++) { /* opening again changes nothing */
        TH_EQ_INT(dp_store_open(&s, path, NULL), DP_OK);
        if (!s)
            return;
        TH_EQ_INT(dp_store_user_count(s, &n, NULL), DP_OK);
        TH_EQ_INT(n, 1);
        TH_EQ_INT(raw_sql(path, "PRAGMA user_version"), dp_store_schema_version(s));
        TH_EQ_INT(raw_sql(path, "SELECT count(*) FROM pragma_journal_mode WHERE "
                                "journal_mode = 'wal'"),
                  1);
        dp_store_close(s);
    }
    dp_store_close(NULL);
}

static void file_mode_is_0600(void)
{
    char path[128], wal[160];
    struct stat st;
    struct dp_store *s;
    mode_t old = umask(0); /* the widest umask must not widen the file */

    s = open_new(path, sizeof(path));
    umask(old);
    if (!s)
        return;
    make_user(s, "admin");
    TH_EQ_INT(stat(path, &st), 0);
    TH_EQ_INT(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    TH_EQ_INT(stat(wal, &st), 0);
    TH_EQ_INT(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    TH_EQ_INT(stat(wal, &st), 0);
    TH_EQ_INT(st.st_mode & 0777, 0600);
    dp_store_close(s);
    /* A file someone opened up is narrowed again (with a warning in the log). */
    TH_EQ_INT(chmod(path, 0644), 0);
    s = NULL;
    TH_EQ_INT(dp_store_open(&s, path, NULL), DP_OK);
    TH_EQ_INT(stat(path, &st), 0);
    TH_EQ_INT(st.st_mode & 0777, 0600);
    dp_store_close(s);
}

static void refuses_other_files(void)
{
    char path[128], link[160];
    struct dp_store *s = NULL;
    struct dp_err err = {0};
    FILE *f;

    db_path(path, sizeof(path));
    f = fopen(path, "w");
    TH_CHECK(f != NULL);
    if (f) {
        fputs("this is not a database, just some text that is long enough to matter\n", f);
        fclose(f);
    }
    TH_EQ_INT(dp_store_open(&s, path, &err), DP_EIO);
    TH_CHECK(s == NULL);
    snprintf(link, sizeof(link), "%s.link", path);
    TH_EQ_INT(symlink(path, link), 0);
    TH_CHECK(dp_store_open(&s, link, &err) != DP_OK);
    TH_EQ_INT(dp_store_open(&s, test_dir, &err) != DP_OK, 1);
}

static void future_schema_refused(void)
{
    char path[128], sql[64];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_err err = {0};
    int future;

    if (!s)
        return;
    future = dp_store_schema_version(s) + 1;
    dp_store_close(s);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", future);
    raw_sql(path, sql);
    s = NULL;
    TH_EQ_INT(dp_store_open(&s, path, &err), DP_EINVAL);
    TH_CHECK(s == NULL);
    TH_EQ_STR(err.code, "store_too_new");
    TH_CHECK(strstr(err.msg, "newer controller") != NULL);
    TH_EQ_INT(raw_sql(path, "PRAGMA user_version"), future); /* left as it was */
}

/* ---- users and sessions ---- */

static void users(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_user u = {0}, v = {0};
    struct dp_err err = {0};
    unsigned long long kdf;
    long long n = 0;
    char wrong_msg[DP_ERR_MSG_MAX];

    if (!s)
        return;
    TH_EQ_INT(dp_store_user_create(s, "alice", PW, &u, &err), DP_OK);
    TH_CHECK(u.id > 0);
    TH_EQ_STR(u.username, "alice");
    TH_EQ_INT(dp_store_user_create(s, "alice", "another password", NULL, &err), DP_ECONFLICT);
    TH_EQ_STR(err.code, "user_exists");
    TH_EQ_INT(dp_store_user_create(s, "bob", "short", NULL, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "password_too_short");
    TH_EQ_INT(dp_store_user_create(s, "", PW, NULL, &err), DP_EINVAL);
    TH_EQ_INT(dp_store_user_create(s, "bad name", PW, NULL, &err), DP_EINVAL);
    TH_EQ_INT(dp_store_user_create(s, "a/b", PW, NULL, &err), DP_EINVAL);
    TH_EQ_INT(dp_store_user_create(s,
                                   "x123456789012345678901234567890123456789012345678901234567890"
                                   "1234",
                                   PW, NULL, &err),
              DP_EINVAL); /* 65 bytes */
    TH_EQ_INT(dp_store_user_create(s, "Bob_2.x-y", PW, NULL, &err), DP_OK);
    TH_EQ_INT(dp_store_user_count(s, &n, NULL), DP_OK);
    TH_EQ_INT(n, 2);

    TH_EQ_INT(dp_store_user_verify(s, "alice", PW, &v, &err), DP_OK);
    TH_EQ_INT(v.id, u.id);
    TH_EQ_STR(v.username, "alice");
    TH_EQ_INT(dp_store_user_verify(s, "alice", "wrong password", &v, &err), DP_EAUTH);
    snprintf(wrong_msg, sizeof(wrong_msg), "%s", err.msg);
    TH_EQ_STR(err.msg, "wrong username or password");
    kdf = dp_password_kdf_count();
    TH_EQ_INT(dp_store_user_verify(s, "mallory", PW, &v, &err), DP_EAUTH);
    TH_EQ_INT(dp_password_kdf_count(), kdf + 1); /* an unknown name costs one hash too */
    TH_EQ_STR(err.msg, wrong_msg);               /* and reads the same */
    TH_EQ_INT(dp_store_user_verify(s, "bad name", PW, &v, &err), DP_EAUTH);
    TH_EQ_INT(dp_password_kdf_count(), kdf + 2);
    TH_EQ_INT(dp_store_user_verify(s, "alice", NULL, &v, &err), DP_EAUTH);

    TH_EQ_INT(dp_store_user_get(s, u.id, &v, &err), DP_OK);
    TH_EQ_STR(v.username, "alice");
    TH_EQ_INT(dp_store_user_get(s, 999, &v, &err), DP_ENOTFOUND);
    dp_store_close(s);
}

static void sessions(void)
{
    char path[128], tok[65], tok2[65], upper[65];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_user u = {0};
    struct dp_err err = {0};
    int64_t exp = 0;
    long long uid;

    if (!s)
        return;
    uid = make_user(s, "alice");
    TH_EQ_INT(dp_store_session_create(s, uid, 3600, tok, &exp, &err), DP_OK);
    TH_EQ_INT(strlen(tok), 64);
    TH_EQ_INT(strspn(tok, "0123456789abcdef"), 64);
    TH_CHECK(exp >= (int64_t)time(NULL) + 3599 && exp <= (int64_t)time(NULL) + 3600);
    TH_EQ_INT(dp_store_session_user(s, tok, &u, &err), DP_OK);
    TH_EQ_INT(u.id, uid);
    TH_EQ_STR(u.username, "alice");
    /* Only the hash is stored. */
    TH_EQ_INT(raw_sql(path, "SELECT count(*) FROM sessions WHERE length(token_hash) = 64"), 1);
    {
        char sql[160];

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM sessions WHERE token_hash = '%s'", tok);
        TH_EQ_INT(raw_sql(path, sql), 0);
    }
    /* Shape and content are both checked. */
    snprintf(upper, sizeof(upper), "%s", tok);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    TH_EQ_INT(dp_store_session_user(s, upper, &u, &err), strcmp(upper, tok) ? DP_EAUTH : DP_OK);
    TH_EQ_INT(dp_store_session_user(s, "abc", &u, &err), DP_EAUTH);
    TH_EQ_INT(dp_store_session_user(s, NULL, &u, &err), DP_EAUTH);
    tok2[0] = '\0';
    memset(tok2, '0', 64);
    tok2[64] = '\0';
    TH_EQ_INT(dp_store_session_user(s, tok2, &u, &err), DP_EAUTH);
    TH_EQ_STR(err.msg, "invalid or expired session");

    /* Expired: refused and removed. */
    TH_EQ_INT(dp_store_session_create(s, uid, -1, tok2, &exp, &err), DP_OK);
    TH_EQ_INT(raw_sql(path, "SELECT count(*) FROM sessions"), 2);
    TH_EQ_INT(dp_store_session_user(s, tok2, &u, &err), DP_EAUTH);
    TH_EQ_INT(raw_sql(path, "SELECT count(*) FROM sessions"), 1);
    /* Expired rows also go when a session is made. */
    TH_EQ_INT(dp_store_session_create(s, uid, -5, tok2, &exp, &err), DP_OK);
    TH_EQ_INT(dp_store_session_create(s, uid, 60, tok2, &exp, &err), DP_OK);
    TH_EQ_INT(raw_sql(path, "SELECT count(*) FROM sessions"), 2);

    TH_EQ_INT(dp_store_session_delete(s, tok, &err), DP_OK);
    TH_EQ_INT(dp_store_session_user(s, tok, &u, &err), DP_EAUTH);
    TH_EQ_INT(dp_store_session_delete(s, tok, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_session_user(s, tok2, &u, &err), DP_OK);
    TH_EQ_INT(dp_store_session_create(s, 4242, 60, tok, &exp, &err), DP_ENOTFOUND);
    TH_EQ_STR(tok, "");
    dp_store_close(s);
}

/* ---- settings and servers ---- */

static void settings(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_err err = {0};
    char *v = (char *)"x";

    if (!s)
        return;
    TH_EQ_INT(dp_store_setting_get(s, "do_token", &v, &err), DP_OK);
    TH_CHECK(v == NULL);
    TH_EQ_INT(dp_store_setting_set(s, "do_token", "dop_v1_abc", &err), DP_OK);
    TH_EQ_INT(dp_store_setting_get(s, "do_token", &v, &err), DP_OK);
    TH_EQ_STR(v, "dop_v1_abc");
    free(v);
    TH_EQ_INT(dp_store_setting_set(s, "do_token", "", &err), DP_OK);
    TH_EQ_INT(dp_store_setting_get(s, "do_token", &v, &err), DP_OK);
    TH_EQ_STR(v, "");
    free(v);
    TH_EQ_INT(dp_store_setting_set(s, "do_token", NULL, &err), DP_OK);
    TH_EQ_INT(dp_store_setting_get(s, "do_token", &v, &err), DP_OK);
    TH_CHECK(v == NULL);
    TH_EQ_INT(dp_store_setting_set(s, "do_token", NULL, &err), DP_OK); /* deleting twice is fine */
    TH_EQ_INT(dp_store_setting_set(s, "", "x", &err), DP_EINVAL);
    TH_EQ_INT(dp_store_setting_get(s, NULL, &v, &err), DP_EINVAL);
    dp_store_close(s);
}

static struct dp_server server(long long droplet_id, const char *name, const char *ip,
                               const char *status)
{
    struct dp_server v = {0};

    v.droplet_id = droplet_id;
    snprintf(v.name, sizeof(v.name), "%s", name);
    snprintf(v.ip, sizeof(v.ip), "%s", ip);
    snprintf(v.region, sizeof(v.region), "fra1");
    snprintf(v.size, sizeof(v.size), "s-1vcpu-1gb");
    v.image_id = 555;
    snprintf(v.image_name, sizeof(v.image_name), "dp-base-1");
    v.owner_id = 1;
    snprintf(v.tls_pin, sizeof(v.tls_pin), "sha256//abc=");
    snprintf(v.status, sizeof(v.status), "%s", status);
    return v;
}

static void servers_put_get_update(struct dp_store *s)
{
    struct dp_server a = server(101, "web-1", "", "new"), got = {0};
    struct dp_err err = {0};
    int64_t created;

    a.created_at = 1700000000;
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    TH_EQ_INT(dp_store_server_by_id(s, 101, &got, &err), DP_OK);
    TH_EQ_STR(got.name, "web-1");
    TH_EQ_STR(got.status, "new");
    TH_EQ_INT(got.created_at, 1700000000);
    created = got.created_at;
    a = server(101, "web-1", "10.0.0.1", "active"); /* an update by droplet id */
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    TH_EQ_INT(dp_store_server_by_ip(s, "10.0.0.1", &got, &err), DP_OK);
    TH_EQ_INT(got.droplet_id, 101);
    TH_EQ_STR(got.status, "active");
    TH_EQ_STR(got.tls_pin, "sha256//abc=");
    TH_EQ_INT(got.image_id, 555);
    TH_EQ_INT(got.created_at, created); /* kept from the first put */
    /* Not on DigitalOcean: keyed by ip. */
    a = server(0, "box", "192.168.1.5", "active");
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    snprintf(a.name, sizeof(a.name), "box-renamed");
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    TH_EQ_INT(dp_store_server_by_ip(s, "192.168.1.5", &got, &err), DP_OK);
    TH_EQ_STR(got.name, "box-renamed");
    TH_EQ_INT(got.droplet_id, 0);
    a = server(0, "nowhere", "", "new");
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_EINVAL);
    a = server(7, "odd", "", "Exploded!");
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_EINVAL);
    a = server(7, "odd", "", "archive"); /* DigitalOcean's own statuses are kept */
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    TH_EQ_INT(dp_store_server_by_id(s, 7, &got, &err), DP_OK);
    TH_EQ_STR(got.status, "archive");
    TH_EQ_INT(dp_store_server_delete(s, 7, &err), DP_OK);
    TH_EQ_INT(dp_store_server_by_ip(s, "10.9.9.9", &got, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_server_by_id(s, 999, &got, &err), DP_ENOTFOUND);
}

static void servers_list_delete(struct dp_store *s)
{
    struct dp_server a = server(102, "web-2", "10.0.0.2", "active"), got = {0};
    struct dp_err err = {0};
    json_t *list = NULL, *o;

    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    TH_EQ_INT(dp_store_servers(s, &list, &err), DP_OK);
    TH_EQ_INT(json_array_size(list), 3);
    o = json_array_get(list, 0);
    TH_EQ_INT(json_integer_value(json_object_get(o, "droplet_id")), 101);
    TH_CHECK(json_is_integer(json_object_get(o, "image_id")));
    TH_CHECK(json_is_integer(json_object_get(o, "owner_id")));
    TH_CHECK(json_is_integer(json_object_get(o, "created_at")));
    TH_EQ_STR(json_string_value(json_object_get(o, "ip")), "10.0.0.1");
    TH_EQ_STR(json_string_value(json_object_get(o, "tls_pin")), "sha256//abc=");
    TH_EQ_STR(json_string_value(json_object_get(o, "image_name")), "dp-base-1");
    TH_EQ_STR(json_string_value(json_object_get(o, "region")), "fra1");
    TH_EQ_STR(json_string_value(json_object_get(o, "size")), "s-1vcpu-1gb");
    TH_EQ_STR(json_string_value(json_object_get(o, "name")), "web-1");
    TH_EQ_STR(json_string_value(json_object_get(o, "status")), "active");
    TH_EQ_INT(json_object_size(o), 11);
    json_decref(list);

    TH_EQ_INT(dp_store_server_delete(s, 101, &err), DP_OK);
    TH_EQ_INT(dp_store_servers(s, &list, &err), DP_OK);
    TH_EQ_INT(json_array_size(list), 2);
    json_decref(list);
    TH_EQ_INT(dp_store_server_by_id(s, 101, &got, &err), DP_OK);
    TH_EQ_STR(got.status, "deleted");
    TH_EQ_INT(dp_store_server_by_ip(s, "10.0.0.1", &got, &err), DP_ENOTFOUND);
    /* DigitalOcean hands the address to a new droplet: the new one is found. */
    a = server(103, "web-3", "10.0.0.1", "active");
    TH_EQ_INT(dp_store_server_put(s, &a, &err), DP_OK);
    TH_EQ_INT(dp_store_server_by_ip(s, "10.0.0.1", &got, &err), DP_OK);
    TH_EQ_INT(got.droplet_id, 103);
    TH_EQ_INT(dp_store_server_delete(s, 999, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_server_delete(s, 0, &err), DP_ENOTFOUND);
}

static void servers(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));

    if (!s)
        return;
    servers_put_get_update(s);
    servers_list_delete(s);
    dp_store_close(s);
}

/* ---- deployments ---- */

static void deploy_finish_frees(struct dp_store *s, const struct dp_deployment *d,
                                const json_t *summary);

static void deploy_lock(void)
{
    char path[128], holder[160];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_deployment d = {0}, d2 = {0};
    struct dp_err err = {0};
    json_t *summary = json_pack("{s:s, s:i}", "name", "web", "port", 8080);
    long long alice;

    if (!s)
        return;
    alice = make_user(s, "alice");
    TH_EQ_INT(
        dp_store_deploy_begin(s, "web", "image", alice, summary, &d, holder, sizeof(holder), &err),
        DP_OK);
    TH_EQ_INT(d.version, 1);
    TH_EQ_STR(d.status, "running");
    TH_EQ_STR(d.app, "web");
    TH_CHECK(d.summary != NULL && json_equal(d.summary, summary));
    TH_EQ_INT(
        dp_store_deploy_begin(s, "web", "git", alice, NULL, &d2, holder, sizeof(holder), &err),
        DP_ECONFLICT);
    TH_EQ_STR(err.code, "deploy_in_progress");
    fprintf(stderr, "     holder: %s\n", holder);
    {
        char want[64];

        snprintf(want, sizeof(want), "deployment %lld by alice since 20", d.id);
        TH_EQ_INT(strncmp(holder, want, strlen(want)), 0);
        TH_EQ_INT(holder[strlen(holder) - 1], 'Z');
    }
    /* Another app is not held up. */
    TH_EQ_INT(dp_store_deploy_begin(s, "api", "code", alice, NULL, &d2, NULL, 0, &err), DP_OK);
    TH_EQ_INT(d2.version, 1);
    dp_deployment_clear(&d2);
    deploy_finish_frees(s, &d, summary);
    dp_deployment_clear(&d);
    json_decref(summary);
    dp_store_close(s);
}

/* Finishing releases the lock: the next deploy of the app gets version 2. */
static void deploy_finish_frees(struct dp_store *s, const struct dp_deployment *d,
                                const json_t *summary)
{
    char holder[160];
    struct dp_deployment d2 = {0}, g = {0};
    struct dp_err err = {0};

    TH_EQ_INT(dp_store_deploy_finish(s, d->id, "succeeded",
                                     json_pack("[{s:s, s:b}]", "ip", "10.0.0.1", "success", 1),
                                     &err),
              DP_OK);
    TH_EQ_INT(dp_store_deploy_finish(s, d->id, "failed", NULL, &err), DP_ECONFLICT);
    TH_EQ_INT(dp_store_deploy_finish(s, 9999, "failed", NULL, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_deploy_finish(s, d->id, "running", json_object(), &err), DP_EINVAL);
    TH_EQ_INT(
        dp_store_deploy_begin(s, "web", "git", d->user_id, NULL, &d2, holder, sizeof(holder), &err),
        DP_OK);
    TH_EQ_INT(d2.version, 2);
    TH_EQ_STR(holder, "");

    TH_EQ_INT(dp_store_deploy_get(s, d->id, &g, &err), DP_OK);
    TH_EQ_STR(g.status, "succeeded");
    TH_EQ_STR(g.source, "image");
    TH_EQ_INT(g.user_id, d->user_id);
    TH_CHECK(g.finished_at >= g.created_at && g.created_at > 0);
    TH_CHECK(json_equal(g.summary, summary));
    TH_CHECK(json_is_array(g.result) && json_array_size(g.result) == 1);
    dp_deployment_clear(&g);
    dp_deployment_clear(&g); /* twice is fine */
    TH_EQ_INT(dp_store_deploy_get(s, 9999, &g, &err), DP_ENOTFOUND);

    TH_EQ_INT(dp_store_deploy_begin(s, "bad name", "git", 1, NULL, &d2, NULL, 0, &err), DP_EINVAL);
    TH_EQ_INT(dp_store_deploy_begin(s, "x", "ftp", 1, NULL, &d2, NULL, 0, &err), DP_EINVAL);
    TH_EQ_INT(dp_store_deploy_begin(s, "x", "git", 4242, NULL, &d2, NULL, 0, &err), DP_ENOTFOUND);
    dp_deployment_clear(&d2);
}

#define RACERS 8

struct race_arg {
    struct dp_store *s;
    long long user_id;
    dp_rc rc;
    long long version, id;
};

static void *race_begin(void *p)
{
    struct race_arg *a = p;
    struct dp_deployment d = {0};

    a->rc = dp_store_deploy_begin(a->s, "raced", "image", a->user_id, NULL, &d, NULL, 0, NULL);
    a->version = d.version;
    a->id = d.id;
    return NULL;
}

/* Many threads start the same app at once: exactly one gets it. */
static void deploy_begin_race(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));
    struct race_arg args[RACERS];
    pthread_t th[RACERS];
    int won = 0, lost = 0;
    long long uid;

    if (!s)
        return;
    uid = make_user(s, "alice");
    for (int round = 1; round <= 3; round++) {
        won = lost = 0;
        for (int i = 0; i < RACERS; i++) {
            args[i] = (struct race_arg){.s = s, .user_id = uid};
            TH_EQ_INT(pthread_create(&th[i], NULL, race_begin, &args[i]), 0);
        }
        for (int i = 0; i < RACERS; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < RACERS; i++) { /* all are done before the lock is released */
            won += args[i].rc == DP_OK;
            lost += args[i].rc == DP_ECONFLICT;
            if (args[i].rc == DP_OK) {
                TH_EQ_INT(args[i].version, round);
                TH_EQ_INT(dp_store_deploy_finish(s, args[i].id, "failed", NULL, NULL), DP_OK);
            }
        }
        TH_EQ_INT(won, 1);
        TH_EQ_INT(lost, RACERS - 1);
    }
    dp_store_close(s);
}

static void deploy_list_latest_delete(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_deployment d = {0};
    struct dp_err err = {0};
    json_t *list = NULL, *o, *ev = NULL;
    long long alice, ids[4], seq;
    static const char *const ends[] = {"succeeded", "succeeded", "failed", NULL};

    if (!s)
        return;
    alice = make_user(s, "alice");
    for (int i = 0; i < 4; i++) {
        TH_EQ_INT(dp_store_deploy_begin(s, "web", "image", alice, NULL, &d, NULL, 0, &err), DP_OK);
        ids[i] = d.id;
        if (ends[i])
            TH_EQ_INT(dp_store_deploy_finish(s, d.id, ends[i], NULL, &err), DP_OK);
    }
    TH_EQ_INT(dp_store_deploy_begin(s, "api", "code", alice, NULL, &d, NULL, 0, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_list(s, NULL, 500, &list, &err), DP_OK);
    TH_EQ_INT(json_array_size(list), 5);
    o = json_array_get(list, 0); /* newest first */
    TH_EQ_STR(json_string_value(json_object_get(o, "app")), "api");
    TH_EQ_STR(json_string_value(json_object_get(o, "user")), "alice");
    TH_CHECK(json_is_null(json_object_get(o, "finished_at")));
    TH_EQ_INT(json_object_size(o), 8);
    o = json_array_get(list, 2);
    TH_EQ_INT(json_integer_value(json_object_get(o, "id")), ids[2]);
    TH_EQ_INT(json_integer_value(json_object_get(o, "version")), 3);
    TH_EQ_STR(json_string_value(json_object_get(o, "status")), "failed");
    TH_EQ_STR(json_string_value(json_object_get(o, "source")), "image");
    TH_EQ_INT(strlen(json_string_value(json_object_get(o, "created_at"))), 20);
    TH_EQ_INT(strlen(json_string_value(json_object_get(o, "finished_at"))), 20);
    json_decref(list);
    TH_EQ_INT(dp_store_deploy_list(s, "web", 2, &list, &err), DP_OK);
    TH_EQ_INT(json_array_size(list), 2);
    TH_EQ_INT(json_integer_value(json_object_get(json_array_get(list, 0), "id")), ids[3]);
    json_decref(list);
    TH_EQ_INT(dp_store_deploy_list(s, NULL, 0, &list, &err), DP_EINVAL);
    TH_EQ_INT(dp_store_deploy_list(s, NULL, 501, &list, &err), DP_EINVAL);

    TH_EQ_INT(dp_store_deploy_latest_ok(s, "web", &d, &err), DP_OK);
    TH_EQ_INT(d.id, ids[1]);
    TH_EQ_INT(d.version, 2);
    TH_EQ_INT(dp_store_deploy_latest_ok(s, "api", &d, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_deploy_latest_ok(s, "nope", &d, &err), DP_ENOTFOUND);

    TH_EQ_INT(dp_store_deploy_delete(s, ids[3], &err), DP_ECONFLICT); /* still running */
    TH_EQ_INT(dp_store_event_append(s, ids[2], "{\"type\":\"log\"}", &seq, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_delete(s, ids[2], &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_get(s, ids[2], &d, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_deploy_delete(s, ids[2], &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_events(s, ids[2], 0, 100, &ev, &err), DP_OK);
    TH_EQ_INT(json_array_size(ev), 0);
    json_decref(ev);
    /* Deleting the newest deployment of an app never frees its version number. */
    TH_EQ_INT(dp_store_deploy_finish(s, ids[3], "failed", NULL, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_get(s, ids[3], &d, &err), DP_OK);
    {
        long long newest = d.version;

        dp_deployment_clear(&d);
        TH_EQ_INT(dp_store_deploy_delete(s, ids[3], &err), DP_OK);
        TH_EQ_INT(dp_store_deploy_begin(s, "web", "image", alice, NULL, &d, NULL, 0, &err), DP_OK);
        TH_EQ_INT(d.version, newest + 1);
        dp_deployment_clear(&d);
    }
    {
        char sql[96];

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE deployment_id = %lld",
                 ids[2]);
        TH_EQ_INT(raw_sql(path, sql), 0);
    }
    dp_store_close(s);
}

static void interrupt_all(void)
{
    char path[128];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_deployment a = {0}, b = {0}, c = {0}, g = {0};
    struct dp_err err = {0};
    json_t *ev = NULL, *data;
    long long alice, n = -1, seq = 0;

    if (!s)
        return;
    alice = make_user(s, "alice");
    TH_EQ_INT(dp_store_deploy_begin(s, "web", "image", alice, NULL, &a, NULL, 0, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_begin(s, "api", "git", alice, NULL, &b, NULL, 0, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_begin(s, "old", "git", alice, NULL, &c, NULL, 0, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_finish(s, c.id, "succeeded", NULL, &err), DP_OK);
    TH_EQ_INT(dp_store_event_append(s, a.id, "{\"type\":\"log\",\"message\":\"one\"}", &seq, &err),
              DP_OK);
    TH_EQ_INT(dp_store_event_append(s, a.id, "{\"type\":\"log\",\"message\":\"two\"}", &seq, &err),
              DP_OK);
    /* The controller dies here; a new one opens the file. */
    dp_store_close(s);
    s = NULL;
    TH_EQ_INT(dp_store_open(&s, path, &err), DP_OK);
    if (!s)
        return;
    TH_EQ_INT(dp_store_deploy_interrupt_all(s, &n, &err), DP_OK);
    TH_EQ_INT(n, 2);
    TH_EQ_INT(dp_store_deploy_get(s, a.id, &g, &err), DP_OK);
    TH_EQ_STR(g.status, "interrupted");
    TH_CHECK(g.finished_at > 0);
    dp_deployment_clear(&g);
    TH_EQ_INT(dp_store_deploy_get(s, c.id, &g, &err), DP_OK);
    TH_EQ_STR(g.status, "succeeded"); /* finished ones are left alone */
    TH_EQ_INT(dp_store_events(s, a.id, 0, 100, &ev, &err), DP_OK);
    TH_EQ_INT(json_array_size(ev), 3);
    TH_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 2), "seq")), 3);
    data = json_loads(json_string_value(json_object_get(json_array_get(ev, 2), "data")), 0, NULL);
    TH_EQ_STR(json_string_value(json_object_get(data, "type")), "error");
    TH_EQ_STR(json_string_value(json_object_get(data, "error")), "interrupted");
    TH_EQ_STR(json_string_value(json_object_get(data, "detail")),
              "the controller stopped while this deployment ran");
    json_decref(data);
    json_decref(ev);
    TH_EQ_INT(dp_store_events(s, b.id, 0, 100, &ev, &err), DP_OK);
    TH_EQ_INT(json_array_size(ev), 1);
    TH_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 0), "seq")), 1);
    json_decref(ev);
    /* The locks are free: the next deploys of both apps start, with the next versions. */
    TH_EQ_INT(dp_store_deploy_begin(s, "web", "image", alice, NULL, &a, NULL, 0, &err), DP_OK);
    TH_EQ_INT(a.version, 2);
    TH_EQ_INT(dp_store_deploy_begin(s, "api", "git", alice, NULL, &b, NULL, 0, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_finish(s, b.id, "canceled", NULL, &err), DP_OK);
    TH_EQ_INT(dp_store_deploy_interrupt_all(s, &n, &err), DP_OK);
    TH_EQ_INT(n, 1);
    TH_EQ_INT(dp_store_deploy_interrupt_all(s, &n, &err), DP_OK);
    TH_EQ_INT(n, 0);
    dp_store_close(s);
}

/* ---- events ---- */

static void events_order_and_paging(void)
{
    char path[128], text[64];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_deployment d = {0};
    struct dp_err err = {0};
    json_t *ev = NULL;
    long long seq = 0;
    char *big;

    if (!s)
        return;
    TH_EQ_INT(
        dp_store_deploy_begin(s, "web", "image", make_user(s, "alice"), NULL, &d, NULL, 0, &err),
        DP_OK);
    for (int i = 1; i <= 10; i++) {
        snprintf(text, sizeof(text), "{\"type\":\"log\",\"message\":\"line %d\"}", i);
        TH_EQ_INT(dp_store_event_append(s, d.id, text, &seq, &err), DP_OK);
        TH_EQ_INT(seq, i);
    }
    TH_EQ_INT(dp_store_events(s, d.id, 0, 100, &ev, &err), DP_OK);
    TH_EQ_INT(json_array_size(ev), 10);
    for (size_t i = 0; i < json_array_size(ev); i++) {
        json_t *o = json_array_get(ev, i);

        snprintf(text, sizeof(text), "{\"type\":\"log\",\"message\":\"line %zu\"}", i + 1);
        TH_EQ_INT(json_integer_value(json_object_get(o, "seq")), (long long)i + 1);
        TH_EQ_STR(json_string_value(json_object_get(o, "data")), text);
    }
    json_decref(ev);
    TH_EQ_INT(dp_store_events(s, d.id, 7, 100, &ev, &err), DP_OK); /* Last-Event-ID: 7 */
    TH_EQ_INT(json_array_size(ev), 3);
    TH_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 0), "seq")), 8);
    json_decref(ev);
    TH_EQ_INT(dp_store_events(s, d.id, 2, 3, &ev, &err), DP_OK);
    TH_EQ_INT(json_array_size(ev), 3);
    TH_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 2), "seq")), 5);
    json_decref(ev);
    TH_EQ_INT(dp_store_events(s, d.id, 10, 100, &ev, &err), DP_OK);
    TH_EQ_INT(json_array_size(ev), 0);
    json_decref(ev);
    TH_EQ_INT(dp_store_events(s, d.id, 0, 0, &ev, &err), DP_EINVAL);

    TH_EQ_INT(dp_store_event_append(s, 9999, "{}", &seq, &err), DP_ENOTFOUND);
    TH_EQ_INT(dp_store_event_append(s, d.id, "", &seq, &err), DP_EINVAL);
    big = malloc(DP_EVENT_MAX + 2);
    if (big) {
        memset(big, 'x', DP_EVENT_MAX + 1);
        big[DP_EVENT_MAX + 1] = '\0';
        TH_EQ_INT(dp_store_event_append(s, d.id, big, &seq, &err), DP_ETOOBIG);
        free(big);
    }
    TH_EQ_INT(dp_store_event_append(s, d.id, "{}", &seq, &err), DP_OK);
    TH_EQ_INT(seq, 11); /* refusals took no number */
    dp_store_deploy_finish(s, d.id, "succeeded", NULL, NULL);
    dp_deployment_clear(&d);
    dp_store_close(s);
}

#define CONC_THREADS 8
#define CONC_EVENTS  250

struct conc_arg {
    struct dp_store *s;
    long long deployment_id;
    int failures;
};

static void *conc_append(void *p)
{
    struct conc_arg *a = p;
    char text[64];
    long long seq;

    for (int i = 0; i < CONC_EVENTS; i++) {
        snprintf(text, sizeof(text), "{\"type\":\"log\",\"n\":%d}", i);
        if (dp_store_event_append(a->s, a->deployment_id, text, &seq, NULL) != DP_OK || seq < 1)
            a->failures++;
    }
    return NULL;
}

/* Every seq 1..n present exactly once, in order. */
static void check_seqs(struct dp_store *s, long long deployment_id, int n)
{
    json_t *ev = NULL;

    TH_EQ_INT(dp_store_events(s, deployment_id, 0, 10000, &ev, NULL), DP_OK);
    TH_EQ_INT(json_array_size(ev), n);
    for (size_t i = 0; i < json_array_size(ev); i++) {
        long long seq = json_integer_value(json_object_get(json_array_get(ev, i), "seq"));

        if (seq != (long long)i + 1) {
            TH_EQ_INT(seq, (long long)i + 1);
            break;
        }
    }
    json_decref(ev);
}

static void run_threads(struct conc_arg *args)
{
    pthread_t th[CONC_THREADS];

    for (int i = 0; i < CONC_THREADS; i++)
        TH_EQ_INT(pthread_create(&th[i], NULL, conc_append, &args[i]), 0);
    for (int i = 0; i < CONC_THREADS; i++) {
        pthread_join(th[i], NULL);
        TH_EQ_INT(args[i].failures, 0);
    }
}

static void events_concurrent(void)
{
    char path[128], app[16];
    struct dp_store *s = open_new(path, sizeof(path));
    struct conc_arg args[CONC_THREADS];
    struct dp_deployment d = {0};
    long long alice;

    if (!s)
        return;
    alice = make_user(s, "alice");
    /* 8 threads, 8 deployments. */
    for (int i = 0; i < CONC_THREADS; i++) {
        snprintf(app, sizeof(app), "app%d", i);
        TH_EQ_INT(dp_store_deploy_begin(s, app, "image", alice, NULL, &d, NULL, 0, NULL), DP_OK);
        args[i] = (struct conc_arg){.s = s, .deployment_id = d.id};
    }
    run_threads(args);
    for (int i = 0; i < CONC_THREADS; i++)
        check_seqs(s, args[i].deployment_id, CONC_EVENTS);
    /* 8 threads, one deployment. */
    TH_EQ_INT(dp_store_deploy_begin(s, "shared", "image", alice, NULL, &d, NULL, 0, NULL), DP_OK);
    for (int i = 0; i < CONC_THREADS; i++)
        args[i] = (struct conc_arg){.s = s, .deployment_id = d.id};
    run_threads(args);
    check_seqs(s, d.id, CONC_THREADS * CONC_EVENTS);
    dp_store_close(s);
}

/* Appends n events spread over servers deployments; returns the milliseconds taken. */
static double time_appends(struct dp_store *s, const long long *ids, int servers, int n)
{
    char text[160];
    long long seq;
    double t0 = now_ms();

    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"log\",\"server\":\"10.0.%d.%d\",\"message\":\"step %d of the "
                 "build: pulling layer sha256:0123456789abcdef\"}",
                 i % servers / 256, i % servers % 256, i);
        if (dp_store_event_append(s, ids[i % servers], text, &seq, NULL) != DP_OK) {
            TH_CHECK(!"append failed");
            break;
        }
    }
    return now_ms() - t0;
}

static void events_fast(void)
{
    char path[128], app[16];
    struct dp_store *s = open_new(path, sizeof(path));
    struct dp_deployment d = {0};
    long long ids[100], alice;
    double ms;

    if (!s)
        return;
    alice = make_user(s, "alice");
    for (int i = 0; i < 100; i++) {
        snprintf(app, sizeof(app), "app%d", i);
        TH_EQ_INT(dp_store_deploy_begin(s, app, "image", alice, NULL, &d, NULL, 0, NULL), DP_OK);
        ids[i] = d.id;
    }
    ms = time_appends(s, ids, 100, 1000);
    fprintf(stderr, "     1000 events over 100 deployments: %.1f ms (%.1f us/event)\n", ms, ms);
    TH_CHECK(ms < 1000.0);
    ms = time_appends(s, ids, 100, 20000);
    fprintf(stderr, "     20000 more events: %.1f ms (%.1f us/event)\n", ms, ms / 20.0);
    check_seqs(s, ids[0], 210);
    dp_store_close(s);
}

/* ---- durability ---- */

static void survives_kill_9(void)
{
    char path[128];
    struct dp_store *s = NULL;
    json_t *ev = NULL;
    long long seq = 0;
    int status = 0;
    pid_t pid;

    db_path(path, sizeof(path));
    pid = fork();
    if (pid == 0) {
        struct dp_deployment d = {0};
        struct dp_user u = {0};

        if (dp_store_open(&s, path, NULL) || dp_store_user_create(s, "alice", PW, &u, NULL) ||
            dp_store_deploy_begin(s, "web", "image", u.id, NULL, &d, NULL, 0, NULL))
            _exit(2);
        for (int i = 0; i < 200; i++)
            if (dp_store_event_append(s, d.id, "{\"type\":\"log\"}", &seq, NULL))
                _exit(3);
        raise(SIGKILL); /* no close, no checkpoint */
        _exit(4);
    }
    TH_CHECK(pid > 0);
    waitpid(pid, &status, 0);
    TH_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    TH_EQ_INT(dp_store_open(&s, path, NULL), DP_OK);
    if (!s)
        return;
    TH_EQ_INT(dp_store_events(s, 1, 0, 1000, &ev, NULL), DP_OK);
    TH_EQ_INT(json_array_size(ev), 200);
    json_decref(ev);
    TH_EQ_INT(dp_store_deploy_interrupt_all(s, &seq, NULL), DP_OK);
    TH_EQ_INT(seq, 1);
    dp_store_close(s);
}

static void cleanup_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", test_dir);
}

int main(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/dp-test-store-XXXXXX");
    if (!mkdtemp(test_dir)) {
        perror("mkdtemp");
        return 1;
    }
    TH_RUN(migrates_and_reopens);
    TH_RUN(file_mode_is_0600);
    TH_RUN(refuses_other_files);
    TH_RUN(future_schema_refused);
    TH_RUN(users);
    TH_RUN(sessions);
    TH_RUN(settings);
    TH_RUN(servers);
    TH_RUN(deploy_lock);
    TH_RUN(deploy_begin_race);
    TH_RUN(deploy_list_latest_delete);
    TH_RUN(interrupt_all);
    TH_RUN(events_order_and_paging);
    TH_RUN(events_concurrent);
    TH_RUN(events_fast);
    TH_RUN(survives_kill_9);
    cleanup_dir();
    TH_EXIT();
}
