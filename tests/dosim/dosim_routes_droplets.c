/* /v2/droplets: list, create, get, delete (one or by tag), a droplet's snapshots. */
#include "dosim_routes.h"

#include "dosim_create.h"
#include "dosim_droplet.h"
#include "dosim_model.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int dosim_h_droplets_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    char tag[DOSIM_NAME_MAX + 2], name[DOSIM_NAME_MAX + 2], type[16];
    bool by_tag = dosim_query(r, "tag_name", tag, sizeof(tag));
    bool by_name = dosim_query(r, "name", name, sizeof(name));
    bool typed = dosim_query(r, "type", type, sizeof(type));
    json_t *all;

    if (by_tag && (by_name || typed))
        return dosim_reply_error(r, 400, "bad_request",
                                 "tag_name cannot be combined with name or type");
    if (typed && strcmp(type, "droplets") != 0 && strcmp(type, "gpus") != 0)
        return dosim_reply_error(r, 400, "bad_request", "type must be droplets or gpus");
    all = json_array();
    pthread_mutex_lock(&r->sim->mu);
    for (size_t i = 0; i < r->sim->st.droplets.n && !(typed && type[0] == 'g'); i++) {
        const struct dosim_droplet *d = r->sim->st.droplets.v[i];

        if ((!by_tag || dosim_strs_has(d->tags, tag)) &&
            (!by_name || strcasecmp(d->name, name) == 0))
            json_array_append_new(all, dosim_droplet_json(d));
    }
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply_list(r, "droplets", all);
}

int dosim_h_droplets_create(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_create_plan plan;
    const char *msg = NULL;
    const json_t *body;
    json_t *ans = NULL;
    struct dp_err err = {0};
    int st = dosim_body(r, &body);

    if (st)
        return st;
    pthread_mutex_lock(&r->sim->mu);
    msg = dosim_create_check(r->sim, body, &plan);
    st = msg ? 422 : 0;
    if (!st && dosim_create_apply(&ans, r->sim, &plan, r->base_url, &err))
        st = 500;
    pthread_mutex_unlock(&r->sim->mu);
    if (st == 422)
        return dosim_reply_422(r, msg);
    if (st) {
        dp_log(DP_LOG_ERROR, &r->base.log, "droplet create failed: %s", err.msg);
        return dosim_reply_error(r, 500, "server_error", "Unexpected server-side error");
    }
    if (dosim_faults_create_500(&r->sim->faults)) { /* made, and yet the client hears 500 */
        json_decref(ans);
        dp_log(DP_LOG_INFO, &r->base.log, "fault: create answered 500 after creating");
        return dosim_reply_error(r, 500, "server_error", "Unexpected server-side error");
    }
    return dosim_reply(r, 202, ans);
}

int dosim_h_droplet_get(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_droplet *d = NULL;
    json_t *ans = NULL;
    long long id;

    pthread_mutex_lock(&r->sim->mu);
    if (dosim_param_id(r, 0, &id))
        d = dosim_droplet_find(&r->sim->st, id);
    if (d)
        ans = json_pack("{s:o}", "droplet", dosim_droplet_json(d));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : dosim_reply_not_found(r);
}

int dosim_h_droplet_delete(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_droplet *d = NULL;
    long long id;

    pthread_mutex_lock(&r->sim->mu);
    if (dosim_param_id(r, 0, &id))
        d = dosim_droplet_find(&r->sim->st, id);
    if (d)
        dosim_droplet_detach(r->sim, d);
    pthread_mutex_unlock(&r->sim->mu);
    if (!d)
        return dosim_reply_not_found(r);
    dosim_droplet_destroy(r->sim, d);
    return dosim_reply(r, 204, NULL);
}

int dosim_h_droplets_delete_tag(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_droplet *gone[DOSIM_DROPLETS_MAX];
    char tag[DOSIM_NAME_MAX + 2];
    size_t n = 0;

    if (!dosim_query(r, "tag_name", tag, sizeof(tag)) || !tag[0])
        return dosim_reply_error(r, 400, "bad_request", "tag_name is required");
    pthread_mutex_lock(&r->sim->mu);
    for (size_t i = r->sim->st.droplets.n; i-- > 0 && n < DOSIM_DROPLETS_MAX;) {
        struct dosim_droplet *d = r->sim->st.droplets.v[i];

        if (dosim_strs_has(d->tags, tag)) {
            dosim_droplet_detach(r->sim, d);
            gone[n++] = d;
        }
    }
    pthread_mutex_unlock(&r->sim->mu);
    for (size_t i = 0; i < n; i++)
        dosim_droplet_destroy(r->sim, gone[i]);
    return dosim_reply(r, 204, NULL);
}

int dosim_h_droplet_snapshots(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    json_t *all = NULL;
    long long id;

    pthread_mutex_lock(&r->sim->mu);
    if (dosim_param_id(r, 0, &id) && dosim_droplet_find(&r->sim->st, id)) {
        all = json_array();
        for (size_t i = 0; i < r->sim->st.images.n; i++) {
            const struct dosim_image *im = r->sim->st.images.v[i];

            if (im->source_droplet == id)
                json_array_append_new(all, dosim_droplet_snapshot_json(im));
        }
    }
    pthread_mutex_unlock(&r->sim->mu);
    return all ? dosim_reply_list(r, "snapshots", all) : dosim_reply_not_found(r);
}
