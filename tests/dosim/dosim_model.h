/* The JSON shapes DigitalOcean answers with, built from the state (under the state mutex). */
#ifndef DOSIM_MODEL_H
#define DOSIM_MODEL_H

#include "dosim_state.h"

#include <jansson.h>

/* The image object: int id, slug or null, regions, min_disk_size, size_gigabytes, ... */
json_t *dosim_image_json(const struct dosim_image *im);

/* The droplet object with its region, size and image embedded in full. */
json_t *dosim_droplet_json(const struct dosim_droplet *d);

/* The action object with its full region object (or null when it has none). */
json_t *dosim_action_json(const struct dosim_action *a);

json_t *dosim_key_json(const struct dosim_key *k);

/* The tag object with resource counts; base_url ("http://host") makes last_tagged_uri. */
json_t *dosim_tag_json(const struct dosim_state *st, const struct dosim_tag *t,
                       const char *base_url);

/* A snapshot as /v2/snapshots shows it: string id, string resource_id. */
json_t *dosim_snapshot_json(const struct dosim_image *im);

/* A snapshot as /v2/droplets/{id}/snapshots shows it: int id, type. */
json_t *dosim_droplet_snapshot_json(const struct dosim_image *im);

#endif
