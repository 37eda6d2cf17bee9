/* dp_tlsgen: the certificate read back with OpenSSL field by field, its key, and its pin
 * against the openssl command's own computation. */
#include "dp_tlsgen.h"
#include "th.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static X509 *parse_cert(const struct dp_buf *pem)
{
    BIO *b = BIO_new_mem_buf(pem->data, (int)pem->len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    return x;
}

/* Seconds from now to t (negative: in the past). */
static long long secs_from_now(const ASN1_TIME *t)
{
    int days = 0, secs = 0;

    if (ASN1_TIME_diff(&days, &secs, NULL, t) != 1)
        return 0;
    return (long long)days * 86400 + secs;
}

static void check_san(X509 *x, const char *dns, const char *ip)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int seen_dns = 0, seen_ip = 0, n = gens ? sk_GENERAL_NAME_num(gens) : 0;

    TH_CHECK(gens != NULL);
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        if (g->type == GEN_DNS) {
            seen_dns++;
            TH_EQ_STR((const char *)ASN1_STRING_get0_data(g->d.dNSName), dns);
        } else if (g->type == GEN_IPADD) {
            unsigned char want[16];

            seen_ip++;
            TH_CHECK(ip != NULL);
            TH_EQ_INT(ASN1_STRING_length(g->d.iPAddress), 4);
            if (ip && inet_pton(AF_INET, ip, want) == 1)
                TH_CHECK(memcmp(ASN1_STRING_get0_data(g->d.iPAddress), want, 4) == 0);
        }
    }
    TH_EQ_INT(n, ip ? 2 : 1);
    TH_EQ_INT(seen_dns, 1);
    TH_EQ_INT(seen_ip, ip ? 1 : 0);
    GENERAL_NAMES_free(gens);
}

static void check_extensions(X509 *x)
{
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    int loc = X509_get_ext_by_NID(x, NID_basic_constraints, -1);

    TH_CHECK(bc != NULL);
    TH_CHECK(bc && !bc->ca);
    TH_CHECK(loc >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, loc)));
    BASIC_CONSTRAINTS_free(bc);
    TH_EQ_INT(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    loc = X509_get_ext_by_NID(x, NID_key_usage, -1);
    TH_CHECK(loc >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, loc)));
    TH_EQ_INT(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    TH_CHECK((X509_get_extension_flags(x) & EXFLAG_CA) == 0);
    TH_CHECK(X509_get_extension_flags(x) & EXFLAG_SS); /* self-signed */
}

static void check_basics(X509 *x, const char *cn)
{
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char name[128] = "", group[64] = "";
    long long nb = secs_from_now(X509_get0_notBefore(x));
    long long na = secs_from_now(X509_get0_notAfter(x));

    TH_EQ_INT(X509_get_version(x), X509_VERSION_3);
    TH_CHECK(bn && !BN_is_negative(bn) && !BN_is_zero(bn) && BN_num_bits(bn) <= 128);
    TH_CHECK(bn && BN_num_bits(bn) > 64); /* 2^-64 odds of a false failure */
    BN_free(bn);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, name, sizeof(name));
    TH_EQ_STR(name, cn);
    TH_CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);
    TH_CHECK(nb <= -3500 && nb >= -3700);                   /* an hour ago */
    TH_CHECK(na >= 3650LL * 86400 && na <= 3654LL * 86400); /* ten years */
    TH_EQ_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    TH_CHECK(pk && EVP_PKEY_is_a(pk, "EC"));
    TH_CHECK(pk && EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) == 1);
    TH_EQ_STR(group, "prime256v1");
    TH_EQ_INT(X509_verify(x, pk), 1);
}

/* The pin as the README's openssl pipeline computes it. */
static void openssl_pin(char *out, size_t size, const struct dp_buf *cert)
{
    char path[] = "/tmp/dp-tlsgen-XXXXXX", cmd[512];
    int fd = mkstemp(path);
    FILE *p;

    out[0] = '\0';
    if (fd < 0 || write(fd, cert->data, cert->len) != (ssize_t)cert->len) {
        if (fd >= 0)
            close(fd);
        return;
    }
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in %s -pubkey -noout | openssl pkey -pubin -outform der | "
             "openssl dgst -sha256 -binary | openssl base64 -A",
             path);
    p = popen(cmd, "r");
    if (p) {
        char b64[128] = "";

        if (fgets(b64, sizeof(b64), p))
            snprintf(out, size, "sha256//%s", b64);
        pclose(p);
    }
    unlink(path);
    out[strcspn(out, "\r\n")] = '\0';
}

static void test_generate_with_ip(void)
{
    struct dp_buf cert, key;
    struct dp_err err = {0};
    char pin[64], pin2[64], cli[128];
    X509 *x;
    BIO *kb;
    EVP_PKEY *pk;

    TH_EQ_INT(dp_tlsgen_self_signed(&cert, &key, pin, "srv-1.dp.internal", "203.0.113.7", &err),
              DP_OK);
    TH_CHECK(strncmp(cert.data, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    TH_CHECK(strncmp(key.data, "-----BEGIN PRIVATE KEY-----\n", 28) == 0); /* PKCS#8 */
    x = parse_cert(&cert);
    TH_CHECK(x != NULL);
    if (x) {
        check_basics(x, "srv-1.dp.internal");
        check_san(x, "srv-1.dp.internal", "203.0.113.7");
        check_extensions(x);
        kb = BIO_new_mem_buf(key.data, (int)key.len);
        pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
        TH_CHECK(pk != NULL);
        TH_EQ_INT(X509_check_private_key(x, pk), 1);
        EVP_PKEY_free(pk);
        BIO_free(kb);
        X509_free(x);
    }
    TH_CHECK(strncmp(pin, "sha256//", 8) == 0 && strlen(pin) == 8 + 44);
    TH_EQ_INT(dp_tlsgen_pin_of_cert(pin2, cert.data, &err), DP_OK);
    TH_EQ_STR(pin2, pin);
    openssl_pin(cli, sizeof(cli), &cert);
    TH_EQ_STR(cli, pin);
    dp_buf_clear(&cert);
    dp_tlsgen_wipe(&key);
    TH_CHECK(key.data == NULL && key.len == 0);
}

static void test_generate_without_ip(void)
{
    struct dp_buf cert, key, cert2, key2;
    struct dp_err err = {0};
    char pin[64], pin2[64];
    X509 *x, *y;

    TH_EQ_INT(dp_tlsgen_self_signed(&cert, &key, pin, "node-agent", NULL, &err), DP_OK);
    TH_EQ_INT(dp_tlsgen_self_signed(&cert2, &key2, pin2, "node-agent", "", &err), DP_OK);
    x = parse_cert(&cert);
    y = parse_cert(&cert2);
    TH_CHECK(x && y);
    if (x && y) {
        check_san(x, "node-agent", NULL);
        check_san(y, "node-agent", NULL);
        /* Fresh key and serial every time. */
        TH_CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(y)) != 0);
        TH_CHECK(strcmp(pin, pin2) != 0);
    }
    X509_free(x);
    X509_free(y);
    dp_buf_clear(&cert);
    dp_buf_clear(&cert2);
    dp_tlsgen_wipe(&key);
    dp_tlsgen_wipe(&key2);
}

static void test_refusals(void)
{
    static const char long_name[] = /* 65 characters: over X.520's 64 */
        "01234567890123456789012345678901234567890123456789012345678901234";
    static const char *bad_names[] = {"",       "a,DNS:evil.example", "-lead", "has space", "x/y",
                                      long_name};
    struct dp_buf cert, key;
    struct dp_err err = {0};
    char pin[64] = "x";

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        TH_EQ_INT(dp_tlsgen_self_signed(&cert, &key, pin, bad_names[i], NULL, &err), DP_EINVAL);
        TH_EQ_STR(err.code, "invalid_name");
        TH_CHECK(cert.data == NULL && key.data == NULL && pin[0] == '\0');
    }
    TH_EQ_INT(dp_tlsgen_self_signed(&cert, &key, pin, "ok", "1.2.3.4,DNS:evil", &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_ip");
    TH_EQ_INT(dp_tlsgen_self_signed(&cert, &key, pin, "ok", "300.1.1.1", &err), DP_EINVAL);
    TH_EQ_INT(dp_tlsgen_self_signed(&cert, &key, pin, "ok", "::1", &err), DP_OK);
    dp_buf_clear(&cert);
    dp_tlsgen_wipe(&key);
    TH_EQ_INT(dp_tlsgen_pin_of_cert(pin, "not a certificate", &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_certificate");
    TH_EQ_INT(dp_tlsgen_pin_of_cert(pin, "", &err), DP_EINVAL);
}

int main(void)
{
    TH_RUN(test_generate_with_ip);
    TH_RUN(test_generate_without_ip);
    TH_RUN(test_refusals);
    TH_EXIT();
}
