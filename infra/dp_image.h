/* Images on this server: build from a folder, pull from a registry, export as a `docker save`
 * tar and load one, so the controller can build once and ship the same image everywhere. */
#ifndef DP_IMAGE_H
#define DP_IMAGE_H

#include "dp_docker.h"
#include "dp_err.h"
#include "dp_progress.h"

#include <jansson.h>
#include <stddef.h>

#define DP_IMAGE_ID_MAX 80 /* "sha256:<64 hex>" */

/* Where images are made: the agent's data root and namespace (labels on built images). */
struct dp_image_place {
    const struct dp_docker *docker;
    const char *data_root;
    const char *namespace_;
};

/* POST /build: {"path","tag","dockerfile","buildargs","pull"}. Streams the folder under the data
 * root as the context; base images are used as found locally unless pull is true. */
dp_rc dp_image_build(char image_id[DP_IMAGE_ID_MAX], const struct dp_image_place *pl,
                     const json_t *req, const struct dp_progress *pr, struct dp_err *err);

/* POST /pull: {"image","username","password"}. The password goes only into X-Registry-Auth. */
dp_rc dp_image_pull(char image_id[DP_IMAGE_ID_MAX], const struct dp_image_place *pl,
                    const json_t *req, const struct dp_progress *pr, struct dp_err *err);

/* The id of a local image; DP_ENOTFOUND (code image_not_found) when absent. */
dp_rc dp_image_id(char image_id[DP_IMAGE_ID_MAX], const struct dp_docker *d, const char *ref,
                  struct dp_err *err);

/* Streams `docker save` of ref to on_data (after checking it exists: DP_ENOTFOUND first, before
 * any byte). */
dp_rc dp_image_export(const struct dp_docker *d, const char *ref,
                      dp_rc (*on_data)(void *ud, const char *p, size_t n), int (*tick)(void *ud),
                      void *ud, struct dp_err *err);

/* Loads a `docker save` tar pulled through read (as in struct dp_docker_stream_cb). *loaded is
 * the list of image references or ids Docker reported; the caller's. */
dp_rc dp_image_load(char image_id[DP_IMAGE_ID_MAX], json_t **loaded, const struct dp_docker *d,
                    size_t (*read)(void *ud, char *buf, size_t n), void *read_ud,
                    const struct dp_progress *pr, struct dp_err *err);

/* Splits ref into Docker's fromImage and tag (tag "latest" when none, a digest after '@'). */
dp_rc dp_image_ref_split(char *name, size_t nsize, char *tag, size_t tsize, const char *ref,
                         struct dp_err *err);

/* The registry host a reference points at ("docker.io" when it names none). */
void dp_image_registry(char *out, size_t size, const char *ref);

#endif
