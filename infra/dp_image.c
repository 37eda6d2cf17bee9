#include "dp_image.h"

#include "dp_clock.h"
#include "dp_context.h"
#include "dp_ctr_spec.h"
#include "dp_json.h"
#include "dp_limits.h"
#include "dp_path.h"
#include "dp_stage.h"
#include "dp_url.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_EVERY_MS 500 /* at most one byte-count progress event per this */

/* Turns Docker's stream lines into our events and remembers what the caller needs. */
struct relay {
    const struct dp_progress *pr;
    char image_id[DP_IMAGE_ID_MAX];
    json_t *loaded; /* load: references Docker reported */
    int64_t last_progress_ms;
    size_t (*read)(void *ud, char *buf, size_t n); /* the request body, when there is one */
    void *read_ud;
};

static dp_rc relay_log(struct relay *r, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        json_t *ev;
        dp_rc rc = DP_OK;

        while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
            n--;
        if (n) {
            ev = json_pack("{s:s, s:o}", "type", "log", "message", dp_json_string_lossy(p, n));
            rc = ev ? r->pr->emit(r->pr->ud, ev) : DP_ENOMEM;
            json_decref(ev);
        }
        if (rc)
            return rc;
        p = nl ? nl + 1 : p + strlen(p);
    }
    return DP_OK;
}

static void note_loaded(struct relay *r, const char *text)
{
    static const char by_ref[] = "Loaded image: ", by_id[] = "Loaded image ID: ";
    const char *v = NULL;
    size_t n;

    if (strncmp(text, by_ref, sizeof(by_ref) - 1) == 0)
        v = text + sizeof(by_ref) - 1;
    else if (strncmp(text, by_id, sizeof(by_id) - 1) == 0)
        v = text + sizeof(by_id) - 1;
    if (!v || !r->loaded)
        return;
    n = strcspn(v, "\r\n");
    json_array_append_new(r->loaded, json_stringn(v, n));
}

static dp_rc relay_progress(struct relay *r, const json_t *line, const char *status)
{
    const json_t *pd = json_object_get(line, "progressDetail");
    const json_t *cur = json_object_get(pd, "current");
    int64_t now = dp_mono_ms();
    json_t *ev;
    dp_rc rc;

    if (cur && now - r->last_progress_ms < PROGRESS_EVERY_MS)
        return DP_OK; /* byte counters come many a second; one event is plenty */
    r->last_progress_ms = now;
    ev = json_pack("{s:s, s:s}", "type", "progress", "status", status);
    if (!ev)
        return DP_ENOMEM;
    if (json_is_string(json_object_get(line, "id")))
        json_object_set(ev, "id", json_object_get(line, "id"));
    if (cur) {
        json_object_set(ev, "current", (json_t *)cur);
        if (json_object_get(pd, "total"))
            json_object_set(ev, "total", json_object_get(pd, "total"));
    }
    rc = r->pr->emit(r->pr->ud, ev);
    json_decref(ev);
    return rc;
}

static dp_rc relay_line(void *ud, json_t *line)
{
    struct relay *r = ud;
    const char *stream = json_string_value(json_object_get(line, "stream"));
    const char *status = json_string_value(json_object_get(line, "status"));
    const char *aux_id = json_string_value(json_object_get(json_object_get(line, "aux"), "ID"));

    if (aux_id)
        snprintf(r->image_id, sizeof(r->image_id), "%s", aux_id);
    if (stream) {
        note_loaded(r, stream);
        return relay_log(r, stream);
    }
    if (status)
        return relay_progress(r, line, status);
    return DP_OK;
}

static int relay_tick(void *ud)
{
    struct relay *r = ud;

    return r->pr->tick ? r->pr->tick(r->pr->ud) : 0;
}

static size_t relay_read(void *ud, char *buf, size_t n)
{
    struct relay *r = ud;

    return r->read(r->read_ud, buf, n);
}

/* Runs a JSON-line stream through the relay; with a body source, streams it as the body. */
static dp_rc relay_run(struct relay *r, const struct dp_docker *d, const struct dp_docker_req *rq,
                       struct dp_err *err)
{
    struct dp_docker_stream_cb cb = {.on_line = relay_line, .tick = relay_tick, .ud = r};

    if (r->read)
        cb.read = relay_read;
    return dp_docker_stream(d, rq, &cb, err);
}

dp_rc dp_image_id(char image_id[DP_IMAGE_ID_MAX], const struct dp_docker *d, const char *ref,
                  struct dp_err *err)
{
    char path[DP_IMAGE_REF_MAX + 32];
    struct dp_docker_req rq = {.method = "GET", .path = path, .timeout_ms = 30000};
    struct dp_docker_resp r;
    json_t *j = NULL;
    dp_rc rc;

    image_id[0] = '\0';
    if (!dp_image_ref_valid(ref))
        return dp_err_setc(err, DP_EINVAL, "invalid_image",
                           "image '%.80s' is not a valid reference", ref);
    snprintf(path, sizeof(path), "/images/%s/json", ref);
    rc = dp_docker_call(d, &rq, &r, err);
    if (rc == DP_OK && r.status == 404)
        rc = dp_err_setc(err, DP_ENOTFOUND, "image_not_found", "image '%s' is not on this server",
                         ref);
    else if (rc == DP_OK && r.status != 200)
        rc = dp_docker_status_err(&r, "inspect image", err);
    if (rc == DP_OK) {
        j = json_loadb(r.body.data, r.body.len, 0, NULL);
        snprintf(image_id, DP_IMAGE_ID_MAX, "%s",
                 json_string_value(json_object_get(j, "Id"))
                     ? json_string_value(json_object_get(j, "Id"))
                     : "");
        if (!image_id[0])
            rc = dp_err_setc(err, DP_EUPSTREAM, "docker_error", "docker sent no image id");
    }
    json_decref(j);
    dp_docker_resp_clear(&r);
    return rc;
}

/* ---- build ---- */

struct build_req {
    int dirfd; /* the build folder, opened without following links */
    char tag[DP_IMAGE_REF_MAX + 1];
    char dockerfile[DP_PATH_MAX + 1];
    const json_t *buildargs;
    bool pull;
};

static dp_rc dockerfile_ok(const char *df, struct dp_err *err)
{
    if (df[0] == '/' || strstr(df, "..") || strlen(df) > DP_PATH_MAX)
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "dockerfile must be a relative path inside the build folder");
    return DP_OK;
}

static dp_rc build_parse(struct build_req *b, const struct dp_image_place *pl, const json_t *req,
                         struct dp_err *err)
{
    const char *path, *tag, *df;
    char norm[DP_PATH_MAX + 1];
    json_t *args;
    dp_rc rc = dp_json_get_str(&path, req, "path", true, DP_PATH_MAX, err);

    b->dirfd = -1;

    if (!rc)
        rc = dp_json_get_str(&tag, req, "tag", true, DP_IMAGE_REF_MAX, err);
    if (!rc)
        rc = dp_json_get_str(&df, req, "dockerfile", false, DP_PATH_MAX, err);
    if (!rc)
        rc = dp_json_get_flat_object(&args, req, "buildargs", DP_BUILDARGS_MAX, err);
    if (!rc)
        rc = dp_json_get_bool(&b->pull, req, "pull", false, err);
    if (!rc)
        rc = dp_path_normalize(norm, sizeof(norm), path, err);
    if (!rc && !dp_image_ref_valid(tag))
        rc = dp_err_setc(err, DP_EINVAL, "invalid_field", "tag '%.80s' is not a valid image name",
                         tag);
    if (!rc && df)
        rc = dockerfile_ok(df, err);
    if (!rc && (b->dirfd = dp_stage_open_dir(pl->data_root, norm, err)) < 0)
        rc = err ? err->rc : DP_EINVAL;
    if (rc)
        return rc;
    snprintf(b->tag, sizeof(b->tag), "%s", tag);
    snprintf(b->dockerfile, sizeof(b->dockerfile), "%s", df ? df : "Dockerfile");
    b->buildargs = args;
    return DP_OK;
}

/* Appends "&name=<escaped JSON of v>" to q. */
static dp_rc query_json(char *q, size_t size, const char *name, const json_t *v)
{
    char *text = dp_json_dump(v);
    size_t used = strlen(q);
    dp_rc rc;

    if (!text)
        return DP_ENOMEM;
    if (used + strlen(name) + 2 >= size) {
        free(text);
        return DP_ETOOBIG;
    }
    snprintf(q + used, size - used, "&%s=", name);
    used = strlen(q);
    rc = dp_url_escape(q + used, size - used, text);
    free(text);
    return rc;
}

static dp_rc build_query(char *q, size_t size, const struct build_req *b, const char *ns)
{
    char tag[DP_IMAGE_REF_MAX * 3 + 1], df[DP_PATH_MAX * 3 + 1];
    json_t *labels = json_pack("{s:s, s:s}", DP_LABEL_MANAGED, "1", DP_LABEL_NAMESPACE, ns);
    json_t *args = json_object();
    char *text = malloc(DP_ENV_VAL_MAX + 1); /* not on the stack: civetweb's are 100 KiB */
    const char *k;
    json_t *v;
    dp_rc rc;

    json_object_foreach((json_t *)b->buildargs, k, v)
    {
        if (text && dp_json_scalar_text(text, DP_ENV_VAL_MAX + 1, v))
            json_object_set_new(args, k, json_string(text));
    }
    free(text);
    rc = dp_url_escape(tag, sizeof(tag), b->tag);
    if (!rc)
        rc = dp_url_escape(df, sizeof(df), b->dockerfile);
    if (!rc)
        snprintf(q, size, "/build?t=%s&dockerfile=%s&rm=1&forcerm=1&pull=%d", tag, df,
                 b->pull ? 1 : 0);
    if (!rc)
        rc = query_json(q, size, "labels", labels);
    if (!rc && json_object_size(args))
        rc = query_json(q, size, "buildargs", args);
    json_decref(labels);
    json_decref(args);
    return rc;
}

static size_t context_read(void *ud, char *buf, size_t n)
{
    ssize_t r = dp_context_read(ud, buf, n);

    return r < 0 ? (size_t)-1 : (size_t)r;
}

/* Docker's answers before the stream starts say more with our codes. */
static dp_rc build_error(dp_rc rc, struct dp_err *err)
{
    char msg[DP_ERR_MSG_MAX];

    if (rc && err && strstr(err->msg, "Cannot locate specified Dockerfile")) {
        memcpy(msg, err->msg, sizeof(msg)); /* the message is rewritten from itself */
        return dp_err_setc(err, DP_EINVAL, "dockerfile_not_found", "%s", msg);
    }
    if (rc && err && rc == DP_EUPSTREAM && strcmp(err->code, "docker_error") == 0)
        snprintf(err->code, sizeof(err->code), "build_failed");
    return rc;
}

dp_rc dp_image_build(char image_id[DP_IMAGE_ID_MAX], const struct dp_image_place *pl,
                     const json_t *req, const struct dp_progress *pr, struct dp_err *err)
{
    enum { QMAX = 16384 };
    struct build_req b = {.dirfd = -1};
    struct dp_context *ctx = NULL;
    struct relay r = {.pr = pr, .read = context_read};
    struct dp_docker_req rq = {.method = "POST", .content_type = "application/x-tar"};
    char *q = malloc(QMAX);
    dp_rc crc, rc;

    image_id[0] = '\0';
    if (!q)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    rc = build_parse(&b, pl, req, err);
    if (!rc && build_query(q, QMAX, &b, pl->namespace_))
        rc = dp_err_setc(err, DP_EINVAL, "invalid_field", "build arguments are too long");
    if (!rc) {
        rc = dp_context_open(&ctx, b.dirfd, err); /* owns the fd from here */
        b.dirfd = -1;
    }
    if (!rc) {
        rq.path = q;
        r.read_ud = ctx;
        rc = relay_run(&r, pl->docker, &rq, err);
        /* The context writer's own failure is the cause only when Docker had none. */
        crc = dp_context_close(ctx, rc ? NULL : err);
        if (!rc)
            rc = crc;
    }
    if (!rc && !r.image_id[0])
        rc = dp_err_setc(err, DP_EUPSTREAM, "build_failed", "docker reported no image id");
    if (!rc)
        snprintf(image_id, DP_IMAGE_ID_MAX, "%s", r.image_id);
    if (b.dirfd >= 0)
        close(b.dirfd);
    free(q);
    return build_error(rc, err);
}

/* ---- pull ---- */

dp_rc dp_image_ref_split(char *name, size_t nsize, char *tag, size_t tsize, const char *ref,
                         struct dp_err *err)
{
    const char *at = strchr(ref, '@');
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(ref, ':');
    const char *cut = at ? at : (colon && (!slash || colon > slash) ? colon : NULL);
    size_t nlen = cut ? (size_t)(cut - ref) : strlen(ref);

    if (!dp_image_ref_valid(ref) || nlen == 0 || nlen >= nsize)
        return dp_err_setc(err, DP_EINVAL, "invalid_image",
                           "image '%.80s' is not a valid reference", ref);
    memcpy(name, ref, nlen);
    name[nlen] = '\0';
    snprintf(tag, tsize, "%s", cut ? cut + 1 : "latest");
    if (!tag[0])
        return dp_err_setc(err, DP_EINVAL, "invalid_image", "image '%.80s' has an empty tag", ref);
    return DP_OK;
}

void dp_image_registry(char *out, size_t size, const char *ref)
{
    const char *slash = strchr(ref, '/');
    size_t n = slash ? (size_t)(slash - ref) : 0;

    /* Docker's rule: the first part names a registry when it has a '.' or ':' or is localhost. */
    if (slash &&
        (memchr(ref, '.', n) || memchr(ref, ':', n) || strncmp(ref, "localhost/", 10) == 0))
        snprintf(out, size, "%.*s", (int)n, ref);
    else
        snprintf(out, size, "docker.io");
}

/* "X-Registry-Auth: <padded base64url of the credentials JSON>"; *out freed with
 * free_secret(). */
static dp_rc registry_auth(char **out, const char *ref, const char *user, const char *pass,
                           struct dp_err *err)
{
    char server[DP_IMAGE_REF_MAX + 1];
    json_t *j;
    char *text, *hdr;
    size_t tlen, cap;

    *out = NULL;
    dp_image_registry(server, sizeof(server), ref);
    j = json_pack("{s:s, s:s, s:s}", "username", user, "password", pass, "serveraddress", server);
    text = j ? dp_json_dump(j) : NULL;
    json_decref(j); /* jansson frees the strings; the password copy goes with it */
    if (!text)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    tlen = strlen(text);
    cap = 4 * ((tlen + 2) / 3) + 32;
    hdr = malloc(cap);
    if (hdr) {
        int n = snprintf(hdr, cap, "X-Registry-Auth: ");

        EVP_EncodeBlock((unsigned char *)hdr + n, (const unsigned char *)text, (int)tlen);
        for (char *p = hdr + n; *p; p++) { /* base64url, as Docker decodes it */
            if (*p == '+')
                *p = '-';
            else if (*p == '/')
                *p = '_';
        }
    }
    OPENSSL_cleanse(text, tlen);
    free(text);
    *out = hdr;
    return hdr ? DP_OK : dp_err_set(err, DP_ENOMEM, "out of memory");
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Registry refusals arrive as Docker 500s or in-line errors; name them for what they are. */
static dp_rc pull_error(dp_rc rc, const char *ref, struct dp_err *err)
{
    if (!rc || !err)
        return rc;
    if (strstr(err->msg, "unauthorized") || strstr(err->msg, "authentication required") ||
        strstr(err->msg, "no basic auth credentials") || strstr(err->msg, "denied"))
        return dp_err_setc(err, DP_EUPSTREAM, "registry_auth_failed",
                           "the registry refused the credentials for '%s'", ref);
    if (rc == DP_ENOTFOUND || strstr(err->msg, "manifest unknown") || strstr(err->msg, "not found"))
        return dp_err_setc(err, DP_ENOTFOUND, "image_not_found", "the registry has no image '%s'",
                           ref);
    if (rc == DP_EUPSTREAM && strcmp(err->code, "docker_error") == 0)
        snprintf(err->code, sizeof(err->code), "pull_failed");
    return rc;
}

dp_rc dp_image_pull(char image_id[DP_IMAGE_ID_MAX], const struct dp_image_place *pl,
                    const json_t *req, const struct dp_progress *pr, struct dp_err *err)
{
    char name[DP_IMAGE_REF_MAX + 1], tag[DP_IMAGE_REF_MAX + 1];
    char ename[DP_IMAGE_REF_MAX * 3 + 1], etag[DP_IMAGE_REF_MAX * 3 + 1],
        path[DP_IMAGE_REF_MAX * 7];
    const char *image, *user, *pass;
    char *auth = NULL;
    struct relay r = {.pr = pr};
    struct dp_docker_req rq = {.method = "POST", .path = path};
    dp_rc rc = dp_json_get_str(&image, req, "image", true, DP_IMAGE_REF_MAX, err);

    image_id[0] = '\0';
    if (!rc)
        rc = dp_json_get_str(&user, req, "username", false, DP_CREDENTIAL_MAX, err);
    if (!rc)
        rc = dp_json_get_str(&pass, req, "password", false, DP_CREDENTIAL_MAX, err);
    if (!rc)
        rc = dp_image_ref_split(name, sizeof(name), tag, sizeof(tag), image, err);
    if (!rc && (user || pass))
        rc = registry_auth(&auth, image, user ? user : "", pass ? pass : "", err);
    if (!rc &&
        (dp_url_escape(ename, sizeof(ename), name) || dp_url_escape(etag, sizeof(etag), tag)))
        rc = dp_err_set(err, DP_EINVAL, "image reference too long");
    if (!rc) {
        snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s", ename, etag);
        rq.extra_header = auth;
        rc = pull_error(relay_run(&r, pl->docker, &rq, err), image, err);
    }
    free_secret(auth);
    if (!rc)
        rc = dp_image_id(image_id, pl->docker, image, err);
    return rc;
}

/* ---- export and load ---- */

dp_rc dp_image_export(const struct dp_docker *d, const char *ref,
                      dp_rc (*on_data)(void *ud, const char *p, size_t n), int (*tick)(void *ud),
                      void *ud, struct dp_err *err)
{
    char id[DP_IMAGE_ID_MAX], path[DP_IMAGE_REF_MAX + 32];
    struct dp_docker_stream_cb cb = {.on_data = on_data, .tick = tick, .ud = ud};
    struct dp_docker_req rq = {.method = "GET", .path = path};
    dp_rc rc = dp_image_id(id, d, ref, err);

    if (rc)
        return rc;
    snprintf(path, sizeof(path), "/images/%s/get", ref);
    return dp_docker_stream(d, &rq, &cb, err);
}

dp_rc dp_image_load(char image_id[DP_IMAGE_ID_MAX], json_t **loaded, const struct dp_docker *d,
                    size_t (*read)(void *ud, char *buf, size_t n), void *read_ud,
                    const struct dp_progress *pr, struct dp_err *err)
{
    struct relay r = {.pr = pr, .read = read, .read_ud = read_ud, .loaded = json_array()};
    struct dp_docker_req rq = {
        .method = "POST", .path = "/images/load?quiet=0", .content_type = "application/x-tar"};
    const char *first;
    dp_rc rc = relay_run(&r, d, &rq, err);

    image_id[0] = '\0';
    *loaded = NULL;
    first = json_string_value(json_array_get(r.loaded, 0));
    if (!rc && !first)
        rc = dp_err_setc(err, DP_EINVAL, "invalid_image_archive",
                         "the body held no image (expected a `docker save` tar)");
    else if (!rc && strncmp(first, "sha256:", 7) == 0)
        snprintf(image_id, DP_IMAGE_ID_MAX, "%s", first);
    else if (!rc)
        rc = dp_image_id(image_id, d, first, err);
    if (rc == DP_EUPSTREAM && err && strcmp(err->code, "docker_error") == 0)
        snprintf(err->code, sizeof(err->code), "load_failed");
    if (!rc)
        *loaded = r.loaded;
    else
        json_decref(r.loaded);
    return rc;
}
