/* Checks shared by the user-data documents: values that end up in files the agent reads, so
 * anything the agent would refuse (or that could end a line) is refused before rendering. */
#ifndef CLOUDINIT_CHECK_H
#define CLOUDINIT_CHECK_H

#include "dp_err.h"

#include <stddef.h>

/* A key as the agent reads its key files (dp_key_load_file): DP_KEY_MIN..DP_KEY_MAX printable
 * ASCII characters without spaces. DP_EINVAL with code "invalid_<field>" and a message that
 * starts with field and never holds the key. */
dp_rc cloudinit_check_key(const char *key, const char *field, struct dp_err *err);

/* min..max IPv4 addresses or CIDRs as dp_cidr_parse reads them, written as digits, dots and
 * one slash only (nothing that could end a line or need quoting). DP_EINVAL with code
 * "invalid_<field>" and a message "<field>[i]: ..." (or "<field>: ..." for the count). */
dp_rc cloudinit_check_addrs(const char *const *addrs, size_t n, size_t min, size_t max,
                            const char *field, struct dp_err *err);

#endif
