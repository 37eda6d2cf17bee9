/* Test helper for tests/it/cloudinit_schema.sh: prints the provision-time user-data for the
 * given inputs, byte for byte, so real cloud-init and PyYAML can check it. Values come from
 * files, read unchanged, so keys with quotes or '#' need no shell quoting.
 *   cloudinit_render_cli --key-file F --cert-file F --tls-key-file F --allow CIDR...
 *                        [--hostname NAME]
 * Exit 0 with the document on stdout; 1 with "code: message" on stderr; 2 on usage errors. */
#include "cloudinit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_FILE_MAX (1024UL * 1024) /* more than any document, so ETOOBIG is reachable */

struct cli {
    const char *key_file, *cert_file, *tls_key_file;
    const char *allow[CLOUDINIT_ALLOW_MAX + 4]; /* room to test the count limit */
    size_t nallow;
    const char *hostname;
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
                    "--allow CIDR... [--hostname NAME]\n");
    return 2;
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
        else if (strcmp(flag, "--allow") == 0 && c->nallow < sizeof(c->allow) / sizeof(c->allow[0]))
            c->allow[c->nallow++] = val;
        else
            return -1;
    }
    return argc % 2 == 1 && c->key_file && c->cert_file && c->tls_key_file ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    struct dp_buf doc;
    struct dp_err err = {0};
    char *key = NULL, *cert = NULL, *tkey = NULL;
    int status = 1;

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
