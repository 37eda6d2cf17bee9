#include "dp_ctr.h"

#include "dp_json.h"
#include "dp_logframe.h"
#include "dp_url.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNAME_MAX    128   /* Docker's name for a container: "ns_name" */
#define STOP_GRACE_S 10    /* SIGTERM to SIGKILL when stopping */
#define CALL_MS      60000 /* non-streamed container calls */

static const char *str_or(const char *s, const char *def)
{
    return s ? s : def;
}

/* Issues a non-streamed call and returns the answer; a transport failure is the error. */
static dp_rc ctr_call(struct dp_docker_resp *r, const struct dp_ctr_scope *s, const char *method,
                      const char *path, const char *json_body, struct dp_err *err)
{
    struct dp_docker_req rq = {
        .method = method, .path = path, .json_body = json_body, .timeout_ms = CALL_MS};

    return dp_docker_call(s->docker, &rq, r, err);
}

static bool labels_ours(const json_t *labels, const char *ns)
{
    const char *managed = json_string_value(json_object_get(labels, DP_LABEL_MANAGED));
    const char *lns = json_string_value(json_object_get(labels, DP_LABEL_NAMESPACE));

    return managed && strcmp(managed, "1") == 0 && strcmp(str_or(lns, ""), ns) == 0;
}

/* Inspects Docker's container dname. *out is NULL when it does not exist; *ours says whether
 * it carries this agent's labels. */
static dp_rc ctr_find(json_t **out, bool *ours, const struct dp_ctr_scope *s, const char *dname,
                      struct dp_err *err)
{
    struct dp_docker_resp r;
    char path[DNAME_MAX + 32];
    dp_rc rc;

    *out = NULL;
    *ours = false;
    snprintf(path, sizeof(path), "/containers/%s/json", dname);
    rc = ctr_call(&r, s, "GET", path, NULL, err);
    if (rc == DP_OK && r.status == 200) {
        *out = json_loadb(r.body.data, r.body.len, 0, NULL);
        if (!*out)
            rc =
                dp_err_setc(err, DP_EUPSTREAM, "docker_error", "docker sent an unreadable inspect");
        else
            *ours = labels_ours(json_object_get(json_object_get(*out, "Config"), "Labels"),
                                s->namespace_);
    } else if (rc == DP_OK && r.status != 404) {
        rc = dp_docker_status_err(&r, "inspect container", err);
    }
    dp_docker_resp_clear(&r);
    return rc;
}

/* Like ctr_find, but a missing or foreign container is DP_ENOTFOUND. */
static dp_rc ctr_find_ours(json_t **out, const struct dp_ctr_scope *s, const char *name,
                           char *dname, struct dp_err *err)
{
    bool ours;
    dp_rc rc = dp_ctr_docker_name(dname, DNAME_MAX, s->namespace_, name, err);

    if (rc == DP_OK)
        rc = ctr_find(out, &ours, s, dname, err);
    if (rc == DP_OK && (!*out || !ours)) {
        json_decref(*out);
        *out = NULL;
        rc = dp_err_setc(err, DP_ENOTFOUND, "container_not_found", "no container named '%s' here",
                         name);
    }
    return rc;
}

static const char *inspect_state(const json_t *insp)
{
    return str_or(json_string_value(json_object_get(json_object_get(insp, "State"), "Status")),
                  "unknown");
}

/* POST /containers/{id}/{verb}[?query]; 204 and 304 (already so) are success. */
static dp_rc ctr_post(const struct dp_ctr_scope *s, const char *id, const char *verb,
                      const char *query, struct dp_err *err)
{
    struct dp_docker_resp r;
    char path[DNAME_MAX + 128];
    dp_rc rc;

    snprintf(path, sizeof(path), "/containers/%s/%s%s", id, verb, query ? query : "");
    rc = ctr_call(&r, s, "POST", path, NULL, err);
    if (rc == DP_OK && r.status != 204 && r.status != 304) {
        char *msg = r.body.data;

        if (msg &&
            (strstr(msg, "port is already allocated") || strstr(msg, "address already in use")))
            rc = dp_err_setc(err, DP_ECONFLICT, "port_in_use",
                             "cannot %s: a published port is "
                             "already in use on this server",
                             verb);
        else
            rc = dp_docker_status_err(&r, verb, err);
    }
    dp_docker_resp_clear(&r);
    return rc;
}

static dp_rc ctr_remove(const struct dp_ctr_scope *s, const char *id, struct dp_err *err)
{
    struct dp_docker_resp r;
    char path[DNAME_MAX + 64];
    dp_rc rc;

    snprintf(path, sizeof(path), "/containers/%s?force=1&v=0", id);
    rc = ctr_call(&r, s, "DELETE", path, NULL, err);
    if (rc == DP_OK && r.status != 204 && r.status != 404)
        rc = dp_docker_status_err(&r, "remove container", err);
    dp_docker_resp_clear(&r);
    return rc;
}

static dp_rc ctr_create(char *id, size_t idsize, const struct dp_ctr_scope *s,
                        const struct dp_ctr_spec *spec, const char *dname, struct dp_err *err)
{
    struct dp_docker_resp r;
    char path[DNAME_MAX + 64];
    char *body = dp_json_dump(spec->create_body);
    json_t *ans = NULL;
    dp_rc rc;

    if (!body)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    snprintf(path, sizeof(path), "/containers/create?name=%s", dname);
    rc = ctr_call(&r, s, "POST", path, body, err);
    free(body); /* holds env values: gone as soon as Docker has them */
    if (rc == DP_OK && r.status == 404)
        rc = dp_err_setc(err, DP_ENOTFOUND, "image_not_found",
                         "image '%s' is not on this server; pull or build it first", spec->image);
    else if (rc == DP_OK && r.status != 201)
        rc = dp_docker_status_err(&r, "create container", err);
    if (rc == DP_OK) {
        ans = json_loadb(r.body.data, r.body.len, 0, NULL);
        snprintf(id, idsize, "%s", str_or(json_string_value(json_object_get(ans, "Id")), ""));
        if (!id[0])
            rc = dp_err_setc(err, DP_EUPSTREAM, "docker_error", "docker created no container id");
    }
    json_decref(ans);
    dp_docker_resp_clear(&r);
    return rc;
}

/* Moves an existing container out of the way so its name is free; it is put back on failure. */
struct aside {
    char id[80];
    char tmpname[DNAME_MAX + 32];
    bool was_running;
};

static dp_rc aside_move(struct aside *a, const struct dp_ctr_scope *s, json_t *old,
                        const char *dname, struct dp_err *err)
{
    unsigned char r[4] = {0};
    char q[DNAME_MAX + 48];
    dp_rc rc;

    snprintf(a->id, sizeof(a->id), "%s", str_or(json_string_value(json_object_get(old, "Id")), ""));
    a->was_running = strcmp(inspect_state(old), "running") == 0;
    RAND_bytes(r, sizeof(r));
    snprintf(a->tmpname, sizeof(a->tmpname), "%s-replaced-%02x%02x%02x%02x", dname, r[0], r[1],
             r[2], r[3]);
    rc = ctr_post(s, a->id, "stop", "?t=10", err); /* frees its ports for the new one */
    snprintf(q, sizeof(q), "?name=%s", a->tmpname);
    if (rc == DP_OK)
        rc = ctr_post(s, a->id, "rename", q, err);
    return rc;
}

static void aside_restore(struct aside *a, const struct dp_ctr_scope *s, const char *dname)
{
    char q[DNAME_MAX + 16];

    snprintf(q, sizeof(q), "?name=%s", dname);
    ctr_post(s, a->id, "rename", q, NULL);
    if (a->was_running)
        ctr_post(s, a->id, "start", NULL, NULL);
}

static dp_rc run_new(json_t **out, const struct dp_ctr_scope *s, const struct dp_ctr_spec *spec,
                     const char *dname, struct dp_err *err)
{
    char id[80] = "";
    json_t *insp = NULL;
    bool ours;
    dp_rc rc = ctr_create(id, sizeof(id), s, spec, dname, err);

    if (rc == DP_OK)
        rc = ctr_post(s, id, "start", NULL, err);
    if (rc == DP_OK)
        rc = ctr_find(&insp, &ours, s, dname, err);
    if (rc == DP_OK)
        *out = json_pack("{s:s, s:s, s:s}", "id", id, "name", spec->name, "state",
                         insp ? inspect_state(insp) : "unknown");
    else if (id[0])
        ctr_remove(s, id, NULL); /* nothing half-made stays behind */
    json_decref(insp);
    return rc;
}

dp_rc dp_ctr_run(json_t **out, const struct dp_ctr_scope *s, const json_t *req, struct dp_err *err)
{
    struct dp_ctr_place pl = {s->namespace_, s->publish_ip};
    struct dp_ctr_spec spec;
    struct aside aside = {0};
    char dname[DNAME_MAX];
    json_t *old = NULL;
    bool ours = false, moved = false;
    dp_rc rc;

    *out = NULL;
    rc = dp_ctr_spec_parse(&spec, req, &pl, err);
    if (rc == DP_OK)
        rc = dp_ctr_docker_name(dname, sizeof(dname), s->namespace_, spec.name, err);
    if (rc == DP_OK)
        rc = ctr_find(&old, &ours, s, dname, err);
    if (rc == DP_OK && old && !ours)
        rc = dp_err_setc(err, DP_ECONFLICT, "name_taken",
                         "a container named '%s' exists that this agent does not manage", dname);
    else if (rc == DP_OK && old && !spec.replace)
        rc = dp_err_setc(err, DP_ECONFLICT, "container_exists",
                         "container '%s' exists; send \"replace\": true to replace it", spec.name);
    else if (rc == DP_OK && old)
        moved = (rc = aside_move(&aside, s, old, dname, err)) == DP_OK;
    if (rc == DP_OK)
        rc = run_new(out, s, &spec, dname, err);
    if (moved && rc == DP_OK)
        ctr_remove(s, aside.id, NULL);
    else if (moved)
        aside_restore(&aside, s, dname);
    json_decref(old);
    dp_ctr_spec_clear(&spec);
    return rc;
}

static json_t *list_ports(const json_t *ports)
{
    json_t *out = json_array(), *p;
    size_t i;

    json_array_foreach(ports, i, p)
    {
        json_t *e = json_pack("{s:I, s:s}", "container_port",
                              json_integer_value(json_object_get(p, "PrivatePort")), "protocol",
                              str_or(json_string_value(json_object_get(p, "Type")), "tcp"));

        if (json_object_get(p, "PublicPort")) {
            json_object_set_new(e, "host_port",
                                json_integer(json_integer_value(json_object_get(p, "PublicPort"))));
            json_object_set_new(
                e, "host_ip", json_string(str_or(json_string_value(json_object_get(p, "IP")), "")));
        }
        json_array_append_new(out, e);
    }
    return out;
}

static json_t *list_entry(const json_t *c)
{
    const json_t *labels = json_object_get(c, "Labels");

    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:O, s:I}", "name",
                     str_or(json_string_value(json_object_get(labels, DP_LABEL_NAME)), ""), "id",
                     str_or(json_string_value(json_object_get(c, "Id")), ""), "image",
                     str_or(json_string_value(json_object_get(c, "Image")), ""), "image_id",
                     str_or(json_string_value(json_object_get(c, "ImageID")), ""), "state",
                     str_or(json_string_value(json_object_get(c, "State")), ""), "status",
                     str_or(json_string_value(json_object_get(c, "Status")), ""), "ports",
                     list_ports(json_object_get(c, "Ports")), "labels",
                     labels ? labels : json_null(), "created",
                     json_integer_value(json_object_get(c, "Created")));
}

/* GET /containers/json filtered by our labels; *raw is Docker's array. */
static dp_rc list_raw(json_t **raw, const struct dp_ctr_scope *s, bool all, struct dp_err *err)
{
    char filt[256], esc[768], path[900];
    struct dp_docker_resp r;
    dp_rc rc;

    *raw = NULL;
    snprintf(filt, sizeof(filt), "{\"label\":[\"%s=1\",\"%s=%s\"]}", DP_LABEL_MANAGED,
             DP_LABEL_NAMESPACE, s->namespace_);
    if (dp_url_escape(esc, sizeof(esc), filt))
        return dp_err_set(err, DP_EINTERNAL, "filter too long");
    snprintf(path, sizeof(path), "/containers/json?all=%d&filters=%s", all ? 1 : 0, esc);
    rc = ctr_call(&r, s, "GET", path, NULL, err);
    if (rc == DP_OK && r.status != 200)
        rc = dp_docker_status_err(&r, "list containers", err);
    if (rc == DP_OK) {
        *raw = json_loadb(r.body.data, r.body.len, 0, NULL);
        if (!json_is_array(*raw))
            rc = dp_err_setc(err, DP_EUPSTREAM, "docker_error", "docker sent an unreadable list");
    }
    dp_docker_resp_clear(&r);
    return rc;
}

dp_rc dp_ctr_list(json_t **out, const struct dp_ctr_scope *s, struct dp_err *err)
{
    json_t *raw, *list, *c;
    size_t i;
    dp_rc rc = list_raw(&raw, s, true, err);

    *out = NULL;
    if (rc == DP_OK) {
        list = json_array();
        json_array_foreach(raw, i, c)
        {
            json_array_append_new(list, list_entry(c));
        }
        *out = json_pack("{s:o}", "containers", list);
    }
    json_decref(raw);
    return rc;
}

dp_rc dp_ctr_count_running(long *out, const struct dp_ctr_scope *s, struct dp_err *err)
{
    json_t *raw;
    dp_rc rc = list_raw(&raw, s, false, err);

    *out = rc == DP_OK ? (long)json_array_size(raw) : 0;
    json_decref(raw);
    return rc;
}

/* Performs action on the container id. */
static dp_rc act_on(const struct dp_ctr_scope *s, const char *id, enum dp_ctr_action action,
                    struct dp_err *err)
{
    switch (action) {
    case DP_CTR_START:
        return ctr_post(s, id, "start", NULL, err);
    case DP_CTR_STOP:
        return ctr_post(s, id, "stop", "?t=10", err);
    case DP_CTR_RESTART:
        return ctr_post(s, id, "restart", "?t=10", err);
    case DP_CTR_REMOVE:
        return ctr_remove(s, id, err);
    }
    return dp_err_set(err, DP_EINTERNAL, "unknown container action");
}

dp_rc dp_ctr_act(json_t **out, const struct dp_ctr_scope *s, const char *name,
                 enum dp_ctr_action action, struct dp_err *err)
{
    char dname[DNAME_MAX];
    json_t *insp = NULL, *after = NULL;
    const char *state = "removed";
    bool ours;
    dp_rc rc = ctr_find_ours(&insp, s, name, dname, err);

    *out = NULL;
    if (rc == DP_OK)
        rc = act_on(s, json_string_value(json_object_get(insp, "Id")), action, err);
    if (rc == DP_OK && action != DP_CTR_REMOVE) {
        rc = ctr_find(&after, &ours, s, dname, err);
        state = after ? inspect_state(after) : "unknown";
    }
    if (rc == DP_OK)
        *out = json_pack("{s:s, s:s}", "name", name, "state", state);
    json_decref(insp);
    json_decref(after);
    return rc;
}

dp_rc dp_ctr_inspect(json_t **out, const struct dp_ctr_scope *s, const char *name,
                     struct dp_err *err)
{
    char dname[DNAME_MAX];
    json_t *insp = NULL, *st;
    dp_rc rc = ctr_find_ours(&insp, s, name, dname, err);

    *out = NULL;
    if (rc)
        return rc;
    st = json_object_get(insp, "State");
    *out = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:b, s:s, s:s, s:I, s:O}", "name", name, "id",
        str_or(json_string_value(json_object_get(insp, "Id")), ""), "image",
        str_or(json_string_value(json_object_get(json_object_get(insp, "Config"), "Image")), ""),
        "state", inspect_state(insp), "exit_code",
        json_integer_value(json_object_get(st, "ExitCode")), "oom_killed",
        json_is_true(json_object_get(st, "OOMKilled")), "started_at",
        str_or(json_string_value(json_object_get(st, "StartedAt")), ""), "finished_at",
        str_or(json_string_value(json_object_get(st, "FinishedAt")), ""), "restart_count",
        json_integer_value(json_object_get(insp, "RestartCount")), "labels",
        json_object_get(json_object_get(insp, "Config"), "Labels"));
    json_decref(insp);
    return *out ? DP_OK : dp_err_set(err, DP_ENOMEM, "out of memory");
}

struct logs_ctx {
    struct dp_logframe frames;
    const struct dp_ctr_log_cb *cb;
};

static dp_rc logs_data(void *ud, const char *p, size_t n)
{
    struct logs_ctx *lc = ud;
    dp_rc rc = dp_logframe_feed(&lc->frames, p, n, lc->cb->on_line, lc->cb->ud);

    return rc == DP_EINVAL ? DP_EUPSTREAM : rc;
}

static int logs_tick(void *ud)
{
    struct logs_ctx *lc = ud;

    return lc->cb->tick ? lc->cb->tick(lc->cb->ud) : 0;
}

dp_rc dp_ctr_logs(const struct dp_ctr_scope *s, const char *name, long tail, bool follow,
                  const struct dp_ctr_log_cb *cb, struct dp_err *err)
{
    char dname[DNAME_MAX], path[DNAME_MAX + 128], tailtxt[24];
    json_t *insp = NULL;
    struct logs_ctx lc = {.cb = cb};
    struct dp_docker_stream_cb scb = {.on_data = logs_data, .tick = logs_tick, .ud = &lc};
    struct dp_docker_req rq = {.method = "GET", .path = path};
    dp_rc rc = ctr_find_ours(&insp, s, name, dname, err);

    if (rc)
        return rc;
    if (tail < 0)
        snprintf(tailtxt, sizeof(tailtxt), "all");
    else
        snprintf(tailtxt, sizeof(tailtxt), "%ld", tail);
    snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1&follow=%d&tail=%s",
             json_string_value(json_object_get(insp, "Id")), follow ? 1 : 0, tailtxt);
    dp_logframe_init(&lc.frames);
    rc = dp_docker_stream(s->docker, &rq, &scb, err);
    if (rc == DP_OK)
        rc = dp_logframe_flush(&lc.frames, cb->on_line, cb->ud);
    dp_logframe_clear(&lc.frames);
    json_decref(insp);
    return rc;
}
