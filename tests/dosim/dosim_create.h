/* POST /v2/droplets: the request checked the way DigitalOcean does (names, size, image, region,
 * keys, tags, user_data, the droplet limit), then the droplets made, each with its loopback
 * address, its folder and a create action. */
#ifndef DOSIM_CREATE_H
#define DOSIM_CREATE_H

#include "dosim.h"

#include <jansson.h>
#include <stdbool.h>

struct dosim_create_plan {
    const char *names[DOSIM_NAMES_MAX];
    int count;
    bool multi; /* "names" was given: answer with "droplets" */
    const struct dosim_region *region;
    const struct dosim_size *size;
    struct dosim_image *image;
    const json_t *tags; /* borrowed from the body, or NULL */
    const char *user_data;
    bool backups, ipv6, monitoring, agent;
    char msg[600]; /* room for a refusal's sentence */
};

/* Under mu: checks body and fills p; NULL, or why DigitalOcean would answer 422. */
const char *dosim_create_check(struct dosim *sim, const json_t *body, struct dosim_create_plan *p);

/* Under mu: makes the droplets and their create actions; *out is the answer body
 * ({"droplet"} or {"droplets"} with links.actions). DP_EUNAVAIL when no address is free. */
dp_rc dosim_create_apply(json_t **out, struct dosim *sim, const struct dosim_create_plan *p,
                         const char *base_url, struct dp_err *err);

#endif
