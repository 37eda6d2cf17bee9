/* Validating a deploy request: field names as users script them (DESIGN.md), numbers given as
 * text accepted (PowerShell users quote them), and a stored summary without secrets. */
#include "dp_deploy.h"
#include "dp_git.h"

#include "dp_cidr.h"
#include "dp_ctr_spec.h"
#include "dp_json.h"
#include "dp_limits.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool app_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

static char *dup_secret(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void wipe(char **s)
{
    if (*s) {
        OPENSSL_cleanse(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

/* "code", "git" or "image"; when absent, whichever source field is present decides. */
static dp_rc parse_source(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    const char *st;
    dp_rc rc = dp_json_get_str(&st, b, "source_type", false, 16, err);

    if (rc)
        return rc;
    if (!st)
        st = json_is_string(json_object_get(b, "git_url")) ? "git"
             : json_is_string(json_object_get(b, "image")) ? "image"
                                                           : "code"; /* null is absent */
    if (strcmp(st, "image") == 0)
        r->source = DP_SRC_IMAGE;
    else if (strcmp(st, "git") == 0)
        r->source = DP_SRC_GIT;
    else if (strcmp(st, "code") == 0)
        r->source = DP_SRC_CODE;
    else
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "source_type must be code, git or image");
    return DP_OK;
}

static dp_rc parse_image(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    const char *image, *user, *pass;
    dp_rc rc = dp_json_get_str(&image, b, "image", true, DP_IMAGE_REF_MAX, err);

    if (!rc)
        rc = dp_json_get_str(&user, b, "registry_username", false, DP_CREDENTIAL_MAX, err);
    if (!rc)
        rc = dp_json_get_str(&pass, b, "registry_password", false, DP_CREDENTIAL_MAX, err);
    if (rc)
        return rc;
    if (!dp_image_ref_valid(image))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "image '%.80s' is not a valid reference", image);
    snprintf(r->image, sizeof(r->image), "%s", image);
    r->registry_user = dup_secret(user);
    r->registry_password = dup_secret(pass);
    return DP_OK;
}

static dp_rc parse_git(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    const char *url, *branch, *token;
    dp_rc rc = dp_json_get_str(&url, b, "git_url", true, DP_URL_MAX, err);

    if (!rc)
        rc = dp_json_get_str(&branch, b, "git_branch", false, 255, err);
    if (!rc)
        rc = dp_json_get_str(&token, b, "git_token", false, DP_CREDENTIAL_MAX, err);
    if (!rc) /* the agents check again; here a bad URL fails before a deployment exists */
        rc = dp_git_url_check(url, token && *token, err);
    if (rc)
        return rc;
    r->git_url = strdup(url);
    r->git_token = dup_secret(token);
    snprintf(r->git_branch, sizeof(r->git_branch), "%s", branch ? branch : "");
    return DP_OK;
}

/* env_vars: names checked here too, so a bad one fails before any server is touched. */
static dp_rc parse_env(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    json_t *env;
    const char *k;
    json_t *v;
    char *text;
    dp_rc rc = dp_json_get_flat_object(&env, b, "env_vars", DP_ENV_MAX, err);

    if (rc)
        return rc;
    r->env = json_object();
    /* On the heap: civetweb's workers have small stacks (Debian's: 100 KiB). */
    text = malloc(DP_ENV_VAL_MAX + 1);
    if (!r->env || !text) {
        free(text);
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    json_object_foreach(env, k, v)
    {
        if (!*k || strlen(k) > DP_ENV_KEY_MAX || (!isalpha((unsigned char)k[0]) && k[0] != '_') ||
            strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
                strlen(k))
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field",
                             "an env_vars name is not valid: use letters, digits, '_', '.' or '-'");
        else if (!dp_json_scalar_text(text, DP_ENV_VAL_MAX + 1, v))
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field",
                             "env_vars value of '%.64s' is too long", k);
        else
            json_object_set_new(r->env, k, json_string(text));
        if (rc)
            break;
    }
    OPENSSL_cleanse(text, DP_ENV_VAL_MAX + 1);
    free(text);
    return rc;
}

static dp_rc parse_targets(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    json_t *ips, *v;
    const char *region, *size;
    long long n;
    size_t i;
    dp_rc rc = dp_json_get_str_array(&ips, b, "server_ips", DP_DEPLOY_TARGETS_MAX, 15, err);

    if (!rc)
        rc = dp_json_get_int(&n, b, "new_server_count", 0, DP_DEPLOY_NEW_MAX, 0, err);
    if (!rc)
        rc = dp_json_get_str(&region, b, "region", false, 63, err);
    if (!rc)
        rc = dp_json_get_str(&size, b, "size", false, 63, err);
    if (rc)
        return rc;
    json_array_foreach(ips, i, v)
    {
        struct dp_cidr one;

        if (dp_cidr_parse(&one, json_string_value(v), NULL) || strchr(json_string_value(v), '/'))
            return dp_err_setc(err, DP_EINVAL, "invalid_field",
                               "server_ips must hold IPv4 addresses ('%.20s' is not one)",
                               json_string_value(v));
    }
    r->server_ips = ips ? json_incref(ips) : json_array();
    r->new_count = (int)n;
    rc = dp_fleet_snapshot_arg(r->snapshot_id, json_object_get(b, "snapshot_id"), err);
    if (rc)
        return rc;
    snprintf(r->region, sizeof(r->region), "%s", region ? region : "");
    snprintf(r->size, sizeof(r->size), "%s", size ? size : "");
    if (json_array_size(r->server_ips) + (size_t)r->new_count == 0)
        return dp_err_setc(err, DP_EINVAL, "no_targets",
                           "give server_ips or new_server_count (or both)");
    if (json_array_size(r->server_ips) + (size_t)r->new_count > DP_DEPLOY_TARGETS_MAX)
        return dp_err_setc(err, DP_EINVAL, "too_many_targets", "at most %d servers a deploy",
                           DP_DEPLOY_TARGETS_MAX);
    return DP_OK;
}

static dp_rc parse_basics(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    const char *name, *envname, *df;
    long long port;
    dp_rc rc = dp_json_get_str(&name, b, "name", true, 63, err);

    if (!rc)
        rc = dp_json_get_int(&port, b, "port", 0, 65535, 0, err);
    if (!rc)
        rc = dp_json_get_str(&envname, b, "environment", false, 63, err);
    if (!rc)
        rc = dp_json_get_str(&df, b, "dockerfile", false, 255, err);
    if (rc)
        return rc;
    if (!app_name_ok(name))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "name must be 1 to 63 lowercase letters, digits or '-'");
    if (df && (df[0] == '/' || strstr(df, "..")))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "dockerfile must be a path inside the code");
    snprintf(r->app, sizeof(r->app), "%s", name);
    snprintf(r->environment, sizeof(r->environment), "%s", envname ? envname : "");
    snprintf(r->dockerfile, sizeof(r->dockerfile), "%s", df ? df : "");
    r->port = (int)port;
    return DP_OK;
}

/* tags: a list of words kept as container labels dp.tag.<word>=1. */
static dp_rc parse_tags(struct dp_deploy_req *r, const json_t *b, struct dp_err *err)
{
    json_t *tags, *t;
    size_t i;
    dp_rc rc = dp_json_get_str_array(&tags, b, "tags", 16, 64, err);

    if (rc)
        return rc;
    r->labels = json_object();
    json_array_foreach(tags, i, t)
    {
        char key[96];

        snprintf(key, sizeof(key), "tag.%s", json_string_value(t));
        json_object_set_new(r->labels, key, json_string("1"));
    }
    return DP_OK;
}

/* What was asked, safe to store and show: env names with *** values, no credentials. */
static json_t *summary_of(const struct dp_deploy_req *r)
{
    static const char *const src[] = {"image", "git", "code"};
    json_t *env = json_array(), *s;
    const char *k;
    json_t *v;

    json_object_foreach(r->env, k, v)
    {
        char masked[300];

        snprintf(masked, sizeof(masked), "%s=***", k);
        json_array_append_new(env, json_string(masked));
    }
    s = json_pack("{s:s, s:s, s:i, s:o, s:s, s:O, s:i}", "app", r->app, "source", src[r->source],
                  "port", r->port, "env", env, "environment", r->environment, "server_ips",
                  r->server_ips, "new_server_count", r->new_count);
    if (r->source == DP_SRC_IMAGE)
        json_object_set_new(s, "image", json_string(r->image));
    if (r->source == DP_SRC_GIT) {
        json_object_set_new(s, "git_url", json_string(r->git_url));
        json_object_set_new(s, "git_branch", json_string(r->git_branch));
    }
    if (r->new_count)
        json_object_set_new(s, "new_servers",
                            json_pack("{s:s, s:s, s:s}", "snapshot_id", r->snapshot_id, "region",
                                      r->region, "size", r->size));
    return s;
}

dp_rc dp_deploy_req_parse(struct dp_deploy_req *out, const json_t *body, struct dp_err *err)
{
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = parse_basics(out, body, err);
    if (!rc)
        rc = parse_source(out, body, err);
    if (!rc && out->source == DP_SRC_IMAGE)
        rc = parse_image(out, body, err);
    if (!rc && out->source == DP_SRC_GIT)
        rc = parse_git(out, body, err);
    if (!rc)
        rc = parse_env(out, body, err);
    if (!rc)
        rc = parse_tags(out, body, err);
    if (!rc)
        rc = parse_targets(out, body, err);
    if (!rc)
        out->summary = summary_of(out);
    if (rc)
        dp_deploy_req_clear(out);
    return rc;
}

void dp_deploy_req_clear(struct dp_deploy_req *r)
{
    const char *k;
    json_t *v;

    json_object_foreach(r->env, k, v)
    {
        if (json_is_string(v)) /* wipe values before jansson frees them */
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(r->env);
    json_decref(r->labels);
    json_decref(r->server_ips);
    json_decref(r->summary);
    wipe(&r->registry_user);
    wipe(&r->registry_password);
    wipe(&r->git_url);
    wipe(&r->git_token);
    if (r->code_tar[0])
        remove(r->code_tar);
    memset(r, 0, sizeof(*r));
}
