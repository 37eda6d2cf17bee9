/* What code is, from its member list, and a Dockerfile for code that has none.
 *
 * Detection, first match wins: the user's Dockerfile (the deploy's "dockerfile" path, default
 * "Dockerfile") -> "dockerfile"; requirements.txt or pyproject.toml at the top -> "python";
 * package.json -> "node"; go.mod -> "go"; app.py, main.py, wsgi.py or manage.py -> "python";
 * index.html -> "static". A project file outranks a lone entry script, so a Node app with a
 * helper main.py stays Node and a Django app with a package.json for its assets stays Python.
 *
 * Generated Dockerfiles listen on the deploy's port (ENV PORT and EXPOSE; the app reads PORT,
 * as on Heroku or Cloud Run), run as a numeric non-root user (any base image accepts one, and
 * Docker 20.10 lets such a user bind ports below 1024), and take their base images from
 * struct dp_dockerfile_bases (the daemon's configuration; the defaults below). The exact texts
 * are in dp_dockerfile.c and tests/unit/test_dockerfile.c. */
#ifndef DP_DOCKERFILE_H
#define DP_DOCKERFILE_H

#include "dp_buf.h"
#include "dp_err.h"
#include "dp_limits.h"

#include <stdbool.h>
#include <stddef.h>

#define DP_DOCKERFILE_MAX      (64UL * 1024)  /* a generated Dockerfile, bytes */
#define DP_DOCKERFILE_READ_MAX (256UL * 1024) /* package.json read for detection, bytes */
#define DP_DOCKERFILE_DEFAULT  "Dockerfile"   /* the user's Dockerfile when none is named */
#define DP_DOCKERFILE_USER_MAX 64             /* the USER value, bytes */
#define DP_DOCKERFILE_GO_MAX   255            /* the Go package path built, bytes */

enum dp_runtime {
    DP_RUNTIME_NONE = 0, /* nothing recognised */
    DP_RUNTIME_DOCKERFILE,
    DP_RUNTIME_PYTHON,
    DP_RUNTIME_NODE,
    DP_RUNTIME_GO,
    DP_RUNTIME_STATIC,
};

/* "none", "dockerfile", "python", "node", "go", "static". */
const char *dp_runtime_name(enum dp_runtime rt);

/* Base images (any reference Docker accepts) and the user generated images run as. */
struct dp_dockerfile_bases {
    const char *python;      /* "python:3.12-slim" */
    const char *node;        /* "node:20-slim" */
    const char *go_build;    /* "golang:1.22": the build stage */
    const char *go_run;      /* "gcr.io/distroless/static-debian12": the static binary runs here */
    const char *static_site; /* "busybox:1.36": its httpd serves the files */
    const char *user;        /* "10001:10001": USER of every generated image */
};

#define DP_DOCKERFILE_BASES_DEFAULT                                                                \
    {                                                                                              \
        "python:3.12-slim", "node:20-slim", "golang:1.22", "gcr.io/distroless/static-debian12",    \
            "busybox:1.36", "10001:10001"                                                          \
    }

/* Checks every base is a plausible image reference ([A-Za-z0-9._/:@-], at most
 * DP_IMAGE_REF_MAX bytes) and user is [A-Za-z0-9_:-]: nothing that could break a Dockerfile
 * line. DP_EINVAL code "invalid_base_image" naming the field. */
dp_rc dp_dockerfile_bases_check(const struct dp_dockerfile_bases *b, struct dp_err *err);

/* Names that decide the runtime (bits of dp_dockerfile_scan.seen). */
enum {
    DP_SEEN_DOCKERFILE = 1 << 0,
    DP_SEEN_REQUIREMENTS = 1 << 1, /* requirements.txt */
    DP_SEEN_PYPROJECT = 1 << 2,    /* pyproject.toml */
    DP_SEEN_APP_PY = 1 << 3,
    DP_SEEN_MAIN_PY = 1 << 4,
    DP_SEEN_WSGI_PY = 1 << 5,
    DP_SEEN_MANAGE_PY = 1 << 6,
    DP_SEEN_PACKAGE_JSON = 1 << 7,
    DP_SEEN_PACKAGE_LOCK = 1 << 8, /* package-lock.json */
    DP_SEEN_INDEX_JS = 1 << 9,
    DP_SEEN_SERVER_JS = 1 << 10,
    DP_SEEN_GO_MOD = 1 << 11,
    DP_SEEN_GO_SUM = 1 << 12,
    DP_SEEN_GO_TOP = 1 << 13,     /* some *.go at the top */
    DP_SEEN_MAIN_GO = 1 << 14,    /* main.go at the top */
    DP_SEEN_GO_VENDOR = 1 << 15,  /* vendor/modules.txt */
    DP_SEEN_INDEX_HTML = 1 << 16, /* index.html at the top */
};

/* What detection learns from the members, fed one by one (names as dp_untar_member_name
 * gives them). Lives on the caller's side; dp_dockerfile_scan_clear() frees it. */
struct dp_dockerfile_scan {
    char dockerfile[DP_UPLOAD_MAX_NAME + 1]; /* the path that is the user's Dockerfile */
    bool dockerfile_named; /* the deploy named one (not the default): missing is an error */
    unsigned seen;         /* DP_SEEN_* */
    char go_cmd[DP_DOCKERFILE_GO_MAX + 1]; /* "./cmd/NAME" of the first cmd/NAME/main.go */
    struct dp_buf package_json;            /* its first DP_DOCKERFILE_READ_MAX bytes */
    unsigned long long package_json_size;  /* its declared size */
    bool reading;                          /* the member being fed is package.json */
};

/* Starts a scan. dockerfile is the deploy's "dockerfile" field: a path inside the code
 * ("Dockerfile", "docker/Dockerfile.prod"), NULL or "" for the default. DP_EINVAL code
 * "invalid_dockerfile" when it is not a relative path inside the code. */
dp_rc dp_dockerfile_scan_init(struct dp_dockerfile_scan *s, const char *dockerfile,
                              struct dp_err *err);

/* Notes one member (type: AE_IFREG, AE_IFDIR or AE_IFLNK). Returns true when the scan wants
 * its bytes: pass them to dp_dockerfile_scan_data until the next member. */
bool dp_dockerfile_scan_member(struct dp_dockerfile_scan *s, const char *name, unsigned type,
                               unsigned long long size);

/* The bytes of the member dp_dockerfile_scan_member asked for; extra bytes are dropped. */
void dp_dockerfile_scan_data(struct dp_dockerfile_scan *s, const void *p, size_t n);

/* Frees what the scan holds. */
void dp_dockerfile_scan_clear(struct dp_dockerfile_scan *s);

/* The runtime the members point to (DP_RUNTIME_NONE: nothing recognised). */
enum dp_runtime dp_dockerfile_detect(const struct dp_dockerfile_scan *s);

struct dp_dockerfile_opts {
    const struct dp_dockerfile_bases *bases; /* NULL: DP_DOCKERFILE_BASES_DEFAULT */
    unsigned port;                           /* 1..65535: where the app listens */
};

/* Writes a Dockerfile for rt into out (initialised here, capped at DP_DOCKERFILE_MAX; the
 * caller dp_buf_clear()s it, also on failure). Errors, all DP_EINVAL: "no_runtime" (rt is
 * none or dockerfile: nothing to generate), "no_entrypoint" (a Python app without app.py,
 * main.py, wsgi.py or manage.py; a Node app without a start script, main, index.js or
 * server.js), "invalid_package_json", "invalid_base_image", "invalid_port". */
dp_rc dp_dockerfile_generate(struct dp_buf *out, enum dp_runtime rt,
                             const struct dp_dockerfile_scan *s, const struct dp_dockerfile_opts *o,
                             struct dp_err *err);

#endif
