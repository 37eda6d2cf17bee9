#include "dosim_persist.h"

#include "dosim_limits.h"
#include "dosim_model.h"

#include "dp_clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_VERSION 1

static json_t *droplet_out(const struct dosim_droplet *d)
{
    return json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:s, s:I, s:O, s:O, s:O, s:O, s:s?, s:s, "
                     "s:s, s:s, s:s, s:I, s:b, s:i, s:i, s:i}",
                     "id", (json_int_t)d->id, "name", d->name, "status", d->status, "locked",
                     d->locked, "created_at", d->created_at, "region", d->region->slug, "size",
                     d->size->slug, "image_id", (json_int_t)d->image_id, "image", d->image, "tags",
                     d->tags, "snapshot_ids", d->snapshot_ids, "features", d->features, "user_data",
                     d->user_data, "ip", d->ip.addr, "private_ip", d->private_ip, "namespace",
                     d->ns, "dir", d->dir, "pending_action", (json_int_t)d->pending_action,
                     "agent_wanted", d->agent_wanted, "ci", (int)d->ci, "ci_skipped", d->ci_skipped,
                     "ci_failed", d->ci_failed);
}

static json_t *image_out(const struct dosim_image *im)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:O, s:s, s:i, s:f, s:O, s:s, s:I, s:s}", "id",
                     (json_int_t)im->id, "name", im->name, "type", im->type, "distribution",
                     im->distribution, "regions", im->regions, "created_at", im->created_at,
                     "min_disk_size", im->min_disk_size, "size_gigabytes", im->size_gigabytes,
                     "tags", im->tags, "description", im->description, "source_droplet",
                     (json_int_t)im->source_droplet, "dir", im->dir);
}

static json_t *action_out(const struct dosim_action *a)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:s}", "id", (json_int_t)a->id,
                     "status", a->status, "type", a->type, "started_at", a->started_at,
                     "completed_at", a->completed_at, "resource_id", (json_int_t)a->resource_id,
                     "resource_type", a->resource_type, "region",
                     a->region ? a->region->slug : NULL, "arg", a->arg);
}

static json_t *state_out(const struct dosim *sim)
{
    const struct dosim_state *st = &sim->st;
    json_t *ds = json_array(), *ims = json_array(), *as = json_array(), *ks = json_array(),
           *ts = json_array();

    for (size_t i = 0; i < st->droplets.n; i++)
        json_array_append_new(ds, droplet_out(st->droplets.v[i]));
    for (size_t i = 0; i < st->images.n; i++) {
        const struct dosim_image *im = st->images.v[i];

        if (!im->public_)
            json_array_append_new(ims, image_out(im));
    }
    for (size_t i = 0; i < st->actions.n; i++)
        json_array_append_new(as, action_out(st->actions.v[i]));
    for (size_t i = 0; i < st->keys.n; i++)
        json_array_append_new(ks, dosim_key_json(st->keys.v[i]));
    for (size_t i = 0; i < st->tags.n; i++)
        json_array_append_new(ts, json_string(((struct dosim_tag *)st->tags.v[i])->name));
    return json_pack("{s:i, s:s, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:o, s:o}", "version",
                     STATE_VERSION, "sim_id", sim->sim_id, "next", "droplet",
                     (json_int_t)st->next_droplet, "image", (json_int_t)st->next_image, "action",
                     (json_int_t)st->next_action, "key", (json_int_t)st->next_key, "droplets", ds,
                     "images", ims, "actions", as, "keys", ks, "tags", ts);
}

dp_rc dosim_persist_save(struct dosim *sim, struct dp_err *err)
{
    char path[DOSIM_FILE_MAX], tmp[DOSIM_FILE_MAX];
    json_t *doc = state_out(sim);
    int rc;

    snprintf(path, sizeof(path), "%s/state.json", sim->state_dir);
    snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", sim->state_dir);
    rc = doc ? json_dump_file(doc, tmp, JSON_COMPACT) : -1;
    json_decref(doc);
    if (rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return dp_err_set(err, DP_EIO, "cannot write %s", path);
    }
    return DP_OK;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

static long long num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static json_t *arr(const json_t *o, const char *k)
{
    json_t *a = json_object_get(o, k);

    return json_is_array(a) ? json_deep_copy(a) : json_array();
}

static void load_droplet_fields(struct dosim_droplet *d, const json_t *o)
{
    snprintf(d->name, sizeof(d->name), "%s", str(o, "name"));
    snprintf(d->status, sizeof(d->status), "%s", str(o, "status"));
    snprintf(d->created_at, sizeof(d->created_at), "%s", str(o, "created_at"));
    snprintf(d->private_ip, sizeof(d->private_ip), "%s", str(o, "private_ip"));
    snprintf(d->ns, sizeof(d->ns), "%s", str(o, "namespace"));
    snprintf(d->dir, sizeof(d->dir), "%s", str(o, "dir"));
    d->locked = json_is_true(json_object_get(o, "locked"));
    d->image_id = num(o, "image_id");
    d->pending_action = num(o, "pending_action");
    d->agent_wanted = json_is_true(json_object_get(o, "agent_wanted"));
    d->ci = (enum dosim_ci_state)num(o, "ci");
    d->ci_skipped = (int)num(o, "ci_skipped");
    d->ci_failed = (int)num(o, "ci_failed");
    json_decref(d->tags);
    json_decref(d->snapshot_ids);
    json_decref(d->features);
    d->tags = arr(o, "tags");
    d->snapshot_ids = arr(o, "snapshot_ids");
    d->features = arr(o, "features");
    d->image = json_deep_copy(json_object_get(o, "image"));
    if (json_is_string(json_object_get(o, "user_data")))
        d->user_data = strdup(str(o, "user_data"));
}

static dp_rc load_droplet(struct dosim *sim, const json_t *o, struct dp_err *err)
{
    struct dosim_droplet *d = dosim_droplet_alloc(&sim->st);

    if (!d)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    d->id = num(o, "id");
    d->region = dosim_region_find(str(o, "region"));
    d->size = dosim_size_find(str(o, "size"));
    load_droplet_fields(d, o);
    if (!d->region || !d->size || !d->image || !dosim_vec_push(&sim->st.droplets, d)) {
        dosim_droplet_unref(d);
        return dp_err_set(err, DP_EINVAL, "state.json: droplet %lld is damaged", num(o, "id"));
    }
    if (dosim_ip_acquire(&d->ip, sim->conf.ip_lock_dir, str(o, "ip"), err))
        dp_log(DP_LOG_WARN, &sim->log, "droplet %lld keeps no address: %s", d->id, err->msg);
    else if (strcmp(d->ip.addr, str(o, "ip")) != 0)
        dp_log(DP_LOG_WARN, &sim->log, "droplet %lld: %s is taken; now %s", d->id, str(o, "ip"),
               d->ip.addr);
    return DP_OK;
}

static dp_rc load_image(struct dosim *sim, const json_t *o, struct dp_err *err)
{
    struct dosim_image *im = dosim_image_alloc(&sim->st);

    if (!im)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    im->id = num(o, "id");
    snprintf(im->name, sizeof(im->name), "%s", str(o, "name"));
    snprintf(im->type, sizeof(im->type), "%s", str(o, "type"));
    snprintf(im->distribution, sizeof(im->distribution), "%s", str(o, "distribution"));
    snprintf(im->created_at, sizeof(im->created_at), "%s", str(o, "created_at"));
    snprintf(im->description, sizeof(im->description), "%s", str(o, "description"));
    snprintf(im->dir, sizeof(im->dir), "%s", str(o, "dir"));
    json_decref(im->regions);
    json_decref(im->tags);
    im->regions = arr(o, "regions");
    im->tags = arr(o, "tags");
    im->min_disk_size = (int)num(o, "min_disk_size");
    im->size_gigabytes = json_number_value(json_object_get(o, "size_gigabytes"));
    im->source_droplet = num(o, "source_droplet");
    if (!dosim_vec_push(&sim->st.images, im)) {
        dosim_image_free(im);
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    return DP_OK;
}

static dp_rc load_action(struct dosim *sim, const json_t *o, struct dp_err *err)
{
    struct dosim_action *a =
        dosim_action_add(&sim->st, str(o, "type"), str(o, "resource_type"), num(o, "resource_id"),
                         dosim_region_find(str(o, "region")), dp_mono_ms());

    if (!a)
        return dp_err_set(err, DP_ENOMEM, "too many actions in state.json");
    a->id = num(o, "id");
    snprintf(a->status, sizeof(a->status), "%s", str(o, "status"));
    snprintf(a->started_at, sizeof(a->started_at), "%s", str(o, "started_at"));
    snprintf(a->completed_at, sizeof(a->completed_at), "%s", str(o, "completed_at"));
    snprintf(a->arg, sizeof(a->arg), "%s", str(o, "arg"));
    if (strcmp(a->status, "in-progress") == 0 && !dosim_vec_push(&sim->pending, a))
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    return DP_OK;
}

static dp_rc load_key(struct dosim *sim, const json_t *o, struct dp_err *err)
{
    struct dosim_key *k = calloc(1, sizeof(*k));

    if (!k || !(k->public_key = strdup(str(o, "public_key"))) ||
        !dosim_vec_push(&sim->st.keys, k)) {
        if (k)
            free(k->public_key);
        free(k);
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    }
    k->id = num(o, "id");
    snprintf(k->name, sizeof(k->name), "%s", str(o, "name"));
    snprintf(k->fingerprint, sizeof(k->fingerprint), "%s", str(o, "fingerprint"));
    return DP_OK;
}

static dp_rc load_list(struct dosim *sim, const json_t *doc, const char *key,
                       dp_rc (*one)(struct dosim *, const json_t *, struct dp_err *),
                       struct dp_err *err)
{
    size_t i;
    const json_t *o;

    json_array_foreach(json_object_get(doc, key), i, o)
    {
        dp_rc rc = one(sim, o, err);

        if (rc)
            return rc;
    }
    return DP_OK;
}

static dp_rc load_tag(struct dosim *sim, const json_t *o, struct dp_err *err)
{
    if (json_is_string(o) && !dosim_tag_ensure(&sim->st, json_string_value(o)))
        return dp_err_set(err, DP_ENOMEM, "too many tags in state.json");
    return DP_OK;
}

static dp_rc load_all(struct dosim *sim, const json_t *doc, struct dp_err *err)
{
    dp_rc rc = load_list(sim, doc, "images", load_image, err);

    if (!rc)
        rc = load_list(sim, doc, "actions", load_action, err);
    if (!rc)
        rc = load_list(sim, doc, "keys", load_key, err);
    if (!rc)
        rc = load_list(sim, doc, "tags", load_tag, err);
    if (!rc)
        rc = load_list(sim, doc, "droplets", load_droplet, err);
    return rc;
}

dp_rc dosim_persist_load(struct dosim *sim, struct dp_err *err)
{
    char path[DOSIM_FILE_MAX];
    json_error_t jerr;
    json_t *doc, *next;
    dp_rc rc;

    snprintf(path, sizeof(path), "%s/state.json", sim->state_dir);
    if (access(path, F_OK) != 0)
        return DP_OK;
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc) || num(doc, "version") != STATE_VERSION) {
        json_decref(doc);
        return dp_err_set(err, DP_EINVAL, "%s is not a dosim state file (line %d)", path,
                          jerr.line);
    }
    snprintf(sim->sim_id, sizeof(sim->sim_id), "%.6s", str(doc, "sim_id"));
    rc = load_all(sim, doc, err);
    next = json_object_get(doc, "next");
    sim->st.next_droplet = num(next, "droplet");
    sim->st.next_image = num(next, "image");
    sim->st.next_action = num(next, "action");
    sim->st.next_key = num(next, "key");
    json_decref(doc);
    return rc;
}
