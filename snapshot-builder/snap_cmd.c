/* The commands: flags into the snapshot service's options, one call, the answer shown. */
#include "snap.h"

#include "cloudinit.h"
#include "dp_snapshot_req.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONTROLLER_URL "http://127.0.0.1:8080"

int snap_exit_for(dp_rc rc)
{
    switch (rc) {
    case DP_OK:
        return SNAP_EXIT_OK;
    case DP_ECANCELED:
        return SNAP_EXIT_INTERRUPTED;
    default:
        return SNAP_EXIT_FAILED;
    }
}

/* The exit code for a failure, finer than snap_exit_for where the error's code tells more. */
static int exit_for_err(const struct dp_err *err)
{
    if (err->rc == DP_EDENIED && strncmp(err->code, "agent", 5) != 0 &&
        strcmp(err->code, "bake_key_refused") != 0)
        return SNAP_EXIT_CONFIG; /* DigitalOcean refused the token */
    if (strcmp(err->code, "snapshot_not_found") == 0)
        return SNAP_EXIT_NOT_FOUND;
    if (strcmp(err->code, "no_agent_package") == 0 ||
        strcmp(err->code, "agent_package_unreachable") == 0 ||
        strcmp(err->code, "invalid_agent_sha256") == 0)
        return SNAP_EXIT_CONFIG;
    return snap_exit_for(err->rc);
}

/* ---- bake options from the flags ---- */

struct bake_setup {
    struct dp_snapshot_opts o;
    const char *regions[DP_SNAPSHOT_REGIONS_MAX], *packages[DP_SNAPSHOT_PACKAGES_MAX];
    const char *allow[SNAP_ALLOW_MAX], *ssh[SNAP_ALLOW_MAX];
    char regions_buf[SNAP_STR_MAX], packages_buf[SNAP_STR_MAX];
    char url[SNAP_STR_MAX + 32], sha_url[SNAP_STR_MAX + 40], sha[65], derived[64];
};

static int usage_err(const char *what)
{
    fprintf(stderr, "%s (try --help)\n", what);
    return SNAP_EXIT_USAGE;
}

static int split_lists(struct snap *s, struct bake_setup *b)
{
    snprintf(b->regions_buf, sizeof(b->regions_buf), "%s", s->conf.regions);
    b->o.nregions = dp_snapshot_split(b->regions_buf, b->regions, DP_SNAPSHOT_REGIONS_MAX);
    b->o.regions = b->regions;
    snprintf(b->packages_buf, sizeof(b->packages_buf), "%s", s->conf.packages);
    b->o.npackages = dp_snapshot_split(b->packages_buf, b->packages, DP_SNAPSHOT_PACKAGES_MAX);
    b->o.packages = b->packages;
    if (b->o.nregions > DP_SNAPSHOT_REGIONS_MAX)
        return usage_err("too many --regions");
    if (b->o.npackages > DP_SNAPSHOT_PACKAGES_MAX)
        return usage_err("too many --packages");
    return SNAP_EXIT_OK;
}

/* The agent package: --agent-url, else the controller's /agent/package. */
static void agent_url(struct snap *s, struct bake_setup *b)
{
    const char *ctl = s->conf.controller_url[0] ? s->conf.controller_url : getenv("CONTROLLER_URL");
    size_t n;

    if (s->conf.agent_url[0]) {
        snprintf(b->url, sizeof(b->url), "%s", s->conf.agent_url);
        return;
    }
    if (!ctl || !*ctl)
        ctl = DEFAULT_CONTROLLER_URL;
    n = strlen(ctl);
    while (n > 0 && ctl[n - 1] == '/')
        n--;
    snprintf(b->url, sizeof(b->url), "%.*s/agent/package", (int)n, ctl);
}

/* --allow, else the controller's address from the agent URL (loopback: 127.0.0.0/8). */
static int derive_allow(struct bake_setup *b)
{
    const char *h = strstr(b->url, "://");
    struct addrinfo hints = {.ai_family = AF_INET}, *res = NULL;
    char host[256];

    h = h ? h + 3 : b->url;
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(h, ":/"), h);
    if (strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0) {
        snprintf(b->derived, sizeof(b->derived), "127.0.0.0/8");
    } else if (getaddrinfo(host, NULL, &hints, &res) == 0 && res) {
        char ip[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, ip, sizeof(ip));
        snprintf(b->derived, sizeof(b->derived), "%s/32", ip);
    }
    if (res)
        freeaddrinfo(res);
    if (!b->derived[0])
        return usage_err("cannot tell which address the agent should admit: give --allow");
    b->allow[0] = b->derived;
    b->o.allow = b->allow;
    b->o.nallow = 1;
    return SNAP_EXIT_OK;
}

static int package_sum(struct snap *s, struct bake_setup *b)
{
    struct dp_err err = {0};

    if (s->conf.agent_sha256[0]) {
        snprintf(b->sha, sizeof(b->sha), "%.64s", s->conf.agent_sha256);
        return SNAP_EXIT_OK;
    }
    if (s->test_user_data)
        return SNAP_EXIT_OK; /* the test's document downloads nothing */
    snprintf(b->sha_url, sizeof(b->sha_url), "%s.sha256", b->url);
    if (dp_snapshot_sha256_url(b->sha, b->sha_url, &err) == DP_OK)
        return SNAP_EXIT_OK;
    snap_out_error(s, &err);
    return SNAP_EXIT_CONFIG;
}

static int bake_setup(struct snap *s, struct bake_setup *b, enum dp_snapshot_kind kind)
{
    const struct snap_conf *k = &s->conf;
    int rc = split_lists(s, b);

    b->o.kind = kind;
    b->o.from = k->from;
    b->o.name = k->name[0] ? k->name : NULL;
    b->o.region = k->region[0] ? k->region : NULL;
    b->o.size = k->size[0] ? k->size : NULL;
    b->o.version = s->version;
    b->o.user_data_override = s->test_user_data;
    b->o.t.agent_ms = (int64_t)k->agent_timeout_s * 1000;
    b->o.t.shutdown_ms = (int64_t)k->shutdown_timeout_s * 1000;
    agent_url(s, b);
    b->o.agent_url = b->url;
    b->o.agent_sha256 = b->sha;
    for (int i = 0; i < k->nallow; i++)
        b->allow[i] = k->allow[i];
    for (int i = 0; i < k->nssh; i++)
        b->ssh[i] = k->ssh_allow[i];
    b->o.allow = b->allow;
    b->o.nallow = (size_t)k->nallow;
    b->o.ssh_allow = b->ssh;
    b->o.nssh = (size_t)k->nssh;
    if (rc == SNAP_EXIT_OK && k->nallow == 0)
        rc = derive_allow(b);
    return rc ? rc : package_sum(s, b);
}

/* ---- commands ---- */

static int finish_bake(struct snap *s, dp_rc rc, struct dp_snapshot_result *res,
                       const struct dp_err *err, bool rebuild)
{
    json_t *ev = rc ? dp_snapshot_error_event(res, err) : dp_snapshot_done_event(res, rebuild);

    if (ev)
        snap_out_final(s, ev);
    json_decref(ev);
    dp_snapshot_result_clear(res);
    return rc ? exit_for_err(err) : SNAP_EXIT_OK;
}

/* A bake (base or custom) or a rebuild (a base bake that then deletes older base snapshots). */
static int bake_or_rebuild(struct snap *s, enum dp_snapshot_kind kind, bool rebuild)
{
    struct bake_setup *b = calloc(1, sizeof(*b));
    struct dp_snapshot_env env = {
        .cloud = s->cloud, .render = cloudinit_render_snapshot_doc, .pr = &s->pr};
    struct dp_snapshot_result res = {0};
    struct dp_err err = {0};
    int code;
    dp_rc rc;

    if (!b)
        return SNAP_EXIT_FAILED;
    code = bake_setup(s, b, kind);
    if (code == SNAP_EXIT_OK) {
        rc = rebuild ? dp_snapshot_rebuild(&res, &env, &b->o, &err)
                     : dp_snapshot_bake(&res, &env, &b->o, &err);
        code = finish_bake(s, rc, &res, &err, rebuild);
    }
    free(b);
    return code;
}

int snap_cmd_bake(struct snap *s)
{
    return bake_or_rebuild(s, s->cmd == SNAP_BAKE_CUSTOM ? DP_SNAPSHOT_CUSTOM : DP_SNAPSHOT_BASE,
                           false);
}

int snap_cmd_rebuild(struct snap *s)
{
    return bake_or_rebuild(s, DP_SNAPSHOT_BASE, true);
}

static void human_list(const json_t *answer, FILE *f)
{
    json_t *snap;
    size_t i;

    fprintf(f, "%-12s %-44s %-8s %-21s %s\n", "ID", "NAME", "AGENT", "CREATED", "REGIONS");
    json_array_foreach(json_object_get(answer, "snapshots"), i, snap)
    {
        const char *agent = json_string_value(json_object_get(snap, "agent_version"));
        json_t *r;
        size_t k;

        fprintf(f, "%-12lld %-44s %-8s %-21s ",
                (long long)json_integer_value(json_object_get(snap, "id")),
                json_string_value(json_object_get(snap, "name")), agent && *agent ? agent : "-",
                json_string_value(json_object_get(snap, "created_at")));
        json_array_foreach(json_object_get(snap, "regions"), k, r)
            fprintf(f, "%s%s", k ? "," : "", json_string_value(r));
        fputc('\n', f);
    }
}

static int answer_or_error(struct snap *s, dp_rc rc, json_t *out, const struct dp_err *err,
                           void (*human)(const json_t *, FILE *))
{
    if (rc == DP_OK)
        snap_out_answer(s, out, human);
    else
        snap_out_error(s, err);
    json_decref(out);
    return rc ? exit_for_err(err) : SNAP_EXIT_OK;
}

int snap_cmd_list(struct snap *s)
{
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_snapshot_list(&out, s->cloud, &err);

    return answer_or_error(s, rc, out, &err, human_list);
}

static void human_transfer(const json_t *answer, FILE *f)
{
    json_t *r;
    size_t i;

    fprintf(f, "snapshot %s (%lld): ", json_string_value(json_object_get(answer, "name")),
            (long long)json_integer_value(json_object_get(answer, "id")));
    if (json_array_size(json_object_get(answer, "transfers")) == 0)
        fprintf(f, "already in every region asked; ");
    fprintf(f, "in ");
    json_array_foreach(json_object_get(answer, "regions"), i, r)
        fprintf(f, "%s%s", i ? ", " : "", json_string_value(r));
    json_array_foreach(json_object_get(answer, "transfers"), i, r) fprintf(
        f, "%s%s", i ? ", " : "; copying to ", json_string_value(json_object_get(r, "region")));
    fputc('\n', f);
}

int snap_cmd_transfer(struct snap *s)
{
    struct dp_snapshot_env env = {.cloud = s->cloud, .pr = &s->pr};
    const char *regions[DP_SNAPSHOT_REGIONS_MAX];
    char buf[SNAP_STR_MAX];
    struct dp_err err = {0};
    json_t *out = NULL;
    size_t n;
    dp_rc rc;

    snprintf(buf, sizeof(buf), "%s", s->conf.regions);
    n = dp_snapshot_split(buf, regions, DP_SNAPSHOT_REGIONS_MAX);
    if (n > DP_SNAPSHOT_REGIONS_MAX)
        return usage_err("too many --regions");
    for (size_t i = 0; i < n; i++) {
        if (!dp_snapshot_region_ok(regions[i]))
            return usage_err("--regions takes region slugs such as nyc3,sfo3");
    }
    rc = dp_snapshot_transfer(&out, &env, s->arg, regions, n, s->conf.all_regions, !s->conf.no_wait,
                              (int64_t)s->conf.timeout_s * 1000, &err);
    return answer_or_error(s, rc, out, &err, human_transfer);
}

static void human_delete(const json_t *answer, FILE *f)
{
    fprintf(f, "deleted snapshot %s (%lld)\n", json_string_value(json_object_get(answer, "name")),
            (long long)json_integer_value(json_object_get(answer, "id")));
}

int snap_cmd_delete(struct snap *s)
{
    struct dp_err err = {0};
    json_t *out = NULL;
    dp_rc rc = dp_snapshot_delete(&out, s->cloud, s->arg, &err);

    return answer_or_error(s, rc, out, &err, human_delete);
}
