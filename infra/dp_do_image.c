#include "dp_do_image.h"

#include "dp_url.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* GET path and take the object under key. */
static dp_rc get_one(struct dp_do_client *c, const char *path, const char *key, json_t **out,
                     struct dp_err *err)
{
    json_t *ans = NULL;
    dp_rc rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);

    *out = NULL;
    if (rc == DP_OK && !json_is_object(json_object_get(ans, key)))
        rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer", "%s: no %s object", path, key);
    if (rc == DP_OK)
        *out = json_incref(json_object_get(ans, key));
    json_decref(ans);
    return rc;
}

static dp_rc delete_path(struct dp_do_client *c, const char *path, struct dp_err *err)
{
    json_t *ans = NULL;
    dp_rc rc = dp_do_call(c, "DELETE", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);

    json_decref(ans);
    return rc == DP_ENOTFOUND ? DP_OK : rc;
}

static bool id_text_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

dp_rc dp_do_images_private(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return dp_do_list(c, "/v2/images?private=true", "images", out, err);
}

dp_rc dp_do_image_get(struct dp_do_client *c, const char *id_or_slug, json_t **out,
                      struct dp_err *err)
{
    char path[128];

    *out = NULL;
    if (!id_text_ok(id_or_slug))
        return dp_err_setc(err, DP_EINVAL, "invalid_image", "'%.64s' is not an image id or slug",
                           id_or_slug);
    snprintf(path, sizeof(path), "/v2/images/%s", id_or_slug);
    return get_one(c, path, "image", out, err);
}

dp_rc dp_do_image_delete(struct dp_do_client *c, long long id, struct dp_err *err)
{
    char path[64];

    snprintf(path, sizeof(path), "/v2/images/%lld", id);
    return delete_path(c, path, err);
}

dp_rc dp_do_image_transfer(struct dp_do_client *c, long long id, const char *region,
                           json_t **action, struct dp_err *err)
{
    char path[64];
    json_t *body, *ans = NULL;
    dp_rc rc;

    *action = NULL;
    if (!id_text_ok(region))
        return dp_err_setc(err, DP_EINVAL, "invalid_region", "'%.64s' is not a region slug",
                           region);
    snprintf(path, sizeof(path), "/v2/images/%lld/actions", id);
    body = json_pack("{s:s, s:s}", "type", "transfer", "region", region);
    rc = dp_do_call(c, "POST", path, body, DP_DO_RETRY_SAFE, &ans, NULL, err);
    json_decref(body);
    if (rc == DP_OK)
        *action = json_incref(json_object_get(ans, "action"));
    if (rc == DP_OK && !*action)
        rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer", "the transfer has no action object");
    json_decref(ans);
    return rc;
}

dp_rc dp_do_snapshots_list(struct dp_do_client *c, json_t **out, struct dp_err *err)
{
    return dp_do_list(c, "/v2/snapshots?resource_type=droplet", "snapshots", out, err);
}

dp_rc dp_do_snapshot_get(struct dp_do_client *c, const char *id, json_t **out, struct dp_err *err)
{
    char path[128];

    *out = NULL;
    if (!id_text_ok(id))
        return dp_err_setc(err, DP_EINVAL, "invalid_snapshot", "'%.64s' is not a snapshot id", id);
    snprintf(path, sizeof(path), "/v2/snapshots/%s", id);
    return get_one(c, path, "snapshot", out, err);
}

dp_rc dp_do_snapshot_delete(struct dp_do_client *c, const char *id, struct dp_err *err)
{
    char path[128];

    if (!id_text_ok(id))
        return dp_err_setc(err, DP_EINVAL, "invalid_snapshot", "'%.64s' is not a snapshot id", id);
    snprintf(path, sizeof(path), "/v2/snapshots/%s", id);
    return delete_path(c, path, err);
}
