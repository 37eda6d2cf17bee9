/* libcrypto.so for Debian's civetweb 1.15: civetweb dlopen()s the unversioned "libcrypto.so",
 * which only libssl-dev ships. This object has SONAME libcrypto.so and needs libcrypto.so.3;
 * civetweb's dlsym() lookups on it resolve in libcrypto.so.3. Nothing of its own is exported. */
#include <openssl/crypto.h>

/* One symbol, so the object is not empty and the link keeps its DT_NEEDED on libcrypto.so.3. */
unsigned long dp_crypto_shim_version(void) __attribute__((visibility("default")));

unsigned long dp_crypto_shim_version(void)
{
    return OpenSSL_version_num();
}
