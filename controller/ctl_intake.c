#include "ctl_intake.h"

#include "dp_agentc.h"
#include "dp_code.h"
#include "dp_json.h"
#include "dp_key.h"
#include "dp_limits.h"
#include "dp_multipart.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CODE_JSON_MAX (1400UL * 1024 * 1024) /* a JSON deploy with base64 code, bytes */
#define SPOOL_BLOCK   (64UL * 1024)          /* bytes of a raw body read at once */

static bool is_multipart(const struct dp_req *rq)
{
    const char *ct = mg_get_header(rq->conn, "Content-Type");

    return ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

static long body_read(void *ud, void *buf, size_t size)
{
    struct dp_req *rq = ud;

    return mg_read(rq->conn, buf, size);
}

/* The code of a deploy, checked and made into a tar with a Dockerfile. */
static dp_rc prepare_code(struct dp_deploy_req *out, const json_t *fields, const char *file,
                          const struct ctl *c, struct dp_err *err)
{
    struct dp_code_opts o = {0};
    struct dp_code_result res = {0};
    json_t *copy = json_copy((json_t *)fields);
    dp_rc rc;

    /* The port is the deploy's (0: nothing published); the generated Dockerfile still needs
     * one to listen on. */
    json_object_del(copy, "port");
    rc = dp_code_opts_from_json(&o, copy, err);
    o.spool_dir = c->conf.spool_dir;
    o.file_path = file;
    o.port = out->port > 0 ? (unsigned)out->port : 8080;
    o.bases = &c->bases;
    o.max_bytes = (unsigned long long)c->conf.code_max_mb * 1024 * 1024;
    if (!rc)
        rc = dp_code_prepare(&res, &o, err);
    if (!rc) {
        snprintf(out->code_tar, sizeof(out->code_tar), "%.*s", (int)sizeof(out->code_tar) - 1,
                 res.tar_path);
        snprintf(out->dockerfile, sizeof(out->dockerfile), "%.*s", (int)sizeof(out->dockerfile) - 1,
                 res.dockerfile);
        if (strlen(res.tar_path) >= sizeof(out->code_tar))
            rc = dp_err_set(err, DP_EIO, "the spool folder's path is too long");
        res.tar_path[0] = '\0'; /* the deploy removes it now */
    }
    dp_code_result_clear(&res);
    json_decref(copy);
    return rc;
}

/* One "env" form field, KEY=VALUE, into the env_vars object (made when missing). */
static dp_rc form_env_field(json_t *f, const char *t, struct dp_err *err)
{
    const char *eq = t ? strchr(t, '=') : NULL;
    json_t *env = json_object_get(f, "env_vars");
    char key[DP_ENV_KEY_MAX + 1];

    if (!eq)
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "env fields look like KEY=VALUE");
    if (eq - t > DP_ENV_KEY_MAX) /* refused, never cut short into another name */
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "an env field's name is longer than %d bytes", DP_ENV_KEY_MAX);
    if (!env) {
        env = json_object();
        json_object_set_new(f, "env_vars", env);
    }
    snprintf(key, sizeof(key), "%.*s", (int)(eq - t), t);
    json_object_set_new(env, key, json_string(eq + 1));
    return DP_OK;
}

/* Form fields arrive as text, and only a repeated field as a list: give them the shapes the
 * JSON request has. env_vars may be JSON text; repeated "env" fields may say KEY=VALUE. */
static dp_rc form_shapes(json_t *f, struct dp_err *err)
{
    static const char *const lists[] = {"server_ips", "tags"};
    json_t *env = json_object_get(f, "env_vars"), *kv, *e;
    dp_rc rc = DP_OK;
    size_t i;

    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
        json_t *v = json_object_get(f, lists[k]);

        if (json_is_string(v))
            json_object_set_new(f, lists[k], json_pack("[O]", v));
    }
    if (json_is_string(env)) {
        json_t *parsed = json_loads(json_string_value(env), 0, NULL);

        if (!json_is_object(parsed)) {
            json_decref(parsed);
            return dp_err_setc(err, DP_EINVAL, "invalid_field",
                               "env_vars in a form must be a JSON object");
        }
        json_object_set_new(f, "env_vars", parsed);
    }
    kv = json_object_get(f, "env");
    if (json_is_string(kv))
        kv = json_pack("[O]", kv);
    else
        json_incref(kv);
    json_array_foreach(kv, i, e)
    {
        rc = form_env_field(f, json_string_value(e), err);
        if (rc)
            break;
    }
    json_decref(kv);
    return rc;
}

/* A body that is the code itself (a tar or a zip), spooled to a file as it arrives; first[0..n)
 * was already read (to tell it from JSON). buf is SPOOL_BLOCK bytes on the heap: civetweb's
 * workers have 100 KiB stacks. */
static dp_rc spool_body(char *file, size_t fsize, struct dp_req *rq, const char *spool_dir,
                        char *buf, int n, struct dp_err *err)
{
    unsigned long long total = (unsigned long long)n;
    int fd;

    snprintf(file, fsize, "%s/dp-code-XXXXXX", spool_dir);
    fd = mkostemp(file, O_CLOEXEC);
    if (fd < 0) {
        file[0] = '\0';
        dp_httpd_close_after(rq); /* the body stays unread */
        return dp_err_set(err, DP_EIO, "cannot spool the upload in %s", spool_dir);
    }
    while (n > 0 && total <= DP_CODE_MAX_BYTES) {
        if (write(fd, buf, (size_t)n) != n) {
            n = -2;
            break;
        }
        n = mg_read(rq->conn, buf, SPOOL_BLOCK);
        total += n > 0 ? (unsigned long long)n : 0;
    }
    close(fd);
    if (n == 0)
        return DP_OK;
    dp_httpd_close_after(rq);
    unlink(file);
    file[0] = '\0';
    if (total > DP_CODE_MAX_BYTES)
        return dp_err_setc(err, DP_ETOOBIG, "code_too_large", "the upload is over %llu bytes",
                           DP_CODE_MAX_BYTES);
    return dp_err_set(err, n == -2 ? DP_EIO : DP_ECANCELED, "the upload broke off");
}

/* The rest of a JSON body whose first n bytes are in buf. */
static dp_rc json_rest(json_t **fields, struct dp_req *rq, char *buf, int n, struct dp_err *err)
{
    struct dp_buf body;
    dp_rc rc = DP_OK;

    dp_buf_init(&body, CODE_JSON_MAX);
    while (n > 0 && rc == DP_OK) {
        rc = dp_buf_append(&body, buf, (size_t)n);
        n = rc ? 0 : mg_read(rq->conn, buf, SPOOL_BLOCK);
    }
    if (rc == DP_ETOOBIG)
        rc = dp_err_set(err, DP_ETOOBIG, "the request body is over %lu bytes", CODE_JSON_MAX);
    else if (rc)
        rc = dp_err_set(err, rc, "out of memory");
    else if (n < 0)
        rc = dp_err_set(err, DP_ECANCELED, "the request body broke off");
    if (rc)
        dp_httpd_close_after(rq);
    else
        rc = dp_json_parse_object(fields, body.data ? body.data : "", body.len, DP_JSON_DEPTH_MAX,
                                  err);
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    dp_buf_clear(&body);
    return rc;
}

/* A body without a form: JSON when it starts like JSON, else the code itself (a zip, tar or
 * tar.gz never starts with '{'). Sniffed, because `curl --data-binary @app.zip` labels the
 * archive application/x-www-form-urlencoded. */
static dp_rc read_raw_or_json(json_t **fields, char *file, size_t fsize, struct dp_req *rq,
                              const char *spool_dir, struct dp_err *err)
{
    char *buf = malloc(SPOOL_BLOCK);
    int n, i = 0;
    dp_rc rc;

    if (!buf)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    dp_httpd_continue(rq);
    n = mg_read(rq->conn, buf, SPOOL_BLOCK);
    while (i < n && strchr(" \t\r\n", buf[i]))
        i++;
    if (n > 0 && i < n && buf[i] == '{') {
        rc = json_rest(fields, rq, buf, n, err);
    } else {
        *fields = json_object();
        rc = n > 0    ? spool_body(file, fsize, rq, spool_dir, buf, n, err)
             : n == 0 ? dp_err_setc(err, DP_EINVAL, "missing_code",
                                    "the body is empty: send the code (a zip or tar), a form, "
                                    "or JSON")
                      : dp_err_set(err, DP_ECANCELED, "the request body broke off");
    }
    free(buf);
    return rc;
}

static dp_rc read_form(json_t **fields, char *file, size_t fsize, struct dp_req *rq,
                       const char *spool_dir, struct dp_err *err)
{
    struct dp_multipart_opts o = {.content_type = mg_get_header(rq->conn, "Content-Type"),
                                  .read = body_read,
                                  .read_ud = rq,
                                  .file_field = "code",
                                  .spool_dir = spool_dir,
                                  .max_file = DP_CODE_MAX_BYTES};
    struct dp_multipart_result mp = {0};
    dp_rc rc;

    dp_httpd_continue(rq);
    rc = dp_multipart_read(&mp, &o, err);
    if (!rc) {
        *fields = json_incref(mp.fields);
        snprintf(file, fsize, "%.*s", (int)fsize - 1, mp.file_path); /* both PATH_MAX */
        mp.file_path[0] = '\0';                                      /* ours now */
        rc = form_shapes(*fields, err);
    }
    if (rc || !mp.drained)
        dp_httpd_close_after(rq); /* part of the body may be unread */
    dp_multipart_result_clear(&mp);
    return rc;
}

/* Reads the request's fields (and its file, for a form or a raw archive body) without holding
 * the file in memory. */
static dp_rc read_fields(json_t **fields, char *file, size_t fsize, struct dp_req *rq,
                         const char *spool_dir, bool raw_ok, struct dp_err *err)
{
    struct dp_buf body;
    dp_rc rc;

    *fields = NULL;
    file[0] = '\0';
    if (is_multipart(rq))
        return read_form(fields, file, fsize, rq, spool_dir, err);
    if (raw_ok)
        return read_raw_or_json(fields, file, fsize, rq, spool_dir, err);
    rc = dp_httpd_read_body(rq, &body, CODE_JSON_MAX, err);
    if (!rc)
        rc = dp_json_parse_object(fields, body.data ? body.data : "", body.len, DP_JSON_DEPTH_MAX,
                                  err);
    if (body.data) /* may hold base64 code and env values */
        OPENSSL_cleanse(body.data, body.len);
    dp_buf_clear(&body);
    return rc;
}

dp_rc ctl_intake_deploy(struct dp_deploy_req *out, struct dp_req *rq, struct ctl *c,
                        struct dp_err *err)
{
    char file[PATH_MAX];
    json_t *fields = NULL;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = read_fields(&fields, file, sizeof(file), rq, c->conf.spool_dir, false, err);
    if (!rc)
        rc = dp_deploy_req_parse(out, fields, err);
    if (!rc && out->source == DP_SRC_CODE)
        rc = prepare_code(out, fields, file[0] ? file : NULL, c, err);
    if (file[0])
        unlink(file); /* the spooled upload; the prepared tar is separate */
    if (rc && out->summary)
        dp_deploy_req_clear(out);
    if (fields) /* base64 code and env values were in it */
        json_decref(fields);
    return rc;
}

/* The agent at ip, as this controller knows it. */
static dp_rc upload_target(struct dp_agent_target *t, struct ctl *c, const char *ip,
                           struct dp_err *err)
{
    struct dp_server s;
    char key[DP_DERIVED_KEY_LEN + 1];
    dp_rc rc = dp_store_server_by_ip(c->store, ip, &s, NULL);

    if (rc)
        return dp_err_setc(err, DP_ENOTFOUND, "unknown_server",
                           "server %.40s is not one this controller knows", ip);
    rc = dp_key_derive(key, c->do_token, (unsigned long long)s.owner_id, err);
    if (!rc)
        dp_agent_target_init(t, ip, key, s.tls_pin);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

dp_rc ctl_intake_upload(json_t **out, struct dp_req *rq, struct ctl *c, struct dp_err *err)
{
    char ip[64] = "", path[DP_PATH_MAX + 1] = "", file[PATH_MAX] = "";
    struct dp_code_result res = {0};
    struct dp_code_opts o = {.spool_dir = c->conf.spool_dir, .port = 8080, .bases = &c->bases};
    struct dp_agent_target t;
    json_t *fields = NULL;
    int fd;
    dp_rc rc;

    *out = NULL;
    if (!dp_httpd_query(rq, "server_ip", ip, sizeof(ip)) ||
        !dp_httpd_query(rq, "path", path, sizeof(path)))
        rc = dp_err_setc(err, DP_EINVAL, "missing_field",
                         "give ?server_ip=ADDRESS&path=/app/NAME and the code as the body");
    else
        rc = upload_target(&t, c, ip, err);
    if (rc) {
        dp_httpd_close_after(rq); /* the body stays unread: never drain a large upload */
        return rc;
    }
    rc = read_fields(&fields, file, sizeof(file), rq, c->conf.spool_dir, true, err);
    json_decref(fields);
    if (!rc && !file[0])
        rc =
            dp_err_setc(err, DP_EINVAL, "no_code",
                        "send the code as the body (a tar or zip) or as a form's file part 'code'");
    o.file_path = file;
    o.max_bytes = (unsigned long long)c->conf.code_max_mb * 1024 * 1024;
    if (!rc)
        rc = dp_code_prepare(&res, &o, err);
    if (!rc && (fd = open(res.tar_path, O_RDONLY | O_CLOEXEC)) < 0)
        rc = dp_err_set(err, DP_EIO, "the prepared code could not be opened");
    else if (!rc) {
        rc = dp_agent_upload(&t, path, dp_httpd_query_flag(rq, "clean"), fd, out, err);
        close(fd);
    }
    if (file[0])
        unlink(file);
    dp_code_result_clear(&res);
    return rc;
}
