/* HTTPS with Debian's civetweb 1.15 and OpenSSL 3 (packaging/TLS-NOTES.md). civetweb dlopen()s
 * the unversioned libssl.so/libcrypto.so and wants a symbol OpenSSL 3 dropped; our shims in
 * <program dir>/../lib/deploy-infra/ supply both, and this module loads them and the daemon's
 * certificate. */
#ifndef DP_TLS_H
#define DP_TLS_H

#include "dp_err.h"

/* TLS 1.2 cipher list: forward secrecy and AEAD only (TLS 1.3 suites keep OpenSSL's defaults). */
#define DP_TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"

/* Makes civetweb's TLS usable: loads the libcrypto.so and libssl.so shims by absolute path
 * (RTLD_GLOBAL, so civetweb's later dlopen("libssl.so") finds them by SONAME) and has civetweb
 * initialize TLS. Must run before any mg_start2() with a TLS port: without the shims civetweb
 * 1.15 starts and then crashes on the first HTTPS connection. Calling it again is harmless.
 * Fails with DP_EUNAVAIL naming the missing file; no TLS server may be started then. */
dp_rc dp_tls_civetweb_init(struct dp_err *err);

/* Loads a PEM certificate chain and its PEM private key into ssl_ctx (an SSL_CTX *), never
 * prompting for a passphrase, with TLS 1.2 as the floor and DP_TLS12_CIPHERS. Fails with
 * DP_EINVAL naming the file and OpenSSL's reason (never the key's contents). */
dp_rc dp_tls_ctx_load(void *ssl_ctx, const char *cert_path, const char *key_path,
                      struct dp_err *err);

#endif
