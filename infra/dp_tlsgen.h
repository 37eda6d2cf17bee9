/* Certificates for agents: the controller makes a key and a self-signed certificate for each
 * server it provisions, puts both in that server's user-data, keeps only the public-key pin,
 * and pins it on every call. */
#ifndef DP_TLSGEN_H
#define DP_TLSGEN_H

#include "dp_buf.h"
#include "dp_err.h"

/* A P-256 key and a self-signed certificate for common_name (valid 10 years, serverAuth,
 * SAN DNS:common_name plus IP:ip when ip is given). cert_pem and key_pem are filled (init'ed by
 * the callee with caps); pin gets "sha256//<base64 of SHA-256 of the DER SubjectPublicKeyInfo>"
 * (curl's --pinnedpubkey form), 64 bytes. Free key_pem with dp_tlsgen_wipe. */
dp_rc dp_tlsgen_self_signed(struct dp_buf *cert_pem, struct dp_buf *key_pem, char *pin,
                            const char *common_name, const char *ip, struct dp_err *err);

/* The pin of a PEM certificate's public key (same form). */
dp_rc dp_tlsgen_pin_of_cert(char *pin, const char *cert_pem, struct dp_err *err);

/* Zeroes and frees a buffer that held a private key. */
void dp_tlsgen_wipe(struct dp_buf *b);

#endif
