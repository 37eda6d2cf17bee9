/* Internals shared by the deploy's files (not for other modules). */
#ifndef DP_DEPLOY_INT_H
#define DP_DEPLOY_INT_H

#include "dp_agentc.h"
#include "dp_deploy.h"
#include "dp_image.h"

#include <pthread.h>

/* One server of a deploy. */
struct srv_job {
    char ip[64];
    long long droplet_id;
    struct dp_agent_target target;
    bool is_new;
    bool ok; /* false once this server failed; the others go on */
    char error[DP_ERR_MSG_MAX];
    char image_id[DP_IMAGE_ID_MAX];
    char container_id[80];
};

struct deploy {
    struct dp_deploys *owner;
    struct dp_deploy_env *env;
    struct dp_deploy_req req;
    struct dp_user user;
    long long id, version;
    char tag[300];       /* the image the servers run */
    char deploy_tag[64]; /* DigitalOcean tag of the droplets this deploy made */
    atomic_bool cancel;
    struct srv_job *jobs;
    size_t njobs;
    pthread_mutex_t jobs_mu; /* jobs grows while new servers come up */
    pthread_t thread;
    struct deploy *next;
};

/* Events: a log line or a step of one server (ip may be NULL for the whole deploy). */
void deploy_log(struct deploy *d, const char *ip, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void deploy_step(struct deploy *d, const char *ip, const char *step);

/* Marks a server failed with err (and says so in the log). */
void deploy_fail_job(struct deploy *d, struct srv_job *j, const struct dp_err *err);

/* A progress for agent streams: events tagged with the server, cancel on request. */
struct job_progress {
    struct dp_progress pr;
    struct deploy *d;
    struct srv_job *j;
};
void job_progress_init(struct job_progress *p, struct deploy *d, struct srv_job *j);

/* Runs fn on every job still ok, at most env->parallel at once; returns when all are done. */
void deploy_each(struct deploy *d, void (*fn)(struct deploy *d, struct srv_job *j));

/* dp_deploy_fleet.c: the servers. */
dp_rc deploy_resolve_existing(struct deploy *d, struct dp_err *err);
dp_rc deploy_provision_new(struct deploy *d, struct dp_err *err);
void deploy_wait_agent(struct deploy *d, struct srv_job *j);
/* Checks server_ips against the store before a deploy starts. */
dp_rc deploy_check_targets(struct dp_store *store, const json_t *ips, struct dp_err *err);

/* dp_deploy_source.c: the image, and the containers. */
dp_rc deploy_prepare_image(struct deploy *d, struct dp_err *err);
void deploy_run_container(struct deploy *d, struct srv_job *j);

#endif
