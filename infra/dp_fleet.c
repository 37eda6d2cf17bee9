#include "dp_fleet.h"
#include "dp_clock.h"

#include "dp_do_account.h"
#include "dp_do_droplet.h"
#include "dp_do_image.h"
#include "dp_key.h"
#include "dp_tlsgen.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dp_rc need_cloud(const struct dp_fleet *f, struct dp_err *err)
{
    if (f->cloud)
        return DP_OK;
    return dp_err_setc(err, DP_EUNAVAIL, "no_cloud",
                       "no DigitalOcean token is set (settings or DO_TOKEN)");
}

void dp_fleet_agent_version(char *out, size_t size, const char *image_name)
{
    dp_snapshot_agent_version(out, size, image_name);
}

/* ---- planning ---- */

static dp_rc pick_snapshot(struct dp_fleet_plan *p, const struct dp_fleet *f, const char *id,
                           struct dp_err *err)
{
    json_t *all = NULL;
    dp_rc rc;

    if (id && *id)
        return dp_do_image_get(f->cloud, id, &p->image, err);
    rc = dp_do_images_private(f->cloud, &all, err);
    if (rc == DP_OK)
        p->image = dp_snapshot_newest_base(all);
    json_decref(all);
    if (rc == DP_OK && !p->image)
        rc = dp_err_setc(err, DP_ENOTFOUND, "no_snapshot",
                         "no base snapshot exists; create one first (setup) or give snapshot_id");
    return rc;
}

static bool offered_in(const json_t *size, const char *region)
{
    json_t *r;
    size_t i;

    json_array_foreach(json_object_get(size, "regions"), i, r)
    {
        if (json_is_string(r) && strcmp(json_string_value(r), region) == 0)
            return true;
    }
    return false;
}

static double price_of(const json_t *size)
{
    return json_number_value(json_object_get(size, "price_monthly"));
}

/* Puts c into list before the first dearer size (stable: equal prices keep DigitalOcean's order).
 */
static void insert_by_price(json_t *list, json_t *c)
{
    size_t at = 0;

    while (at < json_array_size(list) && price_of(json_array_get(list, at)) <= price_of(c))
        at++;
    json_array_insert_new(list, at, c);
}

/* A size with only what choosing one needs; NULL when it cannot be created now. */
static json_t *size_choice(const json_t *s)
{
    static const char *const keep[] = {"description", "memory",        "vcpus",
                                       "disk",        "price_monthly", "regions"};
    json_t *c;

    if (!json_is_true(json_object_get(s, "available")) ||
        !json_is_string(json_object_get(s, "slug")))
        return NULL;
    c = json_pack("{s:O}", "slug", json_object_get(s, "slug"));
    for (size_t k = 0; c && k < sizeof(keep) / sizeof(keep[0]); k++) {
        if (json_object_get(s, keep[k]))
            json_object_set(c, keep[k], json_object_get(s, keep[k]));
    }
    return c;
}

/* The sizes one can create now, cheapest first. */
static dp_rc available_sizes(json_t **out, const struct dp_fleet *f, struct dp_err *err)
{
    json_t *all = NULL, *s, *c;
    size_t i;
    dp_rc rc = dp_do_sizes(f->cloud, &all, err);

    *out = rc ? NULL : json_array();
    if (rc == DP_OK && !*out)
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    json_array_foreach(*out ? all : NULL, i, s)
    {
        if ((c = size_choice(s)))
            insert_by_price(*out, c);
    }
    json_decref(all);
    return rc;
}

static dp_rc pick_size(struct dp_fleet_plan *p, const struct dp_fleet *f, struct dp_err *err)
{
    long long min_disk = json_integer_value(json_object_get(p->image, "min_disk_size"));
    json_t *sizes = NULL, *s;
    size_t i;
    dp_rc rc = available_sizes(&sizes, f, err);

    p->size[0] = '\0';
    json_array_foreach(sizes, i, s)
    {
        if (offered_in(s, p->region) &&
            json_integer_value(json_object_get(s, "disk")) >= min_disk) {
            snprintf(p->size, sizeof(p->size), "%s", json_string_value(json_object_get(s, "slug")));
            break;
        }
    }
    json_decref(sizes);
    if (rc == DP_OK && !p->size[0])
        rc = dp_err_setc(err, DP_ENOTFOUND, "no_size", "no size offered in %s holds the snapshot",
                         p->region);
    return rc;
}

dp_rc dp_fleet_snapshot_arg(char *buf, const json_t *v, struct dp_err *err)
{
    const char *str = json_string_value(v);

    buf[0] = '\0';
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        snprintf(buf, DP_FLEET_SNAPSHOT_ID_MAX, "%lld", (long long)json_integer_value(v));
        return DP_OK;
    }
    if (!v || json_is_null(v))
        return DP_OK;
    if (!str || !*str || strlen(str) >= DP_FLEET_SNAPSHOT_ID_MAX ||
        strspn(str, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(str))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "snapshot_id must be a snapshot's id (a number) or slug, at most %d "
                           "characters",
                           DP_FLEET_SNAPSHOT_ID_MAX - 1);
    snprintf(buf, DP_FLEET_SNAPSHOT_ID_MAX, "%s", str);
    return DP_OK;
}

dp_rc dp_fleet_plan_make(struct dp_fleet_plan *p, const struct dp_fleet *f, const char *snapshot_id,
                         const char *region, const char *size, struct dp_err *err)
{
    const char *r;
    dp_rc rc;

    memset(p, 0, sizeof(*p));
    rc = need_cloud(f, err);
    if (!rc)
        rc = pick_snapshot(p, f, snapshot_id, err);
    if (rc)
        return rc;
    snprintf(p->image_id, sizeof(p->image_id), "%lld",
             (long long)json_integer_value(json_object_get(p->image, "id")));
    snprintf(p->image_name, sizeof(p->image_name), "%s",
             json_string_value(json_object_get(p->image, "name")));
    r = region && *region
            ? region
            : json_string_value(json_array_get(json_object_get(p->image, "regions"), 0));
    if (!r)
        return dp_err_setc(err, DP_EINVAL, "no_region", "the snapshot is in no region");
    snprintf(p->region, sizeof(p->region), "%s", r);
    if (size && *size) {
        snprintf(p->size, sizeof(p->size), "%s", size);
        return DP_OK;
    }
    return pick_size(p, f, err);
}

void dp_fleet_plan_clear(struct dp_fleet_plan *p)
{
    json_decref(p->image);
    p->image = NULL;
}

/* ---- creating ---- */

/* One request's user-data: a fresh certificate for its agents and the user's key. */
static dp_rc batch_user_data(struct dp_buf *ud, char *pin, const struct dp_fleet *f,
                             const struct dp_user *user, const char *cn, struct dp_err *err)
{
    char key[DP_DERIVED_KEY_LEN + 1];
    struct dp_buf cert, tlskey;
    dp_rc rc = dp_key_derive(key, f->do_token, (unsigned long long)user->id, err);

    dp_buf_init(&cert, 0);
    dp_buf_init(&tlskey, 0);
    if (!rc)
        rc = dp_tlsgen_self_signed(&cert, &tlskey, pin, cn, NULL, err);
    if (!rc)
        rc = f->render(f->render_ud, ud, key, cert.data, tlskey.data, err);
    dp_tlsgen_wipe(&tlskey);
    dp_buf_clear(&cert);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

static dp_rc remember(const struct dp_fleet *f, const struct dp_fleet_plan *p, const json_t *drop,
                      const struct dp_user *user, const char *pin, struct dp_err *err)
{
    struct dp_server s = {0};

    s.droplet_id = dp_do_droplet_id(drop);
    snprintf(s.name, sizeof(s.name), "%s", json_string_value(json_object_get(drop, "name")));
    snprintf(s.region, sizeof(s.region), "%s", p->region);
    snprintf(s.size, sizeof(s.size), "%s", p->size);
    s.image_id = strtoll(p->image_id, NULL, 10);
    snprintf(s.image_name, sizeof(s.image_name), "%s", p->image_name);
    s.owner_id = user->id;
    snprintf(s.tls_pin, sizeof(s.tls_pin), "%s", pin);
    snprintf(s.status, sizeof(s.status), "new");
    return dp_store_server_put(f->store, &s, err);
}

static dp_rc create_batch(const struct dp_fleet *f, const struct dp_fleet_plan *p,
                          const struct dp_user *user, const char *prefix,
                          const struct dp_do_create *base, int from, int n, json_t *made,
                          struct dp_err *err)
{
    char names[DP_DO_CREATE_BATCH][96], pin[64], cn[96];
    const char *np[DP_DO_CREATE_BATCH];
    struct dp_do_create req = *base;
    struct dp_buf ud;
    json_t *got = NULL, *drop;
    size_t i;
    dp_rc rc;

    for (int k = 0; k < n; k++) {
        snprintf(names[k], sizeof(names[k]), "%.60s-%d", prefix, from + k + 1);
        np[k] = names[k];
    }
    snprintf(cn, sizeof(cn), "%.60s", prefix);
    dp_buf_init(&ud, 0);
    rc = batch_user_data(&ud, pin, f, user, cn, err);
    req.names = np;
    req.count = (size_t)n;
    req.user_data = ud.data;
    if (!rc)
        rc = dp_do_droplets_create(f->cloud, &req, &got, err);
    if (ud.data) /* it held the user's agent key */
        OPENSSL_cleanse(ud.data, ud.len);
    dp_buf_clear(&ud);
    json_array_foreach(got, i, drop)
    {
        /* Even after a failure, what was made is remembered: kept, listed, deletable. */
        dp_rc r2 = remember(f, p, drop, user, pin, rc ? NULL : err);

        json_array_append(made, drop);
        if (!rc)
            rc = r2;
    }
    json_decref(got);
    return rc;
}

dp_rc dp_fleet_create(const struct dp_fleet *f, const struct dp_fleet_plan *p,
                      const struct dp_user *user, const char *prefix, const char *const *tags,
                      size_t ntags, int n, json_t **made, struct dp_err *err)
{
    struct dp_do_create base = {
        .region = p->region, .size = p->size, .image = p->image_id, .tags = tags, .ntags = ntags};
    dp_rc rc = need_cloud(f, err);

    *made = json_array();
    for (int from = 0; rc == DP_OK && from < n; from += DP_DO_CREATE_BATCH) {
        int k = n - from < DP_DO_CREATE_BATCH ? n - from : DP_DO_CREATE_BATCH;

        rc = create_batch(f, p, user, prefix, &base, from, k, *made, err);
    }
    dp_memo_forget(f->listing);
    return rc;
}

/* ---- listing, deleting ---- */

static json_t *server_json(const struct dp_server *s, const char *status, bool here)
{
    char ver[64], created[32];

    dp_fleet_agent_version(ver, sizeof(ver), s->image_name);
    dp_unix_rfc3339(created, sizeof(created), s->created_at);
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}, s:s, s:b, s:s?}", "id",
                     (json_int_t)s->droplet_id, "name", s->name, "ip", s->ip, "region", s->region,
                     "size", s->size, "status", status, "image", "id", (json_int_t)s->image_id,
                     "name", s->image_name, "agent_version", ver, "managed_here", here,
                     "created_at", s->created_at ? created : NULL);
}

/* Refreshes the store from one droplet and gives its entry. */
static json_t *merge_droplet(const struct dp_fleet *f, const json_t *d)
{
    struct dp_server s = {0};
    bool here = dp_store_server_by_id(f->store, dp_do_droplet_id(d), &s, NULL) == DP_OK;
    json_t *img = json_object_get(d, "image"), *out;

    if (!here) {
        s.droplet_id = dp_do_droplet_id(d);
        snprintf(s.name, sizeof(s.name), "%s", json_string_value(json_object_get(d, "name")));
        s.image_id = json_integer_value(json_object_get(img, "id"));
        snprintf(s.image_name, sizeof(s.image_name), "%s",
                 json_string_value(json_object_get(img, "name")));
        snprintf(s.region, sizeof(s.region), "%s",
                 json_string_value(json_object_get(json_object_get(d, "region"), "slug")));
        snprintf(s.size, sizeof(s.size), "%s", json_string_value(json_object_get(d, "size_slug")));
    }
    dp_do_droplet_public_ip(d, s.ip, sizeof(s.ip));
    snprintf(s.status, sizeof(s.status), "%s", dp_do_droplet_status(d));
    if (here)
        dp_store_server_put(f->store, &s, NULL);
    out = server_json(&s, dp_do_droplet_status(d), here);
    if (!here && json_is_string(json_object_get(d, "created_at"))) /* the cloud's own time */
        json_object_set(out, "created_at", json_object_get(d, "created_at"));
    return out;
}

static dp_rc servers_from_store(json_t *list, const struct dp_fleet *f, struct dp_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    dp_rc rc = dp_store_servers(f->store, &rows, err);

    json_array_foreach(rows, i, r)
    {
        /* The same shape as with a cloud, from what we last saw (no pins or owners leak). */
        struct dp_server v = {.droplet_id = json_integer_value(json_object_get(r, "droplet_id")),
                              .image_id = json_integer_value(json_object_get(r, "image_id")),
                              .created_at = json_integer_value(json_object_get(r, "created_at"))};

        snprintf(v.name, sizeof(v.name), "%s", json_string_value(json_object_get(r, "name")));
        snprintf(v.ip, sizeof(v.ip), "%s", json_string_value(json_object_get(r, "ip")));
        snprintf(v.region, sizeof(v.region), "%s", json_string_value(json_object_get(r, "region")));
        snprintf(v.size, sizeof(v.size), "%s", json_string_value(json_object_get(r, "size")));
        snprintf(v.image_name, sizeof(v.image_name), "%s",
                 json_string_value(json_object_get(r, "image_name")));
        json_array_append_new(
            list, server_json(&v, json_string_value(json_object_get(r, "status")), true));
    }
    json_decref(rows);
    return rc;
}

static dp_rc list_servers(json_t **out, void *ud, struct dp_err *err)
{
    const struct dp_fleet *f = ud;
    json_t *drops = NULL, *list = json_array(), *d;
    size_t i;
    dp_rc rc;

    *out = NULL;
    if (!f->cloud)
        rc = servers_from_store(list, f, err);
    else
        rc = dp_do_droplets_list(f->cloud, NULL, false, &drops, err);
    json_array_foreach(drops, i, d)
    {
        json_array_append_new(list, merge_droplet(f, d));
    }
    json_decref(drops);
    if (rc == DP_OK)
        *out = json_pack("{s:O}", "servers", list);
    json_decref(list);
    return rc;
}

dp_rc dp_fleet_servers(json_t **out, const struct dp_fleet *f, struct dp_err *err)
{
    if (!f->listing)
        return list_servers(out, (void *)f, err);
    return dp_memo_get(f->listing, out, list_servers, (void *)f, err);
}

dp_rc dp_fleet_delete(const struct dp_fleet *f, long long droplet_id, struct dp_err *err)
{
    dp_rc rc = need_cloud(f, err);

    if (!rc)
        rc = dp_do_droplet_delete(f->cloud, droplet_id, false, err);
    if (!rc)
        rc = dp_store_server_delete(f->store, droplet_id, err);
    dp_memo_forget(f->listing);
    return rc == DP_ENOTFOUND ? DP_OK : rc;
}

dp_rc dp_fleet_sizes(json_t **out, const struct dp_fleet *f, struct dp_err *err)
{
    json_t *list = NULL;
    dp_rc rc = need_cloud(f, err);

    *out = NULL;
    if (rc == DP_OK)
        rc = available_sizes(&list, f, err);
    if (rc == DP_OK && !(*out = json_pack("{s:o}", "sizes", list)))
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    return rc;
}

/* ---- snapshots (the snapshot service's) ---- */

dp_rc dp_fleet_snapshots(json_t **out, const struct dp_fleet *f, struct dp_err *err)
{
    dp_rc rc = need_cloud(f, err);

    *out = NULL;
    return rc ? rc : dp_snapshot_list(out, f->cloud, err);
}

dp_rc dp_fleet_transfer_all(json_t **out, const struct dp_fleet *f, long long image_id,
                            struct dp_err *err)
{
    struct dp_snapshot_env env = {.cloud = f->cloud};
    char id[32];
    dp_rc rc = need_cloud(f, err);

    *out = NULL;
    snprintf(id, sizeof(id), "%lld", image_id);
    return rc ? rc : dp_snapshot_transfer(out, &env, id, NULL, 0, true, false, 0, err);
}

dp_rc dp_fleet_snapshot_delete(const struct dp_fleet *f, long long image_id, struct dp_err *err)
{
    dp_rc rc = need_cloud(f, err);

    return rc ? rc : dp_do_image_delete(f->cloud, image_id, err);
}

dp_rc dp_fleet_setup_status(json_t **out, const struct dp_fleet *f, struct dp_err *err)
{
    dp_rc rc = need_cloud(f, err);

    *out = NULL;
    return rc ? rc : dp_snapshot_status(out, f->cloud, NULL, err);
}
