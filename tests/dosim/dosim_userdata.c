#include "dosim_userdata.h"

#include "dosim_limits.h"
#include "dosim_tree.h"
#include "dosim_yaml.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MODE 0644

/* Base64 as write_files' "b64" encoding: whitespace ignored. *out is the caller's. */
static bool b64_decode(unsigned char **out, size_t *len, const char *in)
{
    size_t n = strlen(in), k = 0, pad = 0;
    char *clean = malloc(n + 1);
    int got;

    *out = NULL;
    if (!clean)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!strchr(" \t\r\n", in[i]))
            clean[k++] = in[i];
    }
    clean[k] = '\0';
    while (pad < k && pad < 2 && clean[k - 1 - pad] == '=')
        pad++;
    *out = malloc(k / 4 * 3 + 3);
    got = *out && k % 4 == 0 ? EVP_DecodeBlock(*out, (unsigned char *)clean, (int)k) : -1;
    free(clean);
    if (got < 0) {
        free(*out);
        *out = NULL;
        return false;
    }
    *len = (size_t)got - pad;
    return true;
}

static bool parse_mode(mode_t *mode, const json_t *v)
{
    const char *s = json_string_value(v);
    char *end;
    long m;

    if (!v || json_is_null(v)) {
        *mode = DEFAULT_MODE;
        return true;
    }
    if (!s)
        return false;
    m = strtol(s, &end, 8);
    if (!*s || *end || m < 0 || m > 07777)
        return false;
    *mode = (mode_t)m;
    return true;
}

/* The bytes to write for one write_files entry; *data is the caller's (free it). */
static bool entry_content(struct dosim_ci *ci, const json_t *e, const char *path,
                          unsigned char **data, size_t *len)
{
    const char *content = json_string_value(json_object_get(e, "content"));
    const char *enc = json_string_value(json_object_get(e, "encoding"));

    content = content ? content : "";
    if (!enc || !strcasecmp(enc, "text/plain")) {
        *data = (unsigned char *)strdup(content);
        *len = strlen(content);
        return *data != NULL;
    }
    if (!strcasecmp(enc, "b64") || !strcasecmp(enc, "base64")) {
        if (b64_decode(data, len, content))
            return true;
        dosim_ci_log(ci, "dosim: write_files: %s: content is not valid base64; skipped", path);
        return false;
    }
    dosim_ci_log(ci, "dosim: write_files: %s: encoding '%.32s' is not simulated; skipped", path,
                 enc);
    return false;
}

static void write_one(struct dosim_ci *ci, const json_t *e)
{
    const char *path = json_string_value(json_object_get(e, "path"));
    char rel[DOSIM_PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    mode_t mode;
    bool append = dosim_yaml_true(json_object_get(e, "append"));
    struct dp_err err = {0};

    if (!json_is_object(e) || !path) {
        dosim_ci_log(ci, "dosim: write_files: an entry without a path; skipped");
        return;
    }
    if (dosim_tree_rel(rel, sizeof(rel), path, &err) ||
        !parse_mode(&mode, json_object_get(e, "permissions"))) {
        dosim_ci_log(ci, "dosim: write_files: %.200s: %s; skipped", path,
                     err.rc ? err.msg : "permissions are not an octal mode");
        ci->failed++;
        return;
    }
    if (!entry_content(ci, e, path, &data, &len)) {
        ci->failed++;
        return;
    }
    if (dosim_tree_write(ci->root_fd, rel, data, len, mode, append, &err)) {
        dosim_ci_log(ci, "dosim: write_files: %s", err.msg);
        ci->failed++;
    } else {
        dosim_ci_log(ci, "dosim: write_files: %s %s (%04o, %zu bytes)",
                     append ? "appended to" : "wrote", path, (unsigned)mode, len);
    }
    free(data);
}

static void write_files(struct dosim_ci *ci, const json_t *files)
{
    size_t i;
    const json_t *e;

    if (!json_is_array(files)) {
        dosim_ci_log(ci, "dosim: write_files is not a list; skipped");
        return;
    }
    json_array_foreach(files, i, e)
    {
        if (i >= DOSIM_WRITES_MAX) {
            dosim_ci_log(ci, "dosim: write_files: more than %d entries; the rest skipped",
                         DOSIM_WRITES_MAX);
            break;
        }
        write_one(ci, e);
    }
}

static void runcmd(struct dosim_ci *ci, const json_t *cmds)
{
    size_t i;
    const json_t *e;

    if (!json_is_array(cmds)) {
        dosim_ci_log(ci, "dosim: runcmd is not a list; skipped");
        return;
    }
    json_array_foreach(cmds, i, e)
    {
        if (i >= DOSIM_RUNCMD_MAX) {
            dosim_ci_log(ci, "dosim: runcmd: more than %d entries; the rest skipped",
                         DOSIM_RUNCMD_MAX);
            break;
        }
        dosim_runcmd_entry(ci, e);
    }
}

/* packages: named in the log (apt cannot run here), never an error. */
static void log_packages(struct dosim_ci *ci, const json_t *pkgs)
{
    char names[1024];
    size_t i, n = 0;
    const json_t *p;

    names[0] = '\0';
    json_array_foreach(pkgs, i, p)
    {
        const char *name =
            json_is_string(p) ? json_string_value(p) : json_string_value(json_array_get(p, 0));

        if (n < sizeof(names) - 1)
            n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%.64s", i ? " " : "",
                                  name ? name : "?");
    }
    dosim_ci_log(ci, "dosim: packages not installed (not simulated; apt cannot run here): %s%s",
                 names, n >= sizeof(names) - 1 ? "..." : "");
}

static void cloud_config(struct dosim_ci *ci, const char *text)
{
    json_t *doc = NULL;
    struct dp_err err = {0};
    const char *key;
    json_t *v;

    if (dosim_yaml_load(&doc, text, strlen(text), &err) || !json_is_object(doc)) {
        dosim_ci_log(ci, "dosim: #cloud-config is not a YAML mapping (%s); nothing run",
                     err.rc ? err.msg : "other type");
        json_decref(doc);
        ci->unit(ci->ud, "boot", ci->log);
        return;
    }
    json_object_foreach(doc, key, v)
    {
        if (strcmp(key, "packages") == 0 && json_is_array(v))
            log_packages(ci, v);
        else if (strcmp(key, "write_files") != 0 && strcmp(key, "runcmd") != 0)
            dosim_ci_log(ci, "dosim: cloud-config '%.64s' is not simulated; skipped", key);
    }
    if (json_object_get(doc, "write_files"))
        write_files(ci, json_object_get(doc, "write_files"));
    ci->unit(ci->ud, "boot", ci->log);
    if (json_object_get(doc, "runcmd"))
        runcmd(ci, json_object_get(doc, "runcmd"));
    json_decref(doc);
}

/* #!/bin/sh script: each line is a runcmd string; "-e" on the #! line means set -e. */
static void script(struct dosim_ci *ci, const char *text)
{
    char *copy = strdup(text), *save = NULL, *line;

    ci->unit(ci->ud, "boot", ci->log);
    if (!copy)
        return;
    line = strtok_r(copy, "\n", &save);
    ci->errexit = line && strstr(line, " -e") != NULL;
    while ((line = strtok_r(NULL, "\n", &save)) && !ci->ended) {
        size_t n = strlen(line);

        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        dosim_runcmd_line(ci, line);
    }
    free(copy);
}

void dosim_userdata_run(struct dosim_ci *ci, const char *user_data)
{
    if (!user_data || !*user_data) {
        dosim_ci_log(ci, "dosim: no user-data");
        ci->unit(ci->ud, "boot", ci->log);
    } else if (strncmp(user_data, "#cloud-config", 13) == 0) {
        cloud_config(ci, user_data);
    } else if (strncmp(user_data, "#!", 2) == 0) {
        script(ci, user_data);
    } else {
        dosim_ci_log(ci, "dosim: user-data is neither #cloud-config nor a #! script; ignored "
                         "(cloud-init would log an unhandled part)");
        ci->unit(ci->ud, "boot", ci->log);
    }
}
