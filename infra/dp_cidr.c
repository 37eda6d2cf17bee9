#include "dp_cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dp_rc dp_cidr_parse(struct dp_cidr *out, const char *text, struct dp_err *err)
{
    char addr[32];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    long bits = 32;
    struct in_addr in;

    if (alen == 0 || alen >= sizeof(addr))
        return dp_err_set(err, DP_EINVAL, "'%.64s' is not an IPv4 address or range", text);
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, &in) != 1)
        return dp_err_set(err, DP_EINVAL, "'%.64s' is not an IPv4 address or range", text);
    if (slash) {
        char *end;

        bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end || bits < 0 || bits > 32)
            return dp_err_set(err, DP_EINVAL, "'%.64s' has a prefix length outside 0..32", text);
    }
    out->mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    out->net = ntohl(in.s_addr) & out->mask;
    return DP_OK;
}

bool dp_cidr_contains_any(const struct dp_cidr *list, int n, const char *addr)
{
    struct in_addr in;
    uint32_t a;

    if (inet_pton(AF_INET, addr, &in) != 1)
        return false;
    a = ntohl(in.s_addr);
    for (int i = 0; i < n; i++) {
        if ((a & list[i].mask) == list[i].net)
            return true;
    }
    return false;
}
