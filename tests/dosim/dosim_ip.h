/* Loopback addresses for droplets: each droplet's public IPv4 is its own 127.x.y.z that no
 * process listens on and no other dosim holds. A lock file per address under a shared folder
 * (flock, held for the droplet's life) keeps parallel simulators from ever sharing one. */
#ifndef DOSIM_IP_H
#define DOSIM_IP_H

#include "dosim_limits.h"

#include "dp_err.h"

#define DOSIM_AGENT_PORT 9999

struct dosim_ip {
    char addr[16]; /* "" when none is held */
    int fd;        /* the locked lock file, -1 when none */
    char lock_path[DOSIM_PATH_MAX];
};

#define DOSIM_IP_INIT                                                                              \
    {                                                                                              \
        .addr = "", .fd = -1, .lock_path = ""                                                      \
    }

/* Takes an address in 127.0.0.0/8 (never 127.0.0.1): prefer (may be NULL; a restored droplet's
 * own address, where only the agent port must be free: its containers may still publish
 * there) is tried first, then a random walk. An address is taken only when no TCP listener
 * uses it (nor the agent port on every address) and its lock file under lock_dir is ours.
 * DP_EUNAVAIL when none is free. Release with dosim_ip_release. */
dp_rc dosim_ip_acquire(struct dosim_ip *out, const char *lock_dir, const char *prefer,
                       struct dp_err *err);

/* Unlocks and removes the lock file; ip may be DOSIM_IP_INIT or already released. */
void dosim_ip_release(struct dosim_ip *ip);

#endif
