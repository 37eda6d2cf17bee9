#include "dp_tls.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* <prefix> of this program, installed as <prefix>/bin/NAME (the build tree has the same
 * layout), so the shims are found wherever the tree was unpacked or installed. */
static dp_rc exe_prefix(char *out, size_t size, struct dp_err *err)
{
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    char *slash;

    if (n <= 0 || (size_t)n >= size - 1)
        return dp_err_set(err, DP_EUNAVAIL, "cannot find this program's path for TLS: %s",
                          n < 0 ? strerror(errno) : "path too long");
    out[n] = '\0';
    for (int i = 0; i < 2; i++) { /* drop "/NAME", then "/bin" */
        slash = strrchr(out, '/');
        if (!slash)
            return dp_err_set(err, DP_EUNAVAIL, "cannot place this program's TLS libraries");
        *slash = '\0';
    }
    return DP_OK;
}

/* dlopen()s prefix/lib/deploy-infra/name for good: civetweb keeps using it. */
static dp_rc shim_load(void **out, const char *prefix, const char *name, struct dp_err *err)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s/%s", prefix, DP_PRIVLIB_SUBDIR, name);

    if (n < 0 || (size_t)n >= sizeof(path))
        return dp_err_set(err, DP_EUNAVAIL, "TLS library path under %s is too long", prefix);
    *out = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!*out)
        return dp_err_setc(err, DP_EUNAVAIL, "tls_unavailable",
                           "HTTPS needs %s, which ships with this program: %s", path, dlerror());
    return DP_OK;
}

/* civetweb resolves its OpenSSL calls through the shim handle; they must land in the
 * libssl.so.3 this program links, not a second copy with its own state. */
static dp_rc shim_check(void *ssl)
{
    void *real = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
    dp_rc rc = DP_OK;

    if (!dlsym(ssl, "SSL_get_peer_certificate"))
        rc = DP_EUNAVAIL;
    else if (!real || dlsym(real, "SSL_CTX_new") != dlsym(ssl, "SSL_CTX_new"))
        rc = DP_EINTERNAL;
    if (real)
        dlclose(real); /* NOLOAD took a reference; the library itself stays */
    return rc;
}

dp_rc dp_tls_civetweb_init(struct dp_err *err)
{
    char prefix[PATH_MAX];
    void *crypto = NULL, *ssl = NULL;
    dp_rc rc;

    rc = exe_prefix(prefix, sizeof(prefix), err);
    if (!rc)
        rc = shim_load(&crypto, prefix, "libcrypto.so", err);
    if (!rc)
        rc = shim_load(&ssl, prefix, "libssl.so", err);
    if (rc)
        return rc;
    if (shim_check(ssl))
        return dp_err_setc(err, DP_EUNAVAIL, "tls_unavailable",
                           "%s/%s/libssl.so is not the TLS shim for this program's OpenSSL", prefix,
                           DP_PRIVLIB_SUBDIR);
    /* With the shims in place civetweb loads OpenSSL now; if it still cannot, starting a TLS
     * port would leave it half-initialized (and crash on the first connection), so stop. */
    if (!(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS))
        return dp_err_setc(err, DP_EUNAVAIL, "tls_unavailable",
                           "civetweb could not load OpenSSL through the TLS libraries in %s/%s",
                           prefix, DP_PRIVLIB_SUBDIR);
    return DP_OK;
}

/* OpenSSL's root cause of the last failure (the first queued error; the last one is a generic
 * "PEM lib"), and an empty error queue for the next caller. */
static const char *ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, size, "%s", r ? r : "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

/* An encrypted key fails to load instead of prompting on the daemon's terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

/* The key did not load: say whether it is the wrong key or not a usable key at all. */
static dp_rc key_error(const char *key_path, const char *cert_path, struct dp_err *err)
{
    unsigned long e = ERR_peek_error();
    char why[128];

    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return dp_err_setc(err, DP_EINVAL, "tls_files",
                           "TLS key %s does not belong to certificate %s", key_path, cert_path);
    }
    return dp_err_setc(err, DP_EINVAL, "tls_files",
                       "TLS key %s is not an unencrypted PEM private key (%s)", key_path,
                       ssl_reason(why, sizeof(why)));
}

static dp_rc file_readable(const char *what, const char *path, struct dp_err *err)
{
    FILE *f = fopen(path, "r");

    if (!f)
        return dp_err_setc(err, DP_EINVAL, "tls_files", "cannot read TLS %s %s: %s", what, path,
                           strerror(errno));
    fclose(f);
    return DP_OK;
}

dp_rc dp_tls_ctx_load(void *ssl_ctx, const char *cert_path, const char *key_path,
                      struct dp_err *err)
{
    SSL_CTX *ctx = ssl_ctx;
    char why[128];
    dp_rc rc;

    ERR_clear_error();
    rc = file_readable("certificate", cert_path, err);
    if (!rc)
        rc = file_readable("key", key_path, err);
    if (rc)
        return rc;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1)
        return dp_err_setc(err, DP_EINVAL, "tls_files",
                           "TLS certificate %s is not a PEM certificate chain (%s)", cert_path,
                           ssl_reason(why, sizeof(why)));
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        return key_error(key_path, cert_path, err);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, DP_TLS12_CIPHERS) != 1)
        return dp_err_set(err, DP_EINTERNAL, "cannot set the TLS protocol floor or ciphers: %s",
                          ssl_reason(why, sizeof(why)));
    return DP_OK;
}
