/* The snapshot service's context (progress, cancel, steps), names and versions, and the
 * operations around bakes: list, find, transfer, delete, status, the final events. */
#include "dp_snapshot_int.h"

#include "dp_clock.h"
#include "dp_do_account.h"
#include "dp_do_image.h"
#include "dp_json.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one operation's context ---- */

static int client_cancel(void *ud)
{
    return snap_canceled(ud);
}

static int progress_tick(void *ud)
{
    return snap_canceled(ud);
}

static dp_rc progress_emit(void *ud, json_t *ev)
{
    struct snap_ctx *ctx = ud;
    const struct dp_progress *pr = ctx->env->pr;

    return pr && pr->emit ? pr->emit(pr->ud, ev) : DP_OK;
}

void snap_ctx_begin(struct snap_ctx *ctx, const struct dp_snapshot_env *env)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->env = env;
    ctx->pr.emit = progress_emit;
    ctx->pr.tick = progress_tick;
    ctx->pr.ud = ctx;
    ctx->t0 = dp_mono_ms();
    ctx->calls0 = atomic_load(&dp_do_stats(env->cloud)->calls);
    ctx->step = STEP_PREPARE;
    ctx->owns_cancel = env->pr && env->pr->tick;
    if (ctx->owns_cancel) /* only then: a client shared by threads keeps no pointer to us */
        dp_do_set_cancel(env->cloud, client_cancel, ctx);
}

unsigned long snap_ctx_end(struct snap_ctx *ctx)
{
    if (ctx->owns_cancel)
        dp_do_set_cancel(ctx->env->cloud, NULL, NULL);
    return atomic_load(&dp_do_stats(ctx->env->cloud)->calls) - ctx->calls0;
}

int snap_canceled(void *ud)
{
    struct snap_ctx *ctx = ud;
    const struct dp_progress *pr = ctx->env->pr;

    if (ctx->cleaning)
        return 0;
    if (!ctx->canceled && pr && pr->tick && pr->tick(pr->ud))
        ctx->canceled = true;
    return ctx->canceled;
}

static void emit(struct snap_ctx *ctx, json_t *ev)
{
    if (ev)
        progress_emit(ctx, ev);
    json_decref(ev);
}

static void emit_progress(struct snap_ctx *ctx, const char *waiting_for)
{
    json_t *ev = json_pack("{s:s, s:s, s:I}", "type", "progress", "step", ctx->step, "elapsed_s",
                           (json_int_t)((dp_mono_ms() - ctx->t0) / 1000));

    if (ev && waiting_for)
        json_object_set_new(ev, "waiting_for", json_string(waiting_for));
    emit(ctx, ev);
}

void snap_step(struct snap_ctx *ctx, const char *step, const char *waiting_for)
{
    ctx->step = step;
    snprintf(ctx->waiting_for, sizeof(ctx->waiting_for), "%s", waiting_for ? waiting_for : "");
    emit_progress(ctx, waiting_for);
}

void snap_log(struct snap_ctx *ctx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->env->log)
        dp_log(DP_LOG_INFO, ctx->env->log, "%s", msg);
    emit(ctx,
         json_pack("{s:s, s:o}", "type", "log", "message", dp_json_string_lossy(msg, strlen(msg))));
}

static void wait_progress(void *ud, const char *what, int64_t elapsed_ms, size_t done, size_t total)
{
    struct snap_ctx *ctx = ud;
    char text[sizeof(ctx->waiting_for) + 48];

    (void)elapsed_ms;
    if (total > 1)
        snprintf(text, sizeof(text), "%s (%zu of %zu done)",
                 ctx->waiting_for[0] ? ctx->waiting_for : what, done, total);
    else
        snprintf(text, sizeof(text), "%s", ctx->waiting_for[0] ? ctx->waiting_for : what);
    emit_progress(ctx, text);
}

void snap_wait_init(struct dp_do_wait *w, struct snap_ctx *ctx, int64_t timeout_ms,
                    int64_t first_ms, int64_t max_poll_ms)
{
    *w = (struct dp_do_wait){.timeout_ms = timeout_ms,
                             .first_ms = first_ms,
                             .max_poll_ms = max_poll_ms,
                             .progress = wait_progress,
                             .ud = ctx};
}

void snap_fail(struct snap_ctx *ctx, dp_rc rc, struct dp_err *err)
{
    char msg[DP_ERR_MSG_MAX];

    if (!err)
        return;
    if (rc == DP_ECANCELED || ctx->canceled) {
        dp_err_setc(err, DP_ECANCELED, "canceled", "canceled during step \"%s\"", ctx->step);
        return;
    }
    snprintf(msg, sizeof(msg), "%s", err->msg);
    snprintf(err->msg, sizeof(err->msg), "%s failed: %.*s", ctx->step, (int)sizeof(msg) - 40,
             msg); /* steps are short */
    err->rc = rc;
}

void dp_snapshot_client_tune(struct dp_do_client *c)
{
    const struct dp_do_policy p = {.max_attempts = 8,
                                   .max_total_ms = 180000,
                                   .base_ms = 500,
                                   .max_backoff_ms = 30000,
                                   .timeout_ms = 30000};

    dp_do_set_policy(c, &p);
}

/* ---- names and versions ---- */

void dp_snapshot_agent_version(char *out, size_t size, const char *name)
{
    size_t n = strlen(DP_BASE_SNAPSHOT_PREFIX);
    const char *v = NULL;

    if (!size)
        return;
    out[0] = '\0';
    if (!name)
        return;
    if (strncmp(name, DP_BASE_SNAPSHOT_PREFIX, n) == 0)
        v = name + n;
    else if (strncmp(name, DP_CUSTOM_SNAPSHOT_PREFIX, strlen(DP_CUSTOM_SNAPSHOT_PREFIX)) == 0 &&
             strstr(name, DP_SNAPSHOT_AGENT_INFIX))
        v = strstr(name, DP_SNAPSHOT_AGENT_INFIX) + strlen(DP_SNAPSHOT_AGENT_INFIX);
    if (v && dp_snapshot_version_valid(v))
        snprintf(out, size, "%s", v);
}

bool dp_snapshot_version_valid(const char *v)
{
    size_t n = v ? strlen(v) : 0;

    return n > 0 && n <= DP_SNAPSHOT_VERSION_MAX && isdigit((unsigned char)v[0]) &&
           strspn(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-") == n;
}

/* The next dot-separated number of *p (0 when none), moving *p past it and its dot. */
static unsigned long long next_number(const char **p)
{
    unsigned long long v = 0;

    while (isdigit((unsigned char)**p)) {
        v = v * 10 + (unsigned long long)(**p - '0');
        if (v > 1000000000000ULL)
            v = 1000000000000ULL; /* absurd versions compare equal, never overflow */
        (*p)++;
    }
    if (**p == '.')
        (*p)++;
    return v;
}

int dp_snapshot_version_cmp(const char *a, const char *b)
{
    const char *pa = a ? a : "", *pb = b ? b : "";

    while (isdigit((unsigned char)*pa) || isdigit((unsigned char)*pb)) {
        unsigned long long x = next_number(&pa), y = next_number(&pb);

        if (x != y)
            return x < y ? -1 : 1;
    }
    /* The numbers agree: a suffix ("-rc1") is a pre-release, older than none. */
    if (!*pa || !*pb)
        return *pa ? -1 : *pb ? 1 : 0;
    return strcmp(pa, pb) < 0 ? -1 : strcmp(pa, pb) > 0;
}

static bool is_base(const json_t *img)
{
    const char *name = json_string_value(json_object_get(img, "name"));

    return name && strncmp(name, DP_BASE_SNAPSHOT_PREFIX, strlen(DP_BASE_SNAPSHOT_PREFIX)) == 0;
}

static bool newer(const json_t *a, const json_t *b)
{
    const char *ca = json_string_value(json_object_get(a, "created_at"));
    const char *cb = json_string_value(json_object_get(b, "created_at"));

    if (!b)
        return true;
    if (ca && cb && strcmp(ca, cb) != 0)
        return strcmp(ca, cb) > 0;
    return json_integer_value(json_object_get(a, "id")) >
           json_integer_value(json_object_get(b, "id"));
}

json_t *dp_snapshot_newest_base(const json_t *images)
{
    json_t *best = NULL, *img;
    size_t i;

    json_array_foreach(images, i, img)
    {
        if (is_base(img) && newer(img, best))
            best = img;
    }
    return json_incref(best);
}

/* ---- list, find ---- */

json_t *dp_snapshot_json(const json_t *img)
{
    char ver[DP_SNAPSHOT_VERSION_MAX + 1];
    const char *name = json_string_value(json_object_get(img, "name"));

    dp_snapshot_agent_version(ver, sizeof(ver), name);
    return json_pack("{s:O?, s:s, s:O?, s:O?, s:s, s:O?, s:O?}", "id", json_object_get(img, "id"),
                     "name", name ? name : "", "regions", json_object_get(img, "regions"),
                     "created_at", json_object_get(img, "created_at"), "agent_version", ver,
                     "min_disk_size", json_object_get(img, "min_disk_size"), "size_gigabytes",
                     json_object_get(img, "size_gigabytes"));
}

/* RFC 3339 UTC times of one format order as strings; a missing time sorts last. */
static int by_created_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "created_at"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "created_at"));

    return strcmp(y ? y : "", x ? x : "");
}

static void sort_newest_first(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **v = n ? calloc(n, sizeof(json_t *)) : NULL;

    if (!v)
        return; /* empty, or no memory: the cloud's order */
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof(json_t *), by_created_desc);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, v[i]);
    free(v);
}

static bool is_snapshot(const json_t *img)
{
    const char *type = json_string_value(json_object_get(img, "type"));

    return type && strcmp(type, "snapshot") == 0;
}

dp_rc dp_snapshot_list(json_t **out, struct dp_do_client *cloud, struct dp_err *err)
{
    json_t *all = NULL, *list = json_array(), *img;
    size_t i;
    dp_rc rc = dp_do_images_private(cloud, &all, err);

    *out = NULL;
    json_array_foreach(all, i, img)
    {
        if (is_snapshot(img))
            json_array_append_new(list, dp_snapshot_json(img));
    }
    json_decref(all);
    sort_newest_first(list);
    if (rc == DP_OK)
        *out = json_pack("{s:O}", "snapshots", list);
    json_decref(list);
    return rc == DP_OK && !*out ? dp_err_set(err, DP_ENOMEM, "out of memory") : rc;
}

static bool all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19;
}

dp_rc dp_snapshot_find(json_t **out, struct dp_do_client *cloud, const char *ref,
                       struct dp_err *err)
{
    json_t *all = NULL, *best = NULL, *img;
    size_t i;
    dp_rc rc;

    *out = NULL;
    if (!ref || !*ref || strlen(ref) > DP_SNAPSHOT_NAME_MAX)
        return dp_err_setc(err, DP_EINVAL, "invalid_snapshot",
                           "a snapshot is named by its id or its name (at most %d bytes)",
                           DP_SNAPSHOT_NAME_MAX);
    if (all_digits(ref)) {
        rc = dp_do_image_get(cloud, ref, out, err);
        if (rc == DP_ENOTFOUND)
            return dp_err_setc(err, DP_ENOTFOUND, "snapshot_not_found", "no snapshot %s", ref);
        return rc;
    }
    rc = dp_do_images_private(cloud, &all, err);
    json_array_foreach(all, i, img)
    {
        const char *name = json_string_value(json_object_get(img, "name"));

        if (name && strcmp(name, ref) == 0 && is_snapshot(img) && newer(img, best))
            best = img;
    }
    *out = json_incref(best);
    json_decref(all);
    if (rc == DP_OK && !*out)
        rc = dp_err_setc(err, DP_ENOTFOUND, "snapshot_not_found", "no snapshot named %.100s", ref);
    return rc;
}

/* ---- transfer ---- */

static bool in_list(const json_t *list, const char *slug)
{
    json_t *r;
    size_t i;

    json_array_foreach(list, i, r)
    {
        if (json_is_string(r) && strcmp(json_string_value(r), slug) == 0)
            return true;
    }
    return false;
}

static bool has_region(const json_t *img, const char *slug)
{
    return in_list(json_object_get(img, "regions"), slug);
}

static bool transferable(const json_t *region)
{
    json_t *feat;
    size_t i;

    if (!json_is_true(json_object_get(region, "available")))
        return false;
    json_array_foreach(json_object_get(region, "features"), i, feat)
    {
        if (json_is_string(feat) && strcmp(json_string_value(feat), "image_transfer") == 0)
            return true;
    }
    return json_array_size(json_object_get(region, "features")) == 0;
}

/* The regions to copy to: the ones asked (checked against the cloud's list when all is false
 * and a region is unknown there, DigitalOcean says so itself), or every transferable one. */
static dp_rc transfer_targets(json_t **targets, struct snap_ctx *ctx, const json_t *img,
                              const char *const *regions, size_t n, bool all, struct dp_err *err)
{
    json_t *cloud_regions = NULL, *r;
    size_t i;
    dp_rc rc = DP_OK;

    *targets = json_array();
    if (all)
        rc = dp_do_regions(ctx->env->cloud, &cloud_regions, err);
    json_array_foreach(cloud_regions, i, r)
    {
        const char *slug = json_string_value(json_object_get(r, "slug"));

        if (slug && transferable(r) && !has_region(img, slug))
            json_array_append_new(*targets, json_string(slug));
    }
    for (i = 0; !all && i < n; i++) {
        if (!in_list(*targets, regions[i]) && !has_region(img, regions[i]))
            json_array_append_new(*targets, json_string(regions[i]));
    }
    json_decref(cloud_regions);
    return rc;
}

static dp_rc start_transfers(struct snap_ctx *ctx, long long id, const json_t *targets,
                             json_t *started, long long *ids, struct dp_err *err)
{
    json_t *t;
    size_t i;
    dp_rc rc = DP_OK;

    json_array_foreach(targets, i, t)
    {
        json_t *action = NULL;

        rc = dp_do_image_transfer(ctx->env->cloud, id, json_string_value(t), &action, err);
        if (rc)
            break;
        ids[i] = (long long)json_integer_value(json_object_get(action, "id"));
        json_array_append_new(
            started, json_pack("{s:O, s:I}", "region", t, "action_id", (json_int_t)ids[i]));
        json_decref(action);
        snap_log(ctx, "transfer of snapshot %lld to %s started (action %lld)", id,
                 json_string_value(t), ids[i]);
    }
    return rc;
}

dp_rc snap_transfer(struct snap_ctx *ctx, const json_t *img, const char *const *regions, size_t n,
                    bool all, bool wait, int64_t timeout_ms, json_t **started, json_t **in_regions,
                    struct dp_err *err)
{
    long long id = (long long)json_integer_value(json_object_get(img, "id"));
    json_t *targets = NULL, *t;
    long long *ids = NULL;
    size_t i;
    dp_rc rc = transfer_targets(&targets, ctx, img, regions, n, all, err);

    *started = json_array();
    *in_regions = json_deep_copy(json_object_get(img, "regions"));
    if (!*in_regions)
        *in_regions = json_array();
    if (rc == DP_OK && json_array_size(targets) > 0) {
        struct dp_do_wait w;
        char what[160];

        snprintf(what, sizeof(what), "copies of snapshot %lld to %zu region(s)", id,
                 json_array_size(targets));
        snap_step(ctx, STEP_TRANSFER, what);
        ids = calloc(json_array_size(targets), sizeof(long long));
        rc = ids ? start_transfers(ctx, id, targets, *started, ids, err)
                 : dp_err_set(err, DP_ENOMEM, "out of memory");
        snap_wait_init(&w, ctx, timeout_ms > 0 ? timeout_ms : SNAP_TRANSFER_MS, 2000,
                       SNAP_TRANSFER_POLL_MS);
        if (rc == DP_OK && wait)
            rc = dp_do_wait_image_actions(ctx->env->cloud, id, ids, json_array_size(targets), &w,
                                          err);
    }
    json_array_foreach(targets, i, t)
    {
        if (rc == DP_OK && wait)
            json_array_append(*in_regions, t);
    }
    free(ids);
    json_decref(targets);
    return rc;
}

dp_rc dp_snapshot_transfer(json_t **out, const struct dp_snapshot_env *env, const char *ref,
                           const char *const *regions, size_t n, bool all, bool wait,
                           int64_t timeout_ms, struct dp_err *err)
{
    struct snap_ctx ctx;
    json_t *img = NULL, *started = NULL, *in = NULL;
    dp_rc rc;

    *out = NULL;
    snap_ctx_begin(&ctx, env);
    rc = dp_snapshot_find(&img, env->cloud, ref, err);
    if (rc == DP_OK)
        rc = snap_transfer(&ctx, img, regions, n, all, wait, timeout_ms, &started, &in, err);
    if (rc == DP_OK)
        *out = json_pack("{s:O?, s:O?, s:O, s:O}", "id", json_object_get(img, "id"), "name",
                         json_object_get(img, "name"), "transfers", started, "regions", in);
    if (rc == DP_OK && !*out)
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    if (rc)
        snap_fail(&ctx, rc, err);
    snap_ctx_end(&ctx);
    json_decref(img);
    json_decref(started);
    json_decref(in);
    return rc;
}

dp_rc dp_snapshot_delete(json_t **out, struct dp_do_client *cloud, const char *ref,
                         struct dp_err *err)
{
    json_t *img = NULL;
    dp_rc rc = dp_snapshot_find(&img, cloud, ref, err);

    *out = NULL;
    if (rc == DP_OK)
        rc = dp_do_image_delete(cloud, (long long)json_integer_value(json_object_get(img, "id")),
                                err);
    if (rc == DP_OK)
        *out = json_pack("{s:O?, s:O?, s:b}", "id", json_object_get(img, "id"), "name",
                         json_object_get(img, "name"), "deleted", 1);
    json_decref(img);
    return rc == DP_OK && !*out ? dp_err_set(err, DP_ENOMEM, "out of memory") : rc;
}

dp_rc dp_snapshot_status(json_t **out, struct dp_do_client *cloud, const char *version,
                         struct dp_err *err)
{
    const char *want = version ? version : DP_VERSION;
    char ver[DP_SNAPSHOT_VERSION_MAX + 1] = "";
    json_t *all = NULL, *base;
    dp_rc rc = dp_do_images_private(cloud, &all, err);

    *out = NULL;
    if (rc)
        return rc;
    base = dp_snapshot_newest_base(all);
    if (base)
        dp_snapshot_agent_version(ver, sizeof(ver),
                                  json_string_value(json_object_get(base, "name")));
    *out = json_pack(
        "{s:o, s:b, s:s}", "base_snapshot", base ? dp_snapshot_json(base) : json_null(), "current",
        base && ver[0] && dp_snapshot_version_cmp(ver, want) >= 0, "expected_agent_version", want);
    json_decref(base);
    json_decref(all);
    return *out ? DP_OK : dp_err_set(err, DP_ENOMEM, "out of memory");
}

/* ---- results and final events ---- */

void dp_snapshot_result_clear(struct dp_snapshot_result *r)
{
    json_decref(r->regions);
    r->regions = NULL;
}

static json_t *result_snapshot(const struct dp_snapshot_result *r)
{
    if (!r->image_id)
        return json_null();
    return json_pack("{s:I, s:s, s:o}", "id", (json_int_t)r->image_id, "name", r->name, "regions",
                     r->regions ? json_incref(r->regions) : json_array());
}

json_t *dp_snapshot_done_event(const struct dp_snapshot_result *r, bool rebuild)
{
    json_t *ev = json_pack("{s:s, s:b, s:o, s:I, s:I}", "type", "done", "success", 1, "snapshot",
                           result_snapshot(r), "api_calls", (json_int_t)r->api_calls, "elapsed_s",
                           (json_int_t)(r->elapsed_ms / 1000));

    if (ev && rebuild)
        json_object_set_new(ev, "rebuilt", json_boolean(r->rebuilt));
    return ev;
}

json_t *dp_snapshot_error_event(const struct dp_snapshot_result *r, const struct dp_err *err)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "type", "error", "error",
                           err->code[0] ? err->code : dp_rc_code(err->rc), "detail", err->msg,
                           "step", r->step, "api_calls", (json_int_t)r->api_calls, "elapsed_s",
                           (json_int_t)(r->elapsed_ms / 1000));

    if (ev && r->image_id)
        json_object_set_new(ev, "snapshot", result_snapshot(r));
    return ev;
}
