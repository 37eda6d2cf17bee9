/* The one download a droplet's user-data may make: curl to a loopback address (127.0.0.0/8),
 * http or https, no redirects, bounded in size and time, written under the droplet's root. */
#ifndef DOSIM_FETCH_H
#define DOSIM_FETCH_H

#include "dp_err.h"

#include <stdbool.h>

struct dosim_fetch {
    const char *url;
    int root_fd;
    const char *rel_out; /* the output below the root */
    long timeout_s;      /* whole transfer */
    long connect_s;      /* 0 for curl's default */
    const char *header;  /* one "Name: value" header or NULL; never logged */
    const char *cacert;  /* host path of a CA bundle for https, or NULL */
    bool fail;           /* -f: an HTTP error status fails and writes nothing */
};

/* Checks the URL: http(s), an IPv4 literal host in 127.0.0.0/8. */
dp_rc dosim_fetch_url_ok(const char *url, struct dp_err *err);

/* Downloads; *status gets the HTTP status (0 when none came). The file appears whole (one
 * rename) or not at all. */
dp_rc dosim_fetch_run(const struct dosim_fetch *f, long *status, unsigned long long *bytes,
                      struct dp_err *err);

#endif
