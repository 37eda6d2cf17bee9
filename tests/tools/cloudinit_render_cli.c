/* Test helper for tests/it/cloudinit_schema.sh and the dosim bake tests: prints the
 * provision-time or bake-time user-data for the given inputs, byte for byte, so real
 * cloud-init and PyYAML can check it. Keys come from files, read unchanged, so keys with
 * quotes or '#' need no shell quoting.
 *   cloudinit_render_cli --key-file F --cert-file F --tls-key-file F --allow CIDR...
 *                        [--hostname NAME]
 *   cloudinit_render_cli bake --url URL --sha256 HEX --bake-key-file F --allow CIDR...
 *                        [--ssh-allow CIDR...] [--package NAME...]
 * Exit 0 with the document on stdout; 1 with "code: message" on stderr; 2 on usage errors. */
#include "cloudinit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_FILE_MAX (1024UL * 1024) /* more than any document, so ETOOBIG is reachable */

#define CLI_LIST_MAX (CLOUDINIT_PACKAGES_MAX + 4) /* room to test the count limits */

struct cli {
    const char *key_file, *cert_file, *tls_key_file;
    const char *allow[CLI_LIST_MAX];
    size_t nallow;
    const char *hostname;
    /* bake */
    const char *url, *sha256;
    const char *ssh[CLI_LIST_MAX], *pkgs[CLI_LIST_MAX];
    size_t nssh, npkgs;
};

/* The whole file as a NUL-terminated string (embedded NULs end it early, as in C callers). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(CLI_FILE_MAX + 1) : NULL;
    size_t n = 0;

    if (buf) {
        n = fread(buf, 1, CLI_FILE_MAX, f);
        buf[n] = '\0';
    }
    if (f)
        fclose(f);
    if (!buf)
        fprintf(stderr, "cloudinit_render_cli: cannot read %s\n", path);
    return buf;
}

static int usage(void)
{
    fprintf(stderr, "usage: cloudinit_render_cli --key-file F --cert-file F --tls-key-file F "
                    "--allow CIDR... [--hostname NAME]\n"
                    "       cloudinit_render_cli bake --url URL --sha256 HEX --bake-key-file F "
                    "--allow CIDR... [--ssh-allow CIDR...] [--package NAME...]\n");
    return 2;
}

static bool push(const char **list, size_t *n, const char *val)
{
    if (*n == CLI_LIST_MAX)
        return false;
    list[(*n)++] = val;
    return true;
}

/* Flags both modes share, and the bake ones; false for an unknown flag or a full list. */
static bool flag_set(struct cli *c, const char *flag, const char *val)
{
    if (strcmp(flag, "--url") == 0)
        c->url = val;
    else if (strcmp(flag, "--sha256") == 0)
        c->sha256 = val;
    else if (strcmp(flag, "--bake-key-file") == 0)
        c->key_file = val;
    else if (strcmp(flag, "--allow") == 0)
        return push(c->allow, &c->nallow, val);
    else if (strcmp(flag, "--ssh-allow") == 0)
        return push(c->ssh, &c->nssh, val);
    else if (strcmp(flag, "--package") == 0)
        return push(c->pkgs, &c->npkgs, val);
    else
        return false;
    return true;
}

static int parse_bake(struct cli *c, int argc, char **argv)
{
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!flag_set(c, argv[i], argv[i + 1]))
            return -1;
    }
    return argc % 2 == 0 && c->key_file && c->url && c->sha256 ? 0 : -1;
}

static int parse(struct cli *c, int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *flag = argv[i], *val = argv[i + 1];

        if (strcmp(flag, "--key-file") == 0)
            c->key_file = val;
        else if (strcmp(flag, "--cert-file") == 0)
            c->cert_file = val;
        else if (strcmp(flag, "--tls-key-file") == 0)
            c->tls_key_file = val;
        else if (strcmp(flag, "--hostname") == 0)
            c->hostname = val;
        else if (strcmp(flag, "--allow") == 0 && push(c->allow, &c->nallow, val))
            continue;
        else
            return -1;
    }
    return argc % 2 == 1 && c->key_file && c->cert_file && c->tls_key_file ? 0 : -1;
}

/* Bake mode: the bake key from its file, the rest from flags. */
static int main_bake(struct cli *c)
{
    struct dp_buf doc;
    struct dp_err err = {0};
    char *key = slurp(c->key_file);
    int status = 1;

    if (key) {
        struct cloudinit_bake in = {c->url, c->sha256, key,     c->allow, c->nallow,
                                    c->ssh, c->nssh,   c->pkgs, c->npkgs};

        if (cloudinit_bake_render(&doc, &in, &err) == DP_OK) {
            status = fwrite(doc.data, 1, doc.len, stdout) == doc.len ? 0 : 1;
            cloudinit_wipe(&doc);
        } else {
            fprintf(stderr, "%s: %s\n", err.code, err.msg);
        }
    }
    free(key);
    return status;
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    struct dp_buf doc;
    struct dp_err err = {0};
    char *key = NULL, *cert = NULL, *tkey = NULL;
    int status = 1;

    if (argc > 1 && strcmp(argv[1], "bake") == 0)
        return parse_bake(&c, argc, argv) ? usage() : main_bake(&c);
    if (parse(&c, argc, argv))
        return usage();
    key = slurp(c.key_file);
    cert = slurp(c.cert_file);
    tkey = slurp(c.tls_key_file);
    if (key && cert && tkey) {
        struct cloudinit_provision in = {key, cert, tkey, c.allow, c.nallow, c.hostname};

        if (cloudinit_provision_render(&doc, &in, &err) == DP_OK) {
            status = fwrite(doc.data, 1, doc.len, stdout) == doc.len ? 0 : 1;
            cloudinit_wipe(&doc);
        } else {
            fprintf(stderr, "%s: %s\n", err.code, err.msg);
        }
    }
    free(key);
    free(cert);
    free(tkey);
    return status;
}
