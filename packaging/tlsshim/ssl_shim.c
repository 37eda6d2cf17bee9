/* libssl.so for Debian's civetweb 1.15 under OpenSSL 3.
 *
 * civetweb dlopen()s the unversioned "libssl.so" and looks up SSL_get_peer_certificate, which
 * OpenSSL 3 turned into a macro for SSL_get1_peer_certificate. This object has SONAME
 * libssl.so, needs libssl.so.3 (so every other symbol civetweb looks up resolves there, in the
 * one libssl instance the process already uses) and adds the one missing name. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate /* OpenSSL 3: a macro; civetweb wants the symbol */

X509 *SSL_get_peer_certificate(const SSL *s) __attribute__((visibility("default")));

/* Same contract as OpenSSL 1.1's: a new reference the caller frees, as civetweb does. */
X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
