#include "dp_password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define PW_PREFIX        "pbkdf2-sha256$"
#define PW_DIGEST_LEN    32 /* SHA-256 output, the derived key length */
#define PW_SALT_MAX      64 /* bytes of salt accepted in a stored hash */
#define PW_B64_MAX       88 /* base64 of PW_SALT_MAX bytes */
#define PW_ITER_DIGITS   8  /* DP_PASSWORD_ITER_MAX has 8 digits */
#define PW_ERR_MALFORMED "stored password hash is not in the pbkdf2-sha256 format"

/* Counts PBKDF2 runs in this process; only ever incremented. */
static atomic_ullong pw_kdf_calls;

/* A valid hash of nothing anyone can type (random salt and hash bytes): verifying against it
 * costs what a real verify costs. */
static const char pw_dummy_hash[] = "pbkdf2-sha256$600000$vR+ny50nNRddCi79EtAqoQ==$"
                                    "yFARlzZtj6HuWCn//YuyVWmZHP3FQ/VfwOa6XeyP4IA=";

unsigned long long dp_password_kdf_count(void)
{
    return atomic_load(&pw_kdf_calls);
}

static int pw_kdf(unsigned char out[PW_DIGEST_LEN], const char *password, const unsigned char *salt,
                  size_t salt_len, unsigned iterations)
{
    atomic_fetch_add(&pw_kdf_calls, 1);
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)iterations,
                             EVP_sha256(), PW_DIGEST_LEN, out);
}

dp_rc dp_password_check(const char *password, struct dp_err *err)
{
    size_t n;

    if (!password)
        return dp_err_set(err, DP_EINVAL, "no password given");
    n = strnlen(password, DP_PASSWORD_MAX + 1);
    if (n < DP_PASSWORD_MIN)
        return dp_err_setc(err, DP_EINVAL, "password_too_short",
                           "password must be at least %d bytes long", DP_PASSWORD_MIN);
    if (n > DP_PASSWORD_MAX)
        return dp_err_setc(err, DP_EINVAL, "password_too_long",
                           "password must be at most %d bytes long", DP_PASSWORD_MAX);
    return DP_OK;
}

dp_rc dp_password_hash_with(char out[DP_PASSWORD_HASH_MAX], const char *password,
                            const unsigned char *salt, size_t salt_len, unsigned iterations,
                            struct dp_err *err)
{
    unsigned char dk[PW_DIGEST_LEN];
    char salt64[PW_B64_MAX + 1], dk64[(PW_DIGEST_LEN + 2) / 3 * 4 + 1];
    int n;

    out[0] = '\0';
    if (!password || salt_len < 1 || salt_len > PW_SALT_MAX || iterations < DP_PASSWORD_ITER_MIN ||
        iterations > DP_PASSWORD_ITER_MAX)
        return dp_err_set(err, DP_EINVAL, "password hash parameters out of range");
    if (!pw_kdf(dk, password, salt, salt_len, iterations))
        return dp_err_set(err, DP_EINTERNAL, "PBKDF2-HMAC-SHA256 failed");
    EVP_EncodeBlock((unsigned char *)salt64, salt, (int)salt_len);
    EVP_EncodeBlock((unsigned char *)dk64, dk, PW_DIGEST_LEN);
    OPENSSL_cleanse(dk, sizeof(dk));
    n = snprintf(out, DP_PASSWORD_HASH_MAX, PW_PREFIX "%u$%s$%s", iterations, salt64, dk64);
    if (n < 0 || n >= DP_PASSWORD_HASH_MAX) {
        out[0] = '\0';
        return dp_err_set(err, DP_EINTERNAL, "password hash text too long");
    }
    return DP_OK;
}

dp_rc dp_password_hash(char out[DP_PASSWORD_HASH_MAX], const char *password, struct dp_err *err)
{
    unsigned char salt[DP_PASSWORD_SALT_LEN];
    dp_rc rc;

    out[0] = '\0';
    rc = dp_password_check(password, err);
    if (rc)
        return rc;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return dp_err_set(err, DP_EINTERNAL, "no random bytes for a password salt");
    return dp_password_hash_with(out, password, salt, sizeof(salt), DP_PASSWORD_ITER, err);
}

/* Decodes exactly n characters of canonical standard base64 (padded, no whitespace) into out
 * (room for max bytes); returns the byte count or -1. */
static int pw_b64_decode(unsigned char *out, size_t max, const char *in, size_t n)
{
    unsigned char tmp[PW_B64_MAX + 3], back[PW_B64_MAX + 1];
    int len, pad = 0;

    if (n == 0 || n % 4 != 0 || n > PW_B64_MAX)
        return -1;
    len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    len -= pad;
    if (len <= 0 || (size_t)len > max)
        return -1;
    /* EVP_DecodeBlock skips blanks and tolerates odd padding: re-encode to insist on the one
     * canonical spelling. */
    EVP_EncodeBlock(back, tmp, len);
    if (strlen((const char *)back) != n || memcmp(back, in, n) != 0)
        return -1;
    memcpy(out, tmp, (size_t)len);
    return len;
}

/* Reads the decimal iteration count between p and end. */
static int pw_parse_iter(unsigned *out, const char *p, const char *end)
{
    unsigned v = 0;

    if (end - p < 1 || end - p > PW_ITER_DIGITS || *p == '0')
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v < DP_PASSWORD_ITER_MIN || v > DP_PASSWORD_ITER_MAX)
        return -1;
    *out = v;
    return 0;
}

struct pw_parsed {
    unsigned iterations;
    unsigned char salt[PW_SALT_MAX];
    size_t salt_len;
    unsigned char dk[PW_DIGEST_LEN];
};

static int pw_parse(struct pw_parsed *p, const char *stored)
{
    const char *it, *salt, *dk, *end;
    int n;

    if (!stored || strncmp(stored, PW_PREFIX, strlen(PW_PREFIX)) != 0)
        return -1;
    it = stored + strlen(PW_PREFIX);
    salt = strchr(it, '$');
    if (!salt)
        return -1;
    dk = strchr(++salt, '$');
    if (!dk)
        return -1;
    dk++;
    end = dk + strlen(dk);
    if (pw_parse_iter(&p->iterations, it, salt - 1) != 0)
        return -1;
    n = pw_b64_decode(p->salt, sizeof(p->salt), salt, (size_t)(dk - 1 - salt));
    if (n < 1)
        return -1;
    p->salt_len = (size_t)n;
    n = pw_b64_decode(p->dk, sizeof(p->dk), dk, (size_t)(end - dk));
    return n == PW_DIGEST_LEN ? 0 : -1;
}

dp_rc dp_password_verify(const char *stored, const char *password, struct dp_err *err)
{
    struct pw_parsed p;
    unsigned char dk[PW_DIGEST_LEN];
    int same;

    if (pw_parse(&p, stored) != 0)
        return dp_err_set(err, DP_EINVAL, PW_ERR_MALFORMED);
    if (!password)
        password = "";
    if (!pw_kdf(dk, password, p.salt, p.salt_len, p.iterations))
        return dp_err_set(err, DP_EINTERNAL, "PBKDF2-HMAC-SHA256 failed");
    same = CRYPTO_memcmp(dk, p.dk, PW_DIGEST_LEN) == 0;
    OPENSSL_cleanse(dk, sizeof(dk));
    OPENSSL_cleanse(&p, sizeof(p));
    if (!same)
        return dp_err_set(err, DP_EAUTH, "wrong password");
    return DP_OK;
}

void dp_password_verify_dummy(const char *password)
{
    (void)dp_password_verify(pw_dummy_hash, password ? password : "", NULL);
}
