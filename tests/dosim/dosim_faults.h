/* Faults to inject, off by default, set from flags and from POST /_sim/faults: a share of /v2
 * answers 429 or 500, slower actions, an action type that ends errored, and creates that answer
 * 500 after they did create. Never applied to /_sim routes. */
#ifndef DOSIM_FAULTS_H
#define DOSIM_FAULTS_H

#include "dosim_conf.h"

#include "dp_err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct dosim_faults {
    pthread_mutex_t mu;
    double p429, p500, slow, create_500_rate;
    char errored[32];
    int create_500_after; /* 0: off; else the Nth create from when it was set */
    int creates_seen;
    uint64_t rng;
};

enum dosim_fault { DOSIM_FAULT_NONE, DOSIM_FAULT_429, DOSIM_FAULT_500 };

void dosim_faults_init(struct dosim_faults *f, const struct dosim_conf *c);
void dosim_faults_clear(struct dosim_faults *f);

/* Rolls the dice for one /v2 request. */
enum dosim_fault dosim_faults_roll(struct dosim_faults *f);

/* Counts a droplet create; true when this one must answer 500 after creating. */
bool dosim_faults_create_500(struct dosim_faults *f);

/* The extra factor on action durations. */
double dosim_faults_slow(struct dosim_faults *f);

/* True when actions of this type must end errored. */
bool dosim_faults_errored(struct dosim_faults *f, const char *type);

/* Sets the fields present in j ({"fail_429","fail_500","slow_actions","errored_action",
 * "create_500_after","create_500_rate"}); nothing changes when one is invalid (DP_EINVAL). */
dp_rc dosim_faults_set(struct dosim_faults *f, const json_t *j, struct dp_err *err);

/* The current settings, same keys. */
json_t *dosim_faults_json(struct dosim_faults *f);

#endif
