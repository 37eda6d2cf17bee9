#include "dosim_yaml.h"

#include "dosim_limits.h"

#include "dp_json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct conv {
    yaml_document_t *doc;
    long budget; /* nodes left to visit */
    struct dp_err *err;
    dp_rc rc;
};

static json_t *convert(struct conv *c, yaml_node_t *n, int depth);

static json_t *scalar(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;

    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (len == 0 || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0))
        return json_null();
    return dp_json_string_lossy(v, len);
}

static json_t *sequence(struct conv *c, yaml_node_t *n, int depth)
{
    json_t *arr = json_array();

    for (yaml_node_item_t *it = n->data.sequence.items.start;
         arr && it < n->data.sequence.items.top && !c->rc; it++) {
        json_t *v = convert(c, yaml_document_get_node(c->doc, *it), depth + 1);

        if (v)
            json_array_append_new(arr, v);
    }
    return arr;
}

static json_t *mapping(struct conv *c, yaml_node_t *n, int depth)
{
    json_t *obj = json_object();

    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         obj && p < n->data.mapping.pairs.top && !c->rc; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        json_t *v;

        if (!k || k->type != YAML_SCALAR_NODE) {
            c->rc = dp_err_set(c->err, DP_EINVAL, "a mapping key is not a plain value");
            break;
        }
        v = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
        if (v) {
            char key[256];

            snprintf(key, sizeof(key), "%.*s", (int)k->data.scalar.length,
                     (const char *)k->data.scalar.value);
            json_object_set_new(obj, key, v);
        }
    }
    return obj;
}

static json_t *convert(struct conv *c, yaml_node_t *n, int depth)
{
    if (c->rc)
        return NULL;
    if (--c->budget < 0 || depth > DOSIM_YAML_DEPTH) {
        c->rc = dp_err_set(c->err, DP_ETOOBIG, "YAML deeper than %d levels or over %d nodes",
                           DOSIM_YAML_DEPTH, DOSIM_YAML_NODES);
        return NULL;
    }
    if (!n)
        return json_null();
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar(n);
    case YAML_SEQUENCE_NODE:
        return sequence(c, n, depth);
    case YAML_MAPPING_NODE:
        return mapping(c, n, depth);
    default:
        return json_null();
    }
}

dp_rc dosim_yaml_load(json_t **out, const char *text, size_t len, struct dp_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct conv c = {.doc = &doc, .budget = DOSIM_YAML_NODES, .err = err};
    json_t *root;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return dp_err_set(err, DP_ENOMEM, "out of memory for the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        dp_err_set(err, DP_EINVAL, "YAML: %s at line %zu", parser.problem ? parser.problem : "?",
                   parser.problem_mark.line + 1);
        yaml_parser_delete(&parser);
        return DP_EINVAL;
    }
    root = convert(&c, yaml_document_get_root_node(&doc), 0);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (c.rc) {
        json_decref(root);
        return c.rc;
    }
    *out = root ? root : json_null();
    return DP_OK;
}

bool dosim_yaml_true(const json_t *v)
{
    const char *s = json_string_value(v);

    if (json_is_true(v))
        return true;
    return s &&
           (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0);
}
