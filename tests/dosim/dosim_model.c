#include "dosim_model.h"

#include <stdio.h>
#include <string.h>

json_t *dosim_image_json(const struct dosim_image *im)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:b, s:O, s:s, s:i, s:f, s:s, s:O, s:s, s:s}", "id",
                     (json_int_t)im->id, "name", im->name, "type", im->type, "distribution",
                     im->distribution, "slug", im->slug[0] ? json_string(im->slug) : json_null(),
                     "public", im->public_, "regions", im->regions, "created_at", im->created_at,
                     "min_disk_size", im->min_disk_size, "size_gigabytes", im->size_gigabytes,
                     "description", im->description, "tags", im->tags, "status", "available",
                     "error_message", "");
}

static json_t *networks_json(const struct dosim_droplet *d)
{
    json_t *v4 = json_array();

    /* No addresses until the droplet is up; the private one first, as in the spec's example:
     * clients must choose by type, never by index. */
    if (strcmp(d->status, "new") != 0 && d->ip.addr[0]) {
        json_array_append_new(v4, json_pack("{s:s, s:s, s:s, s:s}", "ip_address", d->private_ip,
                                            "netmask", "255.255.240.0", "gateway", "nil", "type",
                                            "private"));
        json_array_append_new(v4,
                              json_pack("{s:s, s:s, s:s, s:s}", "ip_address", d->ip.addr, "netmask",
                                        "255.0.0.0", "gateway", "127.0.0.1", "type", "public"));
    }
    return json_pack("{s:o, s:[]}", "v4", v4, "v6");
}

json_t *dosim_droplet_json(const struct dosim_droplet *d)
{
    json_t *o = json_pack(
        "{s:I, s:s, s:i, s:i, s:i, s:[{s:s, s:{s:i, s:s}}], s:b, s:s, s:n, "
        "s:s, s:O, s:[], s:n, s:O, s:O, s:[], s:o, s:s, s:o, s:o, s:O, s:s}",
        "id", (json_int_t)d->id, "name", d->name, "memory", d->size->memory, "vcpus",
        d->size->vcpus, "disk", d->size->disk, "disk_info", "type", "local", "size", "amount",
        d->size->disk, "unit", "gib", "locked", d->locked, "status", d->status, "kernel",
        "created_at", d->created_at, "features", d->features, "backup_ids", "next_backup_window",
        "snapshot_ids", d->snapshot_ids, "image", d->image, "volume_ids", "size",
        dosim_size_json(d->size), "size_slug", d->size->slug, "networks", networks_json(d),
        "region", dosim_region_json(d->region), "tags", d->tags, "vpc_uuid", d->region->vpc_uuid);
    return o;
}

json_t *dosim_action_json(const struct dosim_action *a)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:o}", "id", (json_int_t)a->id,
                     "status", a->status, "type", a->type, "started_at", a->started_at,
                     "completed_at",
                     a->completed_at[0] ? json_string(a->completed_at) : json_null(), "resource_id",
                     (json_int_t)a->resource_id, "resource_type", a->resource_type, "region",
                     a->region ? dosim_region_json(a->region) : json_null(), "region_slug",
                     a->region ? json_string(a->region->slug) : json_null());
}

json_t *dosim_key_json(const struct dosim_key *k)
{
    return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)k->id, "fingerprint", k->fingerprint,
                     "public_key", k->public_key, "name", k->name);
}

static json_t *tag_meta(long long count, const char *base_url, const char *kind, long long last)
{
    char uri[512];

    if (!count)
        return json_pack("{s:i}", "count", 0);
    snprintf(uri, sizeof(uri), "%s/v2/%s/%lld", base_url, kind, last);
    return json_pack("{s:I, s:s}", "count", (json_int_t)count, "last_tagged_uri", uri);
}

json_t *dosim_tag_json(const struct dosim_state *st, const struct dosim_tag *t,
                       const char *base_url)
{
    long long nd, ld, ni, li;
    json_t *res;

    dosim_tag_counts(st, t->name, &nd, &ld, &ni, &li);
    res = nd ? tag_meta(nd + ni, base_url, "droplets", ld) : tag_meta(ni, base_url, "images", li);
    json_object_set_new(res, "droplets", tag_meta(nd, base_url, "droplets", ld));
    json_object_set_new(res, "images", tag_meta(ni, base_url, "images", li));
    json_object_set_new(res, "volumes", json_pack("{s:i}", "count", 0));
    json_object_set_new(res, "volume_snapshots", json_pack("{s:i}", "count", 0));
    json_object_set_new(res, "databases", json_pack("{s:i}", "count", 0));
    return json_pack("{s:s, s:o}", "name", t->name, "resources", res);
}

json_t *dosim_snapshot_json(const struct dosim_image *im)
{
    char id[32], rid[32];

    snprintf(id, sizeof(id), "%lld", im->id);
    snprintf(rid, sizeof(rid), "%lld", im->source_droplet);
    return json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:i, s:f, s:O}", "id", id, "name", im->name,
                     "created_at", im->created_at, "regions", im->regions, "resource_id", rid,
                     "resource_type", "droplet", "min_disk_size", im->min_disk_size,
                     "size_gigabytes", im->size_gigabytes, "tags", im->tags);
}

json_t *dosim_droplet_snapshot_json(const struct dosim_image *im)
{
    return json_pack("{s:I, s:s, s:s, s:O, s:i, s:f, s:s}", "id", (json_int_t)im->id, "name",
                     im->name, "created_at", im->created_at, "regions", im->regions,
                     "min_disk_size", im->min_disk_size, "size_gigabytes", im->size_gigabytes,
                     "type", "snapshot");
}
