#include "dp_tlsgen.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TLSGEN_CERT_PEM_MAX 16384 /* one PEM certificate, bytes */
#define TLSGEN_KEY_PEM_MAX  4096  /* one PEM P-256 key, bytes */
#define TLSGEN_CN_MAX       64    /* X.520 ub-common-name, bytes */
#define TLSGEN_VALID_DAYS   3653  /* ten years, leap days included */
#define TLSGEN_BACKDATE_S   3600  /* notBefore is an hour ago: clocks drift */
#define TLSGEN_SERIAL_BYTES 16    /* 128 random bits */
#define TLSGEN_PIN_MAX      64    /* the header's pin buffer, bytes incl. NUL */

static dp_rc ossl_err(struct dp_err *err, const char *what)
{
    char why[160];
    unsigned long e = ERR_get_error();

    if (e)
        ERR_error_string_n(e, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "no reason given");
    ERR_clear_error();
    return dp_err_setc(err, DP_EINTERNAL, "tls_error", "%s failed: %s", what, why);
}

/* A DNS name as a SAN and a CN: letters, digits, '-' and '.', not starting with '.' or '-'. */
static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > TLSGEN_CN_MAX || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

static dp_rc pin_of_pkey(char *pin, EVP_PKEY *pk, struct dp_err *err)
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    char b64[48]; /* 44 characters and a NUL for 32 bytes */
    int len = i2d_PUBKEY(pk, &der);

    pin[0] = '\0';
    if (len <= 0)
        return ossl_err(err, "encoding the public key");
    SHA256(der, (size_t)len, md);
    OPENSSL_free(der);
    EVP_EncodeBlock((unsigned char *)b64, md, (int)sizeof(md));
    snprintf(pin, TLSGEN_PIN_MAX, "sha256//%s", b64);
    return DP_OK;
}

/* A random positive serial of 128 bits (never zero). */
static bool set_serial(X509 *x)
{
    unsigned char raw[TLSGEN_SERIAL_BYTES];
    BIGNUM *bn = NULL;
    bool ok = false;

    if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
        return false;
    bn = BN_bin2bn(raw, (int)sizeof(raw), NULL);
    if (bn && BN_is_zero(bn))
        BN_set_word(bn, 1);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static bool add_general_name(GENERAL_NAMES *gens, int type, ASN1_STRING *value)
{
    GENERAL_NAME *g = value ? GENERAL_NAME_new() : NULL;

    if (!g) {
        ASN1_STRING_free(value);
        return false;
    }
    GENERAL_NAME_set0_value(g, type, value);
    if (!sk_GENERAL_NAME_push(gens, g)) {
        GENERAL_NAME_free(g);
        return false;
    }
    return true;
}

/* subjectAltName: DNS:cn, plus IP:ip. Built as structures, not parsed from a config string,
 * so no value can smuggle in another entry. */
static bool add_san(X509 *x, const char *cn, const char *ip)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
    bool ok = gens && dns && ASN1_STRING_set(dns, cn, (int)strlen(cn));

    if (!ok)
        ASN1_IA5STRING_free(dns);
    else
        ok = add_general_name(gens, GEN_DNS, dns);
    if (ok && ip)
        ok = add_general_name(gens, GEN_IPADD, a2i_IPADDRESS(ip));
    if (ok)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

/* basicConstraints CA:FALSE (critical), keyUsage digitalSignature (critical), extendedKeyUsage
 * serverAuth. */
static bool add_usage(X509 *x)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    bool ok = bc && ku && eku;

    if (ok) {
        bc->ca = 0;
        ok = ASN1_BIT_STRING_set_bit(ku, 0, 1) == 1 &&
             sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) > 0;
    }
    ok = ok && X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1;
    ok = ok && X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) == 1;
    ok = ok && X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0, X509V3_ADD_DEFAULT) == 1;
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return ok;
}

static bool set_names(X509 *x, const char *cn)
{
    X509_NAME *name = X509_get_subject_name(x);

    return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                      0) == 1 &&
           X509_set_issuer_name(x, name) == 1;
}

static bool set_validity(X509 *x)
{
    return X509_gmtime_adj(X509_getm_notBefore(x), -TLSGEN_BACKDATE_S) != NULL &&
           X509_time_adj_ex(X509_getm_notAfter(x), TLSGEN_VALID_DAYS, 0, NULL) != NULL;
}

static dp_rc build_cert(X509 **out, EVP_PKEY *pk, const char *cn, const char *ip,
                        struct dp_err *err)
{
    X509 *x = X509_new();

    *out = NULL;
    if (!x || X509_set_version(x, X509_VERSION_3) != 1 || !set_serial(x) || !set_validity(x) ||
        !set_names(x, cn) || X509_set_pubkey(x, pk) != 1) {
        X509_free(x);
        return ossl_err(err, "filling the certificate");
    }
    if (!add_san(x, cn, ip) || !add_usage(x)) {
        X509_free(x);
        return ossl_err(err, "adding the certificate's extensions");
    }
    if (X509_sign(x, pk, EVP_sha256()) <= 0) {
        X509_free(x);
        return ossl_err(err, "signing the certificate");
    }
    *out = x;
    return DP_OK;
}

/* The BIO's bytes into an empty dp_buf, in one allocation (no stray copies of a key). */
static dp_rc bio_to_buf(struct dp_buf *b, BIO *bio, struct dp_err *err)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);

    if (n <= 0 || !p)
        return ossl_err(err, "writing PEM");
    if (dp_buf_append(b, p, (size_t)n))
        return dp_err_set(err, DP_ETOOBIG, "PEM text over %zu bytes", b->cap);
    return DP_OK;
}

static dp_rc write_pems(struct dp_buf *cert_pem, struct dp_buf *key_pem, X509 *x, EVP_PKEY *pk,
                        struct dp_err *err)
{
    BIO *cb = BIO_new(BIO_s_mem());
    BIO *kb = BIO_new(BIO_s_secmem()); /* cleared when freed */
    dp_rc rc;

    if (!cb || !kb || PEM_write_bio_X509(cb, x) != 1 ||
        PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) != 1) /* PKCS#8 */
        rc = ossl_err(err, "writing PEM");
    else
        rc = bio_to_buf(cert_pem, cb, err);
    if (rc == DP_OK)
        rc = bio_to_buf(key_pem, kb, err);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

static dp_rc check_names(const char *common_name, const char *ip, struct dp_err *err)
{
    unsigned char addr[16];

    if (!common_name || !dns_name_ok(common_name))
        return dp_err_setc(err, DP_EINVAL, "invalid_name",
                           "certificate name must be 1 to %d letters, digits, '-' or '.'",
                           TLSGEN_CN_MAX);
    if (ip && inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
        return dp_err_setc(err, DP_EINVAL, "invalid_ip", "'%.64s' is not an IP address", ip);
    return DP_OK;
}

dp_rc dp_tlsgen_self_signed(struct dp_buf *cert_pem, struct dp_buf *key_pem, char *pin,
                            const char *common_name, const char *ip, struct dp_err *err)
{
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    dp_rc rc;

    dp_buf_init(cert_pem, TLSGEN_CERT_PEM_MAX);
    dp_buf_init(key_pem, TLSGEN_KEY_PEM_MAX);
    pin[0] = '\0';
    if (ip && !*ip)
        ip = NULL;
    rc = check_names(common_name, ip, err);
    if (rc)
        return rc;
    pk = EVP_EC_gen("P-256");
    if (!pk)
        rc = ossl_err(err, "making a P-256 key");
    if (!rc)
        rc = build_cert(&x, pk, common_name, ip, err);
    if (!rc)
        rc = write_pems(cert_pem, key_pem, x, pk, err);
    if (!rc)
        rc = pin_of_pkey(pin, pk, err);
    if (rc) {
        dp_buf_clear(cert_pem);
        dp_tlsgen_wipe(key_pem);
        pin[0] = '\0';
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}

dp_rc dp_tlsgen_pin_of_cert(char *pin, const char *cert_pem, struct dp_err *err)
{
    BIO *b = cert_pem ? BIO_new_mem_buf(cert_pem, -1) : NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
    dp_rc rc;

    pin[0] = '\0';
    if (!pk) {
        ERR_clear_error();
        rc = dp_err_setc(err, DP_EINVAL, "invalid_certificate", "not a PEM certificate");
    } else {
        rc = pin_of_pkey(pin, pk, err);
    }
    X509_free(x);
    BIO_free(b);
    return rc;
}

void dp_tlsgen_wipe(struct dp_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->alloc);
    dp_buf_clear(b);
}
