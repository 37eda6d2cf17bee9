/* The snapshot service: bakes the base snapshot (Debian 12 + Docker + the node agent) and custom
 * snapshots on top of one, lists, transfers and deletes snapshots, and rebuilds the base when
 * VERSION moves. The snapshot builder (CLI) and the controller's setup streams both call it.
 *
 * A bake creates one droplet tagged DP_DO_MANAGED_TAG and DP_BAKE_TAG, waits for it to be active,
 * waits until the agent answers at its public address with a one-time bake key, finalizes (the
 * agent removes the bake key and cloud-init's instance state), shuts the droplet down (power off
 * only when that times out), snapshots it, finds the image, deletes the droplet and transfers the
 * image to the requested regions. The droplet is deleted on success, on any failure and on
 * cancel; bake droplets an earlier run left behind (a crash) are deleted first. Two bakes on one
 * DigitalOcean account at once are not supported: each deletes the other's droplet at start.
 *
 * Progress goes to env->pr as {"type":"progress","step","elapsed_s","waiting_for"?} and
 * {"type":"log","message"} events; pr->tick non-zero cancels (clean-up still runs). The last
 * event is the caller's to send: dp_snapshot_done_event / dp_snapshot_error_event build it. */
#ifndef DP_SNAPSHOT_H
#define DP_SNAPSHOT_H

#include "dp_buf.h"
#include "dp_do.h"
#include "dp_err.h"
#include "dp_log.h"
#include "dp_progress.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_BASE_SNAPSHOT_PREFIX   "base-docker-debian12-agent-"
#define DP_CUSTOM_SNAPSHOT_PREFIX "custom-"
#define DP_SNAPSHOT_AGENT_INFIX   "-agent-"  /* custom-<name>-agent-<VERSION> */
#define DP_BAKE_TAG               "dp-bake"  /* every bake droplet; leftovers are found by it */
#define DP_BAKE_RUN_TAG           "dp-bake-" /* + hex: one bake's droplet */
#define DP_BAKE_IMAGE             "debian-12-x64"
#define DP_BAKE_DEFAULT_REGION    "nyc3"
#define DP_BAKE_DEFAULT_SIZE      "s-1vcpu-1gb"
#define DP_SNAPSHOT_NAME_MAX      127 /* a snapshot's name, bytes */
#define DP_SNAPSHOT_CUSTOM_MAX    40  /* the <name> of a custom snapshot, bytes */
#define DP_SNAPSHOT_REGIONS_MAX   16  /* regions in one request */
#define DP_SNAPSHOT_PACKAGES_MAX  64  /* Debian packages in one custom bake */
#define DP_SNAPSHOT_PACKAGE_MAX   100 /* one package name, bytes */
#define DP_SNAPSHOT_VERSION_MAX   40  /* a version string, bytes */
#define DP_BAKE_KEY_BYTES         24  /* random bytes of the bake key (hex on the wire) */

/* What the bake-time user-data carries: cloudinit's struct cloudinit_bake, mirrored here (infra
 * does not link cloudinit; cloudinit_render_snapshot_doc converts). */
struct dp_snapshot_doc {
    const char *agent_url;
    const char *agent_sha256;
    const char *bake_key; /* secret: never logged */
    const char *const *allow;
    size_t nallow;
    const char *const *ssh_allow;
    size_t nssh;
    const char *const *packages;
    size_t npackages;
};

/* Renders the bake-time #cloud-config into out (initialized by the callee). */
typedef dp_rc (*dp_snapshot_render_fn)(void *ud, struct dp_buf *out,
                                       const struct dp_snapshot_doc *in, struct dp_err *err);

struct dp_snapshot_env {
    /* The cloud. With a tick in pr, the operation installs its cancel check on it
     * (dp_do_set_cancel) and removes it at the end, so such a client must serve this operation
     * alone; without one, a shared client is fine. API calls are counted from its counter. */
    struct dp_do_client *cloud;
    dp_snapshot_render_fn render; /* bakes only */
    void *render_ud;
    const struct dp_progress *pr; /* may be NULL */
    const struct dp_logctx *log;  /* may be NULL: no log lines */
};

enum dp_snapshot_kind { DP_SNAPSHOT_BASE, DP_SNAPSHOT_CUSTOM };

/* Deadlines of a bake's waits, ms; 0 takes the default (in brackets). */
struct dp_snapshot_timeouts {
    int64_t active_ms;   /* droplet active [10 min] */
    int64_t agent_ms;    /* agent answers with the bake key [15 min: cloud-init installs Docker] */
    int64_t shutdown_ms; /* graceful shutdown before power off [2 min] */
    int64_t snapshot_ms; /* snapshot action [60 min] */
    int64_t transfer_ms; /* all transfers [60 min] */
};

struct dp_snapshot_opts {
    enum dp_snapshot_kind kind;
    const char *from;   /* custom: the snapshot to start from, by id or name */
    const char *name;   /* custom: <name> in custom-<name>-agent-<VERSION>; [a-z0-9-] */
    const char *region; /* where the droplet runs; NULL: DP_BAKE_DEFAULT_REGION for a base, the
                           source's first region for a custom bake */
    const char *size;   /* NULL: DP_BAKE_DEFAULT_SIZE */
    const char *const *regions; /* more regions to copy the snapshot to (the build region may be
                                   among them) */
    size_t nregions;
    const char *agent_url;    /* the agent package the droplet downloads */
    const char *agent_sha256; /* its SHA-256, 64 hex digits */
    const char *const *allow; /* addresses the agent's firewall admits (at least one) */
    size_t nallow;
    const char *const *ssh_allow; /* emergency SSH addresses; none: no SSH at all */
    size_t nssh;
    const char *const *packages; /* custom: Debian packages to add */
    size_t npackages;
    const char *version; /* the agent version the name carries; NULL: DP_VERSION */
    /* Tests only: sent instead of the rendered user-data (a document that installs no agent). */
    const char *user_data_override;
    struct dp_snapshot_timeouts t;
};

struct dp_snapshot_result {
    long long image_id; /* 0 when no snapshot was made */
    char name[DP_SNAPSHOT_NAME_MAX + 1];
    json_t *regions;         /* slugs the snapshot is in (the caller's; dp_snapshot_result_clear) */
    char step[40];           /* the step that failed, or "" */
    unsigned long api_calls; /* DigitalOcean requests this operation sent, retries included */
    int64_t elapsed_ms;
    bool rebuilt;      /* dp_snapshot_rebuild: false when the base was current */
    bool droplet_left; /* the droplet could not be deleted (its id is in the error) */
};

void dp_snapshot_result_clear(struct dp_snapshot_result *r);

/* Bakes one snapshot. On failure err says which step failed ("<step> failed: ..."), r->step
 * names it, and the droplet is gone (unless r->droplet_left: then the error says so and the
 * next bake deletes it). DP_ECANCELED when pr->tick asked to stop. A snapshot already made when
 * a later step fails (a transfer) is kept and named in r. */
dp_rc dp_snapshot_bake(struct dp_snapshot_result *r, const struct dp_snapshot_env *env,
                       const struct dp_snapshot_opts *o, struct dp_err *err);

/* Rebakes the base when o->version (DP_VERSION) is newer than the agent version in the newest
 * base snapshot's name (compared numerically), then transfers it to the regions the old one was
 * in (plus o->regions); the old one is kept. Does nothing (r->rebuilt false, a log event says
 * why) when the base is current. With no base at all, bakes one. o->kind is ignored. */
dp_rc dp_snapshot_rebuild(struct dp_snapshot_result *r, const struct dp_snapshot_env *env,
                          const struct dp_snapshot_opts *o, struct dp_err *err);

/* {"type":"done","success":true,"snapshot":{"id","name","regions"}|null,"rebuilt"?,
 * "api_calls","elapsed_s"} for a finished bake or rebuild. New reference. */
json_t *dp_snapshot_done_event(const struct dp_snapshot_result *r, bool rebuild);

/* {"type":"error","error":code,"detail":msg,"step","api_calls","elapsed_s","snapshot"?}. */
json_t *dp_snapshot_error_event(const struct dp_snapshot_result *r, const struct dp_err *err);

/* Makes c as patient as a bake should be: 8 attempts and 180 s a request (the default is 6 and
 * 120 s). A bake runs for minutes and a failure throws that work away. */
void dp_snapshot_client_tune(struct dp_do_client *c);

/* ---- snapshots ---- */

/* {"snapshots":[{"id","name","regions","created_at","agent_version","min_disk_size",
 * "size_gigabytes"}]} of every private snapshot, newest first. */
dp_rc dp_snapshot_list(json_t **out, struct dp_do_client *cloud, struct dp_err *err);

/* The snapshot ref names: a numeric id, or a name (the newest snapshot of that name). *out: the
 * image object (the caller's). DP_ENOTFOUND "snapshot_not_found" when none. */
dp_rc dp_snapshot_find(json_t **out, struct dp_do_client *cloud, const char *ref,
                       struct dp_err *err);

/* Copies the snapshot ref to regions (all: every available region that can take a transfer)
 * skipping those it is in; with wait, until every transfer completes (an errored one fails at
 * once). *out: {"id","name","transfers":[{"region","action_id"}],"regions":[...]}; regions is
 * what the snapshot is in when done (wait) or was in before (no wait). env->pr: progress and
 * cancel (may be NULL). */
dp_rc dp_snapshot_transfer(json_t **out, const struct dp_snapshot_env *env, const char *ref,
                           const char *const *regions, size_t n, bool all, bool wait,
                           int64_t timeout_ms, struct dp_err *err);

/* Deletes the snapshot ref (every region). *out: {"id","name","deleted":true}. */
dp_rc dp_snapshot_delete(json_t **out, struct dp_do_client *cloud, const char *ref,
                         struct dp_err *err);

/* {"base_snapshot": {...}|null, "current": bool, "expected_agent_version"}: whether the newest
 * base snapshot carries an agent at least as new as version (NULL: DP_VERSION). */
dp_rc dp_snapshot_status(json_t **out, struct dp_do_client *cloud, const char *version,
                         struct dp_err *err);

/* ---- names and versions ---- */

/* The newest base snapshot among images (an array of image objects), or NULL; new reference. */
json_t *dp_snapshot_newest_base(const json_t *images);

/* The agent version a snapshot's name carries (base-docker-debian12-agent-V or
 * custom-N-agent-V), or "" when the name is neither. */
void dp_snapshot_agent_version(char *out, size_t size, const char *image_name);

/* Compares two versions numerically, dot by dot ("0.10.0" > "0.9.3"); a version with a
 * pre-release suffix ("1.0.0-rc1") is older than the same version without. <0, 0, >0. */
int dp_snapshot_version_cmp(const char *a, const char *b);

/* True for a version string this service puts in names: [0-9A-Za-z.-], starts with a digit. */
bool dp_snapshot_version_valid(const char *v);

/* The summary entry of one image (as dp_snapshot_list gives). New reference. */
json_t *dp_snapshot_json(const json_t *img);

#endif
