/* YAML (user-data's #cloud-config) into JSON with libyaml, bounded: nesting, and nodes visited
 * (an alias counts each time it is used, so an alias bomb stops early). Scalars stay strings,
 * as written; plain empty, "~" and "null" scalars become null. */
#ifndef DOSIM_YAML_H
#define DOSIM_YAML_H

#include "dp_err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Loads the first document of text (len bytes); an empty document gives null. *out is the
 * caller's. DP_EINVAL with the parser's problem and line; DP_ETOOBIG past the bounds. */
dp_rc dosim_yaml_load(json_t **out, const char *text, size_t len, struct dp_err *err);

/* True for a YAML 1.1 true scalar: "true", "yes", "on" (any case), or JSON true. */
bool dosim_yaml_true(const json_t *v);

#endif
