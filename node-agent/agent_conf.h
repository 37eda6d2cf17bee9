/* The agent's configuration: flags, an optional config file, defaults and bounds. Parsed once,
 * checked, then only read. */
#ifndef AGENT_CONF_H
#define AGENT_CONF_H

#include "dp_cidr.h"
#include "dp_err.h"
#include "dp_log.h"

#include <stdbool.h>

#define AGENT_ALLOW_MAX 64
#define AGENT_STR_MAX   1024

struct agent_conf {
    char listen[128];
    char key_file[AGENT_STR_MAX];
    char bake_key_file[AGENT_STR_MAX]; /* "" outside a bake */
    char cloud_dir[AGENT_STR_MAX];
    char data_root[AGENT_STR_MAX];
    char docker_socket[AGENT_STR_MAX];
    char publish_ip[64];
    char namespace_[64];
    char tls_cert[AGENT_STR_MAX];
    char tls_key[AGENT_STR_MAX];
    char git_ca_file[AGENT_STR_MAX];
    char user[64];
    char config[AGENT_STR_MAX];
    struct dp_cidr allow[AGENT_ALLOW_MAX];
    int nallow;
    int threads;
    int git_timeout_s;
    enum dp_log_level log_level;
    bool help, version, check;
};

/* What main should do after parsing. */
enum agent_conf_action { AGENT_RUN, AGENT_EXIT_OK, AGENT_EXIT_USAGE };

/* Fills c from defaults, then --config FILE (if given), then the other flags, then checks the
 * whole. On a problem, err says what and the action is AGENT_EXIT_USAGE. */
enum agent_conf_action agent_conf_parse(struct agent_conf *c, int argc, char **argv,
                                        struct dp_err *err);

/* Prints --help to stdout. */
void agent_conf_usage(const char *prog);

#endif
