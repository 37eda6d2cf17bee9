/* A strict PEM shape check, so a certificate or key can go into user-data unchanged. */
#ifndef CLOUDINIT_PEM_H
#define CLOUDINIT_PEM_H

#include "dp_err.h"

#include <stddef.h>

#define CLOUDINIT_PEM_LINE_MAX 76 /* base64 characters on one PEM line */

/* Checks that pem is 1..max_blocks PEM blocks and nothing else: "-----BEGIN L-----", base64
 * lines of at most CLOUDINIT_PEM_LINE_MAX characters (padding only at the end), "-----END
 * L-----", one '\n' after each line (optional after the last). L must be one of labels
 * (NULL-terminated). Headers (encrypted keys), blank lines, '\r' and other text are refused.
 * This is the shape only; whether the DER inside makes sense is for OpenSSL on the server.
 * Failures are DP_EINVAL with code "invalid_<field>" and a message that starts with field and
 * gives a line number, never the content. */
dp_rc cloudinit_pem_check(const char *pem, const char *field, const char *const *labels,
                          size_t max_blocks, struct dp_err *err);

#endif
