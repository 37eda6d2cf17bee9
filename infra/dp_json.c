#include "dp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dp_json_depth(const char *buf, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];

        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return -1;
            if (depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

dp_rc dp_json_parse_object(json_t **out, const char *buf, size_t len, int max_depth,
                           struct dp_err *err)
{
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    if (len == 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_json", "request body is empty");
    if (dp_json_depth(buf, len, max_depth) < 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_json", "JSON nested deeper than %d levels",
                           max_depth);
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson quotes the offending input ("... near 'ghp_x'"): that can be a token. */
        char *near = strstr(jerr.text, " near ");

        if (near)
            *near = '\0';
        return dp_err_setc(err, DP_EINVAL, "invalid_json",
                           "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                           jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return dp_err_setc(err, DP_EINVAL, "invalid_json", "the body must be a JSON object");
    }
    *out = root;
    return DP_OK;
}

dp_rc dp_json_get_str(const char **out, const json_t *obj, const char *key, bool required,
                      size_t max_len, struct dp_err *err)
{
    const json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return dp_err_setc(err, DP_EINVAL, "missing_field", "field '%s' is required", key);
        return DP_OK;
    }
    if (!json_is_string(v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be a string", key);
    if (json_string_length(v) > max_len)
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' is longer than %zu bytes",
                           key, max_len);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' contains a NUL byte", key);
    if (required && json_string_length(v) == 0)
        return dp_err_setc(err, DP_EINVAL, "missing_field", "field '%s' must not be empty", key);
    *out = json_string_value(v);
    return DP_OK;
}

static bool parse_decimal(long long *out, const char *s)
{
    char *end;
    long long v;

    if (!*s || strlen(s) > 20)
        return false;
    v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

dp_rc dp_json_get_int(long long *out, const json_t *obj, const char *key, long long min,
                      long long max, long long def, struct dp_err *err)
{
    const json_t *v = json_object_get(obj, key);
    long long n;

    *out = def;
    if (!v || json_is_null(v))
        return DP_OK;
    if (json_is_integer(v))
        n = (long long)json_integer_value(v);
    else if (!json_is_string(v) || !parse_decimal(&n, json_string_value(v)))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be an integer", key);
    if (n < min || n > max)
        return dp_err_setc(err, DP_EINVAL, "invalid_field",
                           "field '%s' must be between %lld and %lld", key, min, max);
    *out = n;
    return DP_OK;
}

dp_rc dp_json_get_num(double *out, const json_t *obj, const char *key, double min, double max,
                      double def, struct dp_err *err)
{
    const json_t *v = json_object_get(obj, key);
    double d;

    *out = def;
    if (!v || json_is_null(v))
        return DP_OK;
    if (!json_is_number(v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be a number", key);
    d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max)
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be between %g and %g",
                           key, min, max);
    *out = d;
    return DP_OK;
}

dp_rc dp_json_get_bool(bool *out, const json_t *obj, const char *key, bool def, struct dp_err *err)
{
    const json_t *v = json_object_get(obj, key);

    *out = def;
    if (!v || json_is_null(v))
        return DP_OK;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return DP_OK;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = json_integer_value(v) == 1;
        return DP_OK;
    }
    return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be true or false", key);
}

dp_rc dp_json_get_flat_object(json_t **out, const json_t *obj, const char *key, size_t max_keys,
                              struct dp_err *err)
{
    json_t *v = json_object_get(obj, key);
    const char *k;
    json_t *item;

    *out = NULL;
    if (!v || json_is_null(v))
        return DP_OK;
    if (!json_is_object(v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be an object", key);
    if (json_object_size(v) > max_keys)
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' has more than %zu keys",
                           key, max_keys);
    json_object_foreach(v, k, item)
    {
        if (!json_is_string(item) && !json_is_number(item) && !json_is_boolean(item))
            return dp_err_setc(err, DP_EINVAL, "invalid_field",
                               "field '%s' must map names to strings or numbers", key);
    }
    *out = v;
    return DP_OK;
}

dp_rc dp_json_get_str_array(json_t **out, const json_t *obj, const char *key, size_t max_items,
                            size_t max_len, struct dp_err *err)
{
    json_t *v = json_object_get(obj, key);
    size_t i;
    json_t *item;

    *out = NULL;
    if (!v || json_is_null(v))
        return DP_OK;
    if (!json_is_array(v))
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' must be an array", key);
    if (json_array_size(v) > max_items)
        return dp_err_setc(err, DP_EINVAL, "invalid_field", "field '%s' has more than %zu items",
                           key, max_items);
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) > max_len ||
            strlen(json_string_value(item)) != json_string_length(item))
            return dp_err_setc(err, DP_EINVAL, "invalid_field",
                               "field '%s' must hold strings of at most %zu bytes", key, max_len);
    }
    *out = v;
    return DP_OK;
}

bool dp_json_scalar_text(char *buf, size_t size, const json_t *v)
{
    int n;

    if (json_is_string(v))
        n = snprintf(buf, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        n = snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        n = snprintf(buf, size, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        n = snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    return n >= 0 && (size_t)n < size;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

json_t *dp_json_string_lossy(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *clean;
    size_t o = 0;
    json_t *j;

    if (len > (size_t)-1 / 3)
        return NULL;
    clean = malloc(len * 3 + 1);
    if (!clean)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t n = u[i] ? utf8_seq_len(u + i, len - i) : 0;

        if (n == 0) { /* U+FFFD */
            clean[o++] = '\xef';
            clean[o++] = '\xbf';
            clean[o++] = '\xbd';
            i++;
            continue;
        }
        memcpy(clean + o, s + i, n);
        o += n;
        i += n;
    }
    j = json_stringn(clean, o);
    free(clean);
    return j;
}

char *dp_json_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
