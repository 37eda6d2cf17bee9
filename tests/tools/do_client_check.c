/* Drives the DigitalOcean client (infra/dp_do*) against an API at DO_API_URL with DO_TOKEN
 * (the simulator in tests), scenario by scenario, checking every answer:
 *   ops          every operation once
 *   batch N      create N droplets in batches, wait, list them page by page, delete them
 *   bake         create, wait, shutdown, snapshot, find the image, transfer, delete
 *   provision N  create N droplets and wait until active; prints the API calls it took
 *   call METHOD PATH [JSON]   one raw request; prints "status rc code: message"
 *   create NAME  one droplet create; prints the ids it got
 *   wait-action PATH          waits for an action; prints the outcome
 * --retries N --backoff-ms M tune the retry policy (the fault-injection runs); --page-size N.
 * Every droplet a scenario makes carries the tag given by --tag (default t-check), and is
 * deleted before it ends, so the caller can assert that nothing leaked. */
#include "dp_do.h"
#include "dp_do_account.h"
#include "dp_do_droplet.h"
#include "dp_do_image.h"
#include "dp_do_wait.h"
#include "th.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *run_tag = "t-check";
static const char *image_slug = "debian-12-x64";

static const struct dp_do_wait fast_wait = {
    .timeout_ms = 60000, .first_ms = 300, .max_poll_ms = 2000};

static void fail_err(const char *what, const struct dp_err *err)
{
    th_failures++;
    fprintf(stderr, "FAIL %s: [%s] %s\n", what, err->code, err->msg);
}

#define OK_OR_FAIL(call, what)                                                                     \
    do {                                                                                           \
        th_checks++;                                                                               \
        if ((call) != DP_OK)                                                                       \
            fail_err(what, &err);                                                                  \
    } while (0)

/* Names "<prefix>-<i>" for count droplets, kept in one buffer. */
static char **make_names(const char *prefix, size_t count)
{
    char **names = calloc(count, sizeof(char *));

    for (size_t i = 0; i < count; i++) {
        names[i] = malloc(64);
        snprintf(names[i], 64, "%s-%zu", prefix, i);
    }
    return names;
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static void delete_all(struct dp_do_client *c, const json_t *droplets)
{
    struct dp_err err = {0};
    json_t *d;
    size_t i;

    json_array_foreach(droplets, i, d)
    {
        OK_OR_FAIL(dp_do_droplet_delete(c, dp_do_droplet_id(d), false, &err), "delete droplet");
    }
}

static json_t *create(struct dp_do_client *c, const char *prefix, size_t count, const char *image,
                      const char *user_data)
{
    char **names = make_names(prefix, count);
    const char *tags[] = {run_tag};
    struct dp_do_create req = {.names = (const char *const *)names,
                               .count = count,
                               .region = "nyc1",
                               .size = "s-1vcpu-1gb",
                               .image = image,
                               .tags = tags,
                               .ntags = 1,
                               .user_data = user_data};
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_do_droplets_create(c, &req, &out, &err);

    if (rc != DP_OK) /* a failed create still hands back what it made: delete it */
        delete_all(c, out);
    OK_OR_FAIL(rc, "create droplets");
    TH_EQ_INT(json_array_size(out), count);
    free_names(names, count);
    return out;
}

static long long *ids_of(const json_t *droplets)
{
    long long *ids = calloc(json_array_size(droplets) + 1, sizeof(long long));
    json_t *d;
    size_t i;

    json_array_foreach(droplets, i, d)
    {
        ids[i] = dp_do_droplet_id(d);
    }
    return ids;
}

/* ---- ops: every operation once ---- */

static void ops_account(struct dp_do_client *c)
{
    struct dp_err err = {0};
    json_t *acct = NULL, *regions = NULL, *sizes = NULL, *key = NULL, *keys = NULL, *k2 = NULL;
    const char *pub =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJv3b0nqKzM8b3hqH9kJrS2dSo0Q7ZQ8o5J6hRzQ1fLk dp-check";

    OK_OR_FAIL(dp_do_account(c, &acct, &err), "account");
    TH_CHECK(json_integer_value(json_object_get(acct, "droplet_limit")) > 0);
    OK_OR_FAIL(dp_do_regions(c, &regions, &err), "regions");
    TH_CHECK(json_array_size(regions) >= 3);
    OK_OR_FAIL(dp_do_sizes(c, &sizes, &err), "sizes");
    TH_CHECK(json_array_size(sizes) >= 3);
    OK_OR_FAIL(dp_do_key_create(c, "dp-check-key", pub, &key, &err), "create ssh key");
    OK_OR_FAIL(dp_do_keys_list(c, &keys, &err), "list ssh keys");
    TH_CHECK(json_array_size(keys) >= 1);
    OK_OR_FAIL(dp_do_key_get(c, json_string_value(json_object_get(key, "fingerprint")), &k2, &err),
               "get ssh key by fingerprint");
    TH_EQ_INT(json_integer_value(json_object_get(k2, "id")),
              json_integer_value(json_object_get(key, "id")));
    {
        char id[32];

        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(key, "id")));
        OK_OR_FAIL(dp_do_key_delete(c, id, &err), "delete ssh key");
    }
    json_decref(acct), json_decref(regions), json_decref(sizes);
    json_decref(key), json_decref(keys), json_decref(k2);
}

static void ops_tags(struct dp_do_client *c, const json_t *droplet)
{
    struct dp_err err = {0};
    char id[32];
    const char *ids[] = {id};
    json_t *tags = NULL, *tagged = NULL;

    snprintf(id, sizeof(id), "%lld", dp_do_droplet_id(droplet));
    OK_OR_FAIL(dp_do_tag_create(c, "t-check-extra", &err), "create tag");
    OK_OR_FAIL(dp_do_tags_list(c, &tags, &err), "list tags");
    TH_CHECK(json_array_size(tags) >= 1);
    OK_OR_FAIL(dp_do_tag_resources(c, "t-check-extra", "droplet", ids, 1, &err), "tag droplet");
    OK_OR_FAIL(dp_do_droplets_list(c, "t-check-extra", false, &tagged, &err), "list by new tag");
    TH_EQ_INT(json_array_size(tagged), 1);
    OK_OR_FAIL(dp_do_tag_delete(c, "t-check-extra", &err), "delete tag");
    json_decref(tags), json_decref(tagged);
}

/* A droplet without the managed tag (made with a raw call) is invisible to listings and safe
 * from deletes unless forced. */
static void ops_unmanaged(struct dp_do_client *c)
{
    struct dp_err err = {0};
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:[s]}", "name", "unmanaged-check", "region",
                             "nyc1", "size", "s-1vcpu-1gb", "image", image_slug, "tags", run_tag);
    json_t *ans = NULL, *listed = NULL;
    long long id = 0;

    /* A raw create has no duplicate protection: under injected faults, look before retrying. */
    for (int i = 0; i < 8 && !id; i++) {
        json_t *found = NULL;

        if (dp_do_call(c, "POST", "/v2/droplets", body, DP_DO_RETRY_429, &ans, NULL, &err) == DP_OK)
            id = dp_do_droplet_id(json_object_get(ans, "droplet"));
        else if (dp_do_droplets_list(c, run_tag, true, &found, &err) == DP_OK)
            for (size_t k = 0; k < json_array_size(found); k++)
                if (strcmp(json_string_value(json_object_get(json_array_get(found, k), "name")),
                           "unmanaged-check") == 0)
                    id = dp_do_droplet_id(json_array_get(found, k));
        json_decref(found);
        json_decref(ans);
        ans = NULL;
    }
    TH_CHECK(id > 0);
    OK_OR_FAIL(dp_do_droplets_list(c, run_tag, false, &listed, &err), "list without force");
    for (size_t i = 0; i < json_array_size(listed); i++)
        TH_CHECK(dp_do_droplet_id(json_array_get(listed, i)) != id);
    TH_EQ_INT(dp_do_droplet_delete(c, id, false, &err), DP_ECONFLICT);
    TH_EQ_STR(err.code, "not_managed");
    TH_EQ_INT(dp_do_droplets_delete_by_tag(c, run_tag, false, &err), DP_ECONFLICT);
    OK_OR_FAIL(dp_do_droplet_delete(c, id, true, &err), "forced delete");
    json_decref(body), json_decref(ans), json_decref(listed);
}

static long long last_action_id;

static void ops_power(struct dp_do_client *c, long long id, const char *tag)
{
    static const char *const steps[][2] = {
        {"power_off", "off"}, {"power_on", "active"}, {"shutdown", "off"}};
    struct dp_err err = {0};

    for (size_t i = 0; i < 3; i++) {
        json_t *a = NULL;

        OK_OR_FAIL(dp_do_droplet_action(c, id, steps[i][0], NULL, &a, &err), steps[i][0]);
        TH_CHECK(json_integer_value(json_object_get(a, "id")) > 0);
        last_action_id = (long long)json_integer_value(json_object_get(a, "id"));
        OK_OR_FAIL(dp_do_wait_droplets(c, tag, &id, 1, steps[i][1], true, &fast_wait, NULL, &err),
                   steps[i][1]);
        json_decref(a);
    }
}

static int run_ops(struct dp_do_client *c)
{
    struct dp_err err = {0};
    json_t *d = create(c, "ops", 1, image_slug, NULL), *one = NULL, *act = NULL;
    long long id = dp_do_droplet_id(json_array_get(d, 0));

    ops_account(c);
    OK_OR_FAIL(dp_do_wait_droplets(c, run_tag, &id, 1, "active", true, &fast_wait, NULL, &err),
               "wait active");
    OK_OR_FAIL(dp_do_droplet_get(c, id, &one, &err), "get droplet");
    {
        char ip[64];

        TH_CHECK(dp_do_droplet_public_ip(one, ip, sizeof(ip)));
        TH_CHECK(strncmp(ip, "127.", 4) == 0);
    }
    ops_tags(c, one);
    ops_unmanaged(c);
    ops_power(c, id, run_tag);
    OK_OR_FAIL(dp_do_action_get(c, last_action_id, &act, &err), "get the last action");
    TH_EQ_STR(json_string_value(json_object_get(act, "status")), "completed");
    delete_all(c, d);
    json_decref(d), json_decref(one), json_decref(act);
    return 0;
}

/* ---- batch: many droplets, several pages ---- */

static int run_batch(struct dp_do_client *c, size_t n)
{
    struct dp_err err = {0};
    json_t *d = create(c, "batch", n, image_slug, NULL), *listed = NULL, *left = NULL;
    long long *ids = ids_of(d);

    OK_OR_FAIL(dp_do_wait_droplets(c, run_tag, ids, json_array_size(d), "active", false, &fast_wait,
                                   NULL, &err),
               "wait for the batch");
    OK_OR_FAIL(dp_do_droplets_list(c, run_tag, false, &listed, &err), "list the batch");
    TH_EQ_INT(json_array_size(listed), n);
    delete_all(c, d);
    OK_OR_FAIL(dp_do_droplets_list(c, run_tag, true, &left, &err), "list after delete");
    TH_EQ_INT(json_array_size(left), 0);
    free(ids);
    json_decref(d), json_decref(listed), json_decref(left);
    return 0;
}

/* ---- bake: the snapshot builder's sequence ---- */

static long long bake_snapshot(struct dp_do_client *c, long long id)
{
    struct dp_err err = {0};
    json_t *a = NULL, *snaps = NULL;
    char path[96];
    long long image = 0;

    OK_OR_FAIL(dp_do_droplet_action(c, id, "shutdown", NULL, &a, &err), "shutdown");
    OK_OR_FAIL(dp_do_wait_droplets(c, run_tag, &id, 1, "off", true, &fast_wait, NULL, &err),
               "wait off");
    json_decref(a);
    OK_OR_FAIL(dp_do_droplet_action(c, id, "snapshot", "dp-check-snap", &a, &err), "snapshot");
    snprintf(path, sizeof(path), "/v2/actions/%lld",
             (long long)json_integer_value(json_object_get(a, "id")));
    OK_OR_FAIL(dp_do_wait_action(c, path, &fast_wait, NULL, &err), "wait snapshot");
    OK_OR_FAIL(dp_do_droplet_snapshots(c, id, &snaps, &err), "droplet snapshots");
    TH_EQ_INT(json_array_size(snaps), 1);
    image = (long long)json_integer_value(json_object_get(json_array_get(snaps, 0), "id"));
    json_decref(a), json_decref(snaps);
    return image;
}

static void bake_transfer(struct dp_do_client *c, long long image)
{
    static const char *const regions[] = {"sfo3", "ams3"};
    struct dp_err err = {0};
    char path[96], id[32];
    json_t *img = NULL;

    for (size_t i = 0; i < 2; i++) {
        json_t *a = NULL;

        OK_OR_FAIL(dp_do_image_transfer(c, image, regions[i], &a, &err), "transfer");
        snprintf(path, sizeof(path), "/v2/images/%lld/actions/%lld", image,
                 (long long)json_integer_value(json_object_get(a, "id")));
        OK_OR_FAIL(dp_do_wait_action(c, path, &fast_wait, NULL, &err), "wait transfer");
        json_decref(a);
    }
    snprintf(id, sizeof(id), "%lld", image);
    OK_OR_FAIL(dp_do_image_get(c, id, &img, &err), "get image");
    TH_EQ_INT(json_array_size(json_object_get(img, "regions")), 3);
    json_decref(img);
}

static int run_bake(struct dp_do_client *c)
{
    struct dp_err err = {0};
    json_t *d = create(c, "bake", 1, image_slug, NULL), *priv = NULL, *snaps = NULL, *s = NULL;
    long long id = dp_do_droplet_id(json_array_get(d, 0)), image;
    char sid[32];

    OK_OR_FAIL(dp_do_wait_droplets(c, run_tag, &id, 1, "active", true, &fast_wait, NULL, &err),
               "wait active");
    image = bake_snapshot(c, id);
    bake_transfer(c, image);
    delete_all(c, d);
    OK_OR_FAIL(dp_do_images_private(c, &priv, &err), "private images");
    TH_CHECK(json_array_size(priv) >= 1);
    OK_OR_FAIL(dp_do_snapshots_list(c, &snaps, &err), "snapshots");
    snprintf(sid, sizeof(sid), "%lld", image);
    OK_OR_FAIL(dp_do_snapshot_get(c, sid, &s, &err), "snapshot by string id");
    TH_EQ_STR(json_string_value(json_object_get(s, "id")), sid);
    OK_OR_FAIL(dp_do_snapshot_delete(c, sid, &err), "delete snapshot");
    OK_OR_FAIL(dp_do_image_delete(c, image, &err), "delete image (already gone is fine)");
    json_decref(d), json_decref(priv), json_decref(snaps), json_decref(s);
    return 0;
}

/* ---- provision: the API calls it takes to get N droplets running ---- */

static int run_provision(struct dp_do_client *c, size_t n)
{
    struct dp_err err = {0};
    unsigned long before = atomic_load(&dp_do_stats(c)->calls);
    struct dp_do_wait w = {.timeout_ms = 300000}; /* default intervals, as the platform uses */
    json_t *d = create(c, "prov", n, image_slug, NULL);
    long long *ids = ids_of(d);
    unsigned long calls;

    OK_OR_FAIL(
        dp_do_wait_droplets(c, run_tag, ids, json_array_size(d), "active", false, &w, NULL, &err),
        "wait for all");
    calls = atomic_load(&dp_do_stats(c)->calls) - before;
    printf("provision %zu droplets: %lu API calls (%lu retries)\n", n, calls,
           atomic_load(&dp_do_stats(c)->retries));
    delete_all(c, d);
    free(ids);
    json_decref(d);
    return 0;
}

static void print_outcome(dp_rc rc, const struct dp_err *err)
{
    printf("rc=%d code=%s msg=%s\n", (int)rc, rc ? err->code : "ok", rc ? err->msg : "");
}

static int run_call(struct dp_do_client *c, const char *method, const char *path, const char *body)
{
    struct dp_err err = {0};
    struct dp_do_fault f;
    json_t *b = body ? json_loads(body, 0, NULL) : NULL, *out = NULL;
    dp_rc rc = dp_do_call(c, method, path, b, DP_DO_RETRY_SAFE, &out, &f, &err);

    print_outcome(rc, &err);
    printf("fault status=%ld id=%s request_id=%s attempts=%d\n", f.status, f.id, f.request_id,
           f.attempts);
    json_decref(b), json_decref(out);
    return 0;
}

static int run_create_one(struct dp_do_client *c, const char *name)
{
    const char *names[] = {name};
    struct dp_do_create req = {
        .names = names, .count = 1, .region = "nyc1", .size = "s-1vcpu-1gb", .image = image_slug};
    struct dp_err err = {0};
    json_t *out = NULL, *d;
    size_t i;
    dp_rc rc = dp_do_droplets_create(c, &req, &out, &err);

    print_outcome(rc, &err);
    json_array_foreach(out, i, d)
    {
        printf("droplet %lld\n", dp_do_droplet_id(d));
    }
    json_decref(out);
    return 0;
}

static int run_wait_action(struct dp_do_client *c, const char *path)
{
    struct dp_err err = {0};
    struct dp_do_wait w = {.timeout_ms = 30000, .first_ms = 50, .max_poll_ms = 100};
    dp_rc rc = dp_do_wait_action(c, path, &w, NULL, &err);

    print_outcome(rc, &err);
    return 0;
}

/* A wait's own cancel check that fires on its third call: inside the wait's first sleep. */
static int cancel_third(void *ud)
{
    int *calls = ud;

    return ++*calls >= 3;
}

/* Waits (which: "action", "droplets" or "image") with a first poll 20 s away and a cancel
 * check that fires within 300 ms: the wait must end canceled before its first request. */
static int run_wait_cancel(struct dp_do_client *c, const char *which)
{
    static const long long ids[] = {9};
    int calls = 0;
    struct dp_err err = {0};
    struct dp_do_wait w = {.timeout_ms = 60000,
                           .first_ms = 20000,
                           .max_poll_ms = 20000,
                           .cancel = cancel_third,
                           .cancel_ud = &calls};
    dp_rc rc;

    if (strcmp(which, "droplets") == 0)
        rc = dp_do_wait_droplets(c, run_tag, ids, 1, "active", false, &w, NULL, &err);
    else if (strcmp(which, "image") == 0)
        rc = dp_do_wait_image_actions(c, 7, ids, 1, &w, &err);
    else
        rc = dp_do_wait_action(c, "/v2/actions/9", &w, NULL, &err);
    print_outcome(rc, &err);
    printf("cancel checks=%d\n", calls);
    return 0;
}

static int dispatch(struct dp_do_client *c, int argc, char **argv, int i)
{
    if (strcmp(argv[i], "call") == 0 && i + 2 < argc)
        return run_call(c, argv[i + 1], argv[i + 2], i + 3 < argc ? argv[i + 3] : NULL);
    if (strcmp(argv[i], "create") == 0 && i + 1 < argc)
        return run_create_one(c, argv[i + 1]);
    if (strcmp(argv[i], "wait-action") == 0 && i + 1 < argc)
        return run_wait_action(c, argv[i + 1]);
    if (strcmp(argv[i], "wait-cancel") == 0 && i + 1 < argc)
        return run_wait_cancel(c, argv[i + 1]);
    if (strcmp(argv[i], "ops") == 0)
        return run_ops(c);
    if (strcmp(argv[i], "batch") == 0 && i + 1 < argc)
        return run_batch(c, (size_t)atoi(argv[i + 1]));
    if (strcmp(argv[i], "bake") == 0) {
        unsigned long before = atomic_load(&dp_do_stats(c)->calls);
        int rc = run_bake(c);

        printf("bake: %lu API calls\n", atomic_load(&dp_do_stats(c)->calls) - before);
        return rc;
    }
    if (strcmp(argv[i], "provision") == 0 && i + 1 < argc)
        return run_provision(c, (size_t)atoi(argv[i + 1]));
    fprintf(stderr, "unknown scenario %s\n", argv[i]);
    return 2;
}

int main(int argc, char **argv)
{
    struct dp_do_client *c = NULL;
    struct dp_do_policy pol = {6, 120000, 500, 30000, 30000};
    struct dp_err err = {0};
    int i = 1, rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (dp_do_from_env(&c, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--retries") == 0)
            pol.max_attempts = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--backoff-ms") == 0) {
            pol.base_ms = atoi(argv[i + 1]);
            pol.max_backoff_ms = 16 * pol.base_ms;
        } else if (strcmp(argv[i], "--page-size") == 0)
            dp_do_set_page_size(c, atoi(argv[i + 1]));
        else if (strcmp(argv[i], "--tag") == 0)
            run_tag = argv[i + 1];
    }
    dp_do_set_policy(c, &pol);
    rc = i < argc ? dispatch(c, argc, argv, i) : 2;
    printf("client: %lu calls, %lu retries, %lu rate-limited, %lu server errors\n",
           atomic_load(&dp_do_stats(c)->calls), atomic_load(&dp_do_stats(c)->retries),
           atomic_load(&dp_do_stats(c)->rate_limited), atomic_load(&dp_do_stats(c)->server_errors));
    dp_do_free(c);
    curl_global_cleanup();
    if (rc)
        return rc;
    TH_EXIT();
}
