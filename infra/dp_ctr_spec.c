#include "dp_ctr_spec.h"

#include "dp_json.h"

#include <openssl/crypto.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MAX_SIZE  "10m" /* json-file rotation: size of one file */
#define LOG_MAX_FILES "3"

static bool charset_ok(const char *s, const char *extra)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    }
    return true;
}

bool dp_ctr_name_valid(const char *name)
{
    size_t n = strlen(name);

    return n >= 1 && n <= DP_NAME_MAX && isalnum((unsigned char)name[0]) && charset_ok(name, "_.-");
}

bool dp_image_ref_valid(const char *ref)
{
    size_t n = strlen(ref);

    /* Docker checks the grammar itself; we keep out what could confuse a URL or a query. */
    return n >= 1 && n <= DP_IMAGE_REF_MAX && isalnum((unsigned char)ref[0]) &&
           charset_ok(ref, "._-:/@") && !strstr(ref, "//") && !strstr(ref, "..") &&
           ref[n - 1] != '/' && ref[n - 1] != ':';
}

dp_rc dp_ctr_docker_name(char *out, size_t size, const char *namespace_, const char *name,
                         struct dp_err *err)
{
    int n;

    if (!dp_ctr_name_valid(name))
        return dp_err_setc(err, DP_EINVAL, "invalid_name",
                           "container name must be 1 to %d letters, digits, '_', '.' or '-', "
                           "starting with a letter or digit",
                           DP_NAME_MAX);
    if (namespace_ && *namespace_)
        n = snprintf(out, size, "%s_%s", namespace_, name);
    else
        n = snprintf(out, size, "%s", name);
    if (n < 0 || (size_t)n >= size)
        return dp_err_set(err, DP_ETOOBIG, "container name too long");
    return DP_OK;
}

/* "80", 80, "80/tcp", "53/udp" -> "80/tcp"-style key. */
static dp_rc port_key(char *out, size_t size, const json_t *v, const char *what, struct dp_err *err)
{
    char text[32], proto[8] = "tcp";
    char *slash, *end;
    long port;

    if (!dp_json_scalar_text(text, sizeof(text), v) || json_is_boolean(v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "%s must be a port number", what);
    slash = strchr(text, '/');
    if (slash) {
        *slash = '\0';
        if (strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "udp") != 0)
            return dp_err_setc(err, DP_EINVAL, "invalid_field", "%s: protocol must be tcp or udp",
                               what);
        snprintf(proto, sizeof(proto), "%s", slash + 1);
    }
    port = strtol(text, &end, 10);
    if (!text[0] || *end || port < 1 || port > 65535)
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "%s must be a port from 1 to 65535",
                           what);
    snprintf(out, size, "%ld/%s", port, proto);
    return DP_OK;
}

static dp_rc spec_ports(json_t *body, json_t *hc, const json_t *req, const char *publish_ip,
                        struct dp_err *err)
{
    json_t *ports, *exposed = json_object(), *bindings = json_object(), *v;
    const char *host;
    dp_rc rc = dp_json_get_flat_object(&ports, req, "ports", DP_PORTS_MAX, err);

    json_object_foreach(ports, host, v)
    {
        char hkey[32], ckey[32];
        json_t *hv = json_string(host), *list;

        rc = port_key(hkey, sizeof(hkey), hv, "a host port in 'ports'", err);
        json_decref(hv);
        if (!rc)
            rc = port_key(ckey, sizeof(ckey), v, "a container port in 'ports'", err);
        if (rc)
            break;
        *strchr(hkey, '/') = '\0';
        list = json_object_get(bindings, ckey);
        if (!list) {
            list = json_array();
            json_object_set_new(bindings, ckey, list);
        }
        json_array_append_new(list,
                              json_pack("{s:s, s:s}", "HostIp", publish_ip, "HostPort", hkey));
        json_object_set_new(exposed, ckey, json_object());
    }
    json_object_set_new(body, "ExposedPorts", exposed);
    json_object_set_new(hc, "PortBindings", bindings);
    return rc;
}

static bool env_key_ok(const char *k)
{
    return (isalpha((unsigned char)k[0]) || k[0] == '_') && strlen(k) <= DP_ENV_KEY_MAX &&
           charset_ok(k, "_.-");
}

/* One "KEY=value" entry for Docker's Env list. A refused name is not repeated in the error
 * (people write "API_KEY=secret" as a name by mistake): it is named by its position. Values
 * never reach an error message or a log. */
static dp_rc env_entry(json_t *list, const char *k, const json_t *v, char *val, size_t pos,
                       struct dp_err *err)
{
    char *kv;

    if (!env_key_ok(k))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "env name number %zu is not valid: use letters, digits, '_', '.' or "
                           "'-', starting with a letter or '_'",
                           pos);
    if (!dp_json_scalar_text(val, DP_ENV_VAL_MAX + 1, v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "env value of '%.64s' is longer than %d bytes", k, DP_ENV_VAL_MAX);
    if (asprintf(&kv, "%s=%s", k, val) < 0)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    json_array_append_new(list, json_string(kv));
    free(kv);
    return DP_OK;
}

static dp_rc spec_env(json_t *body, const json_t *req, struct dp_err *err)
{
    json_t *env, *list = json_array(), *v;
    const char *k;
    size_t pos = 0;
    dp_rc rc = dp_json_get_flat_object(&env, req, "env", DP_ENV_MAX, err);
    char *val = malloc(DP_ENV_VAL_MAX + 1);

    if (!val)
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    json_object_foreach(env, k, v)
    {
        if (rc)
            break;
        rc = env_entry(list, k, v, val, ++pos, err);
    }
    if (val)
        OPENSSL_cleanse(val, DP_ENV_VAL_MAX + 1);
    free(val);
    json_object_set_new(body, "Env", list);
    return rc;
}

static dp_rc spec_labels(json_t *labels, const json_t *req, struct dp_err *err)
{
    static const char *const own[][2] = {{"app", DP_LABEL_APP},
                                         {"deployment_id", DP_LABEL_DEPLOYMENT},
                                         {"version", DP_LABEL_VERSION},
                                         {"source", DP_LABEL_SOURCE}};
    char text[DP_LABEL_VAL_MAX + 1];
    json_t *user, *v;
    const char *k;
    dp_rc rc = dp_json_get_flat_object(&user, req, "labels", DP_LABELS_MAX, err);

    json_object_foreach(user, k, v)
    {
        if (rc)
            break;
        if (strncmp(k, "dp.", 3) == 0 || strlen(k) > DP_LABEL_KEY_MAX || !*k)
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field",
                             "label '%.64s' is reserved or too long", k);
        else if (!dp_json_scalar_text(text, sizeof(text), v))
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field", "label '%.64s' is too long", k);
        else
            json_object_set_new(labels, k, json_string(text));
    }
    for (size_t i = 0; rc == DP_OK && i < sizeof(own) / sizeof(own[0]); i++) {
        const char *s;

        rc = dp_json_get_str(&s, req, own[i][0], false, DP_LABEL_VAL_MAX, err);
        if (rc == DP_OK && s)
            json_object_set_new(labels, own[i][1], json_string(s));
    }
    return rc;
}

static dp_rc spec_command(json_t *body, const json_t *req, struct dp_err *err)
{
    json_t *cmd;
    dp_rc rc = dp_json_get_str_array(&cmd, req, "command", DP_CMD_ARGS_MAX, DP_CMD_ARG_MAX, err);

    if (rc == DP_OK && cmd && json_array_size(cmd) > 0)
        json_object_set(body, "Cmd", cmd);
    return rc;
}

static dp_rc spec_restart(json_t *hc, const json_t *req, struct dp_err *err)
{
    static const char *const ok[] = {"no", "always", "unless-stopped", "on-failure"};
    const char *r;
    dp_rc rc = dp_json_get_str(&r, req, "restart", false, 32, err);

    if (rc)
        return rc;
    if (!r)
        r = "unless-stopped";
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (strcmp(r, ok[i]) == 0) {
            json_object_set_new(hc, "RestartPolicy",
                                json_pack("{s:s}", "Name", strcmp(r, "no") ? r : ""));
            return DP_OK;
        }
    }
    return dp_err_setc(err, DP_EINVAL, "invalid_field",
                       "restart must be no, always, unless-stopped or on-failure");
}

static dp_rc spec_limits(json_t *hc, const json_t *req, struct dp_err *err)
{
    long long mem_mb;
    double cpus;
    bool init;
    dp_rc rc = dp_json_get_int(&mem_mb, req, "memory_mb", 6, 1024LL * 1024, 0, err);

    if (!rc)
        rc = dp_json_get_num(&cpus, req, "cpus", 0.01, 1024, 0, err);
    if (!rc)
        rc = dp_json_get_bool(&init, req, "init", true, err);
    if (rc)
        return rc;
    /* An init as PID 1 forwards SIGTERM and reaps zombies: apps stop in time, not at SIGKILL. */
    json_object_set_new(hc, "Init", json_boolean(init));
    if (mem_mb)
        json_object_set_new(hc, "Memory", json_integer(mem_mb * 1024 * 1024));
    if (cpus > 0)
        json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(cpus * 1e9)));
    return DP_OK;
}

/* Named volumes only, scoped to the namespace; never a host path. */
static dp_rc spec_volumes(json_t *hc, const json_t *req, const char *ns, struct dp_err *err)
{
    json_t *vols, *mounts = json_array(), *v;
    const char *k;
    dp_rc rc = dp_json_get_flat_object(&vols, req, "volumes", 16, err);

    json_object_foreach(vols, k, v)
    {
        char vname[DP_NAME_MAX * 2 + 2];
        const char *target = json_string_value(v);

        if (rc)
            break;
        rc = dp_ctr_docker_name(vname, sizeof(vname), ns, k, err);
        if (rc)
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field",
                             "volume name '%.64s' must be letters, digits, '_', '.' or '-'", k);
        else if (!target || target[0] != '/' || strlen(target) > DP_PATH_MAX)
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field",
                             "volume '%.64s' must map to an absolute path in the container", k);
        else
            json_array_append_new(mounts, json_pack("{s:s, s:s, s:s}", "Type", "volume", "Source",
                                                    vname, "Target", target));
    }
    json_object_set_new(hc, "Mounts", mounts);
    return rc;
}

/* The rules no request can change. */
static json_t *host_config_base(void)
{
    return json_pack("{s:s, s:b, s:[s], s:{s:s, s:{s:s, s:s}}}", "NetworkMode", "bridge",
                     "Privileged", 0, "SecurityOpt", "no-new-privileges", "LogConfig", "Type",
                     "json-file", "Config", "max-size", LOG_MAX_SIZE, "max-file", LOG_MAX_FILES);
}

static dp_rc spec_names(struct dp_ctr_spec *out, const json_t *req, struct dp_err *err)
{
    const char *name, *image;
    dp_rc rc = dp_json_get_str(&name, req, "name", true, DP_NAME_MAX, err);

    if (!rc)
        rc = dp_json_get_str(&image, req, "image", true, DP_IMAGE_REF_MAX, err);
    if (!rc)
        rc = dp_json_get_bool(&out->replace, req, "replace", false, err);
    if (rc)
        return rc;
    if (!dp_ctr_name_valid(name))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "name must be 1 to %d letters, digits, '_', '.' or '-'", DP_NAME_MAX);
    if (!dp_image_ref_valid(image))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "image '%.80s' is not a valid reference", image);
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->image, sizeof(out->image), "%s", image);
    return DP_OK;
}

dp_rc dp_ctr_spec_parse(struct dp_ctr_spec *out, const json_t *req, const struct dp_ctr_place *pl,
                        struct dp_err *err)
{
    json_t *body = NULL, *hc = NULL, *labels = NULL;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = spec_names(out, req, err);
    if (rc)
        return rc;
    body = json_pack("{s:s, s:b}", "Image", out->image, "Tty", 0);
    hc = host_config_base();
    labels = json_pack("{s:s, s:s, s:s, s:s}", DP_LABEL_MANAGED, "1", DP_LABEL_NAMESPACE,
                       pl->namespace_, DP_LABEL_NAME, out->name, DP_LABEL_APP, out->name);
    if (!body || !hc || !labels)
        rc = dp_err_set(err, DP_ENOMEM, "out of memory");
    if (!rc)
        rc = spec_ports(body, hc, req, pl->publish_ip, err);
    if (!rc)
        rc = spec_env(body, req, err);
    if (!rc)
        rc = spec_labels(labels, req, err);
    if (!rc)
        rc = spec_command(body, req, err);
    if (!rc)
        rc = spec_restart(hc, req, err);
    if (!rc)
        rc = spec_limits(hc, req, err);
    if (!rc)
        rc = spec_volumes(hc, req, pl->namespace_, err);
    if (!rc) {
        json_object_set(body, "Labels", labels);
        json_object_set(body, "HostConfig", hc);
        out->create_body = body;
        body = NULL; /* out owns it */
    }
    json_decref(body);
    json_decref(hc);
    json_decref(labels);
    return rc;
}

void dp_ctr_spec_clear(struct dp_ctr_spec *s)
{
    json_decref(s->create_body);
    s->create_body = NULL;
}
