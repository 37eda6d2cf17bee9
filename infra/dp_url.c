#include "dp_url.h"

#include <ctype.h>
#include <string.h>

dp_rc dp_url_escape(char *out, size_t size, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            if (o + 1 >= size)
                return DP_ETOOBIG;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= size)
                return DP_ETOOBIG;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o >= size)
        return DP_ETOOBIG;
    out[o] = '\0';
    return DP_OK;
}
