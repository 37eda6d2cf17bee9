/* The bake: one droplet from Debian 12 (or a snapshot), the agent answering with a one-time
 * bake key, finalize, shut down, snapshot, find the image, delete the droplet, transfer. The
 * droplet is deleted whatever happens; see dp_snapshot.h. */
#include "dp_snapshot_int.h"
#include "dp_snapshot_req.h"

#include "dp_agentc.h"
#include "dp_clock.h"
#include "dp_do_droplet.h"
#include "dp_do_image.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One bake in progress. */
struct bake_run {
    struct snap_ctx ctx;
    const struct dp_snapshot_opts *o;
    struct dp_snapshot_result *res;
    char version[DP_SNAPSHOT_VERSION_MAX + 1];
    char region[64], size[64], image[32];
    char run_tag[40];
    char key[2 * DP_BAKE_KEY_BYTES + 1]; /* the bake key: secret, wiped at the end */
    struct dp_buf user_data;             /* holds the key: wiped once sent */
    long long droplet_id;
    bool created; /* a create was sent: a droplet may exist even without an id */
    char ip[64];
    bool snapshot_sent;
    json_t *image_obj; /* the new snapshot */
};

static int64_t or_default(int64_t v, int64_t def)
{
    return v > 0 ? v : def;
}

/* ---- preparing ---- */

static bool custom_name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;

    return len > 0 && len <= DP_SNAPSHOT_CUSTOM_MAX && n[0] != '-' && n[len - 1] != '-' &&
           strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

static bool sha256_ok(const char *s)
{
    return s && strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

static dp_rc check_lists(const struct dp_snapshot_opts *o, struct dp_err *err)
{
    if (o->nregions > DP_SNAPSHOT_REGIONS_MAX || o->npackages > DP_SNAPSHOT_PACKAGES_MAX)
        return dp_err_setc(err, DP_EINVAL, "too_many", "at most %d regions and %d packages",
                           DP_SNAPSHOT_REGIONS_MAX, DP_SNAPSHOT_PACKAGES_MAX);
    for (size_t i = 0; i < o->nregions; i++) {
        if (!dp_snapshot_region_ok(o->regions[i]))
            return dp_err_setc(err, DP_EINVAL, "invalid_region",
                               "\"%.40s\" is not a region slug (e.g. nyc3)", o->regions[i]);
    }
    for (size_t i = 0; o->kind == DP_SNAPSHOT_CUSTOM && i < o->npackages; i++) {
        if (!dp_snapshot_package_ok(o->packages[i]))
            return dp_err_setc(err, DP_EINVAL, "invalid_package",
                               "\"%.60s\" is not a Debian package name", o->packages[i]);
    }
    if (o->region && *o->region && !dp_snapshot_region_ok(o->region))
        return dp_err_setc(err, DP_EINVAL, "invalid_region", "\"%.40s\" is not a region slug",
                           o->region);
    return DP_OK;
}

static dp_rc check_opts(const struct dp_snapshot_opts *o, const char *version, struct dp_err *err)
{
    if (!dp_snapshot_version_valid(version))
        return dp_err_setc(err, DP_EINVAL, "invalid_version",
                           "the agent version \"%.60s\" cannot go into a snapshot name", version);
    if (o->kind == DP_SNAPSHOT_CUSTOM && !custom_name_ok(o->name ? o->name : "custom"))
        return dp_err_setc(err, DP_EINVAL, "invalid_name",
                           "a custom snapshot's name is 1 to %d of a-z, 0-9 and '-'",
                           DP_SNAPSHOT_CUSTOM_MAX);
    if (o->kind == DP_SNAPSHOT_CUSTOM && (!o->from || !*o->from))
        return dp_err_setc(err, DP_EINVAL, "invalid_from",
                           "a custom bake starts from a snapshot (its id or name)");
    if (o->user_data_override)
        return check_lists(o, err);
    if (!o->agent_url || strncmp(o->agent_url, "http", 4) != 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_url",
                           "the agent package URL must be http:// or https://");
    if (!sha256_ok(o->agent_sha256))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_sha256",
                           "the agent package's SHA-256 must be 64 hex digits");
    if (o->nallow == 0)
        return dp_err_setc(err, DP_EINVAL, "no_allow",
                           "no address may reach the agent: give at least one allowed address");
    return check_lists(o, err);
}

static bool image_in(const json_t *img, const char *region)
{
    json_t *r;
    size_t i;

    json_array_foreach(json_object_get(img, "regions"), i, r)
    {
        if (json_is_string(r) && strcmp(json_string_value(r), region) == 0)
            return true;
    }
    return false;
}

/* Custom bakes: the droplet starts from the source snapshot, in one of its regions. */
static dp_rc pick_source(struct bake_run *r, struct dp_err *err)
{
    const struct dp_snapshot_opts *o = r->o;
    json_t *src = NULL;
    const char *first;
    dp_rc rc = dp_snapshot_find(&src, r->ctx.env->cloud, o->from, err);

    if (rc)
        return rc;
    first = json_string_value(json_array_get(json_object_get(src, "regions"), 0));
    snprintf(r->image, sizeof(r->image), "%lld",
             (long long)json_integer_value(json_object_get(src, "id")));
    if (o->region && *o->region && !image_in(src, o->region))
        rc = dp_err_setc(err, DP_EINVAL, "region_mismatch",
                         "snapshot %s is not in region %s; transfer it there first or bake in %s",
                         o->from, o->region, first ? first : "its region");
    else if (!first && !(o->region && *o->region))
        rc = dp_err_setc(err, DP_EINVAL, "no_region", "snapshot %s is in no region", o->from);
    else
        snprintf(r->region, sizeof(r->region), "%s", o->region && *o->region ? o->region : first);
    if (!rc)
        snap_log(&r->ctx, "starting from snapshot %s (%s) in %s", r->image,
                 json_string_value(json_object_get(src, "name")), r->region);
    json_decref(src);
    return rc;
}

static dp_rc render(struct bake_run *r, struct dp_err *err)
{
    const struct dp_snapshot_opts *o = r->o;
    struct dp_snapshot_doc doc = {.agent_url = o->agent_url,
                                  .agent_sha256 = o->agent_sha256,
                                  .bake_key = r->key,
                                  .allow = o->allow,
                                  .nallow = o->nallow,
                                  .ssh_allow = o->ssh_allow,
                                  .nssh = o->nssh,
                                  .packages = o->kind == DP_SNAPSHOT_CUSTOM ? o->packages : NULL,
                                  .npackages = o->kind == DP_SNAPSHOT_CUSTOM ? o->npackages : 0};

    if (o->user_data_override) {
        dp_buf_init(&r->user_data, DP_DO_USER_DATA_MAX);
        return dp_buf_puts(&r->user_data, o->user_data_override)
                   ? dp_err_setc(err, DP_ETOOBIG, "user_data_too_large", "user-data too large")
                   : DP_OK;
    }
    if (!r->ctx.env->render)
        return dp_err_setc(err, DP_EINTERNAL, "no_renderer", "no bake user-data renderer");
    return r->ctx.env->render(r->ctx.env->render_ud, &r->user_data, &doc, err);
}

static dp_rc prepare(struct bake_run *r, struct dp_err *err)
{
    const struct dp_snapshot_opts *o = r->o;
    char hex[9];
    dp_rc rc;

    snprintf(r->version, sizeof(r->version), "%s", o->version ? o->version : DP_VERSION);
    rc = check_opts(o, r->version, err);
    if (rc)
        return rc;
    if (o->kind == DP_SNAPSHOT_BASE)
        snprintf(r->res->name, sizeof(r->res->name), "%s%s", DP_BASE_SNAPSHOT_PREFIX, r->version);
    else
        snprintf(r->res->name, sizeof(r->res->name), "%s%s%s%s", DP_CUSTOM_SNAPSHOT_PREFIX,
                 o->name ? o->name : "custom", DP_SNAPSHOT_AGENT_INFIX, r->version);
    snprintf(r->size, sizeof(r->size), "%s", o->size && *o->size ? o->size : DP_BAKE_DEFAULT_SIZE);
    dp_do_random_hex(hex, 4);
    snprintf(r->run_tag, sizeof(r->run_tag), "%s%s", DP_BAKE_RUN_TAG, hex);
    dp_do_random_hex(r->key, DP_BAKE_KEY_BYTES);
    if (o->kind == DP_SNAPSHOT_CUSTOM) {
        rc = pick_source(r, err);
    } else {
        snprintf(r->image, sizeof(r->image), "%s", DP_BAKE_IMAGE);
        snprintf(r->region, sizeof(r->region), "%s",
                 o->region && *o->region ? o->region : DP_BAKE_DEFAULT_REGION);
    }
    if (!rc)
        rc = render(r, err);
    if (!rc)
        snap_log(&r->ctx, "baking %s in %s (size %s) from %s", r->res->name, r->region, r->size,
                 r->image);
    return rc;
}

/* ---- the droplet ---- */

/* Bake droplets an earlier run left behind (it crashed or was killed) go first. */
static dp_rc sweep(struct bake_run *r, struct dp_err *err)
{
    json_t *left = NULL, *d;
    size_t i;
    dp_rc rc;

    snap_step(&r->ctx, STEP_SWEEP, "a listing of droplets tagged " DP_BAKE_TAG);
    rc = dp_do_droplets_list(r->ctx.env->cloud, DP_BAKE_TAG, false, &left, err);
    json_array_foreach(left, i, d)
    {
        long long id = dp_do_droplet_id(d);

        if (rc == DP_OK)
            rc = dp_do_droplet_delete(r->ctx.env->cloud, id, true, err); /* listed as managed */
        if (rc == DP_OK)
            snap_log(&r->ctx, "deleted droplet %lld (%s) left by an earlier bake", id,
                     json_string_value(json_object_get(d, "name")));
    }
    json_decref(left);
    return rc;
}

static dp_rc create(struct bake_run *r, struct dp_err *err)
{
    char name[64], hex[9];
    const char *names[1] = {name}, *tags[2] = {DP_BAKE_TAG, r->run_tag};
    struct dp_do_create req = {.names = names,
                               .count = 1,
                               .region = r->region,
                               .size = r->size,
                               .image = r->image,
                               .tags = tags,
                               .ntags = 2,
                               .user_data = r->user_data.data};
    json_t *made = NULL;
    dp_rc rc;

    dp_do_random_hex(hex, 4);
    snprintf(name, sizeof(name), "bake-%s-%s", r->o->kind == DP_SNAPSHOT_BASE ? "base" : "custom",
             hex);
    snap_step(&r->ctx, STEP_CREATE, NULL);
    r->created = true;
    rc = dp_do_droplets_create(r->ctx.env->cloud, &req, &made, err);
    if (json_array_size(made) > 0)
        r->droplet_id = dp_do_droplet_id(json_array_get(made, 0));
    json_decref(made);
    if (r->user_data.data) /* it holds the bake key */
        OPENSSL_cleanse(r->user_data.data, r->user_data.len);
    dp_buf_clear(&r->user_data);
    if (rc == DP_OK && !r->droplet_id)
        rc = dp_err_setc(err, DP_EUPSTREAM, "do_bad_answer", "the create answered no droplet");
    if (rc == DP_OK)
        snap_log(&r->ctx, "created droplet %s (%lld) in %s", name, r->droplet_id, r->region);
    return rc;
}

static dp_rc wait_active(struct bake_run *r, struct dp_err *err)
{
    struct dp_do_wait w;
    json_t *list = NULL;
    char what[96];
    dp_rc rc;

    snprintf(what, sizeof(what), "droplet %lld to be active", r->droplet_id);
    snap_step(&r->ctx, STEP_ACTIVE, what);
    snap_wait_init(&w, &r->ctx, or_default(r->o->t.active_ms, SNAP_ACTIVE_MS), 1500, 10000);
    rc = dp_do_wait_droplets(r->ctx.env->cloud, r->run_tag, &r->droplet_id, 1, "active", false, &w,
                             &list, err);
    if (rc == DP_OK && !dp_do_droplet_public_ip(json_array_get(list, 0), r->ip, sizeof(r->ip)))
        rc = dp_err_setc(err, DP_EUPSTREAM, "no_address",
                         "droplet %lld is active but has no public IPv4 address", r->droplet_id);
    json_decref(list);
    if (rc == DP_OK)
        snap_log(&r->ctx, "droplet %lld is active at %s", r->droplet_id, r->ip);
    return rc;
}

static dp_rc wait_agent(struct bake_run *r, struct dp_agent_target *t, struct dp_err *err)
{
    int64_t limit = or_default(r->o->t.agent_ms, SNAP_AGENT_MS);
    char what[sizeof(t->url) + 64];
    dp_rc rc;

    dp_agent_target_init(t, r->ip, r->key, NULL); /* plain HTTP until provisioning adds TLS */
    snprintf(what, sizeof(what), "the agent at %s to answer with the bake key", t->url);
    snap_step(&r->ctx, STEP_AGENT, what);
    rc = dp_agent_wait_ready(t, limit, &r->ctx.pr, err);
    if (rc == DP_ETIMEOUT)
        rc = dp_err_setc(err, DP_ETIMEOUT, "agent_never_answered",
                         "the agent never answered at %s within %lld s: the user-data did not "
                         "install or start it",
                         t->url, (long long)(limit / 1000));
    else if (rc == DP_EDENIED)
        rc = dp_err_setc(err, DP_EDENIED, "bake_key_refused",
                         "the agent at %s refused the bake key: it is not the agent this bake "
                         "installed",
                         t->url);
    if (rc == DP_OK)
        snap_log(&r->ctx, "the agent answers at %s", t->url);
    return rc;
}

static dp_rc finalize(struct bake_run *r, const struct dp_agent_target *t, struct dp_err *err)
{
    json_t *out = NULL;
    dp_rc rc;

    snap_step(&r->ctx, STEP_FINALIZE, "the agent to remove the bake key and cloud-init's state");
    rc = dp_agent_call(t, "POST", "/bake/finalize", NULL, &out, err);
    if (rc == DP_OK && !json_is_true(json_object_get(out, "finalized")))
        rc = dp_err_setc(err, DP_EUPSTREAM, "not_finalized",
                         "the agent did not confirm the bake was finalized");
    json_decref(out);
    if (rc == DP_OK)
        snap_log(&r->ctx, "finalized: bake key and cloud-init instance state removed");
    return rc;
}

/* POSTs a droplet action and waits until it completes (an errored one fails at once). */
static dp_rc action_wait(struct bake_run *r, const char *type, const char *name, int64_t limit,
                         int64_t max_poll_ms, struct dp_err *err)
{
    struct dp_do_wait w;
    json_t *a = NULL;
    char path[64];
    dp_rc rc = dp_do_droplet_action(r->ctx.env->cloud, r->droplet_id, type, name, &a, err);

    if (rc == DP_OK && strcmp(type, "snapshot") == 0)
        r->snapshot_sent = true;
    snprintf(path, sizeof(path), "/v2/actions/%lld",
             (long long)json_integer_value(json_object_get(a, "id")));
    json_decref(a);
    snap_wait_init(&w, &r->ctx, limit, 1000, max_poll_ms);
    return rc ? rc : dp_do_wait_action(r->ctx.env->cloud, path, &w, NULL, err);
}

/* Graceful first; power off only when the shutdown times out or errors. */
static dp_rc shut_down(struct bake_run *r, struct dp_err *err)
{
    int64_t limit = or_default(r->o->t.shutdown_ms, SNAP_SHUTDOWN_MS);
    struct dp_err e1 = {0};
    char what[96];
    dp_rc rc;

    snprintf(what, sizeof(what), "droplet %lld to shut down", r->droplet_id);
    snap_step(&r->ctx, STEP_SHUTDOWN, what);
    rc = action_wait(r, "shutdown", NULL, limit, 5000, &e1);
    if (rc == DP_OK)
        return DP_OK;
    if (rc != DP_ETIMEOUT && !(rc == DP_EUPSTREAM && strcmp(e1.code, "action_errored") == 0)) {
        if (err)
            *err = e1;
        return rc;
    }
    snap_log(&r->ctx, "shutdown did not finish (%s); powering off", e1.msg);
    snprintf(what, sizeof(what), "droplet %lld to power off", r->droplet_id);
    snap_step(&r->ctx, STEP_POWEROFF, what);
    return action_wait(r, "power_off", NULL, SNAP_POWEROFF_MS, 5000, err);
}

/* The droplet's snapshot with our name, newest first (a droplet has few). */
static json_t *own_snapshot(const json_t *snaps, const char *name)
{
    json_t *best = NULL, *s;
    size_t i;

    json_array_foreach(snaps, i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));

        if (n && strcmp(n, name) == 0 &&
            (!best || json_integer_value(json_object_get(s, "id")) >
                          json_integer_value(json_object_get(best, "id"))))
            best = s;
    }
    return best;
}

static dp_rc snapshot(struct bake_run *r, struct dp_err *err)
{
    json_t *snaps = NULL, *mine;
    char what[DP_SNAPSHOT_NAME_MAX + 64];
    dp_rc rc;

    snprintf(what, sizeof(what), "snapshot %s to complete", r->res->name);
    snap_step(&r->ctx, STEP_SNAPSHOT, what);
    rc = action_wait(r, "snapshot", r->res->name, or_default(r->o->t.snapshot_ms, SNAP_SNAPSHOT_MS),
                     SNAP_SNAPSHOT_POLL_MS, err);
    if (rc)
        return rc;
    snap_step(&r->ctx, STEP_FIND, NULL);
    rc = dp_do_droplet_snapshots(r->ctx.env->cloud, r->droplet_id, &snaps, err);
    mine = rc ? NULL : own_snapshot(snaps, r->res->name);
    if (rc == DP_OK && !mine)
        rc = dp_err_setc(err, DP_EUPSTREAM, "snapshot_missing",
                         "the snapshot action completed but droplet %lld has no snapshot named %s",
                         r->droplet_id, r->res->name);
    if (mine) {
        r->image_obj = json_deep_copy(mine);
        r->res->image_id = (long long)json_integer_value(json_object_get(mine, "id"));
        if (!json_array_size(json_object_get(r->image_obj, "regions")))
            json_object_set_new(r->image_obj, "regions", json_pack("[s]", r->region));
        snap_log(&r->ctx, "snapshot %s is image %lld", r->res->name, r->res->image_id);
    }
    json_decref(snaps);
    return rc;
}

/* ---- clean-up ---- */

/* A failed bake whose snapshot action went through leaves no half-made snapshot posing as a
 * good one under our name. */
static void drop_partial_snapshot(struct bake_run *r)
{
    json_t *snaps = NULL, *s;
    size_t i;

    if (!r->snapshot_sent || r->res->image_id || !r->droplet_id ||
        dp_do_droplet_snapshots(r->ctx.env->cloud, r->droplet_id, &snaps, NULL))
        return;
    json_array_foreach(snaps, i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));
        long long id = (long long)json_integer_value(json_object_get(s, "id"));

        if (n && strcmp(n, r->res->name) == 0 &&
            dp_do_image_delete(r->ctx.env->cloud, id, NULL) == DP_OK)
            snap_log(&r->ctx, "deleted snapshot %lld of the failed bake", id);
    }
    json_decref(snaps);
}

/* Deletes the droplet (by id, or by this bake's tag when the create's answer was lost). */
static dp_rc delete_droplet(struct bake_run *r, struct dp_err *err)
{
    dp_rc rc;

    if (!r->created)
        return DP_OK;
    snap_step(&r->ctx, STEP_DELETE, NULL);
    r->ctx.cleaning = true;
    if (r->droplet_id)
        rc = dp_do_droplet_delete(r->ctx.env->cloud, r->droplet_id, true, err);
    else
        rc = dp_do_droplets_delete_by_tag(r->ctx.env->cloud, r->run_tag, false, err);
    if (rc == DP_OK && r->droplet_id)
        snap_log(&r->ctx, "deleted droplet %lld", r->droplet_id);
    else if (rc == DP_OK)
        snap_log(&r->ctx, "deleted the droplets tagged %s", r->run_tag);
    r->res->droplet_left = rc != DP_OK;
    r->created = false;
    return rc;
}

/* Runs the clean-up after a failure, keeping the first error and adding the clean-up's. */
static void cleanup_after_failure(struct bake_run *r, struct dp_err *err)
{
    const char *failed = r->ctx.step;
    struct dp_err e2 = {0};

    r->ctx.cleaning = true;
    drop_partial_snapshot(r);
    if (r->created)
        delete_droplet(r, &e2);
    if (r->res->droplet_left && err) {
        size_t len = strlen(err->msg);

        snprintf(err->msg + len, sizeof(err->msg) - len,
                 "; droplet %lld was not deleted%s%s%s: delete it, or the next bake will (tag %s)",
                 r->droplet_id, e2.msg[0] ? " (" : "", e2.msg, e2.msg[0] ? ")" : "", DP_BAKE_TAG);
    }
    r->ctx.step = failed;
}

/* ---- the bake ---- */

static dp_rc run_steps(struct bake_run *r, struct dp_err *err)
{
    struct dp_agent_target t;
    dp_rc rc = prepare(r, err);

    if (!rc)
        rc = sweep(r, err);
    if (!rc)
        rc = create(r, err);
    if (!rc)
        rc = wait_active(r, err);
    if (!rc)
        rc = wait_agent(r, &t, err);
    if (!rc)
        rc = finalize(r, &t, err);
    if (!rc)
        rc = shut_down(r, err);
    if (!rc)
        rc = snapshot(r, err);
    OPENSSL_cleanse(&t, sizeof(t));
    if (rc)
        return rc;
    rc = delete_droplet(r, err); /* before the transfers: they take long, droplets cost */
    if (!rc)
        r->ctx.cleaning = false;
    if (!rc) {
        json_t *started = NULL;

        rc = snap_transfer(&r->ctx, r->image_obj, r->o->regions, r->o->nregions, false, true,
                           r->o->t.transfer_ms, &started, &r->res->regions, err);
        json_decref(started);
    }
    return rc;
}

dp_rc dp_snapshot_bake(struct dp_snapshot_result *res, const struct dp_snapshot_env *env,
                       const struct dp_snapshot_opts *o, struct dp_err *err)
{
    struct bake_run *r = calloc(1, sizeof(*r));
    dp_rc rc;

    memset(res, 0, sizeof(*res));
    if (!r)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    r->o = o;
    r->res = res;
    dp_buf_init(&r->user_data, 0);
    snap_ctx_begin(&r->ctx, env);
    rc = run_steps(r, err);
    if (rc) {
        snap_fail(&r->ctx, rc, err);
        rc = err ? err->rc : rc;
        snprintf(res->step, sizeof(res->step), "%s", r->ctx.step);
        cleanup_after_failure(r, err);
    }
    if (!res->regions && r->image_obj)
        res->regions = json_deep_copy(json_object_get(r->image_obj, "regions"));
    res->api_calls = snap_ctx_end(&r->ctx);
    res->elapsed_ms = dp_mono_ms() - r->ctx.t0;
    if (r->user_data.data)
        OPENSSL_cleanse(r->user_data.data, r->user_data.len);
    dp_buf_clear(&r->user_data);
    json_decref(r->image_obj);
    OPENSSL_cleanse(r->key, sizeof(r->key));
    free(r);
    return rc;
}

/* ---- rebuild ---- */

/* The regions to copy a rebuilt base to: the old one's and the ones asked, without repeats. */
static size_t merge_regions(const char **out, size_t cap, const json_t *old,
                            const struct dp_snapshot_opts *o)
{
    size_t n = 0;
    json_t *r;
    size_t i;

    json_array_foreach(json_object_get(old, "regions"), i, r)
    {
        if (json_is_string(r) && n < cap)
            out[n++] = json_string_value(r);
    }
    for (i = 0; i < o->nregions && n < cap; i++) {
        bool dup = false;

        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(out[k], o->regions[i]) == 0;
        if (!dup)
            out[n++] = o->regions[i];
    }
    return n;
}

/* Nothing to do: the result names the current base. */
static void rebuild_current(struct dp_snapshot_result *res, struct snap_ctx *ctx,
                            const json_t *base, const char *have, const char *want)
{
    res->image_id = (long long)json_integer_value(json_object_get(base, "id"));
    snprintf(res->name, sizeof(res->name), "%s", json_string_value(json_object_get(base, "name")));
    res->regions = json_deep_copy(json_object_get(base, "regions"));
    snap_log(ctx, "the base snapshot %s (%lld) carries agent %s and VERSION is %s: nothing to do",
             res->name, res->image_id, have, want);
}

dp_rc dp_snapshot_rebuild(struct dp_snapshot_result *res, const struct dp_snapshot_env *env,
                          const struct dp_snapshot_opts *o, struct dp_err *err)
{
    const char *want = o->version ? o->version : DP_VERSION, *regions[DP_SNAPSHOT_REGIONS_MAX];
    char have[DP_SNAPSHOT_VERSION_MAX + 1] = "";
    struct dp_snapshot_opts bo = *o;
    struct snap_ctx ctx;
    json_t *all = NULL, *base = NULL;
    unsigned long calls;
    dp_rc rc;

    memset(res, 0, sizeof(*res));
    snap_ctx_begin(&ctx, env);
    snap_step(&ctx, STEP_PREPARE, "a listing of the account's snapshots");
    rc = dp_do_images_private(env->cloud, &all, err);
    base = rc ? NULL : dp_snapshot_newest_base(all);
    if (base)
        dp_snapshot_agent_version(have, sizeof(have),
                                  json_string_value(json_object_get(base, "name")));
    if (rc == DP_OK && base && have[0] && dp_snapshot_version_cmp(want, have) <= 0)
        rebuild_current(res, &ctx, base, have, want);
    if (rc)
        snap_fail(&ctx, rc, err);
    calls = snap_ctx_end(&ctx);
    if (rc == DP_OK && !res->image_id) {
        if (base)
            snap_log(&ctx, "the base snapshot %s carries agent %s and VERSION is %s: rebaking",
                     json_string_value(json_object_get(base, "name")), have[0] ? have : "?", want);
        else
            snap_log(&ctx, "there is no base snapshot: baking one");
        bo.kind = DP_SNAPSHOT_BASE;
        bo.nregions = merge_regions(regions, DP_SNAPSHOT_REGIONS_MAX, base, o);
        bo.regions = regions;
        if (!bo.region && bo.nregions)
            bo.region = regions[0];
        rc = dp_snapshot_bake(res, env, &bo, err);
        res->rebuilt = rc == DP_OK;
    }
    res->api_calls += calls;
    json_decref(base);
    json_decref(all);
    return rc;
}
