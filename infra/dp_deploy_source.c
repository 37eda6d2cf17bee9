/* The image every server runs: pulled by each server (image), or built once on the first server
 * (code, git) and streamed from its agent to the others; then the containers. */
#include "dp_deploy_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* An agent stream (build, pull, clone) for one server; *done's image_id kept when present. */
static dp_rc job_stream(struct deploy *d, struct srv_job *j, const char *path, json_t *body, int fd,
                        struct dp_err *err)
{
    struct job_progress p;
    json_t *done = NULL;
    const char *id;
    dp_rc rc;

    job_progress_init(&p, d, j);
    rc = dp_agent_stream(&j->target, path, body, fd, &p.pr, &done, err);
    id = json_string_value(json_object_get(done, "image_id"));
    if (rc == DP_OK && id)
        snprintf(j->image_id, sizeof(j->image_id), "%s", id);
    json_decref(done);
    return rc;
}

/* ---- image: every server pulls ---- */

static void pull_one(struct deploy *d, struct srv_job *j)
{
    json_t *body = json_pack("{s:s}", "image", d->req.image);
    struct dp_err err = {0};

    if (d->req.registry_user)
        json_object_set_new(body, "username", json_string(d->req.registry_user));
    if (d->req.registry_password)
        json_object_set_new(body, "password", json_string(d->req.registry_password));
    deploy_step(d, j->ip, "pulling");
    if (job_stream(d, j, "/pull", body, -1, &err))
        deploy_fail_job(d, j, &err);
    json_decref(body); /* held the registry password: jansson frees it */
}

/* ---- code and git: build once ---- */

static struct srv_job *builder_of(struct deploy *d)
{
    for (size_t i = 0; i < d->njobs; i++) {
        if (d->jobs[i].ok)
            return &d->jobs[i];
    }
    return NULL;
}

static dp_rc put_code(struct deploy *d, struct srv_job *b, const char *path, struct dp_err *err)
{
    json_t *ans = NULL;
    int fd;
    dp_rc rc;

    if (d->req.source == DP_SRC_GIT) {
        json_t *body = json_pack("{s:s, s:s, s:s}", "url", d->req.git_url, "branch",
                                 d->req.git_branch, "path", path);

        if (d->req.git_token)
            json_object_set_new(body, "token", json_string(d->req.git_token));
        deploy_step(d, b->ip, "cloning");
        rc = job_stream(d, b, "/git/clone", body, -1, err);
        json_decref(body);
        return rc;
    }
    deploy_step(d, b->ip, "uploading");
    fd = open(d->req.code_tar, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dp_err_set(err, DP_EIO, "the prepared code is gone");
    rc = dp_agent_upload(&b->target, path, true, fd, &ans, err);
    close(fd);
    if (rc == DP_OK)
        deploy_log(d, b->ip, "uploaded %lld files",
                   (long long)json_integer_value(json_object_get(ans, "files")));
    json_decref(ans);
    return rc;
}

static dp_rc build_on(struct deploy *d, struct srv_job *b, struct dp_err *err)
{
    char path[160];
    json_t *body;
    dp_rc rc;

    snprintf(path, sizeof(path), "/app/%s/v%lld", d->req.app, d->version);
    rc = put_code(d, b, path, err);
    if (rc)
        return rc;
    deploy_step(d, b->ip, "building");
    body = json_pack("{s:s, s:s}", "path", path, "tag", d->tag);
    if (d->req.dockerfile[0])
        json_object_set_new(body, "dockerfile", json_string(d->req.dockerfile));
    rc = job_stream(d, b, "/build", body, -1, err);
    json_decref(body);
    if (rc == DP_OK)
        deploy_log(d, b->ip, "built %s (%s)", d->tag, b->image_id);
    return rc;
}

static void copy_one(struct deploy *d, struct srv_job *j)
{
    struct job_progress p;
    struct dp_err err = {0};
    struct srv_job *b = builder_of(d);

    if (j == b)
        return;
    job_progress_init(&p, d, j);
    deploy_step(d, j->ip, "sending image");
    if (dp_agent_copy_image(&b->target, &j->target, d->tag, j->image_id, &p.pr, &err))
        deploy_fail_job(d, j, &err);
    else if (strcmp(j->image_id, b->image_id) != 0)
        deploy_log(d, j->ip, "warning: image id %s differs from the built %s", j->image_id,
                   b->image_id);
}

dp_rc deploy_prepare_image(struct deploy *d, struct dp_err *err)
{
    struct srv_job *b;
    dp_rc rc;

    if (d->req.source == DP_SRC_IMAGE) {
        deploy_each(d, pull_one);
        return DP_OK;
    }
    b = builder_of(d);
    if (!b)
        return dp_err_setc(err, DP_EUNAVAIL, "no_server_ready", "no server to build on");
    rc = build_on(d, b, err);
    if (rc) {
        /* Without the image no server can run it: they all fail with the build's reason. */
        for (size_t i = 0; i < d->njobs; i++) {
            if (d->jobs[i].ok)
                deploy_fail_job(d, &d->jobs[i], err);
        }
        return rc;
    }
    deploy_each(d, copy_one);
    return DP_OK;
}

/* ---- containers ---- */

static json_t *run_body(const struct deploy *d)
{
    static const char *const src[] = {"image", "git", "code"};
    char dep[32], ver[32];
    json_t *b;

    snprintf(dep, sizeof(dep), "%lld", d->id);
    snprintf(ver, sizeof(ver), "v%lld", d->version);
    b = json_pack("{s:s, s:s, s:O, s:O, s:b, s:s, s:s, s:s, s:s}", "name", d->req.app, "image",
                  d->tag, "env", d->req.env, "labels", d->req.labels, "replace", 1, "app",
                  d->req.app, "deployment_id", dep, "version", ver, "source", src[d->req.source]);
    if (d->req.port > 0) {
        char port[16];

        snprintf(port, sizeof(port), "%d", d->req.port);
        json_object_set_new(b, "ports", json_pack("{s:i}", port, d->req.port));
    }
    return b;
}

void deploy_run_container(struct deploy *d, struct srv_job *j)
{
    json_t *body = run_body(d), *ans = NULL;
    struct dp_err err = {0};

    deploy_step(d, j->ip, "starting");
    if (dp_agent_call(&j->target, "POST", "/containers/run", body, &ans, &err)) {
        deploy_fail_job(d, j, &err);
    } else {
        snprintf(j->container_id, sizeof(j->container_id), "%s",
                 json_string_value(json_object_get(ans, "id"))
                     ? json_string_value(json_object_get(ans, "id"))
                     : "");
        deploy_log(d, j->ip, "running %s as container %.12s", d->tag, j->container_id);
        deploy_step(d, j->ip, "running");
    }
    json_decref(body); /* held the env values */
    json_decref(ans);
}
