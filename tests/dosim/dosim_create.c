#include "dosim_create.h"

#include "dosim_droplet.h"
#include "dosim_model.h"
#include "dosim_tree.h"

#include "dp_json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_NAME   "Name Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)"
#define MSG_SIZE   "You specified an invalid size for Droplet creation."
#define MSG_IMAGE  "You specified an invalid image for Droplet creation."
#define MSG_REGION "You specified an invalid region for Droplet creation."

/* ^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$, at most 255. */
static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > DOSIM_NAME_MAX || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    }
    return true;
}

static const char *check_names(const json_t *body, struct dosim_create_plan *p)
{
    const json_t *names = json_object_get(body, "names"), *v;
    size_t i;

    if (!names || json_is_null(names)) {
        p->names[0] = json_string_value(json_object_get(body, "name"));
        p->count = 1;
        if (!p->names[0] || !*p->names[0])
            return "Name is required.";
        return name_ok(p->names[0]) ? NULL : MSG_NAME;
    }
    p->multi = true;
    if (!json_is_array(names) || json_array_size(names) == 0)
        return "Names must be a list of Droplet names.";
    if (json_array_size(names) > DOSIM_NAMES_MAX)
        return "You may only create up to 10 Droplets at a time.";
    json_array_foreach(names, i, v)
    {
        if (!name_ok(json_string_value(v)))
            return MSG_NAME;
        p->names[p->count++] = json_string_value(v);
    }
    return NULL;
}

/* An int id (public or private) or a public slug; a snapshot's name is not a slug. */
static struct dosim_image *find_image(const struct dosim *sim, const json_t *v)
{
    const char *s = json_string_value(v);
    char *end;
    long long id;

    if (json_is_integer(v))
        return dosim_image_find(&sim->st, json_integer_value(v));
    if (!s || !*s)
        return NULL;
    id = strtoll(s, &end, 10);
    if (!*end && id > 0)
        return dosim_image_find(&sim->st, id);
    return dosim_image_find_slug(&sim->st, s);
}

static bool region_fits(const struct dosim_region *r, const struct dosim_create_plan *p)
{
    return r->available && dosim_size_in_region(p->size, r) &&
           dosim_strs_has(p->image->regions, r->slug);
}

/* The region asked for: a slug, a prefix ("nyc": any datacentre there), or none (any). */
static const char *pick_region(const json_t *body, struct dosim_create_plan *p)
{
    const char *want = json_string_value(json_object_get(body, "region"));
    size_t n = want ? strlen(want) : 0;

    p->region = dosim_region_find(want);
    for (size_t i = 0; !p->region && i < dosim_regions_count; i++) {
        const struct dosim_region *r = &dosim_regions[i];

        if ((n == 0 || (strncmp(r->slug, want, n) == 0 && isalpha((unsigned char)want[n - 1]))) &&
            region_fits(r, p))
            p->region = r;
    }
    if (!p->region)
        return n ? MSG_REGION : "Region is not available";
    if (!p->region->available)
        return "Region is not available";
    if (!dosim_size_in_region(p->size, p->region))
        return "Size is not available in this region.";
    if (!dosim_strs_has(p->image->regions, p->region->slug))
        return "The image is not available in the selected region; transfer it first.";
    return NULL;
}

static void cat(char *buf, size_t size, const char *s)
{
    size_t n = strlen(buf);

    snprintf(buf + n, size - n, "%s", s);
}

static const char *check_keys(struct dosim *sim, const json_t *body, struct dosim_create_plan *p)
{
    const json_t *keys = json_object_get(body, "ssh_keys"), *v;
    char id[DOSIM_NAME_MAX + 1];
    size_t i;

    if (keys && !json_is_null(keys) && !json_is_array(keys))
        return "ssh_keys must be a list of key ids or fingerprints.";
    if (json_array_size(keys) > DOSIM_SSH_KEYS_MAX)
        return "Too many ssh_keys.";
    p->msg[0] = '\0';
    json_array_foreach(keys, i, v)
    {
        bool text = dp_json_scalar_text(id, sizeof(id), v);

        if (text && dosim_key_find(&sim->st, id))
            continue;
        cat(p->msg, sizeof(p->msg), p->msg[0] ? ", " : "");
        cat(p->msg, sizeof(p->msg), text ? id : "?");
    }
    if (!p->msg[0])
        return NULL;
    cat(p->msg, sizeof(p->msg), " are invalid key identifiers for Droplet creation.");
    return p->msg;
}

static const char *check_tags(const json_t *body, struct dosim_create_plan *p)
{
    const json_t *tags = json_object_get(body, "tags"), *v;
    size_t i;

    if (!tags || json_is_null(tags))
        return NULL;
    if (!json_is_array(tags) || json_array_size(tags) > DOSIM_RES_TAGS_MAX)
        return "tags must be a list of at most 64 tag names.";
    json_array_foreach(tags, i, v)
    {
        if (!json_is_string(v) || !dosim_tag_name_ok(json_string_value(v)))
            return "Tag names may only contain letters, numbers, colons, dashes and underscores, "
                   "up to 255 characters.";
    }
    p->tags = tags;
    return NULL;
}

static const char *check_extras(const json_t *body, struct dosim_create_plan *p)
{
    const json_t *ud = json_object_get(body, "user_data"), *vols = json_object_get(body, "volumes");
    bool agent = true;

    if (ud && !json_is_null(ud) && !json_is_string(ud))
        return "user_data must be a string.";
    p->user_data = json_string_value(ud);
    if (p->user_data && json_string_length(ud) > DOSIM_USER_DATA_MAX)
        return "user_data is limited to 64 KiB.";
    if (vols && !json_is_null(vols) && (!json_is_array(vols) || json_array_size(vols) > 0))
        return "You specified an invalid volume for Droplet creation.";
    if (dp_json_get_bool(&p->backups, body, "backups", false, NULL) ||
        dp_json_get_bool(&p->ipv6, body, "ipv6", false, NULL) ||
        dp_json_get_bool(&p->monitoring, body, "monitoring", false, NULL) ||
        dp_json_get_bool(&agent, body, "with_droplet_agent", true, NULL))
        return "backups, ipv6, monitoring and with_droplet_agent must be booleans.";
    p->agent = agent;
    return NULL;
}

/* Size, image and region, which depend on each other. */
static const char *check_placement(struct dosim *sim, const json_t *body,
                                   struct dosim_create_plan *p)
{
    const char *msg;

    p->size = dosim_size_find(json_string_value(json_object_get(body, "size")));
    if (!p->size)
        return MSG_SIZE;
    p->image = find_image(sim, json_object_get(body, "image"));
    if (!p->image)
        return MSG_IMAGE;
    msg = pick_region(body, p);
    if (msg)
        return msg;
    if (p->size->disk < p->image->min_disk_size) {
        snprintf(p->msg, sizeof(p->msg),
                 "The size is too small for this image: it needs a disk of at least %d GB.",
                 p->image->min_disk_size);
        return p->msg;
    }
    return NULL;
}

const char *dosim_create_check(struct dosim *sim, const json_t *body, struct dosim_create_plan *p)
{
    const char *msg;

    memset(p, 0, sizeof(*p));
    msg = check_names(body, p);
    if (!msg)
        msg = check_placement(sim, body, p);
    if (!msg)
        msg = check_keys(sim, body, p);
    if (!msg)
        msg = check_tags(body, p);
    if (!msg)
        msg = check_extras(body, p);
    if (!msg && sim->st.droplets.n + (size_t)p->count > (size_t)sim->conf.droplet_limit)
        msg = p->count > 1 ? "creating these droplets will exceed your droplet limit"
                           : "creating this droplet will exceed your droplet limit";
    return msg;
}

static void set_features(struct dosim_droplet *d, const struct dosim_create_plan *p)
{
    if (p->backups)
        json_array_append_new(d->features, json_string("backups"));
    if (p->ipv6)
        json_array_append_new(d->features, json_string("ipv6"));
    if (p->monitoring)
        json_array_append_new(d->features, json_string("monitoring"));
    json_array_append_new(d->features, json_string("private_networking"));
    if (p->agent)
        json_array_append_new(d->features, json_string("droplet_agent"));
}

/* Everything about a new droplet but its address; false without memory. */
static bool fill(struct dosim *sim, struct dosim_droplet *d, const struct dosim_create_plan *p,
                 const char *name)
{
    size_t i;
    const json_t *v;

    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->status, sizeof(d->status), "new");
    snprintf(d->ns, sizeof(d->ns), "do-%s-%lld", sim->sim_id, d->id);
    snprintf(d->dir, sizeof(d->dir), "%s/droplets/%lld", sim->state_dir, d->id);
    snprintf(d->private_ip, sizeof(d->private_ip), "10.116.%u.%u",
             (unsigned)((unsigned long long)d->id / 250 % 250),
             (unsigned)((unsigned long long)d->id % 250 + 2));
    d->region = p->region;
    d->size = p->size;
    d->image_id = p->image->id;
    d->image = dosim_image_json(p->image);
    set_features(d, p);
    json_array_foreach(p->tags, i, v)
    {
        struct dosim_tag *t = dosim_tag_ensure(&sim->st, json_string_value(v));

        if (t && !dosim_strs_has(d->tags, t->name))
            json_array_append_new(d->tags, json_string(t->name));
    }
    d->user_data = p->user_data ? strdup(p->user_data) : NULL;
    return d->image && (!p->user_data || d->user_data);
}

static json_t *action_link(const struct dosim_action *a, const char *base_url)
{
    char href[400];

    snprintf(href, sizeof(href), "%s/v2/actions/%lld", base_url, a->id);
    return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)a->id, "rel", "create", "href", href);
}

/* Puts d in the list with its create action; its address is already held. */
static dp_rc publish(struct dosim *sim, struct dosim_droplet *d, json_t *droplets, json_t *links,
                     const char *base_url, struct dp_err *err)
{
    struct dosim_action *a;
    dp_rc rc = dosim_mkdirs_abs(d->dir, 0755, err);

    if (rc)
        return rc;
    if (!dosim_vec_push(&sim->st.droplets, d))
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    a = dosim_action_start(sim, "create", "droplet", d->id, d->region);
    if (!a)
        return dp_err_set(err, DP_ETOOBIG, "too many actions");
    d->pending_action = a->id;
    dp_log(DP_LOG_INFO, &sim->log, "droplet %lld '%s' created ip=%s region=%s image=%lld", d->id,
           d->name, d->ip.addr, d->region->slug, d->image_id);
    json_array_append_new(droplets, dosim_droplet_json(d));
    json_array_append_new(links, action_link(a, base_url));
    return DP_OK;
}

dp_rc dosim_create_apply(json_t **out, struct dosim *sim, const struct dosim_create_plan *p,
                         const char *base_url, struct dp_err *err)
{
    struct dosim_droplet *made[DOSIM_NAMES_MAX] = {0};
    json_t *droplets = json_array(), *links = json_array();
    dp_rc rc = DP_OK;

    *out = NULL;
    for (int i = 0; i < p->count && !rc; i++) {
        made[i] = dosim_droplet_alloc(&sim->st);
        if (!made[i] || !fill(sim, made[i], p, p->names[i])) {
            rc = DP_ENOMEM;
            dp_err_set(err, rc, "out of memory");
        } else {
            rc = dosim_ip_acquire(&made[i]->ip, sim->conf.ip_lock_dir, NULL, err);
        }
    }
    for (int i = 0; i < p->count && !rc; i++) {
        if (made[i])
            rc = publish(sim, made[i], droplets, links, base_url, err);
    }
    for (int i = 0; rc && i < p->count; i++) {
        if (made[i]) { /* their create actions, if queued, find no droplet and end errored */
            dosim_vec_remove(&sim->st.droplets, made[i]);
            dosim_ip_release(&made[i]->ip);
            dosim_droplet_unref(made[i]);
        }
    }
    if (!rc && p->multi)
        *out = json_pack("{s:o, s:{s:o}}", "droplets", droplets, "links", "actions", links);
    else if (!rc)
        *out = json_pack("{s:O, s:{s:o}}", "droplet", json_array_get(droplets, 0), "links",
                         "actions", links);
    if (rc || !p->multi)
        json_decref(droplets);
    if (rc)
        json_decref(links);
    dosim_changed(sim);
    return rc;
}
