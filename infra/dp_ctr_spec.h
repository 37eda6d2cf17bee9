/* A container the agent is asked to run: validated from the request, turned into the body of
 * Docker's create call with the platform's safety rules (no privileged mode, no host binds,
 * no host network or pid, named volumes only, rotated logs). */
#ifndef DP_CTR_SPEC_H
#define DP_CTR_SPEC_H

#include "dp_err.h"
#include "dp_limits.h"

#include <jansson.h>
#include <stdbool.h>

/* Labels every managed container carries; a restarted agent finds its containers by them. */
#define DP_LABEL_MANAGED    "dp.managed"
#define DP_LABEL_NAMESPACE  "dp.namespace"
#define DP_LABEL_NAME       "dp.name"
#define DP_LABEL_APP        "dp.app"
#define DP_LABEL_DEPLOYMENT "dp.deployment_id"
#define DP_LABEL_VERSION    "dp.version"
#define DP_LABEL_SOURCE     "dp.source"

struct dp_ctr_spec {
    char name[DP_NAME_MAX + 1];
    char image[DP_IMAGE_REF_MAX + 1];
    bool replace;
    json_t *create_body; /* Docker's create body; owned */
};

/* Where the agent runs containers: its namespace and the address ports are published on. */
struct dp_ctr_place {
    const char *namespace_; /* "" for none */
    const char *publish_ip; /* "" for all addresses */
};

/* Validates a /containers/run request and builds the create body. Every problem is DP_EINVAL
 * naming the field; env values never appear in an error. Free with dp_ctr_spec_clear. */
dp_rc dp_ctr_spec_parse(struct dp_ctr_spec *out, const json_t *req, const struct dp_ctr_place *pl,
                        struct dp_err *err);

void dp_ctr_spec_clear(struct dp_ctr_spec *s);

/* True for a container name the agent accepts: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
bool dp_ctr_name_valid(const char *name);

/* True for an image reference: [registry[:port]/]path[:tag][@digest], bounded, no spaces. */
bool dp_image_ref_valid(const char *ref);

/* Docker's name for the client's name in a namespace: "ns_name", or name without one.
 * Namespaces have no '_', so the split is unambiguous. */
dp_rc dp_ctr_docker_name(char *out, size_t size, const char *namespace_, const char *name,
                         struct dp_err *err);

#endif
