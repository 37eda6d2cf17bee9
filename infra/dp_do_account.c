#include "dp_do_account.h"

#include "dp_do_droplet.h"
#include "dp_url.h"

#include <stdio.h>
#include <string.h>

static dp_rc get_key(struct dp_do_client *c, const char *path, const char *key, json_t **out,
                     struct dp_err *err)
{
    json_t *ans = NULL;
    dp_rc rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);

    *out = NULL;
    if (rc == DP_OK && !json_object_get(ans, key))
        rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer", "%s: no %s in the answer", path, key);
    if (rc == DP_OK)
        *out = json_incref(json_object_get(ans, key));
    json_decref(ans);
    return rc;
}

static dp_rc no_answer(struct dp_do_client *c, const char *method, const char *path,
                       const json_t *body, struct dp_err *err)
{
    json_t *ans = NULL;
    dp_rc rc = dp_do_call(c, method, path, body, DP_DO_RETRY_SAFE, &ans, NULL, err);

    json_decref(ans);
    return rc;
}

dp_rc dp_do_account(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return get_key(c, "/v2/account", "account", out, err);
}

dp_rc dp_do_regions(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return dp_do_list(c, "/v2/regions", "regions", out, err);
}

dp_rc dp_do_sizes(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return dp_do_list(c, "/v2/sizes", "sizes", out, err);
}

dp_rc dp_do_keys_list(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return dp_do_list(c, "/v2/account/keys", "ssh_keys", out, err);
}

/* The account's key with this public key, or NULL. */
static json_t *key_find(struct dp_do_client *c, const char *public_key)
{
    json_t *all = NULL, *k, *found = NULL;
    size_t i;

    if (dp_do_keys_list(c, &all, NULL))
        return NULL;
    json_array_foreach(all, i, k)
    {
        const char *pk = json_string_value(json_object_get(k, "public_key"));

        if (pk && strcmp(pk, public_key) == 0) {
            found = json_incref(k);
            break;
        }
    }
    json_decref(all);
    return found;
}

dp_rc dp_do_key_create(struct dp_do_client *c, const char *name, const char *public_key,
                       json_t **out, struct dp_err *err)
{
    json_t *body, *ans = NULL;
    struct dp_do_fault f;
    dp_rc rc = DP_EUNAVAIL;

    *out = NULL;
    if (strlen(name) > 255 || strlen(public_key) > 16384 || strpbrk(public_key, "\r\n"))
        return dp_err_setc(err, DP_EINVAL, "invalid_key",
                           "an SSH key needs a name and a one-line public key");
    body = json_pack("{s:s, s:s}", "name", name, "public_key", public_key);
    /* A create answered 5xx may have happened, and a repeat gets 422 "already in use": after
     * either, the key is looked up by its public key before anything is sent again. */
    for (int attempt = 0; attempt < 4 && !*out; attempt++) {
        rc = dp_do_call(c, "POST", "/v2/account/keys", body, DP_DO_RETRY_429, &ans, &f, err);
        if (rc == DP_OK)
            *out = json_incref(json_object_get(ans, "ssh_key"));
        else if (f.status == 0 || f.status >= 500 || (f.status == 422 && attempt > 0))
            *out = key_find(c, public_key);
        else
            break;
        json_decref(ans);
        ans = NULL;
    }
    json_decref(body);
    return *out ? DP_OK : rc;
}

static dp_rc key_path(char *out, size_t size, const char *id_or_fp, struct dp_err *err)
{
    char esc[256];

    if (!*id_or_fp || strlen(id_or_fp) > 80 || dp_url_escape(esc, sizeof(esc), id_or_fp))
        return dp_err_setc(err, DP_EINVAL, "invalid_key", "not an SSH key id or fingerprint");
    snprintf(out, size, "/v2/account/keys/%s", esc);
    return DP_OK;
}

dp_rc dp_do_key_get(struct dp_do_client *c, const char *id_or_fp, json_t **out, struct dp_err *err)
{
    char path[300];
    dp_rc rc = key_path(path, sizeof(path), id_or_fp, err);

    *out = NULL;
    return rc ? rc : get_key(c, path, "ssh_key", out, err);
}

dp_rc dp_do_key_delete(struct dp_do_client *c, const char *id_or_fp, struct dp_err *err)
{
    char path[300];
    dp_rc rc = key_path(path, sizeof(path), id_or_fp, err);

    if (rc == DP_OK)
        rc = no_answer(c, "DELETE", path, NULL, err);
    return rc == DP_ENOTFOUND ? DP_OK : rc;
}

dp_rc dp_do_tag_create(struct dp_do_client *c, const char *name, struct dp_err *err)
{
    json_t *body;
    dp_rc rc;

    if (!dp_do_tag_valid(name))
        return dp_err_setc(err, DP_EINVAL, "invalid_tag", "'%.64s' is not a valid tag", name);
    body = json_pack("{s:s}", "name", name);
    rc = no_answer(c, "POST", "/v2/tags", body, err);
    json_decref(body);
    return rc;
}

dp_rc dp_do_tags_list(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return dp_do_list(c, "/v2/tags", "tags", out, err);
}

dp_rc dp_do_tag_delete(struct dp_do_client *c, const char *name, struct dp_err *err)
{
    char path[300];
    dp_rc rc;

    if (!dp_do_tag_valid(name))
        return dp_err_setc(err, DP_EINVAL, "invalid_tag", "'%.64s' is not a valid tag", name);
    snprintf(path, sizeof(path), "/v2/tags/%s", name);
    rc = no_answer(c, "DELETE", path, NULL, err);
    return rc == DP_ENOTFOUND ? DP_OK : rc;
}

dp_rc dp_do_tag_resources(struct dp_do_client *c, const char *name, const char *type,
                          const char *const *ids, size_t n, struct dp_err *err)
{
    char path[300];
    json_t *list = json_array(), *body;
    dp_rc rc;

    if (!dp_do_tag_valid(name)) {
        json_decref(list);
        return dp_err_setc(err, DP_EINVAL, "invalid_tag", "'%.64s' is not a valid tag", name);
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s, s:s}", "resource_id", ids[i], "resource_type", type));
    body = json_pack("{s:o}", "resources", list);
    snprintf(path, sizeof(path), "/v2/tags/%s/resources", name);
    rc = no_answer(c, "POST", path, body, err);
    json_decref(body);
    return rc;
}
