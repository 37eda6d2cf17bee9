/* The store's users and sessions. Password hashing (about 0.1 s) always runs outside the
 * store's mutex so logins never stall other threads' store calls. */
#include "dp_store_int.h"

#include "dp_password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define USERNAME_MAX    64                       /* bytes; struct dp_user's username holds it */
#define TOKEN_BYTES     32                       /* random bytes in a session token */
#define TOKEN_HEX       64                       /* the token as hex: 2 * TOKEN_BYTES */
#define SESSION_TTL_MAX (10LL * 366 * 24 * 3600) /* seconds */
#define AUTH_FAILED     "wrong username or password"
#define SESSION_INVALID "invalid or expired session"

static bool user_name_ok(const char *name)
{
    size_t n = name ? strnlen(name, USERNAME_MAX + 1) : 0;

    if (n == 0 || n > USERNAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static void user_from_row(struct dp_user *out, sqlite3_stmt *st, int id_col, int name_col)
{
    out->id = sqlite3_column_int64(st, id_col);
    dp_store_col_copy(out->username, sizeof(out->username), st, name_col);
}

/* ---- users ---- */

static dp_rc user_insert_locked(struct dp_store *s, const char *username, const char *hash,
                                struct dp_user *out, struct dp_err *err)
{
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    rc =
        dp_store_stmt(&st, s, DP_ST_USER_INSERT,
                      "INSERT INTO users (username, pw_hash, created_at) VALUES (?1, ?2, ?3)", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, dp_store_now());
    r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT_UNIQUE)
        rc = dp_err_setc(err, DP_ECONFLICT, "user_exists", "user %s already exists", username);
    else if (r != SQLITE_DONE)
        rc = dp_store_fail(s, r, "store: creating a user", err);
    dp_store_done(st);
    if (rc == DP_OK && out) {
        out->id = sqlite3_last_insert_rowid(s->db);
        snprintf(out->username, sizeof(out->username), "%s", username);
    }
    return rc;
}

dp_rc dp_store_user_create(struct dp_store *s, const char *username, const char *password,
                           struct dp_user *out, struct dp_err *err)
{
    char hash[DP_PASSWORD_HASH_MAX];
    dp_rc rc;

    if (!user_name_ok(username))
        return dp_err_setc(err, DP_EINVAL, "bad_username",
                           "username must be 1 to %d of A-Z a-z 0-9 _ . -", USERNAME_MAX);
    rc = dp_password_hash(hash, password, err);
    if (rc)
        return rc;
    dp_store_lock(s);
    rc = user_insert_locked(s, username, hash, out, err);
    dp_store_unlock(s);
    return rc;
}

dp_rc dp_store_user_count(struct dp_store *s, long long *out, struct dp_err *err)
{
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    *out = 0;
    dp_store_lock(s);
    rc = dp_store_stmt(&st, s, DP_ST_USER_COUNT, "SELECT count(*) FROM users", err);
    if (rc == DP_OK) {
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            *out = sqlite3_column_int64(st, 0);
        else
            rc = dp_store_fail(s, r, "store: counting users", err);
        dp_store_done(st);
    }
    dp_store_unlock(s);
    return rc;
}

/* The user's id, name and stored hash; DP_ENOTFOUND when no such user. */
static dp_rc user_hash_locked(struct dp_store *s, const char *username, struct dp_user *u,
                              char hash[DP_PASSWORD_HASH_MAX], struct dp_err *err)
{
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_USER_BY_NAME,
                       "SELECT id, username, pw_hash FROM users WHERE username = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        user_from_row(u, st, 0, 1);
        dp_store_col_copy(hash, DP_PASSWORD_HASH_MAX, st, 2);
    } else if (r == SQLITE_DONE) {
        rc = DP_ENOTFOUND;
    } else {
        rc = dp_store_fail(s, r, "store: looking up a user", err);
    }
    dp_store_done(st);
    return rc;
}

dp_rc dp_store_user_verify(struct dp_store *s, const char *username, const char *password,
                           struct dp_user *out, struct dp_err *err)
{
    char hash[DP_PASSWORD_HASH_MAX] = "";
    struct dp_user u = {0};
    dp_rc rc = DP_ENOTFOUND;

    if (user_name_ok(username) && password &&
        strnlen(password, DP_PASSWORD_MAX + 1) <= DP_PASSWORD_MAX) {
        dp_store_lock(s);
        rc = user_hash_locked(s, username, &u, hash, err);
        dp_store_unlock(s);
        if (rc != DP_OK && rc != DP_ENOTFOUND)
            return rc;
    }
    if (rc == DP_ENOTFOUND) {
        /* One hash for an unknown name too: the time taken does not tell names apart. */
        dp_password_verify_dummy(password);
        return dp_err_set(err, DP_EAUTH, AUTH_FAILED);
    }
    rc = dp_password_verify(hash, password, NULL);
    if (rc == DP_EINVAL)
        return dp_err_set(err, DP_EIO, "stored password hash of user %s is unreadable", username);
    if (rc)
        return dp_err_set(err, DP_EAUTH, AUTH_FAILED);
    if (out)
        *out = u;
    return DP_OK;
}

dp_rc dp_store_user_get(struct dp_store *s, long long id, struct dp_user *out, struct dp_err *err)
{
    sqlite3_stmt *st;
    int r;
    dp_rc rc;

    dp_store_lock(s);
    rc = dp_store_stmt(&st, s, DP_ST_USER_BY_ID, "SELECT id, username FROM users WHERE id = ?1",
                       err);
    if (rc == DP_OK) {
        sqlite3_bind_int64(st, 1, id);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            user_from_row(out, st, 0, 1);
        else if (r == SQLITE_DONE)
            rc = dp_err_set(err, DP_ENOTFOUND, "no user with id %lld", id);
        else
            rc = dp_store_fail(s, r, "store: reading a user", err);
        dp_store_done(st);
    }
    dp_store_unlock(s);
    return rc;
}

/* ---- sessions ---- */

static void hex_encode(char *out, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* The stored form of a token: hex(SHA-256(token text)). */
static dp_rc token_hash(char out[65], const char *token, size_t len, struct dp_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return dp_err_set(err, DP_EINTERNAL, "SHA-256 failed");
    hex_encode(out, md, 32);
    return DP_OK;
}

static bool token_ok(const char *token)
{
    size_t n = token ? strnlen(token, TOKEN_HEX + 1) : 0;

    if (n != TOKEN_HEX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return false;
    }
    return true;
}

static dp_rc session_purge_locked(struct dp_store *s, int64_t now, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_SESSION_PURGE, "DELETE FROM sessions WHERE expires_at <= ?1",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    return dp_store_exec(s, st, "store: removing expired sessions", err);
}

static dp_rc session_insert_locked(struct dp_store *s, const char *hash, long long user_id,
                                   int64_t now, int64_t expires_at, struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    /* Expired sessions go whenever a new one is made, so the table never grows unbounded. */
    rc = session_purge_locked(s, now, err);
    if (rc == DP_OK)
        rc = dp_store_stmt(&st, s, DP_ST_SESSION_INSERT,
                           "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                           "VALUES (?1, ?2, ?3, ?4)",
                           err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires_at);
    rc = dp_store_exec(s, st, "store: creating a session", err);
    if (rc == DP_ENOTFOUND)
        rc = dp_err_set(err, DP_ENOTFOUND, "no user with id %lld", user_id);
    return rc;
}

dp_rc dp_store_session_create(struct dp_store *s, long long user_id, int64_t ttl_s,
                              char token_out[65], int64_t *expires_at, struct dp_err *err)
{
    unsigned char raw[TOKEN_BYTES];
    char hash[65];
    int64_t now = dp_store_now();
    dp_rc rc;

    token_out[0] = '\0';
    *expires_at = 0;
    if (ttl_s > SESSION_TTL_MAX || ttl_s < -SESSION_TTL_MAX)
        return dp_err_set(err, DP_EINVAL, "session lifetime of %lld s is out of range",
                          (long long)ttl_s);
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return dp_err_set(err, DP_EINTERNAL, "no random bytes for a session token");
    hex_encode(token_out, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    rc = token_hash(hash, token_out, TOKEN_HEX, err);
    if (rc == DP_OK) {
        dp_store_lock(s);
        rc = session_insert_locked(s, hash, user_id, now, now + ttl_s, err);
        dp_store_unlock(s);
    }
    if (rc) {
        OPENSSL_cleanse(token_out, TOKEN_HEX + 1);
        return rc;
    }
    *expires_at = now + ttl_s;
    return DP_OK;
}

static dp_rc session_delete_locked(struct dp_store *s, const char *hash, bool *gone,
                                   struct dp_err *err)
{
    sqlite3_stmt *st;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_SESSION_DELETE, "DELETE FROM sessions WHERE token_hash = ?1",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    rc = dp_store_exec(s, st, "store: deleting a session", err);
    if (gone)
        *gone = rc == DP_OK && sqlite3_changes(s->db) > 0;
    return rc;
}

static dp_rc session_user_locked(struct dp_store *s, const char *hash, struct dp_user *out,
                                 struct dp_err *err)
{
    sqlite3_stmt *st;
    int64_t expires_at = 0;
    int r;
    dp_rc rc;

    rc = dp_store_stmt(&st, s, DP_ST_SESSION_GET,
                       "SELECT u.id, u.username, s.expires_at FROM sessions s "
                       "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
                       err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        user_from_row(out, st, 0, 1);
        expires_at = sqlite3_column_int64(st, 2);
    } else if (r == SQLITE_DONE) {
        rc = dp_err_set(err, DP_EAUTH, SESSION_INVALID);
    } else {
        rc = dp_store_fail(s, r, "store: looking up a session", err);
    }
    dp_store_done(st);
    if (rc == DP_OK && expires_at <= dp_store_now()) {
        rc = session_delete_locked(s, hash, NULL, err);
        if (rc == DP_OK)
            rc = dp_err_set(err, DP_EAUTH, SESSION_INVALID);
    }
    return rc;
}

dp_rc dp_store_session_user(struct dp_store *s, const char *token, struct dp_user *out,
                            struct dp_err *err)
{
    char hash[65];
    dp_rc rc;

    /* Only the token's shape is checked before hashing; its content reaches the database only
     * as a SHA-256, so the index lookup's timing says nothing about stored tokens. */
    if (!token_ok(token))
        return dp_err_set(err, DP_EAUTH, SESSION_INVALID);
    rc = token_hash(hash, token, TOKEN_HEX, err);
    if (rc)
        return rc;
    dp_store_lock(s);
    rc = session_user_locked(s, hash, out, err);
    dp_store_unlock(s);
    return rc;
}

dp_rc dp_store_session_delete(struct dp_store *s, const char *token, struct dp_err *err)
{
    char hash[65];
    bool gone = false;
    dp_rc rc;

    if (!token_ok(token))
        return dp_err_set(err, DP_ENOTFOUND, "no such session");
    rc = token_hash(hash, token, TOKEN_HEX, err);
    if (rc)
        return rc;
    dp_store_lock(s);
    rc = session_delete_locked(s, hash, &gone, err);
    dp_store_unlock(s);
    if (rc == DP_OK && !gone)
        rc = dp_err_set(err, DP_ENOTFOUND, "no such session");
    return rc;
}
