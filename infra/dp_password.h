/* Password hashing for controller users: PBKDF2-HMAC-SHA256, stored as
 * "pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>" (standard base64 with padding). The
 * iteration count is read back from the stored text, so it can be raised later without breaking
 * old hashes. Nothing here logs or copies a password into an error. */
#ifndef DP_PASSWORD_H
#define DP_PASSWORD_H

#include "dp_err.h"

#include <stddef.h>

#define DP_PASSWORD_MIN      8      /* a new password, bytes */
#define DP_PASSWORD_MAX      1024   /* any password, bytes */
#define DP_PASSWORD_ITER     600000 /* PBKDF2 iterations for new hashes (OWASP's floor) */
#define DP_PASSWORD_ITER_MIN 1000   /* stored counts outside this range are refused */
#define DP_PASSWORD_ITER_MAX 10000000
#define DP_PASSWORD_SALT_LEN 16  /* random salt of a new hash, bytes */
#define DP_PASSWORD_HASH_MAX 160 /* the stored text, bytes incl. NUL */

/* DP_OK when password may be set: DP_PASSWORD_MIN..DP_PASSWORD_MAX bytes, no NUL (a C string).
 * DP_EINVAL otherwise, with a message naming the rule, never the password. */
dp_rc dp_password_check(const char *password, struct dp_err *err);

/* Hashes a new password (checked with dp_password_check) with a fresh random salt and
 * DP_PASSWORD_ITER iterations into out. DP_EINVAL for a refused password, DP_EINTERNAL when
 * OpenSSL fails. */
dp_rc dp_password_hash(char out[DP_PASSWORD_HASH_MAX], const char *password, struct dp_err *err);

/* The same with a given salt (1..64 bytes) and iteration count (DP_PASSWORD_ITER_MIN..MAX); no
 * length rule on the password. For tests against known vectors and for re-hashing. */
dp_rc dp_password_hash_with(char out[DP_PASSWORD_HASH_MAX], const char *password,
                            const unsigned char *salt, size_t salt_len, unsigned iterations,
                            struct dp_err *err);

/* Checks password against a stored hash. DP_OK on a match, DP_EAUTH on a mismatch, DP_EINVAL
 * when stored is not a hash this module can read (nothing is computed then). The comparison
 * is constant-time. */
dp_rc dp_password_verify(const char *stored, const char *password, struct dp_err *err);

/* Spends exactly the time of a dp_password_verify at DP_PASSWORD_ITER iterations and matches
 * nothing: called for unknown usernames so timing does not reveal which names exist. */
void dp_password_verify_dummy(const char *password);

/* How many PBKDF2 computations this process has run (for tests and metrics). */
unsigned long long dp_password_kdf_count(void);

#endif
