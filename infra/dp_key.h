/* Agent keys: derivation from the DigitalOcean token, the key file, constant-time checks. */
#ifndef DP_KEY_H
#define DP_KEY_H

#include "dp_err.h"

#include <stdbool.h>
#include <stddef.h>

#define DP_DERIVED_KEY_LEN 32 /* hex characters */

/* out = hex(HMAC-SHA256(key = do_token, msg = "node-agent:" + user_id))[:32], NUL-terminated.
 * Fails with DP_EINVAL for an empty token; the token never reaches err. */
dp_rc dp_key_derive(char out[DP_DERIVED_KEY_LEN + 1], const char *do_token,
                    unsigned long long user_id, struct dp_err *err);

/* Reads a key file: the key as text, surrounding whitespace ignored, DP_KEY_MIN..DP_KEY_MAX
 * printable ASCII characters without spaces. out must hold DP_KEY_MAX + 1 bytes. Errors name
 * the file, never its content. */
dp_rc dp_key_load_file(char *out, const char *path, struct dp_err *err);

/* Constant-time comparison of a presented key with the expected one: the time does not depend
 * on where they differ, nor on the presented key's length. */
bool dp_key_equal(const char *presented, size_t presented_len, const char *expected);

#endif
