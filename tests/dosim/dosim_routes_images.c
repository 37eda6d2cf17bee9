/* /v2/images (with transfer actions) and /v2/snapshots. */
#include "dosim_routes.h"

#include "dosim_droplet.h"
#include "dosim_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool image_listed(const struct dosim_image *im, bool priv, const char *type, const char *tag)
{
    if (priv && im->public_)
        return false;
    if (type && (!im->public_ || im->application != (strcmp(type, "application") == 0)))
        return false;
    return !tag || dosim_strs_has(im->tags, tag);
}

int dosim_h_images_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    char priv[8] = "", type[16] = "", tag[DOSIM_NAME_MAX + 2] = "";
    bool has_type = dosim_query(r, "type", type, sizeof(type));
    bool has_tag = dosim_query(r, "tag_name", tag, sizeof(tag));
    json_t *all;

    dosim_query(r, "private", priv, sizeof(priv));
    if (has_type && strcmp(type, "application") != 0 && strcmp(type, "distribution") != 0)
        return dosim_reply_error(r, 400, "bad_request", "type must be application or distribution");
    all = json_array();
    pthread_mutex_lock(&r->sim->mu);
    for (size_t i = 0; i < r->sim->st.images.n; i++) {
        const struct dosim_image *im = r->sim->st.images.v[i];

        if (image_listed(im, strcmp(priv, "true") == 0, has_type ? type : NULL,
                         has_tag ? tag : NULL))
            json_array_append_new(all, dosim_image_json(im));
    }
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply_list(r, "images", all);
}

/* {image_id}: an int id (any image) or a public slug. Under mu. */
static struct dosim_image *image_param(struct dosim_req *r)
{
    char p[128];
    long long id;

    if (dosim_param_id(r, 0, &id))
        return dosim_image_find(&r->sim->st, id);
    if (!dosim_param_str(r, 0, p, sizeof(p)))
        return NULL;
    return dosim_image_find_slug(&r->sim->st, p);
}

int dosim_h_image_get(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_image *im;
    json_t *ans = NULL;

    pthread_mutex_lock(&r->sim->mu);
    im = image_param(r);
    if (im)
        ans = json_pack("{s:o}", "image", dosim_image_json(im));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : dosim_reply_not_found(r);
}

/* Deletes a private image; 404 for unknown and public ones. */
static int delete_private(struct dosim_req *r, struct dosim_image *im)
{
    bool last = false, ok = im && !im->public_;

    if (ok)
        last = dosim_image_detach(r->sim, im);
    pthread_mutex_unlock(&r->sim->mu);
    if (last)
        dosim_image_discard(im);
    return ok ? dosim_reply(r, 204, NULL) : dosim_reply_not_found(r);
}

int dosim_h_image_delete(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_image *im = NULL;
    long long id;

    pthread_mutex_lock(&r->sim->mu);
    if (dosim_param_id(r, 0, &id))
        im = dosim_image_find(&r->sim->st, id);
    return delete_private(r, im); /* unlocks */
}

int dosim_h_image_actions_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_image *im;
    json_t *all = NULL;

    pthread_mutex_lock(&r->sim->mu);
    im = image_param(r);
    if (im)
        all = dosim_actions_of(r->sim, "image", im->id);
    pthread_mutex_unlock(&r->sim->mu);
    return all ? dosim_reply_list(r, "actions", all) : dosim_reply_not_found(r);
}

/* Under mu: starts a transfer of im or says why not. */
static const char *transfer(struct dosim *sim, struct dosim_image *im, const json_t *body,
                            json_t **ans)
{
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *slug = json_string_value(json_object_get(body, "region"));
    const struct dosim_region *to = dosim_region_find(slug);
    struct dosim_action *a;

    if (!type || (strcmp(type, "transfer") != 0 && strcmp(type, "convert") != 0))
        return "type must be transfer or convert.";
    if (strcmp(type, "convert") == 0)
        return "Only backups can be converted to snapshots.";
    if (im->public_ || strcmp(im->type, "snapshot") != 0)
        return "Only snapshots you own can be transferred.";
    if (!slug)
        return "region is required for a transfer.";
    if (!to)
        return "You specified an invalid region for the image transfer.";
    if (!to->available)
        return "Region is not available";
    a = dosim_action_start(sim, "transfer", "image", im->id, to);
    if (!a)
        return "Too many actions.";
    snprintf(a->arg, sizeof(a->arg), "%s", to->slug);
    *ans = json_pack("{s:o}", "action", dosim_action_json(a));
    dosim_changed(sim);
    return NULL;
}

int dosim_h_image_action_post(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    const json_t *body;
    struct dosim_image *im;
    const char *why = NULL;
    json_t *ans = NULL;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    pthread_mutex_lock(&r->sim->mu);
    im = image_param(r);
    if (im)
        why = transfer(r->sim, im, body, &ans);
    pthread_mutex_unlock(&r->sim->mu);
    if (!im)
        return dosim_reply_not_found(r);
    return why ? dosim_reply_422(r, why) : dosim_reply(r, 201, ans);
}

int dosim_h_image_action_get(struct dp_req *rq)
{
    return dosim_action_get_of(rq, "image");
}

static bool is_snapshot(const struct dosim_image *im)
{
    return !im->public_ && strcmp(im->type, "snapshot") == 0;
}

int dosim_h_snapshots_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    char rt[16] = "";
    json_t *all = json_array();

    dosim_query(r, "resource_type", rt, sizeof(rt));
    pthread_mutex_lock(&r->sim->mu);
    for (size_t i = 0; i < r->sim->st.images.n && strcmp(rt, "volume") != 0; i++) {
        const struct dosim_image *im = r->sim->st.images.v[i];

        if (is_snapshot(im))
            json_array_append_new(all, dosim_snapshot_json(im));
    }
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply_list(r, "snapshots", all);
}

/* {snapshot_id}: a droplet snapshot's id as digits (volume snapshot UUIDs never exist here).
 * Under mu; *status 400 for an image that is not a snapshot, 404 for nothing. */
static struct dosim_image *snapshot_param(struct dosim_req *r, int *status)
{
    long long id;
    struct dosim_image *im = dosim_param_id(r, 0, &id) ? dosim_image_find(&r->sim->st, id) : NULL;

    *status = !im ? 404 : is_snapshot(im) ? 200 : 400;
    return *status == 200 ? im : NULL;
}

static int snapshot_error(struct dosim_req *r, int status)
{
    if (status == 400)
        return dosim_reply_error(r, 400, "bad_request", "the resource is not a snapshot");
    return dosim_reply_not_found(r);
}

int dosim_h_snapshot_get(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_image *im;
    json_t *ans = NULL;
    int st;

    pthread_mutex_lock(&r->sim->mu);
    im = snapshot_param(r, &st);
    if (im)
        ans = json_pack("{s:o}", "snapshot", dosim_snapshot_json(im));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : snapshot_error(r, st);
}

int dosim_h_snapshot_delete(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_image *im;
    int st;

    pthread_mutex_lock(&r->sim->mu);
    im = snapshot_param(r, &st);
    if (!im) {
        pthread_mutex_unlock(&r->sim->mu);
        return snapshot_error(r, st);
    }
    return delete_private(r, im); /* unlocks */
}
