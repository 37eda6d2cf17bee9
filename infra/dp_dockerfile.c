#include "dp_dockerfile.h"

#include "dp_json.h"
#include "dp_untar.h"

#include <archive_entry.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CMD_MAX   (DP_UPLOAD_MAX_NAME + 64) /* the CMD line's JSON array, bytes */
#define GO_CMD    "cmd/"                    /* where Go projects keep their main packages */
#define WORD_MAX  DP_UPLOAD_MAX_NAME        /* a file name put into a CMD, bytes */
#define NAME_SAFE "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

const char *dp_runtime_name(enum dp_runtime rt)
{
    static const char *const names[] = {"none", "dockerfile", "python", "node", "go", "static"};

    return (unsigned)rt < sizeof(names) / sizeof(names[0]) ? names[rt] : "none";
}

/* ---- base images ---- */

static bool ref_ok(const char *s, const char *extra)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > DP_IMAGE_REF_MAX || s[0] == '-' || s[0] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!strchr(NAME_SAFE, s[i]) && !strchr(extra, s[i]))
            return false;
    }
    return true;
}

dp_rc dp_dockerfile_bases_check(const struct dp_dockerfile_bases *b, struct dp_err *err)
{
    const struct {
        const char *field, *value;
    } refs[] = {{"python", b->python},
                {"node", b->node},
                {"go_build", b->go_build},
                {"go_run", b->go_run},
                {"static", b->static_site}};

    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        if (!ref_ok(refs[i].value, "/:@"))
            return dp_err_setc(err, DP_EINVAL, "invalid_base_image",
                               "base image for %s is not an image reference", refs[i].field);
    }
    if (!ref_ok(b->user, ":") || strlen(b->user) > DP_DOCKERFILE_USER_MAX || strchr(b->user, '.'))
        return dp_err_setc(err, DP_EINVAL, "invalid_base_image",
                           "the user of generated images must be a name or uid[:gid]");
    return DP_OK;
}

/* ---- the scan ---- */

dp_rc dp_dockerfile_scan_init(struct dp_dockerfile_scan *s, const char *dockerfile,
                              struct dp_err *err)
{
    struct dp_err e2 = {0};

    memset(s, 0, sizeof(*s));
    dp_buf_init(&s->package_json, DP_DOCKERFILE_READ_MAX);
    s->dockerfile_named = dockerfile && dockerfile[0];
    if (!s->dockerfile_named)
        dockerfile = DP_DOCKERFILE_DEFAULT;
    if (dp_untar_member_name(s->dockerfile, sizeof(s->dockerfile), dockerfile, &e2) ||
        !s->dockerfile[0])
        return dp_err_setc(err, DP_EINVAL, "invalid_dockerfile",
                           "dockerfile must be a relative path inside the code, such as "
                           "\"Dockerfile\" or \"docker/Dockerfile.prod\"");
    if (strcmp(s->dockerfile, DP_DOCKERFILE_DEFAULT) == 0)
        s->dockerfile_named = false; /* naming the default is the default */
    return DP_OK;
}

static unsigned top_bit(const char *name)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tops[] = {
        {"requirements.txt", DP_SEEN_REQUIREMENTS},
        {"pyproject.toml", DP_SEEN_PYPROJECT},
        {"app.py", DP_SEEN_APP_PY},
        {"main.py", DP_SEEN_MAIN_PY},
        {"wsgi.py", DP_SEEN_WSGI_PY},
        {"manage.py", DP_SEEN_MANAGE_PY},
        {"package.json", DP_SEEN_PACKAGE_JSON},
        {"package-lock.json", DP_SEEN_PACKAGE_LOCK},
        {"index.js", DP_SEEN_INDEX_JS},
        {"server.js", DP_SEEN_SERVER_JS},
        {"go.mod", DP_SEEN_GO_MOD},
        {"go.sum", DP_SEEN_GO_SUM},
        {"main.go", DP_SEEN_MAIN_GO | DP_SEEN_GO_TOP},
        {"index.html", DP_SEEN_INDEX_HTML},
    };
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
        if (strcmp(name, tops[i].name) == 0)
            return tops[i].bit;
    }
    return n > 3 && strcmp(name + n - 3, ".go") == 0 ? DP_SEEN_GO_TOP : 0;
}

/* cmd/NAME/main.go: remembers "./cmd/NAME" when NAME is plain and none was seen yet. */
static void note_go_cmd(struct dp_dockerfile_scan *s, const char *name)
{
    const char *dir = name + strlen(GO_CMD);
    size_t n = strcspn(dir, "/");

    if (s->go_cmd[0] || strncmp(name, GO_CMD, strlen(GO_CMD)) != 0 || n == 0 ||
        strcmp(dir + n, "/main.go") != 0 || strspn(dir, NAME_SAFE) < n || dir[0] == '-')
        return;
    snprintf(s->go_cmd, sizeof(s->go_cmd), "./" GO_CMD "%.*s", (int)n, dir);
}

bool dp_dockerfile_scan_member(struct dp_dockerfile_scan *s, const char *name, unsigned type,
                               unsigned long long size)
{
    bool file = type == AE_IFREG || type == AE_IFLNK;

    s->reading = false;
    if (file && strcmp(name, s->dockerfile) == 0)
        s->seen |= DP_SEEN_DOCKERFILE;
    if (type == AE_IFREG && strcmp(name, "vendor/modules.txt") == 0)
        s->seen |= DP_SEEN_GO_VENDOR;
    if (type == AE_IFREG)
        note_go_cmd(s, name);
    if (!file || strchr(name, '/'))
        return false;
    s->seen |= top_bit(name);
    if (type != AE_IFREG || strcmp(name, "package.json") != 0)
        return false;
    dp_buf_reset(&s->package_json); /* a later member of the same name wins */
    s->package_json_size = size;
    s->reading = true;
    return true;
}

void dp_dockerfile_scan_data(struct dp_dockerfile_scan *s, const void *p, size_t n)
{
    size_t room = DP_DOCKERFILE_READ_MAX - s->package_json.len;

    if (s->reading && room > 0)
        (void)dp_buf_append(&s->package_json, p, n < room ? n : room);
}

void dp_dockerfile_scan_clear(struct dp_dockerfile_scan *s)
{
    dp_buf_clear(&s->package_json);
}

enum dp_runtime dp_dockerfile_detect(const struct dp_dockerfile_scan *s)
{
    unsigned seen = s->seen;

    if (seen & DP_SEEN_DOCKERFILE)
        return DP_RUNTIME_DOCKERFILE;
    if (seen & (DP_SEEN_REQUIREMENTS | DP_SEEN_PYPROJECT))
        return DP_RUNTIME_PYTHON;
    if (seen & DP_SEEN_PACKAGE_JSON)
        return DP_RUNTIME_NODE;
    if (seen & DP_SEEN_GO_MOD)
        return DP_RUNTIME_GO;
    if (seen & (DP_SEEN_APP_PY | DP_SEEN_MAIN_PY | DP_SEEN_WSGI_PY | DP_SEEN_MANAGE_PY))
        return DP_RUNTIME_PYTHON;
    if (seen & DP_SEEN_INDEX_HTML)
        return DP_RUNTIME_STATIC;
    return DP_RUNTIME_NONE;
}

/* ---- generation ---- */

struct gen {
    struct dp_buf *out;
    const struct dp_dockerfile_scan *s;
    const struct dp_dockerfile_bases *b;
    unsigned port;
    dp_rc rc; /* the first append that failed */
};

static void put(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct gen *g, const char *fmt, ...)
{
    char line[CMD_MAX + 128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (g->rc)
        return;
    if (n < 0 || (size_t)n >= sizeof(line))
        g->rc = DP_ETOOBIG;
    else
        g->rc = dp_buf_append(g->out, line, (size_t)n);
}

/* The closing lines every generated image shares: port, user, command. */
static void put_tail(struct gen *g, const char *env, const char *cmd_kind, const char *cmd)
{
    put(g, "ENV %sPORT=%u\n", env, g->port);
    put(g, "EXPOSE %u\n", g->port);
    put(g, "USER %s\n", g->b->user);
    put(g, "%s %s\n", cmd_kind, cmd);
}

static dp_rc gen_python(struct gen *g, struct dp_err *err)
{
    unsigned seen = g->s->seen;
    char cmd[CMD_MAX];

    if (seen & DP_SEEN_APP_PY)
        snprintf(cmd, sizeof(cmd), "[\"python\", \"app.py\"]");
    else if (seen & DP_SEEN_MAIN_PY)
        snprintf(cmd, sizeof(cmd), "[\"python\", \"main.py\"]");
    else if (seen & DP_SEEN_WSGI_PY)
        snprintf(cmd, sizeof(cmd), "[\"gunicorn\", \"--bind\", \"0.0.0.0:%u\", \"wsgi\"]", g->port);
    else if (seen & DP_SEEN_MANAGE_PY)
        snprintf(cmd, sizeof(cmd),
                 "[\"python\", \"manage.py\", \"runserver\", \"0.0.0.0:%u\", \"--noreload\"]",
                 g->port);
    else
        return dp_err_setc(err, DP_EINVAL, "no_entrypoint",
                           "a Python app needs app.py, main.py, wsgi.py or manage.py at the top "
                           "of the code, or a Dockerfile");
    put(g, "# Generated by deploy-infra for a Python app (the code has no Dockerfile).\n");
    put(g, "FROM %s\n", g->b->python);
    put(g, "WORKDIR /app\n");
    put(g, "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 "
           "PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore\n");
    if (seen & DP_SEEN_REQUIREMENTS)
        put(g, "COPY requirements.txt ./\nRUN pip install -r requirements.txt\n");
    put(g, "COPY . .\n");
    if ((seen & DP_SEEN_PYPROJECT) && !(seen & DP_SEEN_REQUIREMENTS))
        put(g, "RUN pip install .\n");
    if (!(seen & (DP_SEEN_APP_PY | DP_SEEN_MAIN_PY)) && (seen & DP_SEEN_WSGI_PY))
        put(g, "RUN pip install gunicorn\n");
    put_tail(g, "", "CMD", cmd);
    return DP_OK;
}

static dp_rc bad_package(struct dp_err *err, const char *why)
{
    return dp_err_setc(err, DP_EINVAL, "invalid_package_json", "package.json %s", why);
}

static bool nonempty_string(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0;
}

/* The file "main" names, normalised, if it is plain enough to put in a CMD line. */
static bool main_file(char *out, size_t size, const json_t *pkg)
{
    const json_t *m = json_object_get(pkg, "main");

    if (!nonempty_string(m) || dp_untar_member_name(out, size, json_string_value(m), NULL))
        return false;
    return out[0] && out[0] != '-' && strspn(out, NAME_SAFE "/") == strlen(out);
}

/* Reads package.json: the command that starts the app and whether a build script exists. */
static dp_rc node_plan(const struct dp_dockerfile_scan *s, char *cmd, size_t size, bool *build,
                       struct dp_err *err)
{
    const struct dp_buf *b = &s->package_json;
    char file[WORD_MAX + 1];
    json_t *pkg, *scripts;
    dp_rc rc = DP_OK;

    if (s->package_json_size > DP_DOCKERFILE_READ_MAX)
        return bad_package(err, "is larger than 256 KiB");
    if (!b->data || dp_json_depth(b->data, b->len, DP_JSON_DEPTH_MAX) < 0)
        return bad_package(err, b->data ? "is nested too deeply" : "is empty");
    pkg = json_loadb(b->data, b->len, 0, NULL);
    if (!json_is_object(pkg)) {
        json_decref(pkg);
        return bad_package(err, "is not a JSON object");
    }
    scripts = json_object_get(pkg, "scripts");
    *build = nonempty_string(json_object_get(scripts, "build"));
    if (nonempty_string(json_object_get(scripts, "start")))
        snprintf(cmd, size, "[\"npm\", \"start\"]");
    else if (main_file(file, sizeof(file), pkg))
        snprintf(cmd, size, "[\"node\", \"%s\"]", file);
    else if (s->seen & DP_SEEN_INDEX_JS)
        snprintf(cmd, size, "[\"node\", \"index.js\"]");
    else if (s->seen & DP_SEEN_SERVER_JS)
        snprintf(cmd, size, "[\"node\", \"server.js\"]");
    else
        rc = dp_err_setc(err, DP_EINVAL, "no_entrypoint",
                         "a Node.js app needs a \"start\" script or \"main\" in package.json, "
                         "or index.js or server.js at the top of the code");
    json_decref(pkg);
    return rc;
}

static dp_rc gen_node(struct gen *g, struct dp_err *err)
{
    bool lock = g->s->seen & DP_SEEN_PACKAGE_LOCK, build = false;
    char cmd[CMD_MAX];
    dp_rc rc = node_plan(g->s, cmd, sizeof(cmd), &build, err);

    if (rc)
        return rc;
    put(g, "# Generated by deploy-infra for a Node.js app (the code has no Dockerfile).\n");
    put(g, "FROM %s\n", g->b->node);
    put(g, "WORKDIR /app\n");
    put(g, "COPY package.json%s ./\n", lock ? " package-lock.json" : "");
    put(g, "RUN npm %s --no-audit --no-fund\n", lock ? "ci" : "install");
    put(g, "COPY . .\n");
    if (build)
        put(g, "RUN npm run build\n");
    put_tail(g, "NODE_ENV=production HOME=/tmp ", "CMD", cmd);
    return DP_OK;
}

static dp_rc gen_go(struct gen *g)
{
    unsigned seen = g->s->seen;
    const char *pkg = ".";

    if (!(seen & DP_SEEN_MAIN_GO) && g->s->go_cmd[0])
        pkg = g->s->go_cmd;
    put(g, "# Generated by deploy-infra for a Go app (the code has no Dockerfile).\n");
    put(g, "FROM %s AS build\n", g->b->go_build);
    put(g, "WORKDIR /src\n");
    put(g, "COPY go.mod%s ./\n", (seen & DP_SEEN_GO_SUM) ? " go.sum" : "");
    if (!(seen & DP_SEEN_GO_VENDOR))
        put(g, "RUN go mod download\n");
    put(g, "COPY . .\n");
    put(g, "RUN CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\" -o /out/app %s\n", pkg);
    put(g, "FROM %s\n", g->b->go_run);
    put(g, "COPY --from=build /out/app /app\n");
    put_tail(g, "", "ENTRYPOINT", "[\"/app\"]");
    return DP_OK;
}

static dp_rc gen_static(struct gen *g)
{
    char cmd[CMD_MAX];

    snprintf(cmd, sizeof(cmd), "[\"httpd\", \"-f\", \"-v\", \"-p\", \"%u\", \"-h\", \"/www\"]",
             g->port);
    put(g, "# Generated by deploy-infra for a static site (the code has no Dockerfile).\n");
    put(g, "FROM %s\n", g->b->static_site);
    put(g, "COPY . /www\n");
    put_tail(g, "", "CMD", cmd);
    return DP_OK;
}

dp_rc dp_dockerfile_generate(struct dp_buf *out, enum dp_runtime rt,
                             const struct dp_dockerfile_scan *s, const struct dp_dockerfile_opts *o,
                             struct dp_err *err)
{
    static const struct dp_dockerfile_bases defaults = DP_DOCKERFILE_BASES_DEFAULT;
    struct gen g = {out, s, o->bases ? o->bases : &defaults, o->port, DP_OK};
    dp_rc rc;

    dp_buf_init(out, DP_DOCKERFILE_MAX);
    if (o->port < 1 || o->port > 65535)
        return dp_err_setc(err, DP_EINVAL, "invalid_port", "port must be 1 to 65535");
    rc = dp_dockerfile_bases_check(g.b, err);
    if (rc)
        return rc;
    switch (rt) {
    case DP_RUNTIME_PYTHON:
        rc = gen_python(&g, err);
        break;
    case DP_RUNTIME_NODE:
        rc = gen_node(&g, err);
        break;
    case DP_RUNTIME_GO:
        rc = gen_go(&g);
        break;
    case DP_RUNTIME_STATIC:
        rc = gen_static(&g);
        break;
    default:
        return dp_err_setc(err, DP_EINVAL, "no_runtime",
                           "the code has no Dockerfile and nothing to build one from: add a "
                           "Dockerfile, requirements.txt, package.json, go.mod or index.html");
    }
    if (!rc && g.rc)
        rc = dp_err_set(err, g.rc, "the generated Dockerfile is longer than %lu bytes",
                        DP_DOCKERFILE_MAX);
    return rc;
}
