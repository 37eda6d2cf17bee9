/* What a bake is asked with: the API's request bodies, lists the CLI splits, and the agent
 * package's checksum (from the controller's package folder, or fetched beside its URL). */
#include "dp_snapshot_req.h"

#include "dp_json.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHA256_FILE_MAX 4096 /* a .sha256 file or answer, bytes */

bool dp_snapshot_region_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n > 0 && n <= 16 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

bool dp_snapshot_package_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    /* Debian policy 5.6.1: lowercase letters, digits, + - . ; at least two; starts alnum. */
    return n >= 2 && n <= DP_SNAPSHOT_PACKAGE_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+-.") == n &&
           strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]);
}

static dp_rc str_list(const char **out, size_t *n, size_t cap, const json_t *body, const char *key,
                      bool (*ok)(const char *), struct dp_err *err)
{
    json_t *arr = NULL, *v;
    size_t i;
    dp_rc rc = dp_json_get_str_array(&arr, body, key, cap, DP_SNAPSHOT_PACKAGE_MAX, err);

    *n = 0;
    json_array_foreach(arr, i, v)
    {
        if (rc == DP_OK && !ok(json_string_value(v)))
            rc = dp_err_setc(err, DP_EINVAL, "invalid_field", "%s[%zu] \"%.60s\" is not valid", key,
                             i, json_string_value(v));
        if (rc == DP_OK)
            out[(*n)++] = json_string_value(v);
    }
    return rc;
}

static dp_rc from_field(struct dp_snapshot_req *out, const json_t *body, struct dp_err *err)
{
    const json_t *v = json_object_get(body, "from_snapshot_id");
    const char *s = json_string_value(v);

    if (json_is_integer(v) && json_integer_value(v) > 0) {
        snprintf(out->from, sizeof(out->from), "%lld", (long long)json_integer_value(v));
        return DP_OK;
    }
    if (!s || !*s || strlen(s) > DP_SNAPSHOT_NAME_MAX || strchr(s, '/') || strchr(s, '?'))
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "from_snapshot_id must be a snapshot's id (a number) or name");
    snprintf(out->from, sizeof(out->from), "%s", s);
    return DP_OK;
}

dp_rc dp_snapshot_req_parse(struct dp_snapshot_req *out, const json_t *body,
                            enum dp_snapshot_kind kind, struct dp_err *err)
{
    struct dp_snapshot_opts *o = &out->opts;
    dp_rc rc;

    memset(out, 0, sizeof(*out));
    o->kind = kind;
    rc = str_list(out->regions, &o->nregions, DP_SNAPSHOT_REGIONS_MAX, body, "regions",
                  dp_snapshot_region_ok, err);
    o->regions = out->regions;
    if (!rc)
        rc = dp_json_get_str(&o->region, body, "region", false, 16, err);
    if (!rc && o->region && !dp_snapshot_region_ok(o->region))
        rc = dp_err_setc(err, DP_EINVAL, "invalid_field", "region must be a region slug");
    if (!rc)
        rc = dp_json_get_str(&o->size, body, "size", false, 63, err);
    if (rc || kind == DP_SNAPSHOT_BASE)
        return rc;
    rc = from_field(out, body, err);
    o->from = out->from;
    if (!rc)
        rc = dp_json_get_str(&o->name, body, "name", false, DP_SNAPSHOT_CUSTOM_MAX, err);
    if (!rc)
        rc = str_list(out->packages, &o->npackages, DP_SNAPSHOT_PACKAGES_MAX, body, "packages",
                      dp_snapshot_package_ok, err);
    o->packages = out->packages;
    if (!rc && o->npackages == 0)
        rc = dp_err_setc(err, DP_EINVAL, "invalid_field",
                         "packages must name at least one Debian package");
    return rc;
}

size_t dp_snapshot_split(char *list, const char **out, size_t cap)
{
    size_t n = 0;

    for (char *save = NULL, *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (n == cap)
            return cap + 1;
        out[n++] = t;
    }
    return n;
}

/* The first 64 hex digits of text (a sha256sum line), lowercased, into out[65]. */
static dp_rc sha_from_text(char *out, const char *text, size_t len, const char *where,
                           struct dp_err *err)
{
    if (len < 64 || strspn(text, "0123456789abcdefABCDEF") < 64 ||
        (len > 64 && text[64] != ' ' && text[64] != '\n' && text[64] != '\t'))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_sha256",
                           "%.200s does not start with a SHA-256 (64 hex digits)", where);
    for (size_t i = 0; i < 64; i++)
        out[i] = (char)(text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]);
    out[64] = '\0';
    return DP_OK;
}

dp_rc dp_snapshot_sha256_file(char *out, const char *path, struct dp_err *err)
{
    char buf[SHA256_FILE_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return dp_err_setc(err, DP_EUNAVAIL, "no_agent_package",
                           "the agent package's checksum %.200s cannot be read: %s", path,
                           strerror(errno));
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return dp_err_setc(err, DP_EIO, "io_error", "reading %.200s: %s", path, strerror(errno));
    buf[n] = '\0';
    return sha_from_text(out, buf, (size_t)n, path, err);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct dp_buf *b = ud;

    return dp_buf_append(b, p, size * nmemb) ? 0 : size * nmemb;
}

dp_rc dp_snapshot_sha256_url(char *out, const char *url, struct dp_err *err)
{
    struct dp_buf body;
    CURL *curl = curl_easy_init();
    long status = 0;
    CURLcode cc;
    dp_rc rc;

    if (!curl)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    dp_buf_init(&body, SHA256_FILE_MAX);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (cc != CURLE_OK)
        rc = dp_err_setc(err, DP_EUNAVAIL, "agent_package_unreachable", "%.200s: %s", url,
                         curl_easy_strerror(cc));
    else if (status != 200)
        rc = dp_err_setc(err, DP_EUNAVAIL, "no_agent_package", "%.200s answered %ld", url, status);
    else
        rc = sha_from_text(out, body.data ? body.data : "", body.len, url, err);
    dp_buf_clear(&body);
    return rc;
}
