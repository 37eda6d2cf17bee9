/* /v2/tags and tagging resources. */
#include "dosim_routes.h"

#include "dosim_model.h"

#include "dp_json.h"

#include <stdio.h>
#include <string.h>

int dosim_h_tags_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    json_t *all = json_array();

    pthread_mutex_lock(&r->sim->mu);
    for (size_t i = 0; i < r->sim->st.tags.n; i++)
        json_array_append_new(all, dosim_tag_json(&r->sim->st, r->sim->st.tags.v[i], r->base_url));
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply_list(r, "tags", all);
}

/* The one 400 of the API with its own shape: {"error","messages","root_causes"}. */
static int bad_tag_name(struct dosim_req *r, const char *name)
{
    char inner[400], msg[512], cause[600];

    /* The real text has its quotes escaped twice over, backslashes and all. */
    snprintf(inner, sizeof(inner), "tag-name \\\\\\\"%.200s\\\\\\\" %s", name,
             strlen(name) > DOSIM_NAME_MAX ? "is too long" : "contains invalid characters");
    snprintf(msg, sizeof(msg), "Error validating resource tag: \\\"%s\\\"", inner);
    snprintf(cause, sizeof(cause), "rpc error: code = InvalidArgument desc = %s", msg);
    return dosim_reply(r, 400,
                       json_pack("{s:o, s:n, s:[o]}", "error",
                                 dp_json_string_lossy(msg, strlen(msg)), "messages", "root_causes",
                                 dp_json_string_lossy(cause, strlen(cause))));
}

int dosim_h_tag_create(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    const json_t *body;
    const char *name;
    struct dosim_tag *t;
    json_t *ans = NULL;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    name = json_string_value(json_object_get(body, "name"));
    if (!name || !dosim_tag_name_ok(name))
        return bad_tag_name(r, name ? name : "");
    pthread_mutex_lock(&r->sim->mu);
    t = dosim_tag_ensure(&r->sim->st, name);
    if (t) {
        ans = json_pack("{s:o}", "tag", dosim_tag_json(&r->sim->st, t, r->base_url));
        dosim_changed(r->sim);
    }
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 201, ans) : dosim_reply_422(r, "You have too many tags.");
}

static struct dosim_tag *tag_param(struct dosim_req *r)
{
    char name[DOSIM_NAME_MAX + 2];

    return dosim_param_str(r, 0, name, sizeof(name)) ? dosim_tag_find(&r->sim->st, name) : NULL;
}

int dosim_h_tag_get(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_tag *t;
    json_t *ans = NULL;

    pthread_mutex_lock(&r->sim->mu);
    t = tag_param(r);
    if (t)
        ans = json_pack("{s:o}", "tag", dosim_tag_json(&r->sim->st, t, r->base_url));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : dosim_reply_not_found(r);
}

int dosim_h_tag_delete(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    struct dosim_tag *t;
    bool found;

    pthread_mutex_lock(&r->sim->mu);
    t = tag_param(r);
    found = t != NULL;
    if (t) {
        dosim_tag_delete(&r->sim->st, t);
        dosim_changed(r->sim);
    }
    pthread_mutex_unlock(&r->sim->mu);
    return found ? dosim_reply(r, 204, NULL) : dosim_reply_not_found(r);
}

/* The tags array of the resource a {"resource_id","resource_type"} entry names, or NULL. */
static json_t *resource_tags(struct dosim *sim, const json_t *res)
{
    const char *type = json_string_value(json_object_get(res, "resource_type"));
    char id[32];
    long long n;
    struct dosim_droplet *d;
    struct dosim_image *im;

    if (!type || !dp_json_scalar_text(id, sizeof(id), json_object_get(res, "resource_id")) ||
        sscanf(id, "%lld", &n) != 1)
        return NULL;
    if (strcmp(type, "droplet") == 0) {
        d = dosim_droplet_find(&sim->st, n);
        return d ? d->tags : NULL;
    }
    if (strcmp(type, "image") == 0) {
        im = dosim_image_find(&sim->st, n);
        return im && !im->public_ ? im->tags : NULL;
    }
    return NULL; /* volumes and volume snapshots: none exist here */
}

/* Under mu: 0 when every entry names a resource that can take (or lose) the tag. */
static int check_resources(struct dosim *sim, const json_t *list, bool add)
{
    size_t i;
    const json_t *res;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return 400;
    json_array_foreach(list, i, res)
    {
        json_t *tags = resource_tags(sim, res);

        if (!tags)
            return 404;
        if (add && json_array_size(tags) >= DOSIM_RES_TAGS_MAX)
            return 422;
    }
    return 0;
}

/* Under mu: checks every entry first, then applies them all. */
static int tag_resources(struct dosim *sim, const struct dosim_tag *t, const json_t *list, bool add)
{
    size_t i;
    const json_t *res;
    int st = check_resources(sim, list, add);

    if (st)
        return st;
    json_array_foreach(list, i, res)
    {
        json_t *tags = resource_tags(sim, res);

        if (add && !dosim_strs_has(tags, t->name))
            json_array_append_new(tags, json_string(t->name));
        else if (!add)
            dosim_strs_remove(tags, t->name);
    }
    dosim_changed(sim);
    return 204;
}

static int tag_resources_h(struct dp_req *rq, bool add)
{
    struct dosim_req *r = dosim_req_of(rq);
    const json_t *body;
    struct dosim_tag *t;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    pthread_mutex_lock(&r->sim->mu);
    t = tag_param(r);
    st = t ? tag_resources(r->sim, t, json_object_get(body, "resources"), add) : 404;
    pthread_mutex_unlock(&r->sim->mu);
    if (st == 400)
        return dosim_reply_error(r, 400, "bad_request", "resources must be a non-empty list");
    if (st == 422)
        return dosim_reply_422(r, "A resource can carry at most 64 tags.");
    return st == 404 ? dosim_reply_not_found(r) : dosim_reply(r, 204, NULL);
}

int dosim_h_tag_resources_add(struct dp_req *rq)
{
    return tag_resources_h(rq, true);
}

int dosim_h_tag_resources_remove(struct dp_req *rq)
{
    return tag_resources_h(rq, false);
}
