/* The node agent inside a droplet: where the package puts it in the root, whether the root
 * carries it installed and enabled, and the real process dosim runs for it. */
#ifndef DOSIM_AGENT_H
#define DOSIM_AGENT_H

#include "dp_docker.h"
#include "dp_err.h"

#include <stdbool.h>
#include <sys/types.h>

/* Paths below a droplet's root, as the agent package and its unit lay them out. */
#define DOSIM_UNIT_FILE     "lib/systemd/system/node-agent.service"
#define DOSIM_UNIT_FILE_ETC "etc/systemd/system/node-agent.service"
#define DOSIM_UNIT_WANTS    "etc/systemd/system/multi-user.target.wants"
#define DOSIM_UNIT_LINK     DOSIM_UNIT_WANTS "/node-agent.service"
#define DOSIM_AGENT_BIN     "usr/bin/node-agent"
#define DOSIM_AGENT_KEY     "etc/node-agent/key"
#define DOSIM_AGENT_BAKEKEY "etc/node-agent/bake-key"
#define DOSIM_AGENT_CONF    "etc/node-agent/agent.conf"
#define DOSIM_AGENT_DATA    "var/lib/node-agent"
#define DOSIM_CLOUD_DIR     "var/lib/cloud"

/* What a root holds of the agent. */
struct dosim_agent_probe {
    bool unit;     /* the unit file is there */
    bool enabled;  /* multi-user.target wants it */
    bool binary;   /* the binary that would run exists and is executable */
    bool key;      /* the key file is there and not empty */
    bool bake_key; /* the bake key file is there and not empty (either one is the unit's
                      condition) */
};

/* Looks at root_fd; agent_override is --agent (NULL or "" for the root's own binary). */
void dosim_agent_probe(struct dosim_agent_probe *p, int root_fd, const char *agent_override);

/* Enables (link made) or disables (link removed) the unit in the root. */
dp_rc dosim_agent_enable(int root_fd, bool on, struct dp_err *err);

struct dosim_agent_spec {
    const char *bin;  /* the binary (absolute) */
    const char *root; /* the droplet's root (absolute) */
    const char *ip;
    const char *ns;
    const char *log_path;      /* stdout and stderr, appended */
    const char *docker_socket; /* passed on */
};

/* Starts the agent: --listen ip:9999, key, data root, cloud dir and TLS files mapped into the
 * root, --bake-key-file when the root holds a bake key, --allow lines from the root's agent.conf,
 * its own process group, SIGTERM when the calling thread exits (call it from a thread that lives as
 * long as the agent should). */
dp_rc dosim_agent_spawn(pid_t *out, const struct dosim_agent_spec *s, struct dp_err *err);

/* Removes every container (and named volume) of namespace ns through the Docker API; *removed
 * gets the count of containers. */
dp_rc dosim_agent_clean_docker(const struct dp_docker *d, const char *ns, int *removed,
                               struct dp_err *err);

#endif
