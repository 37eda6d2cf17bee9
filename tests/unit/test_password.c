/* Password hashing: the stored format, verification, raised iteration counts, malformed stored
 * hashes, the dummy verify for unknown users, and vectors made with the openssl command:
 *   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt 'pass:correct horse battery' \
 *       -kdfopt hexsalt:000102030405060708090a0b0c0d0e0f -kdfopt iter:1000 PBKDF2
 * (the hex output converted to base64 with xxd -r -p | base64). */
#include "dp_password.h"
#include "th.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void hash_format(void)
{
    char a[DP_PASSWORD_HASH_MAX], b[DP_PASSWORD_HASH_MAX];
    const char *salt, *dk;

    TH_EQ_INT(dp_password_hash(a, "correct horse battery", NULL), DP_OK);
    TH_EQ_INT(strncmp(a, "pbkdf2-sha256$600000$", 21), 0);
    salt = a + 21;
    dk = strchr(salt, '$');
    TH_CHECK(dk != NULL);
    if (!dk)
        return;
    TH_EQ_INT(dk - salt, 24);      /* 16 bytes of salt */
    TH_EQ_INT(strlen(dk + 1), 44); /* 32 bytes of SHA-256 output */
    TH_CHECK(strchr(dk + 1, '$') == NULL);
    TH_EQ_INT(dp_password_hash(b, "correct horse battery", NULL), DP_OK);
    TH_CHECK(strcmp(a, b) != 0); /* a fresh salt every time */
}

static void verify_right_and_wrong(void)
{
    char h[DP_PASSWORD_HASH_MAX];
    struct dp_err err = {0};
    double t0, t1;

    TH_EQ_INT(dp_password_hash(h, "s3cret-passw0rd", NULL), DP_OK);
    t0 = now_ms();
    TH_EQ_INT(dp_password_verify(h, "s3cret-passw0rd", &err), DP_OK);
    t1 = now_ms();
    fprintf(stderr, "     one verify at %d iterations: %.1f ms\n", DP_PASSWORD_ITER, t1 - t0);
    TH_EQ_INT(dp_password_verify(h, "s3cret-passw0rD", &err), DP_EAUTH);
    TH_CHECK(strstr(err.msg, "s3cret") == NULL);
    TH_EQ_INT(dp_password_verify(h, "", &err), DP_EAUTH);
    TH_EQ_INT(dp_password_verify(h, NULL, &err), DP_EAUTH);
}

static void known_vectors(void)
{
    static const unsigned char salt1[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                          0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    static const unsigned char salt2[] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7};
    char h[DP_PASSWORD_HASH_MAX];

    TH_EQ_INT(dp_password_hash_with(h, "correct horse battery", salt1, sizeof(salt1), 1000, NULL),
              DP_OK);
    TH_EQ_STR(h, "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$"
                 "AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=");
    TH_EQ_INT(dp_password_hash_with(h, "p@ss w0rd", salt2, sizeof(salt2), 4096, NULL), DP_OK);
    TH_EQ_STR(h, "pbkdf2-sha256$4096$oKGio6Slpqc=$3C7HwrcRIJxz+jH9zgOSfkTodVXc807DDHZVqDMjdFw=");
    /* The openssl-made text verifies as a stored hash, with its own (lower) count. */
    TH_EQ_INT(dp_password_verify("pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$"
                                 "AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
                                 "correct horse battery", NULL),
              DP_OK);
}

static void other_iteration_counts_verify(void)
{
    static const unsigned char salt[DP_PASSWORD_SALT_LEN] = "0123456789abcdef";
    static const unsigned counts[] = {DP_PASSWORD_ITER_MIN, 2000, 123457};
    char h[DP_PASSWORD_HASH_MAX];

    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        TH_EQ_INT(
            dp_password_hash_with(h, "a long enough password", salt, sizeof(salt), counts[i], NULL),
            DP_OK);
        TH_EQ_INT(dp_password_verify(h, "a long enough password", NULL), DP_OK);
        TH_EQ_INT(dp_password_verify(h, "a long enough passwore", NULL), DP_EAUTH);
    }
    TH_EQ_INT(dp_password_hash_with(h, "x", salt, sizeof(salt), DP_PASSWORD_ITER_MIN - 1, NULL),
              DP_EINVAL);
    TH_EQ_INT(dp_password_hash_with(h, "x", salt, 0, 1000, NULL), DP_EINVAL);
}

#define SALT "AAECAwQFBgcICQoLDA0ODw=="
#define DK   "AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0="

static void malformed_stored_hash_refused(void)
{
    static const char *const bad[] = {
        "",
        "plain text",
        "pbkdf2-sha256$",
        "pbkdf2-sha1$1000$" SALT "$" DK,
        "pbkdf2-sha256$$" SALT "$" DK,
        "pbkdf2-sha256$999$" SALT "$" DK,
        "pbkdf2-sha256$01000$" SALT "$" DK,
        "pbkdf2-sha256$1e3$" SALT "$" DK,
        "pbkdf2-sha256$99999999999$" SALT "$" DK,
        "pbkdf2-sha256$1000$$" DK,
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw=$" DK,
        "pbkdf2-sha256$1000$AAECAwQF BgcICQoLDA0ODw==$" DK,
        "pbkdf2-sha256$1000$" SALT "$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0",
        "pbkdf2-sha256$1000$" SALT "$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I1=",
        "pbkdf2-sha256$1000$" SALT "$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6q",
        "pbkdf2-sha256$1000$" SALT "$" DK "$",
        "pbkdf2-sha256$1000$" SALT,
    };
    unsigned long long before = dp_password_kdf_count();
    struct dp_err err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = dp_password_verify(bad[i], "correct horse battery", &err);

        TH_EQ_INT(rc, DP_EINVAL);
        if (rc != DP_EINVAL)
            fprintf(stderr, "     accepted: %s\n", bad[i]);
    }
    TH_EQ_INT(dp_password_verify(NULL, "correct horse battery", &err), DP_EINVAL);
    TH_EQ_INT(dp_password_kdf_count(), before); /* nothing computed for any of them */
}

static void password_rules(void)
{
    char h[DP_PASSWORD_HASH_MAX];
    char *big = malloc(DP_PASSWORD_MAX + 2);
    struct dp_err err = {0};

    TH_EQ_INT(dp_password_hash(h, "1234567", &err), DP_EINVAL);
    TH_EQ_STR(err.code, "password_too_short");
    TH_CHECK(strstr(err.msg, "at least 8") != NULL);
    TH_CHECK(strstr(err.msg, "1234567") == NULL);
    TH_EQ_STR(h, "");
    TH_EQ_INT(dp_password_hash(h, "", &err), DP_EINVAL);
    TH_EQ_INT(dp_password_hash(h, NULL, &err), DP_EINVAL);
    TH_EQ_INT(dp_password_check("12345678", &err), DP_OK);
    if (!big)
        return;
    memset(big, 'p', DP_PASSWORD_MAX + 1);
    big[DP_PASSWORD_MAX + 1] = '\0';
    TH_EQ_INT(dp_password_check(big, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "password_too_long");
    big[DP_PASSWORD_MAX] = '\0';
    TH_EQ_INT(dp_password_check(big, &err), DP_OK);
    free(big);
}

static void dummy_verify_spends_one_hash(void)
{
    char h[DP_PASSWORD_HASH_MAX];
    unsigned long long before;
    double t0, t1, t2;

    TH_EQ_INT(dp_password_hash(h, "some password", NULL), DP_OK);
    before = dp_password_kdf_count();
    t0 = now_ms();
    dp_password_verify_dummy("some password");
    t1 = now_ms();
    TH_EQ_INT(dp_password_kdf_count(), before + 1);
    (void)dp_password_verify(h, "some password!", NULL);
    t2 = now_ms();
    TH_EQ_INT(dp_password_kdf_count(), before + 2);
    fprintf(stderr, "     dummy verify %.1f ms, real verify %.1f ms\n", t1 - t0, t2 - t1);
    dp_password_verify_dummy(NULL);
    TH_EQ_INT(dp_password_kdf_count(), before + 3);
}

int main(void)
{
    TH_RUN(hash_format);
    TH_RUN(verify_right_and_wrong);
    TH_RUN(known_vectors);
    TH_RUN(other_iteration_counts_verify);
    TH_RUN(malformed_stored_hash_refused);
    TH_RUN(password_rules);
    TH_RUN(dummy_verify_spends_one_hash);
    TH_EXIT();
}
