/* IPv4 address ranges for --allow. */
#ifndef DP_CIDR_H
#define DP_CIDR_H

#include "dp_err.h"

#include <stdbool.h>
#include <stdint.h>

struct dp_cidr {
    uint32_t net;  /* host byte order */
    uint32_t mask; /* host byte order */
};

/* Parses "10.0.0.0/8" or a bare address (a /32). */
dp_rc dp_cidr_parse(struct dp_cidr *out, const char *text, struct dp_err *err);

/* True when the dotted IPv4 address addr lies in any of the n ranges. */
bool dp_cidr_contains_any(const struct dp_cidr *list, int n, const char *addr);

#endif
