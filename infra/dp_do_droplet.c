#include "dp_do_droplet.h"

#include "dp_clock.h"
#include "dp_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- field helpers ---- */

long long dp_do_droplet_id(const json_t *d)
{
    return (long long)json_integer_value(json_object_get(d, "id"));
}

const char *dp_do_droplet_status(const json_t *d)
{
    const char *s = json_string_value(json_object_get(d, "status"));

    return s ? s : "";
}

bool dp_do_droplet_locked(const json_t *d)
{
    return json_is_true(json_object_get(d, "locked"));
}

bool dp_do_droplet_public_ip(const json_t *d, char *out, size_t size)
{
    json_t *v4 = json_object_get(json_object_get(d, "networks"), "v4"), *n;
    size_t i;

    json_array_foreach(v4, i, n)
    {
        const char *type = json_string_value(json_object_get(n, "type"));
        const char *ip = json_string_value(json_object_get(n, "ip_address"));

        if (type && ip && strcmp(type, "public") == 0) {
            snprintf(out, size, "%s", ip);
            return true;
        }
    }
    out[0] = '\0';
    return false;
}

bool dp_do_has_tag(const json_t *obj, const char *tag)
{
    json_t *tags = json_object_get(obj, "tags"), *t;
    size_t i;

    json_array_foreach(tags, i, t)
    {
        if (json_is_string(t) && strcmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

bool dp_do_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 255 || !isalnum((unsigned char)name[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '.' && name[i] != '-')
            return false;
    }
    return true;
}

bool dp_do_tag_valid(const char *tag)
{
    size_t n = strlen(tag);

    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)tag[i]) && !strchr("_-:", tag[i]))
            return false;
    }
    return true;
}

/* ---- create ---- */

static dp_rc create_check(const struct dp_do_create *r, struct dp_err *err)
{
    if (r->count == 0 || !r->region || !r->size || !r->image || !*r->image)
        return dp_err_set(err, DP_EINVAL, "a droplet create needs names, region, size and image");
    for (size_t i = 0; i < r->count; i++) {
        if (!dp_do_name_valid(r->names[i]))
            return dp_err_setc(err, DP_EINVAL, "invalid_name",
                               "'%.64s' is not a valid droplet name (letters, digits, '.', '-')",
                               r->names[i]);
    }
    for (size_t i = 0; i < r->ntags; i++) {
        if (!dp_do_tag_valid(r->tags[i]))
            return dp_err_setc(err, DP_EINVAL, "invalid_tag",
                               "'%.64s' is not a valid tag (letters, digits, '_', '-', ':')",
                               r->tags[i]);
    }
    if (r->user_data && strlen(r->user_data) > DP_DO_USER_DATA_MAX)
        return dp_err_setc(err, DP_ETOOBIG, "user_data_too_large",
                           "user data is over DigitalOcean's %lu bytes", DP_DO_USER_DATA_MAX);
    return DP_OK;
}

/* A private image's id goes as a JSON number, a slug as a string. */
static json_t *image_value(const char *image)
{
    char *end;
    long long id = strtoll(image, &end, 10);

    return *end == '\0' && id > 0 ? json_integer(id) : json_string(image);
}

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *create_body(const struct dp_do_create *r, const char *const *names, size_t n,
                           const char *create_tag)
{
    json_t *b =
        json_pack("{s:s, s:s, s:o, s:o, s:b, s:b, s:b}", "region", r->region, "size", r->size,
                  "image", image_value(r->image), "ssh_keys", strings(r->ssh_keys, r->nkeys),
                  "backups", 0, "ipv6", 0, "monitoring", r->monitoring);
    json_t *tags = strings(r->tags, r->ntags);

    json_array_insert_new(tags, 0, json_string(DP_DO_MANAGED_TAG));
    json_array_append_new(tags, json_string(create_tag));
    json_object_set_new(b, "tags", tags);
    if (n == 1)
        json_object_set_new(b, "name", json_string(names[0]));
    else
        json_object_set_new(b, "names", strings(names, n));
    if (r->user_data)
        json_object_set_new(b, "user_data", json_string(r->user_data));
    return b;
}

static bool listed(const json_t *droplets, const char *name)
{
    json_t *d;
    size_t i;

    json_array_foreach(droplets, i, d)
    {
        const char *dn = json_string_value(json_object_get(d, "name"));

        if (dn && strcmp(dn, name) == 0)
            return true;
    }
    return false;
}

/* The names of this batch not yet among the droplets that carry its create tag. */
static size_t missing_names(const char **out, const struct dp_do_create *r, size_t from, size_t n,
                            const json_t *have)
{
    size_t m = 0;

    for (size_t i = from; i < from + n; i++) {
        if (!listed(have, r->names[i]))
            out[m++] = r->names[i];
    }
    return m;
}

/* Whatever a failed create may have done is found through its tag. */
static bool maybe_created(const struct dp_do_fault *f)
{
    return f->status == 0 || f->status >= 500;
}

static bool has_id(const json_t *droplets, long long id)
{
    json_t *d;
    size_t i;

    json_array_foreach(droplets, i, d)
    {
        if (dp_do_droplet_id(d) == id)
            return true;
    }
    return false;
}

/* Takes from a lookup by the create tag (shared by every batch of one create) only this
 * batch's droplets not collected yet. */
static void adopt(json_t *all, const json_t *have, const struct dp_do_create *r, size_t from,
                  size_t n)
{
    json_t *d;
    size_t i;

    json_array_foreach(have, i, d)
    {
        const char *name = json_string_value(json_object_get(d, "name"));

        for (size_t k = from; name && k < from + n; k++) {
            if (strcmp(name, r->names[k]) == 0 && !has_id(all, dp_do_droplet_id(d))) {
                json_array_append(all, d);
                break;
            }
        }
    }
}

static void collect(json_t *into, json_t *answer)
{
    json_t *one = json_object_get(answer, "droplet");

    if (one)
        json_array_append(into, one);
    else
        json_array_extend(into, json_object_get(answer, "droplets"));
}

/* The pause before the lookup after an unclear create: the policy's backoff, growing. */
static int64_t lookup_pause_ms(const struct dp_do_policy *pol, int attempt)
{
    int64_t ms = pol->base_ms * attempt;

    return ms < pol->max_backoff_ms ? ms : pol->max_backoff_ms;
}

/* One batch of up to DP_DO_CREATE_BATCH names: create, and on an unclear failure look the
 * droplets up by the create tag and create only what is missing. The rounds follow the
 * client's policy (max_attempts), like every other request's retries. */
static dp_rc create_batch(struct dp_do_client *c, const struct dp_do_create *r, size_t from,
                          size_t n, const char *tag, json_t *all, struct dp_err *err)
{
    const struct dp_do_policy *pol = dp_do_get_policy(c);
    const char *todo[DP_DO_CREATE_BATCH];
    size_t m = n;
    dp_rc rc = DP_OK;

    for (size_t i = 0; i < n; i++)
        todo[i] = r->names[from + i];
    for (int attempt = 1; m > 0; attempt++) {
        struct dp_do_fault fault;
        json_t *body = create_body(r, todo, m, tag), *answer = NULL, *have = NULL;

        rc = dp_do_call(c, "POST", "/v2/droplets", body, DP_DO_RETRY_429, &answer, &fault, err);
        json_decref(body);
        if (rc == DP_OK) {
            collect(all, answer);
            json_decref(answer);
            return DP_OK;
        }
        if (!maybe_created(&fault) || attempt >= pol->max_attempts)
            return rc;
        /* The create may have happened: never send it blindly again. */
        if (dp_do_sleep(c, lookup_pause_ms(pol, attempt), err) ||
            dp_do_droplets_list(c, tag, true, &have, err))
            return err ? err->rc : DP_EUNAVAIL;
        m = missing_names(todo, r, from, n, have);
        adopt(all, have, r, from, n);
        json_decref(have);
    }
    return DP_OK;
}

dp_rc dp_do_droplets_create(struct dp_do_client *c, const struct dp_do_create *req, json_t **out,
                            struct dp_err *err)
{
    char tag[sizeof(DP_DO_CREATE_TAG) + 24];
    json_t *all;
    dp_rc rc = create_check(req, err);

    *out = NULL;
    if (rc)
        return rc;
    snprintf(tag, sizeof(tag), DP_DO_CREATE_TAG);
    dp_do_random_hex(tag + strlen(tag), 8);
    all = json_array();
    for (size_t from = 0; rc == DP_OK && from < req->count; from += DP_DO_CREATE_BATCH) {
        size_t n = req->count - from < DP_DO_CREATE_BATCH ? req->count - from : DP_DO_CREATE_BATCH;

        rc = create_batch(c, req, from, n, tag, all, err);
    }
    *out = all;
    return rc;
}

/* ---- read, list, delete ---- */

dp_rc dp_do_droplet_get(struct dp_do_client *c, long long id, json_t **out, struct dp_err *err)
{
    char path[64];
    json_t *ans = NULL;
    dp_rc rc;

    *out = NULL;
    snprintf(path, sizeof(path), "/v2/droplets/%lld", id);
    rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
    if (rc == DP_OK && !json_is_object(json_object_get(ans, "droplet")))
        rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer", "droplet %lld: no droplet object", id);
    if (rc == DP_OK)
        *out = json_incref(json_object_get(ans, "droplet"));
    json_decref(ans);
    return rc;
}

static dp_rc tag_path(char *out, size_t size, const char *prefix, const char *tag,
                      struct dp_err *err)
{
    char esc[800];

    if (!dp_do_tag_valid(tag) || dp_url_escape(esc, sizeof(esc), tag))
        return dp_err_setc(err, DP_EINVAL, "invalid_tag", "'%.64s' is not a valid tag", tag);
    snprintf(out, size, "%s%s", prefix, esc);
    return DP_OK;
}

dp_rc dp_do_droplets_list(struct dp_do_client *c, const char *tag, bool force, json_t **out,
                          struct dp_err *err)
{
    char path[900];
    json_t *all = NULL, *mine, *d;
    size_t i;
    dp_rc rc =
        tag_path(path, sizeof(path), "/v2/droplets?tag_name=", tag ? tag : DP_DO_MANAGED_TAG, err);

    *out = NULL;
    if (rc == DP_OK)
        rc = dp_do_list(c, path, "droplets", &all, err);
    if (rc)
        return rc;
    if (force) {
        *out = all;
        return DP_OK;
    }
    mine = json_array();
    json_array_foreach(all, i, d)
    {
        if (dp_do_has_tag(d, DP_DO_MANAGED_TAG))
            json_array_append(mine, d);
    }
    json_decref(all);
    *out = mine;
    return DP_OK;
}

dp_rc dp_do_droplet_delete(struct dp_do_client *c, long long id, bool force, struct dp_err *err)
{
    char path[64];
    json_t *d = NULL, *ans = NULL;
    dp_rc rc = force ? DP_OK : dp_do_droplet_get(c, id, &d, err);

    if (rc == DP_ENOTFOUND)
        return DP_OK; /* already gone */
    if (rc == DP_OK && !force && !dp_do_has_tag(d, DP_DO_MANAGED_TAG))
        rc = dp_err_setc(err, DP_ECONFLICT, "not_managed",
                         "droplet %lld is not one of the platform's (no %s tag); not deleted", id,
                         DP_DO_MANAGED_TAG);
    json_decref(d);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "/v2/droplets/%lld", id);
    rc = dp_do_call(c, "DELETE", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
    json_decref(ans);
    return rc == DP_ENOTFOUND ? DP_OK : rc;
}

dp_rc dp_do_droplets_delete_by_tag(struct dp_do_client *c, const char *tag, bool force,
                                   struct dp_err *err)
{
    char path[900];
    json_t *all = NULL, *d, *ans = NULL;
    size_t i;
    dp_rc rc = tag_path(path, sizeof(path), "/v2/droplets?tag_name=", tag, err);

    if (rc == DP_OK && !force)
        rc = dp_do_droplets_list(c, tag, true, &all, err);
    json_array_foreach(all, i, d)
    {
        if (rc == DP_OK && !dp_do_has_tag(d, DP_DO_MANAGED_TAG))
            rc = dp_err_setc(err, DP_ECONFLICT, "not_managed",
                             "droplet %lld has tag %s but is not one of the platform's; nothing "
                             "deleted",
                             dp_do_droplet_id(d), tag);
    }
    json_decref(all);
    if (rc == DP_OK)
        rc = dp_do_call(c, "DELETE", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
    json_decref(ans);
    return rc;
}

/* ---- actions ---- */

/* After "pending event" on a retried POST: the in-progress action of that type is ours. */
static dp_rc find_pending(struct dp_do_client *c, long long id, const char *type, json_t **action,
                          struct dp_err *err)
{
    char path[96];
    json_t *all = NULL, *a;
    size_t i;
    dp_rc rc;

    snprintf(path, sizeof(path), "/v2/droplets/%lld/actions", id);
    rc = dp_do_list(c, path, "actions", &all, err);
    json_array_foreach(all, i, a)
    {
        const char *t = json_string_value(json_object_get(a, "type"));
        const char *s = json_string_value(json_object_get(a, "status"));

        if (rc == DP_OK && t && s && strcmp(t, type) == 0 && strcmp(s, "in-progress") == 0) {
            *action = json_incref(a);
            break;
        }
    }
    json_decref(all);
    if (rc == DP_OK && !*action)
        rc = dp_err_setc(err, DP_ECONFLICT, "unprocessable_entity",
                         "droplet %lld is busy with another action", id);
    return rc;
}

dp_rc dp_do_droplet_action(struct dp_do_client *c, long long id, const char *type, const char *name,
                           json_t **action, struct dp_err *err)
{
    char path[96];
    json_t *body = json_pack("{s:s}", "type", type), *ans = NULL;
    struct dp_do_fault f;
    dp_rc rc;

    *action = NULL;
    if (name && strcmp(type, "snapshot") == 0)
        json_object_set_new(body, "name", json_string(name));
    snprintf(path, sizeof(path), "/v2/droplets/%lld/actions", id);
    rc = dp_do_call(c, "POST", path, body, DP_DO_RETRY_SAFE, &ans, &f, err);
    json_decref(body);
    if (rc == DP_ECONFLICT && f.attempts > 1) /* our own earlier attempt may have started it */
        rc = find_pending(c, id, type, action, err);
    else if (rc == DP_OK)
        *action = json_incref(json_object_get(ans, "action"));
    json_decref(ans);
    if (rc == DP_OK && !*action)
        rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer", "the %s action has no action object",
                         type);
    return rc;
}

dp_rc dp_do_action_get(struct dp_do_client *c, long long action_id, json_t **out,
                       struct dp_err *err)
{
    char path[64];
    json_t *ans = NULL;
    dp_rc rc;

    *out = NULL;
    snprintf(path, sizeof(path), "/v2/actions/%lld", action_id);
    rc = dp_do_call(c, "GET", path, NULL, DP_DO_RETRY_SAFE, &ans, NULL, err);
    if (rc == DP_OK)
        *out = json_incref(json_object_get(ans, "action"));
    json_decref(ans);
    return rc;
}

dp_rc dp_do_droplet_snapshots(struct dp_do_client *c, long long id, json_t **out,
                              struct dp_err *err)
{
    char path[96];

    snprintf(path, sizeof(path), "/v2/droplets/%lld/snapshots", id);
    return dp_do_list(c, path, "snapshots", out, err);
}
