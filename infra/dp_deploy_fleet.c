/* The deploy's servers: the known ones by address, new ones provisioned from a snapshot with
 * provision-time user-data (the user's agent key, a certificate for the agent, the addresses it
 * admits), and the wait until each agent answers. */
#include "dp_deploy_int.h"

#include "dp_buf.h"
#include "dp_do_droplet.h"
#include "dp_do_wait.h"
#include "dp_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVE_WAIT_MS      (15LL * 60 * 1000)
#define KNOWN_AGENT_WAIT_MS 30000

dp_rc deploy_check_targets(struct dp_store *store, const json_t *ips, struct dp_err *err)
{
    json_t *ip;
    size_t i;

    json_array_foreach(ips, i, ip)
    {
        struct dp_server s;

        if (dp_store_server_by_ip(store, json_string_value(ip), &s, NULL) != DP_OK)
            return dp_err_setc(err, DP_EINVAL, "unknown_server",
                               "server %s is not one this controller provisioned or knows",
                               json_string_value(ip));
    }
    return DP_OK;
}

/* Adds a job; jobs only grow before the parallel steps begin. */
static struct srv_job *job_add(struct deploy *d, struct dp_err *err)
{
    struct srv_job *jobs;

    pthread_mutex_lock(&d->jobs_mu);
    jobs = realloc(d->jobs, (d->njobs + 1) * sizeof(*jobs));
    if (jobs) {
        d->jobs = jobs;
        memset(&jobs[d->njobs], 0, sizeof(*jobs));
        jobs[d->njobs].ok = true;
        d->njobs++;
    }
    pthread_mutex_unlock(&d->jobs_mu);
    if (!jobs) {
        dp_err_set(err, DP_ENOMEM, "out of memory");
        return NULL;
    }
    return &jobs[d->njobs - 1];
}

static dp_rc target_for(struct dp_agent_target *t, const struct deploy *d, const char *ip,
                        long long owner_id, const char *pin, struct dp_err *err)
{
    char key[DP_DERIVED_KEY_LEN + 1];
    dp_rc rc = dp_key_derive(key, d->env->fleet.do_token, (unsigned long long)owner_id, err);

    if (rc)
        return rc;
    dp_agent_target_init(t, ip, key, pin);
    snprintf(t->req_id, sizeof(t->req_id), "deploy-%lld", d->id);
    if (d->env->agent_stall_ms > 0)
        t->stall_ms = d->env->agent_stall_ms;
    memset(key, 0, sizeof(key));
    return DP_OK;
}

dp_rc deploy_resolve_existing(struct deploy *d, struct dp_err *err)
{
    json_t *ip;
    size_t i;

    json_array_foreach(d->req.server_ips, i, ip)
    {
        struct dp_server s;
        struct srv_job *j;
        dp_rc rc = dp_store_server_by_ip(d->env->fleet.store, json_string_value(ip), &s, err);

        if (!rc && !(j = job_add(d, err)))
            rc = DP_ENOMEM;
        if (rc)
            return rc;
        snprintf(j->ip, sizeof(j->ip), "%s", s.ip);
        j->droplet_id = s.droplet_id;
        rc = target_for(&j->target, d, s.ip, s.owner_id, s.tls_pin, err);
        if (rc)
            return rc;
    }
    return DP_OK;
}

/* ---- new servers ---- */

static int deploy_canceled(void *ud)
{
    struct deploy *d = ud;

    return atomic_load(&d->cancel);
}

/* Says, in one log line, that the new servers go on booting without this deploy (named, as many
 * as fit in a line). */
static void log_still_booting(struct deploy *d)
{
    struct dp_buf names;
    char more[48] = "";
    size_t shown = 0, total = 0;

    dp_buf_init(&names, 640);
    for (size_t i = 0; i < d->njobs; i++) {
        struct dp_server s;

        if (!d->jobs[i].is_new)
            continue;
        total++;
        if (dp_store_server_by_id(d->env->fleet.store, d->jobs[i].droplet_id, &s, NULL))
            snprintf(s.name, sizeof(s.name), "droplet %lld", d->jobs[i].droplet_id);
        if (shown + 1 == total &&
            dp_buf_appendf(&names, "%s%s", shown ? ", " : "", s.name) == DP_OK)
            shown++;
    }
    if (shown < total)
        snprintf(more, sizeof(more), " and %zu more", total - shown);
    deploy_log(d, NULL,
               "deploy canceled while new server(s) boot: %s%s will keep booting and stay listed "
               "under Servers, so you can deploy to them or delete them",
               names.data ? names.data : "", more);
    dp_buf_clear(&names);
}

/* Waits until the new droplets are active and gives their jobs an address and an agent target. */
static dp_rc await_active(struct deploy *d, struct dp_err *err)
{
    long long ids[DP_DEPLOY_NEW_MAX];
    struct dp_do_wait w = {.timeout_ms = ACTIVE_WAIT_MS, .cancel = deploy_canceled, .cancel_ud = d};
    json_t *listed = NULL;
    size_t n = 0;
    dp_rc rc;

    for (size_t i = 0; i < d->njobs && n < DP_DEPLOY_NEW_MAX; i++) {
        if (d->jobs[i].is_new)
            ids[n++] = d->jobs[i].droplet_id;
    }
    deploy_log(d, NULL, "waiting for %zu new server(s) to be active", n);
    rc = dp_do_wait_droplets(d->env->fleet.cloud, d->deploy_tag, ids, n, "active", false, &w,
                             &listed, err);
    if (rc == DP_ECANCELED)
        log_still_booting(d);
    for (size_t i = 0; rc == DP_OK && i < d->njobs; i++) {
        struct srv_job *j = &d->jobs[i];
        struct dp_server s;

        for (size_t k = 0; j->is_new && k < json_array_size(listed); k++) {
            if (dp_do_droplet_id(json_array_get(listed, k)) == j->droplet_id)
                dp_do_droplet_public_ip(json_array_get(listed, k), j->ip, sizeof(j->ip));
        }
        if (!j->is_new || dp_store_server_by_id(d->env->fleet.store, j->droplet_id, &s, err))
            continue;
        snprintf(s.ip, sizeof(s.ip), "%s", j->ip);
        snprintf(s.status, sizeof(s.status), "active");
        rc = dp_store_server_put(d->env->fleet.store, &s, err);
        if (!rc)
            rc = target_for(&j->target, d, j->ip, d->user.id, s.tls_pin, err);
        deploy_log(d, j->ip, "server %s is active at %s", s.name, j->ip);
    }
    json_decref(listed);
    return rc;
}

dp_rc deploy_provision_new(struct deploy *d, struct dp_err *err)
{
    struct dp_fleet_plan p;
    char prefix[96];
    const char *tags[] = {d->deploy_tag};
    json_t *made = NULL, *drop;
    size_t i;
    dp_rc rc =
        dp_fleet_plan_make(&p, &d->env->fleet, d->req.snapshot_id, d->req.region, d->req.size, err);

    if (rc == DP_OK) {
        deploy_log(d, NULL, "creating %d server(s) from snapshot %s in %s, size %s",
                   d->req.new_count, p.image_name, p.region, p.size);
        deploy_step(d, NULL, "provisioning");
        snprintf(prefix, sizeof(prefix), "%.40s-d%lld", d->req.app, d->id);
        rc = dp_fleet_create(&d->env->fleet, &p, &d->user, prefix, tags, 1, d->req.new_count, &made,
                             err);
    }
    json_array_foreach(made, i, drop)
    {
        struct srv_job *j = job_add(d, NULL);

        if (!j)
            break;
        j->is_new = true;
        j->droplet_id = dp_do_droplet_id(drop);
        deploy_log(d, NULL, "created server %s (droplet %lld)",
                   json_string_value(json_object_get(drop, "name")), j->droplet_id);
    }
    json_decref(made);
    if (rc == DP_OK)
        rc = await_active(d, err);
    dp_fleet_plan_clear(&p);
    return rc;
}

void deploy_wait_agent(struct deploy *d, struct srv_job *j)
{
    struct job_progress p;
    struct dp_err err = {0};
    long long wait = j->is_new ? (d->env->agent_wait_ms > 0 ? d->env->agent_wait_ms : 600000)
                               : KNOWN_AGENT_WAIT_MS;

    job_progress_init(&p, d, j);
    deploy_step(d, j->ip, "waiting for agent");
    if (dp_agent_wait_ready(&j->target, wait, &p.pr, &err))
        deploy_fail_job(d, j, &err);
}
