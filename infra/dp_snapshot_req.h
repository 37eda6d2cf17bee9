/* What a bake is asked with: the controller's request bodies, the CLI's comma lists, the checks
 * on regions and package names, and the agent package's SHA-256. */
#ifndef DP_SNAPSHOT_REQ_H
#define DP_SNAPSHOT_REQ_H

#include "dp_snapshot.h"

/* A bake request with the storage its options point into. */
struct dp_snapshot_req {
    struct dp_snapshot_opts opts;
    const char *regions[DP_SNAPSHOT_REGIONS_MAX];
    const char *packages[DP_SNAPSHOT_PACKAGES_MAX];
    char from[DP_SNAPSHOT_NAME_MAX + 1];
};

/* {"regions":[...],"region","size"} for a base bake; a custom one adds "from_snapshot_id" (a
 * number or a name), "name" and "packages":[...] (at least one). Strings are borrowed from body
 * (keep it alive while out is used); the agent package, allow lists and timeouts are the
 * caller's to fill. Bad input is DP_EINVAL "invalid_field" naming the field. */
dp_rc dp_snapshot_req_parse(struct dp_snapshot_req *out, const json_t *body,
                            enum dp_snapshot_kind kind, struct dp_err *err);

/* A region slug ("nyc3"): 1..16 of [a-z0-9]. */
bool dp_snapshot_region_ok(const char *s);

/* A Debian package name (policy 5.6.1). */
bool dp_snapshot_package_ok(const char *s);

/* Splits list in place at commas and spaces into out (at most cap); returns how many, or cap + 1
 * when there were more. */
size_t dp_snapshot_split(char *list, const char **out, size_t cap);

/* The SHA-256 (64 lowercase hex + NUL into out[65]) at the start of a sha256sum file / of what
 * url answers (http(s), no redirects, 30 s). */
dp_rc dp_snapshot_sha256_file(char *out, const char *path, struct dp_err *err);
dp_rc dp_snapshot_sha256_url(char *out, const char *url, struct dp_err *err);

#endif
