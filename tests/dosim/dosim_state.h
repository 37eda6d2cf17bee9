/* The simulated account's objects (droplets, images, actions, SSH keys, tags), their ids and
 * lookups. Everything here is guarded by the owner's mutex (struct dosim.mu); droplets and
 * images are reference-counted so a worker can use one after dropping the mutex. */
#ifndef DOSIM_STATE_H
#define DOSIM_STATE_H

#include "dosim_catalog.h"
#include "dosim_ip.h"
#include "dosim_limits.h"

#include "dp_limits.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DOSIM_TIME_MAX 24 /* "2026-11-22T03:25:43Z" + NUL */

struct dosim_vec {
    void **v;
    size_t n, cap;
};

enum dosim_ci_state { DOSIM_CI_PENDING, DOSIM_CI_RUNNING, DOSIM_CI_DONE };

struct dosim_droplet {
    long long id;
    char name[DOSIM_NAME_MAX + 1];
    char status[16]; /* new, active, off */
    bool locked;
    char created_at[DOSIM_TIME_MAX];
    const struct dosim_region *region;
    const struct dosim_size *size;
    long long image_id;
    json_t *image;        /* the image object as it was at creation; owned */
    json_t *tags;         /* strings; owned */
    json_t *snapshot_ids; /* ints; owned */
    json_t *features;     /* strings; owned */
    char *user_data;      /* NULL when none */
    struct dosim_ip ip;   /* held (locked) for the droplet's life */
    char private_ip[20];
    char ns[DP_NAMESPACE_MAX + 1]; /* the agent's namespace */
    char dir[DOSIM_DIR_MAX];       /* <state>/droplets/<id>: root/, logs */
    long long pending_action;      /* the action in progress, 0 for none */
    pid_t agent_pid;               /* 0 when not running */
    int agent_exit;                /* last exit status, -1 for none */
    int agent_starts;
    bool agent_wanted; /* started by boot or systemctl and not stopped since; persisted */
    enum dosim_ci_state ci;
    int ci_skipped, ci_failed;
    int refs;                /* the state's list holds one */
    bool deleted;            /* out of the lists; cleaned by whoever deleted it */
    pthread_mutex_t work_mu; /* held while its root or agent changes (lock before mu) */
};

struct dosim_image {
    long long id;
    char name[DOSIM_NAME_MAX + 1];
    char type[16]; /* base, snapshot */
    char distribution[32];
    char slug[64]; /* "" for private images (answered as null) */
    bool public_;
    bool application;
    json_t *regions; /* strings; owned */
    char created_at[DOSIM_TIME_MAX];
    int min_disk_size;
    double size_gigabytes;
    json_t *tags; /* strings; owned */
    char description[128];
    long long source_droplet; /* snapshots: the droplet it was taken of */
    char dir[DOSIM_DIR_MAX];  /* snapshots: <state>/images/<id> with root/ in it; "" else */
    int refs;
    bool deleted;
};

struct dosim_action {
    long long id;
    char status[16]; /* in-progress, completed, errored */
    char type[24];
    char started_at[DOSIM_TIME_MAX];
    char completed_at[DOSIM_TIME_MAX]; /* "" while in progress */
    long long resource_id;
    char resource_type[16]; /* droplet, image */
    const struct dosim_region *region;
    int64_t due_ms;               /* monotonic time it completes at */
    bool claimed;                 /* a worker is carrying it out */
    char arg[DOSIM_NAME_MAX + 1]; /* snapshot name, transfer region, new name */
};

struct dosim_key {
    long long id;
    char name[DOSIM_NAME_MAX + 1];
    char fingerprint[64];
    char *public_key;
};

struct dosim_tag {
    char name[DOSIM_NAME_MAX + 1];
};

struct dosim_state {
    struct dosim_vec droplets, images, actions, keys, tags;
    long long next_droplet, next_image, next_action, next_key;
};

/* Fills st with the stock images and the first ids. DP_ENOMEM only. */
int dosim_state_init(struct dosim_state *st);

/* Frees every object (droplets must have been cleaned by then). */
void dosim_state_clear(struct dosim_state *st);

/* Appends p; false without memory. */
bool dosim_vec_push(struct dosim_vec *vec, void *p);

/* Removes p keeping the order; false when absent. */
bool dosim_vec_remove(struct dosim_vec *vec, const void *p);

struct dosim_droplet *dosim_droplet_find(const struct dosim_state *st, long long id);
struct dosim_image *dosim_image_find(const struct dosim_state *st, long long id);
struct dosim_image *dosim_image_find_slug(const struct dosim_state *st, const char *slug);
struct dosim_action *dosim_action_find(const struct dosim_state *st, long long id);
struct dosim_key *dosim_key_find(const struct dosim_state *st, const char *id_or_fp);
struct dosim_tag *dosim_tag_find(const struct dosim_state *st, const char *name);

/* A tag whose name matches case-insensitively (names are case-stable: the first spelling is
 * the one kept). */
struct dosim_tag *dosim_tag_find_ci(const struct dosim_state *st, const char *name);

/* True when name is a valid tag name: ^[a-zA-Z0-9_\-:]+$, at most 255 bytes. */
bool dosim_tag_name_ok(const char *name);

/* The tag called name (any case), created when missing; NULL at the limit or without memory. */
struct dosim_tag *dosim_tag_ensure(struct dosim_state *st, const char *name);

/* Removes tag name from every droplet and image and frees the tag. */
void dosim_tag_delete(struct dosim_state *st, struct dosim_tag *t);

/* True when the JSON array of strings holds s. */
bool dosim_strs_has(const json_t *arr, const char *s);

/* Removes every s from the JSON array of strings. */
void dosim_strs_remove(json_t *arr, const char *s);

/* A new droplet with id, refs 1 and empty arrays, not yet in the list; NULL without memory. */
struct dosim_droplet *dosim_droplet_alloc(struct dosim_state *st);
void dosim_droplet_ref(struct dosim_droplet *d);
/* Drops a reference; frees d at zero (its IP must be released by then). */
void dosim_droplet_unref(struct dosim_droplet *d);

/* A new image (refs 1, empty arrays) with the next private id, not yet in the list. */
struct dosim_image *dosim_image_alloc(struct dosim_state *st);
void dosim_image_ref(struct dosim_image *im);
/* Drops a reference; true when it was the last (the caller removes im->dir, then frees it
 * with dosim_image_free). */
bool dosim_image_unref(struct dosim_image *im);
void dosim_image_free(struct dosim_image *im);

/* A new in-progress action in the list, due in due_ms (monotonic); NULL at the limit. */
struct dosim_action *dosim_action_add(struct dosim_state *st, const char *type,
                                      const char *resource_type, long long resource_id,
                                      const struct dosim_region *region, int64_t due_ms);

/* Marks a in-progress action completed or errored now. */
void dosim_action_finish(struct dosim_action *a, bool ok);

/* Counts of droplets and images carrying tag name. */
void dosim_tag_counts(const struct dosim_state *st, const char *name, long long *droplets,
                      long long *last_droplet, long long *images, long long *last_image);

#endif
