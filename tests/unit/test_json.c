/* Request JSON: bounded parsing, typed getters, and the container spec built from a
 * /containers/run request (the platform's safety rules, every refusal, env values kept out of
 * every message). */
#include "dp_ctr_spec.h"
#include "dp_json.h"
#include "th.h"

#include <stdlib.h>

#define SECRET "s3cr3t-hunter2"

static json_t *parse(const char *text, dp_rc want, struct dp_err *err)
{
    json_t *o = NULL;

    dp_err_clear(err);
    TH_EQ_INT(dp_json_parse_object(&o, text, strlen(text), DP_JSON_DEPTH_MAX, err), want);
    TH_CHECK(want == DP_OK ? o != NULL : o == NULL);
    if (want != DP_OK)
        TH_EQ_STR(err->code, "invalid_json");
    return o;
}

static void parse_refuses_bad_bodies(void)
{
    struct dp_err err;
    char deep[200];

    json_decref(parse("{\"a\":1}", DP_OK, &err));
    json_decref(parse("  {}  ", DP_OK, &err));
    parse("", DP_EINVAL, &err);
    TH_CHECK(strstr(err.msg, "empty") != NULL);
    parse("{\"a\":", DP_EINVAL, &err);
    TH_CHECK(strstr(err.msg, "line 1") != NULL);
    parse("{\"a\":1}{", DP_EINVAL, &err);
    parse("{'a':1}", DP_EINVAL, &err);
    parse("{\"a\":1,\"a\":2}", DP_EINVAL, &err);     /* duplicate keys */
    parse("{\"a\":\"x\\u0000y\"}", DP_EINVAL, &err); /* NUL inside a string */
    parse("[1,2]", DP_EINVAL, &err);
    TH_CHECK(strstr(err.msg, "object") != NULL);
    parse("\"str\"", DP_EINVAL, &err);
    parse("42", DP_EINVAL, &err);
    parse("null", DP_EINVAL, &err);
    memset(deep, '[', sizeof(deep) - 1);
    deep[0] = '{';
    deep[1] = '"';
    deep[2] = 'a';
    deep[3] = '"';
    deep[4] = ':';
    deep[sizeof(deep) - 1] = '\0';
    parse(deep, DP_EINVAL, &err);
    TH_CHECK(strstr(err.msg, "deeper") != NULL);
}

static void parse_needs_no_nul(void)
{
    const char text[] = {'{', '"', 'a', '"', ':', '1', '}', 'x'};
    json_t *o = NULL;
    struct dp_err err = {0};

    TH_EQ_INT(dp_json_parse_object(&o, text, 7, 8, &err), DP_OK);
    json_decref(o);
}

static void depth_counts_outside_strings(void)
{
    static const char s[] = "{\"a\":\"[[[[{{{{\",\"b\":[[1]]}";

    TH_EQ_INT(dp_json_depth(s, strlen(s), 10), 3);
    TH_EQ_INT(dp_json_depth(s, strlen(s), 2), -1);
    TH_EQ_INT(dp_json_depth("\"\\\"[[[\"", 7, 1), 0);
}

static void getters_report_type_errors(void)
{
    struct dp_err err;
    json_t *o = parse("{\"s\":\"x\",\"n\":5,\"f\":1.5,\"b\":true,\"q\":\"12\",\"z\":null,"
                      "\"e\":\"\",\"o\":{\"k\":1},\"a\":[\"p\"]}",
                      DP_OK, &err);
    const char *s;
    long long n;
    double d;
    bool b;
    json_t *j;

    TH_EQ_INT(dp_json_get_str(&s, o, "s", true, 10, &err), DP_OK);
    TH_EQ_STR(s, "x");
    TH_EQ_INT(dp_json_get_str(&s, o, "n", false, 10, &err), DP_EINVAL);
    TH_EQ_STR(err.msg, "field 'n' must be a string");
    TH_EQ_INT(dp_json_get_str(&s, o, "missing", true, 10, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "missing_field");
    TH_EQ_INT(dp_json_get_str(&s, o, "z", false, 10, &err), DP_OK);
    TH_CHECK(s == NULL);
    TH_EQ_INT(dp_json_get_str(&s, o, "e", true, 10, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_str(&s, o, "s", true, 0, &err), DP_EINVAL);
    json_object_set_new(o, "nul", json_stringn("a\0b", 3)); /* the parser refuses \u0000 */
    TH_EQ_INT(dp_json_get_str(&s, o, "nul", true, 10, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "NUL") != NULL);

    TH_EQ_INT(dp_json_get_int(&n, o, "n", 0, 10, 0, &err), DP_OK);
    TH_EQ_INT(n, 5);
    TH_EQ_INT(dp_json_get_int(&n, o, "q", 0, 100, 0, &err), DP_OK); /* quoted numbers */
    TH_EQ_INT(n, 12);
    TH_EQ_INT(dp_json_get_int(&n, o, "missing", 0, 10, 7, &err), DP_OK);
    TH_EQ_INT(n, 7);
    TH_EQ_INT(dp_json_get_int(&n, o, "n", 6, 10, 0, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "between 6 and 10") != NULL);
    TH_EQ_INT(dp_json_get_int(&n, o, "f", 0, 10, 0, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_int(&n, o, "s", 0, 10, 0, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_int(&n, o, "b", 0, 10, 0, &err), DP_EINVAL);

    TH_EQ_INT(dp_json_get_num(&d, o, "f", 0, 2, 0, &err), DP_OK);
    TH_CHECK(d == 1.5);
    TH_EQ_INT(dp_json_get_num(&d, o, "n", 0, 2, 0, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_num(&d, o, "s", 0, 2, 0, &err), DP_EINVAL);

    TH_EQ_INT(dp_json_get_bool(&b, o, "b", false, &err), DP_OK);
    TH_CHECK(b);
    TH_EQ_INT(dp_json_get_bool(&b, o, "s", false, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_bool(&b, o, "n", false, &err), DP_EINVAL);

    TH_EQ_INT(dp_json_get_flat_object(&j, o, "o", 4, &err), DP_OK);
    TH_CHECK(j != NULL);
    TH_EQ_INT(dp_json_get_flat_object(&j, o, "o", 0, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_flat_object(&j, o, "a", 4, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_str_array(&j, o, "a", 4, 10, &err), DP_OK);
    TH_EQ_INT(dp_json_get_str_array(&j, o, "o", 4, 10, &err), DP_EINVAL);
    TH_EQ_INT(dp_json_get_str_array(&j, o, "a", 0, 10, &err), DP_EINVAL);
    json_decref(o);
}

static void lossy_strings_replace_bad_utf8(void)
{
    json_t *s = dp_json_string_lossy("a\xff"
                                     "b\xc3\xa9",
                                     5);

    TH_EQ_STR(json_string_value(s), "a\xef\xbf\xbd"
                                    "b\xc3\xa9");
    json_decref(s);
}

/* ---- the container spec ---- */

static const struct dp_ctr_place place = {"ns1", "127.0.0.1"};

static const char full_request[] =
    "{\"name\":\"web\",\"image\":\"dp-test/busybox:1\",\"ports\":{\"8080\":80,\"9090\":\"53/udp\"},"
    "\"env\":{\"A\":\"1\",\"SECRET\":\"" SECRET "\",\"N\":7},\"restart\":\"always\","
    "\"labels\":{\"team\":\"core\"},\"memory_mb\":256,\"cpus\":0.5,"
    "\"command\":[\"httpd\",\"-f\"],\"replace\":true,\"app\":\"shop\","
    "\"deployment_id\":\"d-1\",\"version\":\"v3\",\"source\":\"image\"}";

static const char *str_at(const json_t *o, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');

    if (!dot)
        return json_string_value(json_object_get(o, path));
    snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
    return str_at(json_object_get(o, key), dot + 1);
}

static bool array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static const char *label(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(json_object_get(body, "Labels"), key));
}

static void check_host_config(const json_t *hc)
{
    const json_t *pb = json_object_get(hc, "PortBindings");
    const json_t *b = json_array_get(json_object_get(pb, "80/tcp"), 0);

    TH_CHECK(json_is_false(json_object_get(hc, "Privileged")));
    TH_EQ_STR(str_at(hc, "NetworkMode"), "bridge");
    TH_CHECK(json_object_get(hc, "Binds") == NULL);
    TH_CHECK(json_object_get(hc, "PidMode") == NULL);
    TH_EQ_INT(json_array_size(json_object_get(hc, "Mounts")), 0);
    TH_EQ_STR(str_at(b, "HostIp"), "127.0.0.1");
    TH_EQ_STR(str_at(b, "HostPort"), "8080");
    b = json_array_get(json_object_get(pb, "53/udp"), 0);
    TH_EQ_STR(str_at(b, "HostPort"), "9090");
    TH_EQ_STR(str_at(hc, "RestartPolicy.Name"), "always");
    TH_EQ_INT(json_integer_value(json_object_get(hc, "Memory")), 256LL * 1024 * 1024);
    TH_EQ_INT(json_integer_value(json_object_get(hc, "NanoCpus")), 500000000);
    TH_EQ_STR(str_at(hc, "LogConfig.Type"), "json-file");
    TH_CHECK(str_at(hc, "LogConfig.Config.max-size") != NULL);
    TH_CHECK(array_has(json_object_get(hc, "SecurityOpt"), "no-new-privileges"));
}

static void full_request_builds_docker_body(void)
{
    struct dp_err err;
    json_t *req = parse(full_request, DP_OK, &err);
    struct dp_ctr_spec spec;
    const json_t *body, *env, *cmd;

    TH_EQ_INT(dp_ctr_spec_parse(&spec, req, &place, &err), DP_OK);
    body = spec.create_body;
    TH_EQ_STR(spec.name, "web");
    TH_EQ_STR(spec.image, "dp-test/busybox:1");
    TH_CHECK(spec.replace);
    TH_EQ_STR(str_at(body, "Image"), "dp-test/busybox:1");
    TH_CHECK(json_is_false(json_object_get(body, "Tty")));
    TH_CHECK(json_object_get(json_object_get(body, "ExposedPorts"), "80/tcp") != NULL);
    env = json_object_get(body, "Env");
    TH_EQ_INT(json_array_size(env), 3);
    TH_CHECK(array_has(env, "A=1"));
    TH_CHECK(array_has(env, "SECRET=" SECRET));
    TH_CHECK(array_has(env, "N=7"));
    cmd = json_object_get(body, "Cmd");
    TH_EQ_INT(json_array_size(cmd), 2);
    TH_EQ_STR(json_string_value(json_array_get(cmd, 0)), "httpd");
    TH_EQ_STR(label(body, "dp.managed"), "1");
    TH_EQ_STR(label(body, "dp.namespace"), "ns1");
    TH_EQ_STR(label(body, "dp.name"), "web");
    TH_EQ_STR(label(body, "dp.app"), "shop");
    TH_EQ_STR(label(body, "dp.deployment_id"), "d-1");
    TH_EQ_STR(label(body, "dp.version"), "v3");
    TH_EQ_STR(label(body, "dp.source"), "image");
    TH_EQ_STR(label(body, "team"), "core");
    check_host_config(json_object_get(body, "HostConfig"));
    dp_ctr_spec_clear(&spec);
    json_decref(req);
}

static void minimal_request_defaults(void)
{
    struct dp_err err;
    json_t *req = parse("{\"name\":\"a\",\"image\":\"busybox\"}", DP_OK, &err);
    struct dp_ctr_spec spec;
    const json_t *hc;

    TH_EQ_INT(dp_ctr_spec_parse(&spec, req, &(struct dp_ctr_place){"", ""}, &err), DP_OK);
    hc = json_object_get(spec.create_body, "HostConfig");
    TH_EQ_STR(str_at(hc, "RestartPolicy.Name"), "unless-stopped");
    TH_CHECK(json_object_get(hc, "Memory") == NULL);
    TH_CHECK(json_object_get(spec.create_body, "Cmd") == NULL);
    TH_CHECK(!spec.replace);
    dp_ctr_spec_clear(&spec);
    json_decref(req);
}

/* A request {"name":"web","image":"busybox","env":{"SECRET":SECRET}} with the fields of
 * extra put over it must be refused with a message that mentions want and never the env
 * value. */
static void refused(const char *extra, const char *want)
{
    static const char base[] =
        "{\"name\":\"web\",\"image\":\"busybox\",\"env\":{\"SECRET\":\"" SECRET "\"}}";
    char text[DP_ENV_VAL_MAX + 512];
    struct dp_err err;
    struct dp_ctr_spec spec;
    json_t *req = parse(base, DP_OK, &err), *over;

    snprintf(text, sizeof(text), "{%s}", extra);
    over = parse(text, DP_OK, &err);
    json_object_update(req, over);
    TH_EQ_INT(dp_ctr_spec_parse(&spec, req, &place, &err), DP_EINVAL);
    TH_CHECK(spec.create_body == NULL);
    if (!strstr(err.msg, want)) {
        th_failures++;
        fprintf(stderr, "for %.80s: message lacks '%s': %s\n", extra, want, err.msg);
    }
    if (strstr(err.msg, SECRET) || strstr(err.msg, "hunter")) {
        th_failures++;
        fprintf(stderr, "for %.80s: env value in the message: %s\n", extra, err.msg);
    }
    json_decref(over);
    json_decref(req);
}

static void names_and_images_refused(void)
{
    refused("\"name\":\"-bad\"", "name");
    refused("\"name\":\"a b\"", "name");
    refused("\"name\":\"a/b\"", "name");
    refused("\"name\":\"\"", "name");
    refused("\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
            "name");
    refused("\"name\":5", "name");
    refused("\"image\":\"a b\"", "image");
    refused("\"image\":\"../x\"", "image");
    refused("\"image\":\"a//b\"", "image");
    refused("\"image\":\"x:\"", "image");
}

static void ports_refused(void)
{
    refused("\"ports\":{\"8080\":0}", "port");
    refused("\"ports\":{\"8080\":65536}", "port");
    refused("\"ports\":{\"0\":80}", "port");
    refused("\"ports\":{\"x\":80}", "port");
    refused("\"ports\":{\"8080\":\"80/sctp\"}", "tcp or udp");
    refused("\"ports\":{\"8080\":true}", "port");
    refused("\"ports\":{\"8080\":\"80x\"}", "port");
    refused("\"ports\":{\"8080\":{\"a\":1}}", "ports");
    refused("\"ports\":[80]", "ports");
}

static void env_names_refused_without_values(void)
{
    char big[DP_ENV_VAL_MAX + 200];

    refused("\"env\":{\"1A\":\"" SECRET "\"}", "env name");
    refused("\"env\":{\"A B\":\"" SECRET "\"}", "env name");
    refused("\"env\":{\"A=B\":\"" SECRET "\"}", "env name");
    /* A "NAME=secret" written as a name is not echoed back. */
    refused("\"env\":{\"API_KEY=" SECRET "\":\"x\"}", "env name number 1");
    refused("\"env\":{\"\":\"" SECRET "\"}", "env name");
    refused("\"env\":{\"K\":{\"v\":\"" SECRET "\"}}", "env");
    refused("\"env\":{\"K\":[\"" SECRET "\"]}", "env");
    refused("\"env\":[\"K=" SECRET "\"]", "env");
    snprintf(big, sizeof(big), "\"env\":{\"K\":\"" SECRET "%0*d\"}", (int)DP_ENV_VAL_MAX, 0);
    refused(big, "longer than");
}

static void labels_restart_and_bounds_refused(void)
{
    refused("\"labels\":{\"dp.managed\":\"0\"}", "reserved");
    refused("\"labels\":{\"dp.namespace\":\"other\"}", "reserved");
    refused("\"labels\":{\"\":\"x\"}", "label");
    refused("\"labels\":{\"k\":{\"x\":1}}", "labels");
    refused("\"restart\":\"sometimes\"", "restart");
    refused("\"restart\":1", "restart");
    refused("\"memory_mb\":5", "memory_mb");
    refused("\"memory_mb\":1048577", "memory_mb");
    refused("\"memory_mb\":\"lots\"", "memory_mb");
    refused("\"memory_mb\":1.5", "memory_mb");
    refused("\"cpus\":0", "cpus");
    refused("\"cpus\":2000", "cpus");
    refused("\"cpus\":\"two\"", "cpus");
    refused("\"command\":\"httpd -f\"", "command");
    refused("\"command\":[1]", "command");
    refused("\"replace\":\"yes\"", "replace");
    refused("\"volumes\":{\"data\":\"relative\"}", "volume");
    refused("\"volumes\":{\"bad name\":\"/data\"}", "volume");
}

/* Malformed JSON is refused without echoing what surrounds the error: a value there could be
 * a secret (jansson's own text says "near '<input>'"). */
static void parse_errors_do_not_echo_input(void)
{
    static const char *const bad[] = {
        "{\"env\":{\"K\":\"" SECRET "\\q\"}}",
        "{\"env\":{\"K\":hunter2}}",
        "{\"env\":{\"K\":\"" SECRET "\n\"}}",
    };
    struct dp_err err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse(bad[i], DP_EINVAL, &err);
        if (strstr(err.msg, "hunter") || strstr(err.msg, "s3cr3t")) {
            th_failures++;
            fprintf(stderr, "input echoed in a parse error: %s\n", err.msg);
        }
    }
}

int main(void)
{
    TH_RUN(parse_refuses_bad_bodies);
    TH_RUN(parse_needs_no_nul);
    TH_RUN(depth_counts_outside_strings);
    TH_RUN(getters_report_type_errors);
    TH_RUN(lossy_strings_replace_bad_utf8);
    TH_RUN(full_request_builds_docker_body);
    TH_RUN(minimal_request_defaults);
    TH_RUN(names_and_images_refused);
    TH_RUN(ports_refused);
    TH_RUN(env_names_refused_without_values);
    TH_RUN(labels_restart_and_bounds_refused);
    TH_RUN(parse_errors_do_not_echo_input);
    TH_EXIT();
}
