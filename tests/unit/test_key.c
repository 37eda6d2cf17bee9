/* Key derivation against vectors made with the openssl command, e.g.
 *   printf 'node-agent:1' | openssl dgst -sha256 -hmac 'dop_v1_example' | cut -c1-32
 * and the constant-time check and key file rules. */
#include "dp_key.h"
#include "th.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void derive_matches_openssl(void)
{
    static const struct {
        const char *token;
        unsigned long long uid;
        const char *key;
    } v[] = {
        {"dop_v1_example", 1, "ae0911b2c85a7b2fd9c54946908b50fc"},
        {"dop_v1_example", 42, "0088a5b02d643287cb3a089b45360ed0"},
        {"another-token-with-more-bytes-0123456789", 7, "e7d9604ca512bcd0ca90deaa43da8afd"},
        {"t", 18446744073709551615ULL, "16c6a936f800ffe6a121bd1709662988"},
    };
    char out[DP_DERIVED_KEY_LEN + 1];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        TH_EQ_INT(dp_key_derive(out, v[i].token, v[i].uid, NULL), DP_OK);
        TH_EQ_STR(out, v[i].key);
    }
}

static void derive_refuses_empty_token(void)
{
    char out[DP_DERIVED_KEY_LEN + 1];
    struct dp_err err = {0};

    TH_EQ_INT(dp_key_derive(out, "", 1, &err), DP_EINVAL);
    TH_EQ_INT(dp_key_derive(out, NULL, 1, &err), DP_EINVAL);
}

static void equal_is_exact(void)
{
    const char *k = "0123456789abcdef0123456789abcdef";

    TH_CHECK(dp_key_equal(k, 32, k));
    TH_CHECK(!dp_key_equal(k, 31, k));
    TH_CHECK(!dp_key_equal("0123456789abcdef0123456789abcdeF", 32, k));
    TH_CHECK(!dp_key_equal("", 0, k));
    TH_CHECK(!dp_key_equal(k, 32, ""));
    TH_CHECK(!dp_key_equal(NULL, 0, k));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    fputs(text, f);
    fclose(f);
}

static void key_file_rules(void)
{
    char path[] = "/tmp/dp-test-key-XXXXXX";
    char key[DP_KEY_MAX + 1];
    struct dp_err err = {0};
    int fd = mkstemp(path);

    close(fd);
    write_file(path, "  0123456789abcdef0123456789abcdef \n\n");
    TH_EQ_INT(dp_key_load_file(key, path, &err), DP_OK);
    TH_EQ_STR(key, "0123456789abcdef0123456789abcdef");
    write_file(path, "short");
    TH_EQ_INT(dp_key_load_file(key, path, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "short") == NULL); /* the key never shows in the error */
    write_file(path, "0123456789abcdef 0123456789abcdef");
    TH_EQ_INT(dp_key_load_file(key, path, &err), DP_EINVAL);
    unlink(path);
    TH_EQ_INT(dp_key_load_file(key, path, &err), DP_ENOTFOUND);
}

int main(void)
{
    TH_RUN(derive_matches_openssl);
    TH_RUN(derive_refuses_empty_token);
    TH_RUN(equal_is_exact);
    TH_RUN(key_file_rules);
    TH_EXIT();
}
