/* Private images (snapshots) through the DigitalOcean client. A droplet snapshot shows three
 * ways: an image with an integer id, a droplet snapshot with an integer id, and an entry of
 * /v2/snapshots with the same number as a string id. */
#ifndef DP_DO_IMAGE_H
#define DP_DO_IMAGE_H

#include "dp_do.h"

/* The account's own images (/v2/images?private=true), every page. *out: array. */
dp_rc dp_do_images_private(struct dp_do_client *c, json_t **out, struct dp_err *err);

/* One image by id or (public images) slug. */
dp_rc dp_do_image_get(struct dp_do_client *c, const char *id_or_slug, json_t **out,
                      struct dp_err *err);

/* Deletes an image; one already gone is success. */
dp_rc dp_do_image_delete(struct dp_do_client *c, long long id, struct dp_err *err);

/* Starts copying image id to region; *action: the caller's. */
dp_rc dp_do_image_transfer(struct dp_do_client *c, long long id, const char *region,
                           json_t **action, struct dp_err *err);

/* /v2/snapshots?resource_type=droplet, every page (string ids). */
dp_rc dp_do_snapshots_list(struct dp_do_client *c, json_t **out, struct dp_err *err);

/* GET and DELETE /v2/snapshots/{id} (a string id). A delete of one gone is success. */
dp_rc dp_do_snapshot_get(struct dp_do_client *c, const char *id, json_t **out, struct dp_err *err);
dp_rc dp_do_snapshot_delete(struct dp_do_client *c, const char *id, struct dp_err *err);

#endif
