/* Droplet actions (POST /v2/droplets/{id}/actions and the listings) and /v2/actions. */
#include "dosim_routes.h"

#include "dosim_droplet.h"
#include "dosim_model.h"

#include "dp_json.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static bool supported(const char *t)
{
    static const char *const types[] = {"shutdown",    "power_off", "power_on", "reboot",
                                        "power_cycle", "snapshot",  "rename"};

    for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(t, types[i]) == 0)
            return true;
    }
    return false;
}

/* Why d cannot take an action of type t now, or NULL. */
static const char *refusal(const struct dosim_droplet *d, const char *t)
{
    bool off = strcmp(d->status, "off") == 0;

    if (d->locked || d->pending_action || strcmp(d->status, "new") == 0)
        return "Droplet already has a pending event.";
    if ((strcmp(t, "shutdown") == 0 || strcmp(t, "power_off") == 0) && off)
        return "Droplet is already powered off.";
    if (strcmp(t, "power_on") == 0 && !off)
        return "Droplet is already powered on.";
    return NULL;
}

/* The action's argument: a snapshot's name (given or "<droplet>-<epoch ms>"), a new name. */
static const char *action_arg(const struct dosim_droplet *d, const char *t, const json_t *body,
                              char *buf, size_t size)
{
    const char *name = NULL;
    struct timeval tv;

    if (dp_json_get_str(&name, body, "name", false, DOSIM_NAME_MAX, NULL))
        return NULL;
    if (strcmp(t, "rename") == 0)
        return name && *name ? name : NULL;
    if (strcmp(t, "snapshot") != 0)
        return "";
    if (name && *name)
        return name;
    gettimeofday(&tv, NULL);
    snprintf(buf, size, "%.200s-%lld", d->name, (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    return buf;
}

/* Under mu: starts the action or says why not. */
static const char *droplet_act(struct dosim *sim, struct dosim_droplet *d, const char *t,
                               const json_t *body, json_t **ans)
{
    char buf[DOSIM_NAME_MAX + 32];
    const char *why = refusal(d, t), *arg = why ? NULL : action_arg(d, t, body, buf, sizeof(buf));
    struct dosim_action *a;

    if (why)
        return why;
    if (!arg)
        return "name must be a valid name of at most 255 characters";
    a = dosim_action_start(sim, t, "droplet", d->id, d->region);
    if (!a)
        return "Too many actions.";
    snprintf(a->arg, sizeof(a->arg), "%.*s", (int)sizeof(a->arg) - 1, arg); /* checked above */
    if (strcmp(t, "rename") == 0)
        snprintf(d->name, sizeof(d->name), "%.*s", (int)sizeof(d->name) - 1, arg);
    d->pending_action = a->id;
    d->locked = true;
    *ans = json_pack("{s:o}", "action", dosim_action_json(a));
    dosim_changed(sim);
    return NULL;
}

int dosim_h_droplet_action_post(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    const json_t *body;
    const char *t, *why = NULL;
    struct dosim_droplet *d = NULL;
    json_t *ans = NULL;
    long long id;
    int st = dosim_body(r, &body);

    if (st)
        return st;
    t = json_string_value(json_object_get(body, "type"));
    pthread_mutex_lock(&r->sim->mu);
    if (dosim_param_id(r, 0, &id))
        d = dosim_droplet_find(&r->sim->st, id);
    if (d && !supported(t))
        why = t ? "This action type is not supported by the simulator." : "Type is required.";
    else if (d)
        why = droplet_act(r->sim, d, t, body, &ans);
    pthread_mutex_unlock(&r->sim->mu);
    if (!d)
        return dosim_reply_not_found(r);
    return why ? dosim_reply_422(r, why) : dosim_reply(r, 201, ans);
}

json_t *dosim_actions_of(const struct dosim *sim, const char *rtype, long long id)
{
    json_t *all = json_array();

    for (size_t i = 0; i < sim->st.actions.n; i++) {
        const struct dosim_action *a = sim->st.actions.v[i];

        if (!rtype || (a->resource_id == id && strcmp(a->resource_type, rtype) == 0))
            json_array_append_new(all, dosim_action_json(a));
    }
    return all;
}

int dosim_h_droplet_actions_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    json_t *all = NULL;
    long long id;

    pthread_mutex_lock(&r->sim->mu);
    if (dosim_param_id(r, 0, &id) && dosim_droplet_find(&r->sim->st, id))
        all = dosim_actions_of(r->sim, "droplet", id);
    pthread_mutex_unlock(&r->sim->mu);
    return all ? dosim_reply_list(r, "actions", all) : dosim_reply_not_found(r);
}

int dosim_action_get_of(struct dp_req *rq, const char *rtype)
{
    struct dosim_req *r = dosim_req_of(rq);
    const struct dosim_action *a = NULL;
    long long rid = 0, aid;
    json_t *ans = NULL;
    bool ids = rtype ? dosim_param_id(r, 0, &rid) && dosim_param_id(r, 1, &aid)
                     : dosim_param_id(r, 0, &aid);

    pthread_mutex_lock(&r->sim->mu);
    if (ids)
        a = dosim_action_find(&r->sim->st, aid);
    if (a && rtype && (a->resource_id != rid || strcmp(a->resource_type, rtype) != 0))
        a = NULL;
    if (a)
        ans = json_pack("{s:o}", "action", dosim_action_json(a));
    pthread_mutex_unlock(&r->sim->mu);
    return ans ? dosim_reply(r, 200, ans) : dosim_reply_not_found(r);
}

int dosim_h_droplet_action_get(struct dp_req *rq)
{
    return dosim_action_get_of(rq, "droplet");
}

int dosim_h_actions_list(struct dp_req *rq)
{
    struct dosim_req *r = dosim_req_of(rq);
    json_t *all;

    pthread_mutex_lock(&r->sim->mu);
    all = dosim_actions_of(r->sim, NULL, 0);
    pthread_mutex_unlock(&r->sim->mu);
    return dosim_reply_list(r, "actions", all);
}

int dosim_h_action_get(struct dp_req *rq)
{
    return dosim_action_get_of(rq, NULL);
}
