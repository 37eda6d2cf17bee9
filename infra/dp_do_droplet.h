/* Droplets and their actions through the DigitalOcean client: a create that a retry never
 * duplicates, listings and deletes that only touch the platform's droplets, and waits that
 * watch many droplets with one call per poll. */
#ifndef DP_DO_DROPLET_H
#define DP_DO_DROPLET_H

#include "dp_do.h"

#include <stddef.h>

#define DP_DO_CREATE_BATCH  10            /* names in one create request (the API's maximum) */
#define DP_DO_USER_DATA_MAX (64UL * 1024) /* bytes */
#define DP_DO_CREATE_TAG    "dp-create-"  /* + hex: one per create call, for finding its droplets */

struct dp_do_create {
    const char *const *names; /* 1..n droplet names (hostnames) */
    size_t count;
    const char *region;
    const char *size;
    const char *image;       /* a slug, or a private image's numeric id as text */
    const char *const *tags; /* extra tags; DP_DO_MANAGED_TAG is always added */
    size_t ntags;
    const char *user_data;       /* plain text, at most DP_DO_USER_DATA_MAX bytes, or NULL */
    const char *const *ssh_keys; /* key ids or fingerprints */
    size_t nkeys;
    bool monitoring;
};

/* Creates the droplets, DP_DO_CREATE_BATCH names a request, each droplet tagged with the
 * managed tag and one unique create tag. When a create fails in a way that may have created
 * something (5xx, no answer), the client lists that tag and creates only the names missing:
 * a retry never makes a duplicate. *out: array of droplet objects as created (the caller's);
 * on failure, the droplets that do exist are still in *out (may be NULL) so the caller can
 * clean up. */
dp_rc dp_do_droplets_create(struct dp_do_client *c, const struct dp_do_create *req, json_t **out,
                            struct dp_err *err);

dp_rc dp_do_droplet_get(struct dp_do_client *c, long long id, json_t **out, struct dp_err *err);

/* Droplets with tag (NULL: the managed tag). Without force, droplets lacking the managed tag
 * are left out. *out: array. */
dp_rc dp_do_droplets_list(struct dp_do_client *c, const char *tag, bool force, json_t **out,
                          struct dp_err *err);

/* Deletes one droplet. Without force, a droplet without the managed tag is refused
 * (DP_ECONFLICT, code "not_managed"). A droplet already gone is success. */
dp_rc dp_do_droplet_delete(struct dp_do_client *c, long long id, bool force, struct dp_err *err);

/* Deletes every droplet with tag. Without force, refused (nothing deleted) when any of them
 * lacks the managed tag. */
dp_rc dp_do_droplets_delete_by_tag(struct dp_do_client *c, const char *tag, bool force,
                                   struct dp_err *err);

/* POST a droplet action: "shutdown", "power_off", "power_on", "snapshot" (name used). A retry
 * that meets "pending event" finds the action the first attempt started. *action: the caller's. */
dp_rc dp_do_droplet_action(struct dp_do_client *c, long long id, const char *type, const char *name,
                           json_t **action, struct dp_err *err);

dp_rc dp_do_action_get(struct dp_do_client *c, long long action_id, json_t **out,
                       struct dp_err *err);

/* The droplet's snapshots (array of {id:int,name,...}). */
dp_rc dp_do_droplet_snapshots(struct dp_do_client *c, long long id, json_t **out,
                              struct dp_err *err);

/* Field helpers on droplet objects. */
long long dp_do_droplet_id(const json_t *d);
const char *dp_do_droplet_status(const json_t *d);
bool dp_do_droplet_locked(const json_t *d);
/* The public IPv4 (chosen by type, never by index) into out; false when none yet. */
bool dp_do_droplet_public_ip(const json_t *d, char *out, size_t size);
bool dp_do_has_tag(const json_t *obj, const char *tag);

/* True for a name DigitalOcean accepts as a droplet name / a tag name. */
bool dp_do_name_valid(const char *name);
bool dp_do_tag_valid(const char *tag);

#endif
