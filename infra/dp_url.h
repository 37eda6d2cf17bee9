/* Percent-encoding for query values and path segments we build. */
#ifndef DP_URL_H
#define DP_URL_H

#include "dp_err.h"

#include <stddef.h>

/* Percent-encodes s (all but unreserved characters) into out; DP_ETOOBIG when it does not fit. */
dp_rc dp_url_escape(char *out, size_t size, const char *s);

#endif
