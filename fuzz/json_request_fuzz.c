/* A JSON request as the agent reads one: parsed with the agent's limits, turned into a
 * container spec, and its "path" field normalised. Checks that an env value never shows in
 * a refusal and that a normalised path keeps its promises. */
#include "fuzz.h"

#include "dp_ctr_spec.h"
#include "dp_json.h"
#include "dp_path.h"

#include <stdlib.h>
#include <string.h>

#define SECRET_MIN 6 /* shorter env values can show up in a message by chance */

/* True when v occurs in a string or key of node other than the env values themselves. */
static bool occurs_elsewhere(const json_t *node, const char *v, const json_t *env)
{
    const char *k;
    json_t *item;
    size_t i;

    if (json_is_string(node))
        return strstr(json_string_value(node), v) != NULL;
    if (json_is_array(node)) {
        json_array_foreach(node, i, item)
        {
            if (occurs_elsewhere(item, v, env))
                return true;
        }
        return false;
    }
    if (!json_is_object(node))
        return false;
    json_object_foreach((json_t *)node, k, item)
    {
        if (strstr(k, v) || (node != env && occurs_elsewhere(item, v, env)))
            return true;
    }
    return false;
}

/* True when the refusal of req with env[key] set to another value of the same length still
 * carries v: then v comes from the message's own words (e.g. "always" in the restart error),
 * not from the env value. A substitute that changes which error it is proves nothing. */
static bool in_fixed_text(const json_t *req, const char *key, const char *v, const char *code)
{
    static const struct dp_ctr_place pl = {"fz", "127.0.0.1"};
    json_t *copy = json_deep_copy(req);
    char *other = strdup(v);
    struct dp_ctr_spec spec;
    struct dp_err err = {0};
    bool fixed = false;

    for (char *c = other; c && *c; c++)
        *c = *c == 'q' ? 'Q' : 'q'; /* same length, and never v's own letters in place */
    if (copy && other &&
        json_object_set_new(json_object_get(copy, "env"), key, json_string(other)) == 0) {
        if (dp_ctr_spec_parse(&spec, copy, &pl, &err) == DP_OK)
            dp_ctr_spec_clear(&spec);
        else
            fixed = strcmp(err.code, code) == 0 && strstr(err.msg, v) != NULL;
    }
    free(other);
    json_decref(copy);
    return fixed;
}

static void env_values_stay_out(const json_t *req, const struct dp_err *e)
{
    const char *msg = e->msg;
    const json_t *env = json_object_get(req, "env");
    const char *k;
    json_t *v;

    if (!json_is_object(env))
        return;
    json_object_foreach((json_t *)env, k, v)
    {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;

        if (s && strlen(s) >= SECRET_MIN && strstr(msg, s) && !occurs_elsewhere(req, s, env) &&
            !in_fixed_text(req, k, s, e->code))
            abort();
    }
}

static void path_promises(const json_t *req)
{
    char norm[DP_PATH_MAX + 1], abs[DP_PATH_MAX + 64];
    struct dp_err err = {0};
    const char *p;

    if (dp_json_get_str(&p, req, "path", false, (size_t)2 * DP_PATH_MAX, &err) != DP_OK || !p)
        return;
    if (dp_path_normalize(norm, sizeof(norm), p, &err) != DP_OK)
        return;
    if (norm[0] != '/' || strstr(norm, "//") || strstr(norm, "/.") || strstr(norm, "/-") ||
        norm[strlen(norm) - 1] == '/')
        abort();
    if (dp_path_under_root(abs, sizeof(abs), "/data", norm, &err) != DP_OK ||
        strncmp(abs, "/data/", 6) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct dp_ctr_place pl = {"fz", "127.0.0.1"};
    struct dp_ctr_spec spec;
    struct dp_err err = {0};
    json_t *req = NULL;

    if (dp_json_parse_object(&req, (const char *)data, size, DP_JSON_DEPTH_MAX, &err) != DP_OK)
        return 0;
    if (dp_ctr_spec_parse(&spec, req, &pl, &err) == DP_OK) {
        free(dp_json_dump(spec.create_body));
        dp_ctr_spec_clear(&spec);
    } else {
        env_values_stay_out(req, &err);
    }
    path_promises(req);
    json_decref(req);
    return 0;
}
