/* Account-level reads and the small objects around droplets: regions, sizes, SSH keys, tags. */
#ifndef DP_DO_ACCOUNT_H
#define DP_DO_ACCOUNT_H

#include "dp_do.h"

#include <stddef.h>

/* {"droplet_limit","email","uuid","status",...}; *out the caller's. */
dp_rc dp_do_account(struct dp_do_client *c, json_t **out, struct dp_err *err);

/* Every region / size (arrays). */
dp_rc dp_do_regions(struct dp_do_client *c, json_t **out, struct dp_err *err);
dp_rc dp_do_sizes(struct dp_do_client *c, json_t **out, struct dp_err *err);

/* SSH keys: list, add (public_key in OpenSSH form), get and delete by id or fingerprint. */
dp_rc dp_do_keys_list(struct dp_do_client *c, json_t **out, struct dp_err *err);
dp_rc dp_do_key_create(struct dp_do_client *c, const char *name, const char *public_key,
                       json_t **out, struct dp_err *err);
dp_rc dp_do_key_get(struct dp_do_client *c, const char *id_or_fp, json_t **out, struct dp_err *err);
dp_rc dp_do_key_delete(struct dp_do_client *c, const char *id_or_fp, struct dp_err *err);

/* Tags: create (an existing one is success), list, delete, tag resources of one type
 * ("droplet", "image") by their ids. */
dp_rc dp_do_tag_create(struct dp_do_client *c, const char *name, struct dp_err *err);
dp_rc dp_do_tags_list(struct dp_do_client *c, json_t **out, struct dp_err *err);
dp_rc dp_do_tag_delete(struct dp_do_client *c, const char *name, struct dp_err *err);
dp_rc dp_do_tag_resources(struct dp_do_client *c, const char *name, const char *type,
                          const char *const *ids, size_t n, struct dp_err *err);

#endif
