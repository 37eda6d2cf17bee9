/* /_sim: what tests look at and change (state, faults, a droplet's logs, counters). No token,
 * no rate limits, no injected faults. Answers in the platform's own error shape. */
#include "dosim_routes.h"

#include "dosim_droplet.h"
#include "dosim_model.h"

#include "dp_json.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ci_status(enum dosim_ci_state ci)
{
    return ci == DOSIM_CI_DONE ? "done" : ci == DOSIM_CI_RUNNING ? "running" : "pending";
}

static json_t *droplet_state(const struct dosim_droplet *d)
{
    return json_pack("{s:I, s:s, s:s, s:b, s:s, s:O, s:s, s:s, s:I, s:s, s:s, s:I, "
                     "s:{s:i, s:b, s:i, s:i, s:b}, s:{s:s, s:i, s:i}}",
                     "id", (json_int_t)d->id, "name", d->name, "status", d->status, "locked",
                     d->locked, "ip", d->ip.addr, "tags", d->tags, "region", d->region->slug,
                     "size", d->size->slug, "image_id", (json_int_t)d->image_id, "namespace", d->ns,
                     "dir", d->dir, "pending_action", (json_int_t)d->pending_action, "agent", "pid",
                     (int)d->agent_pid, "running", d->agent_pid > 0, "starts", d->agent_starts,
                     "last_exit", d->agent_exit, "wanted", d->agent_wanted, "cloud_init", "status",
                     ci_status(d->ci), "skipped", d->ci_skipped, "failed", d->ci_failed);
}

static json_t *image_state(const struct dosim_image *im)
{
    return json_pack("{s:I, s:s, s:s, s:O, s:O, s:I, s:s}", "id", (json_int_t)im->id, "name",
                     im->name, "type", im->type, "regions", im->regions, "tags", im->tags,
                     "source_droplet", (json_int_t)im->source_droplet, "dir", im->dir);
}

/* Under mu. */
static json_t *state_json(const struct dosim *sim)
{
    json_t *droplets = json_array(), *images = json_array();
    long running = 0, pending = 0;

    for (size_t i = 0; i < sim->st.droplets.n; i++) {
        const struct dosim_droplet *d = sim->st.droplets.v[i];

        running += d->agent_pid > 0;
        json_array_append_new(droplets, droplet_state(d));
    }
    for (size_t i = 0; i < sim->st.images.n; i++) {
        const struct dosim_image *im = sim->st.images.v[i];

        if (!im->public_)
            json_array_append_new(images, image_state(im));
    }
    for (size_t i = 0; i < sim->st.actions.n; i++)
        pending +=
            strcmp(((struct dosim_action *)sim->st.actions.v[i])->status, "in-progress") == 0;
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:i, s:{s:I, s:i}, s:O}", "sim_id", sim->sim_id,
                     "listen", sim->conf.listen, "state_dir", sim->state_dir, "droplets", droplets,
                     "images", images, "agents_running", (int)running, "actions", "total",
                     (json_int_t)sim->st.actions.n, "in_progress", (int)pending, "counters",
                     sim->counters);
}

int dosim_h_sim_state(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    json_t *ans;

    pthread_mutex_lock(&r->sim->mu);
    ans = state_json(r->sim);
    pthread_mutex_unlock(&r->sim->mu);
    json_object_set_new(ans, "faults", dosim_faults_json(&r->sim->faults));
    return dosim_reply(r, 200, ans);
}

int dosim_h_sim_faults_get(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);

    return dosim_reply(r, 200, dosim_faults_json(&r->sim->faults));
}

int dosim_h_sim_faults_set(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dp_err err = {0};
    const json_t *body;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    if (dosim_faults_set(&r->sim->faults, body, &err))
        return dosim_reply(r, 400,
                           json_pack("{s:s, s:s}", "error", "invalid_field", "detail", err.msg));
    dp_log(DP_LOG_INFO, &r->base.log, "faults changed");
    return dosim_reply(r, 200, dosim_faults_json(&r->sim->faults));
}

/* The last DOSIM_LOG_TAIL bytes of a file as a JSON string ("" when missing). */
static json_t *tail(const char *path)
{
    char *buf = malloc(DOSIM_LOG_TAIL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t n = 0;
    json_t *s;

    if (buf && fd >= 0 && fstat(fd, &st) == 0) {
        off_t from = st.st_size > DOSIM_LOG_TAIL ? st.st_size - DOSIM_LOG_TAIL : 0;

        n = pread(fd, buf, DOSIM_LOG_TAIL, from);
    }
    if (fd >= 0)
        close(fd);
    s = dp_json_string_lossy(buf ? buf : "", n > 0 ? (size_t)n : 0);
    free(buf);
    return s;
}

int dosim_h_sim_droplet_log(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    char dir[DOSIM_DIR_MAX], ci[DOSIM_FILE_MAX], agent[DOSIM_FILE_MAX];
    struct stat st;
    long long id;

    if (!dosim_param_id(r, 0, &id))
        return dosim_reply(
            r, 404, json_pack("{s:s, s:s}", "error", "not_found", "detail", "no such droplet"));
    /* The logs outlive the droplet: they are read from its folder, not from the state. */
    snprintf(dir, sizeof(dir), "%s/droplets/%lld", r->sim->state_dir, id);
    if (stat(dir, &st) != 0)
        return dosim_reply(
            r, 404, json_pack("{s:s, s:s}", "error", "not_found", "detail", "no such droplet"));
    snprintf(ci, sizeof(ci), "%s/cloud-init-output.log", dir);
    snprintf(agent, sizeof(agent), "%s/agent.log", dir);
    return dosim_reply(r, 200,
                       json_pack("{s:I, s:o, s:o}", "id", (json_int_t)id, "cloud_init", tail(ci),
                                 "agent", tail(agent)));
}

int dosim_h_sim_reset_counters(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);

    pthread_mutex_lock(&r->sim->mu);
    json_object_clear(r->sim->counters);
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply(r, 204, NULL);
}
