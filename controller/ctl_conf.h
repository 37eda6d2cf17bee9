/* The controller's configuration: flags and environment, checked once, then only read. */
#ifndef CTL_CONF_H
#define CTL_CONF_H

#include "dp_err.h"
#include "dp_log.h"

#include <stdbool.h>

#define CTL_ALLOW_MAX 16
#define CTL_STR_MAX   1024

struct ctl_conf {
    char listen[128];
    char public_url[CTL_STR_MAX];
    char db[CTL_STR_MAX];
    char static_dir[CTL_STR_MAX];
    char spool_dir[CTL_STR_MAX];
    char git_ca_file[CTL_STR_MAX];
    char package_dir[CTL_STR_MAX];
    char agent_allow[CTL_ALLOW_MAX][64]; /* addresses new agents admit */
    int nagent_allow;
    int threads;
    int deploy_parallel;
    int session_hours;
    int code_max_mb;   /* unpacked code of one deploy */
    int agent_stall_s; /* an agent stream silent this long is dead */
    char base_python[256], base_node[256], base_go_build[256], base_go_run[256],
        base_static[256];    /* bases of generated Dockerfiles ("" = the defaults) */
    char example_image[256]; /* the Deploy view's Image to start with ("" = none) */
    enum dp_log_level log_level;
    bool help, version, check;
};

enum ctl_conf_action { CTL_RUN, CTL_EXIT_OK, CTL_EXIT_USAGE };

/* Fills c from defaults and the flags, then checks it; err says what is wrong. */
enum ctl_conf_action ctl_conf_parse(struct ctl_conf *c, int argc, char **argv, struct dp_err *err);

void ctl_conf_usage(const char *prog);

#endif
