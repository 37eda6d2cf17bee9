/* dosim's flags: a table with bounds and help text, parsed once, then only read. */
#ifndef DOSIM_CONF_H
#define DOSIM_CONF_H

#include "dosim_limits.h"

#include "dp_err.h"
#include "dp_log.h"

#include <stdbool.h>

struct dosim_conf {
    char listen[128];
    char state_dir[DOSIM_PATH_MAX];
    char agent[DOSIM_PATH_MAX];
    char agent_package[DOSIM_PATH_MAX];
    char seed_snapshot[DOSIM_NAME_MAX + 1];
    char seed_regions[256];
    char token[512]; /* never logged */
    char record[DOSIM_PATH_MAX];
    char ip_lock_dir[DOSIM_PATH_MAX];
    char docker_socket[DOSIM_PATH_MAX];
    char errored_action[32];
    double time_scale;
    double fail_429, fail_500, slow_actions, create_500_rate;
    int create_500_after;
    int ratelimit_hour, ratelimit_minute, keys_per_minute;
    int droplet_limit;
    int threads;
    enum dp_log_level log_level;
    bool help, version;
};

enum dosim_conf_action { DOSIM_RUN, DOSIM_EXIT_OK, DOSIM_EXIT_USAGE };

/* Fills c from defaults and the flags, then checks the whole; err says what is wrong. */
enum dosim_conf_action dosim_conf_parse(struct dosim_conf *c, int argc, char **argv,
                                        struct dp_err *err);

/* Prints --help to stdout. */
void dosim_conf_usage(const char *prog);

#endif
