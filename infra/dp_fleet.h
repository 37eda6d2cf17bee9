/* The platform's servers and snapshots on DigitalOcean: picking a snapshot, region and size,
 * creating servers with provision-time user-data, listing what exists (DigitalOcean's view merged
 * with what the controller remembers), deleting, snapshots and their transfers, setup status. */
#ifndef DP_FLEET_H
#define DP_FLEET_H

#include "dp_buf.h"
#include "dp_do.h"
#include "dp_err.h"
#include "dp_memo.h"
#include "dp_snapshot.h"
#include "dp_store.h"

#include <jansson.h>
#include <stddef.h>

/* Renders provision-time user-data for an agent key and certificate (cloudinit's renderer,
 * given by the program with what else goes in: the addresses agents admit, a git CA). */
typedef dp_rc (*dp_render_user_data_fn)(void *ud, struct dp_buf *out, const char *agent_key,
                                        const char *cert_pem, const char *key_pem,
                                        struct dp_err *err);

struct dp_fleet {
    struct dp_store *store;
    struct dp_do_client *cloud; /* NULL: no DigitalOcean */
    const char *do_token;       /* derives agent keys; never logged */
    dp_render_user_data_fn render;
    void *render_ud;         /* what render needs besides (the program's context) */
    struct dp_memo *listing; /* shares server listings for a moment (NULL: each asks the cloud) */
};

/* How long a server listing is shared: a page polling new servers, or many pages at once, cost
 * DigitalOcean one listing per this (its limit is 250 requests a minute per token). */
#define DP_FLEET_LISTING_TTL_MS 2000

/* Where new servers go: a snapshot (the newest base one unless snapshot_id is given), its first
 * region unless region is given, the cheapest size that holds it unless size is given. */
struct dp_fleet_plan {
    json_t *image;
    char image_id[32], image_name[256], region[64], size[64];
};

/* A request's snapshot_id (a number, or a string as users script it; absent or null: ""),
 * into buf[DP_FLEET_SNAPSHOT_ID_MAX]; anything else is an invalid_field error, never ignored. */
#define DP_FLEET_SNAPSHOT_ID_MAX 32
dp_rc dp_fleet_snapshot_arg(char *buf, const json_t *v, struct dp_err *err);

dp_rc dp_fleet_plan_make(struct dp_fleet_plan *p, const struct dp_fleet *f, const char *snapshot_id,
                         const char *region, const char *size, struct dp_err *err);
void dp_fleet_plan_clear(struct dp_fleet_plan *p);

/* Creates n servers for user named "<prefix>-<k>", in create requests of ten, each request with
 * its own agent certificate; every server carries the managed tag and tags, and is remembered in
 * the store (owner, certificate pin, snapshot) as it is created. *made: array of droplets (also
 * on failure: what exists stays, listed for the caller). */
dp_rc dp_fleet_create(const struct dp_fleet *f, const struct dp_fleet_plan *p,
                      const struct dp_user *user, const char *prefix, const char *const *tags,
                      size_t ntags, int n, json_t **made, struct dp_err *err);

/* Every server: DigitalOcean's managed droplets merged with the store (addresses and status
 * refreshed there), shared through f->listing when set (forgotten on create and delete).
 * {"servers":[{"id","name","ip","region","size","status","image":{"id","name"},
 * "agent_version","managed_here","created_at"}]}. Without DigitalOcean, the store's view. */
dp_rc dp_fleet_servers(json_t **out, const struct dp_fleet *f, struct dp_err *err);

/* Deletes a server (droplet and record). */
dp_rc dp_fleet_delete(const struct dp_fleet *f, long long droplet_id, struct dp_err *err);

/* {"sizes":[{"slug","description","memory","vcpus","disk","price_monthly","regions"}]}: the
 * sizes DigitalOcean offers now (available), cheapest first. The page preselects the first that
 * holds the snapshot (disk >= min_disk_size) in the region, as a plan without a size does. */
dp_rc dp_fleet_sizes(json_t **out, const struct dp_fleet *f, struct dp_err *err);

/* {"snapshots":[{"id","name","regions","created_at","agent_version","min_disk_size",
 * "size_gigabytes"}]}, newest first. */
dp_rc dp_fleet_snapshots(json_t **out, const struct dp_fleet *f, struct dp_err *err);

/* Starts transfers of a snapshot to every available region that lacks it; *out: {"id",
 * "transfers":[{"region","action_id"}]}. */
dp_rc dp_fleet_transfer_all(json_t **out, const struct dp_fleet *f, long long image_id,
                            struct dp_err *err);

dp_rc dp_fleet_snapshot_delete(const struct dp_fleet *f, long long image_id, struct dp_err *err);

/* {"base_snapshot": {...} | null, "current": bool, "expected_agent_version"}: whether the newest
 * base snapshot carries an agent at least as new as this VERSION (dp_snapshot_status). */
dp_rc dp_fleet_setup_status(json_t **out, const struct dp_fleet *f, struct dp_err *err);

/* The agent version in a base or custom snapshot's name, or "" (dp_snapshot_agent_version). */
void dp_fleet_agent_version(char *out, size_t size, const char *image_name);

#endif
