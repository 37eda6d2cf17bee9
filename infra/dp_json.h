/* JSON from outside: bounded, depth-checked parsing and typed field access with clear errors. */
#ifndef DP_JSON_H
#define DP_JSON_H

#include "dp_err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses len bytes (no NUL needed) into a JSON object. Refuses nesting deeper than
 * max_depth before jansson sees it (civetweb worker stacks are small), duplicate keys, and
 * anything but an object at the top. *out is the caller's: json_decref() it. */
dp_rc dp_json_parse_object(json_t **out, const char *buf, size_t len, int max_depth,
                           struct dp_err *err);

/* Nesting depth of the JSON text, or -1 when it exceeds limit; strings are skipped. */
int dp_json_depth(const char *buf, size_t len, int limit);

/* Reads obj[key] as a string of at most max_len bytes without NUL bytes. A missing key or
 * null gives *out = NULL, or DP_EINVAL when required. *out is borrowed from obj. */
dp_rc dp_json_get_str(const char **out, const json_t *obj, const char *key, bool required,
                      size_t max_len, struct dp_err *err);

/* Reads obj[key] as an integer in [min, max]; missing or null gives def. A number written as a
 * string of digits is accepted too (PowerShell users quote numbers). */
dp_rc dp_json_get_int(long long *out, const json_t *obj, const char *key, long long min,
                      long long max, long long def, struct dp_err *err);

/* Reads obj[key] as a number (integer or real) in [min, max]; missing or null gives def. */
dp_rc dp_json_get_num(double *out, const json_t *obj, const char *key, double min, double max,
                      double def, struct dp_err *err);

/* Reads obj[key] as a boolean; missing or null gives def. Also accepts 0/1. */
dp_rc dp_json_get_bool(bool *out, const json_t *obj, const char *key, bool def, struct dp_err *err);

/* Reads obj[key] as an object (or NULL when missing/null) with at most max_keys keys whose
 * values are all strings, numbers or booleans. Borrowed. */
dp_rc dp_json_get_flat_object(json_t **out, const json_t *obj, const char *key, size_t max_keys,
                              struct dp_err *err);

/* Reads obj[key] as an array (or NULL when missing/null) of at most max_items strings, each at
 * most max_len bytes. Borrowed. */
dp_rc dp_json_get_str_array(json_t **out, const json_t *obj, const char *key, size_t max_items,
                            size_t max_len, struct dp_err *err);

/* Text of a scalar (string, integer, real, boolean) into buf; false for other types. */
bool dp_json_scalar_text(char *buf, size_t size, const json_t *v);

/* A JSON string from bytes that may not be valid UTF-8 (container logs, git output):
 * invalid sequences become U+FFFD. New reference, NULL only without memory. */
json_t *dp_json_string_lossy(const char *s, size_t len);

/* Compact one-line text of v (no trailing newline); free() it. NULL without memory. */
char *dp_json_dump(const json_t *v);

#endif
