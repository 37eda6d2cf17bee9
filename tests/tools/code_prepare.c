/* code_prepare: the controller's code intake (dp_code_prepare) as a command, for integration
 * tests. Prints the result as one JSON object and leaves the tar in the spool folder.
 *
 *   code_prepare --spool DIR (--file PATH | --b64 PATH [--zip]) [--dockerfile PATH]
 *                [--port N] [--base python|node|go_build|go_run|static|user=VALUE]...
 *
 * --b64 reads base64 text from PATH, as if it came in code_tar_b64 (code_zip_b64 with --zip).
 * Exit 0 with {"runtime",...,"tar"}; 1 with {"error","detail"}; 2 on bad usage. */
#include "dp_code.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: code_prepare --spool DIR (--file PATH | --b64 PATH [--zip]) "
                    "[--dockerfile PATH] [--port N] [--base KEY=VALUE]...\n");
    return 2;
}

static char *slurp(const char *path, size_t *len)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;

    if (fd >= 0 && fstat(fd, &sb) == 0 && (buf = malloc((size_t)sb.st_size + 1)) != NULL) {
        *len = (size_t)read(fd, buf, (size_t)sb.st_size);
        buf[*len] = '\0';
    }
    if (fd >= 0)
        close(fd);
    return buf;
}

static int set_base(struct dp_dockerfile_bases *b, const char *kv)
{
    static const char *const keys[] = {"python", "node", "go_build", "go_run", "static", "user"};
    const char **fields[] = {&b->python, &b->node,        &b->go_build,
                             &b->go_run, &b->static_site, &b->user};
    const char *eq = strchr(kv, '=');

    for (size_t i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i]) == (size_t)(eq - kv) && strncmp(kv, keys[i], strlen(keys[i])) == 0) {
            *fields[i] = eq + 1;
            return 0;
        }
    }
    return -1;
}

static void print_result(const struct dp_code_result *r)
{
    json_t *j =
        json_pack("{s:s, s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "runtime",
                  dp_runtime_name(r->runtime), "generated", r->generated, "format", r->format,
                  "dockerfile", r->dockerfile, "stripped", r->stripped, "files",
                  (json_int_t)r->files, "dirs", (json_int_t)r->dirs, "bytes", (json_int_t)r->bytes,
                  "code_size", (json_int_t)r->code_size, "tar", r->tar_path);
    char *s = json_dumps(j, JSON_COMPACT);

    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(j);
}

int main(int argc, char **argv)
{
    struct dp_dockerfile_bases bases = DP_DOCKERFILE_BASES_DEFAULT;
    struct dp_code_opts o = {.port = 8080, .bases = &bases};
    struct dp_code_result r;
    struct dp_err err = {0};
    char *text = NULL;
    dp_rc rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--zip") == 0) {
            o.b64_zip = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--spool") == 0)
            o.spool_dir = v;
        else if (strcmp(a, "--file") == 0)
            o.file_path = v;
        else if (strcmp(a, "--b64") == 0 && !text)
            text = slurp(v, &o.b64_len);
        else if (strcmp(a, "--dockerfile") == 0)
            o.dockerfile = v;
        else if (strcmp(a, "--port") == 0)
            o.port = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--base") != 0 || set_base(&bases, v) != 0)
            return usage();
    }
    if (!o.spool_dir)
        return usage();
    o.b64 = text;
    rc = dp_code_prepare(&r, &o, &err);
    free(text);
    if (rc) {
        json_t *j = json_pack("{s:s, s:s}", "error", err.code, "detail", err.msg);
        char *s = json_dumps(j, JSON_COMPACT);

        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
        return 1;
    }
    print_result(&r); /* the tar stays for the caller */
    return 0;
}
