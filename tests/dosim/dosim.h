/* dosim's one context, built in main and handed to every handler and worker. */
#ifndef DOSIM_H
#define DOSIM_H

#include "dosim_conf.h"
#include "dosim_faults.h"
#include "dosim_ratelimit.h"
#include "dosim_state.h"

#include "dp_docker.h"
#include "dp_log.h"

#include <civetweb.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define DOSIM_WORKERS 4

struct dosim {
    struct dosim_conf conf;
    struct dp_logctx log;
    struct mg_context *mg;
    pthread_mutex_t mu;  /* guards st, counters and every object in st */
    pthread_cond_t wake; /* workers: a new action, or stopping */
    struct dosim_state st;
    struct dosim_vec pending; /* in-progress actions no worker has claimed yet; under mu */
    json_t *counters;         /* {"GET /v2/droplets/{droplet_id}": {"200": n}}; under mu */
    struct dosim_faults faults;
    struct dosim_rl rl;
    pthread_mutex_t record_mu;
    FILE *record; /* --record, or NULL */
    struct dp_docker docker;
    pthread_t workers[DOSIM_WORKERS];
    int nworkers;
    atomic_bool stopping;
    bool persist; /* --state-dir given: state.json follows every change */
    char state_dir[DOSIM_PATH_MAX];
    char sim_id[8]; /* 6 hex digits, in every agent namespace */
    char agent_package[DOSIM_PATH_MAX];
};

/* The civetweb handler for every path: /v2 (auth, rate limits, faults, routes), /_sim. */
int dosim_dispatch(struct mg_connection *conn, void *app);

/* Saves state.json when persisting; call with mu held after every change. */
void dosim_changed(struct dosim *sim);

#endif
