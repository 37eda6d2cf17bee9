/* What happens to droplets over time: actions carried out by worker threads when they are due
 * (create -> boot and user-data, power, snapshot, transfer), the agent process of each droplet,
 * and deletion (agent stopped, containers and root removed, address released). */
#ifndef DOSIM_DROPLET_H
#define DOSIM_DROPLET_H

#include "dosim.h"

#include "dp_err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

/* One claimed action and what it acts on (each with a reference). */
struct dosim_job {
    struct dosim_action *a;
    struct dosim_droplet *d; /* droplet actions */
    struct dosim_image *im;  /* create from a snapshot, transfer */
    bool errored;            /* --errored-action: end errored, without effect */
};

/* Starts the worker threads; dosim_workers_stop joins them (actions under way finish). */
dp_rc dosim_workers_start(struct dosim *sim, struct dp_err *err);
void dosim_workers_stop(struct dosim *sim);

/* Adds an in-progress action due after its type's duration (scaled), queues it for the
 * workers. Under mu. NULL at the limit. */
struct dosim_action *dosim_action_start(struct dosim *sim, const char *type, const char *rtype,
                                        long long rid, const struct dosim_region *region);

/* Under mu: ends the job's action (errored when the job was told to) and unlocks its droplet. */
void dosim_job_finish(struct dosim *sim, struct dosim_job *job, bool ok);

/* Snapshot and transfer jobs (dosim_snapshot.c); log is the droplet's. */
void dosim_job_snapshot(struct dosim *sim, struct dosim_job *job, FILE *log);
void dosim_job_transfer(struct dosim *sim, struct dosim_job *job);

/* Carries out a claimed job (a worker, without mu). */
void dosim_job_run(struct dosim *sim, struct dosim_job *job);

/* Under mu: takes d out of the list and marks it deleted; the list's reference becomes the
 * caller's, for dosim_droplet_destroy. */
void dosim_droplet_detach(struct dosim *sim, struct dosim_droplet *d);

/* Without mu: stops d's agent, removes its containers, volumes and root, releases its address
 * and drops the caller's reference. Waits for a job under way on d. */
void dosim_droplet_destroy(struct dosim *sim, struct dosim_droplet *d);

/* Under mu: takes im out of the list (and its droplet's snapshot_ids); true when the caller
 * must call dosim_image_discard after unlocking. */
bool dosim_image_detach(struct dosim *sim, struct dosim_image *im);

/* Without mu: removes the image's folder and frees it (its last reference is gone). */
void dosim_image_discard(struct dosim_image *im);

/* Under mu: reaps agents that exited by themselves. */
void dosim_agents_reap(struct dosim *sim);

/* Starts the agents of restored droplets that had one running (main thread, at start-up). */
void dosim_agents_restore(struct dosim *sim);

/* Stops every agent (shutdown; nothing else runs then). */
void dosim_agents_stop_all(struct dosim *sim);

/* The droplet's log files. */
void dosim_droplet_log_path(char *out, size_t size, const struct dosim_droplet *d);
void dosim_droplet_agent_log_path(char *out, size_t size, const struct dosim_droplet *d);

#endif
