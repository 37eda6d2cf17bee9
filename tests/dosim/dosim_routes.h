/* Route handlers, one file per family; each parses, calls into dosim_state/dosim_droplet
 * under the mutex, and answers with dosim_reply*. */
#ifndef DOSIM_ROUTES_H
#define DOSIM_ROUTES_H

#include "dosim_http.h"

#include "dp_router.h"

int dosim_h_account(struct dp_req *rq);
int dosim_h_regions(struct dp_req *rq);
int dosim_h_sizes(struct dp_req *rq);
int dosim_h_keys_list(struct dp_req *rq);
int dosim_h_key_create(struct dp_req *rq);
int dosim_h_key_get(struct dp_req *rq);
int dosim_h_key_update(struct dp_req *rq);
int dosim_h_key_delete(struct dp_req *rq);

int dosim_h_tags_list(struct dp_req *rq);
int dosim_h_tag_create(struct dp_req *rq);
int dosim_h_tag_get(struct dp_req *rq);
int dosim_h_tag_delete(struct dp_req *rq);
int dosim_h_tag_resources_add(struct dp_req *rq);
int dosim_h_tag_resources_remove(struct dp_req *rq);

int dosim_h_droplets_list(struct dp_req *rq);
int dosim_h_droplets_create(struct dp_req *rq);
int dosim_h_droplets_delete_tag(struct dp_req *rq);
int dosim_h_droplet_get(struct dp_req *rq);
int dosim_h_droplet_delete(struct dp_req *rq);
int dosim_h_droplet_snapshots(struct dp_req *rq);

int dosim_h_droplet_actions_list(struct dp_req *rq);
int dosim_h_droplet_action_post(struct dp_req *rq);
int dosim_h_droplet_action_get(struct dp_req *rq);
int dosim_h_actions_list(struct dp_req *rq);
int dosim_h_action_get(struct dp_req *rq);

int dosim_h_images_list(struct dp_req *rq);
int dosim_h_image_get(struct dp_req *rq);
int dosim_h_image_delete(struct dp_req *rq);
int dosim_h_image_actions_list(struct dp_req *rq);
int dosim_h_image_action_post(struct dp_req *rq);
int dosim_h_image_action_get(struct dp_req *rq);
int dosim_h_snapshots_list(struct dp_req *rq);
int dosim_h_snapshot_get(struct dp_req *rq);
int dosim_h_snapshot_delete(struct dp_req *rq);

/* Actions on one resource (rtype "droplet" or "image", id), or all of them (rtype NULL), as a
 * new array. Under mu. */
json_t *dosim_actions_of(const struct dosim *sim, const char *rtype, long long id);

/* GET .../{resource}/actions/{action_id} (params 0 and 1), or /v2/actions/{id} (rtype NULL). */
int dosim_action_get_of(struct dp_req *rq, const char *rtype);

int dosim_h_sim_state(struct dp_req *rq);
int dosim_h_sim_faults_get(struct dp_req *rq);
int dosim_h_sim_faults_set(struct dp_req *rq);
int dosim_h_sim_droplet_log(struct dp_req *rq);
int dosim_h_sim_reset_counters(struct dp_req *rq);

#endif
