#include "dp_key.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

dp_rc dp_key_derive(char out[DP_DERIVED_KEY_LEN + 1], const char *do_token,
                    unsigned long long user_id, struct dp_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char msg[64];
    int n;

    out[0] = '\0';
    if (!do_token || !*do_token)
        return dp_err_set(err, DP_EINVAL, "no DigitalOcean token to derive agent keys from");
    n = snprintf(msg, sizeof(msg), "node-agent:%llu", user_id);
    if (!HMAC(EVP_sha256(), do_token, (int)strlen(do_token), (const unsigned char *)msg, (size_t)n,
              mac, &mac_len) ||
        mac_len < DP_DERIVED_KEY_LEN / 2)
        return dp_err_set(err, DP_EINTERNAL, "HMAC-SHA256 failed");
    for (size_t i = 0; i < DP_DERIVED_KEY_LEN / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 0xf];
    }
    out[DP_DERIVED_KEY_LEN] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
    return DP_OK;
}

static dp_rc key_check_text(const char *k, size_t n, const char *path, struct dp_err *err)
{
    if (n < DP_KEY_MIN || n > DP_KEY_MAX)
        return dp_err_set(err, DP_EINVAL, "key in %s must be %d to %d characters", path, DP_KEY_MIN,
                          DP_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)k[i]))
            return dp_err_set(err, DP_EINVAL, "key in %s holds a character that is not printable",
                              path);
    }
    return DP_OK;
}

dp_rc dp_key_load_file(char *out, const char *path, struct dp_err *err)
{
    char buf[DP_KEY_FILE_MAX + 1];
    ssize_t n;
    size_t start = 0, end;
    int fd;
    dp_rc rc;

    out[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return dp_err_set(err, errno == ENOENT ? DP_ENOTFOUND : DP_EIO,
                          "cannot open key file %s: %s", path, strerror(errno));
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0)
        return dp_err_set(err, DP_EIO, "cannot read key file %s: %s", path, strerror(errno));
    if ((size_t)n > DP_KEY_FILE_MAX)
        return dp_err_set(err, DP_ETOOBIG, "key file %s is larger than %d bytes", path,
                          DP_KEY_FILE_MAX);
    end = (size_t)n;
    while (start < end && isspace((unsigned char)buf[start]))
        start++;
    while (end > start && isspace((unsigned char)buf[end - 1]))
        end--;
    rc = key_check_text(buf + start, end - start, path, err);
    if (rc == DP_OK) {
        memcpy(out, buf + start, end - start);
        out[end - start] = '\0';
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

bool dp_key_equal(const char *presented, size_t presented_len, const char *expected)
{
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int alen = 0, blen = 0;

    /* Hashing both sides gives equal-length inputs, so neither the length nor the first
     * differing byte of the presented key shows in the timing. */
    if (!expected || !*expected || !presented)
        return false;
    if (!EVP_Digest(presented, presented_len, a, &alen, EVP_sha256(), NULL) ||
        !EVP_Digest(expected, strlen(expected), b, &blen, EVP_sha256(), NULL))
        return false;
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}
