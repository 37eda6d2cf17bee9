/* Login and logout, the user's agent credentials, the version, settings. */
#include "ctl.h"

#include "dp_clock.h"
#include "dp_json.h"
#include "dp_key.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int ctl_h_login(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *addr = rq->ri->remote_addr, *user, *pass;
    char token[65], when[32];
    int64_t expires = 0;
    int wait = dp_authgate_wait_s(c->login_gate, addr, dp_mono_s());
    struct dp_user u;
    struct dp_err err = {0};
    json_t *body = NULL, *ans;
    struct tm tm;
    time_t t;
    int st;

    if (wait > 0) /* no password is even checked while blocked: guessing stays slow */
        return dp_httpd_send_too_many(rq, wait);
    if (dp_httpd_read_json(rq, &body, &err) ||
        dp_json_get_str(&user, body, "username", true, 64, &err) ||
        dp_json_get_str(&pass, body, "password", true, 1024, &err)) {
        json_decref(body);
        return dp_httpd_send_err(rq, &err);
    }
    if (dp_store_user_verify(c->store, user, pass, &u, &err)) {
        json_decref(body);
        atomic_fetch_add(&c->metrics.logins_failed, 1);
        wait = dp_authgate_fail(c->login_gate, addr, dp_mono_s());
        dp_log(DP_LOG_WARN, &rq->log, "login failed addr=%s", addr);
        return wait > 0
                   ? dp_httpd_send_too_many(rq, wait)
                   : dp_httpd_send_error(rq, 401, "unauthorized", "wrong username or password");
    }
    json_decref(body);
    dp_authgate_ok(c->login_gate, addr);
    if (dp_store_session_create(c->store, u.id, (int64_t)c->conf.session_hours * 3600, token,
                                &expires, &err))
        return dp_httpd_send_err(rq, &err);
    t = (time_t)expires;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    ans = json_pack("{s:s, s:s, s:{s:I, s:s}}", "token", token, "expires_at", when, "user", "id",
                    (json_int_t)u.id, "username", u.username);
    OPENSSL_cleanse(token, sizeof(token));
    dp_log(DP_LOG_INFO, &rq->log, "login user=%s", u.username);
    st = dp_httpd_send_json(rq, 200, ans);
    json_decref(ans);
    return st;
}

int ctl_h_logout(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *auth = mg_get_header(rq->conn, "Authorization");

    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        dp_store_session_delete(c->store, auth + 7, NULL);
    return dp_httpd_send(rq, 200, "application/json", NULL, "{\"logged_out\":true}", 19);
}

/* The user's agent key with lines that work: curl for a shell, curl.exe for PowerShell, against
 * one of the user's servers when there is one (its certificate pinned). */
/* curl lines for a shell and for PowerShell. The agent's certificate is self-signed, so -k,
 * with the server's key pinned when we know the server (without a pin, an empty
 * --pinnedpubkey would make curl fail, so the placeholder line has none). */
static void credential_lines(char *sh, size_t shn, char *ps, size_t psn, const char *key,
                             const char *ip, const char *pin)
{
    char pin_sh[160] = "", pin_ps[160] = "";

    if (*pin) {
        snprintf(pin_sh, sizeof(pin_sh), "--pinnedpubkey '%s' ", pin);
        snprintf(pin_ps, sizeof(pin_ps), "--pinnedpubkey \"%s\" ", pin);
    }
    snprintf(sh, shn, "curl -k %s-H 'X-API-Key: %s' https://%s:9999/health", pin_sh, key, ip);
    snprintf(ps, psn, "curl.exe -k %s-H \"X-API-Key: %s\" https://%s:9999/health", pin_ps, key, ip);
}

int ctl_h_credentials(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const struct dp_user *u = ctl_user(rq);
    char key[DP_DERIVED_KEY_LEN + 1], curl[768], curl_exe[768];
    const char *ip = "SERVER_IP", *pin = "";
    struct dp_err err = {0};
    json_t *servers = NULL, *s, *ans;
    size_t i;
    int st;

    if (dp_key_derive(key, c->do_token, (unsigned long long)u->id, &err))
        return dp_httpd_send_error(rq, 409, "no_token",
                                   "agent keys derive from the DigitalOcean token; set it first");
    dp_store_servers(c->store, &servers, NULL);
    json_array_foreach(servers, i, s)
    {
        if (json_integer_value(json_object_get(s, "owner_id")) == u->id &&
            json_string_length(json_object_get(s, "ip")) > 0) {
            ip = json_string_value(json_object_get(s, "ip"));
            pin = json_string_value(json_object_get(s, "tls_pin"));
            break;
        }
    }
    credential_lines(curl, sizeof(curl), curl_exe, sizeof(curl_exe), key, ip, pin);
    ans = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s, s:s?}", "user_id", (json_int_t)u->id,
                    "agent_key", key, "server_ip", ip, "tls_pin", *pin ? pin : NULL, "curl", curl,
                    "curl_exe", curl_exe, "note",
                    *pin ? NULL
                         : "no server yet: once one is provisioned, these lines name it and pin "
                           "its certificate");
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(curl, sizeof(curl));
    OPENSSL_cleanse(curl_exe, sizeof(curl_exe));
    st = dp_httpd_send_json(rq, 200, ans);
    json_decref(ans);
    json_decref(servers);
    return st;
}

int ctl_h_version(struct dp_req *rq)
{
    static const char body[] =
        "{\"version\":\"" DP_VERSION "\",\"expected_agent_version\":\"" DP_VERSION "\"}";

    return dp_httpd_send(rq, 200, "application/json", NULL, body, sizeof(body) - 1);
}

int ctl_h_settings_get(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *env = getenv("DO_TOKEN");
    json_t *allow = json_array(), *ans;
    char *stored = NULL;
    int st;

    for (size_t i = 0; i < c->nallow; i++)
        json_array_append_new(allow, json_string(c->allow[i]));
    dp_store_setting_get(c->store, "do_token", &stored, NULL);
    /* The token itself is never sent back: only whether one is set and where from. */
    ans =
        json_pack("{s:b, s:s, s:s, s:s, s:o, s:s}", "do_token_set", c->do_token && c->do_token[0],
                  "do_token_source",
                  env && *env ? "environment"
                  : stored    ? "settings"
                              : "none",
                  "do_api_url", c->cloud ? dp_do_base_url(c->cloud) : "", "public_url",
                  c->conf.public_url, "agent_allow", allow, "example_image", c->conf.example_image);
    if (stored) {
        OPENSSL_cleanse(stored, strlen(stored));
        free(stored);
    }
    st = dp_httpd_send_json(rq, 200, ans);
    json_decref(ans);
    return st;
}

int ctl_h_settings_put(struct dp_req *rq)
{
    struct ctl *c = rq->app;
    const char *token;
    struct dp_err err = {0};
    json_t *body = NULL;
    dp_rc rc = dp_httpd_read_json(rq, &body, &err);

    if (!rc)
        rc = dp_json_get_str(&token, body, "do_token", true, 512, &err);
    if (!rc && strpbrk(token, " \t\r\n"))
        rc = dp_err_setc(&err, DP_EINVAL, "invalid_field", "do_token holds spaces");
    if (!rc)
        rc = dp_store_setting_set(c->store, "do_token", token, &err);
    if (body)
        OPENSSL_cleanse((char *)json_string_value(json_object_get(body, "do_token")),
                        json_string_length(json_object_get(body, "do_token")));
    json_decref(body);
    if (rc)
        return dp_httpd_send_err(rq, &err);
    dp_log(DP_LOG_INFO, &rq->log, "DigitalOcean token saved in settings");
    /* Agent keys derive from the token, so it takes effect with the next start: a live switch
     * would leave running deploys talking to servers with keys of two tokens. */
    static const char ans[] = "{\"saved\":true,\"restart_required\":true,\"detail\":\"the "
                              "controller uses the new token after a restart; DO_TOKEN in its "
                              "environment wins\"}";

    return dp_httpd_send(rq, 200, "application/json", NULL, ans, sizeof(ans) - 1);
}
